"""The per-customer difference of two plans of one night (OLD and NEW ruleset).

A customer differs when the decisions planned for it differ: a release under
one ruleset and none under the other, another rule, another salesperson or
pool, another reminder (a reason that only quotes another threshold, as
``idle for 40 days >= 30 days`` against ``>= 21 days``, is no difference).
Each difference keeps the decisions (action, rule and
reason) under OLD and under NEW; the summary counts them by action and by
salesperson (customers each one would lose or receive under each plan).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from typing import Any

from highseas.nightly.plan import ACTIONS, OWNERSHIP_ACTIONS, Decision, Plan
from highseas.ruleset import diff as structural


@dataclass(frozen=True)
class Outcome:
    """What one plan decided for one customer (one line per decision)."""

    action: str
    rule_id: str
    reason: str
    from_rep_id: str | None = None
    to_rep_id: str | None = None
    to_pool_id: str | None = None

    @classmethod
    def of(cls, decision: Decision) -> Outcome:
        return cls(decision.action, decision.rule_id, decision.reason,
                   decision.from_rep_id, decision.to_rep_id, decision.to_pool_id)

    def decision(self) -> tuple[str, str, str | None, str | None, str | None]:
        """What is decided, without the words of the reason."""
        return (self.action, self.rule_id, self.from_rep_id, self.to_rep_id, self.to_pool_id)

    def text(self) -> str:
        if self.action == "remind":
            return f"remind {self.to_rep_id or self.from_rep_id} ({self.rule_id}: {self.reason})"
        where = f" to {self.to_rep_id}" if self.to_rep_id else (
            f" to pool {self.to_pool_id}" if self.to_pool_id else "")
        return f"{self.action}{where} ({self.rule_id}: {self.reason})"

    def to_dict(self) -> dict[str, Any]:
        return {"action": self.action, "rule_id": self.rule_id, "reason": self.reason,
                "from_rep_id": self.from_rep_id, "to_rep_id": self.to_rep_id,
                "to_pool_id": self.to_pool_id}


@dataclass(frozen=True)
class CustomerDifference:
    customer_id: str
    customer_name: str
    old: tuple[Outcome, ...]
    new: tuple[Outcome, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"customer_id": self.customer_id, "customer_name": self.customer_name,
                "old": [o.to_dict() for o in self.old], "new": [o.to_dict() for o in self.new]}


@dataclass(frozen=True)
class RepCounts:
    """Customers a salesperson loses and receives under OLD and under NEW
    (among the customers that differ)."""

    rep_id: str
    old_loses: int
    new_loses: int
    old_receives: int
    new_receives: int


@dataclass(frozen=True)
class PlanDiff:
    as_of: str
    customers: tuple[CustomerDifference, ...]
    #: action -> (decisions under OLD, under NEW), whole plans.
    by_action: tuple[tuple[str, int, int], ...]
    by_rep: tuple[RepCounts, ...]

    @property
    def identical(self) -> bool:
        return not self.customers

    def to_dict(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of,
            "customers": [c.to_dict() for c in self.customers],
            "by_action": [{"action": a, "old": o, "new": n} for a, o, n in self.by_action],
            "by_salesperson": [
                {"rep_id": r.rep_id, "old_loses": r.old_loses, "new_loses": r.new_loses,
                 "old_receives": r.old_receives, "new_receives": r.new_receives}
                for r in self.by_rep
            ],
        }


def _by_customer(plan: Plan) -> tuple[dict[str, tuple[Outcome, ...]], dict[str, str]]:
    outcomes: dict[str, list[Outcome]] = {}
    names: dict[str, str] = {}
    for decision in plan.decisions:
        outcomes.setdefault(decision.customer_id, []).append(Outcome.of(decision))
        names.setdefault(decision.customer_id, decision.customer_name)
    return {c: tuple(sorted(o, key=lambda x: (ACTIONS.index(x.action), x.rule_id)))
            for c, o in outcomes.items()}, names


def _decisions(outcomes: tuple[Outcome, ...]) -> tuple[tuple[Any, ...], ...]:
    return tuple(o.decision() for o in outcomes)


def diff_plans(old: Plan, new: Plan) -> PlanDiff:
    """Every customer whose decisions differ between ``old`` and ``new``."""
    before, old_names = _by_customer(old)
    after, new_names = _by_customer(new)
    customers = tuple(
        CustomerDifference(customer, new_names.get(customer) or old_names.get(customer, ""),
                           before.get(customer, ()), after.get(customer, ()))
        for customer in sorted(set(before) | set(after))
        if _decisions(before.get(customer, ())) != _decisions(after.get(customer, ()))
    )
    old_actions = Counter(d.action for d in old.decisions)
    new_actions = Counter(d.action for d in new.decisions)
    by_action = tuple((a, old_actions[a], new_actions[a]) for a in ACTIONS
                      if old_actions[a] or new_actions[a])
    counts: dict[str, list[int]] = {}
    for difference in customers:
        for side, outcomes in ((0, difference.old), (1, difference.new)):
            for outcome in outcomes:
                if outcome.action not in OWNERSHIP_ACTIONS:
                    continue
                if outcome.from_rep_id:
                    counts.setdefault(outcome.from_rep_id, [0, 0, 0, 0])[side] += 1
                if outcome.to_rep_id:
                    counts.setdefault(outcome.to_rep_id, [0, 0, 0, 0])[2 + side] += 1
    by_rep = tuple(RepCounts(rep, *values) for rep, values in sorted(counts.items())
                   if values[0] != values[1] or values[2] != values[3])
    return PlanDiff(old.as_of.isoformat(), customers, by_action, by_rep)


# --------------------------------------------------------------------------
# the report: text, JSON, Markdown
# --------------------------------------------------------------------------

DIFF_FORMATS = ("text", "json", "markdown")


def _outcomes(outcomes: tuple[Outcome, ...]) -> str:
    return "; ".join(o.text() for o in outcomes) or "nothing"


def _plan_text(plans: PlanDiff, limit: int | None) -> list[str]:
    if plans.identical:
        return [f"plan as of {plans.as_of}: no customer differs"]
    lines = [f"plan as of {plans.as_of}: {len(plans.customers)} customer(s) differ"]
    lines.append("  by action (old -> new): " + ", ".join(
        f"{a} {o} -> {n}" for a, o, n in plans.by_action))
    if plans.by_rep:
        lines.append("  by salesperson (loses old -> new, receives old -> new):")
        for rep in plans.by_rep:
            lines.append(f"    {rep.rep_id}: loses {rep.old_loses} -> {rep.new_loses}, "
                         f"receives {rep.old_receives} -> {rep.new_receives}")
    shown = plans.customers if limit is None else plans.customers[:limit]
    for difference in shown:
        name = f" {difference.customer_name}" if difference.customer_name else ""
        lines.append(f"  {difference.customer_id}{name}")
        lines.append(f"      old: {_outcomes(difference.old)}")
        lines.append(f"      new: {_outcomes(difference.new)}")
    if len(shown) < len(plans.customers):
        lines.append(f"  ... and {len(plans.customers) - len(shown)} more "
                     "(--format json lists them all)")
    return lines


def _plan_markdown(plans: PlanDiff, limit: int | None) -> list[str]:
    lines = [f"### Tonight's plan (as of {plans.as_of})", ""]
    if plans.identical:
        return lines + ["No customer differs.", ""]
    lines += ["| action | old | new |", "|---|---|---|"]
    lines += [f"| {a} | {o} | {n} |" for a, o, n in plans.by_action]
    lines.append("")
    if plans.by_rep:
        lines += ["| salesperson | loses (old) | loses (new) | receives (old) | receives (new) |",
                  "|---|---|---|---|---|"]
        lines += [f"| {r.rep_id} | {r.old_loses} | {r.new_loses} | {r.old_receives} "
                  f"| {r.new_receives} |" for r in plans.by_rep]
        lines.append("")
    lines += ["| customer | old | new |", "|---|---|---|"]
    shown = plans.customers if limit is None else plans.customers[:limit]
    for difference in shown:
        name = f" {difference.customer_name}" if difference.customer_name else ""
        lines.append(f"| `{difference.customer_id}`{structural.table_cell(name)} "
                     f"| {structural.table_cell(_outcomes(difference.old))} "
                     f"| {structural.table_cell(_outcomes(difference.new))} |")
    if len(shown) < len(plans.customers):
        lines.append(f"\n... and {len(plans.customers) - len(shown)} more customers.")
    return lines + [""]


def format_diff(rules: structural.RulesetDiff, plans: PlanDiff | None, fmt: str = "text",
                limit: int | None = 200) -> str:
    """The report of ``highseas diff`` in ``fmt`` (text, json or markdown)."""
    if fmt == "json":
        document = {"rules": rules.to_dict(),
                    "plan": plans.to_dict() if plans is not None else None,
                    "identical": rules.identical and (plans is None or plans.identical)}
        return json.dumps(document, indent=2, ensure_ascii=False)
    if fmt == "markdown":
        lines = [f"## `{rules.old_source}` -> `{rules.new_source}`", ""]
        lines += structural.format_markdown(rules)
        if plans is not None:
            lines += _plan_markdown(plans, limit)
        return "\n".join(lines).rstrip("\n")
    lines = [f"--- {rules.old_source}", f"+++ {rules.new_source}"]
    lines += structural.format_text(rules)
    if plans is not None:
        lines += _plan_text(plans, limit)
    return "\n".join(lines)
