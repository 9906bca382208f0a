"""Undoing applied runs: ``highseas revert RUN_ID...``.

While it writes a run, :func:`highseas.nightly.apply.apply_plan` calls
:func:`record_undo` (before any change) and :func:`record_after` (once the
customers changed): the ``undo_*`` tables keep each changed customer's owner,
pool and ``owned_since`` as they were and as the run left them, and the
rotation and relay rows the run replaced (or that it created: ``existed``
false).

:func:`revert_runs` restores all of it in one transaction, newest run first.
The run's ownership events and reminders leave the live tables for
``reverted_ownership_events`` and ``reverted_notifications``; the claim
counters and cooldowns, which the planner derives from ``ownership_events``
(highseas.nightly.facts), are therefore as before the run, and its pending
reminders are cancelled. The reverted run's row says ``reverted`` and names
the revert, which has a row of its own (mode ``revert``). Every table but the
audit trail (``runs`` and the ``reverted_*`` tables) is then as before the run.

Only the latest applied runs can be reverted, newest first: an older run's
"before" is not the state a later run left. A customer changed since the run
(a claim, a load) is refused too: restoring it would undo that change.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from highseas import codes
from highseas.errors import InvalidInputError
from highseas.nightly.plan import Decision, Plan, Records
from highseas.nightly.runs import (
    RunRecord,
    applied_stack,
    get_run,
    next_seq,
    why_not_revertible,
)
from highseas.store.db import registered, transaction

if TYPE_CHECKING:
    import duckdb

#: Customers named in a refusal (the count says how many there are).
MAX_NAMED = 5


def record_undo(con: duckdb.DuckDBPyConnection, plan: Plan, run_id: str,
                changes: Records[Decision]) -> None:
    """Keep what ``plan`` is about to change (call before any write)."""
    company = plan.company_id
    for table in ("undo_customers", "undo_rotation", "undo_relay"):
        con.execute(f"DELETE FROM {table} WHERE company_id = ? AND run_id = ?",
                    [company, run_id])
    if len(changes):
        # The changed customers are read from the plan's Arrow table: a list
        # parameter of half a million ids costs a second to bind at 1M.
        with registered(con, "hs_undo_changes", changes.table.select(["customer_id"])):
            con.execute(
                "INSERT INTO undo_customers (company_id, run_id, customer_id, owner_rep_id, "
                "pool_id, owned_since) SELECT company_id, ?, customer_id, owner_rep_id, "
                "pool_id, owned_since FROM customers WHERE company_id = ? "
                "AND customer_id IN (SELECT customer_id FROM hs_undo_changes) "
                "ORDER BY customer_id",
                [run_id, company],
            )
    if plan.rotation:
        allocation_ids = [a for a, _, _ in plan.rotation]
        pool_ids = [p for _, p, _ in plan.rotation]
        con.execute(
            "INSERT INTO undo_rotation SELECT ?, ?, k.a, k.p, r.allocation_id IS NOT NULL, "
            "r.last_rep_id, r.updated_as_of FROM (SELECT DISTINCT * FROM (SELECT "
            "unnest(?::VARCHAR[]) AS a, unnest(?::VARCHAR[]) AS p)) k "
            "LEFT JOIN rotation_state r ON r.company_id = ? AND r.allocation_id = k.a "
            "AND r.pool_id = k.p",
            [company, run_id, allocation_ids, pool_ids, company],
        )
    relay_customers = sorted({*plan.relay_deletes, *(r.customer_id for r in plan.relay_upserts)})
    if relay_customers:
        con.execute(
            "INSERT INTO undo_relay SELECT ?, ?, k.c, r.customer_id IS NOT NULL, r.relay_id, "
            "r.round, r.rep_id, r.started_on, r.deadline, r.reps_tried "
            "FROM (SELECT unnest(?::VARCHAR[]) AS c) k "
            "LEFT JOIN relay_state r ON r.company_id = ? AND r.customer_id = k.c",
            [company, run_id, relay_customers, company],
        )


def record_after(con: duckdb.DuckDBPyConnection, company_id: str, run_id: str) -> None:
    """Keep the owner and pool the run left each changed customer with."""
    con.execute(
        "UPDATE undo_customers AS u SET after_owner_rep_id = c.owner_rep_id, "
        "after_pool_id = c.pool_id FROM customers AS c "
        "WHERE u.company_id = ? AND u.run_id = ? AND c.company_id = u.company_id "
        "AND c.customer_id = u.customer_id",
        [company_id, run_id],
    )


@dataclass(frozen=True)
class RevertResult:
    """One applied run undone."""

    reverted_run_id: str
    revert_run_id: str
    company_id: str
    as_of: date
    customers_restored: int
    ownership_changes_undone: int
    notifications_cancelled: int

    def sentence(self) -> str:
        return (f"reverted run {self.reverted_run_id} (as of {self.as_of.isoformat()}): "
                f"{self.customers_restored} customers restored, "
                f"{self.ownership_changes_undone} ownership changes undone, "
                f"{self.notifications_cancelled} reminders cancelled "
                f"(recorded as run {self.revert_run_id})")


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


def _refuse(message: str, hint: str = "") -> InvalidInputError:
    return InvalidInputError(message + "; nothing was reverted", code=codes.REVERT_REFUSED,
                             hint=hint or "see the runs with: highseas runs list --db DB")


def _check_order(con: duckdb.DuckDBPyConnection, runs: Sequence[RunRecord]) -> list[RunRecord]:
    """``runs`` newest first, refused unless they are the latest applied runs."""
    companies = sorted({r.company_id for r in runs})
    if len(companies) > 1:
        raise _refuse(f"the runs belong to several companies ({', '.join(companies)})",
                      "revert one company's runs at a time")
    ids = [r.run_id for r in runs]
    repeated = sorted({i for i in ids if ids.count(i) > 1})
    if repeated:
        raise _refuse(f"run {repeated[0]} is named twice")
    for run in runs:
        alone = why_not_revertible(con, run)
        if alone and not alone.startswith(f"run {run.run_id} is not the latest"):
            raise _refuse(alone)
    stack = applied_stack(con, companies[0])
    latest = stack[: len(runs)]
    if {r.run_id for r in latest} != set(ids):
        positions = [i for i, r in enumerate(stack) if r.run_id in ids]
        through = stack[: max(positions) + 1]
        wanted = " ".join(r.run_id for r in through)
        skipped = [r.run_id for r in through if r.run_id not in ids]
        raise _refuse(
            "only the latest applied runs can be reverted, newest first: "
            f"{', '.join(skipped)} {'was' if len(skipped) == 1 else 'were'} applied after "
            f"{'it' if len(ids) == 1 else 'them'}",
            f"revert them together: highseas revert {wanted} --db DB",
        )
    if any(r.seq is None for r in latest):
        raise _refuse(why_not_revertible(con, next(r for r in latest if r.seq is None)))
    return list(latest)


def _check_unchanged(con: duckdb.DuckDBPyConnection, run: RunRecord) -> None:
    changed = con.execute(
        "SELECT u.customer_id FROM undo_customers u JOIN customers c "
        "ON c.company_id = u.company_id AND c.customer_id = u.customer_id "
        "WHERE u.company_id = ? AND u.run_id = ? "
        "AND (c.owner_rep_id IS DISTINCT FROM u.after_owner_rep_id "
        "OR c.pool_id IS DISTINCT FROM u.after_pool_id) ORDER BY 1",
        [run.company_id, run.run_id],
    ).fetchall()
    if changed:
        named = ", ".join(r[0] for r in changed[:MAX_NAMED])
        more = f" and {len(changed) - MAX_NAMED} more" if len(changed) > MAX_NAMED else ""
        raise _refuse(
            f"{len(changed)} customers changed owner or pool since run {run.run_id} "
            f"({named}{more}): a claim or a load after the run would be undone",
            "explain a customer's history with: highseas explain ... CUSTOMER_ID",
        )


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    rows = con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = 'main' "
        "AND table_name = ? ORDER BY ordinal_position",
        [table],
    ).fetchall()
    return [str(r[0]) for r in rows if r[0] != "reverted_by"]


def _move(con: duckdb.DuckDBPyConnection, source: str, target: str, key: list[Any],
          revert_id: str) -> int:
    """Move the run's rows of ``source`` into ``target`` (stamped with the revert)."""
    names = ", ".join(f'"{c}"' for c in _columns(con, target))
    moved = con.execute(
        f"INSERT INTO {target} (reverted_by, {names}) SELECT ?, {names} FROM {source} "
        "WHERE company_id = ? AND run_id = ?",
        [revert_id, *key],
    ).fetchall()[0][0]
    con.execute(f"DELETE FROM {source} WHERE company_id = ? AND run_id = ?", key)
    return int(moved)


