"""The nightly run's decisions: from derived facts and rule verdicts to a Plan.

Precedence (docs/nightly-run.md), one ownership change per customer per run:

1. Relays in progress: a contact by the holder ends the relay (the customer
   stays); a missed deadline passes the customer to the next salesperson, or
   after the last round to the relay's pool.
2. New relays: dormant customers matching a relay start round 1.
3. Release rules, in ruleset order: the first rule that matches (its ``when``
   holds and its ``unless`` exemption does not) releases the customer.
   Exemptions beat everything for their rule; customers in a relay are not
   released by release rules.
4. Private caps: salespeople above their tier's cap lose the excess.
5. Reminders, for customers not changed in this run: the rule that would
   release the customer first reminds the owner when that day lies within
   one of its reminder offsets, once per offset and release date.
6. Allocation: customers that were in the high seas when the run started are
   assigned by each allocation scheduled for the as-of weekday, in order.
   Customers released in this run wait for the next run.

This module only runs the steps, in this order (:data:`STEPS`): each is a
module of :mod:`highseas.nightly.steps` numbered as above, and all of them
read and write one :class:`highseas.nightly.ledger.RunLedger` (temp tables,
pending rows, customers moved, salespeople's loads). What the run goes
through is told to an injected observer (:mod:`highseas.nightly.events`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING

from highseas.errors import Diagnostic
from highseas.nightly import facts as derive
from highseas.nightly.events import NO_OBSERVER, RunObserver
from highseas.nightly.ledger import RunLedger, arrow
from highseas.nightly.plan import (
    ACTIONS,
    DECISION_COLUMNS,
    UNASSIGNED_COLUMNS,
    Decision,
    Plan,
    Records,
    Unassigned,
)
from highseas.nightly.steps.allocations import allocations
from highseas.nightly.steps.relays import new_relays, relays_in_progress
from highseas.nightly.steps.releases import releases
from highseas.nightly.steps.reminders import reminders
from highseas.nightly.steps.trims import trims
from highseas.nightly.verdicts import evaluate_ruleset
from highseas.ruleset.model import Ruleset

if TYPE_CHECKING:
    import duckdb

#: What derives the facts a plan reads: (connection, ruleset, as-of date,
#: company id) -> the name of the facts table (see highseas.nightly.facts).
FactsStep = Callable[["duckdb.DuckDBPyConnection", Ruleset, date, str], str]
#: One step of the precedence: decides its part and leaves it in the ledger.
Step = Callable[[RunLedger], None]

#: The steps, in the order of precedence above (modules of highseas.nightly.steps).
STEPS: tuple[Step, ...] = (
    relays_in_progress,  # 1.
    new_relays,  # 2.
    releases,  # 3.
    trims,  # 4.
    reminders,  # 5.
    allocations,  # 6.
)

#: The key of a plan's ``extra`` that holds its warnings (:func:`plan_warnings`).
WARNINGS = "warnings"

#: Requests fetched and allocated at a time (read when a plan starts).
ALLOCATION_CHUNK = 2000
#: The same when unassigned customers are only counted (the replay): smaller
#: chunks stop sooner once nobody has room, instead of placing customers only
#: to explain why they got nothing. Chunks decide as one call would (tested).
COUNTED_CHUNK = 500


def plan(
    con: duckdb.DuckDBPyConnection,
    ruleset: Ruleset,
    as_of: date,
    *,
    company_id: str | None = None,
    facts: FactsStep | None = None,
    unassigned_rows: bool = True,
    observer: RunObserver = NO_OBSERVER,
) -> Plan:
    """Decide everything the nightly run does for ``as_of``; writes nothing
    but temporary tables. ``facts`` derives the customer facts and names
    their table (default: :func:`highseas.nightly.facts.materialize_customer_facts`,
    into ``hs_facts``; the replay keeps its own current day by day).
    ``unassigned_rows=False`` counts the customers left unassigned
    (:attr:`Plan.unassigned_omitted`) without listing them or their reasons,
    and keeps no list of salespeople passed over (``skipped`` is empty): the
    decisions and the engine state are the same; the replay needs only the
    count. ``observer`` is told what the run goes through
    (:mod:`highseas.nightly.events`; ``highseas test`` records coverage so).
    Warnings about the facts are kept for :func:`plan_warnings` (in a full
    plan: a counting plan, one per replayed day, shows none)."""
    company = company_id or ruleset.company.id
    facts_table = (facts or derive.materialize_customer_facts)(con, ruleset, as_of, company)
    # durable-rules confirms the SQL verdicts on a worker thread while the
    # planner runs its queries; no plan leaves here unconfirmed.
    evaluation = evaluate_ruleset(con, ruleset, as_of, facts_table, background=True)
    try:
        ledger = RunLedger(
            con, ruleset, as_of, company, facts_table, evaluation,
            unassigned_rows=unassigned_rows,
            chunk_size=ALLOCATION_CHUNK if unassigned_rows else COUNTED_CHUNK,
            observer=observer,
        )
        for step in STEPS:
            step(ledger)
            ledger.sync()
        result = _plan_of(ledger)
    finally:
        evaluation.confirm()
    result.extra["evaluation"] = evaluation
    if unassigned_rows:
        result.extra[WARNINGS] = tuple(
            derive.undeclared_tier_attributes(con, ruleset, as_of, company))
    return result


def plan_warnings(the_plan: Plan) -> tuple[Diagnostic, ...]:
    """What the facts do that the ruleset does not foresee (HS554: a
    salesperson's tier attribute that selects no tier), as warnings located
    in the ruleset; empty for a plan made elsewhere."""
    warnings: tuple[Diagnostic, ...] = the_plan.extra.get(WARNINGS, ())
    return warnings


def _plan_of(ledger: RunLedger) -> Plan:
    """The plan the steps left in ``ledger`` (synced), in plan order."""
    order = " ".join(f"WHEN '{action}' THEN {i}" for i, action in enumerate(ACTIONS))
    names = ", ".join(DECISION_COLUMNS)
    decisions = arrow(
        ledger.con,
        f"SELECT {names} FROM hs_decisions "
        f"ORDER BY CASE action {order} END, customer_id, rule_id",
    )
    unassigned = arrow(
        ledger.con,
        f"SELECT {', '.join(UNASSIGNED_COLUMNS)} FROM hs_unassigned "
        "ORDER BY customer_id, rule_id, pool_id, reason",
    )
    return Plan(
        company_id=ledger.company_id,
        ruleset_id=ledger.ruleset.company.id,
        ruleset_hash=ledger.ruleset.content_hash,
        as_of=ledger.as_of,
        decisions=Records(decisions, Decision),
        unassigned=Records(unassigned, Unassigned),
        skipped={cid: tuple(skips) for cid, skips in sorted(ledger.skipped.items()) if skips},
        rotation=tuple(
            (alloc, pool, rep) for (alloc, pool), rep in sorted(ledger.rotation.items())
        ),
        relay_upserts=tuple(sorted(ledger.relay_upserts, key=lambda r: r.customer_id)),
        relay_deletes=tuple(sorted(set(ledger.relay_deletes))),
        evaluated_customers=ledger.evaluation.customer_count,
        unassigned_omitted=ledger.counted_unassigned(),
    )
