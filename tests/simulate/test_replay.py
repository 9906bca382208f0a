"""Replay of recorded history: same code as the nightly run, never writes the
facts file, sensible metrics, and the files an analyst mails."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from highseas.simulate import SimulationResult, simulate
from tests.support.simulate import AS_OF, QUICK_ORDER, file_digest, generated_db

START = AS_OF - timedelta(days=9)


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generated_db(tmp_path_factory.mktemp("sim"))


@pytest.fixture(scope="module")
def sweep(db: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[SimulationResult, Path,
                                                                        str, str]:
    """One sweep over the idle period, with files, and the facts file's digest around it."""
    out = tmp_path_factory.mktemp("out")
    before = file_digest(db)
    result = simulate(QUICK_ORDER, db, START, AS_OF, sweeps=["idle-period=7d,30d"], out=out)
    return result, out, before, file_digest(db)


def _copy_and_replay(db: Path, folder: Path, days: list[date], claim_back: bool,
                     sets: tuple[str, ...] = ()) -> Any:
    from highseas.simulate.overrides import build_scenarios
    from highseas.simulate.replay import copy_database, replay
    from highseas.store.db import open_db

    ruleset = build_scenarios(QUICK_ORDER, sets)[-1].ruleset
    copy = copy_database(db, folder, "replay")
    with open_db(copy) as con:
        log = replay(con, ruleset, days, claim_back=claim_back, keep_plans=True)
        owners = con.execute("SELECT customer_id, owner_rep_id, pool_id, owned_since "
                             "FROM customers ORDER BY 1").fetchall()
    return log, owners


def test_one_day_simulation_equals_highseas_run(db: Path, tmp_path: Path) -> None:
    from highseas import api

    day = AS_OF - timedelta(days=3)
    expected = api.run(QUICK_ORDER, db, day).plan  # plan only, as `highseas run` prints
    log, _ = _copy_and_replay(db, tmp_path, [day], claim_back=True)
    assert log.plans[0].decisions == expected.decisions
    assert log.plans[0].unassigned == expected.unassigned
    assert expected.decisions, "the day must decide something for the test to mean anything"
    result = simulate(QUICK_ORDER, db, day, day)
    daily = result.tables["daily"][0]
    counts = expected.counts()
    assert (daily["released"], daily["reminders"], daily["assigned"], daily["trimmed"]) == (
        counts["release"], counts["remind"], counts["assign"], counts["trim"])
    # the simulation counts the unassigned customers without listing them
    assert daily["unassigned"] == counts["unassigned"] == len(expected.unassigned) > 0


def test_baseline_equals_the_nightly_run_day_by_day(db: Path, tmp_path: Path) -> None:
    """Without claim backs the replay is exactly the nightly run applied each day."""
    from highseas.nightly.apply import apply_plan
    from highseas.nightly.planner import plan
    from highseas.ruleset.loader import load_ruleset
    from highseas.simulate.replay import RUN_TIME, copy_database
    from highseas.store.db import open_db

    days = [AS_OF - timedelta(days=n) for n in range(4, -1, -1)]
    log, owners = _copy_and_replay(db, tmp_path, days, claim_back=False)
    ruleset = load_ruleset(QUICK_ORDER)
    nightly = copy_database(db, tmp_path, "nightly")
    with open_db(nightly) as con:
        for day, simulated in zip(days, log.plans, strict=True):
            the_plan = plan(con, ruleset, day)
            assert the_plan.decisions == simulated.decisions, day
            apply_plan(con, the_plan, timestamp=datetime.combine(day, RUN_TIME))
        expected_owners = con.execute("SELECT customer_id, owner_rep_id, pool_id, owned_since "
                                      "FROM customers ORDER BY 1").fetchall()
    assert owners == expected_owners
    assert sum(len(p.ownership_changes()) for p in log.plans) > 0


def test_the_facts_file_is_unchanged(sweep: tuple[SimulationResult, Path, str, str]) -> None:
    result, _out, before, after = sweep
    assert before == after
    assert result.value("baseline", "release_events") > 0  # the copy did change


def test_longer_idle_period_never_releases_more(
        sweep: tuple[SimulationResult, Path, str, str]) -> None:
    result = sweep[0]
    released = [result.value(name, "customers_released") for name in
                ("idle-period=7d", "baseline", "idle-period=30d")]  # 7d < 14d < 30d
    assert released == sorted(released, reverse=True)
    assert released[0] > released[-1]
    high_seas = [result.value(name, "high_seas_end") for name in
                 ("idle-period=7d", "baseline", "idle-period=30d")]
    assert high_seas == sorted(high_seas, reverse=True)


