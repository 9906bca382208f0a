"""The incremental replay's day: the nightly run's decisions on the
scenario's columnar state, in the nightly run's order.

A day goes as the nightly-path replay's (:func:`highseas.simulate.replay.replay`):

1. touches by salespeople who lost the customer in this scenario become
   claims back (decided by :class:`highseas.nightly.claims.ClaimChecks`, the
   nightly claim check, given the scenario's counters) or lost touches;
2. the day's recorded facts are taken (:mod:`.history`);
3. release rules, in ruleset order, release the owned customers whose
   release condition (``when`` and not ``unless``, from the compiled IR,
   :func:`highseas.compile.decision_points.release_condition`) holds;
4. reminders: of the customers not released, those some rule would release
   within one of its reminder offsets (the first rule to release, as the
   nightly reminder step decides);
5. the decisions are applied to the state and logged as the nightly-path
   replay logs them.

Conditions are evaluated over the whole column of customers with numpy
(:mod:`highseas.compile.to_numpy`), which costs microseconds per thousand
customers; no SQL runs. What this planner does not decide yet (private caps,
allocations, relays, the behaviour model) :func:`unsupported` names, and
such a scenario is replayed on the nightly path.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Any

import numpy as np

from highseas.compile import ir
from highseas.compile.decision_points import release_condition
from highseas.compile.to_numpy import DayConditions, evaluate
from highseas.nightly import facts as derive
from highseas.nightly.claims import ClaimChecks, ClaimVerdict
from highseas.nightly.plan import ACTIONS
from highseas.nightly.steps.reminders import first_release, reminder_offset
from highseas.ruleset.model import PoolTarget, ReleaseRule, Ruleset
from highseas.simulate.incremental.history import DayHistory, History
from highseas.simulate.incremental.state import NOBODY, ScenarioState

#: Event actions that count against a salesperson's claim caps.
_RECEIVING = frozenset(derive.RECEIVING_ACTIONS)


def unsupported(ruleset: Ruleset, *, contact: object = None) -> str | None:
    """Why the incremental planner cannot replay ``ruleset`` (None: it can)."""
    if contact is not None:
        return "the behaviour model (--contact-after)"
    if ruleset.relays:
        return "activation relays"
    if ruleset.allocations:
        return "allocations"
    if ruleset.caps.private:
        return "private caps"
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


class Received:
    """The days each salesperson received customers in this scenario."""

    def __init__(self) -> None:
        self.days: dict[str, list[int]] = {}

    def add(self, rep_id: str, day: date) -> None:
        self.days.setdefault(rep_id, []).append(day.toordinal())

    def between(self, rep_id: str, first: date, last: date) -> int:
        days = self.days.get(rep_id)
        if not days:
            return 0
        return bisect_right(days, last.toordinal()) - bisect_left(days, first.toordinal())


class IncrementalPlanner:
    """Replays days on one scenario's :class:`ScenarioState`."""

    def __init__(self, ruleset: Ruleset, history: History, *, claim_back: bool = True) -> None:
        self.ruleset = ruleset
        self.history = history
        self.claim_back = claim_back
        self.state = ScenarioState(history, ir.column_types(ruleset))
        self.received = Received()
        self.lost_on = dict(history.lost_on)
        self.reminded = set(history.reminded)
        #: (customer, salesperson) pairs this scenario took the customer from.
        self.lost_here: set[tuple[str, str]] = set()
        self._conditions: dict[tuple[str, date], ir.Node] = {}
        self._windows: dict[tuple[str, date], DayConditions] = {}

    # -- conditions --------------------------------------------------------

    def _condition(self, rule: ReleaseRule, day: date) -> ir.Node:
        key = (rule.id, day)
        node = self._conditions.get(key)
        if node is None:
            node = self._conditions[key] = release_condition(rule, day, self.ruleset)
        return node

    def _window(self, rule: ReleaseRule, first: date, days: int) -> DayConditions:
        key = (rule.id, first)
        window = self._windows.get(key)
        if window is None or window.days != days:
            nodes = [self._condition(rule, first + timedelta(days=i)) for i in range(days)]
            window = self._windows[key] = DayConditions(first, nodes)
        return window

    # -- the day -----------------------------------------------------------

    def day(self, today: DayHistory) -> DayOutcome:
        day = today.day
        events: list[tuple[Any, ...]] = []
        claimed = lost = 0
        if self.claim_back and self.lost_here:
            claimed, lost = self._claims_back(today, events)
        self._take_facts(today)
        decided = np.zeros(len(self.state.customer_ids), dtype=bool)
        releases = self._releases(day, decided)
        reminders = self._reminders(day, decided)
        order = {action: i for i, action in enumerate(ACTIONS)}
        for decision in sorted(releases, key=lambda d: (order[d[0]], d[1], d[2])):
            events.append((day, *decision))
        self._apply(day, releases)
        counts = {action: 0 for action in ACTIONS}
        counts["release"] = len(releases)
        counts["remind"] = len(reminders)
        counts["unassigned"] = 0
        counts["customers_evaluated"] = int(self.state.present.sum())
        high_seas, private, pools = self._pool_sizes()
        return DayOutcome(day, counts, events, claimed, lost, high_seas, private, pools,
                          reminders)

    def _take_facts(self, today: DayHistory) -> None:
        state = self.state
        if today.changed is not None and today.changed.num_rows:
            state.changed(today.changed)
        touched = []
        for touch in today.touches:
            i = state.index.get(touch.customer_id)
            if i is None or not state.present[i]:
                continue
            if touch.rep_id is None or touch.rep_id == state.owner_id(i):
                touched.append(i)
        state.touched(touched, today.day)
        state.ordered([state.index[c] for c in today.ordered
                       if c in state.index and state.present[state.index[c]]], today.day)

    def reps(self, today: DayHistory) -> list[derive.RepFacts]:
        """The salespeople on the day: the history's, with this scenario's
        holdings and the customers it gave them counted in."""
        day = today.day
        week = day - timedelta(days=day.weekday())
        month = day.replace(day=1)
        private = self.state.private_counts()
        out = []
        for rep in today.reps:
            got = self.received
            out.append(replace(
                rep,
                private_count=private.get(rep.rep_id, 0),
                claims_today=rep.claims_today + got.between(rep.rep_id, day, day),
                claims_week=rep.claims_week + got.between(rep.rep_id, week, day),
                claims_month=rep.claims_month + got.between(rep.rep_id, month, day),
                assigned_last_30d=rep.assigned_last_30d
                + got.between(rep.rep_id, day - timedelta(days=29), day),
            ))
        return out

    def _cooling(self, customer_ids: list[str], day: date) -> dict[str, dict[str, date]]:
        cooldown = self.ruleset.caps.cooldown
        if cooldown is None:
            return {}
        wanted = set(customer_ids)
        out: dict[str, dict[str, date]] = {}
        for (customer_id, rep_id), lost_on in self.lost_on.items():
            if customer_id in wanted and lost_on <= day:
                until = cooldown.add_to(lost_on)
                if until > day:
                    out.setdefault(customer_id, {})[rep_id] = until
        return out

    def _claims_back(self, today: DayHistory, events: list[tuple[Any, ...]]) -> tuple[int, int]:
        state = self.state
        day = today.day
        first: dict[tuple[str, str], Any] = {}
        for touch in today.touches:
            if touch.rep_id is None:
                continue
            key = (touch.customer_id, touch.rep_id)
            if key in self.lost_here and key not in first:
                first[key] = touch.at
        if not first:
            return 0, 0
        order = sorted(first, key=lambda key: (first[key], key[0], key[1]))
        customers = sorted({cid for cid, _ in order})
        checks = ClaimChecks.of(
            self.ruleset, day, self.reps(today),
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
            if owner is None and rep_id in checks.reps:
                verdict = checks.verdict(rep_id, customer_id)
                if verdict.allowed:
                    claims.append(verdict)
                    checks.granted(verdict)
                    claimed += 1
                    events.append((day, "claim_back", customer_id, "claim", None, rep_id,
                                   pool, None, None))
                    continue
            lost += 1
            events.append((day, "lost_touch", customer_id, None, rep_id, owner, pool, None,
                           None))
        for verdict in claims:
            state.own([state.index[verdict.customer_id]], verdict.rep_id, day)
            self.received.add(verdict.rep_id, day)
        return claimed, lost

    def _releases(self, day: date, decided: np.ndarray[Any, Any]) -> list[tuple[Any, ...]]:
        state = self.state
        out: list[tuple[Any, ...]] = []
        for rule in self.ruleset.release_rules:
            hits = evaluate(self._condition(rule, day), state.facts) & state.owned() & ~decided
            rows = np.flatnonzero(hits)
            if not len(rows):
                continue
            decided[rows] = True
            for i in rows.tolist():
                pool = self._pool_for(rule.target, i)
                out.append(("release", state.customer_ids[i], rule.id, state.owner_id(i), None,
                            None, pool, None))
        return out

    def _pool_for(self, target: PoolTarget, i: int) -> str:
        if target.by_region or target.pool is None:
            pool = self.state.region_pool[i]
            assert pool is not None
            return pool
        return target.pool

    def _reminders(self, day: date, decided: np.ndarray[Any, Any]
                   ) -> list[tuple[str, str, date, str]]:
        rules = tuple(self.ruleset.release_rules)
        offsets = [offset for rule in rules for offset in rule.remind_before]
        if not offsets:
            return []
        state = self.state
        horizon = max(offsets, key=lambda o: o.add_to(day))
        last = horizon.add_to(day)
        eligible = state.owned() & ~decided
        candidates = np.zeros(len(state.customer_ids), dtype=bool)
        for rule in rules:
            for offset in rule.remind_before:
                candidates |= evaluate(self._condition(rule, offset.add_to(day)), state.facts)
        rows = np.flatnonzero(candidates & eligible)
        if not len(rows):
            return []
        facts = state.facts.take(rows)
        start = np.zeros(len(rows), dtype=np.int64)
        days_per_rule = []
        span = (last - day).days
        for rule in rules:
            window = self._window(rule, day + timedelta(days=1), span)
            first = window.first_day(facts, start)
            days_per_rule.append(first)
        out = []
        for position, i in enumerate(rows.tolist()):
            found = tuple(int(first[position]) + 1 if first[position] >= 0 else None
                          for first in days_per_rule)
            chosen = first_release(rules, found)
            if chosen is None:
                continue
            rule, due_in = chosen
            due_on = day + timedelta(days=due_in)
            offset = reminder_offset(rule, day, due_on)
            if offset is None:
                continue
            key = (state.customer_ids[i], rule.id, due_on, f"remind:{offset}")
            if key in self.reminded:
                continue
            self.reminded.add(key)
            out.append((state.customer_ids[i], rule.id, due_on, str(offset)))
        return out

    def _apply(self, day: date, decisions: list[tuple[Any, ...]]) -> None:
        state = self.state
        rows = []
        pools = []
        for _action, customer_id, _rule, from_rep, _to_rep, _from_pool, to_pool, _ in decisions:
            rows.append(state.index[customer_id])
            pools.append(to_pool)
            if from_rep is not None:
                self.lost_on[(customer_id, from_rep)] = day
                self.lost_here.add((customer_id, from_rep))
        state.release(rows, pools)

    def _pool_sizes(self) -> tuple[int, int, dict[str, int]]:
        state = self.state
        unowned = np.flatnonzero(state.present & (state.owner == NOBODY))
        pools: dict[str, int] = {}
        for i in unowned.tolist():
            name = state.stored_pool[i] or "(none)"
            pools[name] = pools.get(name, 0) + 1
        return len(unowned), int(state.owned().sum()), pools
