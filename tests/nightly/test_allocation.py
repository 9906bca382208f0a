"""Tests of highseas.nightly.allocation: every strategy, skip reason, fallback and cap,
checked against hand-computed cases and against a slow reference
implementation of docs/allocation.md (hypothesis)."""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import date
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import highseas.nightly.allocator as allocator_module
from highseas.errors import InvalidInputError
from highseas.nightly.allocation import (
    SKIP_LIMIT,
    AllocationResult,
    AssignRequest,
    RepSnapshot,
    allocate,
    daily_quota,
    relay_allocation,
    rotation_key,
    static_skip_reason,
)
from highseas.nightly.reasons import SkipKind, SkipReason, render_skip
from highseas.ruleset.durations import Duration
from highseas.ruleset.model import ActivationRelay, Allocation, Compare, Region

NONE: frozenset[str] = frozenset()


def rep(
    rep_id: str,
    *,
    tier: str | None = "new",
    regions: tuple[str, ...] = ("emea",),
    active: bool = True,
    away: bool = False,
    private: int = 0,
    private_cap: int | None = None,
    day: int = 0,
    week: int = 0,
    month: int = 0,
    cap_day: int | None = None,
    cap_week: int | None = None,
    cap_month: int | None = None,
    last30: int = 0,
    weight: int | None = None,
) -> RepSnapshot:
    return RepSnapshot(
        rep_id=rep_id, tier=tier, regions=regions, active=active, away=away,
        private_count=private, private_cap=private_cap, claims_today=day, claims_week=week,
        claims_month=month, claim_cap_day=cap_day, claim_cap_week=cap_week,
        claim_cap_month=cap_month, assigned_last_30d=last30, weight=weight,
    )


def req(
    customer_id: str,
    region: str | None = "emea",
    *,
    pool: str = "pool",
    cooldown: Sequence[str] = (),
    exclude: Sequence[str] = (),
) -> AssignRequest:
    return AssignRequest(
        customer_id=customer_id, pool_id=pool, region=region,
        cooldown_reps=frozenset(cooldown), exclude_reps=frozenset(exclude), reason="rotation",
    )


def alloc(strategy: str = "round_robin", **kwargs: object) -> Allocation:
    return Allocation(id="rot", tiers=kwargs.pop("tiers", ("new",)),  # type: ignore[arg-type]
                      strategy=strategy, **kwargs)  # type: ignore[arg-type]


REGIONS = (
    Region(id="emea", fallbacks=("americas", "apac")),
    Region(id="americas", fallbacks=("emea",)),
    Region(id="apac"),
)


def run(
    requests: Sequence[AssignRequest],
    reps: Sequence[RepSnapshot],
    allocation: Allocation | None = None,
    positions: Mapping[str, str | None] | None = None,
    regions: Sequence[Region] = REGIONS,
) -> AllocationResult:
    return allocate(requests, reps, allocation or alloc(), regions, positions or {})


def pairs(result: AllocationResult) -> dict[str, str]:
    return {a.customer_id: a.rep_id for a in result.assignments}


def reasons(result: AllocationResult, customer_id: str) -> dict[str, str]:
    """The skip reasons of ``customer_id``, in words, by salesperson."""
    return dict(said(result, customer_id))


def said(result: AllocationResult, customer_id: str) -> tuple[tuple[str, str], ...]:
    """The skips of ``customer_id`` as plans show them."""
    return tuple((rep_id, render_skip(why)) for rep_id, why in result.skipped[customer_id])


# --------------------------------------------------------------------------
# Round robin
# --------------------------------------------------------------------------


def test_round_robin_in_rep_id_order_and_pointer_persists() -> None:
    reps = [rep("c"), rep("a"), rep("b")]
    first = run([req("x1"), req("x2")], reps)
    assert pairs(first) == {"x1": "a", "x2": "b"}
    assert first.positions == {"pool@emea": "b"}
    assert first.assignments[0].note == "round robin in emea"
    second = run([req("y1"), req("y2")], reps, positions=first.positions)
    assert pairs(second) == {"y1": "c", "y2": "a"}
    assert second.positions == {"pool@emea": "a"}