def test_comparison_has_differences(sweep: tuple[SimulationResult, Path, str, str]) -> None:
    result = sweep[0]
    rows = {row["metric"]: row for row in result.side_by_side()}
    row = rows["customers_released"]
    assert row["idle-period=7d diff"] == row["idle-period=7d"] - row["baseline"]
    text = result.format_text()
    assert "customers released" in text and "[2] idle-period=30d" in text
    assert result.table("daily").num_rows == 3 * 10


def test_charts_and_report_exist_and_are_not_trivial(
        sweep: tuple[SimulationResult, Path, str, str]) -> None:
    from highseas.simulate.metrics import TABLES
    from highseas.simulate.report import CHARTS

    result, out, _, _ = sweep
    for name in (*TABLES, "comparison"):
        assert (out / f"{name}.csv").stat().st_size > 0
        assert (out / f"{name}.parquet").read_bytes()[:4] == b"PAR1"
    import pyarrow.parquet as pq

    daily = pq.read_table(out / "daily.parquet")
    assert daily.num_rows == 30 and "high_seas" in daily.column_names
    for chart in CHARTS:
        data = (out / chart).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
    page = (out / "report.html").read_text(encoding="utf-8")
    assert page.count("data:image/png;base64,") == len(CHARTS)
    for heading in ("Side by side", "Fairness of assignments",
                    "Customers received per salesperson", "Releases by rule",
                    "Releases by salesperson"):
        assert re.search(f"<h2>{heading}</h2>\\s*<table>", page), heading
    for row in result.tables["released_then_ordered"]:
        assert f"<td>{row['customer_id']}</td>" in page
    assert "customers released" in page and "idle-period=30d" in page
    released = str(result.value("baseline", "customers_released"))
    assert f"<td>{released}</td>" in page
    assert "src=\"http" not in page  # self-contained


def test_a_claim_cap_of_zero_assigns_nothing(db: Path) -> None:
    result = simulate(QUICK_ORDER, db, AS_OF - timedelta(days=4), AS_OF,
                      sets=["caps.claims.new.per_day=0", "caps.claims.veteran.per_day=0"])
    capped = result.scenarios[1]
    assert result.value("baseline", "assignments") > 0
    assert result.value(capped, "assignments") == 0
    assert result.value(capped, "claims_back") == 0
    assert all(r["received"] == 0 for r in result.tables["assignments"]
               if r["scenario"] == capped)


def test_cli_simulate_prints_the_side_by_side(db: Path, tmp_path: Path) -> None:
    from highseas.cli import main

    runner = CliRunner()
    outcome = runner.invoke(main, ["simulate", "-r", str(QUICK_ORDER), "--db", str(db),
                                   "--from", "2026-06-29", "--to", "2026-06-30",
                                   "--idle-period", "21d"])
    assert outcome.exit_code == 0, outcome.output
    assert "customers released" in outcome.output
    assert "[1] idle-period=21d" in outcome.output


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["--set", "caps.claims.nwe.per_day=1"], "HS701"),
        (["--set", "caps.cooldown=soon"], "HS205"),
        (["--sweep", "idle-period=7d"], None),  # one value is fine
        (["--to", "2026-06-01"], "HS705"),
    ],
)
def test_cli_simulate_errors(db: Path, args: list[str], code: str | None) -> None:
    from highseas.cli import main

    base = ["simulate", "-r", str(QUICK_ORDER), "--db", str(db), "--from", "2026-06-30",
            "--to", "2026-06-30"]
    if "--to" in args:
        base = base[:-2]
    outcome = CliRunner().invoke(main, [*base, *args])
    if code is None:
        assert outcome.exit_code == 0, outcome.output
        return
    assert outcome.exit_code == 2, outcome.output
    assert code in outcome.output
    assert "Traceback" not in outcome.output


def test_missing_database_is_a_clear_error(tmp_path: Path) -> None:
    from highseas.errors import InvalidInputError

    with pytest.raises(InvalidInputError) as caught:
        simulate(QUICK_ORDER, tmp_path / "none.duckdb", AS_OF, AS_OF)
    assert caught.value.first.code == "HS400"


