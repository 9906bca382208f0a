"""Step 5 of the nightly run: reminders.

For customers not changed in this run, a reminder warns the owner of the
release that will actually happen first: of all release rules, the one that
would release the customer on the earliest day (ties: the first in ruleset
order, as the release step decides). That rule reminds the owner when the day
lies within one of its own reminder offsets, once per offset and release
date; a rule without reminders releases without one, and no other rule's
reminder names a later day.
"""

from __future__ import annotations

from datetime import date, timedelta

from highseas.nightly.events import ReminderSent
from highseas.nightly.ledger import UNCHANGED, RunLedger
from highseas.nightly.plan import Decision
from highseas.ruleset.durations import Duration
from highseas.ruleset.model import ReleaseRule


def first_release(
    rules: tuple[ReleaseRule, ...], days: tuple[int | None, ...]
) -> tuple[ReleaseRule, int] | None:
    """The rule that releases first and its day (days after the as-of date),
    given each rule's first release day (None: not within the horizon); on a
    tie the first rule in ruleset order wins, as in the release step."""
    found = [(day, index) for index, day in enumerate(days) if day is not None]
    if not found:
        return None
    day, index = min(found)
    return rules[index], day


def reminder_offset(rule: ReleaseRule, as_of: date, due_on: date) -> Duration | None:
    """The shortest of ``rule``'s reminder offsets that reaches ``due_on``
    (a release 7 to 2 days away gets the 7-day reminder of ``[7d, 1d]``)."""
    for offset in sorted(rule.remind_before, key=lambda o: o.add_to(as_of)):
        if due_on <= offset.add_to(as_of):
            return offset
    return None


def reminders(ledger: RunLedger) -> None:
    """Step 5: remind the owners of customers a rule releases soon."""
    con = ledger.con
    as_of = ledger.as_of
    rules = tuple(ledger.ruleset.release_rules)
    offsets = [offset for rule in rules for offset in rule.remind_before]
    if not offsets:
        return
    # Every rule's first release day up to the longest reminder of any rule:
    # a rule without reminders may still release first.
    horizon = max(offsets, key=lambda o: o.add_to(as_of))
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
    # Candidates: some rule's release condition holds as of one of its
    # reminder days.
    filters = [
        ledger.evaluation.where(f"remind:{rule.id}:{offset}")
        for rule in rules for offset in rule.remind_before
    ]
    any_sql = " OR ".join(f"({sql})" for sql, _ in filters)
    any_params = [p for _, ps in filters for p in ps]
    day_columns: list[str] = []
    day_params: list[object] = []
    for index, rule in enumerate(rules):
        sql, params = ledger.evaluation.release_day_sql(rule, horizon)
        day_columns.append(f"{sql} AS hs_day_{index}")
        day_params.extend(params)
    ledger.sync()
    rows = con.execute(
        "SELECT f.customer_id, f.owner_rep_id, f.region, f.name, "
        f"{', '.join(day_columns)} FROM {ledger.facts_table} f "
        f"WHERE ({any_sql}) AND f.owner_rep_id IS NOT NULL AND {UNCHANGED} "
        "ORDER BY f.k",
        [*day_params, *any_params],
    ).fetchall()
    for customer_id, owner, region, name, *days in rows:
        first = first_release(rules, tuple(days))
        if first is None:
            continue
        rule, due_in = first
        due_on = as_of + timedelta(days=due_in)
        offset = reminder_offset(rule, as_of, due_on)
        if offset is None:
            continue
        kind = f"remind:{offset}"
        if (customer_id, rule.id, due_on, kind) in already:
            continue
        days_left = (due_on - as_of).days
        pool = ledger.pool_for(rule.target, region)
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