def test_round_robin_pointer_is_a_rep_id_stable_when_people_join_and_leave() -> None:
    reps = [rep("a"), rep("c"), rep("e")]
    positions = {"pool@emea": "c"}
    assert pairs(run([req("x")], reps, positions=positions)) == {"x": "e"}
    # "d" joins after the pointer: served next, nobody else shifts.
    joined = [*reps, rep("d")]
    assert pairs(run([req("x"), req("y")], joined, positions=positions)) == {"x": "d", "y": "e"}
    # "c" (the pointer itself) leaves the company: still continue after "c".
    left = [rep("a"), rep("e")]
    assert pairs(run([req("x")], left, positions=positions)) == {"x": "e"}
    # "b" joins before the pointer: waits for the wrap, no burst.
    early = [*reps, rep("b")]
    result = run([req("x"), req("y"), req("z")], early, positions=positions)
    assert pairs(result) == {"x": "e", "y": "a", "z": "b"}


@pytest.mark.parametrize("strategy", ["round_robin", "weighted"])
def test_return_from_leave_gives_no_burst_and_nobody_is_skipped_twice(strategy: str) -> None:
    names = ["a", "b", "c", "d"]
    positions: Mapping[str, str | None] = {}
    totals: Counter[str] = Counter()
    for day in range(8):
        away = {"c"} if 2 <= day <= 4 else set()
        reps = [rep(n, away=n in away) for n in names]
        requests = [req(f"d{day}-{k}") for k in range(3)]
        result = run(requests, reps, alloc(strategy), positions=positions)
        positions = result.positions
        got = Counter(pairs(result).values())
        assert "c" not in got or day not in (2, 3, 4)
        if day >= 5:
            # Back from leave: one turn, like everyone, not a catch-up burst.
            assert got["c"] <= 1
        totals.update(got)
        if away:
            assert reasons(result, requests[0].customer_id).get("c", "away") == "away"
    # Everyone present on every day got within one of the others.
    present = [totals[n] for n in ("a", "b", "d")]
    assert max(present) - min(present) <= 1


def test_round_robin_skips_cooldown_for_that_customer_only() -> None:
    reps = [rep("a"), rep("b"), rep("c")]
    result = run([req("x1", cooldown=["a"]), req("x2")], reps)
    assert pairs(result) == {"x1": "b", "x2": "c"}
    assert said(result, "x1") == (("a", "in cooldown"),)
    assert result.skipped["x1"] == (("a", SkipReason(SkipKind.COOLDOWN)),)
    assert "x2" not in result.skipped


def test_relay_exclusions_and_relay_allocation() -> None:
    relay = ActivationRelay(
        id="alibaba", when=Compare("source", "=", "alibaba"), contact_window=Duration.parse("3d"),
        rounds=3, tiers=("new",),
    )
    allocation = relay_allocation(relay)
    assert allocation.strategy == "round_robin" and allocation.tiers == ("new",)
    assert allocation.region_fallback == "any_region"
    reps = [rep("a"), rep("b"), rep("c", regions=("apac",))]
    result = run([req("x", exclude=["a", "b"])], reps, allocation)
    assert pairs(result) == {"x": "c"}
    assert reasons(result, "x") == {"a": "already tried in relay", "b": "already tried in relay"}
    assert result.assignments[0].region_used is None
    assert "any region" in result.assignments[0].note
    trim = run([replace(req("x", exclude=["a"]), exclude_reason="current owner")], reps)
    assert pairs(trim) == {"x": "b"} and reasons(trim, "x") == {"a": "current owner"}
    everyone = run([req("y", exclude=["a", "b", "c"])], reps, allocation)
    assert not everyone.assignments
    assert everyone.unassigned[0].reason == (
        "no eligible salesperson in emea nor in any other region"
    )


# --------------------------------------------------------------------------
# Skip reasons, caps, limits
# --------------------------------------------------------------------------


def test_every_static_and_cap_reason() -> None:
    reps = [
        rep("a1", tier="veteran"),
        rep("a2", active=False),
        rep("a3", away=True),
        rep("a4", private=300, private_cap=300),
        rep("a5", day=10, cap_day=10),
        rep("a6", week=20, cap_week=20),
        rep("a7", month=40, cap_month=40),
        rep("a8", tier=None),
        rep("b1", regions=("apac",)),
    ]
    result = run([req("x")], reps, alloc(region_fallback="stay"))
    assert not result.assignments
    assert reasons(result, "x") == {
        "a2": "inactive",
        "a3": "away",
        "a4": "over private cap 300/300",
        "a5": "claim cap per day reached (10)",
        "a6": "claim cap per week reached (20)",
        "a7": "claim cap per month reached (40)",
        "a1": "not in eligible tiers",
        "a8": "not in eligible tiers",
        "b1": "wrong region",
    }
    assert result.unassigned[0].reason.startswith("no eligible salesperson in emea; region")
    away = replace(reps[2], away_until=date(2026, 12, 1))
    assert static_skip_reason(away, alloc()) == SkipReason(SkipKind.AWAY,
                                                           until=date(2026, 12, 1))
    assert render_skip(SkipReason(SkipKind.AWAY, until=date(2026, 12, 1))) == (
        "away through 2026-12-01, back on 2026-12-02")


