"""One scenario's state, column by column, carried from day to day.

Customers are numbered by their position among every customer id of the
company, sorted (``History.customer_ids``), those created later included, so
that a customer appearing changes no other number. The state holds numpy
arrays (owner, pool, the ownership-dependent days) and the customers' facts
as :class:`highseas.compile.to_numpy.FactColumns`, which the compiled
conditions are evaluated on. Columnar rather than an object per customer:
a day changes a few hundred customers and evaluates conditions over many
thousands, which numpy does in one call per condition leaf, and no SQL
statement (whose fixed cost, not its rows, made the nightly path slow) is
run on a replayed day.

Which facts the owner decides (:meth:`ScenarioState.own`): a new owner
holds the customer from the start of the day of the change (as the nightly
apply and a claim record it), so their ``owned_since_day``,
``last_touch_day`` and ``last_order_touch_day`` all start on that day; an
activity by the owner (or by nobody) on a later day moves ``last_touch_day``
to it, an order placed moves ``last_order_touch_day``. A customer in the
high seas has none of the three.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import TYPE_CHECKING, Any

import numpy as np

from highseas.compile import ir
from highseas.compile.to_numpy import FactColumns
from highseas.simulate.incremental.history import History

if TYPE_CHECKING:
    import pyarrow as pa

NOBODY = -1
IntArray = np.ndarray[Any, np.dtype[np.int64]]
#: What :meth:`ScenarioState.copy` shares: fixed once the state is built.
_SHARED = frozenset({"customer_ids", "index", "types"})
#: Columns that depend on the owner (the scenario's, never the history's).
OWNER_COLUMNS = ("owned_since_day", "last_touch_day", "last_order_touch_day")
#: Facts rows columns that are not conditions but the state keeps.
_ROW_EXTRA = ("owner_rep_id", "pool_id", "region_pool")


class ScenarioState:
    """Owner, pool and facts of every customer of one scenario."""

    def __init__(self, history: History, condition_types: dict[str, ir.ColumnType]) -> None:
        import pyarrow as pa
        import pyarrow.compute as pc

        self.customer_ids = history.customer_ids
        self.index = {cid: i for i, cid in enumerate(self.customer_ids)}
        # the history's numbering (which the day's numbers use), complete
        self.rep_ids: list[str] = sorted({r.rep_id for d in history.days for r in d.reps}
                                         | _owners(history.initial) | set(history.rep_ids))
        self.rep_index = {rep: i for i, rep in enumerate(self.rep_ids)}
        size = len(self.customer_ids)
        self.types = condition_types
        # Every customer of the company, those created later as empty rows
        # (Arrow's take gives a null row for a null index).
        at = {cid: row for row, cid in
              enumerate(history.initial.column("customer_id").to_pylist())}
        joined = history.initial.take(pa.array([at.get(cid) for cid in self.customer_ids],
                                               pa.int64()))
        joined = joined.set_column(joined.column_names.index("customer_id"), "customer_id",
                                   pa.array(self.customer_ids, pa.string()))
        for column, empty in (("contacted", False), ("open_orders", 0)):
            if column in joined.column_names:
                position = joined.column_names.index(column)
                joined = joined.set_column(position, column,
                                           pc.fill_null(joined.column(column), empty))
        if "tags" in joined.column_names:
            position = joined.column_names.index("tags")
            tags = [t if t is not None else [] for t in joined.column("tags").to_pylist()]
            joined = joined.set_column(position, "tags", pa.array(tags, pa.list_(pa.string())))
        self.facts = FactColumns.from_arrow(joined, condition_types)
        present = set(history.initial.column("customer_id").to_pylist())
        self.present = np.array([cid in present for cid in self.customer_ids], dtype=bool)
        self.owner = np.full(size, NOBODY, dtype=np.int64)
        self.pool: list[str | None] = [None] * size
        #: The pool the customer's row records (what the pool sizes count).
        self.stored_pool = [history.stored_pool[cid] for cid in self.customer_ids]
        #: Pool names numbered (:meth:`pool_number`), and the same three pools
        #: as numbers (-1: none), for numpy.
        self.pool_names: list[str] = []
        self._pool_numbers: dict[str, int] = {}
        self.pool_code = np.full(size, -1, dtype=np.int64)
        self.region_pool_code = np.full(size, -1, dtype=np.int64)
        self.stored_code = np.array([self.pool_number(p) for p in self.stored_pool],
                                    dtype=np.int64)
        self.region_pool: list[str | None] = [None] * size
        self.region: list[str | None] = [None] * size
        self.name: list[str | None] = [None] * size
        self.owned_since = np.zeros(size, dtype=np.int64)
        #: Customers whose owner or pool this scenario changed.
        self.moved: set[int] = set()
        self.last_touch = np.zeros(size, dtype=np.int64)
        self.last_order = np.zeros(size, dtype=np.int64)
        for cid, day in history.last_order_day.items():
            if cid in self.index:
                self.last_order[self.index[cid]] = day
        rows = joined.select(["customer_id", *_ROW_EXTRA, "region", "name", *OWNER_COLUMNS])
        self._take_rows(rows.to_pylist(), whole=True)

    def copy(self) -> ScenarioState:
        """An independent copy (the customer ids and their index, never
        changed, are shared): scenarios of a sweep start from one state
        built once."""
        import copy as copying

        other = copying.copy(self)
        for name, value in vars(self).items():
            if isinstance(value, np.ndarray):
                setattr(other, name, value.copy())
            elif isinstance(value, list | dict | set) and name not in _SHARED:
                setattr(other, name, value.copy())
        other.facts = self.facts.take(np.arange(len(self.customer_ids)))
        return other

    # -- pools as numbers --------------------------------------------------

    def pool_number(self, name: str | None) -> int:
        """The number of pool ``name`` (-1 for None), numbered on first sight."""
        if name is None:
            return -1
        number = self._pool_numbers.get(name)
        if number is None:
            number = self._pool_numbers[name] = len(self.pool_names)
            self.pool_names.append(name)
        return number

    def pool_ranks(self) -> np.ndarray[Any, np.dtype[np.int64]]:
        """Each pool number's rank in name order (to sort as SQL sorts ids)."""
        order = sorted(range(len(self.pool_names)), key=self.pool_names.__getitem__)
        ranks = np.empty(len(order), dtype=np.int64)
        ranks[order] = np.arange(len(order))
        return ranks

    # -- reading ----------------------------------------------------------

    def owner_id(self, i: int) -> str | None:
        owner = int(self.owner[i])
        return None if owner == NOBODY else self.rep_ids[owner]

    def owned(self) -> np.ndarray[Any, np.dtype[np.bool_]]:
        return self.present & (self.owner != NOBODY)

    def private_counts(self) -> dict[str, int]:
        counts = np.bincount(self.owner[self.owned()], minlength=len(self.rep_ids))
        return {rep: int(n) for rep, n in zip(self.rep_ids, counts, strict=True) if n}

    # -- writing ----------------------------------------------------------

    def rep(self, rep_id: str) -> int:
        """The number of salesperson ``rep_id`` (numbered on first sight)."""
        number = self.rep_index.get(rep_id)
        if number is None:
            number = self.rep_index[rep_id] = len(self.rep_ids)
            self.rep_ids.append(rep_id)
        return number

    def own(self, rows: Sequence[int], rep_id: str, day: date) -> None:
        """``rep_id`` holds the customers ``rows`` from the start of ``day``."""
        ordinal = day.toordinal()
        number = self.rep(rep_id)
        for i in rows:
            self.owner[i] = number
            self.pool[i] = None
            self.stored_pool[i] = None
            self.owned_since[i] = ordinal
            self.last_touch[i] = ordinal
        self.pool_code[list(rows)] = -1
        self.stored_code[list(rows)] = -1
        self.moved.update(rows)
        self._write_owner_columns(rows)

    def own_many(self, rows: Sequence[int], rep_ids: Sequence[str], day: date) -> None:
        """Each of ``rows`` is held by its salesperson of ``rep_ids`` from
        the start of ``day``."""
        if not rows:
            return
        ordinal = day.toordinal()
        index = np.asarray(rows, dtype=np.int64)
        self.owner[index] = [self.rep(rep) for rep in rep_ids]
        self.owned_since[index] = ordinal
        self.last_touch[index] = ordinal
        for i in rows:
            self.pool[i] = None
            self.stored_pool[i] = None
        self.pool_code[index] = -1
        self.stored_code[index] = -1
        self.moved.update(rows)
        self._write_owner_columns(rows)

    def release(self, rows: Sequence[int], pools: Sequence[str]) -> None:
        """The customers ``rows`` go to the high seas, each to its pool."""
        for i, pool in zip(rows, pools, strict=True):
            self.owner[i] = NOBODY
            self.pool[i] = pool
            self.stored_pool[i] = pool
            self.pool_code[i] = self.stored_code[i] = self.pool_number(pool)
        self.moved.update(rows)
        self._write_owner_columns(rows)

    def touched(self, rows: IntArray, day: date) -> None:
        """The owners of ``rows`` (or nobody) followed them up on ``day``."""
        owned = rows[self.owner[rows] != NOBODY]
        self.last_touch[owned] = day.toordinal()
        self._write_owner_columns(owned)

    def ordered(self, rows: IntArray, day: date) -> None:
        """An order of each of ``rows`` was placed on ``day``."""
        self.last_order[rows] = day.toordinal()
        self._write_owner_columns(rows)

    def changed(self, table: pa.Table, rows: IntArray, facts: FactColumns) -> list[int]:
        """Take the day's facts rows ``table`` of customers whose dated facts
        changed (``rows``: their positions; ``facts``: the table's columns
        the state keeps); returns the rows of customers it created."""
        new: list[int] = rows[~self.present[rows]].tolist()
        self.facts.put(rows, facts, skip=OWNER_COLUMNS)
        if new:
            import pyarrow as pa
            import pyarrow.compute as pc

            wanted = pa.array([self.customer_ids[i] for i in new], pa.string())
            created = table.filter(pc.is_in(table.column("customer_id"), value_set=wanted))
            self._take_rows(created.select(
                ["customer_id", *_ROW_EXTRA, "region", "name", *OWNER_COLUMNS]).to_pylist(),
                whole=True)
            self.present[new] = True
        return new

    def _take_rows(self, records: list[dict[str, Any]], whole: bool) -> None:
        """Owner, pool and the owner's days of facts rows taken whole."""
        rows = []
        for record in records:
            i = self.index[record["customer_id"]]
            rows.append(i)
            self.region_pool[i] = record["region_pool"]
            self.region_pool_code[i] = self.pool_number(record["region_pool"])
            self.region[i] = record["region"]
            self.name[i] = record["name"]
            owner = record["owner_rep_id"]
            if owner is None:
                self.owner[i] = NOBODY
                self.pool[i] = record["pool_id"]
                self.pool_code[i] = self.pool_number(record["pool_id"])
                continue
            self.owner[i] = self.rep(owner)
            self.pool[i] = None
            self.pool_code[i] = -1
            self.owned_since[i] = record["owned_since_day"] or 0
            self.last_touch[i] = record["last_touch_day"] or 0
        if whole:
            self._write_owner_columns(rows)

    def _write_owner_columns(self, rows: Sequence[int] | IntArray) -> None:
        if len(rows) == 0:
            return
        index = np.asarray(rows, dtype=np.int64)
        owned = self.owner[index] != NOBODY
        since = self.owned_since[index]
        columns = {
            "owned_since_day": since,
            "last_touch_day": np.maximum(since, self.last_touch[index]),
            "last_order_touch_day": np.maximum(since, self.last_order[index]),
        }
        for column, values in columns.items():
            if column in self.types:
                self.facts.set_days(column, index, values, ~owned)


def _owners(table: pa.Table) -> set[str]:
    return {owner for owner in table.column("owner_rep_id").to_pylist() if owner is not None}
