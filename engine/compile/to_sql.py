"""The IR as a DuckDB boolean expression with bound parameters only.

:func:`to_sql` is the nightly run's candidate pre-filter: the same condition
as :func:`highseas.compile.to_durable.to_durable`, proved equal to it and to
:func:`highseas.compile.ir.holds` by the equivalence tests. Column names are
whitelisted and quoted; every value is a parameter.
"""

from __future__ import annotations

from collections.abc import Mapping

from highseas import codes
from highseas.compile.ir import And, ColumnType, Const, IsNull, Neg, Node, Or
from highseas.errors import EngineError


def quote_identifier(name: str, allowed: Mapping[str, object]) -> str:
    """``name`` double-quoted, if it is a whitelisted column."""
    if name not in allowed:
        raise EngineError(
            f"column {name!r} is not a derived-facts column", code=codes.UNKNOWN_FIELD
        )
    return '"' + name.replace('"', '""') + '"'


def to_sql(node: Node, allowed: Mapping[str, ColumnType]) -> tuple[str, list[object]]:
    """A DuckDB boolean expression equal to :func:`holds` on the same row,
    and its positional parameters. Columns come from ``allowed`` (quoted),
    values are always bound (``?``), never interpolated. The expression is
    never NULL."""
    params: list[object] = []
    text = _sql(node, allowed, params)
    return text, params


def _sql_column(leaf_column: str, ctype: ColumnType, allowed: Mapping[str, ColumnType]) -> str:
    quoted = quote_identifier(leaf_column, allowed)
    if ctype == "number":
        # NaN is NULL for us (DuckDB orders NaN above every number).
        return f"nullif(CAST({quoted} AS DOUBLE), CAST('NaN' AS DOUBLE))"
    if ctype == "tags":  # NULL tags are no tags
        return f"coalesce({quoted}, CAST([] AS VARCHAR[]))"
    return quoted


def _sql(node: Node, allowed: Mapping[str, ColumnType], params: list[object]) -> str:
    if isinstance(node, Const):
        return "TRUE" if node.value else "FALSE"
    if isinstance(node, IsNull):
        column = quote_identifier(node.column, allowed)
        if allowed.get(node.column) == "tags":
            empty = f"coalesce(len({column}) = 0, TRUE)"
            return empty if node.null else f"(NOT {empty})"
        return f"({column} IS {'' if node.null else 'NOT '}NULL)"
    if isinstance(node, Neg):
        return f"(NOT {_sql(node.item, allowed, params)})"
    if isinstance(node, And | Or):
        if not node.items:
            return "TRUE" if isinstance(node, And) else "FALSE"
        joiner = " AND " if isinstance(node, And) else " OR "
        return "(" + joiner.join(_sql(item, allowed, params) for item in node.items) + ")"
    column = _sql_column(node.column, node.ctype, allowed)
    op = node.op
    if node.ctype == "tags":
        tags = list(node.value) if isinstance(node.value, tuple) else [node.value]
        params.append(tags)
        if op == "any":
            return f"coalesce(list_has_any({column}, CAST(? AS VARCHAR[])), FALSE)"
        if op == "all":
            return f"coalesce(list_has_all({column}, CAST(? AS VARCHAR[])), FALSE)"
        return f"(NOT coalesce(list_has_any({column}, CAST(? AS VARCHAR[])), FALSE))"
    if op in ("in", "not in"):
        values = list(node.value) if isinstance(node.value, tuple) else [node.value]
        if not values:
            return "FALSE" if op == "in" else f"({column} IS NOT NULL)"
        params.extend(values)
        marks = ", ".join("?" for _ in values)
        keyword = "IN" if op == "in" else "NOT IN"
        return f"coalesce({column} {keyword} ({marks}), FALSE)"
    params.append(node.value)
    return f"coalesce({column} {'<>' if op == '!=' else op} ?, FALSE)"
