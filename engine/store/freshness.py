"""How fresh a company's facts are: the ``loads`` table and the date ranges.

Every load (``highseas load``) and import (``highseas import ...``) records,
per table it wrote, when it ran, how many rows it added and the newest
timestamp among them. The facts' date is the newest timestamp of the
company's dated facts (:data:`FRESHNESS_COLUMNS`): the newest a recorded load
brought, or the newest in the tables themselves, whichever is later (a
database filled by ``highseas fixtures generate`` or by direct inserts
records no loads). ``highseas run --apply`` refuses facts older than the
ruleset's ``guards.max_facts_age`` (highseas.nightly.guards).

A load or import is recorded in the transaction that writes its rows, under
an id the caller may choose (:func:`new_load_id`): :func:`find_load` then
says whether it was written, e.g. after a Ctrl-C.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import duckdb

#: The timestamp (or date) columns of each fact table, for its date range.
DATED_COLUMNS: dict[str, tuple[str, ...]] = {
    "reps": ("hired_on", "left_on"),
    "customers": ("created_at",),
    "activities": ("at",),
    "orders": ("placed_at", "closed_at"),
    "stage_changes": ("at",),
}

#: The tables whose dated columns are days (DATE), not times: their range
#: is shown as days.
DAY_TABLES: frozenset[str] = frozenset({"reps"})

#: The columns whose newest value says how fresh the facts are: what happens
#: every working day in a CRM (salespeople's hire dates do not).
FRESHNESS_COLUMNS: dict[str, tuple[str, ...]] = {
    table: columns for table, columns in DATED_COLUMNS.items() if table != "reps"
}


def _quoted(column: str) -> str:
    return f'"{column}"'


def _greatest(columns: Sequence[str]) -> str:
    """SQL: the latest of ``columns`` of one row (NULLs ignored)."""
    if len(columns) == 1:
        return f"CAST({_quoted(columns[0])} AS TIMESTAMP)"
    return "greatest(" + ", ".join(f"CAST({_quoted(c)} AS TIMESTAMP)" for c in columns) + ")"


def _least(columns: Sequence[str]) -> str:
    if len(columns) == 1:
        return f"CAST({_quoted(columns[0])} AS TIMESTAMP)"
    return "least(" + ", ".join(f"CAST({_quoted(c)} AS TIMESTAMP)" for c in columns) + ")"


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


@dataclass(frozen=True)
class TableLoad:
    """What one load or import wrote into one table."""

    table: str
    row_count: int
    latest_at: datetime | None


def new_load_id() -> str:
    """A new id for a load or import (16 hex digits)."""
    return uuid.uuid4().hex[:16]


def record_load(
    con: duckdb.DuckDBPyConnection,
    company_id: str,
    kind: str,
    source: str,
    tables: Sequence[TableLoad],
    *,
    loaded_at: datetime | None = None,
    load_id: str | None = None,
) -> str:
    """Record one load or import (inside the caller's transaction) under
    ``load_id`` (default: a new one; a given one must be new too); its id."""
    load_id = load_id or new_load_id()
    when = loaded_at or _now()
    for item in tables:
        con.execute(
            "INSERT INTO loads (company_id, load_id, kind, source, loaded_at, table_name, "
            "row_count, latest_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [company_id, load_id, kind, source, when, item.table, item.row_count,
             item.latest_at],
        )
    return load_id


def latest_in(con: duckdb.DuckDBPyConnection, table: str, company_id: str,
              where: str = "", params: Sequence[object] = ()) -> datetime | None:
    """The newest dated value of ``table``'s rows of ``company_id`` (and ``where``)."""
    columns = DATED_COLUMNS[table]
    row = con.execute(
        f"SELECT max({_greatest(columns)}) FROM {table} WHERE company_id = ?{where}",
        [company_id, *params],
    ).fetchall()
    value = row[0][0] if row else None
    return value if isinstance(value, datetime) else None


def record_import(con: duckdb.DuckDBPyConnection, company_id: str, source: str,
                  load_id: str | None = None) -> str:
    """Record an import (under ``load_id``, default a new one): it replaces the
    company's facts, so every table's rows are what it brought (and earlier
    loads of the company no longer count)."""
    con.execute("DELETE FROM loads WHERE company_id = ?", [company_id])
    tables = []
    for table in DATED_COLUMNS:
        count = con.execute(
            f"SELECT count(*) FROM {table} WHERE company_id = ?", [company_id]
        ).fetchall()[0][0]
        tables.append(TableLoad(table, int(count), latest_in(con, table, company_id)))
    return record_load(con, company_id, "import", source, tables, load_id=load_id)


@dataclass(frozen=True)
class RecordedLoad:
    """A load or import the database records."""

    load_id: str
    company_id: str
    #: ``load`` or ``import``
    kind: str
    #: The file or folder it read.
    source: str
    loaded_at: datetime
    #: table -> rows it added (an import: every table of the company).
    row_counts: Mapping[str, int]


def find_load(con: duckdb.DuckDBPyConnection, load_id: str) -> RecordedLoad | None:
    """The load or import recorded under ``load_id``, or None: it was not
    written (or it added no row, which records nothing)."""
    rows = con.execute(
        "SELECT company_id, kind, source, loaded_at, table_name, row_count FROM loads "
        "WHERE load_id = ? ORDER BY table_name",
        [load_id],
    ).fetchall()
    if not rows:
        return None
    company_id, kind, source, loaded_at = rows[0][:4]
    counts = {str(r[4]): int(r[5]) for r in rows}
    if kind == "import":  # in the order of the data model
        counts = {table: counts[table] for table in DATED_COLUMNS if table in counts}
    return RecordedLoad(load_id, str(company_id), str(kind), str(source), loaded_at, counts)


@dataclass(frozen=True)
class Freshness:
    """How fresh one company's facts are."""

    #: The newest timestamp of the dated facts (None: no dated facts at all).
    newest: datetime | None
    #: The newest a recorded load or import brought (None: none recorded).
    newest_loaded: datetime | None
    #: When the last load or import ran (None: none recorded).
    last_load_at: datetime | None

    @property
    def facts_date(self) -> date | None:
        return self.newest.date() if self.newest else None

    def describe(self) -> str:
        """The facts' date, and where it comes from, in words."""
        if self.newest is None:
            return "the company has no dated facts"
        text = f"the newest fact is of {self.newest.date().isoformat()}"
        if self.last_load_at is None:
            return text + " (no load or import recorded; read from the tables)"
        return text + f" (last load or import ran {self.last_load_at.isoformat(sep=' ')} UTC)"


def freshness(con: duckdb.DuckDBPyConnection, company_id: str) -> Freshness:
    """The facts' date of ``company_id`` (see the module docstring)."""
    newest_loaded, last_load_at = con.execute(
        "SELECT max(latest_at) FILTER (WHERE table_name IN (SELECT unnest(?::VARCHAR[]))), "
        "max(loaded_at) FROM loads WHERE company_id = ?",
        [list(FRESHNESS_COLUMNS), company_id],
    ).fetchall()[0]
    found = [latest_in(con, table, company_id) for table in FRESHNESS_COLUMNS]
    candidates = [v for v in (*found, newest_loaded) if v is not None]
    return Freshness(max(candidates) if candidates else None, newest_loaded, last_load_at)


@dataclass(frozen=True)
class DateRange:
    """The oldest and newest dated value of one table, and its last load."""

    table: str
    oldest: datetime | None
    newest: datetime | None
    last_load_at: datetime | None

    def to_dict(self) -> dict[str, str | None]:
        def text(value: datetime | None, days: bool = False) -> str | None:
            if value is None:
                return None
            return value.date().isoformat() if days else value.isoformat(sep=" ")

        days = self.table in DAY_TABLES
        return {"oldest": text(self.oldest, days), "newest": text(self.newest, days),
                "last_load_at": text(self.last_load_at)}


def date_ranges(con: duckdb.DuckDBPyConnection, company_id: str) -> Mapping[str, DateRange]:
    """table -> :class:`DateRange` of ``company_id``'s dated fact tables."""
    loaded = dict(con.execute(
        "SELECT table_name, max(loaded_at) FROM loads WHERE company_id = ? GROUP BY 1",
        [company_id],
    ).fetchall())
    ranges = {}
    for table, columns in DATED_COLUMNS.items():
        oldest, newest = con.execute(
            f"SELECT min({_least(columns)}), max({_greatest(columns)}) FROM {table} "
            "WHERE company_id = ?",
            [company_id],
        ).fetchall()[0]
        ranges[table] = DateRange(table, oldest, newest, loaded.get(table))
    return ranges
