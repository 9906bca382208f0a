"""Scenario tests of the nightly run with hand-written facts and hand-computed
expectations (regional-trading ruleset unless said otherwise)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from highseas.errors import InvalidInputError
from highseas.nightly.apply import apply_plan
from highseas.nightly.claims import check_claim, record_claim
from highseas.nightly.events import ClaimRefused, Event, SalespersonSkipped
from highseas.nightly.plan import Plan
from highseas.nightly.planner import plan
from highseas.nightly.reasons import (
    IN_COOLDOWN,
    ClaimRefusal,
    RefusalKind,
    SkipKind,
    SkipReason,
)
from highseas.testing.coverage import CoverageRecorder, exercised_exemptions
from tests.support.nightly import Facts, ruleset_with

COMPANY = "regional-trading"
LAST_TOUCH = date(2026, 1, 10)  # anna's last call to ACME


class EventLog:
    """An observer that keeps every event."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def notice(self, event: Event) -> None:
        self.events.append(event)


def events_of(con: Any, rules: Any, as_of: date) -> list[Event]:
    """The events of planning ``as_of`` (nothing applied)."""
    log = EventLog()
    plan(con, rules, as_of, observer=log)
    return log.events


def regional_facts() -> Facts:
    facts = Facts(COMPANY)
    facts.reps([
        {"rep_id": "anna", "hired_on": "2020-01-01", "regions": ["emea"]},   # veteran
        {"rep_id": "ben", "hired_on": "2026-03-01", "regions": ["emea"]},    # new
        {"rep_id": "cara", "hired_on": "2026-02-01", "regions": ["DE"]},     # new, by country
        {"rep_id": "dan", "hired_on": "2026-02-15", "regions": ["americas"]},  # new
    ])
    facts.customers([
        {"customer_id": "acme", "name": "ACME GmbH", "country": "DE", "created_at": "2025-01-01",
         "owner": "anna", "owned_since": "2026-01-01"},
    ])
    facts.activities([{"customer_id": "acme", "rep_id": "anna", "at": "2026-01-10 10:00"}])
    return facts


def decisions(the_plan: Plan, action: str) -> list[tuple[Any, ...]]:
    return [
        (d.customer_id, d.rule_id, d.from_rep_id, d.to_rep_id, d.to_pool_id)
        for d in the_plan.by_action(action)
    ]


def day(n: int) -> date:
    """Day n after the last follow-up."""
    return LAST_TOUCH + timedelta(days=n)


def test_day_83_reminder_day_90_release_day_91_assignment() -> None:
    rules = ruleset_with("regional-trading")
    facts = regional_facts()
    con = facts.con

    p82 = plan(con, rules, day(82))
    assert p82.decisions == ()

    p83 = plan(con, rules, day(83))
    [reminder] = p83.by_action("remind")
    assert (reminder.customer_id, reminder.rule_id, reminder.days_left) == (
        "acme", "no-follow-up-90d", 7)
    assert reminder.due_on == day(90)
    assert reminder.reason == (
        "ACME GmbH returns to emea-pool in 7 days unless you follow up (rule no-follow-up-90d)"
    )
    apply_plan(con, p83)
    # days 84-88: the 7-day reminder was sent; nothing new
    assert plan(con, rules, day(84)).decisions == ()
    p89 = plan(con, rules, day(89))
    assert [(d.days_left, d.reminder_offset) for d in p89.by_action("remind")] == [(1, "1d")]
    apply_plan(con, p89)

    p90 = plan(con, rules, day(90))
    assert decisions(p90, "release") == [("acme", "no-follow-up-90d", "anna", None, "emea-pool")]
    assert "idle for 90 days >= 90 days" in p90.by_action("release")[0].reason
    apply_plan(con, p90)
    assert facts.owner_of("acme") == (None, "emea-pool")

    p91 = plan(con, rules, day(91))
    # round robin over eligible new salespeople in EMEA, in rep-id order: ben first
    assert decisions(p91, "assign") == [("acme", "daily-new-rotation", None, "ben", None)]
    apply_plan(con, p91)
    assert facts.owner_of("acme") == ("ben", None)

    history = con.execute(
        "SELECT action, rule_id, from_rep_id, to_rep_id FROM ownership_events "
        'ORDER BY "at", event_id'
    ).fetchall()
    assert history == [
        ("release", "no-follow-up-90d", "anna", None),
        ("assign", "daily-new-rotation", None, "ben"),
    ]
    notifications = con.execute(
        "SELECT customer_id, rep_id, kind, days_left FROM notifications ORDER BY as_of"
    ).fetchall()
    assert notifications == [("acme", "anna", "remind:7d", 7), ("acme", "anna", "remind:1d", 1)]


