"""The test file format: loading, validating and the typed form of test cases.

A test file (``<name>.tests.yaml`` beside ``<name>.yaml``) holds cases; each
case gives small facts tables (inline rows or ``{csv: file.csv}``), one
as-of day or a sequence of days, and the decisions the nightly run must (or
must not) make. The reference is docs/testing.md; the JSON Schema is
``schemas/ruleset-tests.schema.json``.

Loading has three stages, each reporting every problem it finds, as for
rulesets: the safe YAML loader (HS1xx), the JSON Schema (HS2xx, with the
ruleset schema's error mapping) and the checks here (HS6xx): references to
customers, salespeople, rules and pools, real dates, CSV files.

This module imports neither duckdb nor durable-rules (``highseas validate``
uses it); running cases lives in :mod:`highseas.testing.run`.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from highseas import codes
from highseas.errors import Diagnostic, InvalidInputError, Severity, errors_only
from highseas.ruleset.loader import load_ruleset_with_diagnostics
from highseas.ruleset.model import Ruleset
from highseas.ruleset.schema import (
    SchemaErrorMapper,
    matches_json_type,
    packaged_schema,
    packaged_schema_text,
)
from highseas.ruleset.yaml_loader import (
    LoadedYaml,
    join_index,
    join_key,
    load_yaml_text,
    nearest_position,
    read_bytes,
)
from highseas.suggestions import did_you_mean

SCHEMA_FILE = "ruleset-tests.schema.json"
TEST_SUFFIXES = (".tests.yaml", ".tests.yml")

#: Expectation category -> decision action of :mod:`highseas.nightly.plan`.
CATEGORY_ACTIONS: dict[str, str] = {
    "released": "release",
    "reminded": "remind",
    "trimmed": "trim",
    "assigned": "assign",
    "relayed": "relay",
    "relay_ended": "relay_end",
    "unassigned": "unassigned",
}
ACTION_CATEGORIES = {action: category for category, action in CATEGORY_ACTIONS.items()}
#: Expectation category -> entry key -> attribute of the decision (or Unassigned).
ENTRY_FIELDS: dict[str, dict[str, str]] = {
    "released": {"rule": "rule_id", "pool": "to_pool_id", "from": "from_rep_id"},
    "reminded": {"rule": "rule_id", "days_left": "days_left", "rep": "to_rep_id"},
    "trimmed": {"rule": "rule_id", "from": "from_rep_id", "to": "to_rep_id", "pool": "to_pool_id"},
    "assigned": {"to": "to_rep_id", "rule": "rule_id", "pool": "from_pool_id"},
    "relayed": {"to": "to_rep_id", "rule": "rule_id", "round": "relay_round",
                "from": "from_rep_id"},
    "relay_ended": {"rule": "rule_id", "rep": "to_rep_id"},
    "unassigned": {"pool": "pool_id", "rule": "rule_id"},
}
_REP_KEYS = frozenset({"from", "to", "rep"})


# --------------------------------------------------------------------------
# The typed form
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """One fact row, with store column names and typed values."""

    values: dict[str, Any]
    json_path: str = ""
    file: str = ""
    line: int = 0


@dataclass(frozen=True)
class Entry:
    """One expected (or forbidden) decision: a category, a customer and the
    fields it must have (entry keys such as ``rule``, ``pool``, ``to``)."""

    category: str
    customer: str
    fields: tuple[tuple[str, Any], ...] = ()
    reason: str | None = None
    json_path: str = ""
    line: int = 0

    def describe(self) -> str:
        """``released c1 (rule no-idle, pool emea-pool)``."""
        parts = [f"{key} {value}" for key, value in self.fields]
        if self.reason:
            parts.append(f"reason containing {self.reason!r}")
        detail = f" ({', '.join(parts)})" if parts else ""
        return f"{self.category.replace('_', ' ')} {self.customer}{detail}"


@dataclass(frozen=True)
class Expectation:
    """What one nightly run must decide."""

    match: str = "exact"
    entries: tuple[Entry, ...] = ()
    forbidden: tuple[Entry, ...] = ()
    untouched: tuple[str, ...] = ()
    json_path: str = ""
    line: int = 0


@dataclass(frozen=True)
class ClaimCheck:
    """A claim made during a day, before its nightly run, and the expected answer."""

    rep: str
    customer: str
    allowed: bool
    reasons: tuple[str, ...] = ()
    record: bool = True
    json_path: str = ""
    line: int = 0


@dataclass(frozen=True)
class Day:
    """One day of a case: new facts, claims, then the nightly run for ``as_of``."""

    as_of: date
    activities: tuple[Row, ...] = ()
    orders: tuple[Row, ...] = ()
    claims: tuple[ClaimCheck, ...] = ()
    expect: Expectation | None = None
    json_path: str = ""
    line: int = 0


@dataclass(frozen=True)
class Case:
    """One test case: facts tables and the day(s) to run."""

    name: str
    days: tuple[Day, ...]
    reps: tuple[Row, ...] = ()
    customers: tuple[Row, ...] = ()
    activities: tuple[Row, ...] = ()
    orders: tuple[Row, ...] = ()
    description: str = ""
    file: str = ""
    json_path: str = ""
    line: int = 0

    @property
    def test_id(self) -> str:
        """``file::name``: what ``-k`` matches and JUnit reports."""
        return f"{self.file}::{self.name}"


@dataclass(frozen=True)
class TestFile:
    """A loaded, checked test file with its ruleset."""

    __test__ = False  # not a pytest test class, despite its name

    path: str
    ruleset_path: str
    ruleset: Ruleset
    cases: tuple[Case, ...]
    warnings: tuple[Diagnostic, ...] = field(default_factory=tuple)


# --------------------------------------------------------------------------
# Schema
# --------------------------------------------------------------------------


def schema_text() -> str:
    """The test file JSON Schema, as shipped in the package."""
    return packaged_schema_text(SCHEMA_FILE)


def tests_schema() -> dict[str, Any]:
    """The test file JSON Schema as a dictionary."""
    return packaged_schema(SCHEMA_FILE)


@lru_cache(maxsize=8)
def _validator(definition: str | None = None) -> Any:
    from jsonschema import Draft202012Validator

    validator = Draft202012Validator(tests_schema())
    if definition is None:
        return validator
    return validator.evolve(schema=tests_schema()["$defs"][definition])


def schema_diagnostics(
    data: object, positions: dict[str, tuple[int, int]], file: str = "",
    definition: str | None = None,
) -> list[Diagnostic]:
    """Validate ``data`` against the test file schema (or one of its
    ``$defs``), reported at YAML lines with the ruleset schema's wording."""
    # The ruleset schema module owns the jsonschema-error -> Diagnostic mapping;
    # local references resolve against the test file schema.
    mapper = SchemaErrorMapper(positions, file, root_schema=tests_schema())
    found: list[Diagnostic] = []
    seen: set[tuple[str, str, str]] = set()
    for error in _validator(definition).iter_errors(data):
        for diagnostic in mapper.convert(error):
            key = (diagnostic.code, diagnostic.json_path, diagnostic.message)
            if key not in seen:
                seen.add(key)
                found.append(diagnostic)
    return sorted(found, key=lambda d: (d.line, d.column, d.code))


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
# Facts columns
# --------------------------------------------------------------------------

