"""Facts rows of a test case: inline YAML rows and CSV files, typed and located.

:class:`FactRowReader` turns the rows of a case (inline, or ``{csv: file}``
relative to the test file) into :class:`~highseas.testfile.cases.Row` values
with store column names, reporting each problem at its YAML line or CSV row.
It is a mixin of the test file checker (:mod:`highseas.testfile.format`),
which provides ``error``, ``line``, ``diagnostics``, ``file``, ``ruleset``,
``base_dir`` and ``csv_cache``.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime
from pathlib import Path
from typing import Any

from highseas import codes
from highseas.errors import Diagnostic
from highseas.ruleset.model import Ruleset
from highseas.ruleset.yaml_loader import join_index, join_key, nearest_position, read_bytes
from highseas.suggestions import did_you_mean
from highseas.testfile.cases import Row
from highseas.testfile.schema import schema_diagnostics, tests_schema

#: table -> (YAML key, store column) for every row key.
COLUMNS: dict[str, tuple[tuple[str, str], ...]] = {
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
    aliases = {column: key for key, column in COLUMNS[table] if column != key}
    if table in ("activities", "orders"):
        aliases["customer_id"] = "customer"
        aliases["rep_id"] = "rep"
    return aliases


class FactRowReader:
    """Reads and types the facts rows of a case (a mixin of the checker)."""

    file: str
    base_dir: Path
    ruleset: Ruleset | None
    diagnostics: list[Diagnostic]
    csv_cache: dict[str, tuple[Row, ...]]

    def error(self, code: str, message: str, path: str, hint: str = "") -> None:
        raise NotImplementedError

    def line(self, path: str) -> int:
        raise NotImplementedError

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
        for key, column in COLUMNS[table]:
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
        allowed = [key for key, _ in COLUMNS[table]]
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
