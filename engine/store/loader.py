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
of the header row (see :mod:`highseas.store.staging`), never sniffed from the data:
an unclosed quote is a malformed line (HS433), not a value starting with ".
The reject codes are documented in docs/data-model.md.

No text from the file, its name, the company id or the rejects path is
spliced into SQL: they are bound parameters (``$path``, ``$company``, ...);
the file's own column names never reach SQL at all (source columns are
read by position). Identifiers in the SQL are this module's constants, or
``attributes.NAME`` columns whitelisted by a pattern.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from highseas import codes
from highseas.errors import Diagnostic, InvalidInputError, RejectedDataError
from highseas.store.countries import ISO_ALPHA2
from highseas.store.db import PathLike, open_db, transaction
from highseas.store.freshness import DATED_COLUMNS, TableLoad, record_load
from highseas.store.row_checks import attribute_keys, row_checks, typed_select
from highseas.store.staging import (
    interrupts_as_keyboard_interrupt,
    literal,
    quoted,
    run_sql,
    stage_rows,
)
from highseas.store.tables import LOADABLE_TABLES, MAX_REPORTED_REJECTS, TABLES, TableSpec
from highseas.suggestions import did_you_mean

if TYPE_CHECKING:
    import duckdb

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


def _record_load(con: duckdb.DuckDBPyConnection, spec: TableSpec, company_id: str, path: Path,
                 loaded: int, good: str, extras: list[str], params: dict[str, Any],
                 load_id: str | None) -> None:
    """Record when this load ran and the newest timestamp it brought (``loads``);
    a load that added no row changes nothing, not even this table."""
    if not loaded:
        return
    dated = [c for c in spec.columns if c.name in DATED_COLUMNS.get(spec.name, ())]
    latest = None
    if dated:
        values = ", ".join(f"CAST({typed_select(c, extras)} AS TIMESTAMP)" for c in dated)
        latest = run_sql(
            con, f"SELECT max(greatest({values})) FROM _raw{good}", params
        ).fetchall()[0][0]
    record_load(con, company_id, "load", str(path), [TableLoad(spec.name, loaded, latest)],
                load_id=load_id)


def load_file(
    db_path: PathLike,
    table: str,
    file: PathLike,
    company_id: str,
    rejects_path: PathLike | None = None,
    skip_bad_rows: bool = False,
    *,
    now: datetime | None = None,
    load_id: str | None = None,
) -> LoadReport:
    """Check every row of ``file`` and append it to ``table`` for ``company_id``.

    ``now`` (default: the local clock) bounds dates: a date more than one day
    after it is rejected. With rejects, nothing is loaded and
    :class:`RejectedDataError` (exit 1) is raised, unless ``skip_bad_rows``:
    then the good rows are loaded and the report lists the bad ones. The
    rejects file (CSV: row, column, value, code, reason) is written whenever
    ``rejects_path`` is given, even when empty. The load is recorded under
    ``load_id`` (default: a new id; see highseas.store.freshness.find_load).
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
    # bound parameters of the check, rejects and insert queries (see run_sql)
    params: dict[str, Any] = {
        "company": company_id,
        "limit": limit,
        "countries": sorted(ISO_ALPHA2),
        "rejects_path": None if rejects_path is None else str(rejects_path),
    }
    company_sql = "CAST($company AS VARCHAR)"
    limit_sql = "CAST($limit AS TIMESTAMP)"

    with interrupts_as_keyboard_interrupt(), open_db(db_path) as con:
        with transaction(con) as tx:
            has_company, extras = stage_rows(con, spec, path)
            params.update(attribute_keys(extras))
            run_sql(
                con,
                "CREATE TEMP TABLE _countries AS SELECT unnest(CAST($countries AS VARCHAR[])) "
                "AS code",
                params,
            )
            checks = row_checks(spec, company_sql, limit_sql, has_company)
            checks.append(
                f"SELECT _row, '*', line, {literal(codes.MALFORMED_CSV_LINE)}, "
                "'malformed CSV line: ' || message FROM _bad_lines"
            )
            con.execute(
                'CREATE TEMP TABLE _rejects (row BIGINT, "column" VARCHAR, value VARCHAR, '
                "code VARCHAR, reason VARCHAR)"
            )
            run_sql(con, "INSERT INTO _rejects " + " UNION ALL ".join(checks), params)
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
                run_sql(
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
                inserted = run_sql(
                    con,
                    f"INSERT INTO {spec.name} (company_id, {', '.join(quoted(n) for n in names)}) "
                    f"SELECT {company_sql}, "
                    f"{', '.join(typed_select(c, extras) for c in spec.columns)} "
                    f"FROM _raw{good}",
                    params,
                ).fetchall()
                loaded = int(inserted[0][0])
                _record_load(con, spec, company_id, path, loaded, good, extras, params,
                             load_id)
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
