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
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from datetime import date, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import pyarrow as pa
from highseas.compile import ir
from highseas.nightly import facts as derive
from highseas.nightly.allocation import (
    AllocationResult,
    Assignment,
    AssignRequest,
    RepSnapshot,
    allocate,
    has_room,
    relay_allocation,
)
from highseas.nightly.allocation import Unassigned as AllocationUnassigned
from highseas.nightly.plan import (
    ACTIONS,
    DECISION_COLUMNS,
    UNASSIGNED_COLUMNS,
    Decision,
    Plan,
    Records,
    RelayStateRow,
    Unassigned,
)
from highseas.ruleset.model import Allocation, PoolTarget, Ruleset
from highseas.store.db import registered
from highseas.testing import coverage

if TYPE_CHECKING:
    import duckdb

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
#: What derives the facts a plan reads: (connection, ruleset, as-of date,
#: company id) -> the name of the facts table (see highseas.nightly.facts).
FactsStep = Callable[["duckdb.DuckDBPyConnection", Ruleset, date, str], str]


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
    facts: FactsStep | None = None,
    unassigned_rows: bool = True,
) -> Plan:
    """Decide everything the nightly run does for ``as_of``; writes nothing
    but temporary tables. ``facts`` derives the customer facts and names
    their table (default: :func:`highseas.nightly.facts.materialize_customer_facts`,
    into ``hs_facts``; the replay keeps its own current day by day).
    ``unassigned_rows=False`` counts the customers left unassigned
    (:attr:`Plan.unassigned_omitted`) without listing them or their reasons,
    and keeps no list of salespeople passed over (``skipped`` is empty): the
    decisions and the engine state are the same; the replay needs only the
    count."""
    from highseas.nightly.verdicts import evaluate_ruleset

    company = company_id or ruleset.company.id
    facts_table = (facts or derive.materialize_customer_facts)(con, ruleset, as_of, company)
    # durable-rules confirms the SQL verdicts on a worker thread while the
    # planner runs its queries; no plan leaves here unconfirmed.
    evaluation = evaluate_ruleset(con, ruleset, as_of, facts_table, background=True)
    try:
        planner = _Planner(con, ruleset, as_of, company, facts_table, evaluation,
                           unassigned_rows=unassigned_rows)
        result = planner.run()
    finally:
        evaluation.confirm()
    result.extra["evaluation"] = evaluation
    return result


#: A customer neither changed in this run nor in a relay (``f`` is the facts row).
_UNCHANGED = (
    "NOT EXISTS (SELECT 1 FROM hs_decisions d WHERE d.customer_id = f.customer_id "
    "AND d.action <> 'remind') "
    "AND NOT EXISTS (SELECT 1 FROM hs_in_relay r WHERE r.customer_id = f.customer_id)"
)
#: The SQL order of each excess order of a private cap.
_EXCESS_ORDER_SQL = {
    "least_recently_followed_up": "last_touch_day ASC, customer_id ASC",
    "oldest_owned": "owned_since_day ASC, customer_id ASC",
    "newest_owned": "owned_since_day DESC, customer_id ASC",
    "lowest_level": "level ASC NULLS FIRST, customer_id ASC",
}


