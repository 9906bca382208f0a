"""Comparing a plan with a case's expectations: the diff a consultant reads.

Pure functions over :class:`highseas.nightly.plan.Plan`; no database needed, so
expectations can be checked against plans made by hand.

Each difference is a :class:`Mismatch` that names the customer and the rule
and carries the reason the engine gave:

* ``missing``: an expected decision the run did not make;
* ``different``: the run decided the same kind of thing for the customer, but
  with other details (rule, pool, salesperson, days left...);
* ``unexpected``: with ``match: exact``, a decision nobody listed; or a
  decision about a customer listed under ``untouched``;
* ``forbidden``: a decision listed under ``none``;
* ``claim``: a claim answered otherwise than expected.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from highseas.nightly.plan import Decision, Plan, Unassigned
from highseas.testfile import (
    ACTION_CATEGORIES,
    CATEGORY_ACTIONS,
    ENTRY_FIELDS,
    ClaimCheck,
    Entry,
    Expectation,
)

_MARKS = {"missing": "-", "different": "~", "unexpected": "+", "forbidden": "!", "claim": "?"}


@dataclass(frozen=True)
class Mismatch:
    """One difference between what a case expects and what the engine did."""

    kind: str
    as_of: date
    customer: str
    rule: str
    message: str
    engine_reason: str = ""
    json_path: str = ""
    line: int = 0

    def format_lines(self) -> list[str]:
        """The diff lines: ``- expected ...`` then the engine's reason."""
        where = f"  (line {self.line})" if self.line else ""
        lines = [f"{_MARKS.get(self.kind, '*')} {self.message}{where}"]
        if self.engine_reason:
            lines.append(f"    engine: {self.engine_reason}")
        return lines


def describe_decision(decision: Decision | Unassigned) -> str:
    """A decision in the words of the test format: ``released c1 (rule r, pool p)``."""
    if isinstance(decision, Unassigned):
        category = "unassigned"
        values: dict[str, Any] = {"pool_id": decision.pool_id, "rule_id": decision.rule_id}
    else:
        category = ACTION_CATEGORIES.get(decision.action, decision.action)
        values = {name: getattr(decision, name) for name in
                  {attr for attr in ENTRY_FIELDS.get(category, {}).values()}}
    parts = [f"{key} {values[attr]}" for key, attr in ENTRY_FIELDS.get(category, {}).items()
             if values.get(attr) is not None]
    detail = f" ({', '.join(parts)})" if parts else ""
    return f"{category.replace('_', ' ')} {decision.customer_id}{detail}"


def _value(item: Decision | Unassigned, category: str, key: str) -> Any:
    return getattr(item, ENTRY_FIELDS[category][key], None)


def _differences(entry: Entry, item: Decision | Unassigned) -> list[str]:
    """Fields of ``entry`` that ``item`` does not have, as ``key: expected X, got Y``."""
    found = []
    for key, expected in entry.fields:
        actual = _value(item, entry.category, key)
        if actual != expected:
            found.append(f"{key}: expected {expected}, got {actual if actual is not None else '-'}")
    if entry.reason is not None and entry.reason.lower() not in item.reason.lower():
        found.append(f"reason: expected it to contain {entry.reason!r}")
    return found


def _items(plan: Plan, category: str) -> list[Decision | Unassigned]:
    if category == "unassigned":
        return list(plan.unassigned)
    action = CATEGORY_ACTIONS[category]
    return [d for d in plan.decisions if d.action == action]


def _rule(entry: Entry) -> str:
    return str(dict(entry.fields).get("rule", ""))


def compare_plan(expect: Expectation, plan: Plan) -> list[Mismatch]:
    """Every difference between ``expect`` and ``plan`` (empty: the day passes)."""
    day = plan.as_of
    mismatches: list[Mismatch] = []
    used: set[int] = set()
    everything: list[Decision | Unassigned] = [*plan.decisions, *plan.unassigned]
    for entry in expect.entries:
        candidates = [item for item in _items(plan, entry.category)
                      if item.customer_id == entry.customer and id(item) not in used]
        match = next((c for c in candidates if not _differences(entry, c)), None)
        if match is not None:
            used.add(id(match))
            continue
        if candidates:
            closest = min(candidates, key=lambda c: len(_differences(entry, c)))
            used.add(id(closest))
            problems = "; ".join(_differences(entry, closest))
            mismatches.append(Mismatch(
                "different", day, entry.customer, _rule(entry) or _rule_of(closest),
                f"{entry.describe()}: {problems}", closest.reason, entry.json_path, entry.line,
            ))
            continue
        others = [item for item in everything if item.customer_id == entry.customer]
        if others:
            # Already shown here: not repeated as "not expected" below.
            used.update(id(o) for o in others)
            actual = "; ".join(describe_decision(o) for o in others)
            message = f"expected {entry.describe()}, but the run decided: {actual}"
            reason = others[0].reason
        else:
            message = f"expected {entry.describe()}, but the run decided nothing for " \
                      f"{entry.customer}"
            reason = ""
        mismatches.append(Mismatch("missing", day, entry.customer, _rule(entry), message,
                                   reason, entry.json_path, entry.line))
    if expect.match == "exact":
        for decision in plan.decisions:
            if id(decision) in used:
                continue
            mismatches.append(Mismatch(
                "unexpected", day, decision.customer_id, decision.rule_id,
                f"not expected: {describe_decision(decision)}", decision.reason,
                expect.json_path, expect.line,
            ))
    for entry in expect.forbidden:
        for item in _items(plan, entry.category):
            if item.customer_id == entry.customer and not _differences(entry, item):
                mismatches.append(Mismatch(
                    "forbidden", day, entry.customer, _rule_of(item),
                    f"must not happen: {describe_decision(item)}", item.reason,
                    entry.json_path, entry.line,
                ))
    # With match: exact, a decision about an untouched customer is already
    # reported as unexpected above.
    untouched = expect.untouched if expect.match != "exact" else ()
    for customer in untouched:
        for decision in plan.decisions:
            if decision.customer_id == customer:
                mismatches.append(Mismatch(
                    "unexpected", day, customer, decision.rule_id,
                    f"{customer} should be untouched, but: {describe_decision(decision)}",
                    decision.reason, expect.json_path, expect.line,
                ))
    return mismatches


def _rule_of(item: Decision | Unassigned) -> str:
    return item.rule_id


def compare_claim(check: ClaimCheck, as_of: date, allowed: bool,
                  reasons: Sequence[str]) -> Mismatch | None:
    """The difference between an expected claim answer and the engine's, if any."""
    said = "; ".join(reasons)
    who = f"claim of {check.customer} by {check.rep}"
    if allowed != check.allowed:
        expected = "allowed" if check.allowed else "refused"
        actual = "allowed" if allowed else "refused"
        return Mismatch("claim", as_of, check.customer, "claim",
                        f"{who}: expected {expected}, got {actual}",
                        said if not allowed else "", check.json_path, check.line)
    if not allowed:
        lowered = said.lower()
        missing = [text for text in check.reasons if text.lower() not in lowered]
        if missing:
            return Mismatch("claim", as_of, check.customer, "claim",
                            f"{who}: refused, but no reason contains "
                            + ", ".join(repr(m) for m in missing), said, check.json_path,
                            check.line)
    return None
