"""Allocation (automatic rotation): give high-seas customers to salespeople.

A pure, deterministic function: no database, no rules engine. The caller
(the nightly planner, the relay, the trim of an over-cap salesperson) builds a
:class:`RepSnapshot` per salesperson and an :class:`AssignRequest` per
customer, passes the rotation state it persisted last time (``positions``) and
gets back the assignments, the customers left unassigned with a reason, the
salespeople skipped for each customer with a reason, and the new rotation
state to persist. ``docs/allocation.md`` documents the semantics.

The data and the eligibility rules live in
:mod:`highseas.nightly.allocation_types`, the allocation loop and its
strategies in :mod:`highseas.nightly.allocator`; this module checks the input
and runs the loop, and is where callers import all of it from.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from highseas import codes
from highseas.errors import Diagnostic, InvalidInputError
from highseas.nightly.allocation_types import (
    REGION_SEP,
    SKIP_LIMIT,
    WEIGHTED_SUFFIX,
    AllocationResult,
    Assignment,
    AssignRequest,
    RepSnapshot,
    UnplacedRequest,
    daily_quota,
    has_room,
    load_skip_reason,
    relay_allocation,
    rotation_key,
    static_skip_reason,
)
from highseas.nightly.allocator import Allocator
from highseas.ruleset.model import Allocation, Region

__all__ = [
    "AllocationResult",
    "AssignRequest",
    "Assignment",
    "RepSnapshot",
    "SKIP_LIMIT",
    "UnplacedRequest",
    "allocate",
    "daily_quota",
    "relay_allocation",
    "rotation_key",
    "static_skip_reason",
    "REGION_SEP",
    "WEIGHTED_SUFFIX",
    "has_room",
    "load_skip_reason",
]

_STRATEGIES = ("round_robin", "weighted", "least_loaded", "capacity")
_FALLBACKS = ("fallbacks", "any_region", "stay")

# --------------------------------------------------------------------------
# Input checks
# --------------------------------------------------------------------------


def _fail(code: str, message: str, allocation: Allocation, hint: str = "") -> InvalidInputError:
    return InvalidInputError(
        Diagnostic(code=code, message=message, json_path=allocation.json_path, hint=hint)
    )


def _check_inputs(
    requests: Sequence[AssignRequest], reps: Sequence[RepSnapshot], allocation: Allocation
) -> None:
    if allocation.strategy not in _STRATEGIES:
        raise _fail(
            codes.UNKNOWN_STRATEGY,
            f"allocation {allocation.id!r}: unknown strategy {allocation.strategy!r}",
            allocation,
            "use one of " + ", ".join(_STRATEGIES),
        )
    if allocation.region_fallback not in _FALLBACKS:
        raise _fail(
            codes.UNKNOWN_STRATEGY,
            f"allocation {allocation.id!r}: unknown region fallback "
            f"{allocation.region_fallback!r}",
            allocation,
            "use one of " + ", ".join(_FALLBACKS),
        )
    if allocation.strategy == "capacity" and (
        allocation.capacity is None or allocation.capacity < 0
    ):
        raise _fail(
            codes.CAPACITY_MISSING,
            f"allocation {allocation.id!r} uses strategy capacity without a capacity >= 0",
            allocation,
            "set capacity: customers a salesperson may receive per 30 days",
        )
    if allocation.max_per_rep_per_run is not None and allocation.max_per_rep_per_run < 0:
        raise _fail(codes.NEGATIVE_WEIGHT_OR_LIMIT,
                    f"allocation {allocation.id!r}: negative per-run limit", allocation)
    for what, pairs in (("tier", allocation.tier_weights), ("rep", allocation.rep_weights)):
        for name, weight in pairs:
            if weight < 0:
                raise _fail(
                    codes.NEGATIVE_WEIGHT_OR_LIMIT,
                    f"allocation {allocation.id!r}: negative weight {weight} for {what} {name!r}",
                    allocation,
                )
    seen: set[str] = set()
    for rep in reps:
        if rep.rep_id in seen:
            raise _fail(
                codes.REP_LISTED_TWICE,
                f"allocation {allocation.id!r}: salesperson {rep.rep_id!r} appears twice",
                allocation,
            )
        seen.add(rep.rep_id)
        if rep.weight is not None and rep.weight < 0:
            raise _fail(
                codes.NEGATIVE_WEIGHT_OR_LIMIT,
                f"allocation {allocation.id!r}: salesperson {rep.rep_id!r} has a negative "
                f"weight {rep.weight}",
                allocation,
            )
    seen.clear()
    for request in requests:
        if request.customer_id in seen:
            raise _fail(
                codes.CUSTOMER_REQUESTED_TWICE,
                f"allocation {allocation.id!r}: customer {request.customer_id!r} "
                "is requested twice",
                allocation,
                "one ownership change per customer per run",
            )
        seen.add(request.customer_id)


def allocate(
    requests: Sequence[AssignRequest],
    reps: Sequence[RepSnapshot],
    allocation: Allocation,
    regions: Sequence[Region],
    positions: Mapping[str, str | None],
    explain: bool = True,
) -> AllocationResult:
    """Assign ``requests`` to ``reps`` by ``allocation``'s strategy.
    ``explain=False``: the same assignments, without the salespeople
    skipped for customers left unassigned (nobody reads them).

    Deterministic: the result depends only on the inputs, never on their
    order. Raises :class:`InvalidInputError` (HS560-HS564) for inconsistent
    input (unknown strategy, capacity strategy without capacity, negative
    weights or limits, a salesperson or a customer twice).
    """
    _check_inputs(requests, reps, allocation)
    allocator = Allocator(reps, allocation, regions, positions, explain)
    assignments: list[Assignment] = []
    unassigned: list[UnplacedRequest] = []
    skipped: dict[str, tuple[tuple[str, str], ...]] = {}
    omitted: dict[str, int] = {}
    for request in sorted(requests, key=lambda r: (r.pool_id, r.customer_id)):
        assignment, left, skips, more = allocator.place(request)
        if assignment is not None:
            assignments.append(assignment)
        if left is not None:
            unassigned.append(left)
        if skips:
            skipped[request.customer_id] = tuple(skips)
        if more:
            omitted[request.customer_id] = more
    return AllocationResult(
        assignments=tuple(assignments),
        unassigned=tuple(unassigned),
        skipped=skipped,
        skipped_omitted=omitted,
        positions=allocator.final_positions(),
    )
