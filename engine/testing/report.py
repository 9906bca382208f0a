"""Reports of a test session: the text ``highseas test`` prints, JUnit XML,
GitHub annotations and JSON."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from highseas.errors import errors_only
from highseas.testing.run import (
    ERROR,
    FAILED,
    INVALID,
    PASSED,
    CaseResult,
    Coverage,
    FileResult,
    SessionResult,
)

_LABELS = {PASSED: "PASS", FAILED: "FAIL", INVALID: "INVALID", ERROR: "ERROR"}


def _indent(text: str, prefix: str) -> list[str]:
    return [prefix + line for line in text.splitlines()]


def case_line(result: CaseResult) -> str:
    """``  PASS  name (2 days, 0.05s)``."""
    days = f"{result.days_run} day{'s' if result.days_run != 1 else ''}"
    return f"  {_LABELS[result.status]:<7} {result.case.name} ({days}, {result.seconds:.2f}s)"


def format_file(result: FileResult, *, verbose: bool = False) -> list[str]:
    """The lines of one test file: a header, one line per case, the diffs."""
    if result.invalid:
        lines = [f"{result.path}: INVALID"]
        lines.extend("  " + d.format_text() for d in result.diagnostics if d.is_error)
        return lines
    ruleset = result.ruleset.company.id if result.ruleset else "?"
    lines = [f"{result.path} (ruleset {ruleset}, {result.ruleset_path})"]
    lines.extend("  " + d.format_text() for d in result.diagnostics)
    if not result.cases:
        lines.append("  no case selected")
    for case in result.cases:
        lines.append(case_line(case))
        if case.status != PASSED:
            lines.extend(_indent(case.failure_text(), "      "))
        elif verbose and case.case.description:
            lines.extend(_indent(case.case.description, "      "))
    return lines


def invalid_test_files(coverage: Coverage, files: Sequence[FileResult]) -> list[str]:
    """The invalid test files of ``coverage``'s ruleset: why it has no run cases."""
    target = Path(coverage.ruleset_path).resolve()
    return [file.path for file in files if file.invalid and file.ruleset_path
            and Path(file.ruleset_path).resolve() == target]


def format_coverage(coverage: Coverage, min_coverage: float | None = None,
                    files: Sequence[FileResult] = ()) -> list[str]:
    """``coverage of x: 15/17 points (88.2%)`` and the unexercised points.
    A ruleset without run cases says why: no test file, or an invalid one
    (``files``: the session's files, to find it)."""
    total = len(coverage.points)
    line = (f"coverage of {coverage.ruleset_id} ({coverage.ruleset_path}): "
            f"{len(coverage.covered)}/{total} points ({coverage.percent:.1f}%)")
    if coverage.untested:
        invalid = invalid_test_files(coverage, files)
        line += (f": test file {', '.join(invalid)} invalid (its errors are above)"
                 if invalid else ": no test file")
    if min_coverage is not None and coverage.percent + 1e-9 < min_coverage:
        line += f", below the minimum of {min_coverage:g}%"
    lines = [line]
    if coverage.missing:
        lines.append("  not exercised by any case:")
        lines.extend(f"    {point}" for point in coverage.missing)
    return lines


def summary_line(session: SessionResult) -> str:
    """``12 passed, 1 failed, 0 invalid in 1.3s``."""
    parts = [f"{session.count(PASSED)} passed", f"{session.count(FAILED)} failed"]
    invalid = session.count(INVALID) + len(session.invalid_files)
    parts.append(f"{invalid} invalid")
    if session.count(ERROR):
        parts.append(f"{session.count(ERROR)} errors")
    return ", ".join(parts) + f" in {session.seconds:.1f}s"


def format_session(session: SessionResult, *, verbose: bool = False) -> str:
    """The whole text report."""
    lines: list[str] = [d.format_text() for d in session.diagnostics]
    for file in session.files:
        lines.extend(format_file(file, verbose=verbose))
    for coverage in session.coverage:
        lines.extend(format_coverage(coverage, session.min_coverage, session.files))
    lines.append(summary_line(session))
    return "\n".join(lines)


