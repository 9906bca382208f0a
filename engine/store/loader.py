"""Loading facts files (CSV, Parquet, JSON) into the store, row-checked.

The file is read with DuckDB's own readers, every column as text, into a
temporary table; each check is one set-based SQL query that yields rejects
``(row, column, value, code, reason)``. Nothing is parsed row by row in
Python, so a million customers load in seconds. The whole load is one
transaction: with rejects (and no ``skip_bad_rows``) or on any error or
Ctrl-C, the table is left exactly as it was.

Rows are numbered 1, 2, ... in file order, the header not counted (in a CSV
file without line breaks inside quoted values or blank lines before the
header, row N is on line N+1). CSV is read as RFC 4180 with the delimiter
of the header row (see :func:`_csv_header`), never sniffed from the data:
an unclosed quote is a malformed line (HS433), not a value starting with ".
The reject codes are documented in docs/data-model.md.

No text from the file, its name, the company id or the rejects path is
spliced into SQL: they are bound parameters (``$path``, ``$company``, ...);
the file's own column names never reach SQL at all (source columns are
read by position). Identifiers in the SQL are this module's constants, or
``attributes.NAME`` columns whitelisted by a pattern.
"""

from __future__ import annotations

import csv
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Literal

from highseas import codes
from highseas.errors import Diagnostic, InvalidInputError, RejectedDataError, is_duckdb_interrupt
from highseas.store.countries import ISO_ALPHA2
from highseas.store.db import PathLike, open_db, scalar, transaction
from highseas.store.freshness import DATED_COLUMNS, TableLoad, record_load
from highseas.suggestions import did_you_mean

if TYPE_CHECKING:
    import duckdb

Kind = Literal[
    "text", "date", "timestamp", "bool", "int", "decimal", "list", "json", "country", "status"
]

#: A company id: the same form as ids in rulesets (HS205 there).
COMPANY_ID_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")


def check_company_id(company_id: str, kind: str = "company") -> None:
    """Refuse (HS406) a ``company_id`` (or a pool id: ``kind="pool"``) that
    has not the form of ids in rulesets (so a ruleset can name it, and no SQL
    sees anything else)."""
    if not COMPANY_ID_RE.fullmatch(company_id):
        raise InvalidInputError(
            f"{company_id!r} is not a valid {kind} id",
            code=codes.INVALID_COMPANY_ID,
            hint=f"{kind} ids are written as in rulesets: lower-case letters, digits, "
            "'-' and '_' (at most 64 characters), e.g. acme-trading",
        )


#: CSV delimiters tried on the header row (the one splitting it most wins).
CSV_DELIMITERS = (",", ";", "\t", "|")

#: Longest malformed CSV line kept as a reject's value (an unclosed quote
#: can swallow the rest of the file).
MAX_BAD_LINE_CHARS = 300

#: How many rejects a :class:`LoadReport` keeps in memory (the file has all).
MAX_REPORTED_REJECTS = 1000

ORDER_STATUSES = ("open", "won", "lost")
_TRUE = ("true", "t", "1", "yes", "y")
_FALSE = ("false", "f", "0", "no", "n")
_DATE_RE = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
_TS_RE = r"[0-9]{4}-[0-9]{2}-[0-9]{2}([ T][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?)?"
_INT_RE = r"[+-]?[0-9]+"
_DEC_RE = r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)"
# attributes.NAME cells: numbers as JSON writes them (a leading zero keeps "007" a string)
_JSON_INT_RE = r"-?(0|[1-9][0-9]*)"
_JSON_DEC_RE = r"-?(0|[1-9][0-9]*)\.[0-9]+"


@dataclass(frozen=True)
class Col:
    """One loadable column: how it is checked and typed."""

    name: str
    kind: Kind = "text"
    required: bool = False
    ref: Literal["reps", "customers"] | None = None
    past: bool = False  # must not be more than a day in the future
    key: bool = False  # unique within the file and the table (when given)
    minimum: float | None = None  # numbers: smallest allowed value
    min_exclusive: bool = False


@dataclass(frozen=True)
class TableSpec:
    """The loadable columns of a fact table."""

    name: str
    columns: tuple[Col, ...]

    @property
    def key(self) -> Col | None:
        return next((c for c in self.columns if c.key), None)


