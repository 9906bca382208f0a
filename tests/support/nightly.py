"""Small builders for nightly-run tests: facts inserted into an in-memory store."""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from highseas.ruleset.loader import ruleset_from_document
from highseas.ruleset.model import Ruleset
from highseas.store.scratch import memory_db

ROOT = Path(__file__).resolve().parents[2]
RULESETS = ROOT / "rulesets"


def ruleset_with(name: str, change: Callable[[dict[str, Any]], None] | None = None) -> Ruleset:
    """An example ruleset, optionally changed as a plain document first."""
    document = yaml.safe_load((RULESETS / f"{name}.yaml").read_text(encoding="utf-8"))
    document = copy.deepcopy(document)
    if change is not None:
        change(document)
    digest = hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()
    ruleset, diagnostics = ruleset_from_document(document, {}, f"{name}.yaml", digest)
    errors = [d for d in diagnostics if d.is_error]
    assert ruleset is not None and not errors, [d.format_text() for d in errors]
    return ruleset


class Facts:
    """An in-memory store for one company, filled row by row."""

    def __init__(self, company_id: str, con: Any = None) -> None:
        self.company = company_id
        self.con = con if con is not None else memory_db()

    def reps(self, rows: Iterable[Mapping[str, Any]]) -> Facts:
        for row in rows:
            self.con.execute(
                "INSERT INTO reps (company_id, rep_id, name, hired_on, tier, regions, active, "
                "away_from, away_until, weight) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [self.company, row["rep_id"], row.get("name", row["rep_id"]), row["hired_on"],
                 row.get("tier"), row.get("regions", []), row.get("active", True),
                 row.get("away_from"), row.get("away_until"), row.get("weight")],
            )
        return self

    def customers(self, rows: Iterable[Mapping[str, Any]]) -> Facts:
        for row in rows:
            owner = row.get("owner")
            self.con.execute(
                "INSERT INTO customers (company_id, customer_id, name, country, region, source, "
                "stage, tags, level, attributes, created_at, owner_rep_id, pool_id, owned_since) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [self.company, row["customer_id"], row.get("name", row["customer_id"]),
                 row.get("country"), row.get("region"), row.get("source", "website"),
                 row.get("stage", "lead"), row.get("tags", []), row.get("level"),
                 json.dumps(row["attributes"]) if "attributes" in row else None,
                 row["created_at"], owner, row.get("pool_id"),
                 row.get("owned_since", row["created_at"]) if owner else None],
            )
        return self

    def activities(self, rows: Iterable[Mapping[str, Any]]) -> Facts:
        for row in rows:
            self.con.execute(
                'INSERT INTO activities (company_id, customer_id, rep_id, kind, "at") '
                "VALUES (?, ?, ?, ?, ?)",
                [self.company, row["customer_id"], row.get("rep_id"), row.get("kind", "call"),
                 row["at"]],
            )
        return self

    def orders(self, rows: Iterable[Mapping[str, Any]]) -> Facts:
        for row in rows:
            self.con.execute(
                "INSERT INTO orders (company_id, customer_id, rep_id, placed_at, amount, status) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [self.company, row["customer_id"], row.get("rep_id"), row["placed_at"],
                 row.get("amount", 100), row.get("status", "won")],
            )
        return self

    def owner_of(self, customer_id: str) -> tuple[str | None, str | None]:
        rows = self.con.execute(
            "SELECT owner_rep_id, pool_id FROM customers WHERE company_id = ? AND customer_id = ?",
            [self.company, customer_id],
        ).fetchall()
        return rows[0][0], rows[0][1]


def two_reps_one_owned_one_pooled(facts: Facts) -> Facts:
    """regional-trading's smallest world: anna (a veteran) owns ACME, ben is
    new, and one customer waits in the EMEA pool."""
    facts.reps([
        {"rep_id": "anna", "hired_on": "2020-01-01", "regions": ["emea"]},
        {"rep_id": "ben", "hired_on": "2026-03-01", "regions": ["emea"]},
    ])
    return facts.customers([
        {"customer_id": "acme", "name": "ACME GmbH", "country": "DE",
         "created_at": "2025-01-01", "owner": "anna", "owned_since": "2026-01-01"},
        {"customer_id": "pool1", "name": "Pool One", "country": "FR",
         "created_at": "2025-01-01", "pool_id": "emea-pool"},
    ])


