"""The fleet's parts without a cluster: companies, outcomes, guard codes, summaries."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from highseas import codes
from highseas.errors import Diagnostic, HighseasError, InvalidInputError
from highseas.fleet import (
    FleetResult,
    Outcome,
    RunOptions,
    Status,
    discover,
    run_in_process,
    write_summary,
)
from highseas.fleet import outcome as outcome_module
from highseas.fleet.outcome import failure
from tests.fleet.companies import AS_OF, CompanyMaker, plan_digest


def folders(tmp_path: Path, *names: str) -> tuple[Path, Path]:
    rulesets, facts = tmp_path / "rulesets", tmp_path / "facts"
    rulesets.mkdir()
    facts.mkdir()
    for name in names:
        (rulesets / name).write_text("version: 1\n", encoding="utf-8")
    return rulesets, facts


def test_discover_names_companies_after_their_ruleset_files(tmp_path: Path) -> None:
    rulesets, facts = folders(tmp_path, "b.yaml", "a.yml", "a.tests.yaml", "notes.txt")
    found = discover(rulesets, facts)
    assert [c.id for c in found] == ["a", "b"]
    assert found[0].facts == str((facts / "a.duckdb").resolve())  # kept though missing
    assert [c.id for c in discover(rulesets, facts, only=["b"])] == ["b"]
    assert [c.id for c in discover(rulesets, facts, exclude=["b"])] == ["a"]


@pytest.mark.parametrize(("kwargs", "code"), [
    ({"only": ["c"]}, codes.UNKNOWN_FLEET_COMPANY),
    ({"exclude": ["bb"]}, codes.UNKNOWN_FLEET_COMPANY),
])
def test_discover_refuses_unknown_companies(tmp_path: Path, kwargs: dict[str, list[str]],
                                            code: str) -> None:
    rulesets, facts = folders(tmp_path, "a.yaml", "b.yaml")
    with pytest.raises(InvalidInputError) as raised:
        discover(rulesets, facts, **kwargs)  # type: ignore[arg-type]
    assert raised.value.first.code == code
    assert raised.value.exit_code == 2


def test_one_shared_database_is_for_planning_only(tmp_path: Path) -> None:
    rulesets, _ = folders(tmp_path, "a.yaml", "b.yaml")
    shared = tmp_path / "all.duckdb"
    shared.write_bytes(b"")
    assert {c.facts for c in discover(rulesets, shared)} == {str(shared.resolve())}
    with pytest.raises(InvalidInputError) as raised:
        discover(rulesets, shared, apply=True)
    assert raised.value.first.code == codes.SHARED_FACTS_APPLY


def test_discover_refuses_a_folder_without_rulesets(tmp_path: Path) -> None:
    rulesets, facts = folders(tmp_path, "a.tests.yaml")
    with pytest.raises(InvalidInputError) as raised:
        discover(rulesets, facts)
    assert raised.value.first.code == codes.NO_YAML_FILES


def test_a_failure_keeps_the_first_error_code_and_message() -> None:
    error = HighseasError([
        Diagnostic("HS201", "unknown key 'bogus'", file="x.yaml", line=3, column=1),
        Diagnostic("HS202", "missing key"),
    ])
    outcome = failure("x", error, as_of="2026-06-30")
    assert outcome.status is Status.FAILED
    assert outcome.error_code == "HS201"
    assert outcome.error_message == "x.yaml:3:1: unknown key 'bogus' (and 1 more)"
    assert outcome.line() == "x: failed HS201 x.yaml:3:1: unknown key 'bogus' (and 1 more)"


def test_guard_codes_are_skipped_by_guard(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(outcome_module, "GUARD_CODES", frozenset({"HS510"}))
    refused = failure("x", InvalidInputError("stale facts", code="HS510"))
    assert refused.status is Status.SKIPPED_BY_GUARD
    result = FleetResult((refused, Outcome("y", Status.APPLIED)), 1.0, 2)
    assert result.exit_code == 1
    assert result.totals_line() == (
        "2 companies in 1.0 s on 2 workers: 1 applied, 1 skipped by guard")


def test_guard_codes_are_registered_codes() -> None:
    assert all(code in codes.REGISTRY for code in outcome_module.GUARD_CODES)


def test_summaries_hold_one_row_per_company(tmp_path: Path) -> None:
    result = FleetResult((
        Outcome("a", Status.APPLIED, as_of="2026-06-30", counts={"release": 3, "assign": 1},
                duration_s=0.25, worker="tcp://127.0.0.1:1", attempt=2, run_id="r"),
        Outcome("b", Status.FAILED, error_code="HS400", error_message="no file"),
    ), 1.0, 2)
    write_summary(result, tmp_path / "s.jsonl")
    rows = [json.loads(line) for line in (tmp_path / "s.jsonl").read_text().splitlines()]
    assert rows[0] == {"company": "a", "as_of": "2026-06-30", "status": "applied",
                       "count_release": 3, "count_assign": 1, "duration_s": 0.25,
                       "worker": "tcp://127.0.0.1:1", "attempt": 2, "error_code": "",
                       "error_message": "", "run_id": "r", "plan_sha256": ""}
    assert rows[1]["as_of"] is None and rows[1]["count_release"] == 0
    write_summary(result, tmp_path / "s.parquet")
    table = pq.read_table(tmp_path / "s.parquet")
    assert table.column_names == list(rows[0])
    assert table.column("error_code").to_pylist() == ["", "HS400"]
    assert not list(tmp_path.glob(".*tmp"))


def test_in_process_runs_make_the_plan_of_highseas_run(tmp_path: Path) -> None:
    maker = CompanyMaker(tmp_path)
    maker.add("solo", "regional-trading", 60)
    expected = plan_digest(maker.rulesets / "solo.yaml", maker.facts / "solo.duckdb", tmp_path)
    result = run_in_process(discover(maker.rulesets, maker.facts), RunOptions(AS_OF))
    (outcome,) = result.outcomes
    assert outcome.status is Status.PLANNED and outcome.worker == "local"
    assert outcome.plan_sha256 == expected


def test_an_apply_refused_by_a_guard_is_skipped_by_guard(tmp_path: Path) -> None:
    maker = CompanyMaker(tmp_path)
    maker.add("ahead", "quick-order", 60)
    after_today = date.today() + timedelta(days=30)
    result = run_in_process(discover(maker.rulesets, maker.facts, apply=True),
                            RunOptions(after_today, apply=True))
    (outcome,) = result.outcomes
    assert outcome.status is Status.SKIPPED_BY_GUARD, outcome.line()
    assert outcome.error_code in outcome_module.GUARD_CODES
    assert result.exit_code == 1
