"""Metrics of simulated scenarios, as plain tables (lists of row dicts).

Every table has a ``scenario`` column so that scenarios sit side by side;
:func:`to_arrow` turns a table into a ``pyarrow.Table`` (DataFrame-friendly:
``.to_pandas()`` where pandas is installed, ``.to_pylist()`` everywhere).
The definitions are in docs/simulation.md. After a warm-up only the days
from its end count (:func:`counted`).
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from highseas.nightly import facts as derive
from highseas.ruleset.model import Ruleset
from highseas.simulate.replay import EVENT_COLUMNS, ReplayLog
from highseas.store.db import registered

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

Row = dict[str, Any]

#: Metrics of the side-by-side summary, in display order, with a label.
SUMMARY_METRICS: tuple[tuple[str, str], ...] = (
    ("customers_released", "customers released"),
    ("release_events", "releases (events)"),
    ("reminders", "reminders sent"),
    ("trims", "trims (private caps)"),
    ("assignments", "assignments"),
    ("relays_started", "relays started"),
    ("relays_contacted", "relays ended by a contact"),
    ("relays_to_pool", "relays back to a pool"),
    ("claims_back", "claimed back by the old owner"),
    ("lost_touches", "lost touches"),
    ("invented_contacts", "contacts by the behaviour model"),
    ("high_seas_end", "high seas at the end"),
    ("high_seas_mean", "high seas, daily mean"),
    ("private_end", "private customers at the end"),
    ("released_then_ordered", "released, then ordered"),
    ("released_then_ordered_amount", "their order amount"),
    ("assign_gini", "assignment Gini"),
    ("assign_max_min", "assignments max/min"),
    ("first_contact_n", "assigned, then contacted"),
    ("first_contact_median_days", "days to first contact (median)"),
)
#: The metric tables written as CSV and Parquet, in order.
TABLES = ("summary", "daily", "pool_size", "releases", "assignments", "fairness", "relays",
          "released_then_ordered", "first_contact")


@dataclass
class ScenarioContext:
    """Facts of one scenario's copy the metrics need, read after the replay."""

    name: str
    ruleset: Ruleset
    start: date
    end: date
    log: ReplayLog
    regions: dict[str, str | None] = field(default_factory=dict)
    reps: list[tuple[str, str | None, bool]] = field(default_factory=list)  # id, tier, active
    orders: list[tuple[str, str | None, datetime, float | None]] = field(default_factory=list)
    first_contacts: list[Row] = field(default_factory=list)


def counted(log: ReplayLog, start: date) -> ReplayLog:
    """The part of ``log`` the metrics count: its days and events from
    ``start`` on (the days before are a warm-up: replayed, not counted)."""
    if not log.days or log.days[0].day >= start:
        return log
    return ReplayLog(days=[d for d in log.days if d.day >= start],
                     events=[e for e in log.events if e[0] >= start],
                     plans=[p for p in log.plans if p.as_of >= start])


@dataclass(frozen=True)
class CopyFacts:
    """What the metrics read of a copy whatever the scenario did to its
    ownership: each customer's region, the salespeople (id, tier, active)
    and the orders."""

    regions: dict[str, str | None]
    reps: list[tuple[str, str | None, bool]]
    orders: list[tuple[str, str | None, datetime, float | None]]


def read_copy_facts(con: duckdb.DuckDBPyConnection, ruleset: Ruleset, end: date) -> CopyFacts:
    """:class:`CopyFacts` of the copy ``con`` on ``end`` (scenarios whose
    rulesets derive the same facts, replayed from one copy, share them)."""
    company = ruleset.company.id
    facts = derive.materialize_customer_facts(con, ruleset, end, company)
    return CopyFacts(
        regions=dict(con.execute(f"SELECT customer_id, region FROM {facts}").fetchall()),
        reps=[(r.rep_id, r.tier, r.active) for r in derive.rep_facts(con, ruleset, end, company)],
        orders=[
            (cid, rep, placed, float(amount) if amount is not None else None)
            for cid, rep, placed, amount in con.execute(
                "SELECT customer_id, rep_id, placed_at, amount FROM orders "
                "WHERE company_id = ? AND status <> 'lost' ORDER BY customer_id, placed_at",
                [company],
            ).fetchall()
        ])