# --- the invariants of the nightly run (docs/nightly-run.md, docs/allocation.md) ---
#
# Shared by tests/nightly/test_properties.py (one ruleset, many companies) and
# tests/robustness/test_fuzz.py (random valid rulesets): each night is planned
# and applied through ``checked_night``, which fails on any broken promise.

OwnerRow = tuple[str | None, str | None, Any]  # owner, pool, owned_since


def _owners(con: Any, company: str) -> dict[str, OwnerRow]:
    return {cid: (owner, pool, since) for cid, owner, pool, since in con.execute(
        "SELECT customer_id, owner_rep_id, pool_id, owned_since FROM customers "
        "WHERE company_id = ?", [company]).fetchall()}


def _table_counts(con: Any, company: str) -> tuple[int, ...]:
    return tuple(con.execute(f"SELECT count(*) FROM {table} WHERE company_id = ?",
                             [company]).fetchall()[0][0]
                 for table in ("ownership_events", "notifications", "runs", "relay_state"))


def _customer_ids(con: Any, table: str, where: str, params: list[Any]) -> set[str]:
    return {cid for (cid,) in con.execute(
        f"SELECT customer_id FROM {table} WHERE {where}", params).fetchall()}


def check_candidate_filter(con: Any, ruleset: Ruleset, as_of: Any) -> None:
    """The SQL candidate filter changes no verdict: durable-rules on every
    customer matches exactly the customers the filter selects, per point."""
    from highseas.compile.durable import decide
    from highseas.nightly import facts as derive
    from highseas.nightly.verdicts import evaluate_ruleset

    table = derive.materialize_customer_facts(con, ruleset, as_of, ruleset.company.id)
    filtered = evaluate_ruleset(con, ruleset, as_of, table)
    rows = derive.fetch_fact_rows(con, table)
    if not rows:
        return
    everyone = decide(filtered.compiled, rows)  # durable-rules on every customer
    for name in filtered.compiled.names:
        assert filtered.matched(name) == everyone[name], name


def checked_night(con: Any, ruleset: Ruleset, as_of: Any) -> Any:
    """Plan and apply the night of ``as_of`` for the ruleset's company,
    asserting every invariant the nightly run promises; returns the plan."""
    from highseas.nightly import facts as derive
    from highseas.nightly.apply import apply_plan
    from highseas.nightly.planner import plan

    company = ruleset.company.id
    owners = _owners(con, company)
    reps = {rep.rep_id: rep for rep in derive.rep_facts(con, ruleset, as_of, company)}
    cooldowns = derive.cooldowns(con, ruleset, as_of, company)
    relays = {cid: (holder, tuple(tried)) for cid, holder, tried in con.execute(
        "SELECT customer_id, rep_id, reps_tried FROM relay_state WHERE company_id = ?",
        [company]).fetchall()}
    # customers in a relay in progress: the holder still owns them
    in_relay = {cid for cid, (holder, _) in relays.items() if owners[cid][0] == holder}

    the_plan = plan(con, ruleset, as_of)
    # read from the plan's own facts (hs_facts) before anything re-derives them
    open_orders = _customer_ids(con, "hs_facts", "open_orders > 0", [])
    evaluation = the_plan.extra["evaluation"]
    protected = {cap.tier: _customer_ids(con, "hs_facts", *evaluation.where(f"protect:{cap.tier}"))
                 for cap in ruleset.caps.private if cap.protect is not None}
    assert plan(con, ruleset, as_of).to_json() == the_plan.to_json(), \
        "the same inputs give the same plan"
    _check_decisions(the_plan, ruleset, owners, reps, cooldowns, relays, in_relay, open_orders,
                     protected)

    result = apply_plan(con, the_plan)
    assert result.applied, result.message
    _check_applied(con, the_plan, result.run_id, owners)
    touched = {d.customer_id for d in the_plan.decisions if d.action != "remind"}
    _check_caps(con, ruleset, as_of, the_plan, touched | in_relay, open_orders, protected)

    # applying the same date again changes nothing: no owner, event or notification
    state = _owners(con, company), _table_counts(con, company)
    again = apply_plan(con, plan(con, ruleset, as_of))
    assert not again.applied and (_owners(con, company), _table_counts(con, company)) == state, \
        "applying twice equals applying once"
    return the_plan


