"""The typed result of planning: decisions, and what apply needs to persist."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from datetime import date
from functools import cached_property
from typing import TYPE_CHECKING, Any, Generic, TypeVar, overload

from highseas.nightly.reasons import SkipReason, render_skip

if TYPE_CHECKING:
    import pyarrow as pa

#: Actions a decision can carry, in the order a plan lists them.
ACTIONS = ("relay_end", "relay", "release", "trim", "assign", "remind")
#: Actions that change who owns a customer.
OWNERSHIP_ACTIONS = frozenset({"relay", "release", "trim", "assign"})


@dataclass(frozen=True)
class Decision:
    """One thing the nightly run decided for one customer.

    ``rule_id`` names the ruleset part that decided: a release rule id, a
    relay id, ``caps.private.<tier>`` for trims, an allocation id for assigns.
    """

    customer_id: str
    action: str
    rule_id: str
    reason: str
    from_rep_id: str | None = None
    to_rep_id: str | None = None
    from_pool_id: str | None = None
    to_pool_id: str | None = None
    customer_name: str = ""
    days_left: int | None = None
    due_on: date | None = None
    reminder_offset: str | None = None
    relay_round: int | None = None

    def sort_key(self) -> tuple[int, str, str]:
        return (ACTIONS.index(self.action), self.customer_id, self.rule_id)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["due_on"] = self.due_on.isoformat() if self.due_on else None
        return data


@dataclass(frozen=True)
class Skip:
    """A salesperson considered for a customer and passed over, with why."""

    rep_id: str
    reason: str


@dataclass(frozen=True)
class Unassigned:
    customer_id: str
    pool_id: str | None
    reason: str
    rule_id: str = ""


@dataclass(frozen=True)
class RelayStateRow:
    customer_id: str
    relay_id: str
    round: int
    rep_id: str
    started_on: date
    deadline: date
    reps_tried: tuple[str, ...]


#: Arrow types of the Decision and Unassigned fields, in field order.
_DECISION_TYPES = {
    "customer_id": "string", "action": "string", "rule_id": "string", "reason": "string",
    "from_rep_id": "string", "to_rep_id": "string", "from_pool_id": "string",
    "to_pool_id": "string", "customer_name": "string", "days_left": "int64",
    "due_on": "date32", "reminder_offset": "string", "relay_round": "int64",
}
_UNASSIGNED_TYPES = {
    "customer_id": "string", "pool_id": "string", "reason": "string", "rule_id": "string",
}
#: The DuckDB types of the same columns (the planner builds its tables with them).
DUCK_TYPES = {"string": "VARCHAR", "int64": "BIGINT", "date32": "DATE"}
DECISION_COLUMNS = {name: DUCK_TYPES[t] for name, t in _DECISION_TYPES.items()}
UNASSIGNED_COLUMNS = {name: DUCK_TYPES[t] for name, t in _UNASSIGNED_TYPES.items()}

T = TypeVar("T", "Decision", "Unassigned")


def _arrow_schema(types: Mapping[str, str]) -> pa.Schema:
    import pyarrow as pa

    return pa.schema([(name, getattr(pa, kind)()) for name, kind in types.items()])


class Records(Sequence[T], Generic[T]):
    """An immutable sequence of decisions (or unassigned customers) kept as an
    Arrow table: a night of a million customers is counted, summarised and
    applied column by column, and turned into Python objects only when
    someone iterates over it."""

    def __init__(self, table: pa.Table, kind: type[T]) -> None:
        self._table = table
        self._kind: type[T] = kind
        self._items: tuple[T, ...] | None = None

    @classmethod
    def from_items(cls, items: Sequence[T], kind: type[T]) -> Records[T]:
        """Records holding ``items`` (in their order)."""
        import pyarrow as pa

        types = _DECISION_TYPES if kind is Decision else _UNASSIGNED_TYPES
        names = [f.name for f in fields(kind)]
        columns = {name: [getattr(item, name) for item in items] for name in names}
        records = cls(pa.table(columns, schema=_arrow_schema(types)), kind)
        records._items = tuple(items)
        return records

    @property
    def table(self) -> pa.Table:
        """The Arrow table (one row per item, the item's fields as columns)."""
        return self._table

    def where(self, name: str, values: Sequence[Any]) -> Records[T]:
        """The items whose field ``name`` is one of ``values``."""
        import pyarrow as pa
        import pyarrow.compute as pc

        mask = pc.is_in(self._table.column(name), value_set=pa.array(list(values)))
        return Records(self._table.filter(mask), self._kind)

    def _all(self) -> tuple[T, ...]:
        if self._items is None:
            kind = self._kind
            self._items = tuple(kind(**row) for row in self._table.to_pylist())
        return self._items

    def __len__(self) -> int:
        return int(self._table.num_rows)

    @overload
    def __getitem__(self, index: int) -> T: ...
    @overload
    def __getitem__(self, index: slice) -> tuple[T, ...]: ...
    def __getitem__(self, index: int | slice) -> T | tuple[T, ...]:
        return self._all()[index]

    def __iter__(self) -> Iterator[T]:
        return iter(self._all())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Records):
            return bool(self._table.equals(other._table))
        if isinstance(other, Sequence):
            return self._all() == tuple(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Records({self._kind.__name__}, {len(self)} rows)"


def as_records(items: Sequence[T], kind: type[T]) -> Records[T]:
    """``items`` as :class:`Records` (unchanged if they already are)."""
    return items if isinstance(items, Records) else Records.from_items(items, kind)


@dataclass(frozen=True)
class Plan:
    """Everything one run decided, and the engine state it leaves behind."""

    company_id: str
    ruleset_id: str
    ruleset_hash: str
    as_of: date
    #: In plan order (action, customer id, rule id); a tuple or :class:`Records`.
    decisions: Sequence[Decision]
    unassigned: Sequence[Unassigned] = ()
    #: customer_id -> the (rep_id, reason) pairs of salespeople passed over, as
    #: a mapping kept raw, reasons typed: a night can skip millions, put into
    #: words only for the customers asked about (see :meth:`skipped_for`).
    skipped: Mapping[str, tuple[tuple[str, SkipReason], ...]] = field(default_factory=dict)
    #: (allocation_id, pool_id) -> last rep served, after this run.
    rotation: tuple[tuple[str, str, str | None], ...] = ()
    #: Relay rows after this run (upserted), and customers whose relay ended.
    relay_upserts: tuple[RelayStateRow, ...] = ()
    relay_deletes: tuple[str, ...] = ()
    evaluated_customers: int = 0
    #: Customers left unassigned but not listed in ``unassigned`` (a plan
    #: made with ``unassigned_rows=False``, as the replay does).
    unassigned_omitted: int = 0
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    def decision_records(self) -> Records[Decision]:
        """The decisions as :class:`Records` (columnar)."""
        return as_records(self.decisions, Decision)

    def unassigned_records(self) -> Records[Unassigned]:
        """The unassigned customers as :class:`Records` (columnar)."""
        return as_records(self.unassigned, Unassigned)

    def by_action(self, action: str) -> Records[Decision]:
        return self.decision_records().where("action", [action])

    def ownership_changes(self) -> Records[Decision]:
        """The decisions that change an owner or pool, in plan order."""
        return self._ownership_changes

    @cached_property
    def _ownership_changes(self) -> Records[Decision]:
        # Kept: the guards, the undo record and the apply each read them, and
        # filtering a 1M-customer plan's columns takes about half a second.
        return self.decision_records().where("action", sorted(OWNERSHIP_ACTIONS))

    def decisions_for(self, customer_id: str) -> tuple[Decision, ...]:
        """The decisions about one customer."""
        return tuple(self.decision_records().where("customer_id", [customer_id]))

    def unassigned_for(self, customer_id: str) -> tuple[Unassigned, ...]:
        """Why one customer stayed in its pool (one entry per allocation that tried)."""
        return tuple(self.unassigned_records().where("customer_id", [customer_id]))

    def counts(self) -> dict[str, int]:
        import pyarrow.compute as pc

        counts = {action: 0 for action in ACTIONS}
        actions = self.decision_records().table.column("action")
        for entry in pc.value_counts(actions).to_pylist():
            counts[entry["values"]] += entry["counts"]
        counts["unassigned"] = self.unassigned_customers()
        counts["customers_evaluated"] = self.evaluated_customers
        return counts

    def left_unassigned(self) -> Records[Unassigned]:
        """The rows of the customers that stay in their pool: one per
        allocation that tried the customer (so a customer can have several),
        without the customers a later allocation of the run assigned."""
        import pyarrow.compute as pc

        table = self.unassigned_records().table
        assigned = self.by_action("assign").table.column("customer_id")
        if len(assigned):
            table = table.filter(pc.invert(pc.is_in(
                table.column("customer_id"), value_set=assigned.combine_chunks())))
        return Records(table, Unassigned)

    def unassigned_customers(self) -> int:
        """How many customers stay in their pool: customers, not customer x
        allocation (plus those a counting plan did not list)."""
        import pyarrow.compute as pc

        ids = self.left_unassigned().table.column("customer_id")
        return len(pc.unique(ids)) + self.unassigned_omitted

    def skipped_for(self, customer_id: str) -> tuple[Skip, ...]:
        """The salespeople considered for ``customer_id`` and why each was skipped."""
        return tuple(Skip(rep, render_skip(why))
                     for rep, why in self.skipped.get(customer_id, ()))

    def to_json(self) -> str:
        """The plan file: deterministic JSON, byte for byte for the same plan."""
        payload = {
            "company_id": self.company_id,
            "ruleset_id": self.ruleset_id,
            "ruleset_hash": self.ruleset_hash,
            "as_of": self.as_of.isoformat(),
            "counts": self.counts(),
            "decisions": [d.to_dict() for d in self.decisions],
            "unassigned": [asdict(u) for u in self.unassigned],
        }
        return json.dumps(payload, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
