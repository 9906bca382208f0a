"""Step 5 of the nightly run: reminders.

For customers not changed in this run, the first rule (in order) that would
release the customer within one of its reminder offsets reminds the owner
once per offset and release date.
"""

from __future__ import annotations

from datetime import timedelta

from highseas.nightly.events import ReminderSent
from highseas.nightly.ledger import UNCHANGED, RunLedger
from highseas.nightly.plan import Decision


def reminders(ledger: RunLedger) -> None:
    """Step 5: remind the owners of customers a rule releases soon."""
    con = ledger.con
    as_of = ledger.as_of
    # Reminders already sent for a release still to come (a new reminder's
    # due day is after the as-of date): the notifications of past due
    # days, which grow with every run, cannot match.
    already = {
        (cid, rule, due, kind)
        for cid, rule, due, kind in con.execute(
            "SELECT customer_id, rule_id, due_on, kind FROM notifications "
            "WHERE company_id = ? AND due_on > ?",
            [ledger.company_id, as_of],
        ).fetchall()
    }
    reminded: set[str] = set()
    for rule in ledger.ruleset.release_rules:
        offsets = sorted(rule.remind_before, key=lambda d: d.approx_days())
        if not offsets:
            continue
        # smallest offset first: a customer due tomorrow gets the 1-day reminder
        filters = [ledger.evaluation.where(f"remind:{rule.id}:{o}") for o in offsets]
        which = " ".join(f"WHEN ({sql}) THEN {i}" for i, (sql, _) in enumerate(filters))
        any_sql = " OR ".join(f"({sql})" for sql, _ in filters)
        params = [p for _, ps in filters for p in ps]
        # The first release day within the longest offset, in SQL; a row
        # whose first day lies beyond its own (shorter) offset gets none.
        due_sql, due_params = ledger.evaluation.release_day_sql(rule, offsets[-1])
        ledger.sync()
        rows = con.execute(
            "SELECT f.customer_id, f.owner_rep_id, f.region, f.name, "
            f"CASE {which} END AS hs_offset, {due_sql} AS hs_due_in "
            f"FROM {ledger.facts_table} f "
            f"WHERE ({any_sql}) AND f.owner_rep_id IS NOT NULL AND {UNCHANGED} "
            "ORDER BY f.k",
            [*params, *due_params, *params],
        ).fetchall()
        last_days = [offset.add_to(as_of) for offset in offsets]
        for customer_id, owner, region, name, offset_index, due_in in rows:
            if customer_id in reminded or due_in is None:
                continue
            offset = offsets[offset_index]
            due_on = as_of + timedelta(days=due_in)
            if due_on > last_days[offset_index]:
                continue
            kind = f"remind:{offset}"
            if (customer_id, rule.id, due_on, kind) in already:
                continue
            days_left = (due_on - as_of).days
            pool = ledger.pool_for(rule.target, region)
            reminded.add(customer_id)
            ledger.observer.notice(ReminderSent(rule.id, str(offset)))
            ledger.pending.append(
                Decision(
                    customer_id=customer_id,
                    action="remind",
                    rule_id=rule.id,
                    from_rep_id=owner,
                    to_rep_id=owner,
                    to_pool_id=pool,
                    customer_name=name,
                    days_left=days_left,
                    due_on=due_on,
                    reminder_offset=str(offset),
                    reason=f"{name} returns to {pool} in {days_left} "
                    f"day{'s' if days_left != 1 else ''} unless you follow up "
                    f"(rule {rule.id})",
                )
            )
