"""Why a condition holds or not for one customer: the explainer of the IR.

:func:`explain` walks a lowered condition (:mod:`highseas.compile.ir`) over
one normalized fact and returns a :class:`ConditionTrace` per node: the
description, the actual value in people's units, the threshold and whether
it passed. ``highseas explain`` and the test reports render it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, timedelta

from highseas.compile.ir import (
    And,
    Const,
    IsNull,
    Leaf,
    Neg,
    Node,
    Or,
    holds,
    leaf_holds,
    show_value,
)


@dataclass(frozen=True)
class ConditionTrace:
    """Why a node holds or not for one fact. For a leaf: ``description``,
    ``actual`` (the fact's value, in people's units), ``threshold`` and
    ``text`` ("idle for 95 days >= 90 days: yes")."""

    kind: str  # leaf kind, or "all" / "any" / "not" / "const" / "null"
    passed: bool
    description: str
    actual: object = None
    threshold: object = None
    text: str = ""
    json_path: str = ""
    children: tuple[ConditionTrace, ...] = ()

    def leaves(self) -> Iterator[ConditionTrace]:
        """Every leaf explanation, depth first."""
        if not self.children and self.kind not in ("all", "any", "not"):
            yield self
        for child in self.children:
            yield from child.leaves()

    def lines(self, indent: int = 0) -> list[str]:
        """An indented, human-readable rendering of the tree."""
        pad = "  " * indent
        mark = "yes" if self.passed else "no"
        if self.kind in ("all", "any", "not"):
            head = {"all": "all of", "any": "any of", "not": "not"}[self.kind]
            out = [f"{pad}{head}: {mark}"]
            for child in self.children:
                out.extend(child.lines(indent + 1))
            return out
        return [f"{pad}{self.text}"]


def explain(node: Node, fact: Mapping[str, object]) -> ConditionTrace:
    """Explain ``node`` against one normalized fact."""
    if isinstance(node, Neg):
        child = explain(node.item, fact)
        return ConditionTrace("not", not child.passed, "not", children=(child,),
                           json_path=node.json_path)
    if isinstance(node, And | Or):
        children = tuple(explain(item, fact) for item in node.items)
        if isinstance(node, And):
            return ConditionTrace("all", all(c.passed for c in children), "all of",
                               children=children, json_path=node.json_path)
        return ConditionTrace("any", any(c.passed for c in children), "any of",
                           children=children, json_path=node.json_path)
    if isinstance(node, Const):
        mark = "yes" if node.value else "no"
        return ConditionTrace("const", node.value, node.label or str(node.value).lower(),
                           text=f"{node.label or 'constant'}: {mark}")
    if isinstance(node, IsNull):
        passed = holds(node, fact)
        what = "is empty" if node.null else "is set"
        return ConditionTrace("null", passed, f"{node.column} {what}",
                           actual=fact.get(node.column),
                           text=f"{node.column} {what}: {'yes' if passed else 'no'}")
    return _explain_leaf(node, fact)


def reason_nodes(node: Node) -> Iterator[Leaf | IsNull | Const]:
    """The leaves and constants of ``node`` in the order a reason sentence
    lists the passed ones (depth first, as :func:`explain` does), repeats
    included."""
    if isinstance(node, Neg):
        yield from reason_nodes(node.item)
    elif isinstance(node, And | Or):
        for item in node.items:
            yield from reason_nodes(item)
    else:
        yield node


#: Why a time leaf's day is unknown (NULL), by kind.
_UNKNOWN_REASONS = {
    "created_before": "no creation date",
    "last_won_before": "no order won",
    "won_within": "no order won",
    "in_stage_for": "no stage",
}


def _explain_leaf(leaf: Leaf, fact: Mapping[str, object]) -> ConditionTrace:
    value = fact.get(leaf.column)
    passed = leaf_holds(leaf, value)
    mark = "yes" if passed else "no"
    if leaf.as_of_day is not None and leaf.ctype == "date" and isinstance(leaf.value, int):
        needed = leaf.as_of_day - leaf.value
        as_of = date.fromordinal(leaf.as_of_day)
        threshold_text = f"{needed} days"
        if leaf.duration and not leaf.duration.endswith(("day", "days")):
            threshold_text += f" ({leaf.duration} before {as_of.isoformat()})"
        words = {
            "idle_for": "idle for",
            "no_order_for": "no order for",
            "owned_for": "owned for",
            "created_before": "created",
            "last_won_before": "last order won",
            "won_within": "last order won",
            "in_stage_for": "in its stage for",
        }.get(leaf.kind, leaf.column)
        # won_within holds while fewer days have passed; the others from
        # the threshold on.
        relation = "<" if leaf.op == ">" else ">="
        if value is None or not isinstance(value, int):
            reason = _UNKNOWN_REASONS.get(leaf.kind, "no owner")
            text = f"{words} ? (unknown: {reason}) {relation} {threshold_text}: {mark}"
            actual: object = None
        else:
            days_ago = leaf.as_of_day - value
            actual = days_ago
            since = (as_of - timedelta(days=days_ago)).isoformat()
            won = leaf.kind in ("last_won_before", "won_within")
            suffix = " ago" if won or leaf.kind == "created_before" else ""
            text = (
                f"{words} {actual} days{suffix} {relation} {threshold_text} "
                f"({'on' if won else 'since'} {since}): {mark}"
            )
        return ConditionTrace(leaf.kind, passed, leaf.label, actual=actual,
                           threshold=needed, text=text, json_path=leaf.json_path)
    shown_actual = (
        "[" + ", ".join(str(t) for t in value) + "]"
        if isinstance(value, tuple)
        else ("NULL" if value is None else show_value(value, leaf.ctype))
    )
    if leaf.ctype == "date" and isinstance(value, int) and not isinstance(value, bool):
        actual_value: object = date.fromordinal(value)
    else:
        actual_value = value
    if isinstance(leaf.value, tuple):
        threshold: object = tuple(
            date.fromordinal(v) if leaf.ctype == "date" and isinstance(v, int) else v
            for v in leaf.value
        )
    elif leaf.ctype == "date" and isinstance(leaf.value, int):
        threshold = date.fromordinal(leaf.value)
    else:
        threshold = leaf.value
    if leaf.kind == "never_contacted":
        shown = "unknown" if value is None else ("yes" if value else "no")
        text = f"{leaf.label} (contacted: {shown}): {mark}"
    elif leaf.kind == "has_open_order":
        text = f"{leaf.label} (open orders: {shown_actual}): {mark}"
    else:
        text = f"{leaf.label} (actual: {shown_actual}): {mark}"
    return ConditionTrace(leaf.kind, passed, leaf.label, actual=actual_value,
                       threshold=threshold, text=text, json_path=leaf.json_path)