def collect_context(con: duckdb.DuckDBPyConnection, name: str, ruleset: Ruleset, start: date,
                    end: date, log: ReplayLog, copy_facts: CopyFacts | None = None
                    ) -> ScenarioContext:
    """Read regions, reps, orders (``copy_facts``: already read) and first
    contacts from the scenario's copy."""
    facts = copy_facts if copy_facts is not None else read_copy_facts(con, ruleset, end)
    context = ScenarioContext(name, ruleset, start, end, log, regions=facts.regions,
                              reps=facts.reps, orders=facts.orders)
    context.first_contacts = _first_contacts(con, ruleset.company.id, end, log)
    return context


def _first_contacts(con: duckdb.DuckDBPyConnection, company: str, end: date,
                    log: ReplayLog) -> list[Row]:
    pairs = [(e[2], e[5], e[0]) for e in log.events if e[1] in ("assign", "relay") and e[5]]
    if not pairs:
        return []
    import pyarrow as pa

    table = pa.table({"customer_id": [p[0] for p in pairs], "rep_id": [p[1] for p in pairs],
                      "assigned_on": [p[2] for p in pairs]})
    with registered(con, "hs_sim_assigned", table):
        rows = con.execute(
            """
            SELECT s.customer_id, s.rep_id, s.assigned_on, min(a."at") AS first_at
            FROM hs_sim_assigned s JOIN activities a
              ON a.company_id = ? AND a.customer_id = s.customer_id AND a.rep_id = s.rep_id
             AND a."at" >= s.assigned_on + INTERVAL 1 DAY AND a."at" < ?
            GROUP BY 1, 2, 3 ORDER BY 3, 1, 2
            """,
            [company, end + timedelta(days=1)],
        ).fetchall()
    return [{"customer_id": c, "rep_id": r, "assigned_on": d, "first_contact_at": at,
             "days_to_first_contact": (at.date() - d).days} for c, r, d, at in rows]


def gini(values: Sequence[float]) -> float:
    """The Gini coefficient of non-negative ``values`` (0: all equal)."""
    xs = sorted(values)
    n = len(xs)
    total = sum(xs)
    if n == 0 or total == 0:
        return 0.0
    weighted = sum((i + 1) * x for i, x in enumerate(xs))
    return round((2 * weighted) / (n * total) - (n + 1) / n, 4)


@lru_cache(maxsize=64)
def _periods(start: date, end: date) -> tuple[int, int, int]:
    """Days, ISO weeks and calendar months from ``start`` to ``end``."""
    days = (end - start).days + 1
    dates = [start + timedelta(days=i) for i in range(days)]
    weeks = len({day.isocalendar()[:2] for day in dates})
    months = len({(day.year, day.month) for day in dates})
    return days, weeks, months


def _capacity(ruleset: Ruleset, tier: str | None, start: date, end: date) -> int | None:
    cap = next((c for c in ruleset.caps.claims if c.tier == tier), None)
    if cap is None:
        return None
    days, weeks, months = _periods(start, end)
    limits = [n * per for n, per in ((days, cap.per_day), (weeks, cap.per_week),
                                     (months, cap.per_month)) if per is not None]
    return min(limits) if limits else None


def _events(log: ReplayLog) -> list[Row]:
    return [dict(zip(EVENT_COLUMNS, e, strict=True)) for e in log.events]


