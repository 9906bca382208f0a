"""Steps 1 and 2 of the nightly run: activation relays.

1. Relays in progress (:func:`relays_in_progress`): a contact by the holder
   ends the relay (the customer stays); a missed deadline passes the customer
   to the next salesperson, or after the last round to the relay's pool.
2. New relays (:func:`new_relays`): dormant customers matching a relay start
   round 1.

Both steps share how a round's allocation is recorded, so they live together.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

from highseas.nightly.allocation import AllocationResult, AssignRequest, relay_allocation
from highseas.nightly.chunks import allocate_requests, allocate_table, with_skips
from highseas.nightly.events import RelayContacted, RelayExhausted, RelayRoundStarted
from highseas.nightly.ledger import UNCHANGED, RunLedger
from highseas.nightly.plan import Decision, RelayStateRow, Unassigned
from highseas.ruleset.model import ActivationRelay

_NOBODY: frozenset[str] = frozenset()


@dataclass(frozen=True)
class _RelayItem:
    """A customer about to enter a relay round."""

    request: AssignRequest
    name: str
    round: int
    tried: tuple[str, ...]
    previous_owner: str | None


# --------------------------------------------------------------------------
# 1. relays in progress
# --------------------------------------------------------------------------


def relays_in_progress(ledger: RunLedger) -> None:
    """Step 1: end, pass on or close the relays whose holder contacted the
    customer or missed the deadline."""
    con = ledger.con
    relays = {relay.id: relay for relay in ledger.ruleset.relays}
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE hs_relays_now AS
        SELECT s.customer_id, s.relay_id, s.round, s.rep_id, s.deadline, s.reps_tried,
               f.owner_rep_id, f.name, f.region,
               EXISTS (SELECT 1 FROM activities a WHERE a.company_id = s.company_id
                       AND a.customer_id = s.customer_id AND a.rep_id = s.rep_id
                       AND a.at >= s.started_on AND a.at < ?) AS contacted
        FROM relay_state s JOIN {ledger.facts_table} f ON f.customer_id = s.customer_id
        WHERE s.company_id = ? AND s.started_on <= ?
        """,
        [ledger.as_of + timedelta(days=1), ledger.company_id, ledger.as_of],
    )
    # Most relays wait for their holder's contact or deadline: they only
    # keep their customer from other decisions of this run (hs_in_relay).
    waiting = ("relay_id IN (SELECT unnest(?::VARCHAR[])) AND owner_rep_id = rep_id "
               "AND NOT contacted AND ? < deadline")
    con.execute(
        f"INSERT INTO hs_in_relay SELECT customer_id FROM hs_relays_now WHERE {waiting}",
        [sorted(relays), ledger.as_of],
    )
    rows = con.execute(
        "SELECT customer_id, relay_id, round, rep_id, deadline, reps_tried, owner_rep_id, "
        f"name, region, contacted FROM hs_relays_now WHERE NOT coalesce({waiting}, FALSE) "
        "ORDER BY customer_id",
        [sorted(relays), ledger.as_of],
    ).fetchall()
    pending: dict[str, list[_RelayItem]] = {}
    for (customer_id, relay_id, round_, rep_id, deadline, tried, owner, name, region,
         contacted) in rows:
        relay = relays.get(relay_id)
        if relay is None or owner != rep_id:
            # The relay was removed from the ruleset, or someone else took the
            # customer in between (a claim, a manual change): the relay is over.
            ledger.relay_deletes.append(customer_id)
            continue
        ledger.in_relay.add(customer_id)
        if contacted:
            ledger.pending.append(
                Decision(
                    customer_id=customer_id,
                    action="relay_end",
                    rule_id=relay.id,
                    from_rep_id=rep_id,
                    to_rep_id=rep_id,
                    customer_name=name,
                    relay_round=round_,
                    reason=f"{rep_id} contacted {name} in relay round {round_}: "
                    "the customer stays with them",
                )
            )
            ledger.relay_deletes.append(customer_id)
            ledger.observer.notice(RelayContacted(relay.id))
            continue
        if ledger.as_of < deadline:
            continue
        tried_tuple = tuple(tried or ())
        if round_ >= relay.rounds:
            _relay_to_pool(ledger, customer_id, name, rep_id, relay, region, round_)
            continue
        request = AssignRequest(
            customer_id=customer_id,
            pool_id=ledger.region_pool(region),
            region=region,
            cooldown_reps=_NOBODY,  # filled in below
            exclude_reps=frozenset(tried_tuple),
            reason=f"relay round {round_ + 1}",
        )
        pending.setdefault(relay.id, []).append(
            _RelayItem(request, name, round_ + 1, tried_tuple, rep_id)
        )
    # Cooldowns matter only to the customers passed to a next round.
    ledger.cooldowns.load(item.request.customer_id
                          for items in pending.values() for item in items)
    for relay_id, waiting_items in sorted(pending.items()):
        relay = relays[relay_id]
        items = [replace(item, request=replace(
            item.request, cooldown_reps=ledger.cooldowns.reps(item.request.customer_id)))
            for item in waiting_items]
        result = allocate_requests(ledger, [item.request for item in items],
                                   relay_allocation(relay))
        _relay_round_done(ledger, relay, items, result)


