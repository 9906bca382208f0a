"""Plan files: the decisions of a run written as JSON, JSON Lines, CSV or Parquet.

Every format is written from the plan's Arrow tables, never by building a
Python object per decision: CSV and Parquet by pyarrow's writers, JSON and
JSON Lines by DuckDB, which renders each row's text and hands it over in
record batches that are written as they come. Peak memory is the plan's
tables plus one batch, whatever the format.

What a file holds: the decisions (the changes the CRM acts on). The customers
left unassigned in a pool, with the reason each allocation gave, are only
written with ``include_unassigned=True`` (``highseas run --include-unassigned``):
on a large company they outnumber the decisions and nothing acts on them.

The JSON file is deterministic and its bytes equal ``json.dumps(payload,
indent=2, sort_keys=True, ensure_ascii=False)`` of the plan (keys sorted,
two-space indent); the rare text holding a control character that DuckDB
would escape in another spelling is written by Python's encoder instead.
A file is written to a temporary name beside the target and renamed into
place, so a reader never sees half a plan.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from highseas import codes
from highseas.errors import InvalidInputError
from highseas.nightly.plan import Plan

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

#: The columns of the CSV and Parquet files, in order.
PLAN_COLUMNS = (
    "customer_id", "action", "rule_id", "from_rep_id", "to_rep_id", "from_pool_id",
    "to_pool_id", "reason", "customer_name", "days_left", "due_on", "reminder_offset",
    "relay_round",
)
#: File suffixes a plan can be written as.
PLAN_FORMATS = (".json", ".jsonl", ".csv", ".parquet")
#: The ``action`` of an unassigned customer's row in JSON Lines, CSV and Parquet.
UNASSIGNED_ACTION = "unassigned"

_INTEGER_COLUMNS = frozenset({"days_left", "relay_round"})
#: Control characters whose JSON escape DuckDB spells in upper case (\u000B)
#: and Python in lower case (\u000b); text holding one goes through Python.
_UPPERCASE_ESCAPES = "[\x0b\x0e\x0f\x1a-\x1f]"
_BATCH_ROWS = 65_536


def check_plan_path(output: Path) -> str:
    """The format of ``output`` (its suffix), or an error before anything is planned."""
    suffix = output.suffix.lower()
    if suffix not in PLAN_FORMATS:
        raise InvalidInputError(
            f"cannot write a plan as {suffix or 'a file without suffix'}",
            code=codes.UNKNOWN_OUTPUT_SUFFIX,
            file=str(output),
            hint="use a .json, .jsonl, .csv or .parquet file name",
        )
    return suffix


def write_plan(plan: Plan, output: Path, *, include_unassigned: bool = False) -> None:
    """Write the plan's decisions (and on request its unassigned customers) to
    ``output``, in the format its suffix names."""
    suffix = check_plan_path(output)
    tmp = output.with_name(f".{output.name}.{os.getpid()}.tmp")
    try:
        if suffix in (".csv", ".parquet"):
            _write_table(plan, tmp, suffix, include_unassigned)
        else:
            with open(tmp, "w", encoding="utf-8", newline="\n") as out:
                if suffix == ".json":
                    _write_json(plan, out, include_unassigned)
                else:
                    _write_jsonl(plan, out, include_unassigned)
        tmp.replace(output)
    finally:
        tmp.unlink(missing_ok=True)


# --- CSV and Parquet -----------------------------------------------------------


def _flat_table(plan: Plan, include_unassigned: bool) -> pa.Table:
    """The decisions in :data:`PLAN_COLUMNS` (due dates as ISO text), then the
    unassigned customers as rows of action ``unassigned`` when asked for."""
    import pyarrow as pa
    import pyarrow.compute as pc

    table = plan.decision_records().table.select(list(PLAN_COLUMNS))
    table = table.set_column(
        PLAN_COLUMNS.index("due_on"), "due_on", pc.cast(table.column("due_on"), pa.string())
    )
    if not include_unassigned:
        return table
    unassigned = plan.unassigned_records().table
    rows = unassigned.num_rows
    columns: dict[str, Any] = {}
    for name in PLAN_COLUMNS:
        kind = table.schema.field(name).type
        if name in ("customer_id", "rule_id", "reason"):
            columns[name] = unassigned.column(name)
        elif name == "from_pool_id":
            columns[name] = unassigned.column("pool_id")
        elif name == "action":
            columns[name] = pa.array([UNASSIGNED_ACTION] * rows, pa.string())
        elif name == "customer_name":
            columns[name] = pa.array([""] * rows, pa.string())
        else:
            columns[name] = pa.nulls(rows, kind)
    extra = pa.table(columns, schema=table.schema)
    return pa.concat_tables([table, extra])


def _write_table(plan: Plan, path: Path, suffix: str, include_unassigned: bool) -> None:
    table = _flat_table(plan, include_unassigned)
    if suffix == ".csv":
        import pyarrow.csv as pacsv

        pacsv.write_csv(table, path)
    else:
        import pyarrow.parquet as pq

        pq.write_table(table, path)


# --- JSON and JSON Lines ---------------------------------------------------------


def _write_json(plan: Plan, out: IO[str], include_unassigned: bool) -> None:
    """The plan as one JSON object, byte for byte ``json.dumps(indent=2,
    sort_keys=True, ensure_ascii=False)`` of it."""
    head = {
        "as_of": plan.as_of.isoformat(),
        "company_id": plan.company_id,
        "counts": plan.counts(),
    }
    tail = {"ruleset_hash": plan.ruleset_hash, "ruleset_id": plan.ruleset_id}
    out.write(_object_prefix(head) + ',\n  "decisions": ')
    _write_list(out, _rendered(plan, "decisions", pretty=True))
    out.write(",\n" + _object_prefix(tail, opening=False))
    if include_unassigned:
        out.write(',\n  "unassigned": ')
        _write_list(out, _rendered(plan, "unassigned", pretty=True))
    out.write("\n}\n")


def _object_prefix(fields: dict[str, Any], *, opening: bool = True) -> str:
    """The first lines of an indented JSON object holding ``fields`` (no
    closing brace, no trailing comma)."""
    text = json.dumps(fields, indent=2, sort_keys=True, ensure_ascii=False)
    body = text[:-2]  # drop "\n}"
    return body if opening else body[2:]  # drop "{\n"


def _write_list(out: IO[str], rows: Iterator[str]) -> None:
    first = True
    for row in rows:
        out.write(("[\n" if first else ",\n") + row)
        first = False
    out.write("[]" if first else "\n  ]")


def _write_jsonl(plan: Plan, out: IO[str], include_unassigned: bool) -> None:
    """One decision per line (compact JSON, keys sorted), then one line per
    unassigned customer (action ``unassigned``) when asked for."""
    for row in _rendered(plan, "decisions", pretty=False):
        out.write(row + "\n")
    if include_unassigned:
        for row in _rendered(plan, "unassigned", pretty=False):
            out.write(row + "\n")


def _rendered(plan: Plan, kind: str, *, pretty: bool) -> Iterator[str]:
    """Each row of the plan's ``kind`` table as JSON text, in plan order."""
    import duckdb

    if kind == "decisions":
        table = plan.decision_records().table
    else:
        table = plan.unassigned_records().table
    if table.num_rows == 0:
        return
    names = sorted(table.column_names)
    if not pretty and kind == "unassigned":
        names = sorted([*names, "action"])
    con = duckdb.connect()
    try:
        con.register("plan_rows", table)
        if _needs_python(con, table):
            for row in table.to_pylist():
                yield _python_text(_iso_dates(row), pretty=pretty, unassigned=kind != "decisions")
            return
        query = f"SELECT {_row_sql(names, table.schema, pretty)} FROM plan_rows"
        reader = con.sql(query).to_arrow_reader(_BATCH_ROWS)
        for batch in reader:
            yield from batch.column(0).to_pylist()
    finally:
        con.close()


