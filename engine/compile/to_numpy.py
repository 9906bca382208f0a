"""The IR evaluated with numpy over columns of customer facts.

The simulator's incremental replay decides the same condition for many
customers, day after day, on facts that change for only a few customers a
day. :class:`FactColumns` holds the facts of N customers column by column
(built from the nightly facts table as a ``pyarrow.Table``, kept current with
:meth:`FactColumns.set`); :func:`evaluate` decides an IR tree for all of them
at once, equal to :func:`highseas.compile.ir.holds` on each normalized row
(:func:`highseas.compile.ir.normalize_fact`), NULLs and tags included, as the
equivalence tests prove (tests/compile/test_to_numpy.py).

:class:`DayConditions` is one condition lowered for consecutive days: the
trees differ only in the thresholds of their time leaves, which never
decrease from one day to the next. It decides each customer on a day of its
own (:meth:`DayConditions.holds`) and finds the first day on which the
condition holds while the facts stay as they are
(:meth:`DayConditions.first_day`): a customer's verdict can change only on
a day where a time leaf's comparison flips, found by binary search in the
leaf's per-day thresholds, so only those days are evaluated.

Representation (one array per column, all of length N):

* ``integer`` and ``date`` (day numbers): int64 values and a NULL mask;
* ``number``: float64, NaN for NULL (as :func:`ir.normalize_value` has it);
* ``boolean``: bool values and a NULL mask;
* ``string``: int64 codes into a sorted dictionary of the distinct values
  (-1 for NULL), so that ordering a code orders its string;
* ``tags``: a bool membership matrix, one column per distinct tag (NULL
  tags are no tags).

Values are validated as :func:`ir.normalize_value` validates them: a value it
refuses raises EngineError HS544 here too, and so does a NULL in a column of
:data:`ir.NON_NULL_COLUMNS` other than ``tags``. pyarrow is imported only by
:meth:`FactColumns.from_arrow`.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any, TypeAlias

import numpy as np
import numpy.typing as npt

from highseas import codes
from highseas.compile import ir
from highseas.errors import EngineError
from highseas.ruleset import model

if TYPE_CHECKING:
    import pyarrow as pa

BoolArray: TypeAlias = npt.NDArray[np.bool_]
IntArray: TypeAlias = npt.NDArray[np.int64]
FloatArray: TypeAlias = npt.NDArray[np.float64]

#: What :meth:`DayConditions.first_day` answers for a customer on whom the
#: condition holds on none of the lowered days (from its first index on).
NEVER = -1

#: ``date(1970, 1, 1).toordinal()``: Arrow's date32 counts days from it.
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
#: The largest day number :func:`ir.normalize_value` accepts (9999-12-31).
_MAX_DAY = date.max.toordinal()

_ORDERING: dict[str, Callable[[Any, Any], Any]] = {
    "<": np.less,
    "<=": np.less_equal,
    ">": np.greater,
    ">=": np.greater_equal,
    "=": np.equal,
    "!=": np.not_equal,
}
#: Where a leaf ``column op threshold[d]`` can flip when the per-day
#: thresholds never decrease: ``np.searchsorted`` sides of the column's value.
_FLIP_SIDES: dict[str, tuple[Any, ...]] = {
    "<=": ("left",),  # true from the first day with threshold >= value
    ">": ("left",),
    "<": ("right",),  # true from the first day with threshold > value
    ">=": ("right",),
    "=": ("left", "right"),  # true on the days with threshold == value
    "!=": ("left", "right"),
}


def _fact_error(column: str, what: str) -> EngineError:
    return EngineError(
        f"fact column {column!r} holds {what}",
        code=codes.FACT_VALUE_TYPE,
        hint="the derived-facts query and the ruleset's field types disagree",
    )


def _wrong_leaf(leaf: ir.Leaf, ctype: ir.ColumnType) -> EngineError:
    return EngineError(
        f"leaf {leaf.column} {leaf.op} {leaf.value!r} does not fit the column's type {ctype}",
        code=codes.WRONG_VALUE_TYPE,
        hint="values are compared only with values of the same type",
    )


# --------------------------------------------------------------------------
# The columns
# --------------------------------------------------------------------------


class _Column:
    """One column of N facts (a base for the representations below)."""

    ctype: ir.ColumnType
    name: str

    def __len__(self) -> int:
        raise NotImplementedError

    def null(self) -> BoolArray:
        """True where the value is NULL (tags: where there is no tag)."""
        raise NotImplementedError

    def leaf(self, leaf: ir.Leaf) -> BoolArray:
        """``leaf`` decided on every row, as :func:`ir.leaf_holds` does."""
        raise NotImplementedError

    def take(self, rows: IntArray) -> _Column:
        raise NotImplementedError

    def set(self, rows: IntArray, values: list[object]) -> None:
        """Rows ``rows`` get the normalized ``values`` (None is NULL)."""
        raise NotImplementedError

    def assign(self, rows: IntArray, source: _Column) -> None:
        """Rows ``rows`` get the values of ``source``, a column of the same
        name and type with one row per position."""
        raise NotImplementedError

    def value(self, row: int) -> object:
        """The normalized value of one row (as :func:`ir.normalize_value`)."""
        raise NotImplementedError


def among(codes: IntArray, wanted: Sequence[int], size: int) -> BoolArray:
    """Per row, whether its code (``0 <= code < size``, or -1 for none) is
    one of ``wanted``: a lookup in a table of the ``size`` codes."""
    table = np.zeros(size + 1, dtype=bool)  # the last entry: code -1
    table[np.asarray(wanted, dtype=np.int64)] = True
    result: BoolArray = table[codes]
    return result


def _compare_scalar(leaf: ir.Leaf, values: Any, null: BoolArray) -> BoolArray:
    """A scalar or ``in`` leaf over plain numpy ``values``, false on NULL."""
    op = leaf.op
    if op in ("in", "not in"):
        if not isinstance(leaf.value, tuple):
            raise _wrong_leaf(leaf, leaf.ctype)
        if leaf.value:
            inside = np.isin(values, np.array(leaf.value, dtype=values.dtype))
        else:
            inside = np.zeros(len(null), dtype=bool)
        return (inside if op == "in" else ~inside) & ~null
    if op not in _ORDERING:
        raise EngineError(
            f"operator {op!r} on the column {leaf.column!r}", code=codes.UNSUPPORTED_OPERATOR
        )
    result: BoolArray = _ORDERING[op](values, leaf.value) & ~null
    return result


class _NumericColumn(_Column):
    """``integer``, ``date`` (int64 and a NULL mask) or ``number`` (float64,
    NaN for NULL); ``boolean`` is a subclass."""

    def __init__(self, name: str, ctype: ir.ColumnType, values: npt.NDArray[Any],
                 null: BoolArray) -> None:
        self.name = name
        self.ctype = ctype
        self.values = values
        self._null = null

    def __len__(self) -> int:
        return len(self.values)

    def null(self) -> BoolArray:
        return self._null

    def _check(self, leaf: ir.Leaf, value: object) -> None:
        if self.ctype == "number":
            ok = isinstance(value, int | float) and not isinstance(value, bool)
        else:
            ok = isinstance(value, int) and not isinstance(value, bool)
        if not ok or (isinstance(value, int) and abs(value) > ir.MAX_INT):
            raise _wrong_leaf(leaf, self.ctype)

    def leaf(self, leaf: ir.Leaf) -> BoolArray:
        for value in leaf.value if isinstance(leaf.value, tuple) else (leaf.value,):
            self._check(leaf, value)
        return _compare_scalar(leaf, self.values, self._null)

    def compare(self, op: str, thresholds: npt.NDArray[Any]) -> BoolArray:
        """``column op thresholds`` elementwise (thresholds broadcast against
        the rows), false on NULL."""
        result: BoolArray = _ORDERING[op](self.values, thresholds) & ~self._null
        return result

    def take(self, rows: IntArray) -> _NumericColumn:
        return type(self)(self.name, self.ctype, self.values[rows], self._null[rows])

    def set(self, rows: IntArray, values: list[object]) -> None:
        null = np.array([v is None for v in values], dtype=bool)
        filled = [(np.nan if self.ctype == "number" else 0) if v is None else v for v in values]
        self.values[rows] = np.array(filled, dtype=self.values.dtype)
        self._null[rows] = null

    def assign(self, rows: IntArray, source: _Column) -> None:
        assert isinstance(source, _NumericColumn) and source.ctype == self.ctype
        self.values[rows] = source.values
        self._null[rows] = source._null

    def value(self, row: int) -> object:
        if self._null[row]:
            return None
        return self.values[row].item()


class _BooleanColumn(_NumericColumn):
    def _check(self, leaf: ir.Leaf, value: object) -> None:
        if not isinstance(value, bool):
            raise _wrong_leaf(leaf, self.ctype)


class _StringColumn(_Column):
    """Codes into a sorted dictionary of the distinct strings, -1 for NULL."""

    def __init__(self, name: str, codes_: IntArray, dictionary: tuple[str, ...],
                 index: dict[str, int] | None = None) -> None:
        self.name = name
        self.ctype = "string"
        self.codes = codes_
        # sorted; replaced, never changed in place, so copies share it
        self.dictionary = dictionary
        self._index = index if index is not None else {t: c for c, t in enumerate(dictionary)}

    def __len__(self) -> int:
        return len(self.codes)

    def null(self) -> BoolArray:
        result: BoolArray = self.codes < 0
        return result

    def leaf(self, leaf: ir.Leaf) -> BoolArray:
        values = leaf.value if isinstance(leaf.value, tuple) else (leaf.value,)
        if not all(isinstance(v, str) for v in values):
            raise _wrong_leaf(leaf, self.ctype)
        op, target = leaf.op, leaf.value
        present = self.codes >= 0
        if op in ("in", "not in"):
            if not isinstance(target, tuple):
                raise _wrong_leaf(leaf, self.ctype)
            wanted = [self._index[v] for v in target if isinstance(v, str) and v in self._index]
            inside = among(self.codes, wanted, len(self.dictionary))
            return (inside if op == "in" else ~inside) & present
        if not isinstance(target, str):
            raise _wrong_leaf(leaf, self.ctype)
        # codes order as their strings: compare with where target would sort
        low = bisect.bisect_left(self.dictionary, target)
        high = bisect.bisect_right(self.dictionary, target)
        result: BoolArray
        if op == "=":
            result = (self.codes >= low) & (self.codes < high)
        elif op == "!=":
            result = ((self.codes < low) | (self.codes >= high)) & present
        elif op == "<":
            result = (self.codes < low) & present
        elif op == "<=":
            result = (self.codes < high) & present
        elif op == ">":
            result = self.codes >= high
        elif op == ">=":
            result = self.codes >= low
        else:
            raise EngineError(
                f"operator {op!r} on the string column {leaf.column!r}",
                code=codes.UNSUPPORTED_OPERATOR,
            )
        return result

    def take(self, rows: IntArray) -> _StringColumn:
        return _StringColumn(self.name, self.codes[rows], self.dictionary, self._index)

    def _add(self, texts: Iterable[str]) -> None:
        """Take ``texts`` into the dictionary (re-encoding the codes)."""
        new = {text for text in texts if text not in self._index}
        if new:
            merged = tuple(sorted(set(self.dictionary) | new))
            position = {text: code for code, text in enumerate(merged)}
            remap = np.array([position[text] for text in self.dictionary] + [-1],
                             dtype=np.int64)
            self.codes = remap[self.codes]  # -1 (NULL) maps to the last entry, -1
            self.dictionary, self._index = merged, position

    def set(self, rows: IntArray, values: list[object]) -> None:
        self._add(v for v in values if isinstance(v, str))
        self.codes[rows] = np.array(
            [-1 if v is None else self._index[str(v)] for v in values], dtype=np.int64
        )

    def assign(self, rows: IntArray, source: _Column) -> None:
        assert isinstance(source, _StringColumn)
        self._add(source.dictionary)
        # the source's codes in this dictionary (-1, NULL, maps to the last entry)
        remap = np.array([self._index[text] for text in source.dictionary] + [-1],
                         dtype=np.int64)
        self.codes[rows] = remap[source.codes]

    def value(self, row: int) -> object:
        code = int(self.codes[row])
        return None if code < 0 else self.dictionary[code]


class _TagsColumn(_Column):
    """A membership matrix: ``members[row, i]`` when the row has ``tags[i]``."""

    def __init__(self, name: str, members: BoolArray, tags: tuple[str, ...]) -> None:
        self.name = name
        self.ctype = "tags"
        self.members = members
        self.tags = tags
        self._index = {tag: i for i, tag in enumerate(tags)}

    def __len__(self) -> int:
        return len(self.members)

    def null(self) -> BoolArray:
        return ~np.any(self.members, axis=1)

    def leaf(self, leaf: ir.Leaf) -> BoolArray:
        wanted = leaf.value if isinstance(leaf.value, tuple) else (leaf.value,)
        if not all(isinstance(t, str) for t in wanted) or leaf.op not in ("any", "all", "none"):
            raise _wrong_leaf(leaf, self.ctype)
        rows = len(self.members)
        known = sorted({self._index[t] for t in wanted if isinstance(t, str) and t in self._index})
        if leaf.op == "all":
            if len(known) < len(set(wanted)):  # a tag nobody has
                return np.zeros(rows, dtype=bool)
            return np.all(self.members[:, known], axis=1)
        has_any = np.any(self.members[:, known], axis=1)
        return has_any if leaf.op == "any" else ~has_any

    def take(self, rows: IntArray) -> _TagsColumn:
        return _TagsColumn(self.name, self.members[rows], self.tags)

    def _add(self, tags: Iterable[str]) -> None:
        new = sorted({t for t in tags if t not in self._index})
        if new:
            self.members = np.hstack(
                [self.members, np.zeros((len(self.members), len(new)), dtype=bool)]
            )
            self.tags = self.tags + tuple(new)
            self._index = {tag: i for i, tag in enumerate(self.tags)}

    def assign(self, rows: IntArray, source: _Column) -> None:
        assert isinstance(source, _TagsColumn)
        self._add(source.tags)
        self.members[rows] = False
        columns = np.array([self._index[t] for t in source.tags], dtype=np.int64)
        self.members[np.ix_(rows, columns)] = source.members

    def set(self, rows: IntArray, values: list[object]) -> None:
        lists = [tuple(v) if isinstance(v, tuple | list) else () for v in values]
        self._add(t for tags in lists for t in tags)
        self.members[rows] = False
        for row, tags in zip(rows.tolist(), lists, strict=True):
            self.members[row, [self._index[t] for t in tags]] = True

    def value(self, row: int) -> object:
        return tuple(tag for tag, has in zip(self.tags, self.members[row], strict=True) if has)


# --------------------------------------------------------------------------
# FactColumns
# --------------------------------------------------------------------------


class FactColumns:
    """The facts of N customers, column by column (one column per entry of
    ``column_types``; a column missing from the source is all NULL)."""

    def __init__(self, columns: Mapping[str, _Column], rows: int) -> None:
        self._columns = dict(columns)
        self._rows = rows

    @classmethod
    def from_arrow(cls, table: pa.Table,
                   column_types: Mapping[str, ir.ColumnType]) -> FactColumns:
        """The ``column_types`` columns of a facts table (dates as day numbers
        or Arrow dates, tags as lists of strings); other columns are ignored."""
        rows = table.num_rows
        columns: dict[str, _Column] = {}
        for name, ctype in column_types.items():
            if name in table.column_names:
                array = table.column(name).combine_chunks()
            else:
                import pyarrow as pa

                array = pa.nulls(rows)
            columns[name] = _from_arrow(name, ctype, array)
            _check_not_null(columns[name])
        return cls(columns, rows)

    def __len__(self) -> int:
        return self._rows

    @property
    def column_types(self) -> dict[str, ir.ColumnType]:
        return {name: column.ctype for name, column in self._columns.items()}

    def column(self, name: str) -> _Column:
        """The column ``name``; EngineError HS501 when there is none."""
        try:
            return self._columns[name]
        except KeyError:
            raise EngineError(
                f"column {name!r} is not among the fact columns",
                code=codes.UNKNOWN_FIELD,
            ) from None

    def take(self, rows: npt.ArrayLike) -> FactColumns:
        """A copy holding the rows at the positions ``rows`` (in that order)."""
        positions = self._positions(rows)
        return FactColumns(
            {name: column.take(positions) for name, column in self._columns.items()},
            len(positions),
        )

    def set(self, column: str, rows: npt.ArrayLike, values: Sequence[object]) -> None:
        """In place: the rows at the positions ``rows`` of ``column`` get
        ``values`` (one per row, None for NULL; a sequence or an array),
        validated and normalized as :func:`ir.normalize_value` does (dates
        as ``date`` or day numbers)."""
        target = self.column(column)
        positions = self._positions(rows)
        if len(values) != len(positions):
            raise EngineError(
                f"{len(values)} values for {len(positions)} rows of {column!r}",
                code=codes.COMPILER_INVARIANT,
            )
        normalized = [  # numpy scalars as the Python values they hold
            ir.normalize_value(v.item() if isinstance(v, np.generic) else v, target.ctype, column)
            for v in values
        ]
        if column in ir.NON_NULL_COLUMNS and any(v is None for v in normalized):
            raise _fact_error(column, "NULL but the facts contract says it never is")
        target.set(positions, normalized)

    def put(self, rows: npt.ArrayLike, source: FactColumns,
            skip: Sequence[str] = ()) -> None:
        """In place: the rows at the positions ``rows`` get the rows of
        ``source`` (one per position), column by column, but the columns of
        ``skip``. ``source`` holds every such column, with the same type."""
        positions = self._positions(rows)
        if len(source) != len(positions):
            raise EngineError(f"{len(source)} rows for {len(positions)} positions",
                              code=codes.COMPILER_INVARIANT)
        for name, target in self._columns.items():
            if name in skip:
                continue
            other = source.column(name)
            if other.ctype != target.ctype:
                raise EngineError(f"column {name!r} holds {other.ctype}, not {target.ctype}",
                                  code=codes.COMPILER_INVARIANT)
            target.assign(positions, other)

    def set_days(self, column: str, rows: npt.ArrayLike, days: IntArray, null: BoolArray
                 ) -> None:
        """In place: the rows at the positions ``rows`` of the ``date``
        column ``column`` get the day numbers ``days`` (NULL where ``null``)."""
        target = self.column(column)
        positions = self._positions(rows)
        if not isinstance(target, _NumericColumn) or target.ctype != "date":
            raise EngineError(f"column {column!r} holds no dates",
                              code=codes.COMPILER_INVARIANT)
        if len(days) != len(positions) or len(null) != len(positions):
            raise EngineError(f"{len(days)} days for {len(positions)} rows of {column!r}",
                              code=codes.COMPILER_INVARIANT)
        if (((days < 1) | (days > _MAX_DAY)) & ~null).any():
            raise _fact_error(column, f"a value outside 1..{_MAX_DAY}")
        target.values[positions] = np.where(null, 0, days)
        target._null[positions] = null

    def row(self, position: int) -> dict[str, object]:
        """One row, normalized as :func:`ir.normalize_fact` would (for
        :func:`ir.holds` and the explainer), except that its tags come
        sorted and without repeats."""
        return {name: column.value(position) for name, column in self._columns.items()}

    def _positions(self, rows: npt.ArrayLike) -> IntArray:
        positions = np.asarray(rows, dtype=np.int64).reshape(-1)
        if len(positions) and (positions.min() < 0 or positions.max() >= self._rows):
            raise EngineError(
                f"row positions outside 0..{self._rows - 1}", code=codes.COMPILER_INVARIANT
            )
        return positions


def _check_not_null(column: _Column) -> None:
    if column.name in ir.NON_NULL_COLUMNS and column.ctype != "tags" and column.null().any():
        raise _fact_error(column.name, "NULL but the facts contract says it never is")


def _from_arrow(name: str, ctype: ir.ColumnType, array: pa.Array) -> _Column:
    import pyarrow as pa
    import pyarrow.compute as pc

    kind = array.type
    if pa.types.is_dictionary(kind):
        array = array.dictionary_decode()
        kind = array.type
    rows = len(array)
    if pa.types.is_null(kind):  # a column of NULLs only
        typed = {"number": pa.float64(), "boolean": pa.bool_(), "string": pa.string(),
                 "tags": pa.list_(pa.string())}
        array = pa.nulls(rows, typed.get(ctype, pa.int64()))
        kind = array.type
    null = np.asarray(array.is_null().to_numpy(zero_copy_only=False), dtype=bool)

    def refuse() -> EngineError:
        return _fact_error(name, f"values of the Arrow type {kind}, not {ctype} values")

    if ctype in ("integer", "date"):
        if pa.types.is_date(kind) and ctype == "date":
            days = pc.cast(array, pa.date32()).cast(pa.int32())
            ints = _int64(days, null) + _EPOCH_ORDINAL
        elif pa.types.is_integer(kind) or (pa.types.is_decimal(kind) and ctype == "integer"):
            try:
                ints = _int64(array, null)
            except (pa.ArrowInvalid, OverflowError) as error:
                raise _fact_error(name, f"a value that is no int64 integer ({error})") from None
        else:
            raise refuse()
        low, high = (1, _MAX_DAY) if ctype == "date" else (-ir.MAX_INT, ir.MAX_INT)
        if ((ints < low) & ~null).any() or ((ints > high) & ~null).any():
            raise _fact_error(name, f"a value outside {low}..{high}")
        return _NumericColumn(name, ctype, ints, null)
    if ctype == "number":
        if not (pa.types.is_integer(kind) or pa.types.is_floating(kind)
                or pa.types.is_decimal(kind)):
            raise refuse()
        floats = np.array(pc.cast(array, pa.float64()).fill_null(math.nan)
                          .to_numpy(zero_copy_only=False), dtype=np.float64)
        if np.isinf(floats).any():
            raise _fact_error(name, "an infinite number")
        return _NumericColumn(name, ctype, floats, np.isnan(floats))
    if ctype == "boolean":
        if not pa.types.is_boolean(kind):
            raise refuse()
        flags = np.array(array.fill_null(False).to_numpy(zero_copy_only=False), dtype=bool)
        return _BooleanColumn(name, ctype, flags, null)
    if ctype == "string":
        if not _is_string(kind):
            raise refuse()
        dictionary = _dictionary(name, array)
        codes_ = _codes(array, dictionary)
        return _StringColumn(name, codes_, dictionary)
    if ctype == "tags":
        if not (pa.types.is_list(kind) or pa.types.is_large_list(kind)) or not (
            _is_string(kind.value_type) or pa.types.is_null(kind.value_type)
        ):
            raise refuse()
        flat = pc.list_flatten(array)
        if flat.null_count:
            raise _fact_error(name, "a NULL tag")
        parents = np.asarray(pc.list_parent_indices(array).to_numpy(zero_copy_only=False),
                             dtype=np.int64)
        tags = _dictionary(name, flat)
        members = np.zeros((rows, len(tags)), dtype=bool)
        members[parents, _codes(flat, tags)] = True
        return _TagsColumn(name, members, tags)
    raise _fact_error(name, f"values of the unknown column type {ctype!r}")


def _is_string(kind: pa.DataType) -> bool:
    import pyarrow as pa

    view = getattr(pa.types, "is_string_view", None)
    return bool(pa.types.is_string(kind) or pa.types.is_large_string(kind)
                or (view is not None and view(kind)))


def _int64(array: pa.Array, null: BoolArray) -> IntArray:
    import pyarrow as pa

    if pa.types.is_uint64(array.type):  # above int64 would wrap around
        array = array.cast(pa.int64())  # raises ArrowInvalid when it would
    filled = array.fill_null(0).cast(pa.int64())
    return np.array(filled.to_numpy(zero_copy_only=False), dtype=np.int64)


def _dictionary(name: str, array: pa.Array) -> tuple[str, ...]:
    """The distinct non-NULL strings of ``array``, sorted, validated."""
    distinct = sorted(v for v in array.unique().to_pylist() if v is not None)
    for text in distinct:
        if not ir.string_ok(text):
            raise _fact_error(name, "a string with a NUL character or too long")
    return tuple(distinct)


def _codes(array: pa.Array, dictionary: tuple[str, ...]) -> IntArray:
    import pyarrow as pa
    import pyarrow.compute as pc

    positions = pc.index_in(array.cast(pa.string()), value_set=pa.array(dictionary, pa.string()))
    return np.array(positions.fill_null(-1).to_numpy(zero_copy_only=False), dtype=np.int64)


# --------------------------------------------------------------------------
# evaluate
# --------------------------------------------------------------------------

#: A leaf's position in its tree: the child indexes from the root.
Path: TypeAlias = tuple[int, ...]
#: Decides a varying leaf: (leaf, its column, its path) -> verdicts.
_VaryingLeaf: TypeAlias = Callable[[ir.Leaf, _Column, Path], BoolArray]


def evaluate(node: ir.Node, columns: FactColumns) -> BoolArray:
    """``node`` decided on every row of ``columns``: ``result[i] ==
    ir.holds(node, columns.row(i))``. A column ``node`` reads that
    ``columns`` lacks raises EngineError HS501; a leaf whose value does not
    fit its column's type raises HS502."""
    verdicts = _evaluate(node, columns, (), None)
    return np.broadcast_to(verdicts, (len(columns),)).copy()