def test_a_follow_up_resets_the_idle_clock() -> None:
    rules = ruleset_with("regional-trading")
    facts = regional_facts()
    facts.activities([{"customer_id": "acme", "rep_id": "anna", "at": "2026-03-01 09:00"}])
    assert plan(facts.con, rules, day(90)).decisions == ()


def test_a_follow_up_by_someone_else_does_not_count() -> None:
    rules = ruleset_with("regional-trading")
    facts = regional_facts()
    facts.activities([{"customer_id": "acme", "rep_id": "ben", "at": "2026-03-01 09:00"}])
    assert [d.customer_id for d in plan(facts.con, rules, day(90)).by_action("release")] == [
        "acme"
    ]


def test_an_activity_after_the_as_of_day_is_not_seen() -> None:
    rules = ruleset_with("regional-trading")
    facts = regional_facts()
    facts.activities([{"customer_id": "acme", "rep_id": "anna", "at": str(day(91)) + " 00:00"}])
    assert decisions(plan(facts.con, rules, day(90)), "release")


@pytest.mark.parametrize(
    ("change", "alternative"),
    [
        ({"tags": ["key-account"]}, "tags"),
        ({"stage": "contract"}, "stage"),
        ({"open_order": True}, "has_open_order"),
    ],
    ids=["key-account tag", "contract stage", "open order"],
)
def test_exemptions_beat_the_release_rule(change: dict[str, Any], alternative: str) -> None:
    rules = ruleset_with("regional-trading")
    facts = Facts(COMPANY)
    facts.reps([{"rep_id": "anna", "hired_on": "2020-01-01", "regions": ["emea"]}])
    customer = {"customer_id": "acme", "country": "DE", "created_at": "2025-01-01",
                "owner": "anna", "owned_since": "2026-01-01"}
    customer.update({k: v for k, v in change.items() if k != "open_order"})
    facts.customers([customer])
    if change.get("open_order"):
        facts.orders([{"customer_id": "acme", "placed_at": "2025-12-01", "status": "open"}])
    the_plan = plan(facts.con, rules, date(2026, 6, 1))
    assert the_plan.by_action("release") == []
    kept = exercised_exemptions(facts.con, rules, date(2026, 6, 1))
    assert f"release_rules.no-follow-up-90d.unless.{alternative}" in kept


def test_first_matching_release_rule_wins_and_release_beats_remind() -> None:
    rules = ruleset_with("regional-trading")
    facts = Facts(COMPANY)
    facts.reps([{"rep_id": "anna", "hired_on": "2020-01-01", "regions": ["emea"]}])
    # idle 2 years and no order for 2 years: both rules match; the first one written wins
    facts.customers([{"customer_id": "old", "country": "FR", "created_at": "2023-01-01",
                      "owner": "anna", "owned_since": "2023-01-01"}])
    the_plan = plan(facts.con, rules, date(2025, 6, 1))
    assert decisions(the_plan, "release") == [("old", "no-follow-up-90d", "anna", None,
                                               "emea-pool")]
    assert the_plan.by_action("remind") == []


