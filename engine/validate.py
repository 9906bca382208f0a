"""Checking rulesets and test files without loading the engine.

The light facade of ``highseas validate`` and ``highseas schema`` (and of
:func:`highseas.api.validate`): it composes the ruleset checks of
:mod:`highseas.ruleset` with the test-file checks of :mod:`highseas.testfile`
and imports nothing that runs rules (no nightly, testing, simulate, store),
so a CI job that validates one file starts in a blink.

May import: ``highseas.ruleset``, ``highseas.testfile`` and the foundation
(errors, codes, suggestions).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from highseas import codes, testfile
from highseas.errors import InvalidInputError
from highseas.ruleset.project import ProjectConfig, find_config
from highseas.ruleset.reporters import render
from highseas.ruleset.schema import schema_text
from highseas.ruleset.validation import ValidationReport, validate_paths

PathLike = str | os.PathLike[str]

__all__ = [
    "ProjectConfig", "configured_paths", "find_config", "format_validation",
    "ruleset_schema_text", "validate",
]


def validate(paths: Sequence[PathLike], *, strict: bool = False) -> ValidationReport:
    """Validate rulesets and test files; all diagnostics of all files. Test
    files (``*.tests.yaml``) are checked by :mod:`highseas.testfile`."""
    return validate_paths([str(p) for p in paths], strict=strict,
                          validate_tests=testfile.validate_test_file)


def format_validation(report: ValidationReport, fmt: str = "text") -> str:
    """``report`` as ``highseas validate`` prints it: text, json, github or sarif."""
    return render(report, fmt)


def ruleset_schema_text() -> str:
    """The JSON Schema of rulesets (draft 2020-12), as shipped in the package."""
    return schema_text()


def configured_paths(config: ProjectConfig) -> list[Path]:
    """The files ``highseas validate`` checks when given no path: the project's
    rulesets and test files (never another YAML file of the project)."""
    files = [*config.ruleset_files(), *config.test_files()]
    if not files:
        raise InvalidInputError(
            f"the rulesets and tests globs of {config.source} match no file",
            code=codes.NO_YAML_FILES, file=str(config.source),
            hint="fix the rulesets and tests globs, or give the paths to check",
        )
    return files
