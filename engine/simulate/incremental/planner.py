"""The incremental replay's day: claims back, the day's facts, then the
nightly run's steps (:mod:`.steps`) on the scenario's columnar state, and
the decisions applied to it and logged as the nightly-path replay logs them
(:func:`highseas.simulate.replay.replay`).

Claims back are decided by :class:`highseas.nightly.claims.ClaimChecks`,
the nightly claim check, given the scenario's counters and cooldowns. What
the planner carries from day to day besides the state: the customers each
salesperson received (claim caps), who lost which customer when (cooldowns,
claims back), reminders sent, rotation positions, relays in progress and
the relay history (lapsed cooldowns, "never relayed twice"), and the days
each salesperson touched each customer (a relay holder's contact). What it
does not decide (the behaviour model) :func:`unsupported` names; such a
scenario is replayed on the nightly path.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Any, Protocol

import numpy as np

from highseas.compile import ir
from highseas.compile.decision_points import release_condition
from highseas.nightly import facts as derive
from highseas.nightly.claims import ClaimChecks, ClaimVerdict
from highseas.nightly.ledger import RepLoads
from highseas.nightly.plan import ACTIONS, OWNERSHIP_ACTIONS
from highseas.ruleset.model import Ruleset
from highseas.simulate.incremental.history import DayHistory, History
from highseas.simulate.incremental.start import EngineStart
from highseas.simulate.incremental.state import NOBODY, ScenarioState
from highseas.simulate.incremental.steps import Conditions, DayRun, Reminded


class DayCheck(Protocol):
    """A check of replayed days against the nightly planner
    (:class:`highseas.simulate.verify.StateCheck` for ``--verify-every``)."""

    def due(self) -> bool:
        """Whether the day about to be replayed is checked."""

    def nightly_plan(self, day: date, planner: IncrementalPlanner,
                     events: list[tuple[Any, ...]]) -> Any:
        """The nightly plan of ``day`` on ``planner``'s state."""

    def compare(self, day: date, expected: Any, decisions: list[tuple[Any, ...]],
                reminders: list[tuple[str, str, date, str]], unassigned: int) -> None:
        """Raise at a difference (``expected`` None: the day was not checked)."""

#: Event actions that count against a salesperson's claim caps.
_RECEIVING = frozenset(derive.RECEIVING_ACTIONS)


def unsupported(ruleset: Ruleset, *, contact: object = None) -> str | None:
    """Why the incremental planner cannot replay ``ruleset`` (None: it can)."""
    if contact is not None:
        return "the behaviour model (--contact-after)"
    return None


@dataclass
class DayOutcome:
    """What one replayed day decided, in the replay log's shapes."""

    day: date
    counts: dict[str, int]
    events: list[tuple[Any, ...]]
    claims_back: int
    lost_touches: int
    high_seas: int
    private: int
    pools: dict[str, int]
    #: Reminders: (customer, rule, due_on, offset).
    reminders: list[tuple[str, str, date, str]] = field(default_factory=list)


#: Fact columns the steps read besides conditions (trims: who is trimmed
#: and in which order).
_STEP_COLUMNS = frozenset({"open_orders", "last_touch_day", "owned_since_day", "level"})


def read_columns(ruleset: Ruleset) -> dict[str, ir.ColumnType]:
    """The fact columns the replay of ``ruleset`` reads, with their types:
    those of its compiled conditions (read on any day: lowering changes
    thresholds, not columns) and those the steps read. The state keeps
    only these current."""
    day = date(2000, 1, 1)
    nodes = [release_condition(rule, day, ruleset) for rule in ruleset.release_rules]
    conditions = [relay.when for relay in ruleset.relays]
    conditions += [a.when for a in ruleset.allocations if a.when is not None]
    for cap in ruleset.caps.private:
        conditions += [cap.protect] if cap.protect is not None else []
        conditions += [t.when for t in cap.excess_to if t.when is not None]
    nodes += [ir.lower(condition, day, ruleset) for condition in conditions]
    read = set(_STEP_COLUMNS).union(*(ir.columns_of(node) for node in nodes))
    return {column: kind for column, kind in ir.column_types(ruleset).items()
            if column in read}


def initial_state(history: History, types: dict[str, ir.ColumnType]) -> ScenarioState:
    """A fresh copy of the state on the history's first day, built once per
    set of fact columns (``History.states``) for the scenarios to share."""
    key = tuple(sorted(types.items()))
    state = history.states.get(key)
    if state is None:
        state = history.states[key] = ScenarioState(history, types)
    copy: ScenarioState = state.copy()
    return copy