def _check_decisions(the_plan: Any, ruleset: Ruleset, owners: Mapping[str, OwnerRow],
                     reps: Mapping[str, Any], cooldowns: Mapping[str, Mapping[str, Any]],
                     relays: Mapping[str, tuple[str, tuple[str, ...]]], in_relay: set[str],
                     open_orders: set[str], protected: Mapping[str, set[str]]) -> None:
    from highseas.nightly.plan import OWNERSHIP_ACTIONS

    decisions = list(the_plan.decisions)
    changed = [d.customer_id for d in decisions if d.action in OWNERSHIP_ACTIONS]
    assert len(changed) == len(set(changed)), "one ownership change per customer per run"
    reminded = [d.customer_id for d in decisions if d.action == "remind"]
    others = {d.customer_id for d in decisions if d.action != "remind"}
    assert len(reminded) == len(set(reminded)), "one reminder per customer per run"
    assert not set(reminded) & others, "reminders only for customers nothing else happened to"

    release_rules = {r.id for r in ruleset.release_rules}
    relay_by_id = {r.id: r for r in ruleset.relays}
    allocations = {a.id: a for a in ruleset.allocations}
    caps = {f"caps.private.{c.tier}": c for c in ruleset.caps.private}
    pools = {p.id for p in ruleset.pools}
    cites = {"release": release_rules | set(relay_by_id), "remind": release_rules,
             "trim": set(caps), "assign": set(allocations), "relay": set(relay_by_id),
             "relay_end": set(relay_by_id)}
    per_run: dict[tuple[str, str], int] = {}
    for d in decisions:
        assert d.reason and d.rule_id in cites[d.action], d  # cites a rule of its kind
        owner = owners[d.customer_id][0]
        assert d.from_rep_id == owner, d  # from whoever owned it when the run started
        if d.action == "remind":
            assert owner is not None and d.to_rep_id == owner and d.days_left is not None, d
        if d.action in ("release", "trim") and d.to_rep_id is None:
            assert d.to_pool_id in pools, d
        if d.action == "release" and d.rule_id in release_rules:
            assert d.customer_id not in in_relay, f"released while in a relay: {d}"
        if d.action == "trim":
            cap = caps[d.rule_id]
            assert reps[d.from_rep_id].tier == cap.tier, d
            assert d.customer_id not in open_orders, f"trimmed with an open order: {d}"
            assert d.customer_id not in protected.get(cap.tier, ()), f"trimmed, protected: {d}"
            assert d.customer_id not in in_relay, f"trimmed while in a relay: {d}"
        if d.action == "assign":
            assert owner is None, f"assigned a customer that was not in the high seas: {d}"
            per_run[d.rule_id, d.to_rep_id] = per_run.get((d.rule_id, d.to_rep_id), 0) + 1
        if d.action == "relay":
            tried = relays.get(d.customer_id, (None, ()))[1]
            assert d.to_rep_id not in tried, f"relayed to the same salesperson twice: {d}"
        if d.action not in ("assign", "relay", "trim") or d.to_rep_id is None:
            continue
        # a receiver: eligible, never the loser, never in cooldown for the customer
        assert d.to_rep_id != owner, d
        tiers = (allocations[d.rule_id].tiers if d.action == "assign"
                 else relay_by_id[d.rule_id].tiers if d.action == "relay"
                 else caps[d.rule_id].excess_tiers)
        rep = reps[d.to_rep_id]
        assert rep.tier in tiers and rep.active and not rep.away, (d, rep)
        assert d.to_rep_id not in cooldowns.get(d.customer_id, {}), f"in cooldown: {d}"
    for (allocation_id, rep_id), count in per_run.items():
        limit = allocations[allocation_id].max_per_rep_per_run
        assert limit is None or count <= limit, f"{rep_id} got {count} from {allocation_id}"
    for item in the_plan.unassigned:
        assert item.reason and item.rule_id, item  # why nobody received it