def test_caps_are_counted_during_the_run() -> None:
    reps = [rep("a", private=8, private_cap=10), rep("b", day=1, cap_day=2)]
    result = run([req(f"x{k}") for k in range(6)], reps)
    got = Counter(pairs(result).values())
    assert got == {"a": 2, "b": 1}
    assert len(result.unassigned) == 3
    assert reasons(result, "x5") == {
        "a": "over private cap 10/10", "b": "claim cap per day reached (2)",
    }


def test_per_run_limit() -> None:
    reps = [rep("a"), rep("b")]
    result = run([req(f"x{k}") for k in range(7)], reps, alloc(max_per_rep_per_run=3))
    assert Counter(pairs(result).values()) == {"a": 3, "b": 3}
    assert [u.customer_id for u in result.unassigned] == ["x6"]
    assert reasons(result, "x6") == {
        "a": "per-run limit reached (3)", "b": "per-run limit reached (3)",
    }


def test_skip_lists_are_bounded_and_omissions_counted() -> None:
    reps = [rep(f"r{k:03d}", away=True) for k in range(50)] + [rep("z")]
    result = run([req("x")], reps)
    assert pairs(result) == {"x": "z"}
    assert len(result.skipped["x"]) == SKIP_LIMIT
    assert result.skipped_omitted["x"] == 50 - SKIP_LIMIT
    least = run([req("x")], reps, alloc("least_loaded"))
    assert len(least.skipped["x"]) == SKIP_LIMIT
    assert least.skipped_omitted["x"] == 50 - SKIP_LIMIT


# --------------------------------------------------------------------------
# Regions
# --------------------------------------------------------------------------


def region_reps() -> list[RepSnapshot]:
    return [
        rep("e1", regions=("emea",), away=True),
        rep("m1", regions=("americas",)),
        rep("p1", regions=("apac",)),
        rep("n1", regions=()),
    ]


def test_fallbacks_in_order() -> None:
    result = run([req("x")], region_reps(), alloc(region_fallback="fallbacks"))
    assert pairs(result) == {"x": "m1"}
    assert result.assignments[0].region_used == "americas"
    assert result.assignments[0].note == "round robin, fallback from emea to americas"
    assert reasons(result, "x") == {"e1": "away"}
    # americas busy too: the next fallback, apac.
    busy = [*region_reps()[:1], rep("m1", regions=("americas",), active=False),
            *region_reps()[2:]]
    assert pairs(run([req("x")], busy, alloc(region_fallback="fallbacks"))) == {"x": "p1"}
    # apac has no fallbacks.
    apac = run([req("y", "apac")], [rep("m1", regions=("americas",))],
               alloc(region_fallback="fallbacks"))
    assert apac.unassigned[0].reason == (
        "no eligible salesperson in apac, which has no fallback region"
    )
    assert reasons(apac, "y") == {"m1": "wrong region"}


def test_fallbacks_exhausted() -> None:
    reps = [rep("e1", away=True), rep("n1", regions=())]
    result = run([req("x")], reps, alloc(region_fallback="fallbacks"))
    assert result.unassigned[0].reason == (
        "no eligible salesperson in emea nor in its fallback regions americas, apac"
    )
    assert reasons(result, "x") == {"e1": "away", "n1": "wrong region"}


def test_any_region_and_stay() -> None:
    reps = [rep("e1", away=True), rep("n1", regions=())]
    anyr = run([req("x")], reps, alloc(region_fallback="any_region"))
    assert pairs(anyr) == {"x": "n1"}
    assert anyr.positions == {"pool": "n1"}
    stay = run([req("x")], reps, alloc(region_fallback="stay"))
    assert not stay.assignments
    assert "stays in the pool" in stay.unassigned[0].reason


def test_customer_without_region_goes_to_anyone_and_unknown_region_has_no_fallback() -> None:
    reps = [rep("b", regions=("apac",)), rep("a", regions=())]
    result = run([req("x", None), req("y", "mars")], reps, alloc(region_fallback="fallbacks"))
    assert pairs(result) == {"x": "a"}
    assert result.assignments[0].note == "round robin among all regions (customer has no region)"
    assert result.unassigned[0].customer_id == "y"


