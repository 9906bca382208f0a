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

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np

from highseas.compile import ir
from highseas.compile.decision_points import release_condition
from highseas.compile.to_numpy import DayConditions, FactColumns, among, evaluate
from highseas.nightly import facts as derive
from highseas.nightly.allocation import Assignment, AssignRequest, relay_allocation
from highseas.nightly.allocation_types import Skip
from highseas.nightly.chunks import allocate_chunks
from highseas.nightly.events import NO_OBSERVER
from highseas.nightly.ledger import RepLoads
from highseas.nightly.plan import RelayStateRow
from highseas.nightly.steps.allocations import WEEKDAYS
from highseas.nightly.steps.reminders import reminder_offset
from highseas.ruleset.model import ActivationRelay, Allocation, PoolTarget, PrivateCap, Ruleset
from highseas.simulate.incremental.state import NOBODY as NO_OWNER

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
IntArray = np.ndarray[Any, np.dtype[np.int64]]
#: The fewest requests allocated at a time (when the salespeople have
#: room for fewer: customers they cannot take still need placing).
MIN_CHUNK = 32
#: Days a release rule's window is lowered for beyond the days asked for.
WINDOW_DAYS = 60


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


def _days(facts: FactColumns, column: str, rows: IntArray) -> IntArray:
    values: IntArray = np.asarray(facts.column(column).values)[rows]  # type: ignore[attr-defined]
    return values


class _Requests:
    """The requests of customers ``rows`` (in allocation order), built as
    allocation asks for them (:class:`highseas.nightly.chunks.RequestSource`)
    with their cooldowns."""

    def __init__(self, run: DayRun, rows: IntArray, pools: IntArray,
                 reason_of: Callable[[int], str],
                 exclude: Callable[[int], frozenset[str]] | None) -> None:
        self.run = run
        self.rows = rows
        self.pools = pools
        self.reason_of = reason_of
        self.exclude = exclude
        self.given = 0
        self.left = len(rows)
        self.most = run.ledger.chunk_size
        self.floor = MIN_CHUNK

    def take(self, room: int) -> list[AssignRequest]:
        # as many as there is room for, but more each time: customers
        # nobody with room can take (regions, cooldowns) still need placing
        size = min(max(room, self.floor), self.most)
        self.floor *= 2
        begin, self.given = self.given, min(self.given + size, len(self.rows))
        self.left = len(self.rows) - self.given
        state = self.run.state
        ids, names, exclude = state.customer_ids, state.pool_names, self.exclude
        part = self.rows[begin:self.given].tolist()
        cooling = self.run.cooldowns([ids[i] for i in part])
        return [AssignRequest(customer_id=ids[i], pool_id=names[pool], region=state.region[i],
                              cooldown_reps=cooling.get(ids[i], _NOBODY),
                              exclude_reps=exclude(i) if exclude else _NOBODY,
                              reason=self.reason_of(i))
                for i, pool in zip(part, self.pools[begin:self.given].tolist(), strict=True)]


class Reminded:
    """The reminders sent (customer, rule, due day, ``remind:<offset>``), and
    per customer the last one found sent: a customer reminded of the same
    release on the days before is told apart without a set lookup."""

    def __init__(self, sent: set[tuple[str, str, date, str]], customers: int,
                 ruleset: Ruleset) -> None:
        self.sent = sent
        self.rules = len(ruleset.release_rules)
        self.offsets = max((len(rule.remind_before) for rule in ruleset.release_rules),
                           default=0)
        #: per customer, the code of the last reminder found sent (-1: none)
        self.last = np.full(customers, -1, dtype=np.int64)

    def send(self, run: DayRun, rows: IntArray, rules: IntArray, due_in: IntArray,
             offsets: IntArray) -> None:
        """Remind of the releases due in ``due_in`` days by rule number
        ``rules`` (offset number ``offsets``) the owners of ``rows``, each
        once."""
        codes = ((run.day.toordinal() + due_in) * self.rules + rules) * self.offsets + offsets
        fresh = codes != self.last[rows]
        self.last[rows] = codes
        release_rules = run.ruleset.release_rules
        for i, rule_number, days, offset_number in zip(
                rows[fresh].tolist(), rules[fresh].tolist(), due_in[fresh].tolist(),
                offsets[fresh].tolist(), strict=True):
            rule = release_rules[rule_number]
            offset = rule.remind_before[offset_number]
            customer_id = run.state.customer_ids[i]
            due_on = run.day + timedelta(days=days)
            key = (customer_id, rule.id, due_on, f"remind:{offset}")
            if key in self.sent:
                continue
            self.sent.add(key)
            run.reminders.append((customer_id, rule.id, due_on, str(offset)))


