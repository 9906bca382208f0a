"""Render a :class:`~highseas.ruleset.validation.ValidationReport` for people and tools.

* ``text``: ``FILE:LINE:COL: error HS123 message (hint)``, then a summary;
* ``json``: a list of diagnostic objects;
* ``github``: workflow commands (``::error file=...,line=...,col=...::...``)
  that GitHub Actions shows as annotations at the real line;
* ``sarif``: SARIF 2.1.0 for code-scanning tools, the code as ``ruleId``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from highseas.codes import REGISTRY, RULESETS_DOC, title
from highseas.errors import Diagnostic, one_line
from highseas.ruleset.validation import ValidationReport

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
#: Help links are paths of the docs in the highseas repository, relative to
#: its top (docs/rulesets.md, "`highseas validate` in CI"): the repository has no
#: published address, and a code's doc is the one its registry entry names.
INFORMATION_URI = RULESETS_DOC


def help_uri(code: str) -> str:
    """The doc whose code table explains ``code`` (docs/rulesets.md when unknown)."""
    entry = REGISTRY.get(code)
    return entry.doc if entry is not None else RULESETS_DOC


def render_text(report: ValidationReport) -> str:
    """One line per diagnostic and a summary line."""
    lines = [one_line(d.format_text()) for d in report.diagnostics]
    lines.extend(f"note: {note}" for note in report.notes)
    checked = sum(1 for f in report.files if not f.skipped)
    summary = (f"{checked} file{'s' if checked != 1 else ''} checked: "
               f"{report.error_count} error{'s' if report.error_count != 1 else ''}, "
               f"{report.warning_count} warning{'s' if report.warning_count != 1 else ''}")
    if report.strict and report.warning_count:
        summary += " (--strict: warnings fail)"
    lines.append(summary)
    return "\n".join(lines)


def render_json(report: ValidationReport) -> str:
    """A JSON list of diagnostic objects (see :meth:`Diagnostic.to_dict`)."""
    return json.dumps([d.to_dict() for d in report.diagnostics], indent=2, ensure_ascii=False)


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def render_github(report: ValidationReport) -> str:
    """GitHub Actions workflow commands, one annotation per diagnostic."""
    lines = []
    for d in report.diagnostics:
        level = "error" if d.is_error else "warning"
        properties = [f"file={_escape_property(d.file)}"] if d.file else []
        if d.line:
            properties.append(f"line={d.line}")
            properties.append(f"col={d.column or 1}")
        properties.append(f"title={_escape_property(d.code + ' ' + title(d.code))}")
        message = f"{d.code} {d.message}"
        if d.hint:
            message += f" ({d.hint})"
        lines.append(f"::{level} {','.join(properties)}::{_escape_data(message)}")
    for note in report.notes:
        lines.append(f"::notice::{_escape_data(note)}")
    return "\n".join(lines)


def _uri(file: str) -> str:
    path = Path(file)
    if path.is_absolute():
        return path.as_uri()
    return path.as_posix()


def _sarif_result(d: Diagnostic) -> dict[str, object]:
    text = d.message + (f" ({d.hint})" if d.hint else "")
    location: dict[str, object] = {"artifactLocation": {"uri": _uri(d.file or "<input>")}}
    if d.line:
        location["region"] = {"startLine": d.line, "startColumn": d.column or 1}
    result: dict[str, object] = {
        "ruleId": d.code,
        "level": "error" if d.is_error else "warning",
        "message": {"text": text},
        "locations": [{"physicalLocation": location}],
    }
    if d.json_path:
        result["properties"] = {"jsonPath": d.json_path}
    return result


def render_sarif(report: ValidationReport) -> str:
    """A SARIF 2.1.0 log with one run of the ``highseas`` tool."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        tool_version = version("highseas")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        tool_version = "0"
    diagnostics = report.diagnostics
    codes = sorted({d.code for d in diagnostics})
    rules = [
        {"id": code, "name": code, "shortDescription": {"text": title(code)},
         "helpUri": help_uri(code)}
        for code in codes
    ]
    log = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "highseas", "version": tool_version,
                                "informationUri": INFORMATION_URI, "rules": rules}},
            "results": [_sarif_result(d) for d in diagnostics],
        }],
    }
    return json.dumps(log, indent=2, ensure_ascii=False)


RENDERERS: dict[str, Callable[[ValidationReport], str]] = {
    "text": render_text,
    "json": render_json,
    "github": render_github,
    "sarif": render_sarif,
}


def render(report: ValidationReport, fmt: str) -> str:
    """Render ``report`` in format ``fmt`` (text, json, github or sarif)."""
    return RENDERERS[fmt](report)