def test_regions_rotate_independently() -> None:
    # A single pointer per pool would starve "a": emea and americas alternate.
    reps = [rep("a"), rep("z"), rep("m", regions=("americas",))]
    positions: Mapping[str, str | None] = {}
    got: Counter[str] = Counter()
    for day in range(6):
        result = run([req(f"e{day}"), req(f"m{day}", "americas")], reps, positions=positions)
        positions = result.positions
        got.update(pairs(result).values())
    assert got == {"a": 3, "z": 3, "m": 6}
    assert set(positions) == {"pool@emea", "pool@americas"}


def test_pools_not_served() -> None:
    result = run([req("x", pool="other")], [rep("a")], alloc(pools=("pool",)))
    assert result.unassigned[0].reason == "pool other is not served by allocation rot"


# --------------------------------------------------------------------------
# Other strategies
# --------------------------------------------------------------------------


def test_least_loaded_counts_this_runs_assignments() -> None:
    reps = [rep("a", private=5), rep("b", private=3), rep("c", private=3)]
    result = run([req(f"x{k}") for k in range(5)], reps, alloc("least_loaded"))
    assert [a.rep_id for a in result.assignments] == ["b", "c", "b", "c", "a"]
    assert result.assignments[0].note == "least loaded in emea"
    cooled = run([req("x", cooldown=["b"])], reps, alloc("least_loaded"))
    assert pairs(cooled) == {"x": "c"} and reasons(cooled, "x") == {"b": "in cooldown"}


def test_capacity_quota_and_30_day_ceiling() -> None:
    assert daily_quota(60) == 2 and daily_quota(45) == 2 and daily_quota(44) == 1
    assert daily_quota(10) == 1 and daily_quota(0) == 0
    reps = [rep("a", last30=10), rep("b", last30=0, day=1), rep("c", last30=59)]
    result = run([req(f"x{k}") for k in range(5)], reps, alloc("capacity", capacity=60))
    # quota 2/day: b already had one today; c has room for one in 30 days.
    assert Counter(pairs(result).values()) == {"a": 2, "b": 1, "c": 1}
    assert reasons(result, "x4") == {
        "b": "capacity quota for today reached (2)",
        "a": "capacity quota for today reached (2)",
        "c": "capacity per 30 days reached (60)",
    }


def test_weighted_proportions_and_state() -> None:
    reps = [rep("a", weight=1), rep("b"), rep("c", tier="senior")]
    allocation = alloc("weighted", tiers=("new", "senior"), tier_weights=(("senior", 2),),
                       rep_weights=(("b", 3),))
    result = run([req(f"x{k:02d}") for k in range(12)], reps, allocation)
    assert Counter(pairs(result).values()) == {"a": 2, "b": 6, "c": 4}
    state = json.loads(result.positions["pool@emea#weighted"] or "")
    assert state["v"] == 1
    assert all(Fraction(v) for v in state["lag"].values())
    zero = run([req("x")], [rep("a", weight=0), rep("b")], alloc("weighted"))
    assert pairs(zero) == {"x": "b"} and reasons(zero, "x") == {"a": "weight 0"}
    # Unreadable state starts afresh instead of failing.
    fresh = run([req("x")], reps, allocation, positions={"pool@emea#weighted": "garbage"})
    assert len(fresh.assignments) == 1


def test_weighted_equal_weights_is_round_robin() -> None:
    reps = [rep("b"), rep("a"), rep("c")]
    result = run([req(f"x{k}") for k in range(6)], reps, alloc("weighted"))
    assert [a.rep_id for a in result.assignments] == ["a", "b", "c", "a", "b", "c"]


# --------------------------------------------------------------------------
# Input errors
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("requests", "reps", "allocation", "code"),
    [
        ([req("x")], [rep("a")], alloc("capacity"), "HS561"),
        ([req("x")], [rep("a")], alloc("fastest"), "HS560"),
        ([req("x")], [rep("a")], alloc(region_fallback="nowhere"), "HS560"),
        ([req("x")], [rep("a"), rep("a")], alloc(), "HS563"),
        ([req("x"), req("x")], [rep("a")], alloc(), "HS564"),
        ([req("x")], [rep("a", weight=-1)], alloc("weighted"), "HS562"),
        ([req("x")], [rep("a")], alloc(max_per_rep_per_run=-1), "HS562"),
    ],
)
def test_bad_input_is_a_diagnostic(
    requests: list[AssignRequest], reps: list[RepSnapshot], allocation: Allocation, code: str
) -> None:
    with pytest.raises(InvalidInputError) as info:
        run(requests, reps, allocation)
    assert info.value.first.code == code
    assert "rot" in info.value.first.message


# --------------------------------------------------------------------------
# A slow reference implementation of docs/allocation.md, and properties
# --------------------------------------------------------------------------