class Conditions:
    """The compiled conditions of one ruleset, lowered per day (memoised)."""

    def __init__(self, ruleset: Ruleset) -> None:
        self.ruleset = ruleset
        self._nodes: dict[tuple[str, date], ir.Node] = {}
        self._windows: dict[int, DayConditions] = {}
        self._sends: dict[tuple[tuple[tuple[int, ...], ...], int], IntArray] = {}

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

    def sends(self, day: date, span: int) -> IntArray:
        """``sends[rule, d]``: the position among the rule's offsets of the
        reminder it sends on ``day`` for a release ``d`` days away (-1: none),
        as :func:`reminder_offset` decides; ``d`` up to ``span + 1``. It
        depends only on how far each offset reaches from the day."""
        rules = self.ruleset.release_rules
        reaches = tuple(tuple((o.add_to(day) - day).days for o in rule.remind_before)
                        for rule in rules)
        table = self._sends.get((reaches, span))
        if table is None:
            table = self._sends[(reaches, span)] = np.array([[-1, *(
                rule.remind_before.index(offset) if (offset := reminder_offset(
                    rule, day, day + timedelta(days=d))) is not None else -1
                for d in range(1, span + 2))] for rule in rules], dtype=np.int64)
        return table

    def release_days(self, index: int, first: date, days: int) -> tuple[DayConditions, int]:
        """Release rule ``index`` lowered for at least the ``days`` days from
        ``first`` on, and the index of ``first`` in it. Consecutive days
        share one longer window (lowered once for :data:`WINDOW_DAYS` more)."""
        window = self._windows.get(index)
        if window is not None:
            offset = (first - window.first_date).days
            if offset >= 0 and offset + days <= window.days:
                return window, offset
        length = days + WINDOW_DAYS
        window = self._windows[index] = DayConditions(
            first, [self.release(index, first + timedelta(days=i)) for i in range(length)])
        return window, 0


