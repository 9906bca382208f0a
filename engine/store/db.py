"""Opening the facts store: creation, schema versions, locks.

A highseas database is a DuckDB file holding the tables of
:mod:`highseas.store.ddl` and a ``schema_version`` table. :func:`connect`
checks the version on every open: an older file is upgraded (read-write) or
refused (read-only), a newer one or a file that is not a highseas database is
refused with a clear :class:`~highseas.errors.InvalidInputError`. DuckDB lets
one process write a file at a time; its lock error becomes
:class:`~highseas.errors.BusyError`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from highseas import codes
from highseas.errors import BusyError, InvalidInputError
from highseas.store.ddl import MIGRATIONS, SCHEMA_VERSION

if TYPE_CHECKING:
    import duckdb

PathLike = str | os.PathLike[str]

_LOCK_PID = re.compile(r"\(PID (\d+)\)")


def _raw_connect(path: Path, read_only: bool) -> duckdb.DuckDBPyConnection:
    """``duckdb.connect`` with DuckDB's IO errors turned into highseas errors."""
    import duckdb

    try:
        con = duckdb.connect(str(path), read_only=read_only)
    except duckdb.ConnectionException as error:
        # this process already has the file open with the other read_only mode
        raise BusyError(
            f"database {path} is already open in this process "
            f"{'read-write' if read_only else 'read-only'}: {error}",
            code=codes.DATABASE_BUSY,
            file=str(path),
            hint="close the other connection first (use highseas.store.db.open_db)",
        ) from None
    except duckdb.IOException as error:
        text = str(error)
        if "Could not set lock" in text or "Conflicting lock" in text:
            match = _LOCK_PID.search(text)
            holder = f" (process {match.group(1)})" if match else ""
            raise BusyError(
                f"database {path} is in use by another process{holder}",
                code=codes.DATABASE_BUSY,
                file=str(path),
                hint="DuckDB allows one writing process per file; wait for the other "
                "highseas command to finish and retry",
            ) from None
        if "not a valid DuckDB database" in text:
            raise InvalidInputError(
                f"{path} is not a highseas database (not a DuckDB file)",
                code=codes.NOT_A_DATABASE,
                file=str(path),
                hint="use a file made by 'highseas db init', or a new file name; "
                "highseas never overwrites other files",
            ) from None
        raise InvalidInputError(
            f"cannot open database {path}: {text}", code=codes.DATABASE_MISSING, file=str(path)
        ) from None
    con.execute("SET enable_progress_bar = false")  # never draw on a command's stdout
    return con


def scalar(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> Any:
    """The first value of the first row of ``sql`` (None without rows).

    Fetches the whole result: DuckDB 2 refuses further work on a connection
    whose last result was not read to the end.
    """
    rows = con.execute(sql, params or []).fetchall()
    return rows[0][0] if rows else None


def _tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    rows = con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'"
    ).fetchall()
    return {str(r[0]) for r in rows}


def schema_version(con: duckdb.DuckDBPyConnection) -> int | None:
    """The schema version recorded in the open file; None if it has no
    ``schema_version`` table (an empty DuckDB file or a foreign one)."""
    if "schema_version" not in _tables(con):
        return None
    value = scalar(con, "SELECT max(version) FROM schema_version")
    return int(value) if value is not None else 0


def stored_schema_version(path: PathLike) -> int | None:
    """The schema version the file at ``path`` records, read without checking
    or upgrading it; None for a DuckDB file without one."""
    con = _raw_connect(Path(path), read_only=True)
    try:
        return schema_version(con)
    finally:
        con.close()


def _migrate(con: duckdb.DuckDBPyConnection, current: int) -> None:
    """Apply migrations ``current+1 .. SCHEMA_VERSION`` in one transaction."""
    with transaction(con):
        for version in range(current + 1, SCHEMA_VERSION + 1):
            con.execute(MIGRATIONS[version - 1])
            con.execute(
                "INSERT INTO schema_version VALUES (?, CAST(now() AS TIMESTAMP))", [version]
            )


def _check_version(
    con: duckdb.DuckDBPyConnection, path: Path, read_only: bool, *, allow_empty: bool
) -> None:
    version = schema_version(con)
    if version is None:
        if allow_empty and not _tables(con) and not read_only:
            _migrate(con, 0)
            return
        raise InvalidInputError(
            f"{path} is a DuckDB file but not a highseas database (no schema_version table)",
            code=codes.NOT_A_DATABASE,
            file=str(path),
            hint="use a file created by: highseas db init DB",
        )
    if version > SCHEMA_VERSION:
        raise InvalidInputError(
            f"{path} has schema version {version}, newer than this highseas "
            f"understands ({SCHEMA_VERSION})",
            code=codes.DATABASE_TOO_NEW,
            file=str(path),
            hint="upgrade highseas; an older version must not misread a newer file",
        )
    if version < SCHEMA_VERSION:
        if read_only:
            raise InvalidInputError(
                f"{path} has schema version {version}; this highseas needs "
                f"{SCHEMA_VERSION} and cannot upgrade a file opened read-only",
                code=codes.DATABASE_TOO_OLD,
                file=str(path),
                hint="upgrade it once with: highseas db init DB",
            )
        _migrate(con, version)