def reference(
    requests: Sequence[AssignRequest],
    reps: Sequence[RepSnapshot],
    allocation: Allocation,
    regions: Sequence[Region],
    positions: Mapping[str, str | None],
) -> tuple[dict[str, tuple[str, str | None]], list[str], dict[str, str | None]]:
    """O(requests x reps) restatement of the documented semantics."""
    positions = dict(positions)
    fallbacks = {r.id: r.fallbacks for r in regions}
    state = {r.rep_id: [r.private_count, r.claims_today, r.claims_week, r.claims_month,
                        r.assigned_last_30d, 0] for r in reps}
    rep_w, tier_w = dict(allocation.rep_weights), dict(allocation.tier_weights)

    def weight(r: RepSnapshot) -> int:
        if r.rep_id in rep_w:
            return rep_w[r.rep_id]
        if r.tier in tier_w:
            return tier_w[r.tier]  # type: ignore[index]
        return r.weight if r.weight is not None else 1

    def eligible(r: RepSnapshot, q: AssignRequest) -> bool:
        p, d, w, m, l30, n = state[r.rep_id]
        cap = allocation.capacity or 0
        return (
            r.tier in allocation.tiers and r.active and not r.away
            and r.rep_id not in q.cooldown_reps and r.rep_id not in q.exclude_reps
            and (r.private_cap is None or p < r.private_cap)
            and (r.claim_cap_day is None or d < r.claim_cap_day)
            and (r.claim_cap_week is None or w < r.claim_cap_week)
            and (r.claim_cap_month is None or m < r.claim_cap_month)
            and (allocation.max_per_rep_per_run is None or n < allocation.max_per_rep_per_run)
            and (allocation.strategy != "capacity" or (d < daily_quota(cap) and l30 < cap))
            and (allocation.strategy != "weighted" or weight(r) > 0)
        )

    passes: dict[str, dict[str, Fraction]] = {}
    vts: dict[str, Fraction] = {}

    def members(region: str | None) -> list[RepSnapshot]:
        return sorted((r for r in reps if r.tier in allocation.tiers
                       and (region is None or region in r.regions)), key=lambda r: r.rep_id)

    def pass_of(key: str, r: RepSnapshot) -> Fraction:
        return passes[key][r.rep_id]

    assigned: dict[str, tuple[str, str | None]] = {}
    unassigned: list[str] = []
    for q in sorted(requests, key=lambda q: (q.pool_id, q.customer_id)):
        if allocation.pools and q.pool_id not in allocation.pools:
            unassigned.append(q.customer_id)
            continue
        if q.region is None:
            plan: list[str | None] = [None]
        elif allocation.region_fallback == "fallbacks":
            plan = [q.region, *fallbacks.get(q.region, ())]
        elif allocation.region_fallback == "any_region":
            plan = [q.region, None]
        else:
            plan = [q.region]
        chosen = None
        for region in plan:
            group = members(region)
            key = rotation_key(q.pool_id, region, allocation.strategy == "weighted")
            if allocation.strategy == "weighted" and group and key not in passes:
                raw = positions.get(key)
                lags = {k: Fraction(v) for k, v in json.loads(raw)["lag"].items()} if raw else {}
                passes[key] = {r.rep_id: max(lags.get(r.rep_id, Fraction(0)),
                                             Fraction(-1, weight(r)))
                               for r in group if weight(r) > 0}
                vts[key] = Fraction(0)
            cands = [r for r in group if eligible(r, q)]
            if not cands:
                continue
            if allocation.strategy == "round_robin":
                pointer = positions.get(key)
                after = [r for r in cands if pointer is None or r.rep_id > pointer]
                chosen = (after or cands)[0]
                positions[key] = chosen.rep_id
            elif allocation.strategy == "least_loaded":
                chosen = min(cands, key=lambda r: (state[r.rep_id][0], r.rep_id))
            elif allocation.strategy == "capacity":
                chosen = min(cands, key=lambda r: (state[r.rep_id][4], r.rep_id))
            else:
                chosen = min(cands, key=lambda r: (pass_of(key, r) + Fraction(1, weight(r)),
                                                   r.rep_id))
                passes[key][chosen.rep_id] += Fraction(1, weight(chosen))
                vts[key] = passes[key][chosen.rep_id]
            assigned[q.customer_id] = (chosen.rep_id, region)
            for k in range(6):
                state[chosen.rep_id][k] += 1
            break
        if chosen is None:
            unassigned.append(q.customer_id)
    for key, table in passes.items():
        vt = vts[key]
        by_id = {r.rep_id: r for r in reps}
        stored: dict[str, str] = {}
        for rep_id, value in table.items():
            lag = max(value - vt, Fraction(-1, weight(by_id[rep_id])))
            if lag:
                stored[rep_id] = str(lag)
        positions[key] = json.dumps({"v": 1, "lag": stored}, sort_keys=True,
                                    separators=(",", ":"))
    return assigned, unassigned, dict(sorted(positions.items()))