def test_customer_without_region_goes_to_default_pool_and_unmapped_stays_unassigned() -> None:
    rules = ruleset_with("regional-trading")
    facts = Facts(COMPANY)
    facts.reps([{"rep_id": "anna", "hired_on": "2020-01-01", "regions": ["emea"]}])
    facts.customers([{"customer_id": "nor", "country": "NO", "created_at": "2024-01-01",
                      "owner": "anna", "owned_since": "2024-01-01"}])
    the_plan = plan(facts.con, rules, date(2025, 6, 1))
    assert decisions(the_plan, "release") == [("nor", "no-follow-up-90d", "anna", None,
                                               "global-pool")]


def test_round_robin_respects_regions_per_run_limit_and_fallback() -> None:
    rules = ruleset_with("regional-trading")
    facts = Facts(COMPANY)
    facts.reps([
        {"rep_id": "ben", "hired_on": "2026-03-01", "regions": ["emea"]},
        {"rep_id": "dan", "hired_on": "2026-02-15", "regions": ["americas"]},
        {"rep_id": "old", "hired_on": "2015-01-01", "regions": ["emea"]},  # veteran: not eligible
    ])
    customers = [
        {"customer_id": f"de{i}", "country": "DE", "created_at": "2026-01-01",
         "pool_id": "emea-pool"}
        for i in range(7)
    ] + [{"customer_id": "us1", "country": "US", "created_at": "2026-01-01",
          "pool_id": "americas-pool"}]
    facts.customers(customers)
    recorder = CoverageRecorder()
    the_plan = plan(facts.con, rules, date(2026, 6, 1), observer=recorder)
    assigned = {d.customer_id: d.to_rep_id for d in the_plan.by_action("assign")}
    # max 5 per salesperson per run: ben takes 5 EMEA customers, the rest spill to
    # the americas fallback (dan), who also takes the US customer
    assert sum(1 for rep in assigned.values() if rep == "ben") == 5
    assert assigned["us1"] == "dan"
    assert sorted(assigned) == sorted(c["customer_id"] for c in customers)
    assert "allocation.daily-new-rotation.fallback" in recorder.points
    skipped = {why for skips in the_plan.skipped.values() for _, why in skips}
    assert SkipReason(SkipKind.PER_RUN_LIMIT, limit=5) in skipped
    said = {skip.reason for cid in the_plan.skipped for skip in the_plan.skipped_for(cid)}
    assert "per-run limit reached (5)" in said


def test_absent_and_inactive_salespeople_are_skipped_with_reasons() -> None:
    rules = ruleset_with("regional-trading")
    facts = Facts(COMPANY)
    facts.reps([
        {"rep_id": "a-away", "hired_on": "2026-03-01", "regions": ["emea"],
         "away_from": "2026-05-20", "away_until": "2026-06-10"},
        {"rep_id": "b-gone", "hired_on": "2026-03-01", "regions": ["emea"], "active": False},
        {"rep_id": "c-here", "hired_on": "2026-03-01", "regions": ["emea"]},
    ])
    facts.customers([{"customer_id": "x", "country": "DE", "created_at": "2026-01-01",
                      "pool_id": "emea-pool"}])
    the_plan = plan(facts.con, rules, date(2026, 6, 1))
    assert decisions(the_plan, "assign") == [("x", "daily-new-rotation", None, "c-here", None)]
    reasons = {s.rep_id: s.reason for s in the_plan.skipped_for("x")}
    assert reasons["a-away"].startswith("away")
    assert reasons["b-gone"] == "inactive"