def _evaluate(node: ir.Node, columns: FactColumns, path: Path,
              varying: Mapping[Path, _VaryingLeaf] | None) -> BoolArray:
    """Verdicts broadcastable to the rows (a constant is a 0-d array; a
    varying leaf may add a leading axis of candidate days)."""
    if isinstance(node, ir.Const):
        return np.array(node.value)
    if isinstance(node, ir.IsNull):
        null = columns.column(node.column).null()
        return null if node.null else ~null
    if isinstance(node, ir.Leaf):
        column = columns.column(node.column)
        if (node.ctype == "tags") != (column.ctype == "tags"):
            raise _wrong_leaf(node, column.ctype)
        if varying is not None and path in varying:
            return varying[path](node, column, path)
        return column.leaf(node)
    if isinstance(node, ir.Neg):
        return np.logical_not(_evaluate(node.item, columns, (*path, 0), varying))
    combine = np.logical_and if isinstance(node, ir.And) else np.logical_or
    result: BoolArray = np.array(isinstance(node, ir.And))
    for index, item in enumerate(node.items):
        result = combine(result, _evaluate(item, columns, (*path, index), varying))
    return result


# --------------------------------------------------------------------------
# DayConditions
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Threshold:
    """A leaf whose value changes from one day to the next."""

    op: str
    values: npt.NDArray[Any]  # per day, never decreasing


