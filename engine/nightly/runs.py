"""The runs a company's database records: ``highseas runs list | show``.

Every applied run (mode ``apply``), every simulated day written to a
scratch database (``simulate``) and every revert (``revert``) has a row in
``runs``. Applied and revert runs carry ``seq``, the order they were written
in: ``highseas revert`` undoes applied runs newest first by it
(highseas.nightly.revert).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from highseas import codes
from highseas.errors import InvalidInputError
from highseas.suggestions import did_you_mean

if TYPE_CHECKING:
    import duckdb

_COLUMNS = ("company_id", "run_id", "ruleset_id", "ruleset_hash", "as_of", "mode", "started_at",
            "finished_at", "status", "counts", "overrides", "reverts", "reverted_by", "seq")


@dataclass(frozen=True)
class RunRecord:
    """One row of ``runs``."""

    company_id: str
    run_id: str
    ruleset_id: str
    ruleset_hash: str
    as_of: date
    mode: str
    started_at: datetime
    finished_at: datetime | None
    status: str
    counts: dict[str, int]
    #: The guards this apply overrode, and why (``--force``, first run).
    overrides: str | None = None
    #: A revert run: the run it undid.
    reverts: str | None = None
    #: A reverted run: the revert run that undid it.
    reverted_by: str | None = None
    seq: int | None = None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("as_of", "started_at", "finished_at"):
            value = data[key]
            data[key] = value.isoformat() if value is not None else None
        return data

    def line(self) -> str:
        """One line of ``highseas runs list``."""
        changes = sum(self.counts.get(a, 0) for a in ("relay", "release", "trim", "assign"))
        if self.mode == "revert":
            undone = self.counts.get("ownership_changes_undone", 0)
            what = f"undid {self.reverts} ({undone} changes)"
        else:
            what = f"{changes} ownership changes, {self.counts.get('remind', 0)} reminders"
        notes = []
        if self.reverted_by:
            notes.append(f"reverted by {self.reverted_by}")
        if self.overrides:
            notes.append(f"overrode: {self.overrides}")
        tail = f" [{'; '.join(notes)}]" if notes else ""
        return (f"{self.run_id}  {self.mode:<8} {self.status:<8} as of {self.as_of.isoformat()}"
                f"  {what}{tail}")


def _record(row: Sequence[Any]) -> RunRecord:
    values = dict(zip(_COLUMNS, row, strict=True))
    counts = values["counts"]
    values["counts"] = json.loads(counts) if isinstance(counts, str) else dict(counts or {})
    return RunRecord(**values)


def _select(where: str = "") -> str:
    return (f"SELECT {', '.join(_COLUMNS)} FROM runs {where} "
            "ORDER BY seq DESC NULLS LAST, started_at DESC, run_id DESC")


def list_runs(con: duckdb.DuckDBPyConnection, company_id: str | None = None,
              limit: int | None = None) -> tuple[RunRecord, ...]:
    """The runs of ``company_id`` (default: every company), newest first."""
    where, params = ("WHERE company_id = ?", [company_id]) if company_id else ("", [])
    sql = _select(where) + (" LIMIT ?" if limit is not None else "")
    arguments: list[object] = list(params)
    if limit is not None:
        arguments.append(limit)
    return tuple(_record(row) for row in con.execute(sql, arguments).fetchall())


def get_run(con: duckdb.DuckDBPyConnection, run_id: str,
            company_id: str | None = None) -> RunRecord:
    """The run ``run_id``; refused (HS519) when there is none, or when two
    companies have one of that id and ``company_id`` is not given."""
    where = "WHERE run_id = ?" + (" AND company_id = ?" if company_id else "")
    params = [run_id, company_id] if company_id else [run_id]
    found = con.execute(_select(where), params).fetchall()
    if len(found) == 1:
        return _record(found[0])
    if found:
        raise InvalidInputError(
            f"run {run_id} exists in several companies", code=codes.UNKNOWN_RUN,
            hint="say which with --company",
        )
    known = [r[0] for r in con.execute("SELECT run_id FROM runs").fetchall()]
    raise InvalidInputError(
        f"no run {run_id}" + (f" for company {company_id}" if company_id else ""),
        code=codes.UNKNOWN_RUN,
        hint=did_you_mean(run_id, known) or "list the runs with: highseas runs list --db DB",
    )


def reverted_by(con: duckdb.DuckDBPyConnection, run_ids: Sequence[str],
                company_id: str | None = None) -> dict[str, str | None]:
    """run id -> the revert run that undid it; None when it is not reverted
    (or there is no such run, or several companies have one of that id and
    ``company_id`` is not given): what an interrupted ``revert`` looks up."""
    found: dict[str, str | None] = {}
    for run_id in run_ids:
        where = "WHERE run_id = ?" + (" AND company_id = ?" if company_id else "")
        rows = con.execute(f"SELECT reverted_by FROM runs {where}",
                           [run_id, company_id] if company_id else [run_id]).fetchall()
        found[run_id] = str(rows[0][0]) if len(rows) == 1 and rows[0][0] is not None else None
    return found


def applied_stack(con: duckdb.DuckDBPyConnection, company_id: str) -> tuple[RunRecord, ...]:
    """The company's applied runs still in effect (not reverted), newest first."""
    rows = con.execute(
        _select("WHERE company_id = ? AND mode = 'apply' AND status = 'ok'"), [company_id]
    ).fetchall()
    return tuple(_record(row) for row in rows)


