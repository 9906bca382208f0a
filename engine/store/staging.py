"""Reading a facts file into a staging table: format, encoding, CSV header.

Every column of the file is read as text by DuckDB's own readers (CSV as
RFC 4180 with the header's delimiter, Parquet, JSON) into a temporary
table numbered by row; files that cannot be read as they claim (a foreign
byte-order mark, a blank file, a malformed header) are refused before any
row is staged.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Literal

from highseas import codes
from highseas.errors import InvalidInputError, is_duckdb_interrupt
from highseas.store.db import scalar
from highseas.store.tables import CSV_DELIMITERS, MAX_BAD_LINE_CHARS, TableSpec
from highseas.suggestions import did_you_mean

if TYPE_CHECKING:
    import duckdb

def quoted(name: str) -> str:
    """A quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def literal(text: str) -> str:
    """A SQL string literal, for this module's own constants only (codes,
    reasons, column names of TABLES); never for data, paths or ids."""
    return "'" + text.replace("'", "''") + "'"


def run_sql(
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
            described = run_sql(con, "DESCRIBE SELECT * FROM read_parquet($path)", params)
            names = [str(r[0]) for r in described.fetchall()]
            source = "read_parquet($path)"
        else:
            described = run_sql(con, "DESCRIBE SELECT * FROM read_json($path)", params)
            names = [str(r[0]) for r in described.fetchall()]
            params["columns"] = {name: "VARCHAR" for name in names}
            source = "read_json($path, columns = $columns)"
    except duckdb.Error as error:
        raise _unreadable(path, fmt, error) from None
    return fmt, source, params, names


@contextmanager
def interrupts_as_keyboard_interrupt() -> Iterator[None]:
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


def stage_rows(
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
            selects.append(f"CAST(NULL AS VARCHAR) AS {quoted(name)}")
        else:
            selects.append(f"NULLIF(trim(CAST(#{index} AS VARCHAR)), '') AS {quoted(name)}")
    try:
        run_sql(con, f"CREATE TEMP TABLE _read AS SELECT {', '.join(selects)} FROM {source}",
                params)
    except duckdb.Error as error:
        raise _unreadable(path, fmt, error) from None
    con.execute("CREATE TEMP TABLE _bad_lines (_row BIGINT, line VARCHAR, message VARCHAR)")
    if fmt == "csv":
        # An unclosed quote reads on to the end of the file (or to DuckDB's
        # line limit): say so, and keep only the start of the "line".
        run_sql(
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