#: table -> (YAML key, store column) for every row key.
_COLUMNS: dict[str, tuple[tuple[str, str], ...]] = {
    "reps": (
        ("id", "rep_id"), ("name", "name"), ("hired_on", "hired_on"), ("tier", "tier"),
        ("regions", "regions"), ("team", "team"), ("active", "active"),
        ("away_from", "away_from"), ("away_until", "away_until"), ("weight", "weight"),
    ),
    "customers": (
        ("id", "customer_id"), ("name", "name"), ("country", "country"), ("region", "region"),
        ("source", "source"), ("stage", "stage"), ("tags", "tags"), ("level", "level"),
        ("attributes", "attributes"), ("created_at", "created_at"), ("owner", "owner_rep_id"),
        ("pool", "pool_id"), ("owned_since", "owned_since"),
    ),
    "activities": (
        ("id", "activity_id"), ("customer", "customer_id"), ("rep", "rep_id"), ("at", "at"),
        ("kind", "kind"),
    ),
    "orders": (
        ("id", "order_id"), ("customer", "customer_id"), ("rep", "rep_id"),
        ("placed_at", "placed_at"), ("amount", "amount"), ("status", "status"),
    ),
}
_DEFINITION = {"reps": "rep", "customers": "customer", "activities": "activity",
               "orders": "order"}