REP_IDS = ["a", "b", "c", "d", "e", "f"]
REGION_IDS = ["emea", "americas", "apac"]


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[list[AssignRequest], list[RepSnapshot], Allocation]:
    strategy = draw(st.sampled_from(["round_robin", "weighted", "least_loaded", "capacity"]))
    small = st.integers(0, 4)
    cap = st.one_of(st.none(), st.integers(0, 5))
    reps = [
        rep(
            rep_id,
            tier=draw(st.sampled_from(["new", "new", "vet", None])),
            regions=tuple(draw(st.lists(st.sampled_from(REGION_IDS), max_size=2, unique=True))),
            active=draw(st.booleans()) or draw(st.booleans()),
            away=draw(st.integers(0, 4)) == 0,
            private=draw(small), private_cap=draw(cap),
            day=draw(small), week=draw(small), month=draw(small),
            cap_day=draw(cap), cap_week=draw(cap), cap_month=draw(cap),
            last30=draw(st.integers(0, 12)),
            weight=draw(st.one_of(st.none(), st.integers(0, 4))),
        )
        for rep_id in draw(st.lists(st.sampled_from(REP_IDS), unique=True, max_size=6))
    ]
    requests = [
        req(
            f"c{k:02d}",
            draw(st.sampled_from([*REGION_IDS, None, "mars"])),
            pool=draw(st.sampled_from(["p", "q"])),
            cooldown=draw(st.lists(st.sampled_from(REP_IDS), max_size=2)),
            exclude=draw(st.lists(st.sampled_from(REP_IDS), max_size=1)),
        )
        for k in range(draw(st.integers(0, 14)))
    ]
    allocation = Allocation(
        id="x", tiers=("new",) if draw(st.booleans()) else ("new", "vet"),
        strategy=strategy,  # type: ignore[arg-type]
        region_fallback=draw(st.sampled_from(["fallbacks", "any_region", "stay"])),
        capacity=draw(st.integers(0, 90)),
        max_per_rep_per_run=draw(st.one_of(st.none(), st.integers(0, 3))),
        tier_weights=(("vet", draw(st.integers(1, 3))),),
        rep_weights=(("a", draw(st.integers(0, 3))),),
        pools=draw(st.sampled_from([(), ("p",)])),
    )
    return requests, reps, allocation


def initial_positions(draw_seed: int, allocation: Allocation) -> dict[str, str | None]:
    rng = random.Random(draw_seed)
    positions: dict[str, str | None] = {}
    for pool in ("p", "q"):
        for region in [*REGION_IDS, None]:
            if allocation.strategy == "weighted":
                lags = {r: str(Fraction(rng.randint(-6, 6), rng.randint(1, 4)))
                        for r in rng.sample(REP_IDS, 3)}
                positions[rotation_key(pool, region, True)] = json.dumps({"v": 1, "lag": lags})
            elif rng.random() < 0.7:
                positions[rotation_key(pool, region)] = rng.choice([*REP_IDS, "cc", None])
    return positions