def revert_id_for(run: RunRecord) -> str:
    digest = hashlib.sha256(f"{run.company_id}|{run.run_id}|revert".encode()).hexdigest()[:16]
    return f"{run.as_of.isoformat()}-revert-{digest}"


def _revert_one(con: duckdb.DuckDBPyConnection, run: RunRecord, now: datetime) -> RevertResult:
    _check_unchanged(con, run)
    key = [run.company_id, run.run_id]
    revert_id = revert_id_for(run)
    restored = con.execute(
        "UPDATE customers AS c SET owner_rep_id = u.owner_rep_id, pool_id = u.pool_id, "
        "owned_since = u.owned_since FROM undo_customers AS u "
        "WHERE u.company_id = ? AND u.run_id = ? AND c.company_id = u.company_id "
        "AND c.customer_id = u.customer_id",
        key,
    ).fetchall()[0][0]
    con.execute(
        "DELETE FROM rotation_state r USING undo_rotation u WHERE u.company_id = ? "
        "AND u.run_id = ? AND r.company_id = u.company_id "
        "AND r.allocation_id = u.allocation_id AND r.pool_id = u.pool_id",
        key,
    )
    con.execute(
        "INSERT INTO rotation_state (company_id, allocation_id, pool_id, last_rep_id, "
        "updated_as_of) SELECT company_id, allocation_id, pool_id, last_rep_id, updated_as_of "
        "FROM undo_rotation WHERE company_id = ? AND run_id = ? AND existed",
        key,
    )
    con.execute(
        "DELETE FROM relay_state r USING undo_relay u WHERE u.company_id = ? "
        "AND u.run_id = ? AND r.company_id = u.company_id AND r.customer_id = u.customer_id",
        key,
    )
    con.execute(
        "INSERT INTO relay_state (company_id, customer_id, relay_id, round, rep_id, "
        "started_on, deadline, reps_tried) SELECT company_id, customer_id, relay_id, round, "
        "rep_id, started_on, deadline, reps_tried FROM undo_relay "
        "WHERE company_id = ? AND run_id = ? AND existed",
        key,
    )
    undone = _move(con, "ownership_events", "reverted_ownership_events", key, revert_id)
    cancelled = _move(con, "notifications", "reverted_notifications", key, revert_id)
    for table in ("undo_customers", "undo_rotation", "undo_relay"):
        con.execute(f"DELETE FROM {table} WHERE company_id = ? AND run_id = ?", key)
    con.execute(
        "UPDATE runs SET status = 'reverted', reverted_by = ? WHERE company_id = ? "
        "AND run_id = ?",
        [revert_id, *key],
    )
    counts = {"customers_restored": int(restored), "ownership_changes_undone": undone,
              "notifications_cancelled": cancelled}
    con.execute(
        "INSERT INTO runs (company_id, run_id, ruleset_id, ruleset_hash, as_of, mode, "
        "started_at, finished_at, status, counts, reverts, seq) "
        "VALUES (?, ?, ?, ?, ?, 'revert', ?, ?, 'ok', ?, ?, ?)",
        [run.company_id, revert_id, run.ruleset_id, run.ruleset_hash, run.as_of, now, now,
         json.dumps(counts, sort_keys=True), run.run_id, next_seq(con, run.company_id)],
    )
    return RevertResult(run.run_id, revert_id, run.company_id, run.as_of, int(restored),
                        undone, cancelled)


def revert_runs(con: duckdb.DuckDBPyConnection, run_ids: Sequence[str],
                company_id: str | None = None) -> tuple[RevertResult, ...]:
    """Undo the applied runs ``run_ids`` (the latest ones, in any order given)
    in one transaction, newest first; refused (HS519, HS527) otherwise."""
    if not run_ids:
        raise _refuse("no run given")
    with transaction(con):
        runs = [get_run(con, run_id, company_id) for run_id in run_ids]
        ordered = _check_order(con, runs)
        now = _now()
        return tuple(_revert_one(con, run, now) for run in ordered)
