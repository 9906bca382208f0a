"""What produced a simulation: the ruleset and its hash, the database and the
span of its facts, the command, the highseas version and the date.

``report.html`` opens with it, so that a report mailed to a client says
where its figures come from. Everything in it follows from the inputs but
the date it was produced, which the caller fixes (``produced_on``) or the
environment does (``SOURCE_DATE_EPOCH``, the reproducible-builds
convention): a report is the same byte for byte for the same inputs and date.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from highseas.simulate.overrides import SweptSetting

if TYPE_CHECKING:
    import duckdb


@dataclass(frozen=True)
class Provenance:
    """Where a simulation's figures come from."""

    ruleset: str
    #: sha256 of the ruleset file's bytes.
    ruleset_sha256: str
    database: str
    #: The first and last day with a recorded fact of the company (customers
    #: created, activities, orders); None when it records none.
    facts_from: date | None
    facts_to: date | None
    #: The command line, or the Python call, that asked for the simulation.
    command: str
    version: str
    produced_on: date
    #: The warm-up as given (``30d``; "" without one).
    warm_up: str = ""
    swept: tuple[SweptSetting, ...] = ()


def highseas_version() -> str:
    """The installed highseas version ("unknown" from a bare source tree)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("highseas")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "unknown"


def produced_date(produced_on: date | None = None) -> date:
    """``produced_on``; else the UTC day of ``SOURCE_DATE_EPOCH`` when set;
    else today."""
    if produced_on is not None:
        return produced_on
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if epoch.isdigit():
        return datetime.fromtimestamp(int(epoch), tz=UTC).date()
    return date.today()


def database_span(con: duckdb.DuckDBPyConnection, company: str
                  ) -> tuple[date | None, date | None]:
    """The first and last day with a recorded fact of ``company``."""
    row = con.execute(
        """
        SELECT min(lo)::DATE, max(hi)::DATE FROM (
            SELECT min(created_at) AS lo, max(created_at) AS hi FROM customers
            WHERE company_id = $1
            UNION ALL SELECT min("at"), max("at") FROM activities WHERE company_id = $1
            UNION ALL SELECT min(placed_at), max(placed_at) FROM orders WHERE company_id = $1)
        """,
        [company],
    ).fetchone()
    return (row[0], row[1]) if row is not None else (None, None)


def python_call(ruleset: Any, db: Any, start: date, end: date, **options: Any) -> str:
    """The ``simulate(...)`` call, for a report produced from Python: the
    options that change the figures, those left at their default omitted."""
    defaults: dict[str, Any] = {"sets": (), "idle_period": None, "sweeps": (), "warm_up": None,
                                "out": None, "claim_back": True, "contact_after": None,
                                "contact_share": 1.0}
    words = [repr(str(ruleset)), repr(str(db)), _date(start), _date(end)]
    for name, default in defaults.items():
        value = options.get(name, default)
        if value == default or (isinstance(value, Sequence) and not isinstance(value, str)
                                and not value and not default):
            continue
        if isinstance(value, Sequence) and not isinstance(value, str):
            value = list(value)
        elif value is not None and not isinstance(value, bool | int | float | str):
            value = str(value)
        words.append(f"{name}={value!r}")
    return f"highseas.simulate.simulate({', '.join(words)})"


def _date(day: date) -> str:
    return f"date({day.year}, {day.month}, {day.day})"
