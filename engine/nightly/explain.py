"""``highseas explain``: the answer to "why was my customer taken?"."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from highseas import codes
from highseas.errors import Diagnostic, InvalidInputError
from highseas.nightly import facts as derive
from highseas.nightly.plan import Decision, Skip
from highseas.nightly.planner import plan, plan_warnings
from highseas.ruleset.model import Ruleset
from highseas.suggestions import did_you_mean

if TYPE_CHECKING:
    import duckdb


#: A duration leaf's text: "idle for 14 days >= 14 days (since ...)".
_DAYS = re.compile(r"^(?P<lead>\s*(?:idle for|no order for|owned for|in its stage for|created"
                   r"|last order won) )(?P<days>\d+) days(?P<ago> ago)?")


def projected_lines(lines: tuple[str, ...], as_of: date, projected_to: date) -> tuple[str, ...]:
    """A reminder's condition is evaluated as of the day it warns about:
    label its values as projected, beside today's ("idle for 11 days;
    projected 14 days on 2026-07-03 >= 14 days")."""
    shift = (projected_to - as_of).days

    def label(match: re.Match[str]) -> str:
        days = int(match["days"])
        ago = match["ago"] or ""
        return (f"{match['lead']}{days - shift} days{ago} today; "
                f"projected {days} days{ago} on {projected_to.isoformat()}")

    head = f"(evaluated as of the reminder's date {projected_to.isoformat()}, " \
        f"{shift} day{'s' if shift != 1 else ''} after {as_of.isoformat()})"
    return (head, *(_DAYS.sub(label, line, count=1) for line in lines))


@dataclass(frozen=True)
class RuleVerdict:
    point: str
    matched: bool
    lines: tuple[str, ...]


@dataclass(frozen=True)
class HistoryEvent:
    as_of: date | None
    action: str
    from_rep_id: str | None
    to_rep_id: str | None
    to_pool_id: str | None
    rule_id: str | None
    reason: str


@dataclass(frozen=True)
class Explanation:
    customer_id: str
    as_of: date
    facts: dict[str, Any]
    verdicts: tuple[RuleVerdict, ...]
    decisions: tuple[Decision, ...]
    skipped: tuple[Skip, ...]
    unassigned_reasons: tuple[str, ...]
    history: tuple[HistoryEvent, ...]
    #: What the facts do that the ruleset does not foresee (HS554).
    warnings: tuple[Diagnostic, ...] = ()

    def format_text(self) -> str:
        """The explanation as a salesperson or support agent reads it."""
        lines = [f"customer {self.customer_id} as of {self.as_of.isoformat()}", "", "facts:"]
        for key, value in self.facts.items():
            if key == "k":
                continue
            if key.endswith("_day") and isinstance(value, int):
                value = date.fromordinal(value).isoformat()
            lines.append(f"  {key}: {value}")
        lines += ["", "rules:"]
        for verdict in self.verdicts:
            lines.append(f"  {verdict.point}: {'MATCHED' if verdict.matched else 'not matched'}")
            lines.extend(f"    {line}" for line in verdict.lines)
        lines += ["", "decision:"]
        if not self.decisions:
            lines.append("  nothing happens to this customer in this run")
        for decision in self.decisions:
            lines.append(f"  {decision.action} ({decision.rule_id}): {decision.reason}")
        for reason in self.unassigned_reasons:
            lines.append(f"  stays unassigned: {reason}")
        if self.skipped:
            lines += ["", "salespeople considered and skipped:"]
            lines.extend(f"  {skip.rep_id}: {skip.reason}" for skip in self.skipped)
        lines += ["", "ownership history:"]
        if not self.history:
            lines.append("  no recorded ownership changes")
        for event in self.history:
            when = event.as_of.isoformat() if event.as_of else "?"
            lines.append(f"  {when} {event.action} ({event.rule_id}): {event.reason}")
        if self.warnings:
            lines += ["", "warnings:"]
            lines.extend(f"  {warning.format_text()}" for warning in self.warnings)
        return "\n".join(lines)


def explain_customer(
    con: duckdb.DuckDBPyConnection, ruleset: Ruleset, as_of: date, customer_id: str
) -> Explanation:
    """Plan the run for ``as_of`` and explain everything about one customer."""
    company = ruleset.company.id
    exists = con.execute(
        "SELECT 1 FROM customers WHERE company_id = ? AND customer_id = ?", [company, customer_id]
    ).fetchall()
    if not exists:
        nearby = [
            row[0]
            for row in con.execute(
                "SELECT customer_id FROM customers WHERE company_id = ? "
                "ORDER BY jaro_winkler_similarity(customer_id, ?) DESC LIMIT 20",
                [company, customer_id],
            ).fetchall()
        ]
        raise InvalidInputError(
            f"no customer {customer_id!r} in company {company}",
            code=codes.UNKNOWN_CUSTOMER,
            hint=did_you_mean(customer_id, nearby),
        )
    the_plan = plan(con, ruleset, as_of)
    evaluation = the_plan.extra["evaluation"]
    rows = derive.fetch_fact_rows(con, "hs_facts", "customer_id = ?", [customer_id])
    if not rows:
        raise InvalidInputError(
            f"customer {customer_id!r} did not exist yet on {as_of.isoformat()}",
            code=codes.CUSTOMER_NOT_YET
        )
    row = rows[0]
    verdicts = []
    for point in evaluation.compiled.points:
        matched = evaluation.holds(point.name, row["k"])
        tree = evaluation.compiled.explain(point.name, row)
        lines = tuple(tree.lines())
        if point.as_of != as_of:
            lines = projected_lines(lines, as_of, point.as_of)
        verdicts.append(RuleVerdict(point.name, matched, lines))
    history = tuple(
        HistoryEvent(*event)
        for event in con.execute(
            "SELECT as_of, action, from_rep_id, to_rep_id, to_pool_id, rule_id, reason "
            "FROM ownership_events WHERE company_id = ? AND customer_id = ? "
            'ORDER BY "at", event_id',
            [company, customer_id],
        ).fetchall()
    )
    return Explanation(
        customer_id=customer_id,
        as_of=as_of,
        facts=dict(row),
        verdicts=tuple(verdicts),
        decisions=the_plan.decisions_for(customer_id),
        skipped=the_plan.skipped_for(customer_id),
        unassigned_reasons=tuple(u.reason for u in the_plan.unassigned_for(customer_id)),
        history=history,
        warnings=plan_warnings(the_plan),
    )