def test_parallel_scenarios_give_the_same_tables(db: Path) -> None:
    ticks: list[int] = []
    kwargs: dict[str, Any] = {"sweeps": ["idle-period=7d"]}
    serial = simulate(QUICK_ORDER, db, AS_OF - timedelta(days=1), AS_OF, jobs=1, **kwargs)
    parallel = simulate(QUICK_ORDER, db, AS_OF - timedelta(days=1), AS_OF, jobs=2,
                        progress=ticks.append, **kwargs)

    # every table, the daily one included: no wall-clock column in any
    assert serial.tables == parallel.tables
    # the days' own times are kept apart, per scenario replayed
    assert {name: len(days) for name, days in parallel.day_seconds.items()} == {
        "baseline": 2, "idle-period=7d": 2}
    assert sum(ticks) == 4  # one tick per scenario-day, from the worker processes


@pytest.mark.parametrize("sets", [(), ("caps.cooldown=1d", "caps.claims.veteran.per_day=1",
                                        "caps.private.new.max=3")])
def test_batched_claim_backs_agree_with_check_claim(db: Path, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch,
                                                    sets: tuple[str, ...]) -> None:
    """Every claim back decided from the day's batch (loads read once, each
    allowed claim counted for the next) gets the verdict check_claim gives on
    the database written up to it (the replay raises otherwise); claims back,
    lost touches and refusals for caps all occur."""
    from highseas.nightly import claims
    from highseas.simulate import replay as sim_replay

    monkeypatch.setattr(sim_replay, "VERIFY_CLAIMS", True)
    reasons: list[str] = []
    original = claims.ClaimChecks.verdict

    def spy(self: Any, rep_id: str, customer_id: str) -> claims.ClaimVerdict:
        verdict = original(self, rep_id, customer_id)
        reasons.extend(verdict.reasons)
        return verdict

    monkeypatch.setattr(claims.ClaimChecks, "verdict", spy)
    days = [AS_OF - timedelta(days=n) for n in range(11, -1, -1)]
    log, _ = _copy_and_replay(db, tmp_path, days, claim_back=True, sets=sets)
    assert sum(d.claims_back for d in log.days) > 0
    assert sum(d.lost_touches for d in log.days) > 0
    if sets:  # refusals for caps, not only cooldowns, were checked against check_claim
        assert any("cap" in reason for reason in reasons)
    kinds = {e[1] for e in log.events}
    assert {"claim_back", "lost_touch"} <= kinds


def test_behaviour_model_invents_contacts_only_when_switched_on(db: Path) -> None:
    from highseas.errors import InvalidInputError

    first, last = AS_OF - timedelta(days=3), AS_OF
    plain = simulate(QUICK_ORDER, db, first, last)
    modelled = simulate(QUICK_ORDER, db, first, last, contact_after="2d")
    assert plain.value("baseline", "invented_contacts") == 0 and not plain.behaviour
    assert modelled.value("baseline", "invented_contacts") > 0
    assert "2 day(s) later" in modelled.behaviour
    delays = {r["days_to_first_contact"] for r in modelled.tables["first_contact"]}
    assert 2 in delays
    none = simulate(QUICK_ORDER, db, last - timedelta(days=2), last, contact_after="1d",
                    contact_share=0.0)
    assert none.value("baseline", "invented_contacts") == 0
    with pytest.raises(InvalidInputError) as caught:
        simulate(QUICK_ORDER, db, first, last, contact_after="soon")
    assert caught.value.first.code == "HS707"


def test_warns_when_the_database_already_applied_runs_in_the_window(db: Path,
                                                                    tmp_path: Path) -> None:
    import shutil

    from highseas import api

    applied = tmp_path / "applied.duckdb"
    shutil.copyfile(db, applied)
    api.run(QUICK_ORDER, applied, AS_OF, apply=True)
    result = simulate(QUICK_ORDER, applied, AS_OF - timedelta(days=1), AS_OF)
    assert [w.code for w in result.warnings] == ["HS720"]
    assert not simulate(QUICK_ORDER, db, AS_OF, AS_OF).warnings


