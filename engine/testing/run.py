"""Running test cases: a scratch database per case, the nightly run day by day.

For each case the harness creates an in-memory store
(:func:`highseas.store.scratch.memory_db`), inserts the case's rows for the
ruleset's company, and for each day in order:

1. inserts the day's new activities and orders;
2. checks the day's claims in order (an allowed claim expected allowed is
   recorded unless ``record: false``, so later claims see it);
3. plans the nightly run for the day and compares it with ``expect``;
4. applies the plan (mode ``simulate``) so the next day starts from it.

A case stops at its first failing day. Rule coverage is what a
:class:`highseas.testing.coverage.CoverageRecorder`, injected into every
claim check and nightly run of the case, saw them go through, plus the
exemptions that kept customers from being released (per alternative, see
:func:`exemption_points`).
"""

from __future__ import annotations

import fnmatch
import json
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from highseas import codes
from highseas.errors import Diagnostic, HighseasError, errors_only
from highseas.nightly import planner
from highseas.nightly.apply import apply_plan
from highseas.nightly.claims import check_claim, record_claim
from highseas.nightly.plan import Plan
from highseas.ruleset.loader import load_ruleset_with_diagnostics
from highseas.ruleset.model import Ruleset
from highseas.ruleset.validation import files_under, missing_path, unique_paths
from highseas.store.db import insert_columns
from highseas.store.scratch import memory_db
from highseas.testfile import (
    Case,
    ClaimCheck,
    Row,
    TestFile,
    default_ruleset_path,
    is_test_file,
    load_test_file_with_diagnostics,
)
from highseas.testing import coverage as cov
from highseas.testing.compare import Mismatch, compare_claim, compare_plan

if TYPE_CHECKING:
    import duckdb

PASSED = "passed"
FAILED = "failed"
INVALID = "invalid"
ERROR = "error"
#: Differences shown per day of a failing case (the rest are counted).
MAX_SHOWN = 15


@dataclass(frozen=True)
class CaseResult:
    """The outcome of one case."""

    case: Case
    status: str
    mismatches: tuple[Mismatch, ...] = ()
    exercised: frozenset[str] = frozenset()
    days_run: int = 0
    seconds: float = 0.0
    message: str = ""
    diagnostics: tuple[Diagnostic, ...] = ()

    @property
    def passed(self) -> bool:
        return self.status == PASSED

    def failure_text(self) -> str:
        """The readable diff (or error) of a case that did not pass."""
        if self.status == PASSED:
            return ""
        lines: list[str] = []
        if self.message:
            lines.append(self.message)
        lines.extend(d.format_text() for d in self.diagnostics)
        days: dict[date, list[Mismatch]] = {}
        for mismatch in self.mismatches:
            days.setdefault(mismatch.as_of, []).append(mismatch)
        for day, found in days.items():
            lines.append(f"day {day.isoformat()}:")
            for mismatch in found[:MAX_SHOWN]:
                lines.extend("  " + line for line in mismatch.format_lines())
            if len(found) > MAX_SHOWN:
                lines.append(f"  ... and {len(found) - MAX_SHOWN} more differences on this day")
        return "\n".join(lines)


@dataclass(frozen=True)
class FileResult:
    """The outcome of one test file: its cases, or why it could not run."""

    path: str
    ruleset_path: str = ""
    ruleset: Ruleset | None = None
    cases: tuple[CaseResult, ...] = ()
    diagnostics: tuple[Diagnostic, ...] = ()
    seconds: float = 0.0

    @property
    def invalid(self) -> bool:
        return self.ruleset is None or bool(errors_only(self.diagnostics))


@dataclass(frozen=True)
class Coverage:
    """Which coverage points of one ruleset the selected cases exercised."""

    ruleset_id: str
    ruleset_path: str
    points: tuple[str, ...]
    exercised: frozenset[str]
    #: True for a ruleset found in a tested directory without any test file.
    untested: bool = False

    @property
    def covered(self) -> tuple[str, ...]:
        return tuple(p for p in self.points if p in self.exercised)

    @property
    def missing(self) -> tuple[str, ...]:
        return tuple(p for p in self.points if p not in self.exercised)

    @property
    def percent(self) -> float:
        """Covered points in percent (100 for a ruleset without points)."""
        if not self.points:
            return 100.0
        return 100.0 * len(self.covered) / len(self.points)