def test_cooldown_keeps_a_customer_from_its_former_owner() -> None:
    rules = ruleset_with("regional-trading")
    facts = Facts(COMPANY)
    facts.reps([
        {"rep_id": "ann", "hired_on": "2026-01-01", "regions": ["emea"]},  # new tier
        {"rep_id": "bob", "hired_on": "2026-01-01", "regions": ["emea"]},
    ])
    facts.customers([{"customer_id": "c1", "country": "DE", "created_at": "2025-01-01",
                      "owner": "ann", "owned_since": "2026-01-02"}])
    con = facts.con
    released_on = date(2026, 4, 2)  # 90 days after 2026-01-02
    apply_plan(con, plan(con, rules, released_on))
    assert facts.owner_of("c1") == (None, "emea-pool")
    # the rotation pointer would pick ann first (rep-id order), but she is in cooldown
    recorder = CoverageRecorder()
    next_day = plan(con, rules, released_on + timedelta(days=1), observer=recorder)
    assert decisions(next_day, "assign") == [("c1", "daily-new-rotation", None, "bob", None)]
    assert any(s.rep_id == "ann" and "cooldown" in s.reason for s in next_day.skipped_for("c1"))
    assert "caps.cooldown" in recorder.points
    skips = [e for e in events_of(con, rules, released_on + timedelta(days=1))
             if isinstance(e, SalespersonSkipped)]
    assert skips == [SalespersonSkipped("daily-new-rotation", "ann", "new", IN_COOLDOWN)]
    claims = EventLog()
    verdict = check_claim(con, rules, released_on + timedelta(days=1), "ann", "c1",
                          observer=claims)
    assert not verdict.allowed
    assert verdict.reasons == ("in cooldown for c1 until 2026-05-02",)
    assert claims.events == [ClaimRefused(ClaimRefusal(
        RefusalKind.COOLDOWN, "ann", "c1", tier="new", until=date(2026, 5, 2)))]


def test_veteran_over_cap_loses_least_recently_followed_up_to_new_salespeople() -> None:
    def cap_two(doc: dict[str, Any]) -> None:
        doc["caps"]["private"][0]["max"] = 2

    rules = ruleset_with("regional-trading", cap_two)
    facts = Facts(COMPANY)
    facts.reps([
        {"rep_id": "vera", "hired_on": "2018-01-01", "regions": ["emea"]},
        {"rep_id": "nico", "hired_on": "2026-04-01", "regions": ["emea"]},
    ])
    facts.customers([
        {"customer_id": f"k{i}", "country": "DE", "created_at": "2026-01-01", "owner": "vera",
         "owned_since": "2026-03-01"}
        for i in range(5)
    ])
    # follow-ups: k0 oldest ... k4 newest; k1 has an open order and is never trimmed
    facts.activities([
        {"customer_id": f"k{i}", "rep_id": "vera", "at": f"2026-05-{10 + i:02d} 09:00"}
        for i in range(5)
    ])
    facts.orders([{"customer_id": "k1", "placed_at": "2026-05-01", "status": "open"}])
    the_plan = plan(facts.con, rules, date(2026, 6, 1))
    trims = decisions(the_plan, "trim")
    assert trims == [
        ("k0", "caps.private.veteran", "vera", "nico", None),
        ("k2", "caps.private.veteran", "vera", "nico", None),
        ("k3", "caps.private.veteran", "vera", "nico", None),
    ]
    apply_plan(facts.con, the_plan)
    count = facts.con.execute(
        "SELECT count(*) FROM customers WHERE owner_rep_id = 'vera'"
    ).fetchall()[0][0]
    assert count == 2


