"""What the nightly run tells people is true: reminders name the release that
happens first, and the counts add up to customers."""

from __future__ import annotations

from datetime import date

from highseas.nightly.plan import Decision, Plan, Unassigned
from highseas.nightly.planner import plan
from highseas.nightly.summary import format_summary
from tests.support.nightly import Facts, ruleset_with

COMPANY = "regional-trading"


def twice_due_facts() -> Facts:
    """ACME: idle since 2026-04-03 (no-follow-up-90d releases it on 07-02) and
    owned since 2025-07-01 without an order (no-order-1y releases it on 07-01)."""
    facts = Facts(COMPANY)
    facts.reps([{"rep_id": "anna", "hired_on": "2020-01-01", "regions": ["emea"]}])
    facts.customers([
        {"customer_id": "acme", "name": "ACME GmbH", "country": "DE",
         "created_at": "2025-07-01", "owner": "anna", "owned_since": "2025-07-01"},
    ])
    facts.activities([{"customer_id": "acme", "rep_id": "anna", "at": "2026-04-03 10:00"}])
    return facts


def test_the_reminder_names_the_rule_that_releases_first() -> None:
    rules = ruleset_with(COMPANY)
    con = twice_due_facts().con
    [reminder] = plan(con, rules, date(2026, 6, 25)).by_action("remind")
    assert (reminder.rule_id, reminder.due_on, reminder.days_left, reminder.reminder_offset) == (
        "no-order-1y", date(2026, 7, 1), 6, "30d")
    # ... and that rule does release it on that day.
    [release] = plan(con, rules, date(2026, 7, 1)).by_action("release")
    assert (release.customer_id, release.rule_id) == ("acme", "no-order-1y")


def test_a_rule_without_reminders_that_releases_first_silences_the_others() -> None:
    def no_reminders_for_orders(document: dict) -> None:  # type: ignore[type-arg]
        document["release_rules"][1].pop("remind_before")

    rules = ruleset_with(COMPANY, no_reminders_for_orders)
    con = twice_due_facts().con
    # no-follow-up-90d would say "7 days" although the customer goes in 6.
    assert plan(con, rules, date(2026, 6, 25)).by_action("remind") == ()


def plan_with_unassigned() -> Plan:
    """Two allocations tried c1 and c2; the second assigned c2; c3 was tried once."""
    return Plan(
        company_id="acme", ruleset_id="acme", ruleset_hash="", as_of=date(2026, 6, 30),
        decisions=(Decision("c2", "assign", "second", "c2 assigned", from_pool_id="p",
                            to_rep_id="r1"),),
        unassigned=(
            Unassigned("c1", "p", "nobody has room", "first"),
            Unassigned("c1", "p", "no eligible salesperson", "second"),
            Unassigned("c2", "p", "nobody has room", "first"),
            Unassigned("c3", "p", "nobody has room", "first"),
        ),
        evaluated_customers=3,
    )


def test_counts_count_customers_not_customer_x_allocation() -> None:
    the_plan = plan_with_unassigned()
    assert the_plan.counts()["unassigned"] == 2  # c1 and c3; c2 was assigned
    assert the_plan.counts()["unassigned"] <= the_plan.evaluated_customers


def test_the_summary_counts_customers_and_says_which_are_counted_twice() -> None:
    summary = format_summary(plan_with_unassigned()).splitlines()
    at = summary.index("  unassigned: 2")
    assert summary[at + 1:] == [
        "    nobody has room: 2",
        "    no eligible salesperson: 1",
        "    (1 of these customers are counted under more than one reason: "
        "allocations tried them in turn)",
    ]