def next_seq(con: duckdb.DuckDBPyConnection, company_id: str) -> int:
    row = con.execute(
        "SELECT coalesce(max(seq), 0) + 1 FROM runs WHERE company_id = ?", [company_id]
    ).fetchall()
    return int(row[0][0])


def free_run_id(con: duckdb.DuckDBPyConnection, company_id: str, run_id: str) -> str:
    """``run_id``, or with a ``-2``, ``-3``... suffix when a reverted run keeps it
    (the audit trail keeps reverted runs; the same plan may be applied again)."""
    taken = {r[0] for r in con.execute(
        "SELECT run_id FROM runs WHERE company_id = ? AND status = 'reverted' "
        "AND (run_id = ? OR run_id LIKE ?)",
        [company_id, run_id, run_id + "-%"],
    ).fetchall()}
    candidate, n = run_id, 1
    while candidate in taken:
        n += 1
        candidate = f"{run_id}-{n}"
    return candidate


def stamp_applied(con: duckdb.DuckDBPyConnection, company_id: str, run_id: str,
                  overrides: str | None) -> None:
    """Give the just written applied run its ``seq`` and the guards it overrode."""
    con.execute(
        "UPDATE runs SET seq = ?, overrides = ? WHERE company_id = ? AND run_id = ?",
        [next_seq(con, company_id), overrides or None, company_id, run_id],
    )


@dataclass(frozen=True)
class RunDetails:
    """``highseas runs show``: the run, what it wrote, and whether it can be reverted."""

    run: RunRecord
    #: action -> ownership events of the run (live, or kept by its revert).
    events: dict[str, int]
    notifications: int
    cancelled_notifications: int
    #: Empty when ``highseas revert`` would undo it; else why not.
    not_revertible: str

    def to_dict(self) -> dict[str, Any]:
        return {"run": self.run.to_dict(), "events": self.events,
                "notifications": self.notifications,
                "cancelled_notifications": self.cancelled_notifications,
                "revertible": not self.not_revertible,
                "not_revertible": self.not_revertible or None}

    def format_text(self) -> str:
        run = self.run
        lines = [
            f"run {run.run_id} ({run.mode}, {run.status})",
            f"  company:   {run.company_id}",
            f"  ruleset:   {run.ruleset_id} ({run.ruleset_hash[:12]})",
            f"  as of:     {run.as_of.isoformat()}",
            f"  started:   {run.started_at.isoformat(sep=' ')}",
            f"  finished:  {run.finished_at.isoformat(sep=' ') if run.finished_at else '-'}",
        ]
        if run.counts:
            shown = ", ".join(f"{k} {v}" for k, v in sorted(run.counts.items()) if v)
            lines.append(f"  counts:    {shown or 'nothing'}")
        if self.events:
            lines.append("  events:    " + ", ".join(f"{k} {v}" for k, v in self.events.items()))
        if self.notifications or self.cancelled_notifications:
            lines.append(f"  reminders: {self.notifications} pending, "
                         f"{self.cancelled_notifications} cancelled")
        if run.overrides:
            lines.append(f"  overrode:  {run.overrides}")
        if run.reverts:
            lines.append(f"  reverts:   {run.reverts}")
        if run.reverted_by:
            lines.append(f"  reverted by: {run.reverted_by}")
        if run.mode == "apply":
            lines.append("  revertible: yes (highseas revert " + run.run_id + ")"
                         if not self.not_revertible else f"  revertible: no, {self.not_revertible}")
        return "\n".join(lines)


def why_not_revertible(con: duckdb.DuckDBPyConnection, run: RunRecord) -> str:
    """Empty when ``run`` alone can be reverted now; else the reason."""
    if run.mode != "apply":
        return f"run {run.run_id} is a {run.mode} run; only applied runs can be reverted"
    if run.status == "reverted":
        return f"run {run.run_id} was already reverted by {run.reverted_by}"
    if run.status != "ok":
        return f"run {run.run_id} has status {run.status}; it changed nothing to revert"
    if run.seq is None:
        return (f"run {run.run_id} was applied before highseas recorded what a run "
                "changes, so it cannot be restored exactly")
    stack = applied_stack(con, run.company_id)
    later = [r.run_id for r in stack if r.run_id != run.run_id and (r.seq or 0) > run.seq]
    if later:
        return (f"run {run.run_id} is not the latest applied run: revert "
                f"{', '.join(later)} first, or give them all, newest first")
    return ""


def run_details(con: duckdb.DuckDBPyConnection, run_id: str,
                company_id: str | None = None) -> RunDetails:
    run = get_run(con, run_id, company_id)
    key = [run.company_id, run.run_id]
    events: dict[str, int] = {}
    for table in ("ownership_events", "reverted_ownership_events"):
        for action, count in con.execute(
            f"SELECT action, count(*) FROM {table} WHERE company_id = ? AND run_id = ? "
            "GROUP BY 1 ORDER BY 1", key,
        ).fetchall():
            events[action] = events.get(action, 0) + int(count)
    pending = con.execute(
        "SELECT count(*) FROM notifications WHERE company_id = ? AND run_id = ?", key
    ).fetchall()[0][0]
    cancelled = con.execute(
        "SELECT count(*) FROM reverted_notifications WHERE company_id = ? AND run_id = ?", key
    ).fetchall()[0][0]
    return RunDetails(run, events, int(pending), int(cancelled), why_not_revertible(con, run))