class _Planner:
    """One run's planning. Customers decided in bulk (releases, trims to a
    pool, customers nobody has room for) are selected and written in SQL into
    the temp tables ``hs_decisions`` and ``hs_unassigned``; the rest
    (allocation, relays, reminders) is decided in Python and flushed there
    before any step that must see it."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        ruleset: Ruleset,
        as_of: date,
        company_id: str,
        facts_table: str,
        evaluation: Any,
        *,
        unassigned_rows: bool = True,
    ) -> None:
        self.con = con
        self.unassigned_rows = unassigned_rows
        self.unassigned_omitted = 0
        self.ruleset = ruleset
        self.as_of = as_of
        self.company_id = company_id
        self.facts_table = facts_table
        self.evaluation = evaluation
        self.pending: list[Decision] = []
        self.unassigned: list[Unassigned] = []
        self.skipped: dict[str, list[tuple[str, str]]] = {}
        self.exercised: set[str] = set()
        self.in_relay: set[str] = set()
        self._synced_relay: set[str] = set()
        self._batch = 0
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
        # customer -> {salesperson: cooldown end}, loaded for the customers
        # allocation gets to (see _load_cooldowns)
        self.cooldowns: dict[str, dict[str, date]] = {}
        self._cooldowns_loaded: set[str] = set()
        self.rotation: dict[tuple[str, str], str | None] = self._load_rotation()
        decision_columns = ", ".join(f"{n} {t}" for n, t in DECISION_COLUMNS.items())
        unassigned_columns = ", ".join(f"{n} {t}" for n, t in UNASSIGNED_COLUMNS.items())
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE hs_decisions (batch INTEGER, {decision_columns})"
        )
        con.execute(f"CREATE OR REPLACE TEMP TABLE hs_unassigned ({unassigned_columns})")
        con.execute("CREATE OR REPLACE TEMP TABLE hs_in_relay (customer_id VARCHAR)")

    # ------------------------------------------------------------------
    def run(self) -> Plan:
        self._relays_in_progress()
        self._new_relays()
        self._sync()
        self._releases()
        self._trims()
        self._reminders()
        self._allocations()
        self._sync()
        order = " ".join(f"WHEN '{action}' THEN {i}" for i, action in enumerate(ACTIONS))
        names = ", ".join(DECISION_COLUMNS)
        decisions = _arrow(
            self.con,
            f"SELECT {names} FROM hs_decisions "
            f"ORDER BY CASE action {order} END, customer_id, rule_id",
        )
        unassigned = _arrow(
            self.con,
            f"SELECT {', '.join(UNASSIGNED_COLUMNS)} FROM hs_unassigned "
            "ORDER BY customer_id, rule_id, pool_id, reason",
        )
        return Plan(
            company_id=self.company_id,
            ruleset_id=self.ruleset.company.id,
            ruleset_hash=self.ruleset.content_hash,
            as_of=self.as_of,
            decisions=Records(decisions, Decision),
            unassigned=Records(unassigned, Unassigned),
            skipped={cid: tuple(skips) for cid, skips in sorted(self.skipped.items()) if skips},
            rotation=tuple(
                (alloc, pool, rep) for (alloc, pool), rep in sorted(self.rotation.items())
            ),
            relay_upserts=tuple(sorted(self.relay_upserts, key=lambda r: r.customer_id)),
            relay_deletes=tuple(sorted(set(self.relay_deletes))),
            evaluated_customers=self.evaluation.customer_count,
            exercised=frozenset(self.exercised),
            unassigned_omitted=self.unassigned_omitted,
        )

    # ------------------------------------------------------------------
    # helpers
    def _sync(self) -> None:
        """Write the decisions, unassigned customers and relay members decided
        in Python so far into the temp tables SQL steps read."""
        if not self.unassigned_rows:
            self.unassigned_omitted += len(self.unassigned)
            self.unassigned.clear()
        for items, kind, table in (
            (self.pending, Decision, "hs_decisions"),
            (self.unassigned, Unassigned, "hs_unassigned"),
        ):
            if not items:
                continue
            records = Records.from_items(items, kind)  # type: ignore[type-var]
            names = ", ".join(f.name for f in fields(kind))
            prefix = "0, " if table == "hs_decisions" else ""
            with registered(self.con, "hs_python_rows", records.table):
                self.con.execute(
                    f"INSERT INTO {table} SELECT {prefix}{names} FROM hs_python_rows"
                )
            items.clear()
        new_members = sorted(self.in_relay - self._synced_relay)
        if new_members:
            self.con.execute(
                "INSERT INTO hs_in_relay SELECT unnest(?::VARCHAR[])", [new_members]
            )
            self._synced_relay.update(new_members)

    def _insert_batch(self, sql: str, params: Sequence[Any]) -> None:
        """Add the ownership changes ``sql`` selects (a SELECT of the decision
        columns, in order) to ``hs_decisions`` and update the salespeople's
        loads from them, as :meth:`_record_ownership` does for one."""
        self._sync()
        self._batch += 1
        batch = self._batch
        names = ", ".join(DECISION_COLUMNS)
        self.con.execute(
            f"INSERT INTO hs_decisions (batch, {names}) SELECT {batch}, * FROM ({sql})",
            list(params),
        )
        for from_rep, to_rep, count in self.con.execute(
            "SELECT from_rep_id, to_rep_id, count(*) FROM hs_decisions WHERE batch = ? "
            "GROUP BY ALL ORDER BY ALL",
            [batch],
        ).fetchall():
            self._moved(from_rep, to_rep, int(count))

    def _dicts(self, sql: str, params: Sequence[Any]) -> list[dict[str, Any]]:
        cursor = self.con.execute(sql, list(params))
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def _quoted(self, columns: Iterable[str]) -> list[str]:
        allowed = self.evaluation.compiled.allowed_columns
        return [f"f.{ir.quote_identifier(c, allowed)}" for c in columns]

    def _pool_sql(self, target: PoolTarget) -> tuple[str, list[Any]]:
        """The SQL of :meth:`_pool_for` on a facts row ``f``."""
        if target.by_region or target.pool is None:
            return "f.region_pool", []
        return "?::VARCHAR", [target.pool]

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
        self.pending.append(decision)
        self._moved(decision.from_rep_id, decision.to_rep_id)

    def _moved(self, from_rep: str | None, to_rep: str | None, count: int = 1) -> None:
        """``count`` customers went from ``from_rep`` to ``to_rep`` (either may
        be None: a pool): update both salespeople's counters."""
        if from_rep is not None and from_rep in self.loads:
            self.loads[from_rep].private -= count
        if to_rep is not None and to_rep in self.loads:
            load = self.loads[to_rep]
            load.private += count
            load.today += count
            load.week += count
            load.month += count
            load.last30 += count
            load.received_this_run += count

    def _snapshots(self, pending: Mapping[str, int] | None = None) -> list[RepSnapshot]:
        """Salespeople as allocation sees them now; ``pending`` adds customers
        already given in this allocation but not yet recorded."""
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
                    given_this_run=extra,
                )
            )
        return snapshots

    def _with_skips(self, reason: str, result: AllocationResult, customer_id: str) -> str:
        """``reason`` plus the commonest reasons salespeople were skipped for it
        (left as it is when unassigned customers are only counted)."""
        if not self.unassigned_rows:
            return reason
        skips = result.skipped.get(customer_id, ())
        if not skips:
            return reason
        return reason + _skip_summary(tuple(why for _, why in skips[:SKIP_SUMMARY_LIMIT]))

    def _load_cooldowns(self, customer_ids: Iterable[str]) -> None:
        """Load the cooldowns of ``customer_ids`` not loaded yet."""
        wanted = sorted(set(customer_ids) - self._cooldowns_loaded)
        if not wanted:
            return
        self.cooldowns.update(derive.cooldowns(
            self.con, self.ruleset, self.as_of, self.company_id, customers=wanted
        ))
        self._cooldowns_loaded.update(wanted)

    def _cooldown_reps(self, customer_id: str) -> frozenset[str]:
        self._load_cooldowns((customer_id,))
        ends = self.cooldowns.get(customer_id)
        if not ends:
            return _NOBODY
        return frozenset(rep for rep, until in ends.items() if until > self.as_of)

    # ------------------------------------------------------------------
    # allocation, in chunks
    def _chunk_size(self) -> int:
        """Requests allocated at a time. Chunks decide as one call would
        (tested); when unassigned customers are only counted, smaller chunks
        stop sooner once nobody has room, instead of placing customers only
        to explain why they got nothing."""
        return ALLOCATION_CHUNK if self.unassigned_rows else COUNTED_CHUNK

    def _allocate(self, requests: list[AssignRequest], allocation: Allocation) -> AllocationResult:
        """Allocate ``requests`` (a Python list): see :meth:`_allocate_chunks`;
        those nobody had room for are unassigned with that reason."""
        ordered = sorted(requests, key=lambda r: (r.pool_id, r.customer_id))
        size = self._chunk_size()
        chunks = (ordered[start:start + size] for start in range(0, len(ordered), size))
        result, processed, no_room = self._allocate_chunks(chunks, allocation)
        if processed == len(ordered):
            return result
        rest = tuple(AllocationUnassigned(r.customer_id, no_room, r.pool_id, r.reason)
                     for r in ordered[processed:])
        return replace(result, unassigned=result.unassigned + rest)

    def _allocate_table(
        self,
        select_sql: str,
        params: Sequence[Any],
        allocation: Allocation,
        to_request: Callable[[dict[str, Any]], AssignRequest],
    ) -> tuple[AllocationResult, str]:
        """Allocate the customers ``select_sql`` selects (with the columns
        ``to_request`` reads, and ``pool_id`` and ``customer_id``), fetching
        them chunk by chunk in allocation order from ``hs_requests``. Returns
        the result for the customers processed and the reason the others got
        nothing (:meth:`_unassign_rest` writes those: the customers of
        ``hs_requests`` not in ``hs_processed``)."""
        self.con.execute(
            f"CREATE OR REPLACE TEMP TABLE hs_requests AS {select_sql}", list(params)
        )
        self.con.execute("CREATE OR REPLACE TEMP TABLE hs_processed (customer_id VARCHAR)")
        total = int(self.con.execute("SELECT count(*) FROM hs_requests").fetchall()[0][0])

        def chunks() -> Iterator[list[AssignRequest]]:
            # Only the chunks allocation gets to are fetched: each is the next
            # chunk in allocation order (a top-N, not a full sort).
            size = self._chunk_size()
            for start in range(0, total, size):
                rows = self._dicts(
                    "SELECT * FROM hs_requests ORDER BY pool_id, customer_id LIMIT ? OFFSET ?",
                    [size, start],
                )
                ids = [row["customer_id"] for row in rows]
                self.con.execute("INSERT INTO hs_processed SELECT unnest(?::VARCHAR[])", [ids])
                self._load_cooldowns(ids)
                yield [to_request(row) for row in rows]

        result, _, no_room = self._allocate_chunks(chunks(), allocation)
        return result, no_room

    def _allocate_chunks(
        self, chunks: Iterable[list[AssignRequest]], allocation: Allocation
    ) -> tuple[AllocationResult, int, str]:
        """Run one allocation over ``chunks`` (requests in allocation order),
        with the rotation state persisted for its id; keep the new state and
        the skip reasons.

        Chunk by chunk, the salespeople's counters carry what earlier chunks
        gave (caps and the per-run limit count the whole run). Once nobody
        has room left, the remaining chunks are not processed: returns the
        result, how many requests were processed and why the rest get
        nothing (the result equals one call with every request, minus the
        per-customer skip lists of those)."""
        pending: dict[str, int] = {}
        assignments: list[Assignment] = []
        unassigned: list[AllocationUnassigned] = []
        skipped: dict[str, tuple[tuple[str, str], ...]] = {}
        positions: dict[str, str | None] = {}
        processed = 0
        no_room = (
            f"no salesperson of {', '.join(allocation.tiers)} has room left "
            "(inactive, away, or private or claim caps reached)"
        )
        parts = iter(chunks)
        while True:
            # Check for room before fetching the next chunk: its requests are
            # built (and remembered by the caller) only if they are processed.
            snapshots = self._snapshots(pending)
            if not any(has_room(rep, allocation) for rep in snapshots):
                break
            part = next(parts, None)
            if part is None:
                break
            current = {
                key: rep for (alloc, key), rep in self.rotation.items() if alloc == allocation.id
            }
            current.update(positions)
            part_result = allocate(part, snapshots, allocation, self.ruleset.regions, current)
            processed += len(part)
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
            if self.unassigned_rows:  # (explanations: not kept in counted plans)
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
        return result, processed, no_room

    def _unassign_rest(self, reason: str, rule_id: str) -> None:
        """Customers of ``hs_requests`` allocation did not get to: unassigned
        for ``reason``."""
        self._sync()
        if not self.unassigned_rows:
            self.unassigned_omitted += int(self.con.execute(
                "SELECT count(*) FROM hs_requests "
                "WHERE customer_id NOT IN (SELECT customer_id FROM hs_processed)"
            ).fetchall()[0][0])
            return
        self.con.execute(
            "INSERT INTO hs_unassigned SELECT customer_id, pool_id, ?, ? FROM hs_requests "
            "WHERE customer_id NOT IN (SELECT customer_id FROM hs_processed)",
            [reason, rule_id],
        )

    # ------------------------------------------------------------------
    # 1. relays in progress
    def _relays_in_progress(self) -> None:
        relays = {relay.id: relay for relay in self.ruleset.relays}
        self.con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE hs_relays_now AS
            SELECT s.customer_id, s.relay_id, s.round, s.rep_id, s.deadline, s.reps_tried,
                   c.owner_rep_id, c.name, f.region,
                   EXISTS (SELECT 1 FROM activities a WHERE a.company_id = s.company_id
                           AND a.customer_id = s.customer_id AND a.rep_id = s.rep_id
                           AND a.at >= s.started_on AND a.at < ?) AS contacted
            FROM relay_state s JOIN customers c
              ON c.company_id = s.company_id AND c.customer_id = s.customer_id
            LEFT JOIN {self.facts_table} f ON f.customer_id = s.customer_id
            WHERE s.company_id = ?
            """,
            [self.as_of + timedelta(days=1), self.company_id],
        )
        # Most relays wait for their holder's contact or deadline: they only
        # keep their customer from other decisions of this run (hs_in_relay).
        waiting = ("relay_id IN (SELECT unnest(?::VARCHAR[])) AND owner_rep_id = rep_id "
                   "AND NOT contacted AND ? < deadline")
        self.con.execute(
            f"INSERT INTO hs_in_relay SELECT customer_id FROM hs_relays_now WHERE {waiting}",
            [sorted(relays), self.as_of],
        )
        rows = self.con.execute(
            "SELECT customer_id, relay_id, round, rep_id, deadline, reps_tried, owner_rep_id, "
            f"name, region, contacted FROM hs_relays_now WHERE NOT coalesce({waiting}, FALSE) "
            "ORDER BY customer_id",
            [sorted(relays), self.as_of],
        ).fetchall()
        pending: dict[str, list[_RelayItem]] = {}
        for (customer_id, relay_id, round_, rep_id, deadline, tried, owner, name, region,
             contacted) in rows:
            relay = relays.get(relay_id)
            if relay is None or owner != rep_id:
                # The relay was removed from the ruleset, or someone else took the
                # customer in between (a claim, a manual change): the relay is over.
                self.relay_deletes.append(customer_id)
                continue
            self.in_relay.add(customer_id)
            if contacted:
                self.pending.append(
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
                cooldown_reps=_NOBODY,  # filled in below
                exclude_reps=frozenset(tried_tuple),
                reason=f"relay round {round_ + 1}",
            )
            pending.setdefault(relay.id, []).append(
                _RelayItem(request, name, round_ + 1, tried_tuple, rep_id)
            )
        # Cooldowns matter only to the customers passed to a next round.
        self._load_cooldowns(item.request.customer_id
                             for items in pending.values() for item in items)
        for relay_id, waiting_items in sorted(pending.items()):
            relay = relays[relay_id]
            items = [replace(item, request=replace(
                item.request, cooldown_reps=self._cooldown_reps(item.request.customer_id)))
                for item in waiting_items]
            result = self._allocate([item.request for item in items], relay_allocation(relay))
            self._relay_round_done(relay, items, result)

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

    def _relay_round_done(
        self, relay: Any, items: Iterable[_RelayItem], result: AllocationResult
    ) -> None:
        """Record a relay round's allocation ``result`` for ``items``."""
        assigned = {a.customer_id: a for a in result.assignments}
        left = {u.customer_id: u.reason for u in result.unassigned}
        deadline = relay.contact_window.add_to(self.as_of)
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
            self.in_relay.add(customer_id)

    # ------------------------------------------------------------------
    # 2. new relays
    def _new_relays(self) -> None:
        if not self.ruleset.relays:
            return
        relay_ids = [r.id for r in self.ruleset.relays]
        for relay in self.ruleset.relays:
            self._sync()
            expression, params = self.evaluation.where(f"relay:{relay.id}")
            items: dict[str, _RelayItem] = {}

            def to_request(row: dict[str, Any], items: dict[str, _RelayItem] = items
                           ) -> AssignRequest:
                owner = row["owner_rep_id"]
                request = AssignRequest(
                    customer_id=row["customer_id"],
                    pool_id=row["pool_id"],
                    region=row["region"],
                    cooldown_reps=self._cooldown_reps(row["customer_id"]),
                    exclude_reps=frozenset({owner}) if owner else frozenset(),
                    reason="relay round 1",
                )
                items[request.customer_id] = _RelayItem(request, row["name"], 1, (), owner)
                return request

            # Customers who were ever in one of the relays are not relayed again.
            result, no_room = self._allocate_table(
                "SELECT f.customer_id, coalesce(f.pool_id, f.region_pool) AS pool_id, "
                f"f.region, f.name, f.owner_rep_id FROM {self.facts_table} f "
                f"WHERE ({expression}) AND {_UNCHANGED} "
                "AND f.customer_id NOT IN (SELECT customer_id FROM ownership_events "
                "WHERE company_id = ? AND rule_id IN (SELECT unnest(?::VARCHAR[])))",
                [*params, self.company_id, relay_ids],
                relay_allocation(relay),
                to_request,
            )
            self._relay_round_done(relay, [items[c] for c in sorted(items)], result)
            self._unassign_rest(no_room, relay.id)

    # ------------------------------------------------------------------
    # 3. release rules
    def _releases(self) -> None:
        for rule in self.ruleset.release_rules:
            name = f"release:{rule.id}"
            expression, params = self.evaluation.where(name)
            pool_sql, pool_params = self._pool_sql(rule.target)
            columns = self.evaluation.columns(name)
            quoted = self._quoted(columns)
            aliased = "".join(f", {q} AS c{i}" for i, q in enumerate(quoted))
            self._sync()
            self.con.execute(
                "CREATE OR REPLACE TEMP TABLE hs_selected AS "
                f"SELECT f.customer_id, f.owner_rep_id, f.name, {pool_sql} AS pool{aliased} "
                f"FROM {self.facts_table} f WHERE ({expression}) AND f.owner_rep_id IS NOT NULL "
                f"AND {_UNCHANGED}",
                [*pool_params, *params],
            )
            # Customers with equal values in the columns the rule reads get the
            # same reason: describe each distinct pattern once (the explainer's
            # words are memoised per leaf and value) and join the sentences back.
            keys = [f"c{i}" for i in range(len(quoted))]
            patterns = _arrow(self.con, "SELECT DISTINCT "
                              + (", ".join(keys) if keys else "1 AS hs_one")
                              + " FROM hs_selected")
            if not patterns.num_rows:
                continue
            sentences = [
                self.evaluation.describe(name, dict(zip(columns, values, strict=True)))
                for values in zip(*(patterns.column(key).to_pylist() for key in keys),
                                  strict=True)
            ] if keys else [self.evaluation.describe(name, {})]
            reasons = patterns.append_column("hs_reason", pa.array(sentences, pa.string()))
            on = " AND ".join(f"p.{k} IS NOT DISTINCT FROM s.{k}" for k in keys) or "TRUE"
            with registered(self.con, "hs_reasons", reasons):
                self._insert_batch(
                    "SELECT s.customer_id, 'release', ?, "
                    "p.hs_reason || ': ' || s.name || ' returns to ' || s.pool, "
                    "s.owner_rep_id, NULL, NULL, s.pool, s.name, NULL, NULL, NULL, NULL "
                    f"FROM hs_selected s JOIN hs_reasons p ON {on}",
                    [rule.id],
                )
            self.exercised.add(coverage.release_point(rule.id))

    # ------------------------------------------------------------------
    # 4. reminders
    def _reminders(self) -> None:
        # Reminders already sent for a release still to come (a new reminder's
        # due day is after the as-of date): the notifications of past due
        # days, which grow with every run, cannot match.
        already = {
            (cid, rule, due, kind)
            for cid, rule, due, kind in self.con.execute(
                "SELECT customer_id, rule_id, due_on, kind FROM notifications "
                "WHERE company_id = ? AND due_on > ?",
                [self.company_id, self.as_of],
            ).fetchall()
        }
        reminded: set[str] = set()
        for rule in self.ruleset.release_rules:
            offsets = sorted(rule.remind_before, key=lambda d: d.approx_days())
            if not offsets:
                continue
            # smallest offset first: a customer due tomorrow gets the 1-day reminder
            filters = [self.evaluation.where(f"remind:{rule.id}:{o}") for o in offsets]
            which = " ".join(f"WHEN ({sql}) THEN {i}" for i, (sql, _) in enumerate(filters))
            any_sql = " OR ".join(f"({sql})" for sql, _ in filters)
            params = [p for _, ps in filters for p in ps]
            # The first release day within the longest offset, in SQL; a row
            # whose first day lies beyond its own (shorter) offset gets none.
            due_sql, due_params = self.evaluation.release_day_sql(rule, offsets[-1])
            self._sync()
            rows = self.con.execute(
                "SELECT f.customer_id, f.owner_rep_id, f.region, f.name, "
                f"CASE {which} END AS hs_offset, {due_sql} AS hs_due_in FROM {self.facts_table} f "
                f"WHERE ({any_sql}) AND f.owner_rep_id IS NOT NULL AND {_UNCHANGED} "
                "ORDER BY f.k",
                [*params, *due_params, *params],
            ).fetchall()
            last_days = [offset.add_to(self.as_of) for offset in offsets]
            for customer_id, owner, region, name, offset_index, due_in in rows:
                if customer_id in reminded or due_in is None:
                    continue
                offset = offsets[offset_index]
                due_on = self.as_of + timedelta(days=due_in)
                if due_on > last_days[offset_index]:
                    continue
                row = {"owner_rep_id": owner, "region": region, "name": name}
                kind = f"remind:{offset}"
                if (customer_id, rule.id, due_on, kind) in already:
                    continue
                days_left = (due_on - self.as_of).days
                pool = self._pool_for(rule.target, row["region"])
                reminded.add(customer_id)
                self.exercised.add(coverage.reminder_point(rule.id, offset))
                self.pending.append(
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
    def _trims(self) -> None:
        for cap in self.ruleset.caps.private:
            over = {
                rep.rep_id: self.loads[rep.rep_id].private - cap.max
                for rep in self.reps
                if rep.tier == cap.tier and self.loads[rep.rep_id].private > cap.max
            }
            if not over:
                continue
            protected_sql, protected_params = "false", []
            if cap.protect is not None:
                protected_sql, protected_params = self.evaluation.where(f"protect:{cap.tier}")
            owners = sorted(over)
            self._sync()
            # The excess of each salesperson, chosen in SQL: never a customer with an
            # open order, a protected one, or one already changed tonight.
            self.con.execute(
                "CREATE OR REPLACE TEMP TABLE hs_trimmed AS "
                "SELECT customer_id, owner_rep_id, name, region, region_pool "
                f"FROM {self.facts_table} f "
                "WHERE owner_rep_id IN (SELECT unnest(?::VARCHAR[])) AND open_orders = 0 "
                f"AND {_UNCHANGED} AND NOT ({protected_sql}) "
                "QUALIFY row_number() OVER (PARTITION BY owner_rep_id ORDER BY "
                f"{_EXCESS_ORDER_SQL[cap.excess_order]}) "
                "<= (?::BIGINT[])[list_position(?::VARCHAR[], owner_rep_id)]",
                [owners, *protected_params, [over[rep] for rep in owners], owners],
            )
            rule_id = f"caps.private.{cap.tier}"
            if not self.con.execute("SELECT count(*) FROM hs_trimmed").fetchall()[0][0]:
                continue
            self.exercised.add(coverage.private_cap_point(cap.tier))
            receivers = self._trim_receivers(cap, rule_id) if cap.excess_to_tier else {}
            pool_sql, pool_params = self._pool_sql(cap.excess_to_pool)
            given = pa.table({"customer_id": pa.array(list(receivers), pa.string()),
                              "to_rep_id": pa.array(list(receivers.values()), pa.string())})
            # Each trimmed customer goes to the salesperson chosen for it, if any,
            # else to the pool.
            with registered(self.con, "hs_trim_given", given):
                self._insert_batch(
                    "SELECT f.customer_id, 'trim', ?, f.owner_rep_id || ' holds more than "
                    "the ' || ? || ' cap of ' || ? || ' private customers; ' || f.name "
                    "|| ' is among the ' || ? || '; it goes to ' "
                    f"|| coalesce(g.to_rep_id || ' (' || ? || ')', {pool_sql}), "
                    "f.owner_rep_id, g.to_rep_id, NULL, "
                    f"CASE WHEN g.to_rep_id IS NULL THEN {pool_sql} END, f.name, "
                    "NULL, NULL, NULL, NULL "
                    "FROM hs_trimmed f LEFT JOIN hs_trim_given g USING (customer_id) "
                    "ORDER BY f.customer_id",
                    [rule_id, cap.tier, str(cap.max), cap.excess_order.replace("_", " "),
                     cap.excess_to_tier, *pool_params, *pool_params],
                )

    def _trim_receivers(self, cap: Any, rule_id: str) -> dict[str, str]:
        """The salesperson of ``cap.excess_to_tier`` each trimmed customer goes
        to, for those someone has room for (least loaded first)."""
        allocation = Allocation(
            id=rule_id, tiers=(cap.excess_to_tier,), strategy="least_loaded",
            region_fallback="any_region",
        )

        def to_request(row: dict[str, Any]) -> AssignRequest:
            return AssignRequest(
                customer_id=row["customer_id"],
                pool_id=row["pool_id"],
                region=row["region"],
                cooldown_reps=self._cooldown_reps(row["customer_id"]),
                exclude_reps=frozenset({row["owner_rep_id"]}),
                reason="trim",
            )

        result, _ = self._allocate_table(
            "SELECT customer_id, '*trim*' AS pool_id, owner_rep_id, region FROM hs_trimmed",
            [], allocation, to_request,
        )
        return {a.customer_id: a.rep_id for a in result.assignments}

    # ------------------------------------------------------------------
    # 6. allocation
    def _allocations(self) -> None:
        weekday = WEEKDAYS[self.as_of.weekday()]
        for allocation in self.ruleset.allocations:
            if allocation.weekdays and weekday not in allocation.weekdays:
                continue
            pools = list(allocation.pools) or [p.id for p in self.ruleset.pools]
            names: dict[str, str] = {}
            regions: dict[str, str | None] = {}

            def to_request(row: dict[str, Any], names: dict[str, str] = names,
                           regions: dict[str, str | None] = regions) -> AssignRequest:
                names[row["customer_id"]] = row["name"]
                regions[row["customer_id"]] = row["region"]
                return AssignRequest(
                    customer_id=row["customer_id"],
                    pool_id=row["pool_id"],
                    region=row["region"],
                    cooldown_reps=self._cooldown_reps(row["customer_id"]),
                    reason="rotation",
                )

            self._sync()
            result, no_room = self._allocate_table(
                f"SELECT f.customer_id, f.pool_id, f.region, f.name FROM {self.facts_table} f "
                "WHERE f.owner_rep_id IS NULL AND f.pool_id IN (SELECT unnest(?::VARCHAR[])) "
                f"AND {_UNCHANGED}",
                [pools],
                allocation,
                to_request,
            )
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
            self._unassign_rest(no_room, allocation.id)


@dataclass(frozen=True)
class _RelayItem:
    """A customer about to enter a relay round."""

    request: AssignRequest
    name: str
    round: int
    tried: tuple[str, ...]
    previous_owner: str | None


_NOBODY: frozenset[str] = frozenset()


def _arrow(con: duckdb.DuckDBPyConnection, sql: str) -> Any:
    """The result of ``sql`` (no parameters) as an Arrow table."""
    relation = con.sql(sql)
    fetch = getattr(relation, "to_arrow_table", None) or relation.arrow  # DuckDB 2 renamed it
    return fetch()


#: Requests fetched and allocated at a time.
ALLOCATION_CHUNK = 2000
#: The same when unassigned customers are only counted (the replay).
COUNTED_CHUNK = 500


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
