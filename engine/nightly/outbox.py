"""The outbox: the changes the CRM fetches, each exactly once.

Everything highseas writes that the CRM must act on is a change: an
ownership event (a run's release, trim, assignment or relay, or a claim), a
reminder to send, and, when ``highseas revert`` undoes a run whose changes
were already fetched, their reversal (``ownership_reverted``) and the
cancellation of its reminders (``notification_cancelled``).

A fetch numbers the changes committed since the previous fetch, in the order
they happened, continuing the company's sequence (1, 2, 3...), keeps a copy
of each as delivered in the ``outbox`` table, and returns the changes after
the caller's cursor. The cursor is the ``seq`` of the last change the CRM
processed:

* numbering and reading are one transaction, and two transactions that
  number the same ``seq`` conflict (the ``outbox`` key): a change is numbered
  once, and a change committed while a fetch runs is numbered by the next
  fetch, after every change the first fetch numbered. The numbers grow in
  the order fetches found the changes, never by clock;
* a fetch repeated with the same cursor returns the same changes (the
  copies), then any that came since: an interrupted fetch is simply repeated;
* a CRM that stores the ``seq`` of the last change it processed, and only
  after processing it, never skips a change nor gets one twice.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from highseas import codes
from highseas.errors import InvalidInputError
from highseas.store.db import companies, transaction

if TYPE_CHECKING:
    import duckdb

#: The kinds of change, in the order the outbox numbers those of one moment.
KINDS = ("ownership", "notification", "ownership_reverted", "notification_cancelled")
#: Attempts of a fetch that conflicts with a concurrent fetch of the same process.
ATTEMPTS = 3


@dataclass(frozen=True)
class OutboxBatch:
    """The changes after a cursor, and the cursor to pass next time."""

    company_id: str
    since: int
    #: The ``seq`` of the last change returned (``since`` when none was).
    cursor: int
    #: One dict per change: ``seq``, ``type`` (one of :data:`KINDS`), then its fields.
    changes: tuple[dict[str, Any], ...]
    #: The newest ``seq`` the outbox holds: more than ``cursor`` when a limit
    #: left changes for the next fetch.
    last_seq: int

    @property
    def more(self) -> bool:
        return self.last_seq > self.cursor

    def to_dict(self) -> dict[str, Any]:
        return {"company_id": self.company_id, "since": self.since, "cursor": self.cursor,
                "more": self.more, "changes": list(self.changes)}


def parse_cursor(text: str | int) -> int:
    """A cursor as given on the command line: ``0`` (from the beginning) or
    the ``seq`` of the last change processed."""
    value = str(text).strip()
    if not value.isdigit():
        raise InvalidInputError(
            f"the cursor {value!r} is not a change number",
            code=codes.OUTBOX_CURSOR_INVALID,
            hint="pass 0 for the first fetch, then the seq of the last change processed",
        )
    return int(value)


def outbox_company(con: duckdb.DuckDBPyConnection, company: str | None) -> str:
    """``company``, or the only company of the database; refused when unknown."""
    found = companies(con)
    if company is None:
        if len(found) == 1:
            return found[0]
        listed = f" (it holds: {', '.join(found)})" if found else " (it holds no company yet)"
        raise InvalidInputError(
            f"say whose outbox to fetch with --company{listed}", code=codes.COMPANY_NOT_GIVEN
        )
    if company not in found:
        raise InvalidInputError(
            f"the database holds no company {company!r}",
            code=codes.COMPANY_NOT_IN_DATABASE,
            hint=f"it holds: {', '.join(found)}" if found else "it holds no company yet",
        )
    return company


def fetch(con: duckdb.DuckDBPyConnection, company_id: str, since: int,
          limit: int | None = None) -> OutboxBatch:
    """Number the changes committed since the last fetch and return those
    after ``since`` (at most ``limit``), in ``seq`` order."""
    import duckdb

    for attempt in range(1, ATTEMPTS + 1):
        try:
            return _fetch_once(con, company_id, since, limit)
        except duckdb.TransactionException:
            if attempt == ATTEMPTS:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def _fetch_once(con: duckdb.DuckDBPyConnection, company_id: str, since: int,
                limit: int | None) -> OutboxBatch:
    with transaction(con):
        number_new_changes(con, company_id)
        last = last_seq(con, company_id)
        if since > last:
            raise InvalidInputError(
                f"the cursor {since} is ahead of the outbox of {company_id}, whose last "
                f"change is {last}",
                code=codes.OUTBOX_CURSOR_AHEAD,
                hint="the cursor belongs to another database or company, or the database "
                     "was restored from a backup: fetch from 0 and skip what the CRM has",
            )
        rows = con.execute(
            "SELECT seq, kind, payload FROM outbox WHERE company_id = ? AND seq > ? "
            "ORDER BY seq" + (" LIMIT ?" if limit is not None else ""),
            [company_id, since, *([limit] if limit is not None else [])],
        ).fetchall()
    changes = tuple({"seq": int(seq), "type": kind, **json.loads(payload)}
                    for seq, kind, payload in rows)
    cursor = changes[-1]["seq"] if changes else since
    return OutboxBatch(company_id, since, cursor, changes, last)


def last_seq(con: duckdb.DuckDBPyConnection, company_id: str) -> int:
    row = con.execute(
        "SELECT coalesce(max(seq), 0) FROM outbox WHERE company_id = ?", [company_id]
    ).fetchall()
    return int(row[0][0])


def _ts(column: str) -> str:
    return f"strftime({column}, '%Y-%m-%dT%H:%M:%S')"


#: The changes not numbered yet: (moment, run order, kind order, ref_id,
#: kind, run_id, payload). A reversal is a change only when what it reverses
#: was delivered; it happened when the revert run did.
_NEW_CHANGES = f"""
SELECT e."at" AS moment, coalesce(r.seq, 0) AS run_order, 0 AS kind_order,
       e.event_id AS ref_id, 'ownership' AS kind, e.run_id,
       json_object('event_id', e.event_id, 'run_id', e.run_id, 'customer_id', e.customer_id,
                   'action', e.action, 'from_rep_id', e.from_rep_id, 'to_rep_id', e.to_rep_id,
                   'from_pool_id', e.from_pool_id, 'to_pool_id', e.to_pool_id,
                   'rule_id', e.rule_id, 'reason', e.reason, 'at', {_ts('e."at"')},
                   'as_of', CAST(e.as_of AS VARCHAR)) AS payload