def scenario_tables(ctx: ScenarioContext) -> dict[str, list[Row]]:
    """Every metric table of one scenario (the summary included)."""
    name = ctx.name
    events = _events(ctx.log)
    relay_ids = {r.id for r in ctx.ruleset.relays}
    tables: dict[str, list[Row]] = {t: [] for t in TABLES}

    for state in ctx.log.days:
        c = state.counts
        tables["daily"].append({
            "scenario": name, "day": state.day, "released": c.get("release", 0),
            "trimmed": c.get("trim", 0), "reminders": c.get("remind", 0),
            "assigned": c.get("assign", 0), "relayed": c.get("relay", 0),
            "relay_contacted": c.get("relay_end", 0), "unassigned": c.get("unassigned", 0),
            "claims_back": state.claims_back, "lost_touches": state.lost_touches,
            "invented_contacts": state.invented_contacts,
            "high_seas": state.high_seas, "private": state.private,
        })
        for pool, size in sorted(state.pools.items()):
            tables["pool_size"].append({"scenario": name, "day": state.day, "pool_id": pool,
                                        "size": size})

    releases: Counter[tuple[str, str, str, str]] = Counter()
    first_release: dict[str, Row] = {}
    for e in events:
        if e["action"] != "release":
            continue
        region = ctx.regions.get(e["customer_id"])
        releases[(e["rule_id"], e["to_pool_id"] or "", region or "", e["from_rep_id"] or "")] += 1
        first_release.setdefault(e["customer_id"], e)
    tables["releases"] = [
        {"scenario": name, "rule_id": rule, "pool_id": pool or None, "region": region or None,
         "rep_id": rep or None, "customers": n}
        for (rule, pool, region, rep), n in sorted(releases.items())
    ]

    received: dict[str, Counter[str]] = defaultdict(Counter)
    for e in events:
        if e["to_rep_id"] and e["action"] in ("assign", "relay", "trim", "claim_back"):
            received[e["to_rep_id"]][e["action"]] += 1
    rows: list[Row] = []
    population: list[int] = []
    fallback: list[int] = []
    shares: list[float] = []
    eligible_tiers = {t for a in ctx.ruleset.allocations for t in a.tiers}
    eligible_tiers |= {t for r in ctx.ruleset.relays for t in r.tiers}
    for rep_id, tier, active in ctx.reps:
        got = received.get(rep_id, Counter())
        total = got["assign"] + got["relay"] + got["trim"]
        cap = _capacity(ctx.ruleset, tier, ctx.start, ctx.end)
        share = round(total / cap, 4) if cap else None
        if active:
            fallback.append(total)
            if tier in eligible_tiers:
                population.append(total)
            if share is not None:
                shares.append(share)
        rows.append({
            "scenario": name, "rep_id": rep_id, "tier": tier, "active": active,
            "assigned": got["assign"], "relayed": got["relay"], "trimmed_in": got["trim"],
            "claims_back": got["claim_back"], "received": total, "cap": cap,
            "share_of_cap_used": share,
        })
    tables["assignments"] = rows
    population = population or fallback
    low = min(population) if population else 0
    high = max(population) if population else 0
    fairness: Row = {
        "scenario": name, "reps": len(population), "received": sum(population),
        "mean": round(statistics.fmean(population), 3) if population else 0.0,
        "min": low, "max": high,
        "max_min_ratio": round(high / low, 3) if low else None,
        "gini": gini(population),
        "mean_share_of_cap_used": round(statistics.fmean(shares), 4) if shares else None,
    }
    tables["fairness"] = [fairness]

    relay_rows: dict[str, Counter[str]] = defaultdict(Counter)
    for e in events:
        if e["rule_id"] not in relay_ids:
            continue
        if e["action"] == "relay":
            relay_rows[e["rule_id"]]["started" if e["relay_round"] == 1 else "passed_on"] += 1
        elif e["action"] == "relay_end":
            relay_rows[e["rule_id"]]["contacted"] += 1
        elif e["action"] == "release":
            relay_rows[e["rule_id"]]["to_pool"] += 1
    tables["relays"] = [
        {"scenario": name, "relay_id": relay.id, "started": relay_rows[relay.id]["started"],
         "passed_on": relay_rows[relay.id]["passed_on"],
         "contacted": relay_rows[relay.id]["contacted"],
         "to_pool": relay_rows[relay.id]["to_pool"]}
        for relay in ctx.ruleset.relays
    ]

    orders_by_customer: dict[str, list[tuple[str | None, datetime, float | None]]] = (
        defaultdict(list))
    for cid, rep, placed, amount in ctx.orders:
        orders_by_customer[cid].append((rep, placed, amount))
    for cid, release in sorted(first_release.items(), key=lambda kv: (kv[1]["day"], kv[0])):
        after = release["day"] + timedelta(days=1)
        later = [o for o in orders_by_customer.get(cid, []) if o[1].date() >= after]
        if not later:
            continue
        rep, placed, _amount = later[0]
        tables["released_then_ordered"].append({
            "scenario": name, "customer_id": cid, "rule_id": release["rule_id"],
            "released_on": release["day"], "from_rep_id": release["from_rep_id"],
            "order_placed_at": placed, "days_after_release": (placed.date() - release["day"]).days,
            "orders": len(later), "amount": round(sum(o[2] or 0.0 for o in later), 2),
            "order_rep_id": rep, "ordered_with_old_owner": rep == release["from_rep_id"],
        })

    tables["first_contact"] = [{"scenario": name, **row} for row in ctx.first_contacts]

    days = ctx.log.days
    contact_days = [r["days_to_first_contact"] for r in ctx.first_contacts]
    values: dict[str, Any] = {
        "customers_released": len(first_release),
        "release_events": sum(1 for e in events if e["action"] == "release"),
        "reminders": sum(d.counts.get("remind", 0) for d in days),
        "trims": sum(1 for e in events if e["action"] == "trim"),
        "assignments": sum(1 for e in events if e["action"] == "assign"),
        "relays_started": sum(r["started"] for r in tables["relays"]),
        "relays_contacted": sum(r["contacted"] for r in tables["relays"]),
        "relays_to_pool": sum(r["to_pool"] for r in tables["relays"]),
        "claims_back": sum(d.claims_back for d in days),
        "lost_touches": sum(d.lost_touches for d in days),
        "invented_contacts": sum(d.invented_contacts for d in days),
        "high_seas_end": days[-1].high_seas if days else 0,
        "high_seas_mean": round(statistics.fmean(d.high_seas for d in days), 1) if days else 0,
        "private_end": days[-1].private if days else 0,
        "released_then_ordered": len(tables["released_then_ordered"]),
        "released_then_ordered_amount": round(
            sum(r["amount"] for r in tables["released_then_ordered"]), 2),
        "assign_gini": fairness["gini"],
        "assign_max_min": fairness["max_min_ratio"],
        "first_contact_n": len(contact_days),
        "first_contact_median_days": statistics.median(contact_days) if contact_days else None,
    }
    tables["summary"] = [{"scenario": name, "metric": key, "label": label, "value": values[key]}
                         for key, label in SUMMARY_METRICS]
    return tables