class Received:
    """How many customers each salesperson received in this scenario, per
    replayed day (from ``first`` on, ``days`` days)."""

    def __init__(self, first: date, days: int) -> None:
        self.first = first.toordinal()
        self.rows: dict[str, int] = {}
        self.counts = np.zeros((16, max(days, 1)), dtype=np.int64)

    def add(self, rep_id: str, day: date) -> None:
        row = self.rows.get(rep_id)
        if row is None:
            row = self.rows[rep_id] = len(self.rows)
            if row == len(self.counts):
                self.counts = np.vstack([self.counts, np.zeros_like(self.counts)])
        self.counts[row, day.toordinal() - self.first] += 1

    def counters(self, rep_ids: list[str], day: date) -> np.ndarray[Any, np.dtype[np.int64]]:
        """Per salesperson of ``rep_ids`` (columns): what they received on
        ``day``, in its week, in its month and in the 30 days to it (rows,
        the order of ``RepFacts.claims_today`` etc.)."""
        last = day.toordinal() - self.first
        starts = (day, day - timedelta(days=day.weekday()), day.replace(day=1),
                  day - timedelta(days=29))
        sums = np.stack([self.counts[:, max(0, start.toordinal() - self.first):last + 1]
                         .sum(axis=1) for start in starts])
        rows = np.array([self.rows.get(rep_id, -1) for rep_id in rep_ids], dtype=np.int64)
        out: np.ndarray[Any, np.dtype[np.int64]] = np.where(rows >= 0, sums[:, rows], 0)
        return out


