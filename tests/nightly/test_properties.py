"""Invariants of the nightly run on random facts (hypothesis)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from highseas.nightly.planner import plan
from tests.support.nightly import Facts, check_candidate_filter, checked_night, ruleset_with

COMPANY = "regional-trading"
AS_OF = date(2026, 6, 1)
COUNTRIES = ["DE", "FR", "US", "BR", "CN", "JP", "NO", None]


def _small_caps(doc: dict[str, Any]) -> None:
    doc["caps"]["private"] = [
        {"tier": "veteran", "max": 3, "excess_order": "least_recently_followed_up",
         "excess_to": {"tier": "new"}},
        {"tier": "new", "max": 4, "excess_order": "oldest_owned"},
    ]


RULES = ruleset_with("regional-trading", _small_caps)

rep_ids = [f"r{i}" for i in range(6)]


@st.composite
def company_facts(draw: st.DrawFn) -> Facts:
    facts = Facts(COMPANY)
    reps = []
    for rep_id in rep_ids[: draw(st.integers(1, 6))]:
        reps.append({
            "rep_id": rep_id,
            "hired_on": (AS_OF - timedelta(days=draw(st.integers(30, 3000)))).isoformat(),
            "regions": draw(st.lists(st.sampled_from(["emea", "americas", "apac"]), max_size=2,
                                     unique=True)),
            "active": draw(st.booleans()) or draw(st.booleans()),
        })
    facts.reps(reps)
    owners = [r["rep_id"] for r in reps] + [None, None]
    customers, activities, orders = [], [], []
    for i in range(draw(st.integers(0, 25))):
        owner = draw(st.sampled_from(owners))
        created = AS_OF - timedelta(days=draw(st.integers(1, 900)))
        customers.append({
            "customer_id": f"c{i:02d}",
            "country": draw(st.sampled_from(COUNTRIES)),
            "source": draw(st.sampled_from(["alibaba", "website"])),
            "stage": draw(st.sampled_from(["lead", "contract", "negotiation"])),
            "tags": draw(st.sampled_from([[], ["key-account"], ["vip"]])),
            "created_at": created.isoformat(),
            "owner": owner,
            "owned_since": (created + timedelta(days=draw(st.integers(0, 30)))).isoformat(),
        })
        for _ in range(draw(st.integers(0, 2))):
            at = created + timedelta(days=draw(st.integers(0, (AS_OF - created).days)))
            activities.append({"customer_id": f"c{i:02d}",
                               "rep_id": draw(st.sampled_from(owners)), "at": f"{at} 10:00"})
        if draw(st.integers(0, 5)) == 0:
            orders.append({"customer_id": f"c{i:02d}", "placed_at": created.isoformat(),
                           "status": draw(st.sampled_from(["open", "won", "lost"]))})
    facts.customers(customers)
    facts.activities(activities)
    facts.orders(orders)
    return facts


SETTINGS = settings(max_examples=25, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@SETTINGS
@given(company_facts())
def test_plan_invariants(facts: Facts) -> None:
    """Every invariant of the nightly run (nightly.checked_night)."""
    checked_night(facts.con, RULES, AS_OF)


@SETTINGS
@given(company_facts())
def test_sql_candidate_filter_changes_no_verdict(facts: Facts) -> None:
    check_candidate_filter(facts.con, RULES, AS_OF)


@SETTINGS
@given(company_facts())
def test_chunked_allocation_decides_like_one_call(facts: Facts) -> None:
    import highseas.nightly.planner as planner_module

    whole = plan(facts.con, RULES, AS_OF)
    original = planner_module.ALLOCATION_CHUNK
    planner_module.ALLOCATION_CHUNK = 2
    try:
        chunked = plan(facts.con, RULES, AS_OF)
    finally:
        planner_module.ALLOCATION_CHUNK = original
    assert [d.to_dict() for d in chunked.decisions] == [d.to_dict() for d in whole.decisions]
    assert chunked.rotation == whole.rotation
    # The same customers stay unassigned, each once per allocation (the reasons
    # of those nobody had room for are shorter: no per-salesperson skip list).
    left = [(u.customer_id, u.rule_id) for u in chunked.unassigned]
    assert left == [(u.customer_id, u.rule_id) for u in whole.unassigned]
    assert len(left) == len(set(left))