FROM ownership_events e
LEFT JOIN runs r ON r.company_id = e.company_id AND r.run_id = e.run_id
WHERE e.company_id = $company AND NOT EXISTS (
    SELECT 1 FROM outbox o WHERE o.company_id = e.company_id AND o.kind = 'ownership'
      AND o.ref_id = e.event_id)
UNION ALL
SELECT n.created_at, coalesce(r.seq, 0), 1, n.notification_id, 'notification', n.run_id,
       json_object('notification_id', n.notification_id, 'run_id', n.run_id,
                   'rep_id', n.rep_id, 'customer_id', n.customer_id, 'rule_id', n.rule_id,
                   'notification', n.kind, 'due_on', CAST(n.due_on AS VARCHAR),
                   'days_left', n.days_left, 'message', n.message,
                   'created_at', {_ts('n.created_at')}, 'as_of', CAST(n.as_of AS VARCHAR))
FROM notifications n
LEFT JOIN runs r ON r.company_id = n.company_id AND r.run_id = n.run_id
WHERE n.company_id = $company AND NOT EXISTS (
    SELECT 1 FROM outbox o WHERE o.company_id = n.company_id AND o.kind = 'notification'
      AND o.ref_id = n.notification_id)
UNION ALL
SELECT coalesce(v.finished_at, v.started_at, x."at"), coalesce(v.seq, 0), 2, x.event_id,
       'ownership_reverted', x.reverted_by,
       json_object('event_id', x.event_id, 'run_id', x.run_id, 'reverted_by', x.reverted_by,
                   'customer_id', x.customer_id, 'action', 'revert',
                   'from_rep_id', x.to_rep_id, 'to_rep_id', x.from_rep_id,
                   'from_pool_id', x.to_pool_id, 'to_pool_id', x.from_pool_id,
                   'rule_id', x.rule_id,
                   'reason', 'reverted: ' || x.reason,
                   'at', {_ts('coalesce(v.finished_at, v.started_at, x."at")')},
                   'as_of', CAST(x.as_of AS VARCHAR))
FROM reverted_ownership_events x
JOIN outbox d ON d.company_id = x.company_id AND d.kind = 'ownership' AND d.ref_id = x.event_id
LEFT JOIN runs v ON v.company_id = x.company_id AND v.run_id = x.reverted_by
WHERE x.company_id = $company AND NOT EXISTS (
    SELECT 1 FROM outbox o WHERE o.company_id = x.company_id
      AND o.kind = 'ownership_reverted' AND o.ref_id = x.event_id)
UNION ALL
SELECT coalesce(v.finished_at, v.started_at, y.created_at), coalesce(v.seq, 0), 3,
       y.notification_id, 'notification_cancelled', y.reverted_by,
       json_object('notification_id', y.notification_id, 'run_id', y.run_id,
                   'reverted_by', y.reverted_by, 'rep_id', y.rep_id,
                   'customer_id', y.customer_id, 'rule_id', y.rule_id,
                   'at', {_ts('coalesce(v.finished_at, v.started_at, y.created_at)')})
FROM reverted_notifications y
JOIN outbox d ON d.company_id = y.company_id AND d.kind = 'notification'
     AND d.ref_id = y.notification_id
LEFT JOIN runs v ON v.company_id = y.company_id AND v.run_id = y.reverted_by
WHERE y.company_id = $company AND NOT EXISTS (
    SELECT 1 FROM outbox o WHERE o.company_id = y.company_id
      AND o.kind = 'notification_cancelled' AND o.ref_id = y.notification_id)
"""


def number_new_changes(con: duckdb.DuckDBPyConnection, company_id: str) -> int:
    """Give the changes committed since the last fetch the next numbers, in
    the order they happened (moment, then run order, then kind and id: an
    event's ids follow its run's plan order); how many there were."""
    base = last_seq(con, company_id)
    count = con.execute(
        "INSERT INTO outbox (company_id, seq, kind, ref_id, run_id, payload) "
        "SELECT $company, $base + row_number() OVER "
        "(ORDER BY moment, run_order, kind_order, ref_id), kind, ref_id, run_id, "
        f"CAST(payload AS VARCHAR) FROM ({_NEW_CHANGES})",
        {"company": company_id, "base": base},
    ).fetchall()
    return int(count[0][0]) if count else 0