_DATE_KEYS = frozenset({"hired_on", "away_from", "away_until"})
_TIME_KEYS = frozenset({"created_at", "owned_since", "at", "placed_at"})
_ID_KEYS = frozenset({"id", "customer", "rep", "owner"})
#: CSV column kinds besides text.
_CSV_KINDS: dict[str, str] = {
    "regions": "list", "tags": "list", "active": "bool", "weight": "int", "level": "int",
    "amount": "number", "attributes": "json",
}


def _csv_aliases(table: str) -> dict[str, str]:
    """Store column names accepted in CSV headers, so facts files can be reused."""
    aliases = {column: key for key, column in _COLUMNS[table] if column != key}
    if table in ("activities", "orders"):
        aliases["customer_id"] = "customer"
        aliases["rep_id"] = "rep"
    return aliases


# --------------------------------------------------------------------------
# The checker / builder
# --------------------------------------------------------------------------


class _Checker:
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

    # values -----------------------------------------------------------------
    def day(self, text: str, path: str) -> date | None:
        try:
            return date.fromisoformat(text)
        except ValueError:
            self.error(codes.NOT_A_REAL_DATE, f"{text!r} is not a real date", path,
                       "write YYYY-MM-DD with a month of 01-12 and a day that exists")
            return None

    def moment(self, text: str, path: str) -> datetime | None:
        try:
            return datetime.fromisoformat(text)
        except ValueError:
            self.error(codes.NOT_A_REAL_DATE, f"{text!r} is not a real date or time", path,
                       "write YYYY-MM-DD or YYYY-MM-DD HH:MM")
            return None

    # rows -------------------------------------------------------------------
    def rows(self, table: str, data: Any, path: str) -> tuple[Row, ...]:
        if isinstance(data, dict):
            return self.csv_rows(table, data["csv"], join_key(path, "csv"))
        return tuple(self.row(table, item, join_index(path, i), self.file,
                              self.line(join_index(path, i)), self.error)
                     for i, item in enumerate(data))

    def row(self, table: str, item: dict[str, Any], path: str, file: str, line: int,
            report: Any) -> Row:
        values: dict[str, Any] = {}
        for key, column in _COLUMNS[table]:
            if key not in item:
                continue
            value = item[key]
            where = join_key(path, key)
            if value is not None and key in _ID_KEYS:
                value = str(value)
            elif isinstance(value, str) and key in _DATE_KEYS:
                value = self._typed(date.fromisoformat, value, where, report, "date")
            elif isinstance(value, str) and key in _TIME_KEYS:
                value = self._typed(datetime.fromisoformat, value, where, report, "date or time")
            values[column] = value
        return Row(values, json_path=path, file=file, line=line)

    def _typed(self, parse: Any, value: str, where: str, report: Any, what: str) -> Any:
        try:
            return parse(value)
        except ValueError:
            report(codes.NOT_A_REAL_DATE, f"{value!r} is not a real {what}", where,
                   "write YYYY-MM-DD (and optionally HH:MM) with a month and day that exist")
            return None

    def csv_rows(self, table: str, name: str, path: str) -> tuple[Row, ...]:
        csv_path = self.base_dir / name
        key = f"{table}:{csv_path}"
        if key in self.csv_cache:
            return self.csv_cache[key]
        try:
            raw = read_bytes(csv_path)
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            self.error(codes.CSV_UNREADABLE,
                       f"{name} is not UTF-8 text", path, "save the CSV file as UTF-8")
            return ()
        except Exception as problem:  # InvalidInputError from read_bytes
            message = getattr(problem, "first", None)
            reason = message.message if message is not None else str(problem)
            self.error(codes.CSV_UNREADABLE, f"cannot read {name}: {reason}", path,
                       f"the path is relative to the test file ({self.base_dir})")
            return ()
        rows = self._parse_csv(table, text, str(csv_path), path)
        self.csv_cache[key] = rows
        return rows

    def _parse_csv(self, table: str, text: str, csv_file: str, ref_path: str) -> tuple[Row, ...]:
        reader = csv.reader(io.StringIO(text, newline=""))
        records: list[list[str]] = []
        lines: list[int] = []
        try:
            start = 1
            for record in reader:
                records.append(record)
                lines.append(start)
                start = reader.line_num + 1
        except csv.Error as problem:
            self.error(codes.INVALID_CSV_VALUE,
                       f"{Path(csv_file).name}: malformed CSV ({problem})", ref_path)
            return ()
        if not records:
            self.error(codes.CSV_COLUMN,
                       f"{Path(csv_file).name} is empty (no header row)", ref_path)
            return ()
        allowed = [key for key, _ in _COLUMNS[table]]
        aliases = _csv_aliases(table)
        custom = {f.name: f.type for f in self.ruleset.custom_fields} if self.ruleset else {}

        def report(code: str, message: str, where: str, hint: str = "") -> None:
            line, _ = nearest_position(positions, where)
            self.diagnostics.append(Diagnostic(code=code, message=message, file=csv_file,
                                               line=line, column=1, json_path=where, hint=hint))

        header: list[str | None] = []
        for index, raw_name in enumerate(records[0]):
            name = aliases.get(raw_name.strip(), raw_name.strip())
            if name in allowed or name in custom:
                header.append(name)
                continue
            header.append(None)
            hint = did_you_mean(name, [*allowed, *custom]) or (
                "columns: " + ", ".join(allowed) + (" and the ruleset's custom fields"
                                                    if custom else ""))
            self.diagnostics.append(Diagnostic(
                code=codes.CSV_COLUMN, message=f"unknown column {raw_name!r} (column {index + 1})",
                file=csv_file, line=1, column=1, hint=hint))
        present = [c for c in header if c is not None]
        for repeated in sorted({c for c in present if present.count(c) > 1}):
            self.diagnostics.append(Diagnostic(
                code=codes.CSV_COLUMN, message=f"column {repeated!r} appears twice in the header",
                file=csv_file, line=1, column=1, hint="keep one of them"))
        required = tests_schema()["$defs"][_DEFINITION[table]]["required"]
        missing = [key for key in required if key not in present]
        if missing:
            self.diagnostics.append(Diagnostic(
                code=codes.CSV_COLUMN,
                message="missing column(s) " + ", ".join(repr(m) for m in missing),
                file=csv_file, line=1, column=1,
                hint=f"{table} rows need: {', '.join(required)}"))
            return ()
        rows: list[Row] = []
        positions: dict[str, tuple[int, int]] = {}
        for number, record in enumerate(records[1:], start=1):
            if not any(cell.strip() for cell in record):
                continue
            line = lines[number]
            item_path = f"$[{number - 1}]"
            positions[item_path] = (line, 1)
            if len(record) != len(records[0]):
                report(codes.INVALID_CSV_VALUE,
                       f"row {number} has {len(record)} values, the header "
                       f"{len(records[0])}", item_path)
                continue
            item: dict[str, Any] = {}
            attributes: dict[str, Any] = {}
            for column, raw_cell in zip(header, record, strict=True):
                cell = raw_cell.strip()
                if column is None or cell == "":
                    continue
                positions[join_key(item_path, column)] = (line, 1)
                if column in custom and column not in allowed:
                    attributes[column] = _csv_custom(cell, custom[column])
                    continue
                item[column] = _csv_value(cell, _CSV_KINDS.get(column, "text"))
            if attributes:
                given = item.get("attributes")
                merged = dict(given) if isinstance(given, dict) else {}
                merged.update(attributes)
                item["attributes"] = merged
            problems = schema_diagnostics(item, {"$": (line, 1)}, csv_file, _DEFINITION[table])
            if problems:
                self.diagnostics.extend(_relocate(problem, number) for problem in problems)
                continue
            rows.append(self.row(table, item, item_path, csv_file, line, report))
        return tuple(rows)

    # the file ---------------------------------------------------------------
    def test_file(self, data: dict[str, Any]) -> tuple[Case, ...]:
        background: dict[str, tuple[Row, ...]] = {}
        for table in _COLUMNS:
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
        for table in _COLUMNS:
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
            (key, str(item) if key in _REP_KEYS else item)
            for key, item in value.items() if key not in ("customer", "reason")
        )
        return Entry(category, str(value["customer"]), fields, value.get("reason"),
                     json_path=path, line=self.line(path))

    # semantic checks ----------------------------------------------------------
    def check_case(self, case: Case) -> None:
        reps = self._unique(case.reps, "rep_id", "salesperson")
        customers = self._unique(case.customers, "customer_id", "customer")
        last_day = max((d.as_of for d in case.days), default=None)
        for row in case.reps:
            self._check_rep(row)
        for row in case.customers:
            owner = row.values.get("owner_rep_id")
            if owner is not None:
                self._ref(owner, reps, "salesperson", row, "owner")
                if row.values.get("pool_id") is not None:
                    self._row_error(row, codes.KEYS_DO_NOT_GO_TOGETHER,
                                    "a customer with an owner has no pool",
                                    "pool", "give 'owner' (private sea) or 'pool' (high seas)")
            self._check_customer(row)
        all_facts = [*case.activities, *case.orders,
                     *(r for d in case.days for r in (*d.activities, *d.orders))]
        for row in all_facts:
            self._ref(row.values.get("customer_id"), customers, "customer", row, "customer")
            if row.values.get("rep_id") is not None:
                self._ref(row.values["rep_id"], reps, "salesperson", row, "rep")
            when = row.values.get("at") or row.values.get("placed_at")
            if isinstance(when, datetime) and last_day is not None and when.date() > last_day:
                self._row_error(row, codes.FACT_AFTER_LAST_DAY,
                                f"dated {when.date()}, after the last as-of day "
                                f"{last_day}: no run can see it", "at" if "at" in row.values
                                else "placed_at", "move it before an as-of day or remove it",
                                Severity.WARNING)
        previous: date | None = None
        for day in case.days:
            if previous is not None and day.as_of <= previous:
                self.error(codes.DAYS_OUT_OF_ORDER,
                           f"day {day.as_of} does not come after {previous}",
                           join_key(day.json_path, "as_of"), "list days in increasing order")
            previous = day.as_of
            for claim in day.claims:
                if claim.rep not in reps:
                    self.error(codes.UNKNOWN_CASE_ID, f"unknown salesperson {claim.rep!r}",
                               join_key(claim.json_path, "rep"), did_you_mean(claim.rep, reps))
                if claim.customer not in customers:
                    self.error(codes.UNKNOWN_CASE_ID, f"unknown customer {claim.customer!r}",
                               join_key(claim.json_path, "customer"),
                               did_you_mean(claim.customer, customers))
            if day.expect is not None:
                self._check_expectation(day.expect, reps, customers)

    def _unique(self, rows: tuple[Row, ...], key: str, what: str) -> set[str]:
        seen: set[str] = set()
        for row in rows:
            value = row.values.get(key)
            if value in seen:
                self._row_error(row, codes.LISTED_TWICE_IN_CASE,
                                f"{what} {value!r} is listed twice", "id",
                                "ids are unique within a case")
            if value is not None:
                seen.add(value)
        return seen

    def _row_error(self, row: Row, code: str, message: str, key: str, hint: str = "",
                   severity: Severity = Severity.ERROR) -> None:
        path = join_key(row.json_path, key)
        if row.file == self.file:
            self.error(code, message, path, hint, severity)
        else:
            self.diagnostics.append(Diagnostic(code=code, message=message, file=row.file,
                                               line=row.line, column=1, json_path=path,
                                               hint=hint, severity=severity))

    def _ref(self, value: Any, known: set[str], what: str, row: Row, key: str) -> None:
        if value is not None and value not in known:
            self._row_error(row, codes.UNKNOWN_CASE_ID, f"unknown {what} {value!r}", key,
                            did_you_mean(str(value), known) or f"add it to the case's "
                            f"{'reps' if what == 'salesperson' else 'customers'}")

    def _check_rep(self, row: Row) -> None:
        rules = self.ruleset
        if rules is None:
            return
        tier = row.values.get("tier")
        if tier is not None:
            names = {t.attribute for t in rules.tiers if t.attribute} | {
                t.id for t in rules.tiers if t.attribute is None}
            if tier not in names:
                self._row_error(row, codes.UNKNOWN_CASE_REFERENCE,
                                f"tier {tier!r} is neither a tier attribute nor "
                                "a tier id of the ruleset", "tier",
                                did_you_mean(tier, names) or f"known: {', '.join(sorted(names))}")
        region_codes = _region_codes(rules)
        for region in row.values.get("regions") or []:
            if region not in region_codes:
                self._row_error(row, codes.UNKNOWN_CASE_REFERENCE,
                                f"region {region!r} is not a region, region code "
                                "or country of the ruleset", "regions",
                                did_you_mean(region, region_codes) or "")
        away_from, away_until = row.values.get("away_from"), row.values.get("away_until")
        if away_from and away_until and away_until < away_from:
            self._row_error(row, codes.KEYS_DO_NOT_GO_TOGETHER,
                            "away_until is before away_from", "away_until")

    def _check_customer(self, row: Row) -> None:
        rules = self.ruleset
        if rules is None:
            return
        pool = row.values.get("pool_id")
        pools = {p.id for p in rules.pools}
        if pool is not None and pool not in pools:
            self._row_error(row, codes.UNKNOWN_CASE_REFERENCE, f"unknown pool {pool!r}", "pool",
                            did_you_mean(pool, pools))
        types = {f.name: f.type for f in rules.custom_fields}
        for name, value in (row.values.get("attributes") or {}).items():
            if name not in types:
                self._row_error(row, codes.UNKNOWN_CASE_REFERENCE,
                                f"{name!r} is not a custom field of the ruleset",
                                "attributes", did_you_mean(name, types) or
                                "declare it under custom_fields in the ruleset")
            elif not _fits(value, types[name]):
                self._row_error(row, codes.UNKNOWN_CASE_REFERENCE,
                                f"{name} is a {types[name]} field; {value!r} "
                                "does not fit", "attributes")
        created, owned = row.values.get("created_at"), row.values.get("owned_since")
        if isinstance(created, datetime) and isinstance(owned, datetime) and owned < created:
            self._row_error(row, codes.KEYS_DO_NOT_GO_TOGETHER,
                            "owned_since is before created_at", "owned_since")

    def _check_expectation(self, expect: Expectation, reps: set[str],
                           customers: set[str]) -> None:
        seen: dict[tuple[str, str], Entry] = {}
        for entry in expect.entries:
            previous = seen.get((entry.category, entry.customer))
            if previous is not None:
                self.error(codes.LISTED_TWICE_IN_CASE,
                           f"{entry.category} {entry.customer} is expected twice "
                           f"(first at line {previous.line})", entry.json_path,
                           "a run makes one decision of a kind per customer")
            seen[(entry.category, entry.customer)] = entry
        for entry in (*expect.entries, *expect.forbidden):
            self._check_entry(entry, reps, customers)
        for entry in expect.forbidden:
            same = seen.get((entry.category, entry.customer))
            if same is not None and not entry.fields and not entry.reason:
                self.error(codes.CONTRADICTORY_EXPECTATION,
                           f"{entry.customer} is both expected and forbidden to be "
                           f"{entry.category.replace('_', ' ')} (line {same.line})",
                           entry.json_path)
        for index, customer in enumerate(expect.untouched):
            path = join_index(join_key(expect.json_path, "untouched"), index)
            if customer not in customers:
                self.error(codes.UNKNOWN_CASE_ID, f"unknown customer {customer!r}", path,
                           did_you_mean(customer, customers))
            for entry in expect.entries:
                if entry.customer == customer:
                    self.error(codes.CONTRADICTORY_EXPECTATION,
                               f"{customer} is expected untouched but also "
                               f"{entry.category.replace('_', ' ')} (line {entry.line})", path)

    def _check_entry(self, entry: Entry, reps: set[str], customers: set[str]) -> None:
        if entry.customer not in customers:
            self.error(codes.UNKNOWN_CASE_ID,
                       f"unknown customer {entry.customer!r}", entry.json_path,
                       did_you_mean(entry.customer, customers) or
                       "expectations name customers of the case")
        for key, value in entry.fields:
            where = join_key(entry.json_path, key)
            if key in _REP_KEYS and value not in reps:
                self.error(codes.UNKNOWN_CASE_ID, f"unknown salesperson {value!r}", where,
                           did_you_mean(str(value), reps))
        rules = self.ruleset
        if rules is None:
            return
        fields = dict(entry.fields)
        if "rule" in fields:
            allowed = rule_ids_for(rules, entry.category)
            rule = fields["rule"]
            if rule not in allowed:
                kind = entry.category.replace("_", " ")
                self.error(codes.UNKNOWN_RULE_ID,
                           f"{rule!r} is not a rule that can have customers {kind}",
                           join_key(entry.json_path, "rule"),
                           did_you_mean(rule, allowed) or
                           ("rules here: " + ", ".join(sorted(allowed)) if allowed
                            else "the ruleset has no such rules"))
        if "pool" in fields:
            pools = {p.id for p in rules.pools}
            if fields["pool"] not in pools:
                self.error(codes.UNKNOWN_CASE_REFERENCE, f"unknown pool {fields['pool']!r}",
                           join_key(entry.json_path, "pool"), did_you_mean(fields["pool"], pools))


