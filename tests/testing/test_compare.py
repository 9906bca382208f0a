"""Expectations against hand-made plans: no database, exact diffs."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from highseas.nightly.plan import Decision, Plan, Unassigned
from highseas.testfile import ClaimCheck, Entry, Expectation
from highseas.testing.compare import compare_claim, compare_plan

if TYPE_CHECKING:
    from hypothesis.strategies import SearchStrategy

DAY = date(2025, 5, 30)


def plan(*decisions: Decision, unassigned: tuple[Unassigned, ...] = ()) -> Plan:
    return Plan("co", "co", "hash", DAY, tuple(decisions), unassigned=unassigned)


RELEASE = Decision("c1", "release", "idle-90d", "idle for 91 days: Acme returns to emea-pool",
                   from_rep_id="alice", to_pool_id="emea-pool")
REMIND = Decision("c2", "remind", "idle-90d", "Beta returns in 7 days", from_rep_id="bob",
                  to_rep_id="bob", days_left=7, reminder_offset="7d")
ASSIGN = Decision("c3", "assign", "daily", "assigned to nina by round robin",
                  from_pool_id="emea-pool", to_rep_id="nina")


def entry(category: str, customer: str, **fields: object) -> Entry:
    reason = fields.pop("reason", None)
    return Entry(category, customer, tuple(fields.items()),
                 reason if isinstance(reason, str) else None)


def expect(*entries: Entry, match: str = "exact", forbidden: tuple[Entry, ...] = (),
           untouched: tuple[str, ...] = ()) -> Expectation:
    return Expectation(match, entries, forbidden, untouched)


def test_exact_match_passes() -> None:
    found = compare_plan(expect(
        entry("released", "c1", rule="idle-90d", pool="emea-pool", **{"from": "alice"}),
        entry("reminded", "c2", days_left=7, rep="bob"),
        entry("assigned", "c3", to="nina", pool="emea-pool", reason="ROUND ROBIN"),
    ), plan(RELEASE, REMIND, ASSIGN))
    assert found == []


def test_different_detail_names_customer_rule_and_engine_reason() -> None:
    (mismatch,) = compare_plan(expect(entry("released", "c1", rule="idle-90d",
                                            pool="apac-pool")), plan(RELEASE))
    assert mismatch.kind == "different"
    assert mismatch.customer == "c1" and mismatch.rule == "idle-90d"
    assert "pool: expected apac-pool, got emea-pool" in mismatch.message
    assert mismatch.engine_reason == RELEASE.reason
    assert mismatch.format_lines()[1] == f"    engine: {RELEASE.reason}"


def test_missing_decision_says_what_the_run_did_instead() -> None:
    (mismatch,) = compare_plan(expect(entry("released", "c2")), plan(REMIND))
    assert mismatch.kind == "missing"
    assert "but the run decided: reminded c2 (rule idle-90d, days_left 7, rep bob)" \
        in mismatch.message
    (mismatch,) = compare_plan(expect(entry("released", "c9", rule="idle-90d")), plan())
    assert "decided nothing for c9" in mismatch.message and mismatch.rule == "idle-90d"


def test_exact_reports_unlisted_decisions_at_least_does_not() -> None:
    found = compare_plan(expect(entry("released", "c1")), plan(RELEASE, ASSIGN))
    assert [(m.kind, m.customer, m.rule) for m in found] == [("unexpected", "c3", "daily")]
    assert found[0].engine_reason == ASSIGN.reason
    assert compare_plan(expect(entry("released", "c1"), match="at_least"),
                        plan(RELEASE, ASSIGN)) == []


def test_forbidden_and_untouched() -> None:
    found = compare_plan(expect(match="at_least", forbidden=(entry("assigned", "c3"),)),
                         plan(ASSIGN))
    assert [(m.kind, m.customer) for m in found] == [("forbidden", "c3")]
    # a forbidden entry with details only forbids matching decisions
    assert compare_plan(expect(match="at_least",
                               forbidden=(entry("assigned", "c3", to="bob"),)),
                        plan(ASSIGN)) == []
    found = compare_plan(expect(match="at_least", untouched=("c2",)), plan(REMIND, ASSIGN))
    assert [(m.kind, m.customer) for m in found] == [("unexpected", "c2")]
    found = compare_plan(expect(untouched=("c2",)), plan(REMIND))
    assert len(found) == 1  # exact: reported once, not twice


def test_reason_substring_and_unassigned() -> None:
    (mismatch,) = compare_plan(expect(entry("released", "c1", reason="no order")),
                               plan(RELEASE))
    assert "reason: expected it to contain 'no order'" in mismatch.message
    idle = Unassigned("c4", "emea-pool", "no eligible salesperson in emea", "daily")
    assert compare_plan(expect(entry("unassigned", "c4", pool="emea-pool",
                                     reason="no eligible")), plan(unassigned=(idle,))) == []
    # unassigned customers are not decisions: exact does not require them
    assert compare_plan(expect(), plan(unassigned=(idle,))) == []


def test_two_decisions_of_a_kind_are_matched_one_to_one() -> None:
    first = Decision("c5", "remind", "rule-a", "a", days_left=7, reminder_offset="7d")
    second = Decision("c5", "remind", "rule-b", "b", days_left=3, reminder_offset="3d")
    assert compare_plan(expect(entry("reminded", "c5", days_left=3),
                               entry("reminded", "c5", days_left=7)),
                        plan(first, second)) == []


def test_claims() -> None:
    refused = ClaimCheck("nina", "c1", False, ("claim cap",))
    assert compare_claim(refused, DAY, False, ["claim cap for the new tier reached"]) is None
    mismatch = compare_claim(refused, DAY, False, ["in cooldown for c1 until 2025-06-30"])
    assert mismatch is not None and "no reason contains 'claim cap'" in mismatch.message
    assert mismatch.engine_reason == "in cooldown for c1 until 2025-06-30"
    mismatch = compare_claim(ClaimCheck("nina", "c1", True), DAY, False, ["in cooldown"])
    assert mismatch is not None
    assert mismatch.message == "claim of c1 by nina: expected allowed, got refused"
    mismatch = compare_claim(refused, DAY, True, [])
    assert mismatch is not None and "expected refused, got allowed" in mismatch.message


_ACTIONS = {"release": "released", "remind": "reminded", "trim": "trimmed",
            "assign": "assigned", "relay": "relayed", "relay_end": "relay_ended"}


def _decisions() -> SearchStrategy[list[Decision]]:
    from hypothesis import strategies as st

    decision = st.builds(
        Decision,
        customer_id=st.sampled_from(["c1", "c2", "c3", "c4"]),
        action=st.sampled_from(sorted(_ACTIONS)),
        rule_id=st.sampled_from(["r1", "r2"]),
        reason=st.just("because"),
        to_rep_id=st.sampled_from([None, "ann", "bob"]),
        to_pool_id=st.sampled_from([None, "p1"]),
        days_left=st.sampled_from([None, 1, 7]),
    )
    return st.lists(decision, max_size=6)


def test_a_plan_matches_its_own_exact_description_and_each_omission_is_reported() -> None:
    from hypothesis import given, settings

    from highseas.testfile import ENTRY_FIELDS

    @settings(max_examples=60, deadline=None)
    @given(_decisions())
    def check(decisions: list[Decision]) -> None:
        entries = []
        for d in decisions:
            category = _ACTIONS[d.action]
            fields = {key: getattr(d, attr) for key, attr in ENTRY_FIELDS[category].items()
                      if getattr(d, attr) is not None}
            entries.append(entry(category, d.customer_id, **fields))
        the_plan = plan(*decisions)
        assert compare_plan(expect(*entries), the_plan) == []
        for index, left_out in enumerate(entries):
            rest = entries[:index] + entries[index + 1:]
            found = compare_plan(expect(*rest), the_plan)
            assert [m.kind for m in found] == ["unexpected"]
            assert found[0].customer == left_out.customer
            assert compare_plan(expect(*rest, match="at_least"), the_plan) == []

    check()