TABLES: dict[str, TableSpec] = {
    "reps": TableSpec(
        "reps",
        (
            Col("rep_id", required=True, key=True),
            Col("name", required=True),
            Col("hired_on", "date", required=True, past=True),
            Col("tier"),
            Col("regions", "list"),
            Col("team"),
            Col("active", "bool"),
            Col("away_from", "date"),
            Col("away_until", "date"),
            Col("weight", "int", minimum=0),  # 0: receives nothing (weighted)
            Col("left_on", "date"),
        ),
    ),
    "customers": TableSpec(
        "customers",
        (
            Col("customer_id", required=True, key=True),
            Col("name", required=True),
            Col("country", "country"),
            Col("region"),
            Col("source"),
            Col("stage"),
            Col("tags", "list"),
            Col("level", "int"),
            Col("attributes", "json"),
            Col("created_at", "timestamp", required=True, past=True),
            Col("owner_rep_id", ref="reps"),
            Col("pool_id"),
            Col("owned_since", "timestamp", past=True),
        ),
    ),
    "activities": TableSpec(
        "activities",
        (
            Col("activity_id", key=True),
            Col("customer_id", required=True, ref="customers"),
            Col("rep_id", ref="reps"),
            Col("kind", required=True),
            Col("at", "timestamp", required=True, past=True),
        ),
    ),
    "orders": TableSpec(
        "orders",
        (
            Col("order_id", key=True),
            Col("customer_id", required=True, ref="customers"),
            Col("rep_id", ref="reps"),
            Col("placed_at", "timestamp", required=True, past=True),
            Col("amount", "decimal", minimum=0),
            Col("status", "status", required=True),
            Col("closed_at", "timestamp", past=True),
        ),
    ),
    "stage_changes": TableSpec(
        "stage_changes",
        (
            Col("customer_id", required=True, ref="customers"),
            Col("stage", required=True),
            Col("at", "timestamp", required=True, past=True),
        ),
    ),
}

LOADABLE_TABLES = tuple(TABLES)


@dataclass(frozen=True)
class Reject:
    """One problem with one value of one row."""

    row: int
    column: str
    value: str | None
    code: str
    reason: str

    def to_diagnostic(self, file: str) -> Diagnostic:
        shown = "" if self.value is None else f" (value {self.value!r})"
        return Diagnostic(
            code=self.code, message=f"{self.column}: {self.reason}{shown}", file=file, row=self.row
        )


@dataclass(frozen=True)
class LoadReport:
    """What a load did. ``rejects`` holds at most MAX_REPORTED_REJECTS items;
    ``reject_count`` counts them all; ``rows_rejected`` counts distinct rows."""

    table: str
    file: str
    company_id: str
    rows_read: int
    rows_loaded: int
    rows_rejected: int
    reject_count: int
    rejects: tuple[Reject, ...] = field(default_factory=tuple)
    rejects_path: str | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.reject_count == 0

    def diagnostics(self, limit: int = 20) -> list[Diagnostic]:
        """Up to ``limit`` rejects as diagnostics, then a summary line."""
        items = [r.to_diagnostic(self.file) for r in self.rejects[:limit]]
        if self.reject_count > limit:
            where = f" in {self.rejects_path}" if self.rejects_path else ""
            items.append(
                Diagnostic(
                    code=codes.ROWS_REJECTED,
                    message=f"... and {self.reject_count - limit} more problems{where}",
                    file=self.file,
                )
            )
        return items

    def summary(self) -> str:
        """One human line: rows read, loaded, rejected."""
        text = (
            f"{self.table}: read {self.rows_read} rows from {self.file}, "
            f"loaded {self.rows_loaded}, rejected {self.rows_rejected}"
        )
        if self.rejects_path:
            text += f" (rejects in {self.rejects_path})"
        return text + f" in {self.seconds:.2f}s"