def rule_ids_for(ruleset: Ruleset, category: str) -> set[str]:
    """Rule ids that can decide decisions of ``category`` in ``ruleset``."""
    release = {r.id for r in ruleset.release_rules}
    relays = {r.id for r in ruleset.relays}
    allocations = {a.id for a in ruleset.allocations}
    trims = {f"caps.private.{c.tier}" for c in ruleset.caps.private}
    return {
        "released": release | relays,
        "reminded": {r.id for r in ruleset.release_rules if r.remind_before},
        "trimmed": trims,
        "assigned": allocations,
        "relayed": relays,
        "relay_ended": relays,
        "unassigned": allocations | relays | trims,
    }[category]


def _region_codes(ruleset: Ruleset) -> set[str]:
    known: set[str] = set()
    for region in ruleset.regions:
        known.add(region.id)
        known.update(region.codes)
        known.update(region.countries)
    return known


def _fits(value: Any, type_name: str) -> bool:
    """Whether ``value`` fits a custom field type (JSON types, plus ISO dates)."""
    if type_name != "date":
        return type_name in ("string", "integer", "number", "boolean") and matches_json_type(
            value, type_name
        )
    if not isinstance(value, str):
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _csv_value(cell: str, kind: str) -> Any:
    """A CSV cell in the type the row schema expects (left as text when it
    does not convert, so that the schema reports it)."""
    if kind == "list":
        inner = cell[1:-1] if cell.startswith("[") and cell.endswith("]") else cell
        separators = [";", "|"] if (";" in inner or "|" in inner) else [","]
        parts = [inner]
        for separator in separators:
            parts = [p for part in parts for p in part.split(separator)]
        return [p.strip().strip("'\"") for p in parts if p.strip()]
    if kind == "bool":
        lowered = cell.lower()
        if lowered in ("true", "yes", "1"):
            return True
        if lowered in ("false", "no", "0"):
            return False
        return cell
    if kind in ("int", "number"):
        try:
            return int(cell)
        except ValueError:
            pass
        if kind == "number":
            try:
                return float(cell)
            except ValueError:
                return cell
        return cell
    if kind == "json":
        try:
            return json.loads(cell)
        except ValueError:
            return cell
    return cell


def _csv_custom(cell: str, type_name: str) -> Any:
    if type_name in ("integer", "number"):
        return _csv_value(cell, "int" if type_name == "integer" else "number")
    if type_name == "boolean":
        return _csv_value(cell, "bool")
    return cell


def _relocate(problem: Diagnostic, number: int) -> Diagnostic:
    """A schema problem of a CSV row: say which row and column, not a JSON path."""
    column = problem.json_path.removeprefix("$").lstrip(".")
    where = f"row {number}" + (f", column {column}" if column else "")
    return Diagnostic(code=codes.INVALID_CSV_VALUE,
                      message=f"{where}: {problem.message}", file=problem.file,
                      line=problem.line, column=1, json_path=problem.json_path,
                      hint=problem.hint, row=number)


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