@dataclass(frozen=True)
class SessionResult:
    """Everything one ``highseas test`` run found."""

    files: tuple[FileResult, ...]
    coverage: tuple[Coverage, ...] = ()
    diagnostics: tuple[Diagnostic, ...] = ()
    min_coverage: float | None = None
    seconds: float = 0.0

    @property
    def cases(self) -> list[CaseResult]:
        return [case for file in self.files for case in file.cases]

    def count(self, status: str) -> int:
        return sum(1 for case in self.cases if case.status == status)

    @property
    def invalid_files(self) -> list[FileResult]:
        return [f for f in self.files if f.invalid]

    @property
    def below_coverage(self) -> list[Coverage]:
        if self.min_coverage is None:
            return []
        return [c for c in self.coverage if c.percent + 1e-9 < self.min_coverage]

    @property
    def exit_code(self) -> int:
        """3 engine error, 2 invalid files or cases, 1 failures or coverage
        below the minimum, 0 all passed."""
        if self.count(ERROR):
            return 3
        if self.invalid_files or self.count(INVALID) or errors_only(self.diagnostics):
            return 2
        if self.count(FAILED) or self.below_coverage:
            return 1
        return 0


# --------------------------------------------------------------------------
# Discovery and selection
# --------------------------------------------------------------------------


def discover(paths: Sequence[str | Path]) -> tuple[list[Path], list[Diagnostic]]:
    """Test files under ``paths``: test files themselves, test files found
    (recursively, skipping hidden entries) in directories, and the sibling
    ``x.tests.yaml`` of a ruleset ``x.yaml``."""
    found: list[Path] = []
    problems: list[Diagnostic] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            matches = files_under(path, lambda p: is_test_file(p.name))
            if not matches:
                problems.append(Diagnostic(code=codes.NO_TEST_FILES, message="no test files "
                                           "(*.tests.yaml) in this directory", file=str(path),
                                           hint="write <ruleset>.tests.yaml beside a ruleset, "
                                           "or scaffold one with 'highseas init'"))
            found.extend(matches)
        elif path.is_file() and is_test_file(path.name):
            found.append(path)
        elif path.is_file():
            sibling = _tests_of(path)
            if sibling is None:
                problems.append(Diagnostic(code=codes.NO_TEST_FILES,
                                           message="no test file for this "
                                           f"ruleset ({path.stem}.tests.yaml)", file=str(path),
                                           hint="write one beside it (docs/testing.md)"))
            else:
                found.append(sibling)
        else:
            problems.append(missing_path(path))
    return unique_paths(found), problems


def _tests_of(ruleset_path: Path) -> Path | None:
    for suffix in (".tests.yaml", ".tests.yml"):
        candidate = ruleset_path.with_name(ruleset_path.stem + suffix)
        if candidate.is_file():
            return candidate
    return None


def selected(case: Case, patterns: Sequence[str]) -> bool:
    """Whether ``case`` matches one of the ``-k`` patterns (all with none):
    a case-insensitive substring of its name or ``file::name``, or a glob
    when the pattern holds ``*``, ``?`` or ``[``."""
    if not patterns:
        return True
    names = (case.name.lower(), case.test_id.lower())
    for pattern in patterns:
        lowered = pattern.lower()
        if any(ch in lowered for ch in "*?["):
            if any(fnmatch.fnmatchcase(name, lowered) for name in names):
                return True
        elif any(lowered in name for name in names):
            return True
    return False


# --------------------------------------------------------------------------
# The scratch database of a case
# --------------------------------------------------------------------------


def _insert(con: duckdb.DuckDBPyConnection, table: str, company: str,
            rows: Iterable[dict[str, Any]]) -> None:
    """Insert rows through an Arrow table (one statement, bound values)."""
    rows = list(rows)
    if not rows:
        return
    columns = sorted({key for row in rows for key in row})
    data: dict[str, list[Any]] = {"company_id": [company] * len(rows)}
    data.update({column: [row.get(column) for row in rows] for column in columns})
    insert_columns(con, table, data)


def _rep_row(row: Row) -> dict[str, Any]:
    values = dict(row.values)
    values.setdefault("name", values["rep_id"])
    values["regions"] = list(values.get("regions") or [])
    values.setdefault("active", True)
    return values