@settings(max_examples=250, deadline=None)
@given(scenarios(), st.integers(0, 10**6))
def test_matches_the_reference_and_never_breaks_a_rule(
    scenario: tuple[list[AssignRequest], list[RepSnapshot], Allocation], seed: int
) -> None:
    requests, reps, allocation = scenario
    positions = initial_positions(seed, allocation)
    result = allocate(requests, reps, allocation, REGIONS, positions)
    assigned, unassigned, new_positions = reference(
        requests, reps, allocation, REGIONS, positions
    )
    assert {a.customer_id: (a.rep_id, a.region_used) for a in result.assignments} == assigned
    assert [u.customer_id for u in result.unassigned] == unassigned
    if allocation.strategy in ("round_robin", "weighted"):
        assert result.positions == new_positions
    # Rules: cooldown / exclusions, caps, per-run limit; every request once.
    by_id = {r.rep_id: r for r in reps}
    by_customer = {q.customer_id: q for q in requests}
    got: Counter[str] = Counter()
    for a in result.assignments:
        q = by_customer[a.customer_id]
        assert a.rep_id not in q.cooldown_reps and a.rep_id not in q.exclude_reps
        got[a.rep_id] += 1
    for rep_id, n in got.items():
        r = by_id[rep_id]
        for before, cap in ((r.private_count, r.private_cap), (r.claims_today, r.claim_cap_day),
                            (r.claims_week, r.claim_cap_week),
                            (r.claims_month, r.claim_cap_month)):
            assert cap is None or before + n <= max(cap, before)
        assert allocation.max_per_rep_per_run is None or n <= allocation.max_per_rep_per_run
    assert len(result.assignments) + len(result.unassigned) == len(requests)
    # Every unassigned customer is explained; every skip list is bounded.
    assert all(u.reason for u in result.unassigned)
    # (home region, up to two fallbacks, off-tier and wrong-region lists)
    assert all(len(s) <= 5 * SKIP_LIMIT for s in result.skipped.values())
    assert all(len({rep_id for rep_id, _ in s}) == len(s) for s in result.skipped.values())
    # Deterministic, whatever the input order.
    shuffled = allocate(list(reversed(requests)), list(reversed(reps)), allocation, REGIONS,
                        dict(reversed(list(positions.items()))))
    assert repr(shuffled) == repr(result)
    # The explanation cache for unassigned customers changes nothing.
    allocator_module._CACHE_UNASSIGNED = False
    try:
        uncached = allocate(requests, reps, allocation, REGIONS, positions)
    finally:
        allocator_module._CACHE_UNASSIGNED = True
    assert repr(uncached) == repr(result)


@settings(max_examples=60, deadline=None)
@given(
    st.integers(2, 7),
    st.lists(st.integers(0, 9), min_size=1, max_size=25),
    st.sampled_from(["round_robin", "weighted"]),
)
def test_equal_eligibility_over_many_runs_differs_by_at_most_one(
    n_reps: int, batches: list[int], strategy: str
) -> None:
    reps = [rep(f"r{k}") for k in range(n_reps)]
    positions: Mapping[str, str | None] = {}
    totals = Counter({r.rep_id: 0 for r in reps})
    for day, size in enumerate(batches):
        result = run([req(f"d{day}-{k}") for k in range(size)], reps, alloc(strategy),
                     positions=positions)
        positions = result.positions
        totals.update(pairs(result).values())
        assert max(totals.values()) - min(totals.values()) <= 1


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(1, 4), min_size=2, max_size=4),
    st.lists(st.integers(0, 7), min_size=1, max_size=20),
)
def test_weighted_stays_proportional_across_runs(weights: list[int], batches: list[int]) -> None:
    reps = [rep(f"r{k}", weight=w) for k, w in enumerate(weights)]
    positions: Mapping[str, str | None] = {}
    totals = Counter({r.rep_id: 0 for r in reps})
    for day, size in enumerate(batches):
        result = run([req(f"d{day}-{k}") for k in range(size)], reps, alloc("weighted"),
                     positions=positions)
        positions = result.positions
        totals.update(pairs(result).values())
        # Stride scheduling: nobody is more than one turn ahead of anyone.
        for a in reps:
            for b in reps:
                assert Fraction(totals[a.rep_id], a.weight or 1) <= Fraction(
                    totals[b.rep_id] + 1, b.weight or 1
                )


def test_speed_smoke() -> None:
    """Not a benchmark (see bench/bench_allocate.py): catches a quadratic slip."""
    rng = random.Random(7)
    reps = [rep(f"r{k:04d}", regions=(rng.choice(REGION_IDS),), private_cap=50,
                private=rng.randint(0, 50)) for k in range(500)]
    requests = [req(f"c{k:05d}", rng.choice([*REGION_IDS, None])) for k in range(20_000)]
    for strategy in ("round_robin", "least_loaded"):
        result = run(requests, reps, alloc(strategy))
        assert len(result.assignments) + len(result.unassigned) == 20_000


def test_positions_carry_unused_keys_and_are_sorted() -> None:
    given_positions = {"zeta@apac": "q", "other": None, "pool@emea": "a"}
    result = run([req("x")], [rep("a"), rep("b")], positions=given_positions)
    assert result.positions == {"other": None, "pool@emea": "b", "zeta@apac": "q"}
    assert list(result.positions) == sorted(result.positions)
    assert rotation_key("pool", None) == "pool"
    assert rotation_key("pool", "emea", weighted=True) == "pool@emea#weighted"


def test_heap_strategies_list_the_preferred_reps_that_were_skipped() -> None:
    reps = [rep("a", private=1, away=True), rep("b", private=2, cap_day=0),
            rep("c", private=3), rep("d", private=9, active=False)]
    result = run([req("x", cooldown=["c"]), req("y")], reps, alloc("least_loaded"),
                 regions=REGIONS)
    # x: a, b preferred but not eligible, c in cooldown; d (more customers) not listed.
    assert pairs(result) == {"y": "c"}
    assert said(result, "x")[:3] == (
        ("a", "away"), ("b", "claim cap per day reached (0)"), ("c", "in cooldown"),
    )
    assert said(result, "y") == (("a", "away"), ("b", "claim cap per day reached (0)"))


