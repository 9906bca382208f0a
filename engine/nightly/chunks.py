"""Allocation inside a nightly run, chunk by chunk.

The relay steps, the trim of an over-cap salesperson and the allocation step
all hand customers to salespeople through :func:`allocate_requests` (a list
built in Python) or :func:`allocate_table` (customers selected in SQL,
fetched a chunk at a time). Both run :func:`highseas.nightly.allocation.allocate`
with the salespeople's counters of the ledger, keep the new rotation state
and the skipped salespeople in the ledger, tell the ledger's observer who
was skipped and why, and stop once nobody has room.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import replace
from functools import lru_cache
from typing import Any, Protocol, runtime_checkable

from highseas.nightly.allocation import (
    AllocationResult,
    Assignment,
    AssignRequest,
    UnplacedRequest,
    allocate,
    has_room,
)
from highseas.nightly.allocation_types import Skip, room_left
from highseas.nightly.events import NO_OBSERVER, SalespersonSkipped
from highseas.nightly.ledger import RunLedger
from highseas.nightly.reasons import SkipReason, skip_label
from highseas.ruleset.model import Allocation

#: How many skipped salespeople an unassigned customer's reason summarises.
SKIP_SUMMARY_LIMIT = 40


def allocate_requests(
    ledger: RunLedger, requests: list[AssignRequest], allocation: Allocation
) -> AllocationResult:
    """Allocate ``requests`` (a Python list): see :func:`allocate_chunks`;
    those nobody had room for are unassigned with that reason."""
    ordered = sorted(requests, key=lambda r: (r.pool_id, r.customer_id))
    size = ledger.chunk_size
    chunks = (ordered[start:start + size] for start in range(0, len(ordered), size))
    result, processed, no_room = allocate_chunks(ledger, chunks, allocation)
    if processed == len(ordered):
        return result
    rest = tuple(UnplacedRequest(r.customer_id, no_room, r.pool_id, r.reason)
                 for r in ordered[processed:])
    return replace(result, unassigned=result.unassigned + rest)


def allocate_table(
    ledger: RunLedger,
    select_sql: str,
    params: Sequence[Any],
    allocation: Allocation,
    to_request: Callable[[dict[str, Any]], AssignRequest],
) -> tuple[AllocationResult, str]:
    """Allocate the customers ``select_sql`` selects (with the columns
    ``to_request`` reads, and ``pool_id`` and ``customer_id``), fetching
    them chunk by chunk in allocation order from ``hs_requests``. Returns
    the result for the customers processed and the reason the others got
    nothing (:meth:`RunLedger.unassign_rest` writes those: the customers of
    ``hs_requests`` not in ``hs_processed``)."""
    con = ledger.con
    con.execute(f"CREATE OR REPLACE TEMP TABLE hs_requests AS {select_sql}", list(params))
    con.execute("CREATE OR REPLACE TEMP TABLE hs_processed (customer_id VARCHAR)")
    total = int(con.execute("SELECT count(*) FROM hs_requests").fetchall()[0][0])

    def chunks() -> Iterator[list[AssignRequest]]:
        # Only the chunks allocation gets to are fetched: each is the next
        # chunk in allocation order (a top-N, not a full sort).
        size = ledger.chunk_size
        for start in range(0, total, size):
            rows = ledger.dicts(
                "SELECT * FROM hs_requests ORDER BY pool_id, customer_id LIMIT ? OFFSET ?",
                [size, start],
            )
            ids = [row["customer_id"] for row in rows]
            con.execute("INSERT INTO hs_processed SELECT unnest(?::VARCHAR[])", [ids])
            ledger.cooldowns.load(ids)
            yield [to_request(row) for row in rows]

    result, _, no_room = allocate_chunks(ledger, chunks(), allocation)
    return result, no_room


@runtime_checkable
class RequestSource(Protocol):
    """Requests in allocation order, handed out as many at a time as the
    salespeople have room for (a replay that builds them as they are asked
    for, and would otherwise build and place many nobody can take)."""

    #: The requests not handed out yet.
    left: int
    #: The most requests handed out at a time.
    most: int

    def take(self, room: int) -> list[AssignRequest]:
        """The next requests: at least one, and about ``room`` (at most
        how many the salespeople could still receive) when they can."""


def allocate_chunks(
    ledger: RunLedger, chunks: Iterable[list[AssignRequest]] | RequestSource,
    allocation: Allocation,
) -> tuple[AllocationResult, int, str]:  # (the replay's ledger is another type: see there)
    """Run one allocation over ``chunks`` (requests in allocation order, or
    a :class:`RequestSource` asked for as many as there is room for), with
    the rotation state persisted for its id; keep the new state and the
    skip reasons.

    Chunk by chunk, the salespeople's counters carry what earlier chunks
    gave (caps and the per-run limit count the whole run). Once nobody
    has room left, the remaining chunks are not processed: returns the
    result, how many requests were processed and why the rest get
    nothing (the result equals one call with every request, minus the
    per-customer skip lists of those)."""
    pending: dict[str, int] = {}
    assignments: list[Assignment] = []
    unassigned: list[UnplacedRequest] = []
    skipped: dict[str, tuple[Skip, ...]] = {}
    positions: dict[str, str | None] = {}
    processed = 0
    no_room = (
        f"no salesperson of {', '.join(allocation.tiers)} has room left "
        "(inactive, away, or private or claim caps reached)"
    )
    source = chunks if isinstance(chunks, RequestSource) else None
    parts = iter(chunks) if not isinstance(chunks, RequestSource) else None
    # Who was skipped for a customer left unassigned is read only by full
    # plans (reasons) and observers (coverage); a counted plan skips it.
    explain = ledger.unassigned_rows or ledger.observer is not NO_OBSERVER
    while source is None or source.left > 0:
        # Check for room before fetching the next chunk: its requests are
        # built (and remembered by the caller) only if they are processed.
        # Unexplained, the salespeople of other tiers play no part at all.
        snapshots = ledger.loads.snapshots(pending, None if explain else allocation.tiers)
        part: list[AssignRequest] | None
        if source is not None:
            room = 0  # (counted up to the most requests handed out at a time)
            for rep in snapshots:
                room += room_left(rep, allocation, source.most - room)
                if room >= source.most:
                    break
            if not room:
                break
            part = source.take(room)
        else:
            if not any(has_room(rep, allocation) for rep in snapshots):
                break
            assert parts is not None
            part = next(parts, None)
            if part is None:
                break
        current = {
            key: rep for (alloc, key), rep in ledger.rotation.items() if alloc == allocation.id
        }
        current.update(positions)
        part_result = allocate(part, snapshots, allocation, ledger.ruleset.regions, current,
                               explain=explain)
        processed += len(part)
        positions.update(part_result.positions)
        assignments.extend(part_result.assignments)
        unassigned.extend(part_result.unassigned)
        skipped.update(part_result.skipped)
        for assignment in part_result.assignments:
            pending[assignment.rep_id] = pending.get(assignment.rep_id, 0) + 1
    result = AllocationResult(
        assignments=tuple(assignments),
        unassigned=tuple(unassigned),
        skipped=skipped,
        positions=dict(sorted(positions.items())),
    )
    for key, rep in result.positions.items():
        ledger.rotation[(allocation.id, key)] = rep
    # Each reason is told once per tier. Reasons are few objects shared by
    # many skips (one per salesperson's death, constants for the rest), so
    # they are told apart by identity: equal reasons told twice do no harm.
    noted: set[tuple[int, str | None]] = set()
    rep_by_id = ledger.loads.rep_by_id
    observer = ledger.observer
    for customer_id, skips in result.skipped.items():
        if ledger.unassigned_rows:  # (explanations: not kept in counted plans)
            ledger.skipped.setdefault(customer_id, []).extend(skips)
        for rep_id, why in skips:
            rep = rep_by_id.get(rep_id)
            tier = rep.tier if rep is not None else None
            key = (id(why), tier)
            if key in noted:
                continue
            noted.add(key)
            observer.notice(SalespersonSkipped(allocation.id, rep_id, tier, why))
    return result, processed, no_room


def with_skips(ledger: RunLedger, reason: str, result: AllocationResult,
               customer_id: str) -> str:
    """``reason`` plus the commonest reasons salespeople were skipped for it
    (left as it is when unassigned customers are only counted)."""
    if not ledger.unassigned_rows:
        return reason
    skips = result.skipped.get(customer_id, ())
    if not skips:
        return reason
    return reason + _skip_summary(tuple(why for _, why in skips[:SKIP_SUMMARY_LIMIT]))


@lru_cache(maxsize=4096)
def _skip_summary(reasons: tuple[SkipReason, ...]) -> str:
    """`` (skipped: 11 claim cap per day reached, 2 away)`` for a list of skip
    reasons, each counted without its details (:func:`skip_label`)."""
    counts: dict[str, int] = {}
    for why in reasons:
        label = skip_label(why)
        counts[label] = counts.get(label, 0) + 1
    top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:3]
    return " (skipped: " + ", ".join(f"{n} {label}" for label, n in top) + ")"
