"""The IR as durable-rules condition JSON: what really decides a verdict.

:func:`to_durable` turns a lowered condition (:mod:`highseas.compile.ir`)
into durable-rules' ``$and``/``$or``/comparison JSON over the event's
properties; :func:`durable_counts` and :func:`split_alternatives` keep the
definitions within what durable-rules can handle (docs/compiler.md).
"""

from __future__ import annotations

from collections.abc import Mapping

from highseas import codes
from highseas.compile.ir import And, Const, IsNull, Neg, Node, Or, fold, to_nnf
from highseas.errors import EngineError

#: The marker property every event carries (``e: 1``), for the catch-all.
MARKER = "e"

_DURABLE_OPS = {"<": "$lt", "<=": "$lte", ">": "$gt", ">=": "$gte", "=": "$eq", "!=": "$neq"}


def marker_condition(value: int = 1) -> dict[str, object]:
    """``{"$eq": {"e": value}}``: always true for 1, never for 0."""
    return {"$eq": {MARKER: value}}


def to_durable(node: Node, names: Mapping[str, str]) -> dict[str, object]:
    """The durable-rules expression of ``node`` (NNF first), with columns
    renamed to the safe internal property names in ``names``.

    Emits only ``$lt $lte $gt $gte $eq $neq $ex $nex $and $or $iany $iall``.
    """
    return _durable(to_nnf(node), names)


def _durable(node: Node, names: Mapping[str, str]) -> dict[str, object]:
    if isinstance(node, Const):
        return marker_condition(1 if node.value else 0)
    if isinstance(node, IsNull):
        return {"$nex" if node.null else "$ex": {names[node.column]: 1}}
    if isinstance(node, And | Or):
        key = "$and" if isinstance(node, And) else "$or"
        parts: list[dict[str, object]] = []
        for item in node.items:
            part = _durable(item, names)
            if len(part) == 1 and key in part:  # splice: fewer $and/$or nodes
                parts.extend(part[key])  # type: ignore[arg-type]
            else:
                parts.append(part)
        return _one_or_many(key, parts)
    if isinstance(node, Neg):  # pragma: no cover - to_nnf removed them
        raise EngineError("internal: negation left after NNF", code=codes.COMPILER_INVARIANT)
    prop = names[node.column]
    op = node.op
    if node.ctype == "tags":
        tags = node.value if isinstance(node.value, tuple) else (node.value,)
        if not tags:  # any of nothing: false; all / none of nothing: true
            return marker_condition(0 if op == "any" else 1)
        if op == "any":
            return _one_or_many("$or", [{"$iany": {prop: {"$i": t}}} for t in tags])
        if op == "all":
            return _one_or_many("$and", [{"$iany": {prop: {"$i": t}}} for t in tags])
        # none: no tags at all (empty lists are sent as a missing property),
        # or every tag differs from each of them.
        inner = _one_or_many("$and", [{"$neq": {"$i": t}} for t in tags])
        return {"$or": [{"$nex": {prop: 1}}, {"$iall": {prop: inner}}]}
    if op == "in":
        values = node.value if isinstance(node.value, tuple) else (node.value,)
        if not values:
            return marker_condition(0)
        return _one_or_many("$or", [{"$eq": {prop: v}} for v in values])
    if op == "not in":
        values = node.value if isinstance(node.value, tuple) else (node.value,)
        if not values:
            return {"$ex": {prop: 1}}
        # $neq never matches a missing property: NULL stays false.
        return _one_or_many("$and", [{"$neq": {prop: v}} for v in values])
    return {_DURABLE_OPS[op]: {prop: node.value}}


def _one_or_many(key: str, parts: list[dict[str, object]]) -> dict[str, object]:
    return parts[0] if len(parts) == 1 else {key: parts}


def durable_expression(nnf: Node, names: Mapping[str, str]) -> dict[str, object]:
    """The durable-rules expression of a node already in NNF (:func:`to_nnf`)."""
    return _durable(nnf, names)


_DURABLE_TESTS = frozenset(
    {"$lt", "$lte", "$gt", "$gte", "$eq", "$neq", "$ex", "$nex", "$iany", "$iall"}
)


def durable_counts(expression: object) -> tuple[int, int]:
    """``($and/$or nodes, tests)`` in a durable-rules expression.

    durable-rules 2.0.28 appends two entries per ``$and``/``$or`` to a fixed
    sequence of 32 per rule (error 113 at 32), and keeps the tests following
    one node in a 512-bucket table whose lookup spins for good once it is full.
    """
    nodes = tests = 0
    stack = [expression]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key, value in item.items():
                if key in ("$and", "$or"):
                    nodes += 1
                elif key in _DURABLE_TESTS:
                    tests += 1
                stack.append(value)
        elif isinstance(item, list):
            stack.extend(item)
    return nodes, tests


def split_alternatives(nnf: Node) -> list[Node] | None:
    """Two alternatives whose OR is ``nnf``, or None if it cannot be split:
    an ``Or`` is cut in halves; an ``And`` holding an ``Or`` child becomes
    ``x AND (first half)``, ``x AND (second half)``."""
    if isinstance(nnf, Or):
        half = len(nnf.items) // 2
        return [fold(nnf.items[:half], is_and=False), fold(nnf.items[half:], is_and=False)]
    if not isinstance(nnf, And):
        return None
    for index, item in enumerate(nnf.items):
        if isinstance(item, Or):
            rest = list(nnf.items[:index] + nnf.items[index + 1:])
            half = len(item.items) // 2
            return [
                fold([*rest, fold(item.items[:half], is_and=False)], is_and=True),
                fold([*rest, fold(item.items[half:], is_and=False)], is_and=True),
            ]
    return None
