"""Ctrl-C at a chosen moment of a command run in this process.

A real SIGINT (``signal.raise_signal``) is sent just before or just after one
of the statements a command runs on its DuckDB connections: before its
``BEGIN``, between its writes, just before or just after its ``COMMIT``,
before the connection closes. :func:`count_points` runs the command once
uninterrupted and counts those moments; :func:`interrupt_at` runs it again
with the SIGINT at one of them. The moments are the same from one run to the
next (the command does the same work), so a test picks them at random with a
seed and always reaches the ones it names, with no timing involved.

Statements on connections the test opens itself are not counted: call the
two functions with the command only.
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
from click.testing import CliRunner

from highseas.cli import main

#: Connection methods that run a statement (or end the connection).
STATEMENTS = frozenset({
    "execute", "executemany", "sql", "query", "begin", "commit", "rollback", "close",
    "register", "unregister",
})


class _Moments:
    """Counts the moments around statements; sends SIGINT at ``target``."""

    def __init__(self, target: int | None) -> None:
        self.target = target
        self.position = 0
        self.statements: list[str] = []

    def moment(self) -> None:
        if self.position == self.target:
            self.target = None  # once
            signal.raise_signal(signal.SIGINT)  # KeyboardInterrupt from here
        self.position += 1


class _Connection:
    """A DuckDB connection whose statements are moments of :class:`_Moments`."""

    def __init__(self, con: duckdb.DuckDBPyConnection, moments: _Moments) -> None:
        self._con = con
        self._moments = moments

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._con, name)
        if name not in STATEMENTS:
            return attribute
        moments = self._moments

        def statement(*args: Any, **kwargs: Any) -> Any:
            moments.statements.append(f"{name} {args[0] if args else ''}".strip()[:80])
            moments.moment()  # just before
            result = attribute(*args, **kwargs)
            moments.moment()  # just after
            return result

        return statement

    def __enter__(self) -> _Connection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@contextmanager
def _watched(moments: _Moments) -> Iterator[None]:
    real = duckdb.connect
    handler = signal.getsignal(signal.SIGINT)

    def connect(*args: Any, **kwargs: Any) -> _Connection:
        return _Connection(real(*args, **kwargs), moments)

    # A shell starts background jobs (a test run) with SIGINT ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    duckdb.connect = connect  # type: ignore[assignment]
    try:
        yield
    finally:
        duckdb.connect = real
        signal.signal(signal.SIGINT, handler)


@dataclass(frozen=True)
class Outcome:
    """How an interrupted command ended."""

    exit_code: int
    stdout: str
    stderr: str

    @property
    def message(self) -> str:
        """The last line on standard error: what the interrupt report said."""
        lines = self.stderr.strip().splitlines()
        return lines[-1] if lines else ""


def _invoke(args: Sequence[str]) -> Outcome:
    result = CliRunner().invoke(main, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return Outcome(result.exit_code, result.stdout, result.stderr)


def count_points(args: Sequence[str], prepare: Callable[[], None] = lambda: None
                 ) -> tuple[int, list[str]]:
    """Run ``highseas ARGS`` uninterrupted (after ``prepare()``): the number
    of moments an interrupt can come at, and the statements run."""
    prepare()
    moments = _Moments(None)
    with _watched(moments):
        outcome = _invoke(args)
    assert outcome.exit_code in (0, 1), outcome
    return moments.position, moments.statements


def interrupt_at(args: Sequence[str], point: int) -> Outcome:
    """Run ``highseas ARGS`` with a SIGINT at moment ``point``."""
    moments = _Moments(point)
    with _watched(moments):
        outcome = _invoke(args)
    assert moments.target is None, f"moment {point} never came ({moments.position} came)"
    return outcome


def commit_points(statements: Sequence[str]) -> list[int]:
    """The moments just before and just after each COMMIT among ``statements``."""
    found = []
    for index, text in enumerate(statements):
        if text.upper().startswith(("EXECUTE COMMIT", "COMMIT")):
            found += [2 * index, 2 * index + 1]
    return found


#: Columns that take the clock or a random id when written: the same write
#: done twice differs only there.
VOLATILE: dict[str, frozenset[str]] = {
    "loads": frozenset({"load_id", "loaded_at"}),
    "runs": frozenset({"started_at", "finished_at"}),
    "ownership_events": frozenset({"at"}),
    "notifications": frozenset({"created_at"}),
    "schema_version": frozenset({"applied_at"}),
}


def contents(db: Any) -> dict[str, list[tuple[Any, ...]]] | None:
    """Every table of ``db``, sorted, without :data:`VOLATILE` columns (None:
    no database file)."""
    if not Path(db).exists():
        return None
    with duckdb.connect(str(db), read_only=True) as con:
        found: dict[str, list[tuple[Any, ...]]] = {}
        for (table,) in con.execute(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = 'main' ORDER BY 1").fetchall():
            columns = [r[0] for r in con.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = 'main' "
                "AND table_name = ? ORDER BY ordinal_position", [table]).fetchall()
                if r[0] not in VOLATILE.get(table, frozenset())]
            listed = ", ".join(f'"{c}"' for c in columns)
            found[table] = con.execute(f"SELECT {listed} FROM {table} ORDER BY ALL").fetchall()
        return found
