"""Expected-outcome tests of rulesets: the importable harness.

``highseas test`` is a thin layer over this module, and a CRM's own test
suite (or highseas's) can use it directly::

    from highseas import testing

    session = testing.run_paths(["rulesets/"])
    assert session.exit_code == 0, testing.format_session(session)

    # or one case per pytest test:
    @pytest.mark.parametrize("case", testing.cases_of("rulesets/quick-order.tests.yaml"),
                             ids=lambda c: c.name)
    def test_case(case): testing.assert_case(case)

    # or a case written in Python, in the test file's own format:
    testing.assert_case(testing.case_from_dict(ruleset, {"name": ..., "as_of": ...}))

The format is documented in docs/testing.md and loaded and checked by
:mod:`highseas.testfile` (whose typed cases this facade re-exports).
Importing this module imports neither duckdb nor durable-rules; running
cases does.

This module is the package's public facade; the command line and the API use
nothing else of it. Modules:

* ``run`` - discovering and running cases, each on its own in-memory database
* ``compare`` - expected against actual outcomes, as readable mismatches
* ``coverage`` - which rules and decision points the cases exercised
* ``report`` - the text report, JUnit XML, GitHub annotations and JSON
* ``update`` - ``--update``: the failing expectations rewritten to the run's outcomes

May import: ``highseas.testfile``, ``highseas.nightly``, ``highseas.compile``, ``highseas.ruleset``,
``highseas.store``, ``highseas.errors``, ``highseas.codes``,
``highseas.suggestions``. Never ``highseas.simulate``, ``highseas.api`` or
``highseas.cli``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from highseas import codes
from highseas.errors import Diagnostic, InvalidInputError, errors_only
from highseas.ruleset.model import Ruleset
from highseas.ruleset.project import ProjectConfig, find_config
from highseas.testfile import (
    Case,
    ClaimCheck,
    Day,
    Entry,
    Expectation,
    TestFile,
    check_case_mapping,
    load_test_file,
    load_test_file_with_diagnostics,
    tests_schema,
    validate_test_file,
)
from highseas.testing.compare import Mismatch
from highseas.testing.report import (
    TEST_FORMATS,
    format_coverage,
    format_file,
    format_report,
    summary_line,
)
from highseas.testing.report import format_session as _format_session
from highseas.testing.report import junit_xml as _junit_xml
from highseas.testing.run import CaseResult, Coverage, FileResult, SessionResult
from highseas.testing.run import discover as _discover
from highseas.testing.run import run_case as _run_case
from highseas.testing.run import run_paths as _run_paths
from highseas.testing.run import run_test_file as _run_test_file
from highseas.testing.update import FileUpdate, update_file

__all__ = [
    "Case",
    "CaseResult",
    "ClaimCheck",
    "Coverage",
    "Day",
    "Entry",
    "Expectation",
    "FileResult",
    "FileUpdate",
    "Mismatch",
    "ProjectConfig",
    "SessionResult",
    "TEST_FORMATS",
    "TestFile",
    "assert_case",
    "case_from_dict",
    "cases_of",
    "discover",
    "find_config",
    "format_coverage",
    "format_file",
    "format_report",
    "format_session",
    "junit_xml",
    "load_test_file",
    "load_test_file_with_diagnostics",
    "run_case",
    "run_paths",
    "run_test_file",
    "summary_line",
    "tests_schema",
    "update_file",
    "validate_test_file",
]


def discover(paths: Sequence[str | Path]) -> tuple[list[Path], list[Diagnostic]]:
    """Test files under ``paths`` (see :func:`highseas.testing.run.discover`)."""
    return _discover(paths)


def run_case(case: Case, ruleset: Ruleset | None = None) -> CaseResult:
    """Run one case (against the ruleset of its test file unless given)."""
    return _run_case(ruleset if ruleset is not None else _ruleset_of(case), case)


def run_test_file(test_file: TestFile | str | Path, patterns: Sequence[str] = ()) -> FileResult:
    """Run the cases of a test file matching ``patterns`` (``-k``)."""
    loaded = test_file if isinstance(test_file, TestFile) else load_test_file(test_file)
    return _run_test_file(loaded, patterns)


def run_paths(paths: Sequence[str | Path], patterns: Sequence[str] = (), *,
              min_coverage: float | None = None,
              on_file: Callable[[FileResult], None] | None = None) -> SessionResult:
    """Discover and run every test file under ``paths``, with coverage;
    ``on_file`` is called with each file's result as it finishes."""
    return _run_paths(paths, patterns, min_coverage=min_coverage, on_file=on_file)


_RULESETS: dict[str, Ruleset] = {}


def cases_of(path: str | Path) -> list[Case]:
    """The cases of a test file (for ``pytest.mark.parametrize``); raises
    :class:`InvalidInputError` when the file is invalid."""
    loaded = load_test_file(path)
    for case in loaded.cases:
        _RULESETS[case.test_id] = loaded.ruleset
    return list(loaded.cases)


def _ruleset_of(case: Case) -> Ruleset:
    try:
        return _RULESETS[case.test_id]
    except KeyError:
        raise InvalidInputError(
            f"no ruleset known for case {case.name!r}", code=codes.TEST_RULESET_INVALID,
            hint="load it with cases_of(path) or pass the ruleset",
        ) from None


def case_from_dict(ruleset: Ruleset, data: Mapping[str, Any], name: str = "<python>") -> Case:
    """A case written as a Python mapping in the test file format (one item of
    ``cases:``), checked like a file; raises :class:`InvalidInputError`."""
    case = check_case_mapping(ruleset, dict(data), name)
    _RULESETS[case.test_id] = ruleset
    return case


def assert_case(case: Case, ruleset: Ruleset | None = None) -> CaseResult:
    """Run ``case``; raise AssertionError with the readable diff unless it passes."""
    result = run_case(case, ruleset)
    if not result.passed:
        raise AssertionError(f"case {case.name!r} {result.status}:\n{result.failure_text()}")
    return result


def format_session(session: SessionResult, *, verbose: bool = False) -> str:
    """The text report ``highseas test`` prints."""
    return _format_session(session, verbose=verbose)


def junit_xml(session: SessionResult) -> str:
    """The JUnit XML report (one testcase per case)."""
    return _junit_xml(session)


def has_errors(diagnostics: Sequence[Diagnostic]) -> bool:
    """Whether any of ``diagnostics`` is an error (not a warning)."""
    return bool(errors_only(diagnostics))
