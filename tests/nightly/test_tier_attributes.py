"""A salesperson's tier attribute that selects no tier of the ruleset: the
run and ``explain`` warn (HS554) instead of placing them by tenure silently."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from highseas import api, codes
from highseas.cli import main
from highseas.errors import Severity
from highseas.nightly.planner import plan_warnings
from highseas.store.db import init_db
from tests.support.nightly import RULESETS, Facts

RULESET = RULESETS / "regional-trading.yaml"
AS_OF = "2026-04-10"


def _tiers_line() -> int:
    lines = RULESET.read_text(encoding="utf-8").splitlines()
    return lines.index("tiers:") + 1


def _db(tmp_path: Path, reps: list[dict[str, object]]) -> Path:
    path = tmp_path / "facts.duckdb"
    init_db(path)
    con = duckdb.connect(str(path))
    facts = Facts("regional-trading", con)
    facts.reps(reps)
    facts.customers([{"customer_id": "acme", "country": "DE", "created_at": "2025-01-01",
                      "owner": "anna", "owned_since": "2026-01-01"}])
    con.close()
    return path


@pytest.fixture()
def db(tmp_path: Path) -> Path:
    return _db(tmp_path, [
        {"rep_id": "anna", "hired_on": "2020-01-01", "regions": ["emea"], "tier": "key-acount"},
        {"rep_id": "ben", "hired_on": "2026-03-01", "regions": ["emea"], "tier": "senior"},
        {"rep_id": "bea", "hired_on": "2026-03-01", "regions": ["emea"], "tier": "senior"},
        # declared: a tier's attribute, and the id of a tier without one
        {"rep_id": "carl", "hired_on": "2020-01-01", "tier": "key-account"},
        {"rep_id": "dora", "hired_on": "2020-01-01", "tier": "veteran"},
        # not working on the as-of date: not reported
        {"rep_id": "eve", "hired_on": "2020-01-01", "tier": "principal", "active": False},
        {"rep_id": "finn", "hired_on": "2026-05-01", "tier": "junior"},
    ])


def test_each_undeclared_attribute_is_a_warning_at_the_rulesets_tiers(db: Path) -> None:
    result = api.run(RULESET, db, date.fromisoformat(AS_OF))
    warnings = plan_warnings(result.plan)
    assert [(w.code, w.severity) for w in warnings] == [
        (codes.UNDECLARED_TIER_ATTRIBUTE, Severity.WARNING)] * 2
    typo, senior = warnings
    assert (typo.file, typo.line, typo.column) == (str(RULESET), _tiers_line(), 1)
    assert typo.message == ("1 salesperson has tier attribute 'key-acount', which selects "
                            "no tier of the ruleset, so their tenure decides their tier: anna")
    assert typo.hint == "did you mean 'key-account'?"
    assert "2 salespeople have tier attribute 'senior'" in senior.message
    assert senior.message.endswith(": bea, ben")
    assert "add a tier with `attribute: senior`" in senior.hint
    # the plan is made as usual: anna is placed by her tenure
    assert result.plan.evaluated_customers == 1


def test_run_and_explain_show_the_warnings(db: Path) -> None:
    runner = CliRunner()
    run = runner.invoke(main, ["run", "--ruleset", str(RULESET), "--db", str(db),
                               "--as-of", AS_OF])
    assert run.exit_code == 0, run.output
    assert "  warnings: 2\n" in run.stdout
    assert (f"    {RULESET}:{_tiers_line()}:1: warning HS554 1 salesperson has tier "
            "attribute 'key-acount'") in run.stdout
    explain = runner.invoke(main, ["explain", "--ruleset", str(RULESET), "--db", str(db),
                                   "acme", "--as-of", AS_OF])
    assert explain.exit_code == 0, explain.output
    assert "\nwarnings:\n" in explain.stdout
    assert "warning HS554 2 salespeople have tier attribute 'senior'" in explain.stdout


def test_no_warning_when_every_attribute_selects_a_tier(tmp_path: Path) -> None:
    db = _db(tmp_path, [
        {"rep_id": "anna", "hired_on": "2020-01-01", "tier": "key-account"},
        {"rep_id": "ben", "hired_on": "2026-03-01"},
    ])
    result = api.run(RULESET, db, date.fromisoformat(AS_OF))
    assert plan_warnings(result.plan) == ()
    assert "warnings" not in api.format_summary(result.plan)