class DayRun:
    """One replayed nightly run on ``state`` (see the module docstring)."""

    def __init__(self, state: ScenarioState, ruleset: Ruleset, conditions: Conditions,
                 day: date, loads: RepLoads,
                 rotation: dict[tuple[str, str], str | None],
                 relays: dict[str, RelayStateRow],
                 cooldowns: Callable[[list[str]], dict[str, frozenset[str]]],
                 ever_relayed: np.ndarray[Any, np.dtype[np.bool_]],
                 reminded: Reminded,
                 contacted: Callable[[str, str, date], bool]) -> None:
        self.state = state
        self.ruleset = ruleset
        self.conditions = conditions
        self.day = day
        self.ledger = MemoryLedger(ruleset, loads, rotation)
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
        rows = np.asarray(rows, dtype=np.int64)
        pools = np.asarray(pools, dtype=np.int64)
        # customer numbers are in customer id order: (pool name, number) is
        # the nightly run's ORDER BY pool_id, customer_id
        order = np.lexsort((rows, state.pool_ranks()[pools])) if len(rows) else rows
        ordered_rows, ordered_pools = rows[order], pools[order]
        source = _Requests(self, ordered_rows, ordered_pools, reason_of, exclude)
        result, processed, _ = allocate_chunks(self.ledger, source, allocation)  # type: ignore[arg-type]
        assigned = {a.customer_id: a for a in result.assignments}
        left = np.concatenate([
            np.array([state.index[u.customer_id] for u in result.unassigned], dtype=np.int64),
            ordered_rows[processed:]])
        return assigned, left

    # -- 1. relays in progress ----------------------------------------------

    def relays_in_progress(self) -> None:
        # (in any order: decisions are sorted, round allocations take rows in order)
        state = self.state
        relays = {relay.id: relay for relay in self.ruleset.relays}
        pending: dict[str, list[RelayItem]] = {}
        index, present, owners, rep_ids = state.index, state.present, state.owner, state.rep_ids
        day, contacted_since, in_relay = self.day, self.contacted, self.in_relay
        for customer_id, holding in self.relays.items():
            i = index.get(customer_id)
            if i is None or not present[i] or holding.started_on > day:
                continue
            number = int(owners[i])
            owner = None if number == NO_OWNER else rep_ids[number]
            contacted = contacted_since(customer_id, holding.rep_id, holding.started_on)
            relay = relays.get(holding.relay_id)
            if (relay is not None and owner == holding.rep_id and not contacted
                    and day < holding.deadline):
                in_relay[i] = True
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
        rows = np.flatnonzero(eligible & among(state.owner, list(numbers), len(state.rep_ids)))
        owners = state.owner[rows]
        # by owner, then the cap's excess order, then customer id (row order)
        order = np.lexsort((rows, *reversed(self._excess_keys(cap, rows)), owners))
        rows, owners = rows[order], owners[order]
        starts = np.flatnonzero(np.r_[True, owners[1:] != owners[:-1]])
        rank = np.arange(len(rows)) - np.repeat(starts, np.diff(np.r_[starts, len(rows)]))
        limit = np.zeros(len(state.rep_ids), dtype=np.int64)
        limit[list(numbers)] = list(numbers.values())
        chosen: list[int] = np.sort(rows[rank < limit[owners]]).tolist()
        return chosen

    def _excess_keys(self, cap: PrivateCap, rows: IntArray) -> list[np.ndarray[Any, Any]]:
        """The sort keys of the cap's excess order for ``rows`` (first key
        first): held customers, whose days are never NULL."""
        facts = self.state.facts
        if cap.excess_order == "least_recently_followed_up":
            return [_days(facts, "last_touch_day", rows)]
        if cap.excess_order == "oldest_owned":
            return [_days(facts, "owned_since_day", rows)]
        if cap.excess_order == "newest_owned":
            return [-_days(facts, "owned_since_day", rows)]
        level = facts.column("level")
        null = level.null()[rows]
        values = np.asarray(level.values)[rows]  # type: ignore[attr-defined]
        return [~null, np.where(null, 0, values)]  # NULL levels first

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
        span = (last - day).days
        # Each rule's first release day, in days after ``day`` (beyond the
        # span: none); the first rule in ruleset order wins a tie.
        never = np.iinfo(np.int64).max
        found = []
        for index in range(len(rules)):
            window, offset = self.conditions.release_days(index, day + timedelta(days=1), span)
            first = window.first_day(facts, offset) - offset
            found.append(np.where((first >= 0) & (first < span), first + 1, never))
        firsts = np.stack(found)
        chosen = np.argmin(firsts, axis=0)
        due_in = firsts[chosen, np.arange(len(rows))]
        # The reminder each rule sends for a release ``d`` days away
        # (``sends[rule, d]``, its position in the rule's offsets, -1 for
        # none), as the nightly reminder step decides it.
        sends = self.conditions.sends(day, span)
        due = due_in != never
        rows, chosen, due_in = rows[due], chosen[due], due_in[due]
        position = sends[chosen, due_in]
        self.reminded.send(self, rows[position >= 0], chosen[position >= 0],
                           due_in[position >= 0], position[position >= 0])

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
            rows = np.flatnonzero(mask & among(state.pool_code, served, len(state.pool_names)))
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