def junit_xml(session: SessionResult, *, clock: Callable[[], str] | None = None) -> str:
    """JUnit XML: a testsuite per test file, a testcase per case (an invalid
    file is one testcase with an ``error``); coverage as suite properties."""
    root = ET.Element("testsuites", name="highseas test")
    totals = {"tests": 0, "failures": 0, "errors": 0}
    coverage_by_path = {c.ruleset_path: c for c in session.coverage}
    for file in session.files:
        suite = ET.SubElement(root, "testsuite", name=file.path)
        counts = {"tests": 0, "failures": 0, "errors": 0}
        coverage = coverage_by_path.get(file.ruleset_path)
        if coverage is not None:
            properties = ET.SubElement(suite, "properties")
            ET.SubElement(properties, "property", name="ruleset", value=coverage.ruleset_id)
            ET.SubElement(properties, "property", name="coverage.percent",
                          value=f"{coverage.percent:.1f}")
            ET.SubElement(properties, "property", name="coverage.points",
                          value=f"{len(coverage.covered)}/{len(coverage.points)}")
            ET.SubElement(properties, "property", name="coverage.missing",
                          value=" ".join(coverage.missing))
        if file.invalid:
            case = ET.SubElement(suite, "testcase", classname=_classname(file), name=file.path,
                                 file=file.path, time="0")
            errors = errors_only(file.diagnostics)
            error = ET.SubElement(case, "error", type="invalid",
                                  message=errors[0].format_text() if errors else "invalid")
            error.text = "\n".join(d.format_text() for d in errors)
            counts["tests"] += 1
            counts["errors"] += 1
        for result in file.cases:
            case = ET.SubElement(suite, "testcase", classname=_classname(file),
                                 name=result.case.name, file=result.case.file,
                                 line=str(result.case.line), time=f"{result.seconds:.3f}")
            counts["tests"] += 1
            if result.status == FAILED:
                counts["failures"] += 1
                first = result.mismatches[0].message if result.mismatches else "failed"
                failure = ET.SubElement(case, "failure", type="expectation", message=first)
                failure.text = result.failure_text()
            elif result.status in (INVALID, ERROR):
                counts["errors"] += 1
                error = ET.SubElement(case, "error", type=result.status,
                                      message=result.message or result.status)
                error.text = result.failure_text()
        seconds = sum(r.seconds for r in file.cases)
        for key, value in counts.items():
            suite.set(key, str(value))
            totals[key] += value
        suite.set("skipped", "0")
        suite.set("time", f"{seconds:.3f}")
        if clock is not None:
            suite.set("timestamp", clock())
    for key, value in totals.items():
        root.set(key, str(value))
    root.set("time", f"{session.seconds:.3f}")
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") \
        + "\n"


def _classname(file: FileResult) -> str:
    if file.ruleset is not None:
        return f"highseas.{file.ruleset.company.id}"
    return "highseas." + file.path.replace("/", ".").removesuffix(".yaml")


# --------------------------------------------------------------------------
# GitHub annotations and JSON
# --------------------------------------------------------------------------

#: The report formats of ``highseas test --format`` (JUnit XML is a file:
#: ``--junit-xml``).
TEST_FORMATS = ("text", "github", "json")


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def _annotation(level: str, file: str, line: int, title: str, message: str) -> str:
    where = f"file={_escape_property(file)}" + (f",line={line}" if line else "")
    return f"::{level} {where},title={_escape_property(title)}::{_escape_data(message)}"


def github_annotations(session: SessionResult) -> list[str]:
    """One GitHub Actions workflow command per problem, at the line of the
    failing expectation (or of the case, or of the diagnostic), so that the
    pull request shows it beside the YAML."""
    lines = [_annotation("error", d.file, d.line, d.code, d.message)
             for d in session.diagnostics if d.is_error]
    for file in session.files:
        if file.invalid:
            lines.extend(_annotation("error", d.file or file.path, d.line,
                                     f"{d.code} invalid test file", d.message)
                         for d in errors_only(file.diagnostics))
            continue
        for result in file.cases:
            if result.status == PASSED:
                continue
            line = next((m.line for m in result.mismatches if m.line), result.case.line)
            label = _LABELS[result.status]
            lines.append(_annotation("error", result.case.file or file.path, line,
                                     f"{label}: {result.case.name}", result.failure_text()))
    for coverage in session.coverage:
        if session.min_coverage is not None and \
                coverage.percent + 1e-9 < session.min_coverage:
            lines.append(_annotation(
                "error", coverage.ruleset_path, 0, "rule coverage",
                f"{coverage.percent:.1f}% of {coverage.ruleset_id}'s points exercised, below "
                f"{session.min_coverage:g}%; not exercised: {', '.join(coverage.missing)}"))
    lines.append(summary_line(session))
    return lines


def session_dict(session: SessionResult) -> dict[str, Any]:
    """The whole session as plain data (``highseas test --format json``)."""
    return {
        "exit_code": session.exit_code,
        "summary": {"passed": session.count(PASSED), "failed": session.count(FAILED),
                    "invalid": session.count(INVALID) + len(session.invalid_files),
                    "errors": session.count(ERROR), "seconds": round(session.seconds, 3)},
        "diagnostics": [d.to_dict() for d in session.diagnostics],
        "files": [{
            "path": file.path, "ruleset_path": file.ruleset_path,
            "ruleset": file.ruleset.company.id if file.ruleset else None,
            "invalid": file.invalid,
            "diagnostics": [d.to_dict() for d in file.diagnostics],
            "cases": [{
                "name": result.case.name, "file": result.case.file, "line": result.case.line,
                "status": result.status, "days_run": result.days_run,
                "seconds": round(result.seconds, 3), "message": result.message,
                "mismatches": [{
                    "kind": m.kind, "as_of": m.as_of.isoformat(), "customer": m.customer,
                    "rule": m.rule, "message": m.message, "engine": m.engine_reason,
                    "line": m.line,
                } for m in result.mismatches],
            } for result in file.cases],
        } for file in session.files],
        "coverage": [{
            "ruleset": c.ruleset_id, "ruleset_path": c.ruleset_path,
            "percent": round(c.percent, 1), "points": list(c.points),
            "missing": list(c.missing), "untested": c.untested,
            "invalid_test_files": invalid_test_files(c, session.files),
        } for c in session.coverage],
    }


def format_report(session: SessionResult, fmt: str) -> str:
    """The report of ``highseas test --format FMT`` (github or json; text is
    printed file by file as the run goes, by the CLI)."""
    if fmt == "github":
        return "\n".join(github_annotations(session))
    if fmt == "json":
        return json.dumps(session_dict(session), indent=2, ensure_ascii=False)
    return format_session(session)
