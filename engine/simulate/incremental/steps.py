"""The nightly run's steps on a scenario's columnar state.

One :class:`DayRun` is one replayed nightly run. Its steps are those of
:mod:`highseas.nightly.steps`, in the nightly run's order, deciding what
they decide on :class:`.state.ScenarioState` instead of the facts table:

1. relays in progress (contact ends the relay, a missed deadline passes the
   customer on, or after the last round to the relay's pool);
2. new relays (round 1 for dormant customers never in a relay);
3. release rules;
4. private caps (trims to the first target that takes the customer);
5. reminders;
6. allocations scheduled for the weekday.

Conditions are the compiled IR's (:mod:`highseas.compile.decision_points`,
:func:`highseas.compile.ir.lower`), evaluated with :mod:`highseas.compile.to_numpy`.
Who receives a customer is decided by the nightly run's own allocation code
(:func:`highseas.nightly.chunks.allocate_chunks` over
:class:`highseas.nightly.ledger.RepLoads`), given this run's counters, the
scenario's rotation positions and cooldowns: :class:`MemoryLedger` is the
part of the nightly ledger that code reads.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np

from highseas.compile import ir
from highseas.compile.decision_points import release_condition
from highseas.compile.to_numpy import DayConditions, evaluate
from highseas.nightly import facts as derive
from highseas.nightly.allocation import Assignment, AssignRequest, relay_allocation
from highseas.nightly.allocation_types import Skip
from highseas.nightly.chunks import allocate_chunks
from highseas.nightly.events import NO_OBSERVER
from highseas.nightly.ledger import RepLoads
from highseas.nightly.plan import RelayStateRow
from highseas.nightly.steps.allocations import WEEKDAYS
from highseas.nightly.steps.reminders import first_release, reminder_offset
from highseas.ruleset.model import ActivationRelay, Allocation, PoolTarget, PrivateCap, Ruleset

if TYPE_CHECKING:
    from highseas.simulate.incremental.state import ScenarioState

#: One decision: (action, customer, rule, from_rep, to_rep, from_pool,
#: to_pool, relay_round), as the replay log holds it after its day.
Decision = tuple[str, str, str, str | None, str | None, str | None, str | None, int | None]

_NOBODY: frozenset[str] = frozenset()
#: A customer entering a relay round: (row, holder, round, salespeople tried).
RelayItem = tuple[int, str | None, int, tuple[str, ...]]
#: Requests allocated at a time.
REPLAY_CHUNK = 500


@dataclass
class MemoryLedger:
    """What :mod:`highseas.nightly.chunks` reads of a nightly run's ledger."""

    ruleset: Ruleset
    loads: RepLoads
    rotation: dict[tuple[str, str], str | None]
    #: Smaller than the nightly run's chunks: chunks decide as one call
    #: would (tested in the nightly run), and allocation stops sooner once
    #: nobody has room.
    chunk_size: int = REPLAY_CHUNK
    unassigned_rows: bool = False
    observer: Any = NO_OBSERVER
    skipped: dict[str, list[Skip]] = field(default_factory=dict)


class Conditions:
    """The compiled conditions of one ruleset, lowered per day (memoised)."""

    def __init__(self, ruleset: Ruleset) -> None:
        self.ruleset = ruleset
        self._nodes: dict[tuple[str, date], ir.Node] = {}
        self._windows: dict[tuple[str, date, int], DayConditions] = {}

    def _node(self, key: str, day: date, make: Callable[[], ir.Node]) -> ir.Node:
        node = self._nodes.get((key, day))
        if node is None:
            node = self._nodes[(key, day)] = make()
        return node

    def release(self, index: int, day: date) -> ir.Node:
        rule = self.ruleset.release_rules[index]
        return self._node(f"release:{index}", day,
                          lambda: release_condition(rule, day, self.ruleset))

    def lowered(self, key: str, condition: Any, day: date) -> ir.Node:
        return self._node(key, day, lambda: ir.lower(condition, day, self.ruleset))

    def release_window(self, index: int, first: date, days: int) -> DayConditions:
        key = (f"release:{index}", first, days)
        window = self._windows.get(key)
        if window is None:
            window = self._windows[key] = DayConditions(
                first, [self.release(index, first + timedelta(days=i)) for i in range(days)])
        return window