def _relay_to_pool(
    ledger: RunLedger, customer_id: str, name: str, rep_id: str | None,
    relay: ActivationRelay, region: str | None, round_: int,
) -> None:
    pool = ledger.pool_for(relay.after_last_round, region)
    ledger.observer.notice(RelayExhausted(relay.id))
    ledger.record_ownership(
        Decision(
            customer_id=customer_id,
            action="release",
            rule_id=relay.id,
            from_rep_id=rep_id,
            to_pool_id=pool,
            customer_name=name,
            relay_round=round_,
            reason=f"nobody contacted {name} in {round_} relay round"
            f"{'s' if round_ != 1 else ''} of {relay.id}: it goes to {pool}",
        )
    )
    ledger.relay_deletes.append(customer_id)


def _relay_round_done(
    ledger: RunLedger, relay: ActivationRelay, items: Iterable[_RelayItem],
    result: AllocationResult,
) -> None:
    """Record a relay round's allocation ``result`` for ``items``."""
    assigned = {a.customer_id: a for a in result.assignments}
    left = {u.customer_id: u.reason for u in result.unassigned}
    deadline = relay.contact_window.add_to(ledger.as_of)
    for item in items:
        request, name, round_, tried = item.request, item.name, item.round, item.tried
        customer_id = request.customer_id
        holder = item.previous_owner
        assignment = assigned.get(customer_id)
        if assignment is None:
            if round_ > 1 and relay.region_fallback == "wait":
                # Nobody of the customer's region can take the next round: the
                # customer stays in its relay round and is tried again next run.
                reason = left.get(customer_id, "no eligible salesperson")
                ledger.unassigned.append(
                    Unassigned(customer_id, request.pool_id,
                               with_skips(ledger, f"relay round {round_} waits: {reason}",
                                          result, customer_id), relay.id)
                )
                continue
            if round_ == 1:
                reason = left.get(customer_id, "no eligible salesperson")
                ledger.unassigned.append(
                    Unassigned(customer_id, request.pool_id,
                               with_skips(ledger, reason, result, customer_id), relay.id)
                )
            else:
                _relay_to_pool(ledger, customer_id, name, holder, relay, request.region,
                               round_ - 1)
            continue
        ledger.observer.notice(RelayRoundStarted(relay.id, round_))
        ledger.record_ownership(
            Decision(
                customer_id=customer_id,
                action="relay",
                rule_id=relay.id,
                from_rep_id=holder,
                to_rep_id=assignment.rep_id,
                customer_name=name,
                relay_round=round_,
                due_on=deadline,
                reason=(
                    f"relay round {round_} of {relay.rounds}: {assignment.rep_id} has until "
                    f"{deadline.isoformat()} to contact {name}"
                    + (f" ({holder} did not)" if round_ > 1 and holder else "")
                ),
            )
        )
        ledger.relay_upserts.append(
            RelayStateRow(
                customer_id=customer_id,
                relay_id=relay.id,
                round=round_,
                rep_id=assignment.rep_id,
                started_on=ledger.as_of,
                deadline=deadline,
                reps_tried=(*tried, assignment.rep_id),
            )
        )
        ledger.in_relay.add(customer_id)


# --------------------------------------------------------------------------
# 2. new relays
# --------------------------------------------------------------------------


def new_relays(ledger: RunLedger) -> None:
    """Step 2: dormant customers matching a relay start its round 1."""
    if not ledger.ruleset.relays:
        return
    relay_ids = [r.id for r in ledger.ruleset.relays]
    for relay in ledger.ruleset.relays:
        ledger.sync()
        expression, params = ledger.evaluation.where(f"relay:{relay.id}")
        items: dict[str, _RelayItem] = {}

        def to_request(row: dict[str, Any], items: dict[str, _RelayItem] = items
                       ) -> AssignRequest:
            owner = row["owner_rep_id"]
            request = AssignRequest(
                customer_id=row["customer_id"],
                pool_id=row["pool_id"],
                region=row["region"],
                cooldown_reps=ledger.cooldowns.reps(row["customer_id"]),
                exclude_reps=frozenset({owner}) if owner else frozenset(),
                reason="relay round 1",
            )
            items[request.customer_id] = _RelayItem(request, row["name"], 1, (), owner)
            return request

        # Customers who were ever in one of the relays are not relayed again.
        result, no_room = allocate_table(
            ledger,
            "SELECT f.customer_id, coalesce(f.pool_id, f.region_pool) AS pool_id, "
            f"f.region, f.name, f.owner_rep_id FROM {ledger.facts_table} f "
            f"WHERE ({expression}) AND {UNCHANGED} "
            "AND f.customer_id NOT IN (SELECT customer_id FROM ownership_events "
            "WHERE company_id = ? AND rule_id IN (SELECT unnest(?::VARCHAR[])))",
            [*params, ledger.company_id, relay_ids],
            relay_allocation(relay),
            to_request,
        )
        _relay_round_done(ledger, relay, [items[c] for c in sorted(items)], result)
        ledger.unassign_rest(no_room, relay.id)