def test_weighted_state_when_people_join_and_leave() -> None:
    allocation = alloc("weighted")
    first = run([req(f"x{k}") for k in range(4)], [rep("a"), rep("b"), rep("c")], allocation)
    assert [a.rep_id for a in first.assignments] == ["a", "b", "c", "a"]
    # c leaves, d joins: c's state is dropped; b was owed its turn and gets it;
    # d joins at lag 0 like the last one served (a): within a round, rep-id order.
    second = run([req(f"y{k}") for k in range(4)], [rep("a"), rep("b"), rep("d")], allocation,
                 positions=first.positions)
    assert [a.rep_id for a in second.assignments] == ["b", "a", "b", "d"]
    assert "c" not in json.loads(second.positions["pool@emea#weighted"] or "")["lag"]


def test_salespeople_snapshots_follow_every_move_and_pending_customer() -> None:
    """Allocation chunk by chunk sees each salesperson's counters as they
    are now, whether or not they changed since the previous chunk."""
    from highseas.nightly.facts import RepFacts
    from highseas.nightly.ledger import RepLoads
    from tests.support.nightly import ruleset_with

    def facts(rep_id: str) -> RepFacts:
        return RepFacts(rep_id=rep_id, name=rep_id, hired_on=date(2020, 1, 1), tier="veteran",
                        regions=("emea",), active=True, away=False, away_until=None,
                        weight=None, private_count=3, claims_today=1, claims_week=2,
                        claims_month=3, assigned_last_30d=4)

    loads = RepLoads(ruleset_with("regional-trading"), [facts("ann"), facts("bob")])
    first = {s.rep_id: s for s in loads.snapshots()}
    loads.moved(None, "ann")
    second = {s.rep_id: s for s in loads.snapshots({"bob": 2})}
    assert (second["ann"].private_count, second["ann"].claims_today,
            second["ann"].assigned_last_30d) == (4, 2, 5)
    assert (second["bob"].private_count, second["bob"].claims_week,
            second["bob"].given_this_run) == (5, 4, 2)
    third = {s.rep_id: s for s in loads.snapshots()}
    assert third["bob"] == first["bob"] and third["ann"] == second["ann"]
    replayed = RepLoads(ruleset_with("regional-trading"), [facts("ann")],
                        {"ann": (9, 0, 0, 0, 0)})
    assert replayed.snapshots()[0].private_count == 9
    assert replayed.snapshots()[0].claims_month == 0


@settings(max_examples=150, deadline=None)
@given(counters=st.lists(st.integers(0, 12), min_size=6, max_size=6),
       limits=st.lists(st.one_of(st.none(), st.integers(0, 12)), min_size=6, max_size=6),
       strategy=st.sampled_from(["round_robin", "capacity"]),
       capacity=st.integers(0, 90), active=st.booleans(), tier=st.sampled_from(["new", "vet"]),
       most=st.integers(1, 40))
def test_room_left_is_how_many_more_the_load_checks_allow(
    counters: list[int], limits: list[int | None], strategy: str, capacity: int,
    active: bool, tier: str, most: int,
) -> None:
    """The room a replay sizes its chunks by is the number of customers given
    one by one before the load checks refuse the salesperson."""
    from highseas.nightly.allocation_types import load_skip_reason, room_left

    private, day, week, month, last30, given_ = counters
    salesperson = replace(
        rep("r1", tier=tier, active=active, private=private, private_cap=limits[0], day=day,
            week=week, month=month, cap_day=limits[1], cap_week=limits[2],
            cap_month=limits[3], last30=last30), given_this_run=given_)
    allocation = Allocation(
        id="a", tiers=("new",), strategy=strategy,  # type: ignore[arg-type]
        capacity=capacity if strategy == "capacity" else None,
        max_per_rep_per_run=limits[4],
        rep_capacity=(("r1", limits[5]),) if limits[5] is not None else ())

    def refused(more: int) -> bool:
        return load_skip_reason(
            salesperson, allocation, private=private + more, day=day + more,
            week=week + more, month=month + more, last30=last30 + more,
            given=given_ + more) is not None

    expected = 0
    if active and tier == "new":
        expected = next((k for k in range(most) if refused(k)), most)
    assert room_left(salesperson, allocation, most) == expected
