"""The incremental replay equals the nightly-path replay, day for day.

Differential: random valid rulesets (the robustness generator's, each
keeping every nightly-run invariant) reduced to what the incremental replay
decides, over random histories of 60+ days (customers created, activities by
owners, by others and by nobody, orders placed and closed, stage changes),
replayed on both paths from the same copy: the logs are equal day for day
(every decision but reminders, which both count, claims back, lost touches,
pool sizes). A failure prints the first difference and hypothesis's
minimal example.
"""

from __future__ import annotations

import os
from datetime import date, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from highseas import codes
from highseas.errors import InvalidInputError, ReplayDivergedError
from highseas.ruleset.loader import load_ruleset
from highseas.ruleset.model import Ruleset
from highseas.simulate import incremental, simulate
from highseas.simulate.incremental import steps as incremental_steps
from highseas.simulate.replay import ContactModel, day_range, replay, rewind
from highseas.simulate.verify import first_difference
from tests.robustness.test_fuzz import valid_rulesets
from tests.support.nightly import Facts
from tests.support.simulate import AS_OF, QUICK_ORDER, generated_db

FIRST = date(2026, 3, 1)
DAYS = 62


@st.composite
def histories(draw: st.DrawFn, ruleset: Ruleset) -> Facts:
    """A company's facts with a history running through the replayed days."""
    facts = Facts(ruleset.company.id)
    countries = sorted({c for r in ruleset.regions for c in r.countries}) + ["ZZ"]
    region_ids = [r.id for r in ruleset.regions]
    reps = [{"rep_id": f"r{i}",
             "hired_on": (FIRST - timedelta(days=draw(st.sampled_from([5, 200, 900])))
                          ).isoformat(),
             "tier": draw(st.sampled_from([None, None, *[t.id for t in ruleset.tiers]])),
             "regions": draw(st.lists(st.sampled_from(region_ids), max_size=2, unique=True))
             if region_ids else []}
            for i in range(draw(st.integers(1, 4)))]
    facts.reps(reps)
    owners = [r["rep_id"] for r in reps]
    customers, activities, orders = [], [], []
    for i in range(draw(st.integers(1, 16))):
        owner = draw(st.sampled_from([*owners, None]))
        created = FIRST + timedelta(days=draw(st.integers(-400, DAYS - 5)))
        customers.append({
            "customer_id": f"c{i:02d}", "owner": owner,
            "country": draw(st.sampled_from(countries)),
            "stage": draw(st.sampled_from(["lead", "contract", "negotiation"])),
            "source": draw(st.sampled_from(["alibaba", "website"])),
            "tags": draw(st.sampled_from([[], ["vip"], ["key-account"]])),
            "level": draw(st.integers(1, 5)),
            "created_at": f"{created} 10:00",
            "pool_id": None if owner else draw(st.sampled_from(
                [None, *[p.id for p in ruleset.pools]])),
        })
        for _ in range(draw(st.integers(0, 4))):
            at = FIRST + timedelta(days=draw(st.integers(-30, DAYS)))
            hour = draw(st.integers(0, 9))
            if at >= created:
                activities.append({"customer_id": f"c{i:02d}", "at": f"{at} 0{hour}:00",
                                   "rep_id": draw(st.sampled_from([*owners, None]))})
        if draw(st.integers(0, 2)) == 0:
            placed = created + timedelta(days=draw(st.integers(0, 60)))
            orders.append({"customer_id": f"c{i:02d}", "placed_at": f"{placed} 11:00",
                           "status": draw(st.sampled_from(["open", "won", "lost"]))})
        if draw(st.integers(0, 3)) == 0:
            facts.con.execute(
                "INSERT INTO stage_changes VALUES (?, ?, ?, ?)",
                [facts.company, f"c{i:02d}", draw(st.sampled_from(["contract", "won"])),
                 FIRST + timedelta(days=draw(st.integers(0, DAYS)))])
    facts.customers(customers).activities(activities).orders(orders)
    return facts


def both_paths(facts: Facts, ruleset: Ruleset, days: list[date]) -> tuple[object, object]:
    rewind(facts.con, ruleset, days[0])
    fast = incremental.replay_incremental(facts.con, ruleset, days)
    slow = replay(facts.con, ruleset, days)
    return slow, fast


@settings(max_examples=int(os.environ.get("HIGHSEAS_REPLAY_EXAMPLES", "6")), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.filter_too_much])
@given(st.data())
def test_random_rulesets_replay_alike_on_both_paths(data: st.DataObject) -> None:
    ruleset = data.draw(valid_rulesets())
    facts = data.draw(histories(ruleset))
    days = day_range(FIRST, FIRST + timedelta(days=DAYS - 1))
    slow, fast = both_paths(facts, ruleset, days)
    difference = first_difference(slow, fast)  # type: ignore[arg-type]
    assert difference is None, difference.describe()


