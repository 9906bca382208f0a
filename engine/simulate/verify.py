"""``highseas simulate --verify`` and ``--verify-every K``: the incremental
replay checked against the nightly path.

``--verify``: both replays start from the same rewound copy;
:func:`first_difference` compares their logs day by day (every decision but
reminders, which both count; claims back, lost touches, the pools' sizes)
and names the first day, customer and both decisions where they part.

``--verify-every K`` (:class:`StateCheck`): every K-th day the incremental
replay's own state is written into the copy and the nightly planner plans
that day on it, so one nightly plan checks K days of incremental work and
the state it carries.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from typing import TYPE_CHECKING, Any

from highseas import codes
from highseas.errors import ReplayDivergedError
from highseas.ruleset.model import Ruleset
from highseas.simulate.replay import ReplayLog

if TYPE_CHECKING:
    import duckdb

    from highseas.nightly.plan import Plan
    from highseas.simulate.incremental.planner import IncrementalPlanner

#: What a day's state holds that both paths must agree on.
_DAY_FIELDS = ("counts", "high_seas", "private", "pools", "claims_back", "lost_touches")


@dataclass(frozen=True)
class Difference:
    """Where two replays first differ."""

    day: date
    what: str
    nightly: Any
    incremental: Any

    def describe(self) -> str:
        return (f"on {self.day.isoformat()}, {self.what}: the nightly path "
                f"{_show(self.nightly)}, the incremental replay {_show(self.incremental)}")


def _show(value: Any) -> str:
    if isinstance(value, tuple) and len(value) >= 3:
        action, customer, rule, from_rep, to_rep, from_pool, to_pool = value[1:8]
        where = (f"{from_rep or from_pool or '-'} -> {to_rep or to_pool or '-'}")
        return f"decided {action} of {customer} by {rule} ({where})"
    if value is None:
        return "decided nothing"
    return f"has {value}"


def first_difference(nightly: ReplayLog, incremental: ReplayLog) -> Difference | None:
    """The first day (and what) on which the two logs differ; None if equal."""
    by_day_n = _events_by_day(nightly)
    by_day_i = _events_by_day(incremental)
    for day_n, day_i in zip(nightly.days, incremental.days, strict=True):
        day = day_n.day
        events_n, events_i = by_day_n.get(day, []), by_day_i.get(day, [])
        if events_n != events_i:
            keyed_n = {(e[1], e[2]): e for e in events_n}
            keyed_i = {(e[1], e[2]): e for e in events_i}
            for key in sorted(set(keyed_n) | set(keyed_i)):
                if keyed_n.get(key) != keyed_i.get(key):
                    return Difference(day, f"customer {key[1]}", keyed_n.get(key),
                                      keyed_i.get(key))
            return Difference(day, "the order of the decisions", [e[2] for e in events_n],
                              [e[2] for e in events_i])
        for name in _DAY_FIELDS:
            value_n, value_i = getattr(day_n, name), getattr(day_i, name)
            if value_n != value_i:
                return Difference(day, name.replace("_", " "), value_n, value_i)
    return None


def _events_by_day(log: ReplayLog) -> dict[date, list[tuple[Any, ...]]]:
    out: dict[date, list[tuple[Any, ...]]] = {}
    for event in log.events:
        out.setdefault(event[0], []).append(event)
    return out


def check_equal(nightly: ReplayLog, incremental: ReplayLog, scenario: str) -> None:
    """Raise HS713 (exit 1) at the first difference of the two logs."""
    difference = first_difference(nightly, incremental)
    if difference is not None:
        raise ReplayDivergedError(
            f"scenario {scenario}: {difference.describe()}",
            code=codes.REPLAY_PATHS_DIFFER, file="<command line>",
            hint="this is a bug in highseas's incremental replay; replay without --verify "
                 "and with --replay-path nightly for the nightly run's answer, and report it")


class StateCheck:
    """``--verify-every K``: every K-th replayed day (the first included),
    the incremental replay's state is written into the scenario's copy
    (owners, pools, the ownership events and reminders so far, relays in
    progress, rotation positions) and the nightly planner plans that day on
    it; its decisions, reminders and unassigned count must be the
    incremental replay's, else HS713."""

    def __init__(self, con: duckdb.DuckDBPyConnection, ruleset: Ruleset, every: int,
                 scenario: str) -> None:
        self.con = con
        self.ruleset = ruleset
        self.every = every
        self.scenario = scenario
        self.days_seen = 0
        self.events_written = 0
        self.reminders: list[tuple[date, str, str, date, str]] = []
        self.reminders_written = 0

    def due(self) -> bool:
        self.days_seen += 1
        return (self.days_seen - 1) % self.every == 0

    def nightly_plan(self, day: date, planner: IncrementalPlanner,
                     events: list[tuple[Any, ...]]) -> Plan:
        """Write the state (``events``: the replay's log so far, the day's
        claims back included) into the copy and plan ``day`` on the nightly
        path."""
        from highseas.nightly.planner import plan as make_plan

        self._write(day, planner, events)
        return make_plan(self.con, self.ruleset, day, unassigned_rows=False)

    def _write(self, day: date, planner: IncrementalPlanner,
               logged: list[tuple[Any, ...]]) -> None:
        import pyarrow as pa

        from highseas.store.db import registered, transaction

        con, company = self.con, self.ruleset.company.id
        state = planner.state
        first_number = self.events_written
        events = [e for e in logged[first_number:] if e[1] != "lost_touch"]
        self.events_written = len(logged)
        moved = sorted(state.moved)
        with transaction(con):
            if moved:
                since = [datetime.combine(date.fromordinal(int(state.owned_since[i])), time())
                         if state.owner[i] != -1 else None for i in moved]
                table = pa.table({
                    "customer_id": [state.customer_ids[i] for i in moved],
                    "owner": [state.owner_id(i) for i in moved],
                    "pool": [state.stored_pool[i] for i in moved],
                    "since": pa.array(since, pa.timestamp("us")),
                })
                with registered(con, "hs_verify_moved", table):
                    con.execute(
                        "UPDATE customers AS c SET owner_rep_id = m.owner, pool_id = m.pool, "
                        "owned_since = m.since FROM hs_verify_moved m "
                        "WHERE c.company_id = ? AND c.customer_id = m.customer_id", [company])
            for number, (on, action, customer_id, rule_id, from_rep, to_rep, from_pool,
                         to_pool, _) in enumerate(events, start=first_number):
                claim = action == "claim_back"
                con.execute(
                    "INSERT INTO ownership_events (company_id, event_id, run_id, customer_id, "
                    "from_rep_id, to_rep_id, from_pool_id, to_pool_id, action, rule_id, "
                    "reason, \"at\", as_of) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [company, f"verify-{on.isoformat()}-{number}-{customer_id}",
                     None if claim else f"verify-{on.isoformat()}", customer_id, from_rep,
                     to_rep, from_pool, to_pool, "claim" if claim else action, rule_id,
                     "replayed", datetime.combine(on, time(0 if claim else 23, 0)), on])
            for on, customer_id, rule_id, due_on, offset in self.reminders[
                    self.reminders_written:]:
                con.execute(
                    "INSERT INTO notifications (company_id, notification_id, run_id, "
                    "customer_id, rule_id, kind, due_on, message, created_at, as_of) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, 'replayed', ?, ?)",
                    [company, f"verify-{on.isoformat()}-{customer_id}-{rule_id}",
                     f"verify-{on.isoformat()}", customer_id, rule_id, f"remind:{offset}",
                     due_on, datetime.combine(on, time(23, 59)), on])
            self.reminders_written = len(self.reminders)
            con.execute("DELETE FROM relay_state WHERE company_id = ?", [company])
            for customer_id, holding in sorted(planner.relays.items()):
                con.execute(
                    "INSERT INTO relay_state (company_id, customer_id, relay_id, round, rep_id, "
                    "started_on, deadline, reps_tried) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [company, customer_id, holding.relay_id, holding.round, holding.rep_id,
                     holding.started_on, holding.deadline, list(holding.reps_tried)])
            con.execute("DELETE FROM rotation_state WHERE company_id = ?", [company])
            for (allocation_id, pool_id), rep_id in sorted(planner.rotation.items()):
                con.execute("INSERT INTO rotation_state VALUES (?, ?, ?, ?, ?)",
                            [company, allocation_id, pool_id, rep_id, day])

    def compare(self, day: date, expected: Plan | None, decisions: list[tuple[Any, ...]],
                reminders: list[tuple[str, str, date, str]], unassigned: int) -> None:
        """Raise HS713 when the nightly plan of ``day`` (None: the day was
        not checked) differs from the incremental replay's decisions."""
        for customer_id, rule_id, due_on, offset in reminders:
            self.reminders.append((day, customer_id, rule_id, due_on, offset))
        if expected is None:
            return
        nightly = {(d.action, d.customer_id): (day, d.action, d.customer_id, d.rule_id,
                                               d.from_rep_id, d.to_rep_id, d.from_pool_id,
                                               d.to_pool_id, d.relay_round)
                   for d in expected.decision_records() if d.action != "remind"}
        mine = {(d[0], d[1]): (day, *d) for d in decisions}
        for key in sorted(set(nightly) | set(mine)):
            if nightly.get(key) != mine.get(key):
                self._fail(Difference(day, f"customer {key[1]}", nightly.get(key),
                                      mine.get(key)))
        nightly_reminders = sorted((d.customer_id, d.rule_id, d.due_on, d.reminder_offset)
                                   for d in expected.by_action("remind"))
        if nightly_reminders != sorted(reminders):
            self._fail(Difference(day, "the reminders", nightly_reminders, sorted(reminders)))
        if expected.unassigned_omitted != unassigned:
            self._fail(Difference(day, "customers left unassigned",
                                  expected.unassigned_omitted, unassigned))

    def _fail(self, difference: Difference) -> None:
        raise ReplayDivergedError(
            f"scenario {self.scenario} (state check): {difference.describe()}",
            code=codes.REPLAY_PATHS_DIFFER, file="<command line>",
            hint="this is a bug in highseas's incremental replay; replay with "
                 "--replay-path nightly for the nightly run's answer, and report it")
