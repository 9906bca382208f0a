"""Applying a plan: one DuckDB transaction, all or nothing, with an audit trail.

Everything a run writes (ownership changes, one ``ownership_events`` row per
change, reminders into ``notifications``, rotation pointers, relay state and
the ``runs`` row) is written inside one transaction. A crash or a kill at
any moment leaves either the whole run or none of it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from highseas import codes
from highseas.errors import InvalidInputError
from highseas.nightly.plan import Plan, Records
from highseas.nightly.revert import record_after, record_undo
from highseas.nightly.runs import free_run_id, stamp_applied
from highseas.store.db import insert_columns, registered, transaction

if TYPE_CHECKING:
    import duckdb


@dataclass(frozen=True)
class ApplyResult:
    run_id: str
    applied: bool
    ownership_changes: int
    notifications: int
    message: str = ""


def run_id_for(plan: Plan, mode: str) -> str:
    """A stable id for the run of one company, ruleset and as-of date."""
    digest = hashlib.sha256(
        f"{plan.company_id}|{plan.ruleset_hash}|{plan.as_of.isoformat()}|{mode}".encode()
    ).hexdigest()[:16]
    return f"{plan.as_of.isoformat()}-{mode}-{digest}"


def last_applied(con: duckdb.DuckDBPyConnection, company_id: str) -> date | None:
    row = con.execute(
        "SELECT max(as_of) FROM runs WHERE company_id = ? AND mode = 'apply' AND status = 'ok'",
        [company_id],
    ).fetchall()
    return row[0][0] if row else None


def applied_run_id(con: duckdb.DuckDBPyConnection, company_id: str, as_of: date) -> str | None:
    """The id of the applied run for ``as_of`` (None: none is recorded): what an
    interrupted ``run --apply`` looks up to say whether it was written."""
    rows = con.execute(
        "SELECT run_id FROM runs WHERE company_id = ? AND as_of = ? AND mode = 'apply' "
        "AND status = 'ok' ORDER BY finished_at DESC, run_id LIMIT 1",
        [company_id, as_of],
    ).fetchall()
    return str(rows[0][0]) if rows else None


def check_can_apply(con: duckdb.DuckDBPyConnection, company_id: str, as_of: date,
                    force: bool) -> str | None:
    """None when a run for ``as_of`` may be applied; else why it is a no-op.

    Raises when the date is before the last applied one (unless ``force``).
    """
    last = last_applied(con, company_id)
    if last is None:
        return None
    if as_of == last:
        return f"a run for {as_of.isoformat()} was already applied; nothing to do"
    if as_of < last and not force:
        raise InvalidInputError(
            f"the last applied run is for {last.isoformat()}; refusing to apply an earlier "
            f"date ({as_of.isoformat()})",
            code=codes.APPLY_BEFORE_LAST_RUN,
            hint="use --force to apply it anyway",
        )
    return None


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


def apply_plan(
    con: duckdb.DuckDBPyConnection,
    plan: Plan,
    *,
    force: bool = False,
    mode: str = "apply",
    started_at: datetime | None = None,
    timestamp: datetime | None = None,
    overrides: str = "",
) -> ApplyResult:
    """Write ``plan`` in one transaction. ``timestamp`` (default: now) is the
    ``at`` of events and notifications; the simulator passes the simulated day.
    An applied run also records what it changes, for ``highseas revert``
    (highseas.nightly.revert), and ``overrides``: the guards it overrode."""
    company = plan.company_id
    run_id = run_id_for(plan, mode)
    started = started_at or _now()
    at = timestamp or _now()
    with transaction(con) as tx:
        if mode == "apply":
            skip = check_can_apply(con, company, plan.as_of, force)
            if skip:
                tx.rollback()
                return ApplyResult(run_id, False, 0, 0, skip)
            run_id = free_run_id(con, company, run_id)
            if force:
                con.execute(
                    "DELETE FROM runs WHERE company_id = ? AND run_id = ?", [company, run_id]
                )
        changes = plan.ownership_changes()
        if mode == "apply":
            record_undo(con, plan, run_id, changes)
        _apply_ownership(con, plan, run_id, at, changes)
        if mode == "apply":
            record_after(con, company, run_id)
        notifications = _insert_notifications(con, plan, run_id, at)
        _write_engine_state(con, plan)
        counts = plan.counts()
        con.execute(
            "INSERT INTO runs (company_id, run_id, ruleset_id, ruleset_hash, as_of, mode, "
            "started_at, finished_at, status, counts) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'ok', ?)",
            [company, run_id, plan.ruleset_id, plan.ruleset_hash, plan.as_of, mode, started,
             _now() if mode == "apply" else at, json.dumps(counts, sort_keys=True)],
        )
        if mode == "apply":
            stamp_applied(con, company, run_id, overrides)
    return ApplyResult(run_id, True, len(changes), notifications,
                       f"applied {len(changes)} ownership changes")


def _with_seq(records: Records[Any]) -> Any:
    """The Arrow table of ``records`` with each row's position as ``seq``."""
    import pyarrow as pa

    table = records.table
    return table.append_column("seq", pa.array(range(table.num_rows), pa.int64()))


