"""``run_all`` on a 2-process LocalCluster: 50 companies of mixed archetypes and
sizes equal to one ``highseas run`` each; faults that fail one company alone;
a worker killed inside an apply; a second run on the same date."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from highseas import api, codes
from highseas.errors import InvalidInputError
from highseas.fleet import FleetResult, RunOptions, Status, discover, run_all
from tests.fleet.companies import (
    ARCHETYPES,
    AS_OF,
    CompanyMaker,
    applied_runs,
    ownership,
    plan_digest,
)
from tests.fleet.conftest import connected
from tests.fleet.hooks import KillInsideApply

SIZES = (60, 240)
COMPANIES = [f"co-{i:02d}" for i in range(50)]


def archetype_and_size(i: int) -> tuple[str, int]:
    """Company i's archetype and customers: 3 archetypes x 2 sizes."""
    return ARCHETYPES[i % 3], SIZES[(i // 3) % 2]


@dataclass(frozen=True)
class Fleet:
    maker: CompanyMaker
    expected_plans: dict[str, str]
    applied: FleetResult


@pytest.fixture(scope="module")
def fleet(cluster: object, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    """50 companies (3 archetypes, 4 sizes), a broken ruleset, a missing and a
    busy database, applied in one run-all; the plans ``highseas run`` makes
    for the 50, taken before."""
    root = tmp_path_factory.mktemp("fleet")
    maker = CompanyMaker(root)
    plans = root / "plans"
    plans.mkdir()
    with connected(cluster.scheduler_address) as client:  # type: ignore[attr-defined]
        # The cluster's processes build the companies and the reference plans
        # (through the API, as highseas run does) before the fleet runs them.
        sizes = sorted({archetype_and_size(i) for i in range(len(COMPANIES))})
        client.gather(client.map(maker.template, *zip(*sizes, strict=True), pure=False))
        client.gather(client.map(maker.add, COMPANIES,
                                 *zip(*map(archetype_and_size, range(len(COMPANIES))),
                                      strict=True), pure=False))
        digests = client.gather(client.map(
            plan_digest, [maker.rulesets / f"{c}.yaml" for c in COMPANIES],
            [maker.facts / f"{c}.duckdb" for c in COMPANIES], [plans] * len(COMPANIES),
            pure=False))
    expected = dict(zip(COMPANIES, digests, strict=True))
    maker.add_broken("broken")
    maker.add("missing", "quick-order", 60)
    (maker.facts / "missing.duckdb").unlink()
    maker.add("busy", "large-project", 60)
    companies = discover(maker.rulesets, maker.facts, apply=True)
    with duckdb.connect(str(maker.facts / "busy.duckdb")):  # another process writes it
        applied = run_all(companies, RunOptions(AS_OF, apply=True),
                          scheduler=cluster.scheduler_address)  # type: ignore[attr-defined]
    yield Fleet(maker, expected, applied)


def test_fifty_companies_applied_with_the_plans_of_highseas_run(fleet: Fleet) -> None:
    outcomes = {o.company: o for o in fleet.applied.outcomes}
    assert sorted(outcomes) == sorted([*COMPANIES, "broken", "missing", "busy"])
    for company in COMPANIES:
        outcome = outcomes[company]
        assert outcome.status is Status.APPLIED, outcome.line()
        assert outcome.plan_sha256 == fleet.expected_plans[company], company
        assert outcome.as_of == AS_OF.isoformat()
        customers = archetype_and_size(COMPANIES.index(company))[1]
        assert outcome.counts["customers_evaluated"] == customers
        assert outcome.worker.startswith("tcp://127.0.0.1:")
        assert outcome.attempt == 1
        assert applied_runs(fleet.maker.facts / f"{company}.duckdb", company) == [
            (AS_OF, "apply", "ok")]
    assert len({o.worker for o in fleet.applied.outcomes if o.worker}) == 2
    assert fleet.applied.workers == 2


def test_bad_ruleset_missing_and_busy_databases_fail_alone(fleet: Fleet) -> None:
    outcomes = {o.company: o for o in fleet.applied.outcomes}
    expected = {"broken": codes.UNKNOWN_KEY, "missing": codes.DATABASE_MISSING,
                "busy": codes.DATABASE_BUSY}
    for company, code in expected.items():
        outcome = outcomes[company]
        assert outcome.status is Status.FAILED
        assert outcome.error_code == code, outcome.line()
        assert outcome.error_message
    assert "bogus" in outcomes["broken"].error_message
    assert fleet.applied.exit_code == 1
    assert applied_runs(fleet.maker.facts / "busy.duckdb", "busy") == []


def test_a_second_run_on_the_same_date_is_already_applied(fleet: Fleet, scheduler: str) -> None:
    companies = discover(fleet.maker.rulesets, fleet.maker.facts, apply=True,
                         exclude=["broken", "missing", "busy"])
    again = run_all(companies, RunOptions(AS_OF, apply=True), scheduler=scheduler)
    assert {o.status for o in again.outcomes} == {Status.ALREADY_APPLIED}
    assert len(again.outcomes) == 50
    assert again.exit_code == 0
    for company in COMPANIES[:5]:
        assert applied_runs(fleet.maker.facts / f"{company}.duckdb", company) == [
            (AS_OF, "apply", "ok")]


def test_a_worker_killed_inside_an_apply_is_retried_and_applied_once(
        scheduler: str, tmp_path: Path) -> None:
    maker = CompanyMaker(tmp_path)
    for company, archetype in (("victim", "regional-trading"), ("bystander", "quick-order")):
        maker.add(company, archetype, 200)
    reference = tmp_path / "reference.duckdb"
    shutil.copyfile(maker.facts / "victim.duckdb", reference)
    api.run(maker.rulesets / "victim.yaml", reference, AS_OF, apply=True)
    marker = tmp_path / "killed.json"

    result = run_all(discover(maker.rulesets, maker.facts, apply=True),
                     RunOptions(AS_OF, apply=True), scheduler=scheduler,
                     before_run=KillInsideApply("victim", str(marker)))

    killed = json.loads(marker.read_text(encoding="utf-8"))
    assert killed["runs"] == 1 and killed["events"] > 0  # died with the run written, uncommitted
    victim = {o.company: o for o in result.outcomes}["victim"]
    assert victim.status is Status.APPLIED
    assert victim.attempt == 2
    assert victim.worker != killed["worker"]
    assert result.exit_code == 0
    db = maker.facts / "victim.duckdb"
    assert applied_runs(db, "victim") == [(AS_OF, "apply", "ok")]
    assert ownership(db, "victim") == ownership(reference, "victim")


def test_an_unreachable_scheduler_is_a_clear_error(tmp_path: Path) -> None:
    maker = CompanyMaker(tmp_path)
    maker.add("lonely", "quick-order", 50)
    with pytest.raises(InvalidInputError) as raised:
        run_all(discover(maker.rulesets, maker.facts), RunOptions(AS_OF),
                scheduler="tcp://127.0.0.1:9", connect_timeout=1.0)
    assert raised.value.first.code == codes.SCHEDULER_UNREACHABLE
    assert "tcp://127.0.0.1:9" in raised.value.first.message
    assert raised.value.exit_code == 2
