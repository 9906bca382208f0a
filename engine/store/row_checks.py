"""The row checks of a load: one set-based SQL query per check.

Each check yields rejects ``(row, column, value, code, reason)`` for the
staged rows of a table (:mod:`highseas.store.staging`), generated from the
table's columns (:mod:`highseas.store.tables`); the typed insert turns the
staged text into the store's types. Nothing is checked row by row in Python.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from highseas import codes
from highseas.store.staging import literal, quoted
from highseas.store.tables import ORDER_STATUSES, Col, TableSpec

if TYPE_CHECKING:
    pass

_TRUE = ("true", "t", "1", "yes", "y")
_FALSE = ("false", "f", "0", "no", "n")
_DATE_RE = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
_TS_RE = r"[0-9]{4}-[0-9]{2}-[0-9]{2}([ T][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?)?"
_INT_RE = r"[+-]?[0-9]+"
_DEC_RE = r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)"
# attributes.NAME cells: numbers as JSON writes them (a leading zero keeps "007" a string)
_JSON_INT_RE = r"-?(0|[1-9][0-9]*)"
_JSON_DEC_RE = r"-?(0|[1-9][0-9]*)\.[0-9]+"


def _reject(column: str, code: str, reason_sql: str, where: str, value: str = "") -> str:
    value_sql = value or quoted(column)
    return (
        f"SELECT _row, {literal(column)}, CAST({value_sql} AS VARCHAR), {literal(code)}, "
        f"{reason_sql} FROM _raw WHERE {where}"
    )


def _valid(col: Col) -> str:
    """SQL that is true when the (non-NULL) value of ``col`` is well formed."""
    v = quoted(col.name)
    if col.kind == "date":
        return f"(regexp_full_match({v}, '{_DATE_RE}') AND try_cast({v} AS DATE) IS NOT NULL)"
    if col.kind == "timestamp":
        return f"(regexp_full_match({v}, '{_TS_RE}') AND try_cast({v} AS TIMESTAMP) IS NOT NULL)"
    if col.kind == "int":
        return f"(regexp_full_match({v}, '{_INT_RE}') AND try_cast({v} AS INTEGER) IS NOT NULL)"
    if col.kind == "decimal":
        return (
            f"(regexp_full_match({v}, '{_DEC_RE}') AND try_cast({v} AS DECIMAL(18, 2)) IS NOT NULL)"
        )
    if col.kind == "bool":
        return f"lower({v}) IN ({', '.join(literal(x) for x in _TRUE + _FALSE)})"
    return "TRUE"


def row_checks(spec: TableSpec, company_sql: str, limit_sql: str, has_company: bool) -> list[str]:
    """One SQL query per check; each yields (row, column, value, code, reason)."""
    queries: list[str] = []
    for col in spec.columns:
        v = quoted(col.name)
        queries.append(
            _reject(
                col.name,
                codes.NUL_IN_TEXT,
                "'contains a NUL character'",
                f"{v} IS NOT NULL AND strpos(CAST({v} AS VARCHAR), chr(0)) > 0",
                value=f"replace(CAST({v} AS VARCHAR), chr(0), '\\0')",
            )
        )
        if col.required:
            queries.append(
                _reject(
                    col.name,
                    codes.REQUIRED_VALUE_MISSING,
                    "'required value is missing'",
                    f"{v} IS NULL",
                )
            )
        valid = _valid(col)
        if col.kind in ("date", "timestamp"):
            shape = (
                "write YYYY-MM-DD"
                if col.kind == "date"
                else "write YYYY-MM-DD or YYYY-MM-DD HH:MM[:SS], local time without zone"
            )
            queries.append(
                _reject(
                    col.name,
                    codes.NOT_A_DATE,
                    literal(f"not a valid {col.kind}: {shape}"),
                    f"{v} IS NOT NULL AND NOT {valid}",
                )
            )
            queries.append(
                _reject(
                    col.name,
                    codes.DATE_BEFORE_1900,
                    "'before 1900-01-01: not a plausible CRM date'",
                    f"{v} IS NOT NULL AND {valid} "
                    "AND CAST({v} AS TIMESTAMP) < TIMESTAMP '1900-01-01'".replace("{v}", v),
                )
            )
            if col.past:
                queries.append(
                    _reject(
                        col.name,
                        codes.DATE_IN_FUTURE,
                        f"'in the future (later than ' || CAST({limit_sql} AS VARCHAR) || ')'",
                        f"{v} IS NOT NULL AND {valid} AND CAST({v} AS TIMESTAMP) > {limit_sql}",
                    )
                )
        elif col.kind in ("int", "decimal", "bool"):
            what = {"int": "an integer", "decimal": "a number", "bool": "a boolean (true/false)"}
            queries.append(
                _reject(
                    col.name,
                    codes.NOT_A_NUMBER,
                    literal(f"not {what[col.kind]}"),
                    f"{v} IS NOT NULL AND NOT {valid}",
                )
            )
            if col.minimum is not None:
                op = "<=" if col.min_exclusive else "<"
                bound = f"must be {'above' if col.min_exclusive else 'at least'} {col.minimum:g}"
                cast = "INTEGER" if col.kind == "int" else "DECIMAL(18, 2)"
                queries.append(
                    _reject(
                        col.name,
                        codes.ROW_NUMBER_OUT_OF_RANGE,
                        literal(bound),
                        f"{v} IS NOT NULL AND {valid} AND CAST({v} AS {cast}) {op} {col.minimum:g}",
                    )
                )
        elif col.kind == "country":
            queries.append(
                _reject(
                    col.name,
                    codes.NOT_A_COUNTRY,
                    "'not an ISO 3166-1 alpha-2 country code'",
                    f"{v} IS NOT NULL AND upper({v}) NOT IN (SELECT code FROM _countries)",
                )
            )
        elif col.kind == "status":
            allowed = ", ".join(literal(s) for s in ORDER_STATUSES)
            queries.append(
                _reject(
                    col.name,
                    codes.ROW_VALUE_NOT_ALLOWED,
                    literal(f"must be one of {', '.join(ORDER_STATUSES)}"),
                    f"{v} IS NOT NULL AND lower({v}) NOT IN ({allowed})",
                )
            )
        elif col.kind == "list":
            queries.append(
                _reject(
                    col.name,
                    codes.MALFORMED_LIST,
                    "'a list is a;b;c, a|b|c or [a, b, c]'",
                    f"{v} IS NOT NULL AND (starts_with({v}, '[') <> ends_with({v}, ']'))",
                )
            )
        elif col.kind == "json":
            queries.append(
                _reject(
                    col.name,
                    codes.ATTRIBUTES_NOT_OBJECT,
                    "'not a JSON object'",
                    f"{v} IS NOT NULL AND (NOT json_valid({v}) "
                    f"OR json_type(CAST({v} AS JSON)) <> 'OBJECT')",
                )
            )
        if col.ref == "reps":
            queries.append(
                _reject(
                    col.name,
                    codes.UNKNOWN_REP_IN_ROW,
                    "'no such rep in this company'",
                    f"{v} IS NOT NULL AND {v} NOT IN "
                    f"(SELECT rep_id FROM reps WHERE company_id = {company_sql})",
                )
            )
        elif col.ref == "customers":
            queries.append(
                _reject(
                    col.name,
                    codes.UNKNOWN_CUSTOMER_IN_ROW,
                    "'no such customer in this company'",
                    f"{v} IS NOT NULL AND {v} NOT IN "
                    f"(SELECT customer_id FROM customers WHERE company_id = {company_sql})",
                )
            )
        if col.key:
            queries.append(
                f"SELECT r._row, {literal(col.name)}, r.{v}, {literal(codes.ID_REPEATED_IN_FILE)}, "
                f"'appears ' || d.n || ' times in the file (rows ' || d.rows || ')' "
                f"FROM _raw r JOIN (SELECT {v}, count(*) AS n, "
                f"string_agg(CAST(_row AS VARCHAR), ', ' ORDER BY _row) AS rows FROM _raw "
                f"WHERE {v} IN (SELECT {v} FROM _raw WHERE {v} IS NOT NULL GROUP BY {v} "
                f"HAVING count(*) > 1) GROUP BY {v}) d ON d.{v} = r.{v}"
            )
            queries.append(
                _reject(
                    col.name,
                    codes.ID_ALREADY_LOADED,
                    f"'already in table {spec.name}'",
                    f"{v} IN (SELECT {v} FROM {spec.name} WHERE company_id = {company_sql})",
                )
            )
    if has_company:
        queries.append(
            _reject(
                "company_id",
                codes.OTHER_COMPANY,
                f"'the load is for company ' || {company_sql}",
                f"company_id IS NOT NULL AND company_id <> {company_sql}",
            )
        )
    if spec.name == "reps":
        queries.append(
            _reject(
                "away_until",
                codes.INCONSISTENT_ROW,
                "'away_until is before away_from'",
                "try_cast(away_until AS DATE) < try_cast(away_from AS DATE)",
            )
        )
        queries.append(
            _reject(
                "left_on",
                codes.INCONSISTENT_ROW,
                "'left_on is before hired_on'",
                "try_cast(left_on AS DATE) < try_cast(hired_on AS DATE)",
            )
        )
    if spec.name == "customers":
        queries.append(
            _reject(
                "owned_since",
                codes.INCONSISTENT_ROW,
                "'owned_since given but owner_rep_id is blank'",
                "owned_since IS NOT NULL AND owner_rep_id IS NULL",
            )
        )
    if spec.name == "orders":
        queries.append(
            _reject(
                "closed_at",
                codes.CLOSED_BEFORE_PLACED,
                "'closed_at is before placed_at'",
                "try_cast(closed_at AS TIMESTAMP) < try_cast(placed_at AS TIMESTAMP)",
            )
        )
        queries.append(
            _reject(
                "status",
                codes.CLOSED_ORDER_OPEN,
                "'closed_at is given: a closed order is won or lost, not open'",
                "closed_at IS NOT NULL AND lower(status) = 'open'",
            )
        )
    if spec.name == "stage_changes":
        queries.append(
            f"SELECT r._row, 'at', r.\"at\", {literal(codes.STAGE_BEFORE_CUSTOMER)}, "
            "'before the customer was created (' || CAST(c.created_at AS VARCHAR) || ')' "
            f"FROM _raw r JOIN customers c ON c.company_id = {company_sql} "
            "AND c.customer_id = r.customer_id "
            "WHERE try_cast(r.\"at\" AS TIMESTAMP) < c.created_at"
        )
    return queries


def _attribute_value(column: str) -> str:
    """JSON of one ``attributes.NAME`` cell: a number (written as JSON writes
    numbers), true/false, or else a string."""
    v = quoted(column)
    return (
        f"CASE WHEN {v} IS NULL THEN NULL "
        f"WHEN regexp_full_match({v}, '{_JSON_INT_RE}') AND try_cast({v} AS BIGINT) IS NOT NULL "
        f"THEN to_json(CAST({v} AS BIGINT)) "
        f"WHEN regexp_full_match({v}, '{_JSON_DEC_RE}') THEN to_json(CAST({v} AS DOUBLE)) "
        f"WHEN lower({v}) IN ('true', 'false') THEN to_json(lower({v}) = 'true') "
        f"ELSE to_json({v}) END"
    )


def attribute_keys(extras: list[str]) -> dict[str, str]:
    """Parameter name -> JSON key of each ``attributes.NAME`` column."""
    return {f"attribute_{i}": e.removeprefix("attributes.") for i, e in enumerate(extras)}


def typed_select(col: Col, extras: list[str] | None = None) -> str:
    """SQL converting the checked text of ``col`` to its table type."""
    v = quoted(col.name)
    if col.kind == "date":
        return f"CAST({v} AS DATE)"
    if col.kind == "timestamp":
        if col.name == "owned_since":
            return (
                "COALESCE(CAST(owned_since AS TIMESTAMP), CASE WHEN owner_rep_id IS NOT NULL "
                "THEN CAST(created_at AS TIMESTAMP) END)"
            )
        return f"CAST({v} AS TIMESTAMP)"
    if col.kind == "int":
        return f"CAST({v} AS INTEGER)"
    if col.kind == "decimal":
        return f"CAST({v} AS DECIMAL(18, 2))"
    if col.kind == "bool":
        truthy = ", ".join(literal(x) for x in _TRUE)
        return f"COALESCE(lower({v}) IN ({truthy}), TRUE)"
    if col.kind == "country":
        return f"upper({v})"
    if col.kind == "status":
        return f"lower({v})"
    if col.kind == "json":
        if not extras:
            return f"CAST({v} AS JSON)"
        entries = ", ".join(
            f"{{'k': CAST(${key} AS VARCHAR), 'v': {_attribute_value(e)}}}"
            for key, e in zip(attribute_keys(extras), extras, strict=True)
        )
        patch = f"to_json(map_from_entries(list_filter([{entries}], lambda x: x.v IS NOT NULL)))"
        # a column wins over the same key in the attributes cell; a blank one leaves it
        merged = f"json_merge_patch(COALESCE(CAST({v} AS JSON), '{{}}'), {patch})"
        return f"NULLIF(CAST({merged} AS VARCHAR), '{{}}')::JSON"
    if col.kind == "list":
        return (
            f"CASE WHEN {v} IS NULL THEN CAST([] AS VARCHAR[]) "
            f"WHEN starts_with({v}, '[') THEN list_filter(list_transform("
            f"string_split({v}[2:-2], ','), lambda x: trim(trim(x), '\"''')), lambda x: x <> '') "
            f"ELSE list_filter(list_transform(regexp_split_to_array({v}, '[;|]'), "
            f"lambda x: trim(x)), lambda x: x <> '') END"
        )
    return v
