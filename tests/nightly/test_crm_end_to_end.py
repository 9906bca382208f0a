"""The imported CRM sales opportunities data, end to end, with the
regional-trading ruleset adapted to its three regional offices."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pytest

from highseas.api import load_ruleset, run
from highseas.store.imports import import_crm_sales_opportunities

ROOT = Path(__file__).resolve().parents[2]
RULESET = ROOT / "fixtures" / "crm-sales-opportunities.ruleset.yaml"
SAMPLE = ROOT / "fixtures" / "crm-sales-opportunities-sample"
FULL = ROOT.parent / "shared" / "data" / "crm-sales-opportunities"
AS_OF = date(2017, 12, 31)


def sources() -> list[Path]:
    found = [SAMPLE]
    if FULL.is_dir():
        found.append(FULL)
    else:
        print(f"NOTE: {FULL} is absent; the end-to-end run uses the sample only")
    return found


@pytest.mark.parametrize("source", sources(), ids=lambda p: p.name)
def test_crm_data_runs_end_to_end(tmp_path: Path, source: Path) -> None:
    db = tmp_path / "crm.duckdb"
    import_crm_sales_opportunities(db, source)
    rules = load_ruleset(RULESET)
    result = run(rules, db, AS_OF, apply=True)
    the_plan = result.plan
    assert result.applied is not None and result.applied.applied
    releases = the_plan.by_action("release")
    assert releases, "the idle opportunities of 2017 are released"
    con = duckdb.connect(str(db), read_only=True)
    try:
        # Check every release independently in SQL: owned, no touch by the owner
        # for 90 days, no open order (the importer's Engaging opportunities).
        released = {d.customer_id for d in releases if d.rule_id == "no-follow-up-90d"}
        idle = {
            row[0]
            for row in con.execute(
                """
                SELECT e.customer_id FROM ownership_events e
                JOIN customers c USING (company_id, customer_id)
                WHERE e.action = 'release' AND e.rule_id = 'no-follow-up-90d'
                  AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = e.customer_id
                                  AND o.status = 'open')
                  AND c.stage <> 'won'
                  AND coalesce((SELECT max(a."at") FROM activities a
                                WHERE a.customer_id = e.customer_id
                                  AND a.rep_id = e.from_rep_id), TIMESTAMP '1900-01-01')
                      <= TIMESTAMP '2017-10-02'
                """
            ).fetchall()
        }
        assert released == idle
        # every change is in the audit trail with its rule and the run
        events = con.execute(
            "SELECT count(*), count(DISTINCT run_id), count(*) FILTER (WHERE rule_id IS NULL) "
            "FROM ownership_events"
        ).fetchall()[0]
        assert events == (len(the_plan.ownership_changes()), 1, 0)
        # nobody who received trimmed customers went above a cap
        over = con.execute(
            """
            SELECT e.to_rep_id, count(*) FROM customers c
            JOIN ownership_events e ON e.customer_id = c.customer_id AND e.action = 'trim'
            WHERE c.owner_rep_id = e.to_rep_id GROUP BY 1
            """
        ).fetchall()
        assert all(count <= 10 for _, count in over)  # the new tier's daily claim cap
    finally:
        con.close()
    # the next night goes on from the applied state
    assert run(rules, db, date(2018, 1, 1), apply=True).applied is not None