def test_activation_relay_rounds_contact_and_after_last_round() -> None:
    rules = ruleset_with("regional-trading")
    facts = Facts(COMPANY)
    facts.reps([
        {"rep_id": "n1", "hired_on": "2026-03-01", "regions": ["apac"]},
        {"rep_id": "n2", "hired_on": "2026-03-01", "regions": ["apac"]},
        {"rep_id": "n3", "hired_on": "2026-03-01", "regions": ["apac"]},
        {"rep_id": "n4", "hired_on": "2026-03-01", "regions": ["apac"]},
    ])
    facts.customers([
        {"customer_id": "lead-a", "country": "CN", "source": "alibaba", "created_at": "2026-04-01",
         "pool_id": "apac-pool"},
        {"customer_id": "lead-b", "country": "JP", "source": "alibaba", "created_at": "2026-04-01",
         "pool_id": "apac-pool"},
    ])
    con = facts.con
    start = date(2026, 5, 1)  # 30 days after creation
    p1 = plan(con, rules, start)
    relays = {d.customer_id: (d.to_rep_id, d.relay_round) for d in p1.by_action("relay")}
    assert relays == {"lead-a": ("n1", 1), "lead-b": ("n2", 1)}
    assert p1.by_action("assign") == []  # relay customers are not also rotated
    apply_plan(con, p1)
    # n2 calls lead-b within the window; n1 never calls lead-a
    facts.activities([{"customer_id": "lead-b", "rep_id": "n2", "at": "2026-05-03 11:00"}])
    p_mid = plan(con, rules, start + timedelta(days=3))
    assert decisions(p_mid, "relay_end") == [("lead-b", "alibaba-dormant", "n2", "n2", None)]
    apply_plan(con, p_mid)
    current = start + timedelta(days=3)
    holders = ["n1"]
    for _ in range(2):  # rounds 2 and 3
        current = start + timedelta(days=7 * len(holders))
        p = plan(con, rules, current)
        [relay] = p.by_action("relay")
        assert relay.customer_id == "lead-a" and relay.to_rep_id not in holders
        holders.append(relay.to_rep_id or "")
        apply_plan(con, p)
    final = plan(con, rules, start + timedelta(days=21))
    assert decisions(final, "release") == [("lead-a", "alibaba-dormant", holders[-1], None,
                                            "global-pool")]
    apply_plan(con, final)
    assert facts.owner_of("lead-b") == ("n2", None)
    # a customer that went through a relay is not relayed again
    later = plan(con, rules, start + timedelta(days=22))
    assert later.by_action("relay") == []


def test_a_relay_round_skips_the_salesperson_who_lost_the_customer() -> None:
    rules = ruleset_with("regional-trading")
    facts = Facts(COMPANY)
    facts.reps([{"rep_id": f"n{i}", "hired_on": "2026-03-01", "regions": ["apac"]}
                for i in (1, 2, 3)])
    facts.customers([{"customer_id": "lead", "country": "CN", "source": "alibaba",
                      "created_at": "2026-04-01", "owner": "n2", "owned_since": "2026-04-01"}])
    con = facts.con
    start = date(2026, 5, 1)
    first = plan(con, rules, start)
    assert decisions(first, "relay") == [("lead", "alibaba-dormant", "n2", "n1", None)]
    apply_plan(con, first)
    # a week later nobody called: round 2 may not go back to n2, whose 30-day
    # cooldown for the customer started when the relay took it
    second = plan(con, rules, start + timedelta(days=7))
    assert decisions(second, "relay") == [("lead", "alibaba-dormant", "n1", "n3", None)]
    assert any(s.rep_id == "n2" and "cooldown" in s.reason for s in second.skipped_for("lead"))


def test_a_relay_on_a_past_day_reads_the_owner_of_that_day() -> None:
    """A salesperson takes a relayed customer after its deadline: the run as of
    the deadline still passes the customer to round 2, as it did that night,
    and a relay started after the day does not exist for it."""
    rules = ruleset_with("regional-trading")
    facts = Facts(COMPANY)
    facts.reps([{"rep_id": f"n{i}", "hired_on": "2026-03-01", "regions": ["apac"]}
                for i in (1, 2, 3)])
    facts.customers([{"customer_id": "lead", "country": "CN", "source": "alibaba",
                      "created_at": "2026-04-01", "pool_id": "apac-pool"}])
    con = facts.con
    start = date(2026, 5, 1)
    apply_plan(con, plan(con, rules, start))  # round 1: n1, deadline a week later
    deadline = start + timedelta(days=7)
    before = decisions(plan(con, rules, deadline), "relay")
    assert before == [("lead", "alibaba-dormant", "n1", "n2", None)]
    # two days after the deadline n3 takes the customer by hand
    con.execute(
        "INSERT INTO ownership_events (company_id, event_id, customer_id, from_rep_id, "
        "to_rep_id, action, reason, \"at\", as_of) "
        "VALUES (?, 'manual-1', 'lead', 'n1', 'n3', 'claim', 'by hand', ?, ?)",
        [COMPANY, f"{deadline + timedelta(days=2)} 11:00", deadline + timedelta(days=2)])
    con.execute("UPDATE customers SET owner_rep_id = 'n3', owned_since = ? "
                "WHERE customer_id = 'lead'", [f"{deadline + timedelta(days=2)} 11:00"])
    assert decisions(plan(con, rules, deadline), "relay") == before
    # the day before round 1 started, the relay is not in progress
    assert plan(con, rules, start - timedelta(days=1)).by_action("relay_end") == []
    assert plan(con, rules, start - timedelta(days=1)).by_action("relay") == []


