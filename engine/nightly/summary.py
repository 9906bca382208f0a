"""The nightly run's summary: what ``highseas run`` prints about a plan.

Counted from the plan's Arrow tables with group-bys, never by turning the
decisions into Python objects: a night of a million customers is summarised
from a few hundred grouped rows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from highseas.nightly.plan import Plan
from highseas.nightly.planner import plan_warnings

if TYPE_CHECKING:
    import pyarrow as pa

#: (title, action, grouping columns, how a group is named) of each section.
_Section = tuple[str, str, tuple[str, ...], Callable[[dict[str, Any]], str]]
SECTIONS: tuple[_Section, ...] = (
    ("releases", "release", ("rule_id", "to_pool_id"),
     lambda g: f"{g['rule_id']} -> {g['to_pool_id']}"),
    ("reminders", "remind", ("rule_id",), lambda g: f"{g['rule_id']}"),
    ("trims", "trim", ("from_rep_id", "rule_id"),
     lambda g: f"{g['from_rep_id']} ({g['rule_id']})"),
    ("assignments", "assign", ("to_rep_id",), lambda g: g["to_rep_id"] or ""),
    ("relays", "relay", ("rule_id", "relay_round"),
     lambda g: f"{g['rule_id']} round {g['relay_round']}"),
    ("relays ended by a contact", "relay_end", ("rule_id",), lambda g: f"{g['rule_id']}"),
)


def format_summary(plan: Plan, *, limit: int = 10) -> str:
    """The nightly run's summary: releases per rule and pool, trims per
    salesperson, assignments per salesperson, reminders, relays, unassigned,
    and the warnings about the facts (:func:`plan_warnings`), if any."""
    lines = [
        f"highseas run for {plan.company_id} as of {plan.as_of.isoformat()} "
        f"(ruleset {plan.ruleset_hash[:12] or 'in memory'})",
        f"  customers evaluated: {plan.evaluated_customers}",
    ]
    decisions = plan.decision_records().table
    for title, action, columns, name in SECTIONS:
        counts = _group_counts(_of_action(decisions, action), columns, name)
        lines.extend(_section(title, counts, limit))
    lines.extend(_unassigned_section(plan, limit))
    warnings = plan_warnings(plan)
    if warnings:
        lines.append(f"  warnings: {len(warnings)}")
        lines.extend(f"    {warning.format_text()}" for warning in warnings)
    return "\n".join(lines)


def _unassigned_section(plan: Plan, limit: int) -> list[str]:
    """Customers left in their pool, each counted once, and per reason the
    customers that got it. A customer several allocations tried may have a
    reason from each: a closing note says how many are counted more than once."""
    table = plan.left_unassigned().table
    customers = plan.unassigned_customers()
    pairs = table.select(["reason", "customer_id"]).group_by(
        ["reason", "customer_id"], use_threads=False).aggregate([])
    per_reason = _group_counts(pairs, ("reason",), lambda g: g["reason"])
    lines = _section("unassigned", per_reason, limit)
    lines[0] = f"  unassigned: {customers}"
    several = _more_than_once(pairs, "customer_id")
    if several:
        lines.append(f"    ({several} of these customers are counted under more than one "
                     "reason: allocations tried them in turn)")
    return lines


def _more_than_once(table: pa.Table, column: str) -> int:
    """How many values of ``column`` occur in more than one row."""
    import pyarrow.compute as pc

    counts = table.group_by([column], use_threads=False).aggregate([([], "count_all")])
    return int(pc.sum(pc.greater(counts.column("count_all"), 1)).as_py() or 0)


def _of_action(table: pa.Table, action: str) -> pa.Table:
    import pyarrow.compute as pc

    return table.filter(pc.equal(table.column("action"), action))


def _group_counts(
    table: pa.Table, columns: Sequence[str], name: Callable[[dict[str, Any]], str]
) -> dict[str, int]:
    """Rows per group of ``columns``, each group under the name it prints as."""
    counts: dict[str, int] = {}
    if table.num_rows == 0:
        return counts
    grouped = table.select(list(columns)).group_by(list(columns), use_threads=False)
    for group in grouped.aggregate([([], "count_all")]).to_pylist():
        key = name(group)
        counts[key] = counts.get(key, 0) + int(group["count_all"])
    return counts


def _section(title: str, counts: dict[str, int], limit: int) -> list[str]:
    lines = [f"  {title}: {sum(counts.values())}"]
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    lines.extend(f"    {key}: {count}" for key, count in ranked[:limit])
    if len(counts) > limit:
        lines.append(f"    ... and {len(counts) - limit} more")
    return lines
