"""Where the excess of a private cap goes, by condition (language 1.1): the
trim's reason and ``explain`` say which target took the customer."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb

from highseas import api
from highseas.store.db import init_db
from tests.support.nightly import Facts

ROOT = Path(__file__).resolve().parents[2]
RULESET = ROOT / "tests" / "engine_cases" / "caps-1-1.yaml"
AS_OF = date(2026, 3, 2)


def _db(tmp_path: Path) -> Path:
    path = tmp_path / "facts.duckdb"
    init_db(path)
    con = duckdb.connect(str(path))
    facts = Facts("engine-caps", con)
    facts.reps([{"rep_id": "vera", "hired_on": "2015-01-05", "regions": ["north"]},
                {"rep_id": "nina", "hired_on": "2026-01-05", "regions": ["north"]}])
    facts.customers([
        {"customer_id": "w1", "country": "DE", "stage": "won", "created_at": "2025-01-01",
         "owner": "vera"},
        {"customer_id": "s1", "country": "DE", "tags": ["strategic"],
         "created_at": "2025-01-01", "owner": "vera"},
        {"customer_id": "p1", "country": "DE", "created_at": "2025-01-01", "owner": "vera"},
    ])
    facts.activities([{"customer_id": c, "rep_id": "vera", "at": at} for c, at in (
        ("w1", "2026-01-05 10:00"), ("s1", "2026-01-10 10:00"), ("p1", "2026-01-10 10:00"))])
    con.close()
    return path


def test_the_reason_names_the_target_a_condition_chose(tmp_path: Path) -> None:
    db = _db(tmp_path)
    # vera holds 3, one over the cap of 2: w1, followed up least recently, goes
    explanation = api.explain(RULESET, db, "w1", AS_OF)
    (decision,) = explanation.decisions
    assert (decision.action, decision.rule_id, decision.to_pool_id) == (
        "trim", "caps.private.veteran", "closed-deals")
    assert decision.reason == (
        "vera holds more than the veteran cap of 2 private customers; w1 is among the "
        "least recently followed up; it matches excess_to target 1, so it goes to "
        "closed-deals")
    verdicts = {v.point: v.matched for v in explanation.verdicts}
    assert verdicts == {"excess:veteran:1": True, "excess:veteran:2": False}
    text = explanation.format_text()
    assert "  excess:veteran:1: MATCHED\n    stage in ['won', 'lost']" in text


def test_a_customer_whose_target_had_no_room_says_so(tmp_path: Path) -> None:
    db = _db(tmp_path)
    con = duckdb.connect(str(db))
    con.execute("UPDATE activities SET \"at\" = TIMESTAMP '2026-01-01 10:00' "
                "WHERE customer_id = 's1'")
    con.close()
    # s1, now followed up least recently, is trimmed; nobody is a key-account
    # manager, so the new salesperson nina takes it
    (decision,) = api.plan(RULESET, db, AS_OF).by_action("trim")
    assert (decision.customer_id, decision.to_rep_id) == ("s1", "nina")
    assert decision.reason.endswith(
        "it matches excess_to target 2, but no salesperson of key-account has room; "
        "it goes to nina (new)")
