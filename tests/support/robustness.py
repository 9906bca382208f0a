"""Helpers shared by the hardening tests (tests/robustness/)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def snapshot(db: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table (sorted): the whole content of the database."""
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    try:
        tables = [r[0] for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' "
            "ORDER BY 1").fetchall()]
        return {t: sorted(con.execute(f'SELECT * FROM "{t}"').fetchall(), key=repr)
                for t in tables}
    finally:
        con.close()
