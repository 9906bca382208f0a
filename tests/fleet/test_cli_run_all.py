"""``highseas run-all`` as users run it: options, summary files, exit codes."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner, Result

from highseas.cli import main
from highseas.store.fixtures import generate
from tests.fleet.companies import AS_OF, RULESETS, CompanyMaker


def invoke(*args: str) -> Result:
    return CliRunner().invoke(main, ["run-all", *args], catch_exceptions=False)


@pytest.fixture(scope="module")
def maker(tmp_path_factory: pytest.TempPathFactory) -> CompanyMaker:
    made = CompanyMaker(tmp_path_factory.mktemp("cli"))
    for company, archetype in (("alpha", "quick-order"), ("beta", "large-project"),
                               ("gamma", "regional-trading")):
        made.add(company, archetype, 60)
    (made.rulesets / "alpha.tests.yaml").write_text("not a ruleset\n", encoding="utf-8")
    return made


def common(maker: CompanyMaker, scheduler: str) -> list[str]:
    return ["--rulesets", str(maker.rulesets), "--facts", str(maker.facts),
            "--as-of", AS_OF.isoformat(), "--scheduler", scheduler]


def test_plans_every_company_and_writes_both_summaries(maker: CompanyMaker, scheduler: str,
                                                        tmp_path: Path) -> None:
    jsonl = tmp_path / "summary.jsonl"
    result = invoke(*common(maker, scheduler), "--summary", str(jsonl))
    assert result.exit_code == 0, result.output
    assert "3 companies in" in result.output and "3 planned" in result.output
    assert "\r" not in result.output  # no progress bar off a terminal
    rows = [json.loads(line) for line in jsonl.read_text(encoding="utf-8").splitlines()]
    assert [row["company"] for row in rows] == ["alpha", "beta", "gamma"]
    assert {row["status"] for row in rows} == {"planned"}
    assert rows[0]["as_of"] == AS_OF.isoformat()
    assert rows[0]["count_customers_evaluated"] == 60
    assert {"count_release", "duration_s", "worker", "attempt", "error_code",
            "error_message"} <= set(rows[0])

    parquet = tmp_path / "summary.parquet"
    assert invoke(*common(maker, scheduler), "--summary", str(parquet)).exit_code == 0
    table = pq.read_table(parquet)
    assert table.column("company").to_pylist() == ["alpha", "beta", "gamma"]
    assert table.column("as_of").to_pylist() == [AS_OF] * 3
    assert table.column("attempt").to_pylist() == [1, 1, 1]

    plan = tmp_path / "plan.json"  # the same plan as highseas run, byte for byte
    run = CliRunner().invoke(main, ["run", "-r", str(maker.rulesets / "gamma.yaml"), "--db",
                                    str(maker.facts / "gamma.duckdb"), "--as-of",
                                    AS_OF.isoformat(), "--output", str(plan)])
    assert run.exit_code == 0, run.output
    assert rows[2]["plan_sha256"] == hashlib.sha256(plan.read_bytes()).hexdigest()


def test_only_and_exclude(maker: CompanyMaker, scheduler: str, tmp_path: Path) -> None:
    summary = tmp_path / "s.jsonl"
    result = invoke(*common(maker, scheduler), "--only", "beta", "--only", "gamma",
                    "--exclude", "gamma", "--summary", str(summary))
    assert result.exit_code == 0, result.output
    assert [json.loads(line)["company"] for line in summary.read_text().splitlines()] == ["beta"]

    unknown = invoke(*common(maker, scheduler), "--only", "gama")
    assert unknown.exit_code == 2
    assert "HS801" in unknown.output and "did you mean 'gamma'" in unknown.output


def test_a_failed_company_exits_1_and_is_listed(maker: CompanyMaker, scheduler: str,
                                                tmp_path: Path) -> None:
    rulesets = tmp_path / "rulesets"
    rulesets.mkdir()
    for name in ("alpha", "beta"):
        (rulesets / f"{name}.yaml").write_bytes((maker.rulesets / f"{name}.yaml").read_bytes())
    (rulesets / "ghost.yaml").write_bytes((maker.rulesets / "alpha.yaml").read_bytes())
    result = invoke("--rulesets", str(rulesets), "--facts", str(maker.facts),
                    "--as-of", AS_OF.isoformat(), "--scheduler", scheduler)
    assert result.exit_code == 1, result.output
    assert "ghost: failed HS400" in result.output
    assert "2 planned, 1 failed" in result.output


def test_one_database_of_several_companies_plans_but_does_not_apply(
        scheduler: str, tmp_path: Path) -> None:
    shared = tmp_path / "all.duckdb"
    rulesets = tmp_path / "rulesets"
    rulesets.mkdir()
    for archetype in ("quick-order", "large-project"):
        generate(shared, archetype, 40, 2, 1, AS_OF)
        (rulesets / f"{archetype}.yaml").write_bytes((RULESETS / f"{archetype}.yaml").read_bytes())
    planned = invoke("--rulesets", str(rulesets), "--facts", str(shared), "--as-of",
                     AS_OF.isoformat(), "--scheduler", scheduler)
    assert planned.exit_code == 0, planned.output
    assert "2 planned" in planned.output
    refused = invoke("--rulesets", str(rulesets), "--facts", str(shared), "--apply",
                     "--scheduler", scheduler)
    assert refused.exit_code == 2
    assert "HS802" in refused.output


def test_bad_input_exits_2(maker: CompanyMaker, tmp_path: Path,
                           monkeypatch: pytest.MonkeyPatch) -> None:
    bad_summary = invoke(*common(maker, "local"), "--summary", str(tmp_path / "s.csv"))
    assert bad_summary.exit_code == 2 and "HS805" in bad_summary.output
    empty = tmp_path / "empty"
    empty.mkdir()
    no_rulesets = invoke("--rulesets", str(empty), "--facts", str(maker.facts))
    assert no_rulesets.exit_code == 2 and "HS004" in no_rulesets.output
    assert invoke("--rulesets", str(tmp_path / "nope"), "--facts", str(maker.facts)).exit_code == 2

    monkeypatch.setattr("highseas.fleet.cluster.CONNECT_TIMEOUT_S", 1.0)
    unreachable = invoke(*common(maker, "tcp://127.0.0.1:9"))
    assert unreachable.exit_code == 2
    assert "HS803 cannot reach the Dask scheduler at tcp://127.0.0.1:9" in unreachable.output
    not_an_address = invoke(*common(maker, "somewhere"))
    assert not_an_address.exit_code == 2 and "HS803" in not_an_address.output


def test_the_cli_does_not_import_dask() -> None:
    code = ("import sys; from click.testing import CliRunner; from highseas.cli import main; "
            "r = CliRunner().invoke(main, ['run-all', '--help']); assert r.exit_code == 0; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_an_interrupted_apply_says_which_companies_hold_their_run(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C while the cluster works: one company applied, the others not;
    the message counts and names them from their databases, exit 130."""
    from highseas import fleet

    made = CompanyMaker(tmp_path)
    for company, archetype in (("alpha", "quick-order"), ("beta", "large-project"),
                               ("gamma", "regional-trading")):
        made.add(company, archetype, 40)

    def first_then_interrupt(companies: list[fleet.CompanyRef], options: fleet.RunOptions,
                             **_: object) -> fleet.FleetResult:
        assert fleet.run_company(companies[0], options).status is fleet.Status.APPLIED
        raise KeyboardInterrupt

    monkeypatch.setattr(fleet, "run_all", first_then_interrupt)
    result = CliRunner().invoke(main, ["run-all", "--rulesets", str(made.rulesets), "--facts",
                                       str(made.facts), "--as-of", AS_OF.isoformat(),
                                       "--apply"])
    assert result.exit_code == 130, result.output
    assert ("interrupted: 1 of 3 companies hold an applied run for their date (alpha); "
            "2 not applied (beta, gamma). Run run-all again: the applied companies are "
            "reported as already applied") in result.output