def _needs_python(con: duckdb.DuckDBPyConnection, table: pa.Table) -> bool:
    import pyarrow as pa

    texts = [f.name for f in table.schema if pa.types.is_string(f.type)]
    if not texts:
        return False
    test = " OR ".join(f"regexp_matches(coalesce(\"{n}\", ''), ?)" for n in texts)
    found = con.execute(
        f"SELECT count(*) FROM plan_rows WHERE {test}", [_UPPERCASE_ESCAPES] * len(texts)
    ).fetchall()
    return bool(found[0][0])


def _row_sql(names: list[str], schema: pa.Schema, pretty: bool) -> str:
    """A DuckDB expression rendering one row as JSON text with keys ``names``."""
    import pyarrow as pa

    parts = []
    for name in names:
        if name == "action" and "action" not in schema.names:
            value = f"'\"{UNASSIGNED_ACTION}\"'"
        elif pa.types.is_integer(schema.field(name).type):
            value = f"coalesce(CAST(\"{name}\" AS VARCHAR), 'null')"
        elif pa.types.is_date(schema.field(name).type):
            value = f"coalesce('\"' || strftime(\"{name}\", '%Y-%m-%d') || '\"', 'null')"
        else:
            value = f"coalesce(CAST(to_json(\"{name}\") AS VARCHAR), 'null')"
        parts.append(f"'\"{name}\": ' || {value}")
    if pretty:
        separator, opening, closing = ",\n      ", "    {\n      ", "\n    }"
    else:
        separator, opening, closing = ", ", "{", "}"
    body = f" || '{_sql_text(separator)}' || ".join(parts)
    return f"'{_sql_text(opening)}' || {body} || '{_sql_text(closing)}'"


def _sql_text(text: str) -> str:
    """``text`` inside a single-quoted SQL string, newlines as chr(10)."""
    return text.replace("\n", "' || chr(10) || '")


def _iso_dates(row: dict[str, Any]) -> dict[str, Any]:
    """A row as the plan file writes it: dates as ISO text."""
    return {k: v.isoformat() if isinstance(v, date) else v for k, v in row.items()}


def _python_text(row: dict[str, Any], *, pretty: bool, unassigned: bool) -> str:
    if not pretty:
        if unassigned:
            row = {**row, "action": UNASSIGNED_ACTION}
        return json.dumps(row, sort_keys=True, ensure_ascii=False)
    text = json.dumps(row, indent=2, sort_keys=True, ensure_ascii=False)
    return re.sub(r"^", "    ", text, flags=re.M)
