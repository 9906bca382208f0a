"""The project configuration: which files are rulesets and which are tests.

Read from ``highseas.toml`` (its top level) or from the ``[tool.highseas]``
table of ``pyproject.toml``, in the current directory or the nearest one
above it that has either (``highseas.toml`` first, in each directory)::

    [tool.highseas]
    rulesets = ["rulesets/*.yaml"]       # globs, relative to the file's folder
    tests = ["rulesets/*.tests.yaml"]
    exclude = ["mkdocs.yml", "vendor/**"]
    strict = true                        # validate: warnings fail too
    min_coverage = 90                    # test: as --min-coverage

Commands given paths ignore it; without paths they use it. A ruleset glob
never yields a test file (``*.tests.yaml``), and excluded paths are never
read. Reference: docs/cli.md, "Project configuration".
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

from highseas import codes
from highseas.errors import InvalidInputError
from highseas.suggestions import did_you_mean

#: The tool's name: the configuration file is named after it, and so is its
#: table in pyproject.toml.
TOOL = "highseas"
CONFIG_FILE = f"{TOOL}.toml"
PYPROJECT = "pyproject.toml"
_KEYS = ("rulesets", "tests", "exclude", "strict", "min_coverage")
_TEST_SUFFIXES = (".tests.yaml", ".tests.yml")


@dataclass(frozen=True)
class ProjectConfig:
    """The settings of one project; globs are relative to ``root``."""

    root: Path
    source: Path
    rulesets: tuple[str, ...] = ("rulesets/*.yaml", "rulesets/*.yml")
    tests: tuple[str, ...] = ("rulesets/*.tests.yaml", "rulesets/*.tests.yml")
    exclude: tuple[str, ...] = ()
    strict: bool = False
    min_coverage: float | None = None

    def excluded(self, path: Path) -> bool:
        relative = path.resolve().relative_to(self.root.resolve()).as_posix()
        parts = relative.split("/")
        prefixes = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
        return any(fnmatch(prefix, pattern.rstrip("/")) or fnmatch(relative, pattern)
                   for pattern in self.exclude for prefix in prefixes)

    def _matching(self, patterns: tuple[str, ...]) -> list[Path]:
        found: dict[Path, None] = {}
        for pattern in patterns:
            for path in sorted(self.root.glob(pattern)):
                if path.is_file() and not self.excluded(path):
                    found.setdefault(path, None)
        return list(found)

    def ruleset_files(self) -> list[Path]:
        """The rulesets of the project (never a test file)."""
        return [p for p in self._matching(self.rulesets) if not p.name.endswith(_TEST_SUFFIXES)]

    def test_files(self) -> list[Path]:
        return [p for p in self._matching(self.tests) if p.name.endswith(_TEST_SUFFIXES)]


def _error(source: Path, message: str, hint: str = "") -> InvalidInputError:
    return InvalidInputError(message, code=codes.PROJECT_CONFIG_INVALID, file=str(source),
                             hint=hint)


def _strings(source: Path, key: str, value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise _error(source, f"{key} must be a list of glob patterns (text)",
                     f'e.g. {key} = ["rulesets/*.yaml"]')
    return tuple(value)


def config_from_table(table: dict[str, Any], source: Path) -> ProjectConfig:
    """Check one ``[tool.highseas]`` table (or a ``highseas.toml``)."""
    for key in table:
        if key not in _KEYS:
            raise _error(source, f"unknown key {key!r} in the highseas configuration",
                         did_you_mean(key, _KEYS) or f"keys: {', '.join(_KEYS)}")
    defaults = ProjectConfig(source.parent, source)
    strict = table.get("strict", False)
    if not isinstance(strict, bool):
        raise _error(source, "strict must be true or false")
    minimum = table.get("min_coverage")
    if minimum is not None and (isinstance(minimum, bool) or not isinstance(
            minimum, (int, float)) or not 0 <= minimum <= 100):
        raise _error(source, "min_coverage must be a number from 0 to 100")
    return ProjectConfig(
        root=source.parent, source=source,
        rulesets=_strings(source, "rulesets", table.get("rulesets", list(defaults.rulesets))),
        tests=_strings(source, "tests", table.get("tests", list(defaults.tests))),
        exclude=_strings(source, "exclude", table.get("exclude", [])),
        strict=strict, min_coverage=float(minimum) if minimum is not None else None,
    )


def _read(source: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(source.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise _error(source, f"cannot read the configuration: {error}") from None


def find_config(start: str | Path | None = None) -> ProjectConfig | None:
    """The configuration of the nearest directory, from ``start`` (default:
    the current directory) upward, that has one; None when none has."""
    here = Path(start or Path.cwd()).resolve()
    for directory in (here, *here.parents):
        own = directory / CONFIG_FILE
        if own.is_file():
            return config_from_table(_read(own), own)
        pyproject = directory / PYPROJECT
        if pyproject.is_file():
            table = _read(pyproject).get("tool", {}).get(TOOL)
            if isinstance(table, dict):
                return config_from_table(table, pyproject)
    return None
