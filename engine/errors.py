"""One error type for everything a user can get wrong.

Every problem highseas reports, in a ruleset, a test file, a facts file or on
the command line, is a :class:`Diagnostic`: a stable code, a message, a hint
and as much location as is known (file, line, column, JSON path, row number).
Stages collect diagnostics and return them; stages that must stop raise
:class:`HighseasError`, which carries one or more diagnostics. The CLI turns
both into messages and exit codes in one place (``highseas.cli``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum

from highseas import codes


def one_line(text: str) -> str:
    """``text`` with control characters (a CR or LF in a key, a file name...)
    escaped, so that each diagnostic stays on exactly one line."""
    return "".join(
        c if c.isprintable() or c == " " else c.encode("unicode_escape").decode("ascii")
        for c in text
    )


class Severity(StrEnum):
    """How bad a diagnostic is. Warnings fail only under ``--strict``."""

    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Diagnostic:
    """One problem, with its location.

    ``line`` and ``column`` are 1-based; 0 means unknown. ``json_path`` uses
    the ``$.a.b[0]`` form. ``row`` is the 1-based data row of a facts file.
    """

    code: str
    message: str
    file: str = ""
    line: int = 0
    column: int = 0
    json_path: str = ""
    hint: str = ""
    severity: Severity = Severity.ERROR
    row: int = 0

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def with_file(self, file: str) -> Diagnostic:
        return replace(self, file=file)

    def location(self) -> str:
        """``file:line:col`` (or as much of it as is known)."""
        parts = [self.file or "<input>"]
        if self.line:
            parts.append(str(self.line))
            parts.append(str(self.column or 1))
        elif self.row:
            parts.append(f"row {self.row}")
        return ":".join(parts)

    def format_text(self) -> str:
        """``FILE:LINE:COL: error HS123 message (hint)``."""
        text = f"{self.location()}: {self.severity.value} {self.code} {self.message}"
        if self.json_path and self.json_path != "$":
            text += f" [at {self.json_path}]"
        if self.hint:
            text += f" ({self.hint})"
        return one_line(text)

    def to_dict(self) -> dict[str, object]:
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "json_path": self.json_path,
            "row": self.row,
            "code": self.code,
            "severity": self.severity.value,
            "message": self.message,
            "hint": self.hint,
        }


class HighseasError(Exception):
    """Base class of every error highseas raises on purpose.

    ``exit_code`` follows the CLI contract: 1 for rule or test failures and
    rejected data, 2 for invalid input or usage, 3 for internal errors. Each
    subclass stands for one of these; the codes it carries are registered in
    :mod:`highseas.codes` with the same exit code (a test checks every raise
    site). An error raised without a code is a bug: HS999.
    """

    exit_code: int = codes.EXIT_USAGE

    def __init__(
        self,
        message: str | Diagnostic | Sequence[Diagnostic],
        *,
        code: str = codes.INTERNAL_ERROR,
        file: str = "",
        line: int = 0,
        column: int = 0,
        json_path: str = "",
        hint: str = "",
        row: int = 0,
        exit_code: int | None = None,
    ) -> None:
        if isinstance(message, Diagnostic):
            diagnostics: list[Diagnostic] = [message]
        elif isinstance(message, str):
            diagnostics = [
                Diagnostic(
                    code=code,
                    message=message,
                    file=file,
                    line=line,
                    column=column,
                    json_path=json_path,
                    hint=hint,
                    row=row,
                )
            ]
        else:
            diagnostics = list(message)
        self.diagnostics: tuple[Diagnostic, ...] = tuple(diagnostics)
        if exit_code is not None:
            self.exit_code = exit_code
        super().__init__("; ".join(d.format_text() for d in self.diagnostics))

    @property
    def first(self) -> Diagnostic:
        return self.diagnostics[0]


class InvalidInputError(HighseasError):
    """A file, option or value that highseas cannot accept (exit 2)."""

    exit_code = codes.EXIT_USAGE


class RejectedDataError(HighseasError):
    """Facts rejected row by row; nothing was written (exit 1)."""

    exit_code = codes.EXIT_FAILURE


class ReplayDivergedError(HighseasError):
    """``simulate --verify``: the incremental replay decided otherwise than
    the nightly path on the same day (exit 1)."""

    exit_code = codes.EXIT_FAILURE


class BusyError(HighseasError):
    """Another process holds the database (exit 2)."""

    exit_code = codes.EXIT_USAGE


class EngineError(HighseasError):
    """An internal invariant broke (a customer without a verdict, an action
    that raised inside durable-rules). Never silenced (exit 3)."""

    exit_code = codes.EXIT_INTERNAL


def errors_only(diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
    return [d for d in diagnostics if d.is_error]


def is_duckdb_interrupt(error: BaseException) -> bool:
    """Ctrl-C while DuckDB runs a query: DuckDB takes the SIGINT itself and
    raises RuntimeError("Query interrupted") (or its InterruptException)
    instead of KeyboardInterrupt. Checked by name, so that callers need not
    import duckdb (``highseas validate`` starts without it). A SIGINT that
    lands while DuckDB calls back into Python (reading a registered Arrow
    table) comes back as a DuckDB error whose message names the
    KeyboardInterrupt."""
    from_duckdb = type(error).__module__.startswith(("duckdb", "_duckdb"))
    if from_duckdb and type(error).__name__ == "InterruptException":
        return True
    if from_duckdb and "KeyboardInterrupt" in str(error):
        return True
    return type(error) is RuntimeError and str(error).startswith("Query interrupted")