def test_claim_check_reasons_and_recording() -> None:
    rules = ruleset_with("regional-trading")
    facts = Facts(COMPANY)
    facts.reps([
        {"rep_id": "nina", "hired_on": "2026-03-01", "regions": ["emea"]},
        {"rep_id": "vic", "hired_on": "2019-03-01", "regions": ["emea"]},
    ])
    facts.customers(
        [{"customer_id": f"p{i}", "country": "DE", "created_at": "2026-01-01",
          "pool_id": "emea-pool"} for i in range(5)]
        + [{"customer_id": "owned", "country": "DE", "created_at": "2026-01-01",
            "owner": "nina"},
           {"customer_id": "us", "country": "US", "created_at": "2026-01-01",
            "pool_id": "americas-pool"}]
    )
    con = facts.con
    today = date(2026, 6, 2)
    refused = check_claim(con, rules, today, "nina", "owned")
    assert not refused.allowed and "not in the high seas" in refused.reasons[0]
    region = check_claim(con, rules, today, "nina", "us")
    assert not region.allowed and "region not allowed" in region.reasons[0]
    # veterans may claim 3 a day
    for i in range(3):
        verdict = check_claim(con, rules, today, "vic", f"p{i}")
        assert verdict.allowed, verdict.reasons
        record_claim(con, rules, today, verdict)
    capped = check_claim(con, rules, today, "vic", "p3")
    assert not capped.allowed
    assert capped.reasons == ("claim cap for the veteran tier reached this day (3/3)",)
    assert check_claim(con, rules, today + timedelta(days=1), "vic", "p3").allowed
    with pytest.raises(InvalidInputError, match="no salesperson 'vicc'"):
        check_claim(con, rules, today, "vicc", "p3")


def test_a_customer_claimed_twice_the_same_day_has_two_claim_events() -> None:
    """Claimed, released by hand the same day, claimed again by the same
    salesperson: both claims are in the audit trail, under distinct ids."""
    rules = ruleset_with("regional-trading")
    facts = Facts(COMPANY)
    facts.reps([{"rep_id": "vic", "hired_on": "2019-03-01", "regions": ["emea"]}])
    facts.customers([{"customer_id": "p0", "country": "DE", "created_at": "2026-01-01",
                      "pool_id": "emea-pool"}])
    con = facts.con
    today = date(2026, 6, 2)
    verdict = check_claim(con, rules, today, "vic", "p0")
    record_claim(con, rules, today, verdict)
    con.execute("UPDATE customers SET owner_rep_id = NULL, pool_id = 'emea-pool', "
                "owned_since = NULL WHERE customer_id = 'p0'")
    record_claim(con, rules, today, verdict)
    assert facts.owner_of("p0") == ("vic", None)
    ids = [row[0] for row in con.execute(
        "SELECT event_id FROM ownership_events WHERE action = 'claim' ORDER BY event_id"
    ).fetchall()]
    assert ids == ["claim-2026-06-02-vic-p0", "claim-2026-06-02-vic-p0#2"]