def _q(name: str) -> str:
    """A quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def _lit(text: str) -> str:
    """A SQL string literal, for this module's own constants only (codes,
    reasons, column names of TABLES); never for data, paths or ids."""
    return "'" + text.replace("'", "''") + "'"


def _run(
    con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any] | None = None
) -> duckdb.DuckDBPyConnection:
    """Execute ``sql`` with those of ``params`` it names as ``$name``."""
    used = {k: v for k, v in (params or {}).items() if re.search(rf"\${k}\b", sql)}
    return con.execute(sql, used) if used else con.execute(sql)


def _file_format(path: Path) -> Literal["csv", "parquet", "json"]:
    suffix = path.suffix.lower()
    if suffix in (".csv", ".tsv", ".txt"):
        return "csv"
    if suffix in (".parquet", ".pq"):
        return "parquet"
    if suffix in (".json", ".ndjson", ".jsonl"):
        return "json"
    raise InvalidInputError(
        f"cannot tell the format of {path} from its extension {suffix or '(none)'}",
        code=codes.FACTS_FILE_UNREADABLE,
        file=str(path),
        hint="use .csv, .parquet or .json",
    )


#: Byte-order marks of text encodings DuckDB's readers do not decode.
_FOREIGN_BOMS = (
    (b"\xff\xfe\x00\x00", "UTF-32"), (b"\x00\x00\xfe\xff", "UTF-32"),
    (b"\xff\xfe", "UTF-16"), (b"\xfe\xff", "UTF-16"),
)


def _check_text_encoding(path: Path, fmt: str) -> None:
    """A CSV or JSON file saved as UTF-16 or UTF-32 (Excel's "Unicode text",
    for one) is refused with that reason, instead of the garbled column
    names its bytes would read as."""
    try:
        with path.open("rb") as handle:
            head = handle.read(4096)
    except OSError:
        return  # the reader reports it
    encoding = next((name for bom, name in _FOREIGN_BOMS if head.startswith(bom)), None)
    if encoding is None and b"\x00" in head and head.count(b"\x00") * 4 >= len(head):
        encoding = "UTF-16 or UTF-32 (no byte-order mark)"
    if encoding is not None:
        raise InvalidInputError(
            f"cannot read {path} as {fmt.upper()}: the file is encoded as {encoding}",
            code=codes.FACTS_FILE_UNREADABLE,
            file=str(path),
            hint="save it as UTF-8 (in Excel: Save As > CSV UTF-8)",
        )


def _check_not_blank(path: Path) -> None:
    """A file of nothing but whitespace (after a byte-order mark) is empty."""
    with path.open("rb") as handle:
        chunk = handle.read(1 << 16).removeprefix(b"\xef\xbb\xbf")
        while chunk:
            if chunk.strip():
                return
            chunk = handle.read(1 << 16)
    raise InvalidInputError(
        f"{path} is empty (only blank lines or spaces, not even a header row)",
        code=codes.FACTS_FILE_UNREADABLE,
        file=str(path),
    )


def _csv_header(path: Path) -> tuple[str, list[str], int]:
    """The delimiter (of CSV_DELIMITERS, the one that splits the header row
    into the most columns), the column names of a CSV file, and how many
    blank lines precede its header row."""
    found: list[tuple[str, list[str]]] = []
    problem: Exception | None = None
    blank = 0

    def lines(handle: BinaryIO) -> Iterator[str]:
        """Lines decoded one by one (a bad byte further down is the reader's
        business: HS433 on its row), from the first one that is not blank."""
        nonlocal blank
        blank, encoding, started = 0, "utf-8-sig", False
        while raw := handle.readline(1 << 20):
            line = raw.decode(encoding)
            encoding = "utf-8"
            if not started and not line.strip():
                blank += 1
                continue
            started = True
            yield line

    with path.open("rb") as handle:
        for delimiter in CSV_DELIMITERS:
            handle.seek(0)
            try:
                header = next(csv.reader(lines(handle), delimiter=delimiter, strict=True), [])
            except csv.Error as error:  # e.g. "a";"b" split at commas
                problem = problem or error
                continue
            except UnicodeDecodeError as error:
                problem = error
                break
            found.append((delimiter, header))
    if not found or isinstance(problem, UnicodeDecodeError):
        raise InvalidInputError(
            f"cannot read the header row of {path} as CSV: {problem}",
            code=codes.FACTS_FILE_UNREADABLE,
            file=str(path),
            hint="the first line names the columns, separated by commas, in UTF-8",
        )
    delimiter, names = max(found, key=lambda item: len(item[1]))  # the first of equals
    if any(re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", name) for name in names):
        raise InvalidInputError(
            f"cannot read {path} as CSV: its header row has control characters "
            "(not a text file?)",
            code=codes.FACTS_FILE_UNREADABLE,
            file=str(path),
        )
    return delimiter, names, blank


def _source(
    con: duckdb.DuckDBPyConnection, path: Path
) -> tuple[str, str, dict[str, Any], list[str]]:
    """The format, a table function reading ``path`` (every column as text
    for CSV and JSON), its bound parameters, and the file's column names in
    file order: the SQL refers to column i as ``#i`` (1-based), never by
    its name."""
    import duckdb

    fmt = _file_format(path)
    if fmt in ("csv", "json"):
        _check_text_encoding(path, fmt)
        _check_not_blank(path)
    params: dict[str, Any] = {"path": str(path)}
    try:
        if fmt == "csv":
            # RFC 4180 quoting, always: a quoted value starts and ends with ",
            # "" inside it is one "; an unclosed quote is a malformed line
            # (HS433), never a value starting with ". No dialect sniffing.
            delimiter, names, blank = _csv_header(path)
            params["delim"] = delimiter
            params["skip"] = blank
            params["columns"] = {f"c{i}": "VARCHAR" for i in range(len(names))}
            source = (
                "read_csv($path, skip = $skip, header = true, auto_detect = false, "
                "delim = $delim, "
                "quote = '\"', escape = '\"', columns = $columns, strict_mode = true, "
                "store_rejects = true, rejects_table = '_csv_rejects', "
                "rejects_scan = '_csv_scans')"
            )
        elif fmt == "parquet":
            described = _run(con, "DESCRIBE SELECT * FROM read_parquet($path)", params)
            names = [str(r[0]) for r in described.fetchall()]
            source = "read_parquet($path)"
        else:
            described = _run(con, "DESCRIBE SELECT * FROM read_json($path)", params)
            names = [str(r[0]) for r in described.fetchall()]
            params["columns"] = {name: "VARCHAR" for name in names}
            source = "read_json($path, columns = $columns)"
    except duckdb.Error as error:
        raise _unreadable(path, fmt, error) from None
    return fmt, source, params, names


@contextmanager
def _interrupts_as_keyboard_interrupt() -> Iterator[None]:
    """Re-raise DuckDB's interrupt errors as KeyboardInterrupt."""
    import duckdb

    try:
        yield
    except (RuntimeError, duckdb.Error) as error:
        if is_duckdb_interrupt(error):
            raise KeyboardInterrupt from None
        raise


