"""The loadable fact tables: their columns, kinds and checks, as data.

:data:`TABLES` says, for every table ``highseas load`` accepts, which
columns it has, how each is typed and checked (required, a reference to
another table, not in the future, unique, a minimum); the loader's SQL is
generated from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    pass

Kind = Literal[
    "text", "date", "timestamp", "bool", "int", "decimal", "list", "json", "country", "status"
]


CSV_DELIMITERS = (",", ";", "\t", "|")

#: Longest malformed CSV line kept as a reject's value (an unclosed quote
#: can swallow the rest of the file).
MAX_BAD_LINE_CHARS = 300

#: How many rejects a :class:`LoadReport` keeps in memory (the file has all).
MAX_REPORTED_REJECTS = 1000

ORDER_STATUSES = ("open", "won", "lost")


@dataclass(frozen=True)
class Col:
    """One loadable column: how it is checked and typed."""

    name: str
    kind: Kind = "text"
    required: bool = False
    ref: Literal["reps", "customers"] | None = None
    past: bool = False  # must not be more than a day in the future
    key: bool = False  # unique within the file and the table (when given)
    minimum: float | None = None  # numbers: smallest allowed value
    min_exclusive: bool = False


@dataclass(frozen=True)
class TableSpec:
    """The loadable columns of a fact table."""

    name: str
    columns: tuple[Col, ...]

    @property
    def key(self) -> Col | None:
        return next((c for c in self.columns if c.key), None)


TABLES: dict[str, TableSpec] = {
    "reps": TableSpec(
        "reps",
        (
            Col("rep_id", required=True, key=True),
            Col("name", required=True),
            Col("hired_on", "date", required=True, past=True),
            Col("tier"),
            Col("regions", "list"),
            Col("team"),
            Col("active", "bool"),
            Col("away_from", "date"),
            Col("away_until", "date"),
            Col("weight", "int", minimum=0),  # 0: receives nothing (weighted)
            Col("left_on", "date"),
        ),
    ),
    "customers": TableSpec(
        "customers",
        (
            Col("customer_id", required=True, key=True),
            Col("name", required=True),
            Col("country", "country"),
            Col("region"),
            Col("source"),
            Col("stage"),
            Col("tags", "list"),
            Col("level", "int"),
            Col("attributes", "json"),
            Col("created_at", "timestamp", required=True, past=True),
            Col("owner_rep_id", ref="reps"),
            Col("pool_id"),
            Col("owned_since", "timestamp", past=True),
        ),
    ),
    "activities": TableSpec(
        "activities",
        (
            Col("activity_id", key=True),
            Col("customer_id", required=True, ref="customers"),
            Col("rep_id", ref="reps"),
            Col("kind", required=True),
            Col("at", "timestamp", required=True, past=True),
        ),
    ),
    "orders": TableSpec(
        "orders",
        (
            Col("order_id", key=True),
            Col("customer_id", required=True, ref="customers"),
            Col("rep_id", ref="reps"),
            Col("placed_at", "timestamp", required=True, past=True),
            Col("amount", "decimal", minimum=0),
            Col("status", "status", required=True),
            Col("closed_at", "timestamp", past=True),
        ),
    ),
    "stage_changes": TableSpec(
        "stage_changes",
        (
            Col("customer_id", required=True, ref="customers"),
            Col("stage", required=True),
            Col("at", "timestamp", required=True, past=True),
        ),
    ),
}

LOADABLE_TABLES = tuple(TABLES)