class DayConditions:
    """One condition lowered for the consecutive days ``first_day``,
    ``first_day + 1``, ...: ``nodes[i]`` is ``ir.lower(condition, first_day +
    i, ruleset)``. The trees must have the same structure and differ only in
    the values of scalar comparison leaves, which never decrease from one
    day to the next (time leaves); anything else raises EngineError HS503.

    Days are given by index (0 for ``first_day``); the first date is
    ``first_date`` (``first_day`` names the search method). No node at all
    is allowed: then no day holds."""

    def __init__(self, first_day: date, nodes: Sequence[ir.Node]) -> None:
        self.first_date = first_day
        self.nodes = tuple(nodes)
        # no day at all: nothing holds (first_day finds no day)
        self.template: ir.Node = self.nodes[0] if self.nodes else ir.Const(False)
        self._thresholds: dict[Path, _Threshold] = {}
        if self.nodes:
            _varying_leaves(self.nodes, (), self._thresholds, first_day.toordinal())

    @classmethod
    def lower(cls, condition: model.Condition, first_day: date, days: int,
              ruleset: model.Ruleset) -> DayConditions:
        """``condition`` lowered for ``days`` days from ``first_day`` on."""
        return cls(first_day, [ir.lower(condition, first_day + timedelta(days=i), ruleset)
                               for i in range(days)])

    @property
    def days(self) -> int:
        """How many days are lowered."""
        return len(self.nodes)

    @property
    def varying(self) -> dict[Path, npt.NDArray[Any]]:
        """The per-day values of each leaf whose value changes, by its path."""
        return {path: t.values for path, t in self._thresholds.items()}

    def holds(self, columns: FactColumns, day_index: npt.ArrayLike) -> BoolArray:
        """Per row, whether ``nodes[day_index[row]]`` holds on it (a single
        index is every row's day)."""
        days = _per_row(day_index, len(columns))
        if len(days) != len(columns):
            raise EngineError(f"{len(days)} day indexes for {len(columns)} rows",
                              code=codes.COMPILER_INVARIANT)
        if len(days) and (days.min() < 0 or days.max() >= self.days):
            raise EngineError(f"day indexes outside 0..{self.days - 1}",
                              code=codes.COMPILER_INVARIANT)
        return np.broadcast_to(self._decide(columns, days), (len(columns),)).copy()

    def first_day(self, columns: FactColumns, from_index: npt.ArrayLike) -> IntArray:
        """Per row, the smallest day index ``d`` with ``from_index[row] <= d
        < days`` on which the condition holds, the facts staying as they
        are; :data:`NEVER` (-1) when there is none (``from_index`` at or
        after ``days`` included).

        Only the days where the verdict can change are evaluated: the row's
        ``from_index`` and, for each varying leaf, the day its comparison
        flips for the row's value (a NULL never flips)."""
        rows = len(columns)
        start = _per_row(from_index, rows)
        if len(start) != rows:
            raise EngineError(f"{len(start)} start indexes for {rows} rows",
                              code=codes.COMPILER_INVARIANT)
        if rows and start.min() < 0:
            raise EngineError("a negative start index", code=codes.COMPILER_INVARIANT)
        after = self.days  # "no such day" among the candidates
        candidates = [np.minimum(start, after)]
        for path, threshold in self._thresholds.items():
            leaf = _leaf_at(self.template, path)
            column = columns.column(leaf.column)
            if not isinstance(column, _NumericColumn) or isinstance(column, _BooleanColumn):
                raise _wrong_leaf(leaf, column.ctype)
            for side in _FLIP_SIDES[threshold.op]:
                flips = np.searchsorted(threshold.values, column.values, side=side)
                skip = column.null() | (flips <= start)
                candidates.append(np.where(skip, after, flips).astype(np.int64))
        days = np.stack(candidates)  # (candidates, rows)
        valid = days < after
        verdicts = np.broadcast_to(
            self._decide(columns, np.where(valid, days, 0)), days.shape) & valid
        first = np.where(verdicts, days, after).min(axis=0)
        result: IntArray = np.where(first < after, first, NEVER).astype(np.int64)
        return result

    def _decide(self, columns: FactColumns, days: IntArray) -> BoolArray:
        """The template decided with each varying leaf's value of ``days``
        (shape (rows,) or (candidates, rows))."""

        def leaf_on(leaf: ir.Leaf, column: _Column, path: Path) -> BoolArray:
            threshold = self._thresholds[path]
            if not isinstance(column, _NumericColumn) or isinstance(column, _BooleanColumn):
                raise _wrong_leaf(leaf, column.ctype)
            return column.compare(threshold.op, threshold.values[days])

        varying: dict[Path, _VaryingLeaf] = {path: leaf_on for path in self._thresholds}
        return _evaluate(self.template, columns, (), varying)


