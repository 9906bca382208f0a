"""Step 6 of the nightly run: allocation.

Customers that were in the high seas when the run started are assigned by
each allocation scheduled for the as-of weekday, in order. Customers released
in this run wait for the next run.
"""

from __future__ import annotations

from typing import Any

from highseas.nightly.allocation import AssignRequest
from highseas.nightly.chunks import allocate_table, with_skips
from highseas.nightly.events import CustomerAssigned
from highseas.nightly.ledger import UNCHANGED, RunLedger
from highseas.nightly.plan import Decision, Unassigned

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def allocations(ledger: RunLedger) -> None:
    """Step 6: run every allocation of the as-of weekday over its pools."""
    weekday = WEEKDAYS[ledger.as_of.weekday()]
    for allocation in ledger.ruleset.allocations:
        if allocation.weekdays and weekday not in allocation.weekdays:
            continue
        pools = list(allocation.pools) or [p.id for p in ledger.ruleset.pools]
        names: dict[str, str] = {}
        regions: dict[str, str | None] = {}

        def to_request(row: dict[str, Any], names: dict[str, str] = names,
                       regions: dict[str, str | None] = regions) -> AssignRequest:
            names[row["customer_id"]] = row["name"]
            regions[row["customer_id"]] = row["region"]
            return AssignRequest(
                customer_id=row["customer_id"],
                pool_id=row["pool_id"],
                region=row["region"],
                cooldown_reps=ledger.cooldowns.reps(row["customer_id"]),
                reason="rotation",
            )

        ledger.sync()
        # Version 1.1: customers not matching the allocation's ``when`` stay.
        expression, params = (ledger.evaluation.where(f"allocate:{allocation.id}")
                              if allocation.when is not None else ("TRUE", []))
        result, no_room = allocate_table(
            ledger,
            f"SELECT f.customer_id, f.pool_id, f.region, f.name FROM {ledger.facts_table} f "
            "WHERE f.owner_rep_id IS NULL AND f.pool_id IN (SELECT unnest(?::VARCHAR[])) "
            f"AND {UNCHANGED} AND ({expression})",
            [pools, *params],
            allocation,
            to_request,
        )
        for assignment in result.assignments:
            fallback = assignment.region_used != regions[assignment.customer_id]
            ledger.observer.notice(CustomerAssigned(allocation.id, fallback))
            name = names[assignment.customer_id]
            ledger.record_ownership(
                Decision(
                    customer_id=assignment.customer_id,
                    action="assign",
                    rule_id=allocation.id,
                    from_pool_id=assignment.pool_id,
                    to_rep_id=assignment.rep_id,
                    customer_name=name,
                    reason=f"{name} assigned from {assignment.pool_id} to "
                    f"{assignment.rep_id} by {allocation.strategy.replace('_', ' ')}"
                    + (f" ({assignment.note})" if assignment.note else ""),
                )
            )
        for item in result.unassigned:
            ledger.unassigned.append(
                Unassigned(item.customer_id, item.pool_id or None,
                           with_skips(ledger, item.reason, result, item.customer_id),
                           allocation.id)
            )
        ledger.unassign_rest(no_room, allocation.id)
