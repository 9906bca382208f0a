"""The test file format: discovering, loading and checking test files.

A test file (``<name>.tests.yaml`` beside ``<name>.yaml``) holds cases; each
case gives small facts tables (inline rows or ``{csv: file.csv}``), one
as-of day or a sequence of days, and the decisions the nightly run must (or
must not) make. The reference is docs/testing.md; the JSON Schema is
``schemas/ruleset-tests.schema.json``.

Loading has three stages, each reporting every problem it finds, as for
rulesets: the safe YAML loader (HS1xx), the JSON Schema (HS2xx, with the
ruleset schema's error mapping) and the checks here (HS6xx): references to
customers, salespeople, rules and pools, real dates, CSV files. The typed
form is in :mod:`highseas.testfile.cases`, the schema in
:mod:`highseas.testfile.schema`; the checker reads facts rows with
:mod:`highseas.testfile.fact_rows` and checks references with
:mod:`highseas.testfile.references`.

This module imports neither duckdb nor durable-rules (``highseas validate``
uses it); running cases lives in :mod:`highseas.testing.run`.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

from highseas import codes
from highseas.errors import Diagnostic, InvalidInputError, Severity, errors_only
from highseas.ruleset.loader import load_ruleset_with_diagnostics
from highseas.ruleset.model import Ruleset
from highseas.ruleset.yaml_loader import (
    LoadedYaml,
    join_index,
    join_key,
    load_yaml_text,
    nearest_position,
    read_bytes,
)
from highseas.testfile.cases import (
    CATEGORY_ACTIONS,
    REP_KEYS,
    Case,
    ClaimCheck,
    Day,
    Entry,
    Expectation,
    Row,
    TestFile,
)
from highseas.testfile.fact_rows import COLUMNS, FactRowReader
from highseas.testfile.references import CaseReferences
from highseas.testfile.schema import schema_diagnostics, tests_schema

__all__ = [
    "TEST_SUFFIXES", "check_case_mapping", "default_ruleset_path", "is_test_file",
    "load_test_file", "load_test_file_with_diagnostics", "tests_schema", "validate_test_file",
]

TEST_SUFFIXES = (".tests.yaml", ".tests.yml")


# --------------------------------------------------------------------------
# Discovery helpers
# --------------------------------------------------------------------------


def is_test_file(path: str | Path) -> bool:
    """Whether ``path`` is named like a test file (``*.tests.yaml`` / ``*.tests.yml``)."""
    return str(path).endswith(TEST_SUFFIXES)


def default_ruleset_path(test_path: str | Path) -> Path:
    """``x.tests.yaml`` -> ``x.yaml`` (or ``x.yml`` when only that exists)."""
    path = Path(test_path)
    name = path.name
    for suffix in TEST_SUFFIXES:
        if name.endswith(suffix):
            stem = name[: -len(suffix)]
            yaml_path = path.with_name(stem + ".yaml")
            yml_path = path.with_name(stem + ".yml")
            return yml_path if not yaml_path.exists() and yml_path.exists() else yaml_path
    return path.with_name(path.stem + ".yaml")


# --------------------------------------------------------------------------
# The checker / builder
# --------------------------------------------------------------------------


class _Checker(FactRowReader, CaseReferences):
    """Builds the typed cases from schema-valid data, collecting diagnostics."""

    def __init__(self, loaded: LoadedYaml, ruleset: Ruleset | None, base_dir: Path) -> None:
        self.loaded = loaded
        self.positions = loaded.positions
        self.file = loaded.file
        self.ruleset = ruleset
        self.base_dir = base_dir
        self.diagnostics: list[Diagnostic] = []
        self.csv_cache: dict[str, tuple[Row, ...]] = {}

    # diagnostics ------------------------------------------------------------
    def error(self, code: str, message: str, path: str, hint: str = "",
              severity: Severity = Severity.ERROR) -> None:
        line, column = nearest_position(self.positions, path)
        self.diagnostics.append(Diagnostic(code=code, message=message, file=self.file,
                                           line=line, column=column, json_path=path,
                                           hint=hint, severity=severity))

    def line(self, path: str) -> int:
        return nearest_position(self.positions, path)[0]

    # the file ---------------------------------------------------------------
    def test_file(self, data: dict[str, Any]) -> tuple[Case, ...]:
        background: dict[str, tuple[Row, ...]] = {}
        for table in COLUMNS:
            if table in data.get("background", {}):
                background[table] = self.rows(table, data["background"][table],
                                              f"$.background.{table}")
        cases: list[Case] = []
        names: dict[str, int] = {}
        for index, item in enumerate(data["cases"]):
            path = f"$.cases[{index}]"
            name = item["name"]
            if name in names:
                self.error(codes.CASE_NAME_TWICE,
                           f"case name {name!r} is used twice (first at line "
                           f"{names[name]})", join_key(path, "name"),
                           "give every case its own name")
            else:
                names[name] = self.line(path)
            case = self.case(item, path, background)
            if case is not None:
                cases.append(case)
        return tuple(cases)

    def case(self, item: dict[str, Any], path: str,
             background: dict[str, tuple[Row, ...]]) -> Case | None:
        tables: dict[str, tuple[Row, ...]] = {}
        for table in COLUMNS:
            own = self.rows(table, item[table], join_key(path, table)) if table in item else ()
            base = background.get(table, ())
            if table in ("reps", "customers"):
                key = "rep_id" if table == "reps" else "customer_id"
                own_ids = {row.values.get(key) for row in own}
                base = tuple(row for row in base if row.values.get(key) not in own_ids)
            tables[table] = base + own
        days: list[Day] = []
        if "days" in item:
            for key in ("as_of", "expect", "claims"):
                if key in item:
                    self.error(codes.KEYS_DO_NOT_GO_TOGETHER,
                               f"{key!r} beside 'days': a multi-day case gives "
                               f"{key} inside each day", join_key(path, key),
                               "move it into the day it belongs to")
            for i, day_item in enumerate(item["days"]):
                day = self.day_of(day_item, join_index(join_key(path, "days"), i))
                if day is not None:
                    days.append(day)
        else:
            day = self.day_of(item, path, facts=False)
            if day is not None:
                days.append(day)
        case = Case(
            name=item["name"], days=tuple(days), reps=tables["reps"],
            customers=tables["customers"], activities=tables["activities"],
            orders=tables["orders"], description=item.get("description", ""), file=self.file,
            json_path=path, line=self.line(path),
        )
        self.check_case(case)
        return case if days else None

    def day_of(self, item: dict[str, Any], path: str, facts: bool = True) -> Day | None:
        as_of = self.day(item["as_of"], join_key(path, "as_of"))
        if as_of is None:
            return None
        activities: tuple[Row, ...] = ()
        orders: tuple[Row, ...] = ()
        if facts:
            if "activities" in item:
                activities = self.rows("activities", item["activities"],
                                       join_key(path, "activities"))
            if "orders" in item:
                orders = self.rows("orders", item["orders"], join_key(path, "orders"))
        claims = tuple(self.claim(c, join_index(join_key(path, "claims"), i))
                       for i, c in enumerate(item.get("claims", [])))
        expect = None
        if "expect" in item:
            expect = self.expectation(item["expect"], join_key(path, "expect"))
        return Day(as_of, activities, orders, claims, expect, json_path=path,
                   line=self.line(path))

    def claim(self, item: dict[str, Any], path: str) -> ClaimCheck:
        reasons = item.get("reason", ())
        if isinstance(reasons, str):
            reasons = (reasons,)
        if item["allowed"] and reasons:
            self.error(codes.KEYS_DO_NOT_GO_TOGETHER, "'reason' on a claim expected to be allowed",
                       join_key(path, "reason"), "reasons describe refusals; remove it or "
                       "set allowed: false")
        return ClaimCheck(str(item["rep"]), str(item["customer"]), bool(item["allowed"]),
                          tuple(reasons), bool(item.get("record", True)), json_path=path,
                          line=self.line(path))

    def expectation(self, item: dict[str, Any], path: str) -> Expectation:
        entries: list[Entry] = []
        for category in CATEGORY_ACTIONS:
            for i, value in enumerate(item.get(category, [])):
                entries.append(self.entry(category, value,
                                          join_index(join_key(path, category), i)))
        forbidden: list[Entry] = []
        for category in CATEGORY_ACTIONS:
            for i, value in enumerate(item.get("none", {}).get(category, [])):
                forbidden.append(self.entry(
                    category, value, join_index(join_key(join_key(path, "none"), category), i)))
        untouched = tuple(str(c) for c in item.get("untouched", []))
        return Expectation(item.get("match", "exact"), tuple(entries), tuple(forbidden),
                           untouched, json_path=path, line=self.line(path))

    def entry(self, category: str, value: Any, path: str) -> Entry:
        if not isinstance(value, dict):
            return Entry(category, str(value), json_path=path, line=self.line(path))
        fields = tuple(
            (key, str(item) if key in REP_KEYS else item)
            for key, item in value.items() if key not in ("customer", "reason")
        )
        return Entry(category, str(value["customer"]), fields, value.get("reason"),
                     json_path=path, line=self.line(path))


# --------------------------------------------------------------------------
# Entry points
# --------------------------------------------------------------------------


def load_test_file_with_diagnostics(
    path: str | Path,
) -> tuple[TestFile | None, list[Diagnostic]]:
    """Read and check a test file and its ruleset; never raises for bad content.

    Returns the test file (None when it has errors) and every diagnostic
    (errors and warnings) of the test file, its CSV files and, summarised,
    its ruleset.
    """
    file = str(path)
    try:
        loaded = load_yaml_text(read_bytes(path), file=file)
    except InvalidInputError as error:
        return None, list(error.diagnostics)
    problems = schema_diagnostics(loaded.data, loaded.positions, file)
    if errors_only(problems):
        return None, problems
    data: dict[str, Any] = loaded.data
    base_dir = Path(path).parent
    ruleset_path, ruleset, ruleset_problems = _ruleset_of(path, data, loaded)
    checker = _Checker(loaded, ruleset, base_dir)
    checker.diagnostics.extend(ruleset_problems)
    cases = checker.test_file(data)
    diagnostics = problems + sorted(
        checker.diagnostics, key=lambda d: (d.file != file, d.file, d.line, d.column, d.code))
    if ruleset is None or errors_only(diagnostics):
        return None, diagnostics
    warnings = tuple(d for d in diagnostics if not d.is_error)
    return TestFile(file, str(ruleset_path), ruleset, cases, warnings), diagnostics


def _ruleset_of(
    path: str | Path, data: dict[str, Any], loaded: LoadedYaml
) -> tuple[Path, Ruleset | None, list[Diagnostic]]:
    file = str(path)
    if "ruleset" in data:
        ruleset_path = Path(path).parent / data["ruleset"]
        where = "$.ruleset"
    else:
        ruleset_path = default_ruleset_path(path)
        where = "$"
    line, column = loaded.position(where)

    def problem(message: str, hint: str) -> list[Diagnostic]:
        return [Diagnostic(code=codes.TEST_RULESET_INVALID,
                           message=message, file=file, line=line, column=column,
                           json_path=where, hint=hint)]

    if not ruleset_path.is_file():
        hint = ("add 'ruleset: <file>.yaml' naming the ruleset under test" if where == "$"
                else "the path is relative to the test file")
        return ruleset_path, None, problem(f"the ruleset {ruleset_path} does not exist", hint)
    try:
        ruleset, diagnostics = load_ruleset_with_diagnostics(ruleset_path)
    except InvalidInputError as error:
        return ruleset_path, None, problem(f"cannot read the ruleset {ruleset_path}",
                                           error.first.message)
    errors = errors_only(diagnostics)
    if ruleset is None or errors:
        first = errors[0].format_text() if errors else "it does not load"
        return ruleset_path, None, problem(
            f"the ruleset {ruleset_path} is invalid ({len(errors)} error(s)); cases cannot "
            "be checked against it", f"first: {first}; run 'highseas validate' on it")
    return ruleset_path, ruleset, []


def validate_test_file(path: str | Path) -> list[Diagnostic]:
    """Every diagnostic of a test file (used by ``highseas validate``)."""
    try:
        return load_test_file_with_diagnostics(path)[1]
    except InvalidInputError as error:
        return list(error.diagnostics)


def load_test_file(path: str | Path) -> TestFile:
    """Load a test file; raise :class:`InvalidInputError` with all its errors."""
    test_file, diagnostics = load_test_file_with_diagnostics(path)
    if test_file is None:
        raise InvalidInputError(errors_only(diagnostics) or diagnostics)
    return test_file


def _plain(value: Any) -> Any:
    """Python dates inside a case mapping, as the ISO text the format uses."""
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def check_case_mapping(ruleset: Ruleset, data: dict[str, Any], file: str = "<python>",
                       base_dir: Path | None = None) -> Case:
    """One case given as a mapping (an item of ``cases:``), checked like a
    file against ``ruleset``; raise :class:`InvalidInputError` with every error."""
    document = {"version": 1, "cases": [_plain(data)]}
    loaded = LoadedYaml(document, {"$": (1, 1)}, file=file)
    problems = errors_only(schema_diagnostics(document, loaded.positions, file))
    if problems:
        raise InvalidInputError(problems)
    checker = _Checker(loaded, ruleset, base_dir or Path.cwd())
    cases = checker.test_file(document)
    problems = errors_only(checker.diagnostics)
    if problems or not cases:
        raise InvalidInputError(problems or [Diagnostic(code=codes.KEYS_DO_NOT_GO_TOGETHER,
                                                        message="no day to run",
                                                        file=file)])
    return cases[0]
