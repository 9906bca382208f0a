"""Validate many files at once, collecting every diagnostic of every file.

``highseas validate`` and CI use :func:`validate_paths`. Paths may be files
or directories (searched recursively for ``*.yaml`` / ``*.yml``, skipping
hidden entries). Each file is handed to the first registered
:class:`FileKind` that claims it: ``*.tests.yaml`` files are test files,
everything else is a ruleset. Other kinds can be added with
:func:`register_file_kind`.

Test files are checked by the caller's ``validate_tests`` (the API passes
``highseas.testing.validate_test_file``: this package never imports the
test harness, which sits above it); without one they are skipped with a note.

Exit codes: 0 valid; 1 invalid (errors, or warnings under ``strict``);
2 usage or I/O problem (a path that does not exist or cannot be read).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from highseas import codes
from highseas.errors import Diagnostic, InvalidInputError
from highseas.ruleset.loader import load_ruleset_with_diagnostics

#: Codes that mean "could not read the input" rather than "the input is wrong".
IO_CODES = frozenset({codes.PATH_NOT_FOUND, codes.PATH_UNREADABLE, codes.NO_YAML_FILES})

Validator = Callable[[Path], list[Diagnostic]]


class SkipFile(Exception):
    """Raised by a validator that cannot check a file; the message is a note."""


@dataclass(frozen=True)
class FileKind:
    """A kind of file ``validate`` knows: which files it claims and how to check them."""

    name: str
    matches: Callable[[Path], bool]
    validate: Validator


@dataclass(frozen=True)
class FileResult:
    """The outcome of validating one file."""

    path: str
    kind: str
    diagnostics: tuple[Diagnostic, ...] = ()
    note: str = ""

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.is_error]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if not d.is_error]

    @property
    def skipped(self) -> bool:
        return bool(self.note)


@dataclass(frozen=True)
class ValidationReport:
    """Every file checked and every diagnostic found."""

    files: tuple[FileResult, ...] = ()
    usage_errors: tuple[Diagnostic, ...] = ()
    strict: bool = False
    notes: tuple[str, ...] = field(default=())

    @property
    def diagnostics(self) -> list[Diagnostic]:
        """Usage errors first, then each file's diagnostics in file order."""
        found = list(self.usage_errors)
        for result in self.files:
            found.extend(result.diagnostics)
        return found

    @property
    def error_count(self) -> int:
        return sum(1 for d in self.diagnostics if d.is_error)

    @property
    def warning_count(self) -> int:
        return sum(1 for d in self.diagnostics if not d.is_error)

    @property
    def exit_code(self) -> int:
        """0 valid, 1 invalid (or warnings under strict), 2 usage or I/O error."""
        if self.usage_errors or any(d.code in IO_CODES for d in self.diagnostics):
            return 2
        if self.error_count or (self.strict and self.warning_count):
            return 1
        return 0

    @property
    def ok(self) -> bool:
        return self.exit_code == 0


def validate_ruleset_file(path: Path) -> list[Diagnostic]:
    """All diagnostics (errors and warnings) of one ruleset file."""
    try:
        _, diagnostics = load_ruleset_with_diagnostics(path)
    except InvalidInputError as error:
        return list(error.diagnostics)
    return diagnostics


def skip_tests_file(path: Path) -> list[Diagnostic]:
    """The test-file validator of a call that was given none."""
    raise SkipFile("test files are not checked here (no test-file validator was given; "
                   "highseas validate checks them)")


def is_tests_file(path: Path) -> bool:
    """Whether ``path`` names a test file (``*.tests.yaml`` / ``*.tests.yml``)."""
    return path.name.endswith((".tests.yaml", ".tests.yml"))


FILE_KINDS: list[FileKind] = [
    FileKind("tests", is_tests_file, skip_tests_file),
    FileKind("ruleset", lambda path: True, validate_ruleset_file),
]


def register_file_kind(kind: FileKind, first: bool = True) -> None:
    """Teach ``validate`` a new kind of file (tried before the others by default)."""
    FILE_KINDS.insert(0 if first else max(len(FILE_KINDS) - 1, 0), kind)


def files_under(directory: Path, wanted: Callable[[Path], bool]) -> list[Path]:
    """Files below ``directory`` (recursively, hidden entries skipped) that
    ``wanted`` accepts, sorted."""
    return sorted(
        p for p in directory.rglob("*")
        if p.is_file() and wanted(p)
        and not any(part.startswith(".") for part in p.relative_to(directory).parts)
    )


def unique_paths(paths: Iterable[Path]) -> list[Path]:
    """``paths`` without repeats, first occurrence kept."""
    return list(dict.fromkeys(paths))


def missing_path(path: Path) -> Diagnostic:
    """The diagnostic of a path that does not exist."""
    return Diagnostic(code=codes.PATH_NOT_FOUND,
                      message="no such file or directory", file=str(path),
                      hint="check the path")


def discover(paths: Iterable[str | Path]) -> tuple[list[Path], list[Diagnostic]]:
    """The files to check under ``paths`` and a diagnostic for each missing path."""
    found: list[Path] = []
    problems: list[Diagnostic] = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            files = files_under(path, lambda p: p.suffix in (".yaml", ".yml"))
            if not files:
                problems.append(Diagnostic(code=codes.NO_YAML_FILES,
                                           message="no *.yaml or *.yml files "
                                           "in this directory", file=str(path),
                                           hint="give ruleset files or a folder holding them"))
            found.extend(files)
        elif path.exists():
            found.append(path)
        else:
            problems.append(missing_path(path))
    return unique_paths(found), problems


def file_kinds(validate_tests: Validator | None = None) -> list[FileKind]:
    """The registered kinds, test files checked by ``validate_tests`` when given."""
    if validate_tests is None:
        return list(FILE_KINDS)
    return [FileKind(k.name, k.matches, validate_tests) if k.name == "tests" else k
            for k in FILE_KINDS]


def validate_file(path: Path, validate_tests: Validator | None = None) -> FileResult:
    """Check one file with the first kind that claims it."""
    kind = next(k for k in file_kinds(validate_tests) if k.matches(path))
    try:
        diagnostics = kind.validate(path)
    except SkipFile as skip:
        return FileResult(str(path), kind.name, (), note=str(skip))
    except InvalidInputError as error:
        diagnostics = list(error.diagnostics)
    diagnostics = [d if d.file else d.with_file(str(path)) for d in diagnostics]
    return FileResult(str(path), kind.name, tuple(diagnostics))


def validate_paths(paths: Sequence[str | Path], strict: bool = False, *,
                   validate_tests: Validator | None = None) -> ValidationReport:
    """Validate every file under ``paths``; never raises for bad content.
    ``validate_tests`` checks test files (skipped with a note without it)."""
    files, problems = discover(paths)
    results = tuple(validate_file(path, validate_tests) for path in files)
    notes = tuple(f"{r.path}: skipped: {r.note}" for r in results if r.skipped)
    return ValidationReport(files=results, usage_errors=tuple(problems), strict=strict,
                            notes=notes)