@pytest.fixture(scope="module")
def quick_order_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generated_db(tmp_path_factory.mktemp("incremental"), customers=200, reps=10)


def test_verify_passes_on_a_generated_company(quick_order_db: Path) -> None:
    """`simulate --verify` over 40 days of a generated company (releases,
    reminders, trims, allocation, claims back): both paths agree; the sweep
    replayed on shared history in two forked processes gives the nightly
    path's tables too."""
    start = AS_OF - timedelta(days=39)
    sweep = ["idle-period=7d"]
    verified = simulate(QUICK_ORDER, quick_order_db, start, AS_OF, sweeps=sweep, verify=True,
                        jobs=1)
    nightly = simulate(QUICK_ORDER, quick_order_db, start, AS_OF, sweeps=sweep,
                       replay_path="nightly", jobs=1)
    shared = simulate(QUICK_ORDER, quick_order_db, start, AS_OF, sweeps=sweep, jobs=2)
    assert verified.tables == nightly.tables
    assert shared.tables == nightly.tables
    daily = nightly.tables["daily"]
    for column in ("released", "reminders", "assigned", "claims_back"):
        assert sum(row[column] for row in daily) > 0, column


def test_verify_stops_at_the_first_difference(quick_order_db: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """An incremental replay that forgets one release: --verify names the
    day and the customer, and fails with HS713 (exit 1)."""
    original = incremental_steps.DayRun._record
    forgot: list[str] = []

    def forgetful(self: incremental_steps.DayRun, decision: incremental_steps.Decision) -> None:
        if decision[0] == "release" and not forgot:
            forgot.append(decision[1])
            return
        original(self, decision)

    monkeypatch.setattr(incremental_steps.DayRun, "_record", forgetful)
    with pytest.raises(ReplayDivergedError) as failed:
        simulate(QUICK_ORDER, quick_order_db, AS_OF - timedelta(days=10), AS_OF,
                 verify=True, jobs=1)
    assert failed.value.first.code == codes.REPLAY_PATHS_DIFFER
    assert failed.value.exit_code == 1
    assert f"customer {forgot[0]}" in failed.value.first.message
    assert f"the nightly path decided release of {forgot[0]}" in failed.value.first.message


def test_what_it_cannot_replay_goes_the_nightly_path(quick_order_db: Path) -> None:
    """The behaviour model invents activities day by day: the incremental
    replay does not model it, `auto` replays on the nightly path, and
    `--replay-path incremental` says why it cannot (HS714)."""
    ruleset = load_ruleset(QUICK_ORDER)
    assert incremental.unsupported(ruleset) is None
    assert incremental.unsupported(ruleset, contact=ContactModel(3)) is not None
    with pytest.raises(InvalidInputError) as refused:
        simulate(QUICK_ORDER, quick_order_db, AS_OF - timedelta(days=2), AS_OF,
                 replay_path="incremental", contact_after="3d", jobs=1)
    assert refused.value.first.code == codes.INCREMENTAL_UNSUPPORTED
    assert "behaviour model" in refused.value.first.message


def test_verify_every_plans_on_the_incremental_state(quick_order_db: Path) -> None:
    """`--verify-every 1`: each day the nightly planner plans on the state
    the incremental replay carried (owners, events, reminders, rotation),
    and agrees; the answer is the nightly path's."""
    start = AS_OF - timedelta(days=24)
    checked = simulate(QUICK_ORDER, quick_order_db, start, AS_OF, verify_every=1, jobs=1)
    nightly = simulate(QUICK_ORDER, quick_order_db, start, AS_OF, replay_path="nightly",
                       jobs=1)
    assert checked.tables == nightly.tables


def test_verify_every_catches_state_that_went_stale(quick_order_db: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """A state that forgets the owners' follow-ups: the state check's
    nightly plan releases what the stale state keeps, or the other way."""
    from highseas.simulate.incremental.state import ScenarioState

    monkeypatch.setattr(ScenarioState, "touched", lambda self, rows, day: None)
    with pytest.raises(ReplayDivergedError) as failed:
        simulate(QUICK_ORDER, quick_order_db, AS_OF - timedelta(days=30), AS_OF,
                 verify_every=5, jobs=1)
    assert "(state check)" in failed.value.first.message
    with pytest.raises(InvalidInputError) as refused:
        simulate(QUICK_ORDER, quick_order_db, AS_OF, AS_OF, verify_every=-1)
    assert refused.value.first.code == codes.VERIFY_EVERY_BELOW_ONE