def _unreadable(path: Path, fmt: str, error: duckdb.Error) -> InvalidInputError:
    if is_duckdb_interrupt(error):
        raise KeyboardInterrupt from None
    return InvalidInputError(
        f"cannot read {path} as {fmt.upper()}: {str(error).splitlines()[0]}",
        code=codes.FACTS_FILE_UNREADABLE,
        file=str(path),
    )


def _stage_rows(
    con: duckdb.DuckDBPyConnection, spec: TableSpec, path: Path
) -> tuple[bool, list[str]]:
    """Read the file into ``_raw(_row, <spec columns...>, company_id, ...)``:
    trimmed text, blank as NULL, file row numbers; malformed CSV lines into
    ``_bad_lines``. Returns whether the file has a company_id column, and
    its custom attribute columns (customers: ``attributes.NAME``)."""
    import duckdb

    fmt, source, params, file_columns = _source(con, path)
    by_lower: dict[str, int] = {}  # name -> 1-based position of its column
    for position, column in enumerate(file_columns, start=1):
        name = column.strip().lower()
        if name in by_lower and name:
            raise InvalidInputError(
                f"column {name!r} appears twice in the header row (columns "
                f"{by_lower[name]} and {position})",
                code=codes.UNKNOWN_COLUMN,
                file=str(path),
            )
        by_lower.setdefault(name, position)
    known = {c.name for c in spec.columns} | {"company_id"}
    extras = [
        c
        for c in by_lower
        if spec.name == "customers" and re.fullmatch(r"attributes\.[a-z_][a-z0-9_]*", c)
    ]
    unknown = [c for c in by_lower if c not in known and c not in extras]
    if unknown:
        raise InvalidInputError(
            f"column {by_lower[unknown[0]]} has no name in the header row"
            if not unknown[0]
            else f"unknown column {unknown[0]!r} for table {spec.name}",
            code=codes.UNKNOWN_COLUMN,
            file=str(path),
            hint=did_you_mean(unknown[0], sorted(known))
            or f"columns of {spec.name}: {', '.join(c.name for c in spec.columns)}",
        )
    missing = [c.name for c in spec.columns if c.required and c.name not in by_lower]
    if missing:
        raise InvalidInputError(
            f"required column(s) missing from {spec.name} file: {', '.join(missing)}",
            code=codes.REQUIRED_COLUMN_MISSING,
            file=str(path),
        )
    selects = []
    for name in [c.name for c in spec.columns] + ["company_id", *extras]:
        index = by_lower.get(name)
        if index is None:
            selects.append(f"CAST(NULL AS VARCHAR) AS {_q(name)}")
        else:
            selects.append(f"NULLIF(trim(CAST(#{index} AS VARCHAR)), '') AS {_q(name)}")
    try:
        _run(con, f"CREATE TEMP TABLE _read AS SELECT {', '.join(selects)} FROM {source}", params)
    except duckdb.Error as error:
        raise _unreadable(path, fmt, error) from None
    con.execute("CREATE TEMP TABLE _bad_lines (_row BIGINT, line VARCHAR, message VARCHAR)")
    if fmt == "csv":
        # An unclosed quote reads on to the end of the file (or to DuckDB's
        # line limit): say so, and keep only the start of the "line".
        _run(
            con,
            "INSERT INTO _bad_lines SELECT line - 1 - $skip, "
            f"CASE WHEN length(l) > {MAX_BAD_LINE_CHARS} "
            f"THEN left(l, {MAX_BAD_LINE_CHARS}) || ' ...' ELSE l END, m FROM ("
            "SELECT line, arg_min(csv_line, coalesce(column_idx, 0)) AS l, "
            "arg_min(CASE WHEN error_type = 'UNQUOTED VALUE' THEN "
            "'a quoted value is not closed, or text follows its closing quote "
            "(inside quotes, write \" as \"\"); an unclosed quote runs on to the end "
            "of the file' ELSE error_message END, "
            "coalesce(column_idx, 0)) AS m "
            "FROM _csv_rejects GROUP BY line)",
            params,
        )
    # Row numbers. _read keeps file order; its row ids are normally one
    # contiguous run, so the number is rowid - first + 1 (no sort needed).
    first, last, count = con.execute(
        "SELECT min(rowid), max(rowid), count(*) FROM _read"
    ).fetchall()[0]
    contiguous = count == 0 or last - first + 1 == count
    ordinal = f"(rowid - {int(first or 0)} + 1)" if contiguous else "_ordinal"
    # Rows rejected by the CSV reader are missing from _read: number the good
    # rows around them. thresholds t_j = r_j - j; row(g) = g + #{j: t_j < g}.
    con.execute(
        "CREATE TEMP TABLE _thr AS SELECT _row - row_number() OVER (ORDER BY _row) AS t "
        "FROM _bad_lines"
    )
    if scalar(con, "SELECT count(*) FROM _thr") or not contiguous:
        con.execute(
            "CREATE TEMP TABLE _raw AS SELECT _ordinal + (SELECT count(*) FROM _thr "
            "WHERE t < _ordinal) AS _row, * EXCLUDE (_ordinal) FROM "
            "(SELECT row_number() OVER (ORDER BY rowid) AS _ordinal, * FROM _read)"
        )
    else:
        con.execute(f"CREATE TEMP VIEW _raw AS SELECT {ordinal} AS _row, * FROM _read")
    return "company_id" in by_lower, extras


