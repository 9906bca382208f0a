"""Human-readable summaries of a plan and plan files (json, csv, parquet)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from highseas.errors import InvalidInputError
from highseas.nightly.plan import Plan

PLAN_COLUMNS = (
    "customer_id", "action", "rule_id", "from_rep_id", "to_rep_id", "from_pool_id",
    "to_pool_id", "reason", "customer_name", "days_left", "due_on", "reminder_offset",
    "relay_round",
)


def format_summary(plan: Plan, *, limit: int = 10) -> str:
    """The nightly run's summary: releases per rule and pool, trims per
    salesperson, assignments per salesperson, reminders, relays, unassigned."""
    lines = [
        f"highseas run for {plan.company_id} as of {plan.as_of.isoformat()} "
        f"(ruleset {plan.ruleset_hash[:12] or 'in memory'})",
        f"  customers evaluated: {plan.evaluated_customers}",
    ]

    def section(title: str, counter: Counter[str]) -> None:
        total = sum(counter.values())
        lines.append(f"  {title}: {total}")
        for key, count in sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]:
            lines.append(f"    {key}: {count}")
        if len(counter) > limit:
            lines.append(f"    ... and {len(counter) - limit} more")

    section(
        "releases",
        Counter(f"{d.rule_id} -> {d.to_pool_id}" for d in plan.by_action("release")),
    )
    section("reminders", Counter(d.rule_id for d in plan.by_action("remind")))
    section("trims", Counter(f"{d.from_rep_id} ({d.rule_id})" for d in plan.by_action("trim")))
    section("assignments", Counter(d.to_rep_id or "" for d in plan.by_action("assign")))
    section(
        "relays",
        Counter(f"{d.rule_id} round {d.relay_round}" for d in plan.by_action("relay")),
    )
    section("relays ended by a contact", Counter(d.rule_id for d in plan.by_action("relay_end")))
    section("unassigned", Counter(u.reason for u in plan.unassigned))
    return "\n".join(lines)


def write_plan(plan: Plan, output: Path) -> None:
    """Write the decisions as JSON (an object with a ``decisions`` list), CSV or
    Parquet, chosen by the file's suffix. Written to a temp file, then renamed."""
    suffix = output.suffix.lower()
    if suffix not in (".json", ".csv", ".parquet"):
        raise InvalidInputError(
            f"cannot write a plan as {suffix or 'a file without suffix'}",
            code="HS530",
            file=str(output),
            hint="use a .json, .csv or .parquet file name",
        )
    tmp = output.with_name(output.name + ".tmp")
    if suffix == ".json":
        tmp.write_text(plan.to_json(), encoding="utf-8")
    else:
        import pyarrow as pa

        rows = [d.to_dict() for d in plan.decisions]
        table = pa.table({c: [row[c] for row in rows] for c in PLAN_COLUMNS})
        if suffix == ".csv":
            import pyarrow.csv as pacsv

            pacsv.write_csv(table, tmp)
        else:
            import pyarrow.parquet as pq

            pq.write_table(table, tmp)
    tmp.replace(output)
