"""Scratch databases: an in-memory facts store with the current schema."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from highseas.store.ddl import MIGRATIONS

if TYPE_CHECKING:
    import duckdb


def memory_db() -> duckdb.DuckDBPyConnection:
    """A new in-memory DuckDB with every table of the data model (for tests,
    test cases and scratch work)."""
    import duckdb

    con = duckdb.connect(":memory:")
    now = datetime.now(UTC).replace(tzinfo=None)
    for version, migration in enumerate(MIGRATIONS, start=1):
        con.execute(migration)
        con.execute("INSERT INTO schema_version VALUES (?, ?)", [version, now])
    return con