def test_a_scenario_equal_to_the_baseline_is_not_replayed_twice(
        db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from highseas import simulate as module
    from highseas.simulate import incremental_runs

    calls: list[str] = []
    original = module._run_scenario
    original_group = incremental_runs.run_group

    def counting(scenario: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(scenario.name)
        return original(scenario, *args, **kwargs)

    def counting_group(scenarios: Any, *args: Any, **kwargs: Any) -> Any:
        calls.extend(scenario.name for scenario in scenarios)
        return original_group(scenarios, *args, **kwargs)

    # either replay path: one scenario at a time, or a group sharing a history
    monkeypatch.setattr(module, "_run_scenario", counting)
    monkeypatch.setattr(incremental_runs, "run_group", counting_group)
    ticks: list[int] = []
    # quick-order's rule already idles for 14 days
    result = simulate(QUICK_ORDER, db, AS_OF - timedelta(days=1), AS_OF,
                      sweeps=["idle-period=14d,7d"], progress=ticks.append, jobs=1)
    assert calls == ["baseline", "idle-period=7d"]
    assert sum(ticks) == 2 * 3
    assert result.value("idle-period=14d", "customers_released") == result.value(
        "baseline", "customers_released")
    assert {r["scenario"] for r in result.tables["daily"]} == set(result.scenarios)


def test_rewind_restores_the_ownership_of_the_first_day(db: Path, tmp_path: Path) -> None:
    """Runs applied inside the window are undone in the copy: the replay's
    first day decides what the nightly run decided on the untouched data."""
    import shutil

    from highseas.nightly.apply import apply_plan
    from highseas.nightly.planner import plan
    from highseas.ruleset.loader import load_ruleset
    from highseas.simulate.replay import RUN_TIME, rewind
    from highseas.store.db import open_db

    ruleset = load_ruleset(QUICK_ORDER)
    original = tmp_path / "original.duckdb"
    shutil.copyfile(db, original)
    query = ("SELECT customer_id, owner_rep_id, pool_id, owned_since FROM customers "
             "ORDER BY 1")
    first = AS_OF - timedelta(days=3)
    with open_db(original) as con:
        # the start of ownership is not in the audit trail: make it the creation
        con.execute("UPDATE customers SET owned_since = created_at "
                    "WHERE owner_rep_id IS NOT NULL")
        before = con.execute(query).fetchall()
        expected = plan(con, ruleset, first)
    applied = tmp_path / "applied.duckdb"
    shutil.copyfile(original, applied)
    with open_db(applied) as con:
        for n in range(3):
            day = first + timedelta(days=n)
            apply_plan(con, plan(con, ruleset, day),
                       timestamp=datetime.combine(day, RUN_TIME))
        assert con.execute(query).fetchall() != before
        assert rewind(con, ruleset, first) > 0
        assert con.execute(query).fetchall() == before
        assert rewind(con, ruleset, first) == 0
        assert plan(con, ruleset, first).decisions == expected.decisions


def test_a_ruleset_of_another_company_is_an_error(tmp_path: Path) -> None:
    from highseas.errors import InvalidInputError
    from highseas.store.db import init_db

    empty = tmp_path / "empty.duckdb"
    init_db(empty)
    with pytest.raises(InvalidInputError) as caught:
        simulate(QUICK_ORDER, empty, AS_OF, AS_OF)
    # the same check, code and wording as the nightly run's
    assert caught.value.first.code == "HS552"
    assert caught.value.first.json_path == "$.company.id"
    assert caught.value.first.hint == "load facts first"


def _replay_with_everything(db: Path, folder: Path, days: list[date]) -> Any:
    """A replay with claims back and the behaviour model on (runs' changes,
    claims, invented contacts and new customers all change facts)."""
    from highseas.simulate.overrides import build_scenarios
    from highseas.simulate.replay import ContactModel, copy_database, replay
    from highseas.store.db import open_db

    ruleset = build_scenarios(QUICK_ORDER, ())[-1].ruleset
    copy = copy_database(db, folder, "replay")
    with open_db(copy) as con:
        return replay(con, ruleset, days, claim_back=True, contact=ContactModel(2))


def test_replay_facts_equal_a_full_derivation_every_day(db: Path, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """The replay re-derives only the customers whose inputs changed since the
    day before; with VERIFY each day's facts are compared with a full
    derivation (a difference stops the replay)."""
    from highseas.simulate import replay_facts as sim_facts

    monkeypatch.setattr(sim_facts, "VERIFY", True)
    checked: list[date] = []
    original = sim_facts._verify

    def spy(con: Any, ruleset: Any, day: date, company: str) -> None:
        original(con, ruleset, day, company)
        checked.append(day)

    monkeypatch.setattr(sim_facts, "_verify", spy)
    days = [AS_OF - timedelta(days=n) for n in range(11, -1, -1)]
    log = _replay_with_everything(db, tmp_path, days)
    assert checked == days
    assert sum(d.claims_back for d in log.days) > 0
    assert sum(d.invented_contacts for d in log.days) > 0
    assert sum(d.counts["release"] for d in log.days[1:]) > 0


def test_replay_facts_check_catches_a_stale_customer(db: Path, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """The check is not vacuous: a refresh that re-derives nobody is caught on
    the first day something changed."""
    from highseas.simulate import replay_facts as sim_facts

    monkeypatch.setattr(sim_facts, "VERIFY", True)
    monkeypatch.setattr(sim_facts.IncrementalFacts, "_update", lambda *args: None)
    days = [AS_OF - timedelta(days=n) for n in range(3, -1, -1)]
    with pytest.raises(AssertionError, match="differ from a full derivation"):
        _replay_with_everything(db, tmp_path, days)


@pytest.mark.parametrize("chunk", [None, 1])
def test_a_plan_without_unassigned_rows_decides_the_same(db: Path, chunk: int | None,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """The replay's plans only count the customers left unassigned (and
    allocate in smaller chunks): the decisions, the engine state and every
    count are those of the full plan."""
    from highseas.nightly import planner
    from highseas.ruleset.loader import load_ruleset
    from highseas.store.db import open_db

    if chunk is not None:
        monkeypatch.setattr(planner, "COUNTED_CHUNK", chunk)
    ruleset = load_ruleset(QUICK_ORDER)
    with open_db(db, read_only=True) as con:
        full = planner.plan(con, ruleset, AS_OF)
        counted = planner.plan(con, ruleset, AS_OF, unassigned_rows=False)
    assert len(full.unassigned) > 0 and len(counted.unassigned) == 0
    assert full.skipped and not counted.skipped  # explanations only in full plans
    assert counted.unassigned_omitted == full.unassigned_customers()
    assert counted.counts() == full.counts()
    assert counted.by_action("assign"), "the day must assign someone to mean anything"
    assert counted.decisions == full.decisions
    assert (counted.rotation, counted.relay_upserts, counted.relay_deletes) == (
        full.rotation, full.relay_upserts, full.relay_deletes)


def test_replay_facts_check_catches_keys_out_of_order(db: Path, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """The replay's keys may skip numbers but must order customers as the
    nightly run's do: reversed keys are caught on the first day."""
    from highseas.simulate import replay_facts as sim_facts

    monkeypatch.setattr(sim_facts, "VERIFY", True)
    monkeypatch.setattr(sim_facts, "_WITH_KEYS",
                        sim_facts._WITH_KEYS.replace("keys.k AS k", "-keys.k AS k"))
    days = [AS_OF - timedelta(days=1), AS_OF]
    with pytest.raises(AssertionError, match="out of k order"):
        _replay_with_everything(db, tmp_path, days)


def test_unassigned_counts_customers_not_customer_x_allocation(db: Path,
                                                               tmp_path: Path) -> None:
    """Two allocations try the same pool: a customer both leave in the high
    seas, or one leaves and the other assigns, is one customer in the
    replay's daily count, as in the nightly run's summary."""
    import yaml

    from highseas import api

    document = yaml.safe_load(QUICK_ORDER.read_text(encoding="utf-8"))
    document["allocation"].append({
        "id": "daily-to-veterans", "schedule": "daily", "pools": "all", "tiers": ["veteran"],
        "strategy": "round_robin", "region_match": {"fallback": "any_region"},
        "max_per_rep_per_run": 1})
    two = tmp_path / "two-allocations.yaml"
    two.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    expected = api.run(two, db, AS_OF).plan  # lists every customer x allocation
    rows = expected.unassigned
    by_allocation: dict[str, set[str]] = {}
    for row in rows:
        by_allocation.setdefault(row.customer_id, set()).add(str(row.rule_id))
    assert any(len(ids) == 2 for ids in by_allocation.values()), "left by both allocations"
    customers = expected.unassigned_customers()
    assert 0 < customers < len(rows)
    from highseas.nightly import planner
    from highseas.store.db import open_db

    with open_db(db, read_only=True) as con:  # the replay's plans only count them
        counted = planner.plan(con, api.load_ruleset(two), AS_OF, unassigned_rows=False)
    assert counted.unassigned_customers() == customers
    result = simulate(two, db, AS_OF, AS_OF)
    assert result.tables["daily"][0]["unassigned"] == customers