def test_claims_recorded_together_are_all_or_nothing() -> None:
    from highseas.nightly.claims import ClaimChecks, record_claims

    rules = ruleset_with("regional-trading")
    facts = Facts(COMPANY)
    facts.reps([{"rep_id": "vic", "hired_on": "2019-03-01", "regions": ["emea"]},
                {"rep_id": "ida", "hired_on": "2019-03-01", "regions": ["emea"]}])
    facts.customers([{"customer_id": f"p{i}", "country": "DE", "created_at": "2026-01-01",
                      "pool_id": "emea-pool"} for i in range(3)]
                    # unowned and in no pool: imported straight into the high seas
                    + [{"customer_id": "loose", "country": "DE", "created_at": "2026-01-01"}])
    con = facts.con
    today = date(2026, 6, 2)
    checks = ClaimChecks(con, rules, today, ["p0", "p1", "p2", "loose"])
    first, second = checks.verdict("vic", "p0"), checks.verdict("vic", "p1")
    checks.granted(first)
    checks.granted(second)
    # the batch counts earlier claims: the same as check_claim once they are written
    assert checks.verdict("vic", "p0").reasons == (
        "p0 is not in the high seas (you already own it)",)
    # the yes/no question a replay asks agrees with the verdict
    assert {(rep, cid): checks.allowed(rep, cid) for rep in ("vic", "ida")
            for cid in ("p0", "p1", "p2", "loose")} == {
        (rep, cid): checks.verdict(rep, cid).allowed for rep in ("vic", "ida")
        for cid in ("p0", "p1", "p2", "loose")}
    assert not checks.allowed("ida", "p1") and checks.allowed("ida", "p2")
    record_claim(con, rules, today, check_claim(con, rules, today, "ida", "p1"))
    events = "SELECT count(*) FROM ownership_events WHERE action = 'claim'"
    with pytest.raises(InvalidInputError, match="p1 was taken in the meantime"):
        record_claims(con, rules, today, [(first, None), (second, None)])
    assert con.execute(events).fetchall() == [(1,)]  # only ida's
    assert con.execute("SELECT owner_rep_id FROM customers WHERE customer_id = 'p0'"
                       ).fetchall() == [(None,)]
    record_claims(con, rules, today, [(first, None), (checks.verdict("vic", "p2"), None)])
    record_claims(con, rules, today, [(checks.verdict("ida", "loose"), None)])
    owners = dict(con.execute("SELECT customer_id, owner_rep_id FROM customers").fetchall())
    assert owners == {"p0": "vic", "p1": "ida", "p2": "vic", "loose": "ida"}
    reasons = {r[0] for r in con.execute("SELECT reason FROM ownership_events").fetchall()}
    assert "vic claimed p0 from emea-pool" in reasons
    assert "ida claimed loose from the high seas" in reasons


def test_apply_is_idempotent_and_refuses_earlier_dates() -> None:
    rules = ruleset_with("regional-trading")
    facts = regional_facts()
    con = facts.con
    first = apply_plan(con, plan(con, rules, day(90)))
    assert first.applied and first.ownership_changes == 1
    again = apply_plan(con, plan(con, rules, day(90)))
    assert not again.applied and "already applied" in again.message
    assert con.execute("SELECT count(*) FROM ownership_events").fetchall()[0][0] == 1
    with pytest.raises(InvalidInputError, match="refusing to apply an earlier date"):
        apply_plan(con, plan(con, rules, day(89)))
    forced = apply_plan(con, plan(con, rules, day(89)), force=True)
    assert forced.applied


def test_same_inputs_same_plan_byte_for_byte() -> None:
    rules = ruleset_with("regional-trading")
    first = plan(regional_facts().con, rules, day(90)).to_json()
    second = plan(regional_facts().con, rules, day(90)).to_json()
    assert first == second
    assert '"action": "release"' in first


def test_month_durations_roll_at_month_end() -> None:
    def monthly(doc: dict[str, Any]) -> None:
        doc["release_rules"][0]["when"] = {"idle_for": "1mo"}
        doc["release_rules"][0]["remind_before"] = ["1d"]

    rules = ruleset_with("regional-trading", monthly)
    facts = Facts(COMPANY)
    facts.reps([{"rep_id": "anna", "hired_on": "2020-01-01", "regions": ["emea"]}])
    facts.customers([{"customer_id": "jan31", "country": "DE", "created_at": "2023-12-01",
                      "owner": "anna", "owned_since": "2024-01-31"}])
    # 31 January + 1 month = 29 February 2024 (leap year)
    assert plan(facts.con, rules, date(2024, 2, 28)).by_action("remind")[0].due_on == date(
        2024, 2, 29)
    assert decisions(plan(facts.con, rules, date(2024, 2, 29)), "release")