def _apply_ownership(con: duckdb.DuckDBPyConnection, plan: Plan, run_id: str, at: datetime,
                     changes: Records[Any]) -> None:
    if not len(changes):
        return
    with registered(con, "hs_changes", _with_seq(changes)):
        # Event ids number the changes in plan order: <run id>-0000000, ...
        con.execute(
            """
            INSERT INTO ownership_events (company_id, event_id, run_id, customer_id,
                from_rep_id, to_rep_id, from_pool_id, to_pool_id, action, rule_id,
                ruleset_hash, reason, "at", as_of)
            SELECT ?, ? || '-' || printf('%07d', seq), ?, customer_id, from_rep_id, to_rep_id,
                   from_pool_id, to_pool_id, action, rule_id, ?, reason, ?, ?
            FROM hs_changes ORDER BY seq
            """,
            [plan.company_id, run_id, run_id, plan.ruleset_hash, at, plan.as_of],
        )
    # New owners from this run's events: the audit trail is the source of the update.
    con.execute(
        """
        UPDATE customers AS c SET
            owner_rep_id = e.to_rep_id,
            pool_id = CASE WHEN e.to_rep_id IS NULL THEN e.to_pool_id END,
            owned_since = CASE WHEN e.to_rep_id IS NULL THEN NULL
                               WHEN e.to_rep_id = c.owner_rep_id THEN c.owned_since
                               ELSE CAST(? AS TIMESTAMP) END
        FROM ownership_events AS e
        WHERE e.company_id = ? AND e.run_id = ? AND c.company_id = e.company_id
          AND c.customer_id = e.customer_id
        """,
        [plan.as_of, plan.company_id, run_id],
    )


def _insert_notifications(con: duckdb.DuckDBPyConnection, plan: Plan, run_id: str,
                          at: datetime) -> int:
    reminders = plan.by_action("remind")
    if not len(reminders):
        return 0
    with registered(con, "hs_reminders", _with_seq(reminders)):
        con.execute(
            """
            INSERT INTO notifications (company_id, notification_id, run_id, rep_id,
                customer_id, rule_id, kind, due_on, days_left, message, created_at, as_of)
            SELECT ?, ? || '-' || customer_id || '-' || rule_id, ?, to_rep_id, customer_id,
                   rule_id, 'remind:' || reminder_offset, due_on, days_left, reason, ?, ?
            FROM hs_reminders ORDER BY seq
            """,
            [plan.company_id, run_id, run_id, at, plan.as_of],
        )
    return len(reminders)


def _write_engine_state(con: duckdb.DuckDBPyConnection, plan: Plan) -> None:
    company = plan.company_id
    if plan.rotation:
        # every position in one statement (a run keeps one per allocation and pool)
        allocation_ids, pool_ids, rep_ids = (
            list(column) for column in zip(*plan.rotation, strict=True)
        )
        con.execute(
            "INSERT OR REPLACE INTO rotation_state SELECT ?, a, p, r, ? FROM ("
            "SELECT unnest(?::VARCHAR[]) AS a, unnest(?::VARCHAR[]) AS p, "
            "unnest(?::VARCHAR[]) AS r)",
            [company, plan.as_of, allocation_ids, pool_ids, rep_ids],
        )
    if plan.relay_deletes:
        con.execute(
            "DELETE FROM relay_state WHERE company_id = ? "
            "AND customer_id IN (SELECT unnest(?::VARCHAR[]))",
            [company, list(plan.relay_deletes)],
        )
    if plan.relay_upserts:
        con.execute(
            "DELETE FROM relay_state WHERE company_id = ? "
            "AND customer_id IN (SELECT unnest(?::VARCHAR[]))",
            [company, [row.customer_id for row in plan.relay_upserts]],
        )
        rows = plan.relay_upserts
        insert_columns(con, "relay_state", {
            "company_id": [company] * len(rows),
            "customer_id": [row.customer_id for row in rows],
            "relay_id": [row.relay_id for row in rows],
            "round": [row.round for row in rows],
            "rep_id": [row.rep_id for row in rows],
            "started_on": [row.started_on for row in rows],
            "deadline": [row.deadline for row in rows],
            "reps_tried": [list(row.reps_tried) for row in rows],
        })