def _check_applied(con: Any, the_plan: Any, run_id: str,
                   before: Mapping[str, OwnerRow]) -> None:
    """The audit trail, the owners and the notifications say what the plan said."""
    from highseas.nightly.plan import OWNERSHIP_ACTIONS

    company = the_plan.company_id
    changes = [d for d in the_plan.decisions if d.action in OWNERSHIP_ACTIONS]
    events = con.execute(
        "SELECT customer_id, rule_id, action, from_rep_id, to_rep_id, to_pool_id "
        "FROM ownership_events WHERE company_id = ? AND run_id = ?", [company, run_id]
    ).fetchall()
    assert sorted(events) == sorted((d.customer_id, d.rule_id, d.action, d.from_rep_id,
                                     d.to_rep_id, d.to_pool_id) for d in changes)
    after = _owners(con, company)
    expected = dict(before)
    for d in changes:
        expected[d.customer_id] = (d.to_rep_id, None if d.to_rep_id else d.to_pool_id,
                                   after[d.customer_id][2] if d.to_rep_id else None)
    assert after == expected, "changed customers as decided, every other one untouched"
    for d in changes:
        if d.to_rep_id:
            assert after[d.customer_id][2].date() == the_plan.as_of, d  # owned since tonight
    notified = con.execute(
        "SELECT customer_id, rule_id, rep_id FROM notifications WHERE company_id = ? "
        "AND run_id = ?", [company, run_id]).fetchall()
    assert sorted(notified) == sorted((d.customer_id, d.rule_id, d.to_rep_id)
                                      for d in the_plan.decisions if d.action == "remind")


def _check_caps(con: Any, ruleset: Ruleset, as_of: Any, the_plan: Any, untrimmable: set[str],
                open_orders: set[str], protected: Mapping[str, set[str]]) -> None:
    """After the run nobody is above a cap. A private cap may stay exceeded
    only by customers the trim may not take (docs/nightly-run.md: an open
    order, the cap's ``protect``, changed tonight or in a relay); nobody who
    received a customer tonight is above their private or claim caps."""
    from highseas.nightly import facts as derive

    company = ruleset.company.id
    private = {cap.tier: cap.max for cap in ruleset.caps.private}
    claims = {cap.tier: cap for cap in ruleset.caps.claims}
    receivers = {d.to_rep_id for d in the_plan.decisions
                 if d.action in ("assign", "relay", "trim") and d.to_rep_id}
    held: dict[str, set[str]] = {}
    for cid, (owner, _, _) in _owners(con, company).items():
        if owner is not None:
            held.setdefault(owner, set()).add(cid)
    for rep in derive.rep_facts(con, ruleset, as_of, company):
        cap = private.get(rep.tier or "")
        if cap is not None and rep.private_count > cap:
            assert rep.rep_id not in receivers, f"received above the private cap: {rep}"
            kept = held[rep.rep_id] - untrimmable - open_orders - protected.get(rep.tier, set())
            assert not kept, f"{rep.rep_id} above the cap of {cap} keeps trimmable {kept}"
        claim = claims.get(rep.tier or "")
        if claim is not None and rep.rep_id in receivers:
            for count, limit in ((rep.claims_today, claim.per_day),
                                 (rep.claims_week, claim.per_week),
                                 (rep.claims_month, claim.per_month)):
                assert limit is None or count <= limit, f"above a claim cap: {rep}"