class IncrementalPlanner:
    """Replays days on one scenario's :class:`ScenarioState`."""

    def __init__(self, ruleset: Ruleset, history: History, start: EngineStart, *,
                 claim_back: bool = True) -> None:
        self.ruleset = ruleset
        self.history = history
        self.claim_back = claim_back
        self.state = initial_state(history, read_columns(ruleset))
        self.conditions = Conditions(ruleset)
        self.received = Received(history.days[0].day if history.days else date.min,
                                 len(history.days))
        #: customer -> {salesperson: the last day they lost it} (cooldowns).
        self.lost_on: dict[str, dict[str, date]] = {}
        for (customer_id, rep_id), day in history.lost_on.items():
            self.lost_on.setdefault(customer_id, {})[rep_id] = day
        self.reminded = Reminded(set(history.reminded), len(self.state.customer_ids), ruleset)
        #: (customer, salesperson) pairs this scenario took the customer from,
        #: numbered as the history numbers them (row * salespeople + rep).
        self.lost_here: set[int] = set()
        self.rotation = dict(start.rotation)
        self.relays = dict(start.relays)
        self.relay_events = {c: list(e) for c, e in start.relay_events.items()}
        self.contacted_before = set(start.contacted_before)
        self.first_day = history.days[0].day if history.days else None
        self.relay_ids = {relay.id for relay in ruleset.relays}
        self.ever_relayed = np.zeros(len(self.state.customer_ids), dtype=bool)
        for customer_id in self.relay_events:
            if customer_id in self.state.index:
                self.ever_relayed[self.state.index[customer_id]] = True
        #: The day being replayed.
        self.today = self.first_day or date.min

    # -- the day -----------------------------------------------------------

    def day(self, today: DayHistory, check: DayCheck | None = None,
            logged: list[tuple[Any, ...]] | None = None) -> DayOutcome:
        """Replay one day. ``check`` (``--verify-every``): when due, the
        nightly planner plans the day on this state (written into the copy;
        ``logged``: the replay log's events so far) and must agree."""
        day = today.day
        events: list[tuple[Any, ...]] = []
        claimed = lost = 0
        if self.claim_back and self.lost_here:
            claimed, lost = self._claims_back(today, events)
        self._take_facts(today)
        expected = (check.nightly_plan(day, self, [*(logged or []), *events])
                    if check is not None and check.due() else None)
        loads = RepLoads(self.ruleset, today.reps, self.counters(today, today.reps))
        run = DayRun(self.state, self.ruleset, self.conditions, day, loads,
                     self.rotation, self.relays, lambda ids: self._cooldown_reps(ids, day),
                     self.ever_relayed, self.reminded, self._contacted)
        run.relays_in_progress()
        run.new_relays()
        run.releases()
        run.trims()
        run.reminders_step()
        run.allocations()
        order = {action: i for i, action in enumerate(ACTIONS)}
        decisions = sorted(run.decisions, key=lambda d: (order[d[0]], d[1], d[2]))
        for decision in decisions:
            events.append((day, *decision))
        if check is not None:
            check.compare(day, expected, decisions, run.reminders, run.unassigned_count())
        self._apply(day, decisions, run)
        counts = {action: 0 for action in ACTIONS}
        for decision in decisions:
            counts[decision[0]] += 1
        counts["remind"] = len(run.reminders)
        counts["unassigned"] = run.unassigned_count()
        counts["customers_evaluated"] = int(self.state.present.sum())
        high_seas, private, pools = self._pool_sizes()
        return DayOutcome(day, counts, events, claimed, lost, high_seas, private, pools,
                          run.reminders)

    def _take_facts(self, today: DayHistory) -> None:
        state = self.state
        numbers = today.numbers
        assert numbers is not None and self.first_day is not None
        if today.changed is not None and today.changed.num_rows:
            state.changed(today.changed, numbers.changed_rows, self.history.changed_facts(
                (today.day - self.first_day).days, state.types))
        rows, reps = numbers.touch_rows, numbers.touch_reps
        # an activity by nobody named, or by the owner, follows the customer up
        touched = rows[state.present[rows] & ((reps == -1) | (reps == state.owner[rows]))]
        state.touched(touched, today.day)
        ordered = numbers.ordered_rows
        state.ordered(ordered[state.present[ordered]], today.day)
        self.today = today.day

    def _contacted(self, customer_id: str, rep_id: str, started_on: date) -> bool:
        """Whether ``rep_id`` made contact with the customer on or after
        ``started_on`` (up to the day being replayed)."""
        if (self.first_day is not None and started_on < self.first_day
                and customer_id in self.contacted_before):
            holding = self.relays.get(customer_id)
            if holding is not None and holding.rep_id == rep_id:
                return True
        row, rep = self.state.index.get(customer_id), self.state.rep_index.get(rep_id)
        if row is None or rep is None or rep >= len(self.history.rep_ids):
            return False  # (a salesperson the history never names was never in touch)
        assert self.first_day is not None
        return self.history.in_touch(row, rep, (started_on - self.first_day).days,
                                     (self.today - self.first_day).days)

    def counters(self, today: DayHistory, reps: list[derive.RepFacts]
                 ) -> dict[str, tuple[int, int, int, int, int]]:
        """Each of ``reps``' (private, today, week, month, last 30 days) on
        the day: the history's claims with this scenario's holdings and the
        customers it gave them counted in."""
        private = self.state.private_counts()
        got = self.received.counters([rep.rep_id for rep in reps], today.day).tolist()
        return {rep.rep_id: (private.get(rep.rep_id, 0), rep.claims_today + day_,
                             rep.claims_week + week, rep.claims_month + month,
                             rep.assigned_last_30d + last30)
                for rep, day_, week, month, last30 in zip(reps, *got, strict=True)}

    def reps(self, today: DayHistory, only: set[str]) -> list[derive.RepFacts]:
        """The salespeople of ``only`` on the day, with this scenario's
        counters (:meth:`counters`)."""
        reps = [rep for rep in today.reps if rep.rep_id in only]
        counters = self.counters(today, reps)
        out = []
        for rep in reps:
            private, day_, week, month, last30 = counters[rep.rep_id]
            out.append(replace(rep, private_count=private, claims_today=day_,
                               claims_week=week, claims_month=month,
                               assigned_last_30d=last30))
        return out

    def _cooling(self, customer_ids: list[str], day: date) -> dict[str, dict[str, date]]:
        """customer -> {salesperson: cooldown end} as
        :func:`highseas.nightly.facts.cooldowns` gives them on ``day``."""
        out: dict[str, dict[str, date]] = {}
        wanted = set(customer_ids)
        cooldown = self.ruleset.caps.cooldown
        if cooldown is not None:
            for customer_id in wanted:
                for rep_id, lost_on in self.lost_on.get(customer_id, {}).items():
                    if lost_on <= day:
                        until = cooldown.add_to(lost_on)
                        if until > day:
                            out.setdefault(customer_id, {})[rep_id] = until
        for relay in self.ruleset.relays:
            lapse = relay.lapsed_cooldown
            if lapse is None:
                continue
            since = lapse.subtract_from(day) - timedelta(days=4)
            for customer_id in wanted & self.relay_events.keys():
                events = self.relay_events[customer_id]
                latest: dict[str, date] = {}
                for on, rule, action, from_rep, _ in events:
                    if (rule != relay.id or action not in ("relay", "release")
                            or from_rep is None or not since < on <= day):
                        continue
                    if any(p_rule == relay.id and p_action == "relay" and p_to == from_rep
                           and p_on < on for p_on, p_rule, p_action, _, p_to in events):
                        latest[from_rep] = max(on, latest.get(from_rep, on))
                for rep_id, lapsed_on in latest.items():
                    until = lapse.add_to(lapsed_on)
                    if until > day:
                        ends = out.setdefault(customer_id, {})
                        ends[rep_id] = max(until, ends.get(rep_id, until))
        return out

    def _cooldown_reps(self, customer_ids: list[str], day: date) -> dict[str, frozenset[str]]:
        return {cid: frozenset(rep for rep, until in ends.items() if until > day)
                for cid, ends in self._cooling(customer_ids, day).items()}

    def _claims_back(self, today: DayHistory, events: list[tuple[Any, ...]]) -> tuple[int, int]:
        state = self.state
        day = today.day
        numbers = today.numbers
        assert numbers is not None
        named = numbers.touch_reps >= 0
        pairs = numbers.touch_rows[named] * len(self.history.rep_ids) + numbers.touch_reps[named]
        # each pair lost here once, by its first activity (time order, then
        # customer, then salesperson: the order of the activities)
        seen: set[int] = set()
        order: list[tuple[str, str]] = []
        for pair in pairs.tolist():
            if pair in self.lost_here and pair not in seen:
                seen.add(pair)
                row, rep = divmod(pair, len(self.history.rep_ids))
                order.append((state.customer_ids[row], self.history.rep_ids[rep]))
        if not order:
            return 0, 0
        customers = sorted({cid for cid, _ in order})
        checks = ClaimChecks.of(
            self.ruleset, day, self.reps(today, {rep_id for _, rep_id in order}),
            {cid: (state.owner_id(state.index[cid]), state.stored_pool[state.index[cid]],
                   state.region[state.index[cid]] if state.present[state.index[cid]]
                   else None)
             for cid in customers if cid in state.index},
            self._cooling(customers, day))
        claims: list[ClaimVerdict] = []
        claimed = lost = 0
        for customer_id, rep_id in order:
            customer = checks.customers.get(customer_id)
            if customer is None:
                continue
            owner, pool = customer.owner, customer.pool_id
            if owner == rep_id:
                continue
            if owner is None and rep_id in checks.reps and checks.allowed(rep_id, customer_id):
                verdict = checks.verdict(rep_id, customer_id)
                claims.append(verdict)
                checks.granted(verdict)
                claimed += 1
                events.append((day, "claim_back", customer_id, "claim", None, rep_id,
                               pool, None, None))
                continue
            lost += 1
            events.append((day, "lost_touch", customer_id, None, rep_id, owner, pool, None,
                           None))
        state.own_many([state.index[verdict.customer_id] for verdict in claims],
                       [verdict.rep_id for verdict in claims], day)
        for verdict in claims:
            self.received.add(verdict.rep_id, day)
        return claimed, lost

    def _apply(self, day: date, decisions: list[tuple[Any, ...]], run: DayRun) -> None:
        state = self.state
        released: list[int] = []
        pools: list[str] = []
        owned: list[int] = []
        owners: list[str] = []
        for action, customer_id, rule, from_rep, to_rep, _from_pool, to_pool, _ in decisions:
            if action not in OWNERSHIP_ACTIONS:
                continue
            i = state.index[customer_id]
            if to_rep is None:
                released.append(i)
                pools.append(to_pool)
            else:
                owned.append(i)
                owners.append(to_rep)
                if action in _RECEIVING:
                    self.received.add(to_rep, day)
            if from_rep is not None:
                rep = state.rep_index[from_rep]
                if rep < len(self.history.rep_ids):  # (others are never in touch)
                    self.lost_here.add(i * len(self.history.rep_ids) + rep)
                if to_rep != from_rep:
                    self.lost_on.setdefault(customer_id, {})[from_rep] = day
            if rule in self.relay_ids:
                self.relay_events.setdefault(customer_id, []).append(
                    (day, rule, action, from_rep, to_rep))
                self.ever_relayed[i] = True
        state.release(released, pools)
        state.own_many(owned, owners, day)
        for customer_id in run.relay_deletes:
            self.relays.pop(customer_id, None)
        self.relays.update(run.relay_upserts)

    def _pool_sizes(self) -> tuple[int, int, dict[str, int]]:
        state = self.state
        unowned = state.present & (state.owner == NOBODY)
        codes = state.stored_code[unowned]
        counts = np.bincount(codes + 1, minlength=len(state.pool_names) + 1)
        pools: dict[str, int] = {}
        for number, count in enumerate(counts.tolist()):
            if count:
                name = state.pool_names[number - 1] if number else "(none)"
                pools[name or "(none)"] = pools.get(name or "(none)", 0) + count
        return int(unowned.sum()), int(state.owned().sum()), pools
