"""The nightly run's decisions: from derived facts and rule verdicts to a Plan.

Precedence (docs/nightly-run.md), one ownership change per customer per run:

1. Relays in progress: a contact by the holder ends the relay (the customer
   stays); a missed deadline passes the customer to the next salesperson, or
   after the last round to the relay's pool.
2. New relays: dormant customers matching a relay start round 1.
3. Release rules, in ruleset order: the first rule that matches (its ``when``
   holds and its ``unless`` exemption does not) releases the customer.
   Exemptions beat everything for their rule; customers in a relay are not
   released by release rules.
4. Private caps: salespeople above their tier's cap lose the excess.
5. Reminders, for customers not changed in this run: the first rule (in
   order) that would release the customer within one of its reminder
   offsets reminds the owner once per offset and release date.
6. Allocation: customers that were in the high seas when the run started are
   assigned by each allocation scheduled for the as-of weekday, in order.
   Customers released in this run wait for the next run.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from engine import coverage, derive, ir
from engine.allocate import (
    AllocationResult,
    Assignment,
    AssignRequest,
    RepSnapshot,
    allocate,
    daily_quota,
    relay_allocation,
    static_skip_reason,
)
from engine.allocate import Unassigned as AllocationUnassigned
from engine.model import Allocation, PoolTarget, Ruleset
from engine.plan_model import Decision, Plan, RelayStateRow, Unassigned

if TYPE_CHECKING:
    import duckdb

#: Fact columns every planning step reads.
BASE_COLUMNS = ("k", "customer_id", "owner_rep_id", "pool_id", "region", "name")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass
class _Load:
    """Running counters of one salesperson during planning."""

    private: int
    today: int
    week: int
    month: int
    last30: int
    received_this_run: int = 0


def plan(
    con: duckdb.DuckDBPyConnection,
    ruleset: Ruleset,
    as_of: date,
    *,
    company_id: str | None = None,
) -> Plan:
    """Decide everything the nightly run does for ``as_of``; writes nothing
    but temporary tables."""
    from engine.evaluate import evaluate_ruleset

    company = company_id or ruleset.company.id
    facts_table = derive.materialize_customer_facts(con, ruleset, as_of, company)
    evaluation = evaluate_ruleset(con, ruleset, as_of, facts_table)
    planner = _Planner(con, ruleset, as_of, company, facts_table, evaluation)
    result = planner.run()
    result.extra["evaluation"] = evaluation
    return result


class _Planner:
    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        ruleset: Ruleset,
        as_of: date,
        company_id: str,
        facts_table: str,
        evaluation: Any,
    ) -> None:
        self.con = con
        self.ruleset = ruleset
        self.as_of = as_of
        self.company_id = company_id
        self.facts_table = facts_table
        self.evaluation = evaluation
        self.decisions: list[Decision] = []
        self.unassigned: list[Unassigned] = []
        self.skipped: dict[str, list[tuple[str, str]]] = {}
        self.changed: set[str] = set()
        self.exercised: set[str] = set()
        self._pools_by_region: dict[str | None, str] = {}
        self.relay_upserts: list[RelayStateRow] = []
        self.relay_deletes: list[str] = []
        self.reps = derive.rep_facts(con, ruleset, as_of, company_id)
        self.rep_by_id = {rep.rep_id: rep for rep in self.reps}
        self.loads = {
            rep.rep_id: _Load(
                rep.private_count,
                rep.claims_today,
                rep.claims_week,
                rep.claims_month,
                rep.assigned_last_30d,
            )
            for rep in self.reps
        }
        self.cooldowns = derive.cooldowns(con, ruleset, as_of, company_id)
        self.rotation: dict[tuple[str, str], str | None] = self._load_rotation()

    # ------------------------------------------------------------------
    def run(self) -> Plan:
        relay_customers = self._relays_in_progress()
        self._new_relays(relay_customers)
        self._releases(relay_customers)
        self._trims(relay_customers)
        self._reminders(relay_customers)
        self._allocations()
        decisions = tuple(sorted(self.decisions, key=Decision.sort_key))
        return Plan(
            company_id=self.company_id,
            ruleset_id=self.ruleset.company.id,
            ruleset_hash=self.ruleset.content_hash,
            as_of=self.as_of,
            decisions=decisions,
            unassigned=tuple(sorted(self.unassigned, key=lambda u: (u.customer_id, u.rule_id))),
            skipped={cid: tuple(skips) for cid, skips in sorted(self.skipped.items()) if skips},
            rotation=tuple(
                (alloc, pool, rep) for (alloc, pool), rep in sorted(self.rotation.items())
            ),
            relay_upserts=tuple(sorted(self.relay_upserts, key=lambda r: r.customer_id)),
            relay_deletes=tuple(sorted(set(self.relay_deletes))),
            evaluated_customers=self.evaluation.customer_count,
            exercised=frozenset(self.exercised),
        )

    # ------------------------------------------------------------------
    # helpers
    def _rows(
        self, where: str, params: Sequence[Any] = (), extra: Iterable[str] = ()
    ) -> list[dict[str, Any]]:
        """Fact rows with the base columns and ``extra`` ones (fetching only what
        a step reads: list columns such as tags are costly to convert)."""
        columns = list(BASE_COLUMNS) + [c for c in extra if c not in BASE_COLUMNS]
        return derive.fetch_fact_rows(self.con, self.facts_table, where, params, columns)

    def _rows_for_keys(
        self, keys: Iterable[int], extra: Iterable[str] = (), *, skip_changed: bool = False
    ) -> list[dict[str, Any]]:
        """Fact rows of ``keys``; with ``skip_changed``, not those of customers
        that already changed hands in this run (filtered in SQL)."""
        key_list = sorted(set(keys))
        if not key_list:
            return []
        if skip_changed and self.changed:
            return self._rows(
                "k IN (SELECT unnest(?::BIGINT[])) "
                "AND customer_id NOT IN (SELECT unnest(?::VARCHAR[]))",
                [key_list, sorted(self.changed)],
                extra,
            )
        return self._rows("k IN (SELECT unnest(?::BIGINT[]))", [key_list], extra)

    def _load_rotation(self) -> dict[tuple[str, str], str | None]:
        rows = self.con.execute(
            "SELECT allocation_id, pool_id, last_rep_id FROM rotation_state WHERE company_id = ?",
            [self.company_id],
        ).fetchall()
        return {(a, p): r for a, p, r in rows}

    def _region_pool(self, region: str | None) -> str:
        """The pool of ``region`` (memoised: asked once per customer)."""
        pool = self._pools_by_region.get(region)
        if pool is None:
            pool = derive.pool_of_region(self.ruleset, region)
            self._pools_by_region[region] = pool
        return pool

    def _pool_for(self, target: PoolTarget, region: str | None) -> str:
        if target.by_region or target.pool is None:
            return self._region_pool(region)
        return target.pool

    def _record_ownership(self, decision: Decision) -> None:
        self.decisions.append(decision)
        self.changed.add(decision.customer_id)
        if decision.from_rep_id and decision.from_rep_id in self.loads:
            self.loads[decision.from_rep_id].private -= 1
        if decision.to_rep_id and decision.to_rep_id in self.loads:
            load = self.loads[decision.to_rep_id]
            load.private += 1
            load.today += 1
            load.week += 1
            load.month += 1
            load.last30 += 1
            load.received_this_run += 1

    def _snapshots(self, pending: Mapping[str, int] | None = None) -> list[RepSnapshot]:
        """Salespeople as allocation sees them now; ``pending`` adds customers
        already given in this allocation call but not yet recorded."""
        pending = pending or {}
        private_caps = {cap.tier: cap.max for cap in self.ruleset.caps.private}
        claim_caps = {cap.tier: cap for cap in self.ruleset.caps.claims}
        snapshots = []
        for rep in self.reps:
            load = self.loads[rep.rep_id]
            extra = pending.get(rep.rep_id, 0)
            claim = claim_caps.get(rep.tier or "")
            snapshots.append(
                RepSnapshot(
                    rep_id=rep.rep_id,
                    tier=rep.tier,
                    regions=rep.regions,
                    active=rep.active,
                    away=rep.away,
                    private_count=load.private + extra,
                    private_cap=private_caps.get(rep.tier or ""),
                    claims_today=load.today + extra,
                    claims_week=load.week + extra,
                    claims_month=load.month + extra,
                    claim_cap_day=claim.per_day if claim else None,
                    claim_cap_week=claim.per_week if claim else None,
                    claim_cap_month=claim.per_month if claim else None,
                    assigned_last_30d=load.last30 + extra,
                    weight=rep.weight,
                    away_until=rep.away_until,
                )
            )
        return snapshots

    @staticmethod
    def _with_skips(reason: str, result: AllocationResult, customer_id: str) -> str:
        """``reason`` plus the commonest reasons salespeople were skipped for it."""
        skips = result.skipped.get(customer_id, ())
        if not skips:
            return reason
        return reason + _skip_summary(tuple(why for _, why in skips[:SKIP_SUMMARY_LIMIT]))

    def _cooldown_reps(self, customer_id: str) -> frozenset[str]:
        ends = self.cooldowns.get(customer_id)
        if not ends:
            return _NOBODY
        return frozenset(rep for rep, until in ends.items() if until > self.as_of)

    def _allocate(self, requests: list[AssignRequest], allocation: Allocation) -> AllocationResult:
        """Run one allocation with the rotation state persisted for its id, and
        keep the new state and the skip reasons.

        Without a per-run limit (which counts within one call), large request
        lists are placed in chunks, in allocation's own order; once nobody has
        room left, the rest are unassigned without trying each customer (the
        result is the same, minus the per-customer skip lists)."""
        ordered = sorted(requests, key=lambda r: (r.pool_id, r.customer_id))
        chunk = len(ordered) if allocation.max_per_rep_per_run is not None else ALLOCATION_CHUNK
        pending: dict[str, int] = {}
        assignments: list[Assignment] = []
        unassigned: list[AllocationUnassigned] = []
        skipped: dict[str, tuple[tuple[str, str], ...]] = {}
        positions: dict[str, str | None] = {}
        for start in range(0, len(ordered), max(chunk, 1)):
            part = ordered[start:start + chunk]
            snapshots = self._snapshots(pending)
            if not any(_has_room(rep, allocation) for rep in snapshots):
                reason = (
                    f"no salesperson of {', '.join(allocation.tiers)} has room left "
                    "(inactive, away, or private or claim caps reached)"
                )
                unassigned.extend(
                    AllocationUnassigned(r.customer_id, reason, r.pool_id, r.reason)
                    for r in ordered[start:]
                )
                break
            current = {
                key: rep for (alloc, key), rep in self.rotation.items() if alloc == allocation.id
            }
            current.update(positions)
            part_result = allocate(part, snapshots, allocation, self.ruleset.regions, current)
            positions.update(part_result.positions)
            assignments.extend(part_result.assignments)
            unassigned.extend(part_result.unassigned)
            skipped.update(part_result.skipped)
            for assignment in part_result.assignments:
                pending[assignment.rep_id] = pending.get(assignment.rep_id, 0) + 1
        result = AllocationResult(
            assignments=tuple(assignments),
            unassigned=tuple(unassigned),
            skipped=skipped,
            positions=dict(sorted(positions.items())),
        )
        for key, rep in result.positions.items():
            self.rotation[(allocation.id, key)] = rep
        noted: set[str] = set()
        for customer_id, skips in result.skipped.items():
            self.skipped.setdefault(customer_id, []).extend(skips)
            for rep_id, why in skips:
                if why in noted:
                    continue
                noted.add(why)
                if why.startswith("in cooldown"):
                    self.exercised.add(coverage.COOLDOWN_POINT)
                elif why.startswith("claim cap"):
                    tier = self.rep_by_id[rep_id].tier if rep_id in self.rep_by_id else None
                    if tier:
                        self.exercised.add(coverage.claim_cap_point(tier))
        return result

    # ------------------------------------------------------------------
    # 1. relays in progress
    def _relays_in_progress(self) -> set[str]:
        rows = self.con.execute(
            """
            SELECT s.customer_id, s.relay_id, s.round, s.rep_id, s.started_on, s.deadline,
                   s.reps_tried, c.owner_rep_id, c.name, c.country, c.region,
                   EXISTS (SELECT 1 FROM activities a WHERE a.company_id = s.company_id
                           AND a.customer_id = s.customer_id AND a.rep_id = s.rep_id
                           AND a.at >= s.started_on AND a.at < ?) AS contacted
            FROM relay_state s JOIN customers c
              ON c.company_id = s.company_id AND c.customer_id = s.customer_id
            WHERE s.company_id = ?
            ORDER BY s.customer_id
            """,
            [self.as_of + timedelta(days=1), self.company_id],
        ).fetchall()
        relays = {relay.id: relay for relay in self.ruleset.relays}
        in_relay: set[str] = set()
        facts = {
            row["customer_id"]: row
            for row in self._rows(
                "customer_id IN (SELECT customer_id FROM relay_state WHERE company_id = ?)",
                [self.company_id],
            )
        }
        pending: dict[str, list[_RelayItem]] = {}
        for (customer_id, relay_id, round_, rep_id, _started, deadline, tried, owner,
             name, _country, _region, contacted) in rows:
            relay = relays.get(relay_id)
            fact = facts.get(customer_id, {})
            region = fact.get("region")
            if relay is None or owner != rep_id:
                # The relay was removed from the ruleset, or someone else took the
                # customer in between (a claim, a manual change): the relay is over.
                self.relay_deletes.append(customer_id)
                continue
            in_relay.add(customer_id)
            if contacted:
                self.decisions.append(
                    Decision(
                        customer_id=customer_id,
                        action="relay_end",
                        rule_id=relay.id,
                        from_rep_id=rep_id,
                        to_rep_id=rep_id,
                        customer_name=name,
                        relay_round=round_,
                        reason=f"{rep_id} contacted {name} in relay round {round_}: "
                        "the customer stays with them",
                    )
                )
                self.relay_deletes.append(customer_id)
                self.changed.add(customer_id)
                self.exercised.add(coverage.relay_contact_point(relay.id))
                continue
            if self.as_of < deadline:
                continue
            tried_tuple = tuple(tried or ())
            if round_ >= relay.rounds:
                self._relay_to_pool(customer_id, name, rep_id, relay, region, round_)
                continue
            request = AssignRequest(
                customer_id=customer_id,
                pool_id=self._region_pool(region),
                region=region,
                cooldown_reps=self._cooldown_reps(customer_id),
                exclude_reps=frozenset(tried_tuple),
                reason=f"relay round {round_ + 1}",
            )
            pending.setdefault(relay.id, []).append(
                _RelayItem(request, name, round_ + 1, tried_tuple, rep_id)
            )
        for relay_id, items in sorted(pending.items()):
            relay = relays[relay_id]
            self._assign_relay_round(relay, items)
        return in_relay

    def _relay_to_pool(
        self, customer_id: str, name: str, rep_id: str | None, relay: Any, region: str | None,
        round_: int,
    ) -> None:
        pool = self._pool_for(relay.after_last_round, region)
        self.exercised.add(coverage.relay_after_last_point(relay.id))
        self._record_ownership(
            Decision(
                customer_id=customer_id,
                action="release",
                rule_id=relay.id,
                from_rep_id=rep_id,
                to_pool_id=pool,
                customer_name=name,
                relay_round=round_,
                reason=f"nobody contacted {name} in {round_} relay round"
                f"{'s' if round_ != 1 else ''} of {relay.id}: it goes to {pool}",
            )
        )
        self.relay_deletes.append(customer_id)

    def _assign_relay_round(self, relay: Any, items: list[_RelayItem]) -> None:
        result = self._allocate([item.request for item in items], relay_allocation(relay))
        assigned = {a.customer_id: a for a in result.assignments}
        left = {u.customer_id: u.reason for u in result.unassigned}
        for item in items:
            request, name, round_, tried = item.request, item.name, item.round, item.tried
            customer_id = request.customer_id
            holder = item.previous_owner
            assignment = assigned.get(customer_id)
            if assignment is None:
                if round_ == 1:
                    reason = left.get(customer_id, "no eligible salesperson")
                    self.unassigned.append(
                        Unassigned(customer_id, request.pool_id,
                                   self._with_skips(reason, result, customer_id), relay.id)
                    )
                else:
                    self._relay_to_pool(customer_id, name, holder, relay, request.region,
                                        round_ - 1)
                continue
            deadline = relay.contact_window.add_to(self.as_of)
            self.exercised.add(
                coverage.relay_point(relay.id) if round_ == 1
                else coverage.relay_next_round_point(relay.id)
            )
            self._record_ownership(
                Decision(
                    customer_id=customer_id,
                    action="relay",
                    rule_id=relay.id,
                    from_rep_id=holder,
                    to_rep_id=assignment.rep_id,
                    customer_name=name,
                    relay_round=round_,
                    due_on=deadline,
                    reason=(
                        f"relay round {round_} of {relay.rounds}: {assignment.rep_id} has until "
                        f"{deadline.isoformat()} to contact {name}"
                        + (f" ({holder} did not)" if round_ > 1 and holder else "")
                    ),
                )
            )
            self.relay_upserts.append(
                RelayStateRow(
                    customer_id=customer_id,
                    relay_id=relay.id,
                    round=round_,
                    rep_id=assignment.rep_id,
                    started_on=self.as_of,
                    deadline=deadline,
                    reps_tried=(*tried, assignment.rep_id),
                )
            )

    # ------------------------------------------------------------------
    # 2. new relays
    def _new_relays(self, in_relay: set[str]) -> None:
        if not self.ruleset.relays:
            return
        done = {
            row[0]
            for row in self.con.execute(
                "SELECT DISTINCT customer_id FROM ownership_events WHERE company_id = ? "
                "AND rule_id IN (SELECT unnest(?::VARCHAR[]))",
                [self.company_id, [r.id for r in self.ruleset.relays]],
            ).fetchall()
        }
        for relay in self.ruleset.relays:
            keys = self.evaluation.matched(f"relay:{relay.id}")
            rows = [
                row
                for row in self._rows_for_keys(keys)
                if row["customer_id"] not in in_relay
                and row["customer_id"] not in self.changed
                and row["customer_id"] not in done
            ]
            items = []
            for row in rows:
                owner = row["owner_rep_id"]
                request = AssignRequest(
                    customer_id=row["customer_id"],
                    pool_id=row["pool_id"] or self._region_pool(row["region"]),
                    region=row["region"],
                    cooldown_reps=self._cooldown_reps(row["customer_id"]),
                    exclude_reps=frozenset({owner}) if owner else frozenset(),
                    reason="relay round 1",
                )
                items.append(_RelayItem(request, row["name"], 1, (), owner))
            self._assign_relay_round(relay, items)
            in_relay.update(u.customer_id for u in self.relay_upserts)

    # ------------------------------------------------------------------
    # 3. release rules
    def _releases(self, in_relay: set[str]) -> None:
        for rule in self.ruleset.release_rules:
            self._note_exemptions(rule)
            keys = self.evaluation.matched(f"release:{rule.id}")
            columns = self.evaluation.columns(f"release:{rule.id}")
            for row in self._rows_for_keys(keys, columns, skip_changed=True):
                customer_id = row["customer_id"]
                if customer_id in self.changed or customer_id in in_relay:
                    continue
                if row["owner_rep_id"] is None:
                    continue
                pool = self._pool_for(rule.target, row["region"])
                self.exercised.add(coverage.release_point(rule.id))
                self._record_ownership(
                    Decision(
                        customer_id=customer_id,
                        action="release",
                        rule_id=rule.id,
                        from_rep_id=row["owner_rep_id"],
                        to_pool_id=pool,
                        customer_name=row["name"],
                        reason=self.evaluation.describe(f"release:{rule.id}", row)
                        + f": {row['name']} returns to {pool}",
                    )
                )

    def _note_exemptions(self, rule: Any) -> None:
        """Coverage: did an exemption stop this rule for an owned customer?"""
        if rule.unless is None:
            return
        keys = self.evaluation.matched(f"exempt:{rule.id}")
        if not keys:
            return
        when = ir.lower(rule.when, self.as_of, self.ruleset)
        when_sql, params = ir.to_sql(when, self.evaluation.compiled.allowed_columns)
        found = self.con.execute(
            f"SELECT 1 FROM {self.facts_table} WHERE owner_rep_id IS NOT NULL "
            f"AND k IN (SELECT unnest(?::BIGINT[])) AND ({when_sql}) LIMIT 1",
            [sorted(keys), *params],
        ).fetchall()
        if found:
            self.exercised.add(coverage.exemption_point(rule.id))

    # ------------------------------------------------------------------
    # 4. reminders
    def _reminders(self, in_relay: set[str]) -> None:
        already = {
            (cid, rule, due, kind)
            for cid, rule, due, kind in self.con.execute(
                "SELECT customer_id, rule_id, due_on, kind FROM notifications "
                "WHERE company_id = ?",
                [self.company_id],
            ).fetchall()
        }
        reminded: set[str] = set()
        for rule in self.ruleset.release_rules:
            offsets = sorted(rule.remind_before, key=lambda d: d.approx_days())
            if not offsets:
                continue
            # smallest offset first: a customer due tomorrow gets the 1-day reminder
            matched_by_offset = [
                (offset, self.evaluation.matched(f"remind:{rule.id}:{offset}"))
                for offset in offsets
            ]
            all_keys: set[int] = set()
            for _, keys in matched_by_offset:
                all_keys |= set(keys)
            columns = self.evaluation.rule_columns(rule)
            for row in self._rows_for_keys(all_keys, columns, skip_changed=True):
                customer_id = row["customer_id"]
                if (
                    customer_id in self.changed
                    or customer_id in in_relay
                    or customer_id in reminded
                    or row["owner_rep_id"] is None
                ):
                    continue
                offset = next(o for o, keys in matched_by_offset if row["k"] in keys)
                due_on = self.evaluation.release_date(rule, row, offset)
                if due_on is None:
                    continue
                kind = f"remind:{offset}"
                if (customer_id, rule.id, due_on, kind) in already:
                    continue
                days_left = (due_on - self.as_of).days
                pool = self._pool_for(rule.target, row["region"])
                reminded.add(customer_id)
                self.exercised.add(coverage.reminder_point(rule.id, offset))
                self.decisions.append(
                    Decision(
                        customer_id=customer_id,
                        action="remind",
                        rule_id=rule.id,
                        from_rep_id=row["owner_rep_id"],
                        to_rep_id=row["owner_rep_id"],
                        to_pool_id=pool,
                        customer_name=row["name"],
                        days_left=days_left,
                        due_on=due_on,
                        reminder_offset=str(offset),
                        reason=f"{row['name']} returns to {pool} in {days_left} "
                        f"day{'s' if days_left != 1 else ''} unless you follow up "
                        f"(rule {rule.id})",
                    )
                )

    # ------------------------------------------------------------------
    # 5. private caps
    def _trims(self, in_relay: set[str]) -> None:
        order_sql = {
            "least_recently_followed_up": "last_touch_day ASC, customer_id ASC",
            "oldest_owned": "owned_since_day ASC, customer_id ASC",
            "newest_owned": "owned_since_day DESC, customer_id ASC",
            "lowest_level": "level ASC NULLS FIRST, customer_id ASC",
        }
        for cap in self.ruleset.caps.private:
            over = {
                rep.rep_id: self.loads[rep.rep_id].private - cap.max
                for rep in self.reps
                if rep.tier == cap.tier and self.loads[rep.rep_id].private > cap.max
            }
            if not over:
                continue
            protected: list[int] = []
            if cap.protect is not None:
                protected = sorted(self.evaluation.matched(f"protect:{cap.tier}"))
            owners = sorted(over)
            # The excess of each salesperson, chosen in SQL: never a customer with an
            # open order, a protected one, or one already changed tonight.
            trimmed = self._rows(
                "owner_rep_id IN (SELECT unnest(?::VARCHAR[])) AND open_orders = 0 "
                "AND customer_id NOT IN (SELECT unnest(?::VARCHAR[])) "
                "AND k NOT IN (SELECT unnest(?::BIGINT[])) "
                "QUALIFY row_number() OVER (PARTITION BY owner_rep_id ORDER BY "
                f"{order_sql[cap.excess_order]}) "
                "<= (?::BIGINT[])[list_position(?::VARCHAR[], owner_rep_id)]",
                [owners, sorted(self.changed | in_relay), protected,
                 [over[rep] for rep in owners], owners],
            )
            rule_id = f"caps.private.{cap.tier}"
            if trimmed:
                self.exercised.add(coverage.private_cap_point(cap.tier))
            if cap.excess_to_tier:
                self._trim_to_tier(cap, rule_id, trimmed)
            else:
                for row in trimmed:
                    self._trim_to_pool(cap, rule_id, row)

    def _trim_reason(self, cap: Any, row: Mapping[str, Any]) -> str:
        owner = row["owner_rep_id"]
        return (
            f"{owner} holds more than the {cap.tier} cap of {cap.max} private customers; "
            f"{row['name']} is among the {cap.excess_order.replace('_', ' ')}"
        )

    def _trim_to_pool(self, cap: Any, rule_id: str, row: Mapping[str, Any]) -> None:
        pool = self._pool_for(cap.excess_to_pool, row["region"])
        self._record_ownership(
            Decision(
                customer_id=row["customer_id"],
                action="trim",
                rule_id=rule_id,
                from_rep_id=row["owner_rep_id"],
                to_pool_id=pool,
                customer_name=row["name"],
                reason=self._trim_reason(cap, row) + f"; it goes to {pool}",
            )
        )

    def _trim_to_tier(self, cap: Any, rule_id: str, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        allocation = Allocation(
            id=rule_id, tiers=(cap.excess_to_tier,), strategy="least_loaded",
            region_fallback="any_region",
        )
        requests = [
            AssignRequest(
                customer_id=row["customer_id"],
                pool_id="*trim*",
                region=row["region"],
                cooldown_reps=self._cooldown_reps(row["customer_id"]),
                exclude_reps=frozenset({row["owner_rep_id"]}),
                reason="trim",
            )
            for row in rows
        ]
        result = self._allocate(requests, allocation)
        assigned = {a.customer_id: a.rep_id for a in result.assignments}
        for row in rows:
            to_rep = assigned.get(row["customer_id"])
            if to_rep is None:
                self._trim_to_pool(cap, rule_id, row)
                continue
            self._record_ownership(
                Decision(
                    customer_id=row["customer_id"],
                    action="trim",
                    rule_id=rule_id,
                    from_rep_id=row["owner_rep_id"],
                    to_rep_id=to_rep,
                    customer_name=row["name"],
                    reason=self._trim_reason(cap, row)
                    + f"; it goes to {to_rep} ({cap.excess_to_tier})",
                )
            )

    # ------------------------------------------------------------------
    # 6. allocation
    def _allocations(self) -> None:
        weekday = WEEKDAYS[self.as_of.weekday()]
        for allocation in self.ruleset.allocations:
            if allocation.weekdays and weekday not in allocation.weekdays:
                continue
            pools = list(allocation.pools) or [p.id for p in self.ruleset.pools]
            rows = self._rows(
                "owner_rep_id IS NULL AND pool_id IN (SELECT unnest(?::VARCHAR[]))", [pools]
            )
            requests = [
                AssignRequest(
                    customer_id=row["customer_id"],
                    pool_id=row["pool_id"],
                    region=row["region"],
                    cooldown_reps=self._cooldown_reps(row["customer_id"]),
                    reason="rotation",
                )
                for row in rows
                if row["customer_id"] not in self.changed
            ]
            if not requests:
                continue
            names = {row["customer_id"]: row["name"] for row in rows}
            result = self._allocate(requests, allocation)
            regions = {r.customer_id: r.region for r in requests}
            for assignment in result.assignments:
                self.exercised.add(coverage.allocation_point(allocation.id))
                if assignment.region_used != regions[assignment.customer_id]:
                    self.exercised.add(coverage.allocation_fallback_point(allocation.id))
                name = names[assignment.customer_id]
                self._record_ownership(
                    Decision(
                        customer_id=assignment.customer_id,
                        action="assign",
                        rule_id=allocation.id,
                        from_pool_id=assignment.pool_id,
                        to_rep_id=assignment.rep_id,
                        customer_name=name,
                        reason=f"{name} assigned from {assignment.pool_id} to "
                        f"{assignment.rep_id} by {allocation.strategy.replace('_', ' ')}"
                        + (f" ({assignment.note})" if assignment.note else ""),
                    )
                )
            for item in result.unassigned:
                self.unassigned.append(
                    Unassigned(item.customer_id, item.pool_id or None,
                               self._with_skips(item.reason, result, item.customer_id),
                               allocation.id)
                )


@dataclass(frozen=True)
class _RelayItem:
    """A customer about to enter a relay round."""

    request: AssignRequest
    name: str
    round: int
    tried: tuple[str, ...]
    previous_owner: str | None


_NOBODY: frozenset[str] = frozenset()
#: Requests per allocation call when no per-run limit applies.
ALLOCATION_CHUNK = 2000


def _has_room(rep: RepSnapshot, allocation: Allocation) -> bool:
    """Whether ``rep`` could receive at least one customer from ``allocation``
    (ignoring regions, cooldowns and exclusions, which only remove more)."""
    if static_skip_reason(rep, allocation) is not None:
        return False
    if rep.private_cap is not None and rep.private_count >= rep.private_cap:
        return False
    for used, cap in (
        (rep.claims_today, rep.claim_cap_day),
        (rep.claims_week, rep.claim_cap_week),
        (rep.claims_month, rep.claim_cap_month),
    ):
        if cap is not None and used >= cap:
            return False
    if allocation.max_per_rep_per_run == 0:
        return False
    if allocation.strategy == "capacity" and allocation.capacity is not None:
        if rep.assigned_last_30d >= allocation.capacity:
            return False
        if rep.claims_today >= daily_quota(allocation.capacity):
            return False
    return True
#: How many skipped salespeople an unassigned customer's reason summarises.
SKIP_SUMMARY_LIMIT = 40
_DETAIL = re.compile(r"\s*\(.*\)$| until .*$")


@lru_cache(maxsize=4096)
def _skip_kind(why: str) -> str:
    """A skip reason without its details ("away until 2026-07-01" -> "away",
    "claim cap per day reached (10)" -> "claim cap per day reached")."""
    return _DETAIL.sub("", why)


@lru_cache(maxsize=4096)
def _skip_summary(reasons: tuple[str, ...]) -> str:
    """`` (skipped: 11 claim cap per day reached, 2 away)`` for a list of skip reasons."""
    counts: dict[str, int] = {}
    for why in reasons:
        kind = _skip_kind(why)
        counts[kind] = counts.get(kind, 0) + 1
    top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:3]
    return " (skipped: " + ", ".join(f"{n} {why}" for why, n in top) + ")"