def _per_row(indexes: npt.ArrayLike, rows: int) -> IntArray:
    """Day indexes, one per row (a single index is every row's)."""
    array = np.asarray(indexes, dtype=np.int64)
    return np.full(rows, int(array)) if array.ndim == 0 else array.reshape(-1)


def _unsupported(message: str) -> EngineError:
    return EngineError(message, code=codes.UNSUPPORTED_OPERATOR,
                       hint="the days' conditions must differ only in time thresholds")


def _varying_leaves(nodes: tuple[ir.Node, ...], path: Path, out: dict[Path, _Threshold],
                    first_ordinal: int) -> None:
    """Check that ``nodes`` (one per day) have one structure; record the
    leaves whose value changes in ``out``."""
    head = nodes[0]
    if any(type(node) is not type(head) for node in nodes):
        raise _unsupported(f"the days' conditions differ in structure at {path}")
    if isinstance(head, ir.And | ir.Or):
        count = len(head.items)
        if any(len(node.items) != count for node in nodes if isinstance(node, ir.And | ir.Or)):
            raise _unsupported(f"the days' conditions differ in structure at {path}")
        for index in range(count):
            items = tuple(node.items[index] for node in nodes if isinstance(node, ir.And | ir.Or))
            _varying_leaves(items, (*path, index), out, first_ordinal)
        return
    if isinstance(head, ir.Neg):
        items = tuple(node.item for node in nodes if isinstance(node, ir.Neg))
        _varying_leaves(items, (*path, 0), out, first_ordinal)
        return
    if not isinstance(head, ir.Leaf):
        if any(node != head for node in nodes):
            raise _unsupported(f"the days' conditions differ at {path}")
        return
    leaves = [node for node in nodes if isinstance(node, ir.Leaf)]
    for day, leaf in enumerate(leaves):
        if leaf.as_of_day is not None and leaf.as_of_day != first_ordinal + day:
            raise _unsupported(f"the condition of day {day} is lowered for another day")
    if all(leaf.value == head.value and type(leaf.value) is type(head.value) for leaf in leaves):
        return
    for leaf in leaves:
        if replace(leaf, value=head.value, as_of_day=head.as_of_day) != head:
            raise _unsupported(f"the days' conditions differ at {path} beyond a threshold")
    scalars = [leaf.value for leaf in leaves]
    if head.op not in _FLIP_SIDES or head.ctype not in ("integer", "date", "number") or not all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in scalars
    ):
        raise _unsupported(f"the leaf at {path} changes a value that is no threshold")
    values = np.array(scalars, dtype=np.float64 if head.ctype == "number" else np.int64)
    if (np.diff(values) < 0).any():
        raise _unsupported(f"the threshold of the leaf at {path} decreases from a day to the next")
    out[path] = _Threshold(head.op, values)


def _leaf_at(node: ir.Node, path: Path) -> ir.Leaf:
    for index in path:
        if isinstance(node, ir.Neg):
            node = node.item
        elif isinstance(node, ir.And | ir.Or):
            node = node.items[index]
    assert isinstance(node, ir.Leaf)
    return node