def init_db(path: PathLike) -> None:
    """Create a highseas database at ``path`` (or upgrade an existing one).

    Idempotent on a current file. Refuses a file that is not a highseas
    database, or one newer than this code.
    """
    target = Path(path)
    if target.parent and not target.parent.exists():
        raise InvalidInputError(
            f"folder {target.parent} does not exist", code=codes.DATABASE_MISSING, file=str(target)
        )
    if target.exists() and target.stat().st_size == 0:
        target.unlink()  # an empty file (e.g. from mktemp) is not a database yet
    con = _raw_connect(target, read_only=False)
    try:
        _check_version(con, target, read_only=False, allow_empty=True)
        con.execute("CHECKPOINT")
    finally:
        con.close()


def connect(path: PathLike, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open an existing highseas database, checking its schema version.

    The caller closes the connection; prefer :func:`open_db`, which does.
    """
    target = Path(path)
    if not target.exists():
        raise InvalidInputError(
            f"database {target} does not exist",
            code=codes.DATABASE_MISSING,
            file=str(target),
            hint="create it with 'highseas db init DB' and load facts, or run 'highseas demo'",
        )
    con = _raw_connect(target, read_only=read_only)
    try:
        _check_version(con, target, read_only, allow_empty=False)
    except BaseException:
        con.close()
        raise
    return con


@contextmanager
def open_db(path: PathLike, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    """``with open_db(path) as con:`` -- :func:`connect`, closed on exit."""
    con = connect(path, read_only=read_only)
    try:
        yield con
    finally:
        con.close()


class Transaction:
    """An open transaction of :func:`transaction`; :meth:`rollback` ends it
    early (nothing is committed then)."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con
        self.open = True

    def rollback(self) -> None:
        """Roll back now (a no-op if already ended)."""
        if self.open:
            self.open = False
            self.con.execute("ROLLBACK")


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[Transaction]:
    """``with transaction(con) as tx:`` -- all or nothing: committed when the
    block ends normally (unless ``tx.rollback()`` was called), rolled back on
    any exception, KeyboardInterrupt included, which is re-raised."""
    import duckdb

    con.execute("BEGIN TRANSACTION")
    tx = Transaction(con)
    try:
        yield tx
        if tx.open:
            con.execute("COMMIT")  # if it fails, the rollback below still runs
            tx.open = False
    except BaseException:
        if tx.open:
            tx.open = False
            try:
                con.execute("ROLLBACK")
            except duckdb.Error:
                pass  # DuckDB already ended the failed transaction
        raise


@contextmanager
def registered(con: duckdb.DuckDBPyConnection, name: str, table: Any) -> Iterator[None]:
    """``table`` (Arrow) visible to SQL as the view ``name`` inside the block."""
    con.register(name, table)
    try:
        yield
    finally:
        con.unregister(name)


def insert_columns(con: duckdb.DuckDBPyConnection, table: str,
                   columns: Mapping[str, Sequence[Any]]) -> None:
    """Insert rows given column by column (name -> values) in one statement,
    through an Arrow table: values are bound, never spliced into SQL; column
    names must be trusted identifiers."""
    import pyarrow as pa

    data = pa.table({name: list(values) for name, values in columns.items()})
    if not data.num_rows:
        return
    names = ", ".join(f'"{c}"' for c in columns)
    with registered(con, "hs_insert_rows", data):
        con.execute(f"INSERT INTO {table} ({names}) SELECT {names} FROM hs_insert_rows")


def companies(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The company ids present in the fact tables, sorted."""
    rows = con.execute(
        "SELECT company_id FROM reps UNION SELECT company_id FROM customers ORDER BY 1"
    ).fetchall()
    return [str(r[0]) for r in rows]


def table_counts(con: duckdb.DuckDBPyConnection, company_id: str) -> dict[str, int]:
    """Row counts of every company-scoped table for ``company_id``."""
    counts: dict[str, int] = {}
    for table in (
        "reps",
        "customers",
        "activities",
        "orders",
        "ownership_events",
        "runs",
        "notifications",
        "rotation_state",
        "relay_state",
    ):
        counts[table] = int(
            scalar(con, f"SELECT count(*) FROM {table} WHERE company_id = ?", [company_id])
        )
    return counts