def _customer_row(row: Row) -> dict[str, Any]:
    values = dict(row.values)
    values.setdefault("name", values["customer_id"])
    values["tags"] = list(values.get("tags") or [])
    if values.get("attributes") is not None:
        values["attributes"] = json.dumps(values["attributes"], sort_keys=True)
    if values.get("owner_rep_id") is not None:
        values.setdefault("owned_since", values["created_at"])
    # An unowned customer without a pool is in its region's pool (derived facts).
    return values


def _fact_rows(rows: Iterable[Row], kind: str) -> list[dict[str, Any]]:
    result = []
    for row in rows:
        values = dict(row.values)
        if kind == "activities":
            values.setdefault("kind", "call")
        result.append(values)
    return result


def case_database(ruleset: Ruleset, case: Case) -> duckdb.DuckDBPyConnection:
    """A new in-memory store holding the case's rows for the ruleset's company."""
    con = memory_db()
    company = ruleset.company.id
    _insert(con, "reps", company, (_rep_row(r) for r in case.reps))
    _insert(con, "customers", company, (_customer_row(r) for r in case.customers))
    _insert(con, "activities", company, _fact_rows(case.activities, "activities"))
    _insert(con, "orders", company, _fact_rows(case.orders, "orders"))
    return con


# --------------------------------------------------------------------------
# Coverage seen in decisions and claim answers
# --------------------------------------------------------------------------


def exemption_points(con: duckdb.DuckDBPyConnection, ruleset: Ruleset, plan: Plan) -> set[str]:
    """The exemption points one nightly plan went through, counted per
    alternative (:func:`highseas.testing.coverage.exercised_exemptions`, on the
    facts the plan read): the observer sees what a run decides, not what an
    exemption kept it from deciding."""
    if not any(rule.unless is not None for rule in ruleset.release_rules):
        return set()
    changed = {d.customer_id for d in plan.decisions if d.action != "remind"}
    return cov.exercised_exemptions(con, ruleset, plan.as_of, changed)


# --------------------------------------------------------------------------
# Running
# --------------------------------------------------------------------------


def _end_of(day: date) -> datetime:
    """The timestamp of what happens on ``day`` (claims, the nightly run)."""
    return datetime.combine(day, datetime.min.time()) + timedelta(hours=23)


def _claim(con: duckdb.DuckDBPyConnection, ruleset: Ruleset, as_of: date,
           check: ClaimCheck, recorder: cov.CoverageRecorder) -> Mismatch | None:
    verdict = check_claim(con, ruleset, as_of, check.rep, check.customer, observer=recorder)
    mismatch = compare_claim(check, as_of, verdict.allowed, verdict.reasons)
    if verdict.allowed and check.allowed and check.record:
        record_claim(con, ruleset, as_of, verdict,
                     timestamp=_end_of(as_of) - timedelta(hours=12))
    return mismatch


def run_case(ruleset: Ruleset, case: Case) -> CaseResult:
    """Run one case against ``ruleset``; never raises for bad data (the result
    says ``invalid``) nor for engine errors (``error``)."""
    started = time.perf_counter()
    recorder = cov.CoverageRecorder()
    exercised = recorder.points
    days_run = 0
    mismatches: list[Mismatch] = []
    try:
        con = case_database(ruleset, case)
        try:
            company = ruleset.company.id
            for day in case.days:
                _insert(con, "activities", company, _fact_rows(day.activities, "activities"))
                _insert(con, "orders", company, _fact_rows(day.orders, "orders"))
                for check in day.claims:
                    mismatch = _claim(con, ruleset, day.as_of, check, recorder)
                    if mismatch is not None:
                        mismatches.append(mismatch)
                plan: Plan = planner.plan(con, ruleset, day.as_of, observer=recorder)
                days_run += 1
                exercised |= exemption_points(con, ruleset, plan)
                if day.expect is not None:
                    mismatches.extend(compare_plan(day.expect, plan))
                if mismatches:
                    break
                apply_plan(con, plan, mode="simulate", timestamp=_end_of(day.as_of))
        finally:
            con.close()
    except HighseasError as error:
        status = INVALID if error.exit_code == 2 else ERROR
        refused = f"{codes.CASE_DATA_REFUSED} the engine refused the case's data:"
        return CaseResult(case, status, tuple(mismatches), frozenset(exercised), days_run,
                          time.perf_counter() - started,
                          refused if status == INVALID else "engine error",
                          tuple(error.diagnostics))
    except Exception as error:  # an engine bug: report it as this case's error
        return CaseResult(case, ERROR, tuple(mismatches), frozenset(exercised), days_run,
                          time.perf_counter() - started,
                          f"internal error {type(error).__name__}: {error}")
    status = FAILED if mismatches else PASSED
    return CaseResult(case, status, tuple(mismatches), frozenset(exercised), days_run,
                      time.perf_counter() - started)


