"""What allocation takes and gives, and who can receive a customer at all.

The inputs (:class:`RepSnapshot` per salesperson, :class:`AssignRequest` per
customer), the results (:class:`Assignment`, :class:`UnplacedRequest`,
:class:`AllocationResult`), the rotation keys under which the rotation state
is persisted, and the eligibility rules that need no customer (tier, activity,
absence, caps, per-run limit, capacity). :mod:`highseas.nightly.allocation` is
the entry point and re-exports these; :mod:`highseas.nightly.allocator` runs
the strategies over them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from highseas.nightly.reasons import INACTIVE, NOT_IN_TIERS, SkipKind, SkipReason
from highseas.ruleset.model import ActivationRelay, Allocation, RegionFallback

#: A salesperson passed over for a customer, and why.
Skip = tuple[str, SkipReason]

#: At most this many skipped salespeople are listed per customer and candidate
#: list (the rest are counted in ``AllocationResult.skipped_omitted``).
SKIP_LIMIT = 10

#: Separator between pool id and region id in a rotation key.
REGION_SEP = "@"
#: Suffix of the rotation keys holding weighted (stride) state.
WEIGHTED_SUFFIX = "#weighted"


@dataclass(frozen=True)
class RepSnapshot:
    """A salesperson as allocation sees them on the as-of date.

    Counters are taken after this run's releases and trims and before this
    allocation's assignments; ``claims_*`` count claims and assignments.
    """

    rep_id: str
    tier: str | None
    regions: tuple[str, ...]
    active: bool
    away: bool
    private_count: int
    private_cap: int | None
    claims_today: int
    claims_week: int
    claims_month: int
    claim_cap_day: int | None
    claim_cap_week: int | None
    claim_cap_month: int | None
    assigned_last_30d: int
    weight: int | None
    #: Last day of absence (inclusive), only used in the skip reason.
    away_until: date | None = None
    #: Customers already given by this allocation in earlier calls of the same
    #: run (a run allocates in chunks); counts against ``max_per_rep_per_run``.
    given_this_run: int = 0


@dataclass(frozen=True)
class AssignRequest:
    """One high-seas customer to assign."""

    customer_id: str
    pool_id: str
    region: str | None
    cooldown_reps: frozenset[str]
    exclude_reps: frozenset[str] = frozenset()
    reason: str = ""
    #: The words of the skip reason recorded for ``exclude_reps`` (a trim may
    #: say "current owner").
    exclude_reason: str = "already tried in relay"


@dataclass(frozen=True, slots=True)
class Assignment:
    """``customer_id`` goes to ``rep_id``; ``region_used`` is the region whose
    salespeople served it (None: any region), ``note`` says how."""

    customer_id: str
    rep_id: str
    pool_id: str
    region_used: str | None
    note: str
    reason: str = ""


@dataclass(frozen=True, slots=True)
class UnplacedRequest:
    """``customer_id`` stays in its pool; ``reason`` says why."""

    customer_id: str
    reason: str
    pool_id: str = ""
    request_reason: str = ""


@dataclass(frozen=True)
class AllocationResult:
    """What :func:`allocate` decided.

    ``assignments`` and ``unassigned`` are in processing order (pool id, then
    customer id). ``skipped`` maps a customer id to the salespeople considered
    and skipped for it, ``(rep_id, reason)`` in the order they were passed
    over; customers nobody was skipped for are absent. ``skipped_omitted``
    counts, per customer, skipped salespeople left out of the list to keep it
    bounded. ``positions`` is the rotation state to persist (see
    :func:`rotation_key`), sorted by key.
    """

    assignments: tuple[Assignment, ...]
    unassigned: tuple[UnplacedRequest, ...]
    skipped: dict[str, tuple[Skip, ...]] = field(default_factory=dict)
    skipped_omitted: dict[str, int] = field(default_factory=dict)
    positions: dict[str, str | None] = field(default_factory=dict)


def rotation_key(pool_id: str, region: str | None, weighted: bool = False) -> str:
    """The ``positions`` key of the rotation of ``pool_id`` among the
    salespeople covering ``region`` (None: every salesperson, used for
    customers without a region and for the ``any_region`` fallback).

    Round robin stores the rep id served last under ``pool`` /
    ``pool@region``; weighted stores its stride state (JSON) under the same key
    with ``#weighted`` appended.
    """
    key = pool_id if region is None else f"{pool_id}{REGION_SEP}{region}"
    return key + WEIGHTED_SUFFIX if weighted else key


def daily_quota(capacity: int) -> int:
    """Today's quota of strategy ``capacity``: capacity / 30 rounded half up,
    at least 1 when ``capacity`` is positive (so small capacities still
    receive customers; the 30-day ceiling still holds)."""
    if capacity <= 0:
        return 0
    return max(1, (2 * capacity + 30) // 60)


def relay_allocation(
    relay: ActivationRelay, region_fallback: RegionFallback | None = None
) -> Allocation:
    """The allocation an activation relay round uses: round robin among the
    relay's tiers (pass the reps already tried as ``exclude_reps``), with the
    relay's region matching (``wait`` allocates as ``stay``) and per-run
    limit."""
    fallback: RegionFallback = (
        region_fallback if region_fallback is not None
        else "stay" if relay.region_fallback == "wait" else relay.region_fallback
    )
    return Allocation(
        id=relay.id,
        tiers=relay.tiers,
        strategy="round_robin",
        region_fallback=fallback,
        max_per_rep_per_run=relay.max_per_rep_per_run,
        json_path=relay.json_path,
    )


def static_skip_reason(rep: RepSnapshot, allocation: Allocation) -> SkipReason | None:
    """Why ``rep`` can receive nothing from ``allocation`` whatever the
    customer (tier, inactive, away), or None."""
    if rep.tier is None or rep.tier not in allocation.tiers:
        return NOT_IN_TIERS
    if not rep.active:
        return INACTIVE
    if rep.away:
        return SkipReason(SkipKind.AWAY, until=rep.away_until)
    return None


def load_skip_reason(
    rep: RepSnapshot, allocation: Allocation, *, private: int, day: int, week: int,
    month: int, last30: int, given: int,
) -> SkipReason | None:
    """Why ``rep``, with these running counters, can receive no more from
    ``allocation`` (private and claim caps, the per-run limit, capacity), or
    None."""
    if rep.private_cap is not None and private >= rep.private_cap:
        return SkipReason(SkipKind.OVER_PRIVATE_CAP, limit=rep.private_cap, used=private)
    if rep.claim_cap_day is not None and day >= rep.claim_cap_day:
        return SkipReason(SkipKind.CLAIM_CAP, limit=rep.claim_cap_day, period="day")
    if rep.claim_cap_week is not None and week >= rep.claim_cap_week:
        return SkipReason(SkipKind.CLAIM_CAP, limit=rep.claim_cap_week, period="week")
    if rep.claim_cap_month is not None and month >= rep.claim_cap_month:
        return SkipReason(SkipKind.CLAIM_CAP, limit=rep.claim_cap_month, period="month")
    limit = allocation.max_per_rep_per_run
    if limit is not None and given >= limit:
        return SkipReason(SkipKind.PER_RUN_LIMIT, limit=limit)
    for rep_id, rep_limit in allocation.rep_capacity:
        if rep_id == rep.rep_id and last30 >= rep_limit:
            return SkipReason(SkipKind.CAPACITY_30_DAYS, limit=rep_limit)
    if allocation.strategy == "capacity":
        capacity = allocation.capacity if allocation.capacity is not None else 0
        quota = daily_quota(capacity)
        if day >= quota:
            return SkipReason(SkipKind.CAPACITY_QUOTA, limit=quota)
        if last30 >= capacity:
            return SkipReason(SkipKind.CAPACITY_30_DAYS, limit=capacity)
    return None


def has_room(rep: RepSnapshot, allocation: Allocation) -> bool:
    """Whether ``rep`` could receive at least one customer from ``allocation``
    (ignoring regions, cooldowns, exclusions and weights, which only remove
    more)."""
    return static_skip_reason(rep, allocation) is None and load_skip_reason(
        rep, allocation, private=rep.private_count, day=rep.claims_today,
        week=rep.claims_week, month=rep.claims_month, last30=rep.assigned_last_30d,
        given=rep.given_this_run,
    ) is None


def room_left(rep: RepSnapshot, allocation: Allocation, most: int) -> int:
    """How many more customers ``rep`` could receive from ``allocation``, up
    to ``most`` (regions, cooldowns, exclusions and weights ignored, as in
    :func:`has_room`): every customer given adds one to each counter, so
    this is the number given before :func:`load_skip_reason` finds a reason,
    the smallest distance of a counter to its limit (each limit that
    function checks; tests hold the two together)."""
    if static_skip_reason(rep, allocation) is not None:
        return 0
    room = most
    for used, limit in (
        (rep.private_count, rep.private_cap),
        (rep.claims_today, rep.claim_cap_day),
        (rep.claims_week, rep.claim_cap_week),
        (rep.claims_month, rep.claim_cap_month),
        (rep.given_this_run, allocation.max_per_rep_per_run),
    ):
        if limit is not None and limit - used < room:
            room = limit - used
    for rep_id, rep_limit in allocation.rep_capacity:
        if rep_id == rep.rep_id:
            room = min(room, rep_limit - rep.assigned_last_30d)
    if allocation.strategy == "capacity":
        capacity = allocation.capacity if allocation.capacity is not None else 0
        room = min(room, daily_quota(capacity) - rep.claims_today,
                   capacity - rep.assigned_last_30d)
    return max(room, 0)