class DayRun:
    """One replayed nightly run on ``state`` (see the module docstring)."""

    def __init__(self, state: ScenarioState, ruleset: Ruleset, conditions: Conditions,
                 day: date, reps: list[derive.RepFacts],
                 rotation: dict[tuple[str, str], str | None],
                 relays: dict[str, RelayStateRow],
                 cooldowns: Callable[[list[str]], dict[str, frozenset[str]]],
                 ever_relayed: np.ndarray[Any, np.dtype[np.bool_]],
                 reminded: set[tuple[str, str, date, str]],
                 contacted: Callable[[str, str, date], bool]) -> None:
        self.state = state
        self.ruleset = ruleset
        self.conditions = conditions
        self.day = day
        self.ledger = MemoryLedger(ruleset, RepLoads(ruleset, reps), rotation)
        self.relays = relays
        self.cooldowns = cooldowns
        self.ever_relayed = ever_relayed
        self.reminded = reminded
        self.contacted = contacted
        size = len(state.customer_ids)
        #: Customers with a decision of this run (but a reminder).
        self.decided = np.zeros(size, dtype=bool)
        #: Customers a relay keeps from the other decisions of this run.
        self.in_relay = np.zeros(size, dtype=bool)
        self.decisions: list[Decision] = []
        self.reminders: list[tuple[str, str, date, str]] = []
        self.unassigned = np.zeros(size, dtype=bool)
        self.relay_deletes: list[str] = []
        self.relay_upserts: dict[str, RelayStateRow] = {}

    # -- shared -------------------------------------------------------------

    def unchanged(self) -> np.ndarray[Any, np.dtype[np.bool_]]:
        return self.state.present & ~self.decided & ~self.in_relay

    def _record(self, decision: Decision) -> None:
        """An ownership change (or relay end), counted in the run's loads."""
        self.decisions.append(decision)
        self.decided[self.state.index[decision[1]]] = True
        if decision[0] != "relay_end":
            self.ledger.loads.moved(decision[3], decision[4])

    def pool_for(self, target: PoolTarget, i: int) -> str:
        if target.by_region or target.pool is None:
            pool = self.state.region_pool[i]
            return pool if pool is not None else derive.pool_of_region(self.ruleset, None)
        return target.pool

    def _allocate(self, rows: np.ndarray[Any, Any], pools: np.ndarray[Any, Any],
                  reason_of: Callable[[int], str], allocation: Allocation,
                  exclude: Callable[[int], frozenset[str]] | None = None
                  ) -> tuple[dict[str, Assignment], np.ndarray[Any, Any]]:
        """Allocate the customers ``rows`` (``pools``: the number of each
        one's pool) as the nightly run does: in pool and customer order, a
        chunk at a time, stopping once nobody has room. Returns who gets
        each, and the rows left unassigned. Requests (and their cooldowns)
        are built only for the chunks allocated."""
        state = self.state
        ids = state.customer_ids
        names = state.pool_names
        rows = np.asarray(rows, dtype=np.int64)
        pools = np.asarray(pools, dtype=np.int64)
        # customer numbers are in customer id order: (pool name, number) is
        # the nightly run's ORDER BY pool_id, customer_id
        order = np.lexsort((rows, state.pool_ranks()[pools])) if len(rows) else rows
        ordered_rows, ordered_pools = rows[order], pools[order]
        size = self.ledger.chunk_size

        def chunks() -> Iterator[list[AssignRequest]]:
            for begin in range(0, len(ordered_rows), size):
                part = ordered_rows[begin:begin + size].tolist()
                part_pools = ordered_pools[begin:begin + size].tolist()
                cooling = self.cooldowns([ids[i] for i in part])
                yield [AssignRequest(customer_id=ids[i], pool_id=names[pool],
                                     region=state.region[i],
                                     cooldown_reps=cooling.get(ids[i], _NOBODY),
                                     exclude_reps=exclude(i) if exclude else frozenset(),
                                     reason=reason_of(i))
                       for i, pool in zip(part, part_pools, strict=True)]

        result, processed, _ = allocate_chunks(self.ledger, chunks(), allocation)  # type: ignore[arg-type]
        assigned = {a.customer_id: a for a in result.assignments}
        left = np.concatenate([
            np.array([state.index[u.customer_id] for u in result.unassigned], dtype=np.int64),
            ordered_rows[processed:]])
        return assigned, left

    # -- 1. relays in progress ----------------------------------------------

    def relays_in_progress(self) -> None:
        state = self.state
        relays = {relay.id: relay for relay in self.ruleset.relays}
        pending: dict[str, list[RelayItem]] = {}
        for customer_id in sorted(self.relays):
            holding = self.relays[customer_id]
            i = state.index.get(customer_id)
            if i is None or not state.present[i] or holding.started_on > self.day:
                continue
            owner = state.owner_id(i)
            contacted = self.contacted(customer_id, holding.rep_id, holding.started_on)
            relay = relays.get(holding.relay_id)
            if (relay is not None and owner == holding.rep_id and not contacted
                    and self.day < holding.deadline):
                self.in_relay[i] = True
                continue
            if relay is None or owner != holding.rep_id:
                self.relay_deletes.append(customer_id)
                continue
            self.in_relay[i] = True
            if contacted:
                self._record(("relay_end", customer_id, relay.id, holding.rep_id,
                              holding.rep_id, None, None, holding.round))
                self.relay_deletes.append(customer_id)
                continue
            if self.day < holding.deadline:
                continue
            if holding.round >= relay.rounds:
                self._relay_to_pool(i, holding.rep_id, relay, holding.round)
                continue
            pending.setdefault(relay.id, []).append(
                (i, holding.rep_id, holding.round + 1, holding.reps_tried))
        for relay_id, items in sorted(pending.items()):
            self._relay_round_done(relays[relay_id], items)

    def _relay_to_pool(self, i: int, rep_id: str | None, relay: ActivationRelay,
                       round_: int) -> None:
        customer_id = self.state.customer_ids[i]
        pool = self.pool_for(relay.after_last_round, i)
        self._record(("release", customer_id, relay.id, rep_id, None, None, pool, round_))
        self.relay_deletes.append(customer_id)

    def _relay_round_done(self, relay: ActivationRelay, items: list[RelayItem],
                          first_rows: np.ndarray[Any, Any] | None = None) -> None:
        """Allocate a relay round to ``items`` (row, holder, round, tried),
        or to round 1 of ``first_rows`` (new relays: held by their owner)."""
        state = self.state
        by_row = {item[0]: item for item in items}
        if first_rows is None:
            rows = np.array(sorted(by_row), dtype=np.int64)
            pools = state.region_pool_code[rows]
        else:
            rows = first_rows
            pools = np.where(state.pool_code[rows] >= 0, state.pool_code[rows],
                             state.region_pool_code[rows])

        def exclude(i: int) -> frozenset[str]:
            if first_rows is None:
                return frozenset(by_row[i][3])
            owner = state.owner_id(i)
            return frozenset({owner}) if owner else frozenset()

        assigned, _ = self._allocate(
            rows, pools,
            (lambda i: f"relay round {by_row[i][2]}") if first_rows is None
            else (lambda i: "relay round 1"),
            relay_allocation(relay), exclude)
        if first_rows is not None:
            # Round 1 for everyone: those nobody took stay where they are.
            self.unassigned[first_rows] = True
            items = [(state.index[cid], state.owner_id(state.index[cid]), 1, ())
                     for cid in assigned]
            self.unassigned[[item[0] for item in items]] = False
        deadline = relay.contact_window.add_to(self.day)
        for i, holder, round_, tried in sorted(items, key=lambda item: item[0]):
            customer_id = state.customer_ids[i]
            assignment = assigned.get(customer_id)
            if assignment is None:
                if round_ > 1 and relay.region_fallback == "wait":
                    self.unassigned[i] = True
                    continue
                if round_ == 1:
                    self.unassigned[i] = True
                else:
                    self._relay_to_pool(i, holder, relay, round_ - 1)
                continue
            self._record(("relay", customer_id, relay.id, holder, assignment.rep_id, None,
                          None, round_))
            self.relay_upserts[customer_id] = RelayStateRow(
                customer_id, relay.id, round_, assignment.rep_id, self.day, deadline,
                (*tried, assignment.rep_id))
            self.in_relay[i] = True

    # -- 2. new relays --------------------------------------------------------

    def new_relays(self) -> None:
        state = self.state
        for relay in self.ruleset.relays:
            node = self.conditions.lowered(f"relay:{relay.id}", relay.when, self.day)
            rows = np.flatnonzero(evaluate(node, state.facts) & self.unchanged()
                                  & ~self.ever_relayed)
            if not len(rows):
                continue
            self._relay_round_done(relay, [], rows)

    # -- 3. release rules -----------------------------------------------------

    def releases(self) -> None:
        state = self.state
        owned = state.owner != -1
        for index, rule in enumerate(self.ruleset.release_rules):
            hits = evaluate(self.conditions.release(index, self.day), state.facts)
            rows = np.flatnonzero(hits & owned & self.unchanged())
            for i in rows.tolist():
                self._record(("release", state.customer_ids[i], rule.id, state.owner_id(i),
                              None, None, self.pool_for(rule.target, i), None))

    # -- 4. private caps ------------------------------------------------------

    def trims(self) -> None:
        for cap in self.ruleset.caps.private:
            loads = self.ledger.loads
            over = {rep.rep_id: loads.private(rep.rep_id) - cap.max for rep in loads.reps
                    if rep.tier == cap.tier and loads.private(rep.rep_id) > cap.max}
            if not over:
                continue
            trimmed = self._excess(cap, over)
            if trimmed:
                self._send_excess(cap, trimmed)

    def _excess(self, cap: PrivateCap, over: dict[str, int]) -> list[int]:
        state = self.state
        facts = state.facts
        eligible = self.unchanged() & (state.owner != -1)
        eligible &= np.asarray(facts.column("open_orders").values == 0)  # type: ignore[attr-defined]
        if cap.protect is not None:
            eligible &= ~evaluate(self.conditions.lowered(f"protect:{cap.tier}", cap.protect,
                                                          self.day), facts)
        numbers = {state.rep_index[rep]: n for rep, n in over.items() if rep in state.rep_index}
        rows = np.flatnonzero(eligible & np.isin(state.owner, list(numbers)))
        by_owner: dict[int, list[int]] = {}
        for i in rows.tolist():
            by_owner.setdefault(int(state.owner[i]), []).append(i)
        chosen: list[int] = []
        for owner, members in by_owner.items():
            members.sort(key=self._excess_key(cap))
            chosen.extend(members[:numbers[owner]])
        return sorted(chosen, key=lambda i: state.customer_ids[i])

    def _excess_key(self, cap: PrivateCap) -> Callable[[int], tuple[Any, ...]]:
        state = self.state
        ids = state.customer_ids
        if cap.excess_order == "least_recently_followed_up":
            touch = state.facts.column("last_touch_day")
            return lambda i: (touch.value(i), ids[i])
        if cap.excess_order == "oldest_owned":
            since = state.facts.column("owned_since_day")
            return lambda i: (since.value(i), ids[i])
        if cap.excess_order == "newest_owned":
            since = state.facts.column("owned_since_day")
            return lambda i: (-since.value(i), ids[i])  # type: ignore[operator]
        level = state.facts.column("level")
        return lambda i: ((0, 0) if level.value(i) is None else (1, level.value(i)), ids[i])

    def _send_excess(self, cap: PrivateCap, trimmed: list[int]) -> None:
        state = self.state
        rule_id = f"caps.private.{cap.tier}"
        left = list(trimmed)
        for number, target in enumerate(cap.excess_to, start=1):
            matching = left
            if target.when is not None:
                node = self.conditions.lowered(f"excess:{cap.tier}:{number}", target.when,
                                               self.day)
                holds = evaluate(node, state.facts)
                matching = [i for i in left if holds[i]]
            if not matching:
                continue
            if target.tier is None:
                for i in matching:
                    self._record(("trim", state.customer_ids[i], rule_id, state.owner_id(i),
                                  None, None, self.pool_for(target.pool, i), None))
                taken = set(matching)
            else:
                receivers = self._receivers(target.tier, rule_id, matching)
                for i in matching:
                    rep = receivers.get(state.customer_ids[i])
                    if rep is not None:
                        self._record(("trim", state.customer_ids[i], rule_id,
                                      state.owner_id(i), rep, None, None, None))
                taken = {i for i in matching if state.customer_ids[i] in receivers}
            left = [i for i in left if i not in taken]
        for i in left:
            self._record(("trim", state.customer_ids[i], rule_id, state.owner_id(i), None,
                          None, self.pool_for(PoolTarget(), i), None))

    def _receivers(self, tier: str, rule_id: str, rows: list[int]) -> dict[str, str]:
        allocation = Allocation(id=rule_id, tiers=(tier,), strategy="least_loaded",
                                region_fallback="any_region")
        trim_pool = self.state.pool_number("*trim*")
        assigned, _ = self._allocate(
            np.array(rows, dtype=np.int64), np.full(len(rows), trim_pool, dtype=np.int64),
            lambda i: "trim", allocation,
            lambda i: frozenset({o}) if (o := self.state.owner_id(i)) else frozenset())
        return {cid: a.rep_id for cid, a in assigned.items()}

    # -- 5. reminders ---------------------------------------------------------

    def reminders_step(self) -> None:
        rules = tuple(self.ruleset.release_rules)
        offsets = [offset for rule in rules for offset in rule.remind_before]
        if not offsets:
            return
        state = self.state
        day = self.day
        last = max(offsets, key=lambda o: o.add_to(day)).add_to(day)
        candidates = np.zeros(len(state.customer_ids), dtype=bool)
        for index, rule in enumerate(rules):
            for offset in rule.remind_before:
                candidates |= evaluate(self.conditions.release(index, offset.add_to(day)),
                                       state.facts)
        rows = np.flatnonzero(candidates & self.unchanged() & (state.owner != -1))
        if not len(rows):
            return
        facts = state.facts.take(rows)
        start = np.zeros(len(rows), dtype=np.int64)
        span = (last - day).days
        firsts = [self.conditions.release_window(index, day + timedelta(days=1), span)
                  .first_day(facts, start) for index in range(len(rules))]
        for position, i in enumerate(rows.tolist()):
            found = tuple(int(first[position]) + 1 if first[position] >= 0 else None
                          for first in firsts)
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
            self.reminders.append((state.customer_ids[i], rule.id, due_on, str(offset)))

    # -- 6. allocations -------------------------------------------------------

    def allocations(self) -> None:
        state = self.state
        weekday = WEEKDAYS[self.day.weekday()]
        for allocation in self.ruleset.allocations:
            if allocation.weekdays and weekday not in allocation.weekdays:
                continue
            pools = set(allocation.pools or [p.id for p in self.ruleset.pools])
            mask = self.unchanged() & (state.owner == -1)
            if allocation.when is not None:
                mask &= evaluate(self.conditions.lowered(f"allocate:{allocation.id}",
                                                         allocation.when, self.day),
                                 state.facts)
            served = np.array([state.pool_number(p) for p in sorted(pools)], dtype=np.int64)
            rows = np.flatnonzero(mask & np.isin(state.pool_code, served))
            if not len(rows):
                continue
            assigned, left = self._allocate(rows, state.pool_code[rows],
                                            lambda i: "rotation", allocation)
            for customer_id in sorted(assigned):
                assignment = assigned[customer_id]
                self._record(("assign", customer_id, allocation.id, None,
                              assignment.rep_id, assignment.pool_id, None, None))
            self.unassigned[left] = True

    def unassigned_count(self) -> int:
        """Customers left in their pool by a relay or an allocation, each
        once, not those a later allocation of the run assigned."""
        left = self.unassigned.copy()
        for decision in self.decisions:
            if decision[0] == "assign":
                left[self.state.index[decision[1]]] = False
        return int(left.sum())