def run_test_file(test_file: TestFile, patterns: Sequence[str] = ()) -> FileResult:
    """Run the cases of ``test_file`` that match ``patterns`` (all without)."""
    started = time.perf_counter()
    results = tuple(run_case(test_file.ruleset, case) for case in test_file.cases
                    if selected(case, patterns))
    return FileResult(test_file.path, test_file.ruleset_path, test_file.ruleset, results,
                      test_file.warnings, time.perf_counter() - started)


def coverage_of(files: Iterable[FileResult]) -> list[Coverage]:
    """Coverage per ruleset over every case run against it."""
    by_ruleset: dict[str, tuple[Ruleset, set[str]]] = {}
    for file in files:
        if file.ruleset is None:
            continue
        key = str(Path(file.ruleset_path).resolve())
        _, hits = by_ruleset.setdefault(key, (file.ruleset, set()))
        for case in file.cases:
            hits |= case.exercised
    result = []
    for key, (ruleset, hits) in by_ruleset.items():
        points = tuple(cov.coverage_points(ruleset))
        result.append(Coverage(ruleset.company.id, _shown_path(key, files), points,
                               frozenset(hits) & frozenset(points)))
    return result


def _shown_path(resolved: str, files: Iterable[FileResult]) -> str:
    for file in files:
        if file.ruleset_path and str(Path(file.ruleset_path).resolve()) == resolved:
            return file.ruleset_path
    return resolved


def run_paths(
    paths: Sequence[str | Path],
    patterns: Sequence[str] = (),
    *,
    min_coverage: float | None = None,
    on_file: Any = None,
) -> SessionResult:
    """Discover, load and run every test file under ``paths``.

    ``on_file(FileResult)`` is called as each file finishes (the CLI prints
    progress with it)."""
    started = time.perf_counter()
    found, problems = discover(paths)
    files: list[FileResult] = []
    for path in found:
        test_file, diagnostics = load_test_file_with_diagnostics(path)
        if test_file is None:
            result = FileResult(str(path), str(default_ruleset_path(path)), None, (),
                                tuple(diagnostics))
        else:
            result = run_test_file(test_file, patterns)
        files.append(result)
        if on_file is not None:
            on_file(result)
    if patterns and found and not any(file.cases for file in files) and not any(
            file.invalid for file in files):
        problems.append(Diagnostic(
            code=codes.NO_CASE_MATCHES,
            message="no case matches -k " + " / ".join(repr(p) for p in patterns),
            hint="-k matches case names (or file::name), case-insensitive"))
    coverage = coverage_of(files)
    if found:
        coverage.extend(untested_rulesets(paths, coverage, found))
    return SessionResult(tuple(files), tuple(coverage), tuple(problems), min_coverage,
                         time.perf_counter() - started)


def untested_rulesets(paths: Sequence[str | Path], tested: Sequence[Coverage],
                      test_files: Sequence[Path]) -> list[Coverage]:
    """Rulesets that no test file tests (0% covered), in the given
    directories, beside the test files found there.

    Only YAML files that load as valid rulesets count; anything else (CI
    files, broken rulesets: ``highseas validate`` reports those) is left
    alone."""
    seen = {str(Path(c.ruleset_path).resolve()) for c in tested}
    folders = {path.parent.resolve() for path in test_files}
    result: list[Coverage] = []
    for raw in paths:
        directory = Path(raw)
        if not directory.is_dir():
            continue
        for path in sorted(directory.rglob("*")):
            if (path.suffix not in (".yaml", ".yml") or is_test_file(path.name)
                    or not path.is_file()
                    or any(p.startswith(".") for p in path.relative_to(directory).parts)
                    or str(path.resolve()) in seen or path.parent.resolve() not in folders):
                continue
            seen.add(str(path.resolve()))
            try:
                ruleset, diagnostics = load_ruleset_with_diagnostics(path)
            except HighseasError:
                continue
            if ruleset is None or errors_only(diagnostics):
                continue
            result.append(Coverage(ruleset.company.id, str(path),
                                   tuple(cov.coverage_points(ruleset)), frozenset(),
                                   untested=True))
    return result