def merge(per_scenario: Iterable[dict[str, list[Row]]]) -> dict[str, list[Row]]:
    """Concatenate the tables of several scenarios."""
    merged: dict[str, list[Row]] = {t: [] for t in TABLES}
    for tables in per_scenario:
        for name in TABLES:
            merged[name].extend(tables.get(name, []))
    return merged


def side_by_side(summary: list[Row], scenarios: Sequence[str]) -> list[Row]:
    """One row per metric: the baseline's value, each scenario's, and the
    difference to the baseline (numbers only)."""
    by_metric: dict[str, dict[str, Any]] = defaultdict(dict)
    labels: dict[str, str] = {}
    for row in summary:
        by_metric[row["metric"]][row["scenario"]] = row["value"]
        labels[row["metric"]] = row["label"]
    out = []
    base = scenarios[0]
    for key, label in SUMMARY_METRICS:
        if key not in by_metric:
            continue
        values = by_metric[key]
        line: Row = {"metric": key, "label": labels.get(key, label)}
        for scenario in scenarios:
            line[scenario] = values.get(scenario)
            if scenario != base:
                line[f"{scenario} diff"] = _diff(values.get(scenario), values.get(base))
        out.append(line)
    return out


def _diff(value: Any, base: Any) -> Any:
    if isinstance(value, int | float) and isinstance(base, int | float):
        result = value - base
        return round(result, 4) if isinstance(result, float) else result
    return None


def to_arrow(rows: list[Row], name: str = "") -> pa.Table:
    """A list of row dicts as a ``pyarrow.Table`` (empty tables keep a ``scenario`` column)."""
    import pyarrow as pa

    if not rows:
        return pa.table({"scenario": pa.array([], type=pa.string())})
    columns: dict[str, list[Any]] = {key: [] for key in rows[0]}
    for row in rows:
        for key in columns:
            columns[key].append(row.get(key))
    return pa.table(columns)
