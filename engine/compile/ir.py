"""The intermediate representation (IR) of conditions: the single source of truth.

A ruleset condition (``highseas.ruleset.model``) is *lowered* to an IR tree for one
as-of date: every duration becomes a threshold day number (``date.toordinal``)
and every field becomes a column of the derived facts. Everything that
evaluates a condition is generated from this tree:

* :func:`highseas.compile.to_durable.to_durable` - the durable-rules
  condition JSON (what really decides);
* :func:`highseas.compile.to_sql.to_sql` - a DuckDB boolean expression with
  bound parameters only (a candidate pre-filter);
* :func:`holds` (here) - a pure-Python evaluator over one normalized fact;
* :func:`highseas.compile.trace.explain` - per leaf: description, actual
  value, threshold, pass/fail.

This module holds the tree, its lowering from a ruleset condition, the
normal form, value normalization and the Python evaluator; each of the
other back ends is a module of its own beside it, as sqlglot keeps one
generator per dialect.

Semantics (documented in docs/compiler.md):

* Every leaf is *null-safe and two-valued*: a NULL or missing column makes the
  leaf false, whatever the operator (``!=`` and ``not in`` included).
* ``Neg`` is plain boolean negation of its (two-valued) child, so the negation
  of a leaf on a NULL column is true.
* Values are compared only with values of the column's own type; the lowering
  refuses anything else (HS502), so durable-rules' ``'10'`` vs ``5`` and
  ``true == 1`` quirks can never be reached.
* Tags: ``any`` / ``all`` / ``none`` of the given tags over the list; an empty
  or NULL list has no tag (``none`` is true, ``any`` and ``all`` are false).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, Literal, TypeAlias

from highseas import codes
from highseas.errors import EngineError
from highseas.ruleset import model

ColumnType = Literal["string", "integer", "number", "boolean", "date", "tags"]
LeafOp = Literal["<", "<=", ">", ">=", "=", "!=", "in", "not in", "any", "all", "none"]
IrScalar: TypeAlias = str | int | float | bool
IrValue: TypeAlias = IrScalar | tuple[IrScalar, ...]

#: The derived-facts columns a condition may read, with their types.
#: ``date`` columns hold ``date.toordinal()`` integers.
CONDITION_FIELDS: dict[str, ColumnType] = {
    "last_touch_day": "date",
    "last_order_touch_day": "date",
    "owned_since_day": "date",
    "created_day": "date",
    "contacted": "boolean",
    "open_orders": "integer",
    "last_won_day": "date",
    "stage_since_day": "date",
    "country": "string",
    "region": "string",
    "source": "string",
    "stage": "string",
    "name": "string",
    "level": "integer",
    "tags": "tags",
}

#: Columns the facts contract declares NOT NULL: a NULL there is a broken
#: fact (EngineError HS544), so negations need no "or is null" branch.
NON_NULL_COLUMNS: frozenset[str] = frozenset({"contacted", "open_orders", "tags"})

#: Prefix of custom-field columns (``cf_<name>``).
CUSTOM_PREFIX = "cf_"

#: The largest integer every backend represents exactly (durable-rules: int64).
MAX_INT = 2**63 - 1
#: durable-rules keeps string lengths in 16 bits: a string of 65,536 bytes or
#: more compares as if cut (measured: "y" * 65537 equals "y"). Strings are
#: limited, in their JSON-encoded UTF-8 form, well below that.
MAX_STRING_BYTES = 60000


def string_ok(text: str) -> bool:
    """No NUL character (durable-rules is C) and short enough for durable-rules."""
    if "\x00" in text:
        return False
    if len(text) <= MAX_STRING_BYTES // 6:  # even \uXXXX-escaped it fits
        return True
    return len(json.dumps(text, ensure_ascii=False).encode("utf-8")) <= MAX_STRING_BYTES

_COMPARE_OPS = ("<", "<=", ">", ">=", "=", "!=")
_NEGATED_OP: dict[str, str] = {
    "<": ">=",
    "<=": ">",
    ">": "<=",
    ">=": "<",
    "=": "!=",
    "!=": "=",
    "in": "not in",
    "not in": "in",
    "any": "none",
    "none": "any",
}
_OP_WORDS = {"<": "<", "<=": "<=", ">": ">", ">=": ">=", "=": "=", "!=": "!="}


# --------------------------------------------------------------------------
# The IR nodes
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Leaf:
    """``column op value``, false when the column is NULL or missing.

    ``kind`` names the source condition (``idle_for``, ``compare``, ...),
    ``label`` describes it for people, ``as_of_day`` and ``duration`` are set
    for the time-based kinds (the threshold is ``as_of_day`` minus
    ``duration``, already resolved into ``value``).
    """

    column: str
    op: LeafOp
    value: IrValue
    ctype: ColumnType
    kind: str = "compare"
    label: str = ""
    json_path: str = ""
    as_of_day: int | None = None
    duration: str | None = None


@dataclass(frozen=True)
class IsNull:
    """``column IS NULL`` (``null`` true) or ``IS NOT NULL``. Produced by
    :func:`to_nnf` when negating a leaf; never by the lowering."""

    column: str
    null: bool = True


@dataclass(frozen=True)
class Const:
    """A constant truth value (an empty ``all``/``any`` list, for instance)."""

    value: bool
    label: str = ""


@dataclass(frozen=True)
class And:
    items: tuple[Node, ...]
    json_path: str = ""


@dataclass(frozen=True)
class Or:
    items: tuple[Node, ...]
    json_path: str = ""


@dataclass(frozen=True)
class Neg:
    item: Node
    json_path: str = ""


Node: TypeAlias = Leaf | IsNull | Const | And | Or | Neg


def columns_of(node: Node) -> set[str]:
    """Every column ``node`` reads."""
    if isinstance(node, Leaf | IsNull):
        return {node.column}
    if isinstance(node, Const):
        return set()
    if isinstance(node, Neg):
        return columns_of(node.item)
    out: set[str] = set()
    for item in node.items:
        out |= columns_of(item)
    return out


def leaves(node: Node) -> Iterator[Leaf | IsNull]:
    """The leaves of ``node``, depth first."""
    if isinstance(node, Leaf | IsNull):
        yield node
    elif isinstance(node, Neg):
        yield from leaves(node.item)
    elif isinstance(node, And | Or):
        for item in node.items:
            yield from leaves(item)


# --------------------------------------------------------------------------
# Lowering: model.Condition -> IR for one as-of date
# --------------------------------------------------------------------------


def column_for_field(field_name: str, ruleset: model.Ruleset) -> tuple[str, ColumnType]:
    """The facts column and type of a built-in or declared custom field."""
    if field_name in model.BUILTIN_FIELDS:
        return field_name, CONDITION_FIELDS[field_name]
    for custom in ruleset.custom_fields:
        if custom.name == field_name:
            return CUSTOM_PREFIX + custom.name, custom.type
    raise EngineError(
        f"condition uses the unknown field {field_name!r}",
        code=codes.UNKNOWN_FIELD,
        hint="declare it under custom_fields (validation should have caught this)",
    )


def column_types(ruleset: model.Ruleset) -> dict[str, ColumnType]:
    """Every column a condition of ``ruleset`` may read (the SQL whitelist)."""
    out: dict[str, ColumnType] = dict(CONDITION_FIELDS)
    for custom in ruleset.custom_fields:
        out[CUSTOM_PREFIX + custom.name] = custom.type
    return out


def _typed_value(value: object, ctype: ColumnType, where: str) -> IrScalar:
    """``value`` checked against ``ctype`` and converted to its IR form."""
    ok: bool
    converted: IrScalar
    if ctype == "string":
        ok = isinstance(value, str)
        if ok and not string_ok(str(value)):
            raise EngineError(
                f"{where}: a string value may not contain a NUL character nor be "
                f"longer than {MAX_STRING_BYTES} bytes",
                code=codes.WRONG_VALUE_TYPE,
            )
        converted = value if isinstance(value, str) else ""
    elif ctype == "integer":
        ok = isinstance(value, int) and not isinstance(value, bool)
        converted = value if isinstance(value, int) else 0
        if ok and abs(int(converted)) > MAX_INT:
            raise EngineError(
                f"{where}: integer {value} is out of range", code=codes.WRONG_VALUE_TYPE
            )
    elif ctype == "number":
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        converted = float(value) if isinstance(value, int | float) else 0.0
        if ok and not math.isfinite(converted):
            raise EngineError(
                f"{where}: {value!r} is not a finite number", code=codes.WRONG_VALUE_TYPE
            )
    elif ctype == "boolean":
        ok = isinstance(value, bool)
        converted = bool(value)
    elif ctype == "date":
        ok = isinstance(value, date)
        converted = value.toordinal() if isinstance(value, date) else 0
    else:
        ok = False
        converted = 0
    if not ok:
        raise EngineError(
            f"{where}: value {value!r} ({type(value).__name__}) is not of the field's "
            f"type {ctype}",
            code=codes.WRONG_VALUE_TYPE,
            hint="values are compared only with values of the same type",
        )
    return converted


_TIME_KINDS: dict[type, tuple[str, str, str]] = {
    model.IdleFor: ("idle_for", "last_touch_day", "idle for"),
    model.NoOrderFor: ("no_order_for", "last_order_touch_day", "no order for"),
    model.OwnedFor: ("owned_for", "owned_since_day", "owned for"),
    model.CreatedBefore: ("created_before", "created_day", "created"),
    model.LastWonBefore: ("last_won_before", "last_won_day", "last order won"),
    model.InStageFor: ("in_stage_for", "stage_since_day", "in its stage for"),
}


#: Time kinds whose label reads "... ago" (a moment, not a span).
_AGO_KINDS = frozenset({"created_before", "last_won_before"})


def lower(condition: model.Condition, as_of: date, ruleset: model.Ruleset) -> Node:
    """Lower a model condition to the IR, thresholds resolved as of ``as_of``."""
    if isinstance(condition, model.IdleFor | model.NoOrderFor | model.OwnedFor
                  | model.CreatedBefore | model.LastWonBefore | model.InStageFor):
        kind, column, words = _TIME_KINDS[type(condition)]
        threshold = condition.duration.latest_start(as_of).toordinal()
        described = condition.duration.describe()
        label = (
            f"{words} at least {described} ago"
            if kind in _AGO_KINDS
            else f"{words} at least {described}"
        )
        return Leaf(
            column=column,
            op="<=",
            value=threshold,
            ctype="date",
            kind=kind,
            label=label,
            json_path=condition.json_path,
            as_of_day=as_of.toordinal(),
            duration=described,
        )
    if isinstance(condition, model.WonWithin):
        described = condition.duration.describe()
        return Leaf(
            column="last_won_day",
            op=">",
            value=condition.duration.latest_start(as_of).toordinal(),
            ctype="date",
            kind="won_within",
            label=f"an order won within {described}",
            json_path=condition.json_path,
            as_of_day=as_of.toordinal(),
            duration=described,
        )
    if isinstance(condition, model.NeverContacted):
        return Leaf(
            column="contacted",
            op="=",
            value=not condition.value,
            ctype="boolean",
            kind="never_contacted",
            label="never contacted" if condition.value else "contacted at least once",
            json_path=condition.json_path,
        )
    if isinstance(condition, model.HasOpenOrder):
        return Leaf(
            column="open_orders",
            op=">" if condition.value else "<=",
            value=0,
            ctype="integer",
            kind="has_open_order",
            label="has an open order" if condition.value else "has no open order",
            json_path=condition.json_path,
        )
    if isinstance(condition, model.Compare):
        return _lower_compare(condition, ruleset)
    if isinstance(condition, model.TagsMatch):
        tags = tuple(_typed_value(t, "string", f"tag {t!r}") for t in condition.tags)
        if condition.mode not in ("any", "all", "none"):
            raise EngineError(
                f"unknown tags mode {condition.mode!r}", code=codes.UNSUPPORTED_OPERATOR
            )
        listed = ", ".join(str(t) for t in tags)
        return Leaf(
            column="tags",
            op=condition.mode,
            value=tags,
            ctype="tags",
            kind="tags",
            label=f"tags {condition.mode} of [{listed}]",
            json_path=condition.json_path,
        )
    if isinstance(condition, model.AllOf):
        return And(tuple(lower(c, as_of, ruleset) for c in condition.items), condition.json_path)
    if isinstance(condition, model.AnyOf):
        return Or(tuple(lower(c, as_of, ruleset) for c in condition.items), condition.json_path)
    if isinstance(condition, model.Not):
        return Neg(lower(condition.item, as_of, ruleset), condition.json_path)
    raise EngineError(
        f"unknown condition type {type(condition).__name__}", code=codes.UNSUPPORTED_OPERATOR
    )


def _lower_compare(condition: model.Compare, ruleset: model.Ruleset) -> Leaf:
    column, ctype = column_for_field(condition.field, ruleset)
    where = f"{condition.field} {condition.op}"
    op = condition.op
    if op in ("in", "not in"):
        raw = condition.value
        if not isinstance(raw, tuple):
            raise EngineError(f"{where}: expects a list of values", code=codes.WRONG_VALUE_TYPE)
        values: IrValue = tuple(_typed_value(v, ctype, where) for v in raw)
    elif op in _COMPARE_OPS:
        if isinstance(condition.value, tuple):
            raise EngineError(
                f"{where}: expects a single value, not a list", code=codes.WRONG_VALUE_TYPE
            )
        values = _typed_value(condition.value, ctype, where)
        if ctype == "boolean" and op not in ("=", "!="):
            raise EngineError(
                f"{where}: booleans support only =, !=, in and not in",
                code=codes.UNSUPPORTED_OPERATOR
            )
    else:
        raise EngineError(f"unknown comparison operator {op!r}", code=codes.UNSUPPORTED_OPERATOR)
    shown = (
        "[" + ", ".join(show_value(v, ctype) for v in values) + "]"
        if isinstance(values, tuple)
        else show_value(values, ctype)
    )
    return Leaf(
        column=column,
        op=op,
        value=values,
        ctype=ctype,
        kind="compare",
        label=f"{condition.field} {_OP_WORDS.get(op, op)} {shown}",
        json_path=condition.json_path,
    )


def show_value(value: object, ctype: ColumnType) -> str:
    if ctype == "date" and isinstance(value, int) and not isinstance(value, bool):
        return date.fromordinal(value).isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return repr(value)
    return str(value)


# --------------------------------------------------------------------------
# Facts: normalization shared by every backend
# --------------------------------------------------------------------------


def normalize_value(value: object, ctype: ColumnType, column: str) -> object:
    """One fact value in the form every backend compares (None for NULL).

    Dates become day numbers, decimals and numbers become floats, NaN becomes
    NULL; a value of the wrong type raises EngineError HS544 (durable-rules
    would otherwise compare ``'10'`` with ``5`` or ``1`` with ``true``).
    """
    if value is None:
        return () if ctype == "tags" else None
    if ctype == "string":
        if isinstance(value, str) and string_ok(value):
            return value
    elif ctype == "integer":
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) <= MAX_INT:
            return value
        if isinstance(value, Decimal) and value == value.to_integral_value():
            return int(value)
    elif ctype == "number":
        if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
            number = float(value)
            if math.isnan(number):
                return None
            if math.isfinite(number):
                return number
    elif ctype == "boolean":
        if isinstance(value, bool):
            return value
    elif ctype == "date":
        if isinstance(value, date):
            return value.toordinal()
        if isinstance(value, int) and not isinstance(value, bool) and 0 < value <= 3652059:
            return value
    elif ctype == "tags":
        if isinstance(value, list | tuple) and all(
            isinstance(t, str) and string_ok(t) for t in value
        ):
            return tuple(value)
    raise EngineError(
        f"fact column {column!r} holds {value!r} ({type(value).__name__}), "
        f"not a {ctype} value",
        code=codes.FACT_VALUE_TYPE,
        hint="the derived-facts query and the ruleset's field types disagree",
    )


def normalize_fact(
    fact: Mapping[str, object], columns: Mapping[str, ColumnType]
) -> dict[str, object]:
    """The ``columns`` of ``fact`` normalized (:func:`normalize_value`); NULLs
    are kept as None (tags as an empty tuple)."""
    out: dict[str, object] = {}
    for column, ctype in columns.items():
        value = normalize_value(fact.get(column), ctype, column)
        if value is None and column in NON_NULL_COLUMNS:
            raise EngineError(
                f"fact column {column!r} is NULL but the facts contract says it never is",
                code=codes.FACT_VALUE_TYPE,
            )
        out[column] = value
    return out


# --------------------------------------------------------------------------
# Backend 1: the pure-Python evaluator
# --------------------------------------------------------------------------


def leaf_holds(leaf: Leaf, value: object) -> bool:
    op = leaf.op
    if leaf.ctype == "tags":
        present = set(value) if isinstance(value, tuple | list) else set()
        wanted = leaf.value if isinstance(leaf.value, tuple) else (leaf.value,)
        if op == "any":
            return any(t in present for t in wanted)
        if op == "all":
            return all(t in present for t in wanted)
        return not any(t in present for t in wanted)  # none
    if value is None:
        return False
    target = leaf.value
    if op == "in":
        return isinstance(target, tuple) and value in target
    if op == "not in":
        return isinstance(target, tuple) and value not in target
    if op == "=":
        return value == target
    if op == "!=":
        return value != target
    # Ordering: types were checked, both sides are of the column's type.
    left: Any = value
    right: Any = target
    if op == "<":
        return left < right
    if op == "<=":
        return left <= right
    if op == ">":
        return left > right
    return left >= right


def holds(node: Node, fact: Mapping[str, object]) -> bool:
    """Whether ``node`` holds for one *normalized* fact (:func:`normalize_fact`)."""
    if isinstance(node, Leaf):
        return leaf_holds(node, fact.get(node.column))
    if isinstance(node, IsNull):
        value = fact.get(node.column)
        is_null = value is None or value == ()
        return is_null if node.null else not is_null
    if isinstance(node, Const):
        return node.value
    if isinstance(node, Neg):
        return not holds(node.item, fact)
    if isinstance(node, And):
        return all(holds(item, fact) for item in node.items)
    return any(holds(item, fact) for item in node.items)


# --------------------------------------------------------------------------
# Negation normal form (durable-rules has no $not)
# --------------------------------------------------------------------------


def to_nnf(node: Node, negate: bool = False) -> Node:
    """``node`` (or its negation) with negations pushed into the leaves and
    constants folded. A negated leaf on a nullable column becomes
    ``column IS NULL OR column <negated op> value``, which keeps the
    two-valued semantics."""
    if isinstance(node, Neg):
        return to_nnf(node.item, not negate)
    if isinstance(node, Const):
        return Const(node.value != negate)
    if isinstance(node, IsNull):
        return IsNull(node.column, node.null != negate)
    if isinstance(node, Leaf):
        return _negate_leaf(node) if negate else node
    is_and = isinstance(node, And) != negate
    items = [to_nnf(item, negate) for item in node.items]
    return fold(items, is_and)


def fold(items: Sequence[Node], is_and: bool) -> Node:
    flat: list[Node] = []
    for item in items:
        if isinstance(item, Const):
            if item.value != is_and:  # False in AND, True in OR
                return Const(not is_and)
            continue
        if is_and and isinstance(item, And):
            flat.extend(item.items)
        elif not is_and and isinstance(item, Or):
            flat.extend(item.items)
        else:
            flat.append(item)
    if not flat:
        return Const(is_and)
    if len(flat) == 1:
        return flat[0]
    return And(tuple(flat)) if is_and else Or(tuple(flat))


def _negate_leaf(leaf: Leaf) -> Node:
    if leaf.op == "all":
        tags = leaf.value if isinstance(leaf.value, tuple) else (leaf.value,)
        parts: list[Node] = [
            Leaf(leaf.column, "none", (t,), leaf.ctype, leaf.kind, leaf.label) for t in tags
        ]
        return fold(parts, is_and=False)
    negated = Leaf(
        leaf.column,
        _NEGATED_OP[leaf.op],  # type: ignore[arg-type]
        leaf.value,
        leaf.ctype,
        leaf.kind,
        f"not ({leaf.label})",
        leaf.json_path,
        leaf.as_of_day,
        leaf.duration,
    )
    if leaf.ctype == "tags" or leaf.column in NON_NULL_COLUMNS:
        return negated
    return Or((IsNull(leaf.column, True), negated))


# --------------------------------------------------------------------------
# Size measures (durable-rules hangs or fails on large conditions)
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Size:
    """How many comparisons a condition makes, in all and per column (an
    ``in`` list counts one per value). The durable form itself is measured
    with :func:`durable_counts`."""

    leaves: int
    per_column: dict[str, int] = field(default_factory=dict)


def measure(node: Node) -> Size:
    """Comparisons made by ``node`` (negations pushed into the leaves)."""
    per_column: dict[str, int] = {}
    total = 0
    for leaf in leaves(to_nnf(node)):
        count = len(leaf.value) if isinstance(leaf, Leaf) and isinstance(leaf.value, tuple) else 1
        per_column[leaf.column] = per_column.get(leaf.column, 0) + max(count, 1)
        total += max(count, 1)
    return Size(leaves=total, per_column=per_column)
