"""One database, several companies: a run reads and writes only its own."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb

from highseas import api
from highseas.store.fixtures import DEFAULT_AS_OF, generate
from tests.support.nightly import RULESETS

TABLES = ("reps", "customers", "activities", "orders", "runs", "ownership_events",
          "notifications", "rotation_state", "relay_state")
COMPANY = "regional-trading"
RULESET = RULESETS / f"{COMPANY}.yaml"


def _others(db: Path) -> dict[str, list[tuple[Any, ...]]]:
    with duckdb.connect(str(db), read_only=True) as con:
        return {table: con.execute(f"SELECT * FROM {table} WHERE company_id <> ? "
                                   "ORDER BY ALL", [COMPANY]).fetchall()
                for table in TABLES}


def test_a_run_reads_and_writes_only_its_own_company(tmp_path: Path) -> None:
    alone, mixed = tmp_path / "alone.duckdb", tmp_path / "mixed.duckdb"
    generate(alone, COMPANY, 1500, 20, seed=3)
    for archetype in ("quick-order", COMPANY, "large-project"):
        generate(mixed, archetype, 1500, 20, seed=3)
    with duckdb.connect(str(mixed), read_only=True) as con:
        shared_ids = con.execute(
            "SELECT count(*) FROM customers a JOIN customers b USING (customer_id) "
            "WHERE a.company_id = ? AND b.company_id = 'quick-order'", [COMPANY]).fetchone()
    assert shared_ids is not None and shared_ids[0] > 0  # the same ids in two companies

    plan_alone = api.plan(RULESET, alone, DEFAULT_AS_OF)
    plan_mixed = api.plan(RULESET, mixed, DEFAULT_AS_OF)
    assert len(plan_mixed.decisions) > 0
    assert plan_mixed.decisions.table.equals(plan_alone.decisions.table)
    assert plan_mixed.unassigned.table.equals(plan_alone.unassigned.table)

    before = _others(mixed)
    result = api.run(RULESET, mixed, DEFAULT_AS_OF, apply=True)
    assert result.applied is not None and result.applied.ownership_changes > 0
    assert _others(mixed) == before
    with duckdb.connect(str(mixed), read_only=True) as con:
        events = con.execute("SELECT count(*) FROM ownership_events WHERE company_id = ?",
                             [COMPANY]).fetchone()
    assert events is not None and events[0] >= result.applied.ownership_changes
