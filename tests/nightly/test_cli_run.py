"""The nightly run's commands through the CLI: output, files and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from highseas.cli import main
from highseas.store.db import init_db
from tests.support.nightly import RULESETS, Facts, two_reps_one_owned_one_pooled

RULESET = str(RULESETS / "regional-trading.yaml")


@pytest.fixture()
def db(tmp_path: Path) -> Path:
    path = tmp_path / "facts.duckdb"
    init_db(path)
    con = duckdb.connect(str(path))
    facts = two_reps_one_owned_one_pooled(Facts("regional-trading", con))
    facts.activities([{"customer_id": "acme", "rep_id": "anna", "at": "2026-01-10 10:00"}])
    con.close()
    return path


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_run_prints_a_summary_and_writes_nothing_without_apply(db: Path) -> None:
    before = db.read_bytes()
    code, out, _ = invoke("run", "--ruleset", RULESET, "--db", str(db), "--as-of", "2026-04-10")
    assert code == 0
    assert "releases: 1" in out and "no-follow-up-90d -> emea-pool: 1" in out
    assert "assignments: 1" in out and "ben: 1" in out
    assert "nothing was written" in out
    assert db.read_bytes() == before


def test_run_apply_then_again_is_a_no_op(db: Path) -> None:
    # --force: the newest fact is three months old (the freshness guard, HS516)
    args = ("run", "--ruleset", RULESET, "--db", str(db), "--as-of", "2026-04-10", "--apply",
            "--force")
    code, out, _ = invoke(*args)
    assert code == 0 and "2 ownership changes" in out
    code, out, _ = invoke(*args)
    assert code == 0 and "already applied" in out
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("SELECT count(*) FROM ownership_events").fetchall()[0][0] == 2
    con.close()
    code, _, err = invoke("run", "--ruleset", RULESET, "--db", str(db), "--as-of", "2026-04-01",
                          "--apply")
    assert code == 2 and "HS510" in err and "--force" in err


@pytest.mark.parametrize("suffix", [".json", ".csv", ".parquet"])
def test_run_output_files(db: Path, tmp_path: Path, suffix: str) -> None:
    output = tmp_path / f"plan{suffix}"
    code, _, _ = invoke("run", "--ruleset", RULESET, "--db", str(db), "--as-of", "2026-04-10",
                        "--output", str(output))
    assert code == 0
    if suffix == ".json":
        data = json.loads(output.read_text(encoding="utf-8"))
        actions = {(d["customer_id"], d["action"], d["rule_id"]) for d in data["decisions"]}
        assert actions == {("acme", "release", "no-follow-up-90d"),
                           ("pool1", "assign", "daily-new-rotation")}
        for decision in data["decisions"]:
            assert {"customer_id", "action", "rule_id", "from_rep_id", "to_rep_id",
                    "reason"} <= set(decision)
    elif suffix == ".csv":
        lines = output.read_text(encoding="utf-8").splitlines()
        assert lines[0].startswith('"customer_id","action","rule_id"')
        assert len(lines) == 3
    else:
        assert pq.read_table(output).num_rows == 2


def test_run_rejects_unknown_output_format(db: Path, tmp_path: Path) -> None:
    code, _, err = invoke("run", "--ruleset", RULESET, "--db", str(db), "--as-of", "2026-04-10",
                          "--output", str(tmp_path / "plan.xlsx"))
    assert code == 2 and "HS530" in err


def test_bad_date_and_missing_database_are_usage_errors(db: Path, tmp_path: Path) -> None:
    code, _, err = invoke("run", "--ruleset", RULESET, "--db", str(db), "--as-of", "2026-13-01")
    assert code == 2 and "is not a date" in err
    code, _, err = invoke("run", "--ruleset", RULESET, "--db", str(tmp_path / "nope.duckdb"))
    assert code == 2 and "does not exist" in err and "Traceback" not in err


def test_explain_names_the_rule_and_the_failing_condition(db: Path) -> None:
    code, out, _ = invoke("explain", "--ruleset", RULESET, "--db", str(db), "acme",
                          "--as-of", "2026-04-05")
    assert code == 0
    assert "release:no-follow-up-90d: not matched" in out
    assert "idle for 85 days >= 90 days (since 2026-01-10): no" in out
    assert "remind" in out and "returns to emea-pool in 5 days" in out
    code, _, err = invoke("explain", "--ruleset", RULESET, "--db", str(db), "acm")
    assert code == 2 and "did you mean 'acme'" in err


def test_explain_shows_history_after_apply(db: Path) -> None:
    invoke("run", "--ruleset", RULESET, "--db", str(db), "--as-of", "2026-04-10", "--apply",
           "--force")  # the newest fact is three months old (HS516)
    code, out, _ = invoke("explain", "--ruleset", RULESET, "--db", str(db), "acme",
                          "--as-of", "2026-04-11")
    assert code == 0
    assert "2026-04-10 release (no-follow-up-90d)" in out


def test_claim_allowed_refused_and_applied(db: Path) -> None:
    base = ("claim", "--ruleset", RULESET, "--db", str(db), "--as-of", "2026-04-10")
    code, out, _ = invoke(*base, "--rep", "ben", "--customer", "acme")
    assert code == 1 and "not in the high seas (owned by anna)" in out
    code, out, _ = invoke(*base, "--rep", "ben", "--customer", "pool1", "--apply")
    assert code == 0 and "claim recorded" in out
    code, out, _ = invoke(*base, "--rep", "anna", "--customer", "pool1")
    assert code == 1 and "owned by ben" in out


def test_compile_prints_the_durable_definition() -> None:
    code, out, _ = invoke("compile", RULESET, "--as-of", "2026-04-10")
    assert code == 0
    document = json.loads(out)
    assert "release:no-follow-up-90d" in document["decision_points"]
    text = json.dumps(document["rulesets"])
    assert "no-follow-up-90d" not in text  # consultants' names never reach durable-rules


@pytest.mark.parametrize("as_of", ["0001-01-01", "9999-12-31"])
def test_as_of_out_of_range_is_a_usage_error(db: Path, as_of: str) -> None:
    code, _, err = invoke("run", "--ruleset", RULESET, "--db", str(db), "--as-of", as_of)
    assert code == 2 and "out of range" in err and "Traceback" not in err


def test_a_ruleset_for_another_company_is_refused_not_a_silent_no_op(db: Path) -> None:
    other = str(Path(RULESET).parent.parent / "fixtures" / "crm-sales-opportunities.ruleset.yaml")
    code, _, err = invoke("run", "--ruleset", other, "--db", str(db), "--as-of", "2026-04-10")
    assert code == 2 and "HS552" in err and "it holds regional-trading" in err


def test_a_damaged_database_is_a_clear_error(db: Path) -> None:
    with db.open("r+b") as handle:
        handle.seek(12288)
        handle.write(b"\x13" * 4096)
    code, _, err = invoke("run", "--ruleset", RULESET, "--db", str(db), "--as-of", "2026-04-10")
    assert code == 2 and "HS407" in err and "damaged" in err


def test_a_custom_attribute_of_the_wrong_type_stops_the_run(db: Path) -> None:
    """credit_score is declared an integer; a customer holding "high" would
    read as missing, and the credit-score exemption would silently not apply."""
    con = duckdb.connect(str(db))
    con.execute("""UPDATE customers SET attributes = '{"credit_score": "high"}'
                   WHERE customer_id = 'acme'""")
    con.execute("""UPDATE customers SET attributes = '{"credit_score": 85}'
                   WHERE customer_id = 'pool1'""")
    con.close()
    before = db.read_bytes()
    for extra in ((), ("--apply",)):
        code, out, err = invoke("run", "--ruleset", RULESET, "--db", str(db),
                                "--as-of", "2026-04-10", *extra)
        assert code == 2, out + err
        assert "HS553" in err and "acme ('high')" in err and "pool1" not in err
        assert "regional-trading.yaml:21:" in err  # the field's declaration
        assert "Traceback" not in err
    assert db.read_bytes() == before
    code, _, err = invoke("explain", "--ruleset", RULESET, "--db", str(db), "acme",
                          "--as-of", "2026-04-10")
    assert code == 2 and "HS553" in err