def _reject(column: str, code: str, reason_sql: str, where: str, value: str = "") -> str:
    value_sql = value or _q(column)
    return (
        f"SELECT _row, {_lit(column)}, CAST({value_sql} AS VARCHAR), {_lit(code)}, "
        f"{reason_sql} FROM _raw WHERE {where}"
    )


def _valid(col: Col) -> str:
    """SQL that is true when the (non-NULL) value of ``col`` is well formed."""
    v = _q(col.name)
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
        return f"lower({v}) IN ({', '.join(_lit(x) for x in _TRUE + _FALSE)})"
    return "TRUE"


def _checks(spec: TableSpec, company_sql: str, limit_sql: str, has_company: bool) -> list[str]:
    """One SQL query per check; each yields (row, column, value, code, reason)."""
    queries: list[str] = []
    for col in spec.columns:
        v = _q(col.name)
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
                    _lit(f"not a valid {col.kind}: {shape}"),
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
                    _lit(f"not {what[col.kind]}"),
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
                        _lit(bound),
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
            allowed = ", ".join(_lit(s) for s in ORDER_STATUSES)
            queries.append(
                _reject(
                    col.name,
                    codes.ROW_VALUE_NOT_ALLOWED,
                    _lit(f"must be one of {', '.join(ORDER_STATUSES)}"),
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
                f"SELECT r._row, {_lit(col.name)}, r.{v}, {_lit(codes.ID_REPEATED_IN_FILE)}, "
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
            f"SELECT r._row, 'at', r.\"at\", {_lit(codes.STAGE_BEFORE_CUSTOMER)}, "
            "'before the customer was created (' || CAST(c.created_at AS VARCHAR) || ')' "
            f"FROM _raw r JOIN customers c ON c.company_id = {company_sql} "
            "AND c.customer_id = r.customer_id "
            "WHERE try_cast(r.\"at\" AS TIMESTAMP) < c.created_at"
        )
    return queries


def _attribute_value(column: str) -> str:
    """JSON of one ``attributes.NAME`` cell: a number (written as JSON writes
    numbers), true/false, or else a string."""
    v = _q(column)
    return (
        f"CASE WHEN {v} IS NULL THEN NULL "
        f"WHEN regexp_full_match({v}, '{_JSON_INT_RE}') AND try_cast({v} AS BIGINT) IS NOT NULL "
        f"THEN to_json(CAST({v} AS BIGINT)) "
        f"WHEN regexp_full_match({v}, '{_JSON_DEC_RE}') THEN to_json(CAST({v} AS DOUBLE)) "
        f"WHEN lower({v}) IN ('true', 'false') THEN to_json(lower({v}) = 'true') "
        f"ELSE to_json({v}) END"
    )


def _attribute_keys(extras: list[str]) -> dict[str, str]:
    """Parameter name -> JSON key of each ``attributes.NAME`` column."""
    return {f"attribute_{i}": e.removeprefix("attributes.") for i, e in enumerate(extras)}


def _typed(col: Col, extras: list[str] | None = None) -> str:
    """SQL converting the checked text of ``col`` to its table type."""
    v = _q(col.name)
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
        truthy = ", ".join(_lit(x) for x in _TRUE)
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
            for key, e in zip(_attribute_keys(extras), extras, strict=True)
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


def _record_load(con: duckdb.DuckDBPyConnection, spec: TableSpec, company_id: str, path: Path,
                 loaded: int, good: str, extras: list[str], params: dict[str, Any]) -> None:
    """Record when this load ran and the newest timestamp it brought (``loads``);
    a load that added no row changes nothing, not even this table."""
    if not loaded:
        return
    dated = [c for c in spec.columns if c.name in DATED_COLUMNS.get(spec.name, ())]
    latest = None
    if dated:
        values = ", ".join(f"CAST({_typed(c, extras)} AS TIMESTAMP)" for c in dated)
        latest = _run(
            con, f"SELECT max(greatest({values})) FROM _raw{good}", params
        ).fetchall()[0][0]
    record_load(con, company_id, "load", str(path), [TableLoad(spec.name, loaded, latest)])


def load_file(
    db_path: PathLike,
    table: str,
    file: PathLike,
    company_id: str,
    rejects_path: PathLike | None = None,
    skip_bad_rows: bool = False,
    *,
    now: datetime | None = None,
) -> LoadReport:
    """Check every row of ``file`` and append it to ``table`` for ``company_id``.

    ``now`` (default: the local clock) bounds dates: a date more than one day
    after it is rejected. With rejects, nothing is loaded and
    :class:`RejectedDataError` (exit 1) is raised, unless ``skip_bad_rows``:
    then the good rows are loaded and the report lists the bad ones. The
    rejects file (CSV: row, column, value, code, reason) is written whenever
    ``rejects_path`` is given, even when empty.
    """
    started = time.perf_counter()
    spec = TABLES.get(table)
    if spec is None:
        raise InvalidInputError(
            f"cannot load table {table!r}",
            code=codes.UNKNOWN_TABLE,
            hint=did_you_mean(table, LOADABLE_TABLES)
            or f"loadable tables: {', '.join(LOADABLE_TABLES)}",
        )
    if not company_id:
        raise InvalidInputError(
            "a company id is required to load facts", code=codes.COMPANY_NOT_GIVEN
        )
    check_company_id(company_id)
    path = Path(file)
    if not path.is_file():
        raise InvalidInputError(
            f"no such file: {path}", code=codes.FACTS_FILE_UNREADABLE, file=str(path)
        )
    if path.stat().st_size == 0:
        raise InvalidInputError(
            f"{path} is empty (not even a header row)",
            code=codes.FACTS_FILE_UNREADABLE,
            file=str(path),
        )
    if rejects_path is not None and not Path(rejects_path).parent.is_dir():
        raise InvalidInputError(
            f"cannot write the rejects file {rejects_path}: its folder does not exist",
            code=codes.REJECTS_FILE_UNWRITABLE,
            file=str(rejects_path),
        )
    limit = (now or datetime.now()).replace(tzinfo=None, microsecond=0) + timedelta(days=1)
    # bound parameters of the check, rejects and insert queries (see _run)
    params: dict[str, Any] = {
        "company": company_id,
        "limit": limit,
        "countries": sorted(ISO_ALPHA2),
        "rejects_path": None if rejects_path is None else str(rejects_path),
    }
    company_sql = "CAST($company AS VARCHAR)"
    limit_sql = "CAST($limit AS TIMESTAMP)"

    with _interrupts_as_keyboard_interrupt(), open_db(db_path) as con:
        with transaction(con) as tx:
            has_company, extras = _stage_rows(con, spec, path)
            params.update(_attribute_keys(extras))
            _run(
                con,
                "CREATE TEMP TABLE _countries AS SELECT unnest(CAST($countries AS VARCHAR[])) "
                "AS code",
                params,
            )
            checks = _checks(spec, company_sql, limit_sql, has_company)
            checks.append(
                f"SELECT _row, '*', line, {_lit(codes.MALFORMED_CSV_LINE)}, "
                "'malformed CSV line: ' || message FROM _bad_lines"
            )
            con.execute(
                'CREATE TEMP TABLE _rejects (row BIGINT, "column" VARCHAR, value VARCHAR, '
                "code VARCHAR, reason VARCHAR)"
            )
            _run(con, "INSERT INTO _rejects " + " UNION ALL ".join(checks), params)
            rows_read, reject_count, rows_rejected = con.execute(
                "SELECT (SELECT count(*) FROM _raw) + (SELECT count(*) FROM _bad_lines), "
                "count(*), count(DISTINCT row) FROM _rejects"
            ).fetchall()[0]
            rejects = tuple(
                Reject(int(r[0]), str(r[1]), r[2], str(r[3]), str(r[4]))
                for r in con.execute(
                    'SELECT * FROM _rejects ORDER BY row, "column", code LIMIT ?',
                    [MAX_REPORTED_REJECTS],
                ).fetchall()
            )
            if rejects_path is not None:
                _run(
                    con,
                    'COPY (SELECT row, "column", value, code, reason FROM _rejects '
                    'ORDER BY row, "column", code) TO $rejects_path (FORMAT csv, HEADER true)',
                    params,
                )
            loaded = 0
            if reject_count and not skip_bad_rows:
                tx.rollback()
            else:
                names = [c.name for c in spec.columns]
                good = " WHERE _row NOT IN (SELECT row FROM _rejects)" if reject_count else ""
                inserted = _run(
                    con,
                    f"INSERT INTO {spec.name} (company_id, {', '.join(_q(n) for n in names)}) "
                    f"SELECT {company_sql}, {', '.join(_typed(c, extras) for c in spec.columns)} "
                    f"FROM _raw{good}",
                    params,
                ).fetchall()
                loaded = int(inserted[0][0])
                _record_load(con, spec, company_id, path, loaded, good, extras, params)
    report = LoadReport(
        table=spec.name,
        file=str(path),
        company_id=company_id,
        rows_read=int(rows_read),
        rows_loaded=loaded,
        rows_rejected=int(rows_rejected),
        reject_count=int(reject_count),
        rejects=rejects,
        rejects_path=None if rejects_path is None else str(rejects_path),
        seconds=time.perf_counter() - started,
    )
    if reject_count and not skip_bad_rows:
        error = RejectedDataError(
            [
                *report.diagnostics(),
                Diagnostic(
                    code=codes.ROWS_REJECTED,
                    message=f"{rows_rejected} of {rows_read} rows rejected; nothing was loaded "
                    f"into {spec.name}",
                    file=str(path),
                    hint="fix the rows, or load the good ones with --skip-bad-rows",
                ),
            ]
        )
        error.report = report  # type: ignore[attr-defined]
        raise error
    return report
