"""The ledger of one nightly run, shared by every step of the planner.

Customers decided in bulk (releases, trims to a pool, customers nobody has
room for) are selected and written in SQL into the temp tables
``hs_decisions`` and ``hs_unassigned``; the rest (allocation, relays,
reminders) is decided in Python, kept in :attr:`RunLedger.pending` and
:attr:`RunLedger.unassigned`, and flushed there by :meth:`RunLedger.sync`
before any step that must see it. ``hs_in_relay`` holds the customers a
relay keeps from the other decisions of the run. The ledger also keeps the
salespeople's running counters (:class:`RepLoads`), the cooldowns read so
far (:class:`Cooldowns`), the rotation state and the relay rows to persist.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import date
from typing import TYPE_CHECKING, Any

from highseas.compile import to_sql as sql_form
from highseas.nightly import facts as derive
from highseas.nightly.allocation import RepSnapshot
from highseas.nightly.allocation_types import Skip
from highseas.nightly.events import NO_OBSERVER, RunObserver
from highseas.nightly.plan import (
    DECISION_COLUMNS,
    UNASSIGNED_COLUMNS,
    Decision,
    Records,
    RelayStateRow,
    Unassigned,
)
from highseas.nightly.verdicts import Evaluation
from highseas.ruleset.model import PoolTarget, Ruleset
from highseas.store.db import registered

if TYPE_CHECKING:
    import duckdb

#: A customer neither changed in this run nor in a relay (``f`` is the facts row).
UNCHANGED = (
    "NOT EXISTS (SELECT 1 FROM hs_decisions d WHERE d.customer_id = f.customer_id "
    "AND d.action <> 'remind') "
    "AND NOT EXISTS (SELECT 1 FROM hs_in_relay r WHERE r.customer_id = f.customer_id)"
)

_NOBODY: frozenset[str] = frozenset()


def arrow(con: duckdb.DuckDBPyConnection, sql: str) -> Any:
    """The result of ``sql`` (no parameters) as an Arrow table."""
    relation = con.sql(sql)
    fetch = getattr(relation, "to_arrow_table", None) or relation.arrow  # DuckDB 2 renamed it
    return fetch()


@dataclass
class _Load:
    """Running counters of one salesperson during planning."""

    private: int
    today: int
    week: int
    month: int
    last30: int
    received_this_run: int = 0


class RepLoads:
    """The salespeople of the run and their counters, kept current as
    customers move."""

    def __init__(self, ruleset: Ruleset, reps: Sequence[derive.RepFacts],
                 counters: Mapping[str, tuple[int, int, int, int, int]] | None = None) -> None:
        """``counters``: each salesperson's (private, today, week, month,
        last 30 days) instead of their facts' own (a replayed scenario's)."""
        self.ruleset = ruleset
        self.reps = list(reps)
        self.rep_by_id = {rep.rep_id: rep for rep in self.reps}
        if counters is not None:
            self.loads = {rep.rep_id: _Load(*counters[rep.rep_id]) for rep in self.reps}
        else:
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
        self._private_caps = {cap.tier: cap.max for cap in ruleset.caps.private}
        self._claim_caps = {cap.tier: cap for cap in ruleset.caps.claims}
        #: salesperson -> (counters, snapshot) of the last :meth:`snapshots`
        self._snapshots: dict[str, tuple[tuple[int, ...], RepSnapshot]] = {}

    def private(self, rep_id: str) -> int:
        return self.loads[rep_id].private

    def moved(self, from_rep: str | None, to_rep: str | None, count: int = 1) -> None:
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

    def snapshots(self, pending: Mapping[str, int] | None = None,
                  tiers: Collection[str] | None = None) -> list[RepSnapshot]:
        """Salespeople as allocation sees them now (``tiers``: only those of
        these tiers); ``pending`` adds customers already given in this
        allocation but not yet recorded. A salesperson whose counters are
        those of the previous call keeps its snapshot."""
        pending = pending or {}
        snapshots = []
        for rep in self.reps:
            if tiers is not None and rep.tier not in tiers:
                continue
            load = self.loads[rep.rep_id]
            extra = pending.get(rep.rep_id, 0)
            counters = (load.private + extra, load.today + extra, load.week + extra,
                        load.month + extra, load.last30 + extra, extra)
            known = self._snapshots.get(rep.rep_id)
            if known is None or known[0] != counters:
                known = self._snapshots[rep.rep_id] = (counters, self._snapshot(rep, counters))
            snapshots.append(known[1])
        return snapshots

    def _snapshot(self, rep: derive.RepFacts, counters: tuple[int, ...]) -> RepSnapshot:
        private, today, week, month, last30, extra = counters
        claim = self._claim_caps.get(rep.tier or "")
        return RepSnapshot(
            rep_id=rep.rep_id,
            tier=rep.tier,
            regions=rep.regions,
            active=rep.active,
            away=rep.away,
            private_count=private,
            private_cap=self._private_caps.get(rep.tier or ""),
            claims_today=today,
            claims_week=week,
            claims_month=month,
            claim_cap_day=claim.per_day if claim else None,
            claim_cap_week=claim.per_week if claim else None,
            claim_cap_month=claim.per_month if claim else None,
            assigned_last_30d=last30,
            weight=rep.weight,
            away_until=rep.away_until,
            given_this_run=extra,
        )


class Cooldowns:
    """customer -> {salesperson: cooldown end}, read for the customers
    allocation gets to, each once."""

    def __init__(self, con: duckdb.DuckDBPyConnection, ruleset: Ruleset, as_of: date,
                 company_id: str) -> None:
        self.con = con
        self.ruleset = ruleset
        self.as_of = as_of
        self.company_id = company_id
        self.ends: dict[str, dict[str, date]] = {}
        self._loaded: set[str] = set()

    def load(self, customer_ids: Iterable[str]) -> None:
        """Load the cooldowns of ``customer_ids`` not loaded yet."""
        wanted = sorted(set(customer_ids) - self._loaded)
        if not wanted:
            return
        self.ends.update(derive.cooldowns(
            self.con, self.ruleset, self.as_of, self.company_id, customers=wanted
        ))
        self._loaded.update(wanted)

    def reps(self, customer_id: str) -> frozenset[str]:
        """The salespeople ``customer_id`` is cooling down from on the as-of date."""
        self.load((customer_id,))
        ends = self.ends.get(customer_id)
        if not ends:
            return _NOBODY
        return frozenset(rep for rep, until in ends.items() if until > self.as_of)


class RunLedger:
    """What one run has decided so far, in Python and in its temp tables
    (see the module docstring), and what the steps read besides the facts."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        ruleset: Ruleset,
        as_of: date,
        company_id: str,
        facts_table: str,
        evaluation: Evaluation,
        *,
        unassigned_rows: bool = True,
        chunk_size: int,
        observer: RunObserver = NO_OBSERVER,
    ) -> None:
        self.con = con
        self.ruleset = ruleset
        self.as_of = as_of
        self.company_id = company_id
        self.facts_table = facts_table
        self.evaluation = evaluation
        #: False: customers left unassigned are only counted (the replay's plans).
        self.unassigned_rows = unassigned_rows
        #: Requests allocated at a time (see highseas.nightly.chunks).
        self.chunk_size = chunk_size
        self.pending: list[Decision] = []
        self.unassigned: list[Unassigned] = []
        self.skipped: dict[str, list[Skip]] = {}
        #: Told what the steps go through (highseas.nightly.events).
        self.observer = observer
        self.in_relay: set[str] = set()
        self._synced_relay: set[str] = set()
        self._batch = 0
        self._pools_by_region: dict[str | None, str] = {}
        self.relay_upserts: list[RelayStateRow] = []
        self.relay_deletes: list[str] = []
        self.loads = RepLoads(ruleset, derive.rep_facts(con, ruleset, as_of, company_id))
        self.cooldowns = Cooldowns(con, ruleset, as_of, company_id)
        self.rotation: dict[tuple[str, str], str | None] = self._load_rotation()
        decision_columns = ", ".join(f"{n} {t}" for n, t in DECISION_COLUMNS.items())
        unassigned_columns = ", ".join(f"{n} {t}" for n, t in UNASSIGNED_COLUMNS.items())
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE hs_decisions (batch INTEGER, {decision_columns})"
        )
        con.execute(f"CREATE OR REPLACE TEMP TABLE hs_unassigned ({unassigned_columns})")
        # A counting plan keeps only the ids, to count customers, not
        # customer x allocation (see :meth:`counted_unassigned`).
        con.execute("CREATE OR REPLACE TEMP TABLE hs_unassigned_ids (customer_id VARCHAR)")
        con.execute("CREATE OR REPLACE TEMP TABLE hs_in_relay (customer_id VARCHAR)")

    def _load_rotation(self) -> dict[tuple[str, str], str | None]:
        rows = self.con.execute(
            "SELECT allocation_id, pool_id, last_rep_id FROM rotation_state WHERE company_id = ?",
            [self.company_id],
        ).fetchall()
        return {(a, p): r for a, p, r in rows}

    # -- writing ------------------------------------------------------------
    def sync(self) -> None:
        """Write the decisions, unassigned customers and relay members decided
        in Python so far into the temp tables SQL steps read."""
        if not self.unassigned_rows and self.unassigned:
            self.con.execute("INSERT INTO hs_unassigned_ids SELECT unnest(?::VARCHAR[])",
                             [[item.customer_id for item in self.unassigned]])
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

    def insert_batch(self, sql: str, params: Sequence[Any]) -> None:
        """Add the ownership changes ``sql`` selects (a SELECT of the decision
        columns, in order) to ``hs_decisions`` and update the salespeople's
        loads from them, as :meth:`record_ownership` does for one."""
        self.sync()
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
            self.loads.moved(from_rep, to_rep, int(count))

    def record_ownership(self, decision: Decision) -> None:
        """An ownership change decided in Python."""
        self.pending.append(decision)
        self.loads.moved(decision.from_rep_id, decision.to_rep_id)

    def unassign_rest(self, reason: str, rule_id: str) -> None:
        """Customers of ``hs_requests`` allocation did not get to (not in
        ``hs_processed``): unassigned for ``reason``."""
        self.sync()
        if not self.unassigned_rows:
            self.con.execute(
                "INSERT INTO hs_unassigned_ids SELECT customer_id FROM hs_requests "
                "WHERE customer_id NOT IN (SELECT customer_id FROM hs_processed)"
            )
            return
        self.con.execute(
            "INSERT INTO hs_unassigned SELECT customer_id, pool_id, ?, ? FROM hs_requests "
            "WHERE customer_id NOT IN (SELECT customer_id FROM hs_processed)",
            [reason, rule_id],
        )

    def counted_unassigned(self) -> int:
        """The customers a counting plan leaves in their pool (synced):
        each once, however many allocations or relays tried it, and not
        those a later allocation of the run assigned, as
        :meth:`highseas.nightly.plan.Plan.left_unassigned` does for listed ones."""
        if self.unassigned_rows:
            return 0
        return int(self.con.execute(
            "SELECT count(DISTINCT customer_id) FROM hs_unassigned_ids WHERE customer_id "
            "NOT IN (SELECT customer_id FROM hs_decisions WHERE action = 'assign')"
        ).fetchall()[0][0])

    # -- reading ------------------------------------------------------------
    def dicts(self, sql: str, params: Sequence[Any]) -> list[dict[str, Any]]:
        cursor = self.con.execute(sql, list(params))
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def quoted(self, columns: Iterable[str]) -> list[str]:
        """``columns`` of the facts row ``f``, quoted for SQL."""
        allowed = self.evaluation.compiled.allowed_columns
        return [f"f.{sql_form.quote_identifier(c, allowed)}" for c in columns]

    def pool_sql(self, target: PoolTarget) -> tuple[str, list[Any]]:
        """The SQL of :meth:`pool_for` on a facts row ``f``."""
        if target.by_region or target.pool is None:
            return "f.region_pool", []
        return "?::VARCHAR", [target.pool]

    def region_pool(self, region: str | None) -> str:
        """The pool of ``region`` (memoised: asked once per customer)."""
        pool = self._pools_by_region.get(region)
        if pool is None:
            pool = derive.pool_of_region(self.ruleset, region)
            self._pools_by_region[region] = pool
        return pool

    def pool_for(self, target: PoolTarget, region: str | None) -> str:
        if target.by_region or target.pool is None:
            return self.region_pool(region)
        return target.pool
