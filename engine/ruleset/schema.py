"""JSON Schema validation of a ruleset, reported at YAML lines.

The schema (``schemas/ruleset.schema.json``, shipped as ``highseas.schemas``)
is JSON Schema draft 2020-12. :func:`schema_diagnostics` runs it and turns
each failure into a :class:`~highseas.errors.Diagnostic` with a stable code,
the YAML line and column, a plain-words message and a hint (a did-you-mean
for misspelled keys and values).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import replace
from functools import lru_cache
from importlib.resources import files
from typing import Any

from highseas import codes
from highseas.errors import Diagnostic
from highseas.ruleset.durations import DURATION_PATTERN, Duration, DurationError
from highseas.ruleset.yaml_loader import join_key, nearest_position, path_of
from highseas.suggestions import nearest

SCHEMA_FILE = "ruleset.schema.json"

_TYPE_WORDS = {
    "object": "a mapping (key: value lines)",
    "array": "a list",
    "string": "text",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
    "null": "nothing",
}


def packaged_schema_text(file_name: str) -> str:
    """A JSON Schema shipped in the package (``highseas.schemas``), as text."""
    return files("highseas.schemas").joinpath(file_name).read_text(encoding="utf-8")


@lru_cache(maxsize=4)
def packaged_schema(file_name: str) -> dict[str, Any]:
    """A JSON Schema shipped in the package, as a dictionary."""
    schema: dict[str, Any] = json.loads(packaged_schema_text(file_name))
    return schema


def schema_text() -> str:
    """The ruleset JSON Schema, as shipped in the package."""
    return packaged_schema_text(SCHEMA_FILE)


def ruleset_schema() -> dict[str, Any]:
    """The ruleset JSON Schema as a dictionary."""
    return packaged_schema(SCHEMA_FILE)


@lru_cache(maxsize=1)
def _validator() -> Any:
    from jsonschema import Draft202012Validator

    return Draft202012Validator(ruleset_schema())


def _kind_of(value: object) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int):
        return "a whole number"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def matches_json_type(value: object, type_name: str) -> bool:
    """Whether ``value`` (from YAML) is of JSON Schema type ``type_name``."""
    if type_name == "object":
        return isinstance(value, dict)
    if type_name == "array":
        return isinstance(value, list)
    if type_name == "string":
        return isinstance(value, str)
    if type_name == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if type_name == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if type_name == "boolean":
        return isinstance(value, bool)
    if type_name == "null":
        return value is None
    return False


def _resolve(schema: dict[str, Any], root: dict[str, Any] | None = None) -> dict[str, Any]:
    """Follow a local ``$ref`` of ``root`` (siblings win) to see a subschema's shape."""
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/"):
        target: Any = ruleset_schema() if root is None else root
        for part in ref[2:].split("/"):
            if not isinstance(target, dict) or part not in target:
                return schema
            target = target[part]
        merged = dict(target)
        merged.update({k: v for k, v in schema.items() if k != "$ref"})
        return merged
    return schema


def _branch_fits(schema: dict[str, Any], value: object,
                 root: dict[str, Any] | None = None) -> bool:
    """Whether ``value`` has the type (or constant) a oneOf/anyOf branch expects."""
    schema = _resolve(schema, root)
    if "const" in schema:
        return bool(schema["const"] == value and type(schema["const"]) is type(value))
    types = schema.get("type")
    if types is None:
        return True
    if isinstance(types, str):
        types = [types]
    return any(matches_json_type(value, t) for t in types)


def _describe(schema: dict[str, Any], root: dict[str, Any] | None = None) -> str:
    schema = _resolve(schema, root)
    if "const" in schema:
        return repr(schema["const"])
    types = schema.get("type")
    if isinstance(types, str):
        types = [types]
    if types:
        return " or ".join(_TYPE_WORDS.get(t, t) for t in types)
    return "a value"


class SchemaErrorMapper:
    """Turns jsonschema errors into diagnostics at YAML positions.

    Reusable for other YAML formats: pass their ``root_schema`` so that local
    ``$ref`` s resolve against it (the ruleset schema by default).
    """

    def __init__(self, positions: dict[str, tuple[int, int]], file: str = "",
                 root_schema: dict[str, Any] | None = None) -> None:
        self.positions = positions
        self.file = file
        self.root = root_schema

    def _resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        return _resolve(schema, self.root)

    def diag(self, code: str, message: str, json_path: str, hint: str = "") -> Diagnostic:
        line, column = nearest_position(self.positions, json_path)
        return Diagnostic(
            code=code, message=message, file=self.file, line=line, column=column,
            json_path=json_path, hint=hint,
        )

    def convert(self, error: Any) -> list[Diagnostic]:
        """Diagnostics for one jsonschema error; the property's description is
        the hint when nothing more specific is known."""
        described = self._resolve(error.schema).get("description", "") \
            if isinstance(error.schema, dict) else ""
        return [d if d.hint else replace(d, hint=described) for d in self._convert(error)]

    def _convert(self, error: Any) -> list[Diagnostic]:
        path = path_of(list(error.absolute_path))
        kind = error.validator
        value = error.instance
        schema = error.schema if isinstance(error.schema, dict) else {}
        where = _where(error)
        if kind == "additionalProperties" and isinstance(value, dict):
            allowed = list(schema.get("properties", {}))
            out = []
            for key in value:
                if key in allowed:
                    continue
                suggestion = nearest(str(key), allowed)
                if suggestion:
                    hint = f"did you mean {suggestion!r}?"
                else:
                    hint = "allowed keys here: " + ", ".join(allowed)
                out.append(self.diag(codes.UNKNOWN_KEY, f"unknown key {key!r}{where}",
                                     join_key(path, str(key)), hint))
            return out
        if kind == "required" and isinstance(value, dict):
            out = []
            for key in error.validator_value:
                if key not in value:
                    prop = self._resolve(schema.get("properties", {}).get(key, {}))
                    out.append(self.diag(
                        codes.MISSING_KEY, f"missing required key {key!r}{where}", path,
                        prop.get("description", ""),
                    ))
            return out
        if kind == "dependentRequired" and isinstance(value, dict):
            present = [k for k in ("field", "op", "value") if k in value]
            missing = [k for k in ("field", "op", "value") if k not in value]
            return [self.diag(
                codes.MISSING_KEY,
                f"a comparison needs 'field', 'op' and 'value'; {', '.join(present)} given, "
                f"{', '.join(repr(m) for m in missing)} missing",
                path, "write e.g. {field: level, op: '>=', value: 3}",
            )]
        if kind == "type":
            expected = error.validator_value
            if isinstance(expected, str):
                expected = [expected]
            words = " or ".join(_TYPE_WORDS.get(t, t) for t in expected)
            hint = self._resolve(schema).get("description", "")
            if value is None:
                hint = "the key has no value" + (f"; expected: {hint}" if hint else "")
            return [self.diag(codes.WRONG_TYPE, f"expected {words}, got {_kind_of(value)}{where}",
                              path, hint)]
        if kind in ("enum", "const"):
            options = error.validator_value if kind == "enum" else [error.validator_value]
            shown = ", ".join(repr(o) for o in options)
            hint = ""
            if isinstance(value, str):
                suggestion = nearest(value, [str(o) for o in options])
                hint = f"did you mean {suggestion!r}?" if suggestion else ""
            hint = hint or f"allowed: {shown}"
            return [self.diag(codes.VALUE_NOT_ALLOWED,
                              f"{value!r} is not allowed{where}; expected {shown}",
                              path, hint)]
        if kind == "pattern":
            return [self._pattern(error, path, where)]
        if kind == "propertyNames":
            return [self.diag(codes.WRONG_FORM, f"{value!r} has an invalid key{where}", path,
                              "keys here are ids: lower-case letters, digits, '-' and '_'")]
        if kind in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
            bound = error.validator_value
            relation = {"minimum": "at least", "maximum": "at most",
                        "exclusiveMinimum": "more than", "exclusiveMaximum": "less than"}[kind]
            return [self.diag(codes.NUMBER_OUT_OF_RANGE,
                              f"{value!r} is out of range{where}: it must be "
                              f"{relation} {bound}", path)]
        if kind in ("minItems", "maxItems", "uniqueItems", "minLength"):
            return [self._sizes(error, path, where)]
        if kind in ("minProperties", "maxProperties"):
            return [self._counts(error, path, where)]
        if kind in ("anyOf", "oneOf"):
            return self._alternatives(error, path, where)
        excluded = error.validator_value.get("required") \
            if kind == "not" and isinstance(error.validator_value, dict) else None
        if isinstance(excluded, list) and isinstance(value, dict):
            # ``not: {required: [a, b]}``: at most one of a and b.
            found = ", ".join(repr(k) for k in excluded if k in value)
            return [self.diag(codes.WRONG_KEY_COUNT,
                              f"only one of {', '.join(excluded)} is allowed, found "
                              f"{found}{where}", path, schema.get("description", ""))]
        return [self.diag(codes.SCHEMA_VIOLATION, f"{error.message}{where}", path)]

    def _pattern(self, error: Any, path: str, where: str) -> Diagnostic:
        value = error.instance
        pattern = error.validator_value
        if pattern == DURATION_PATTERN:
            try:
                Duration.parse(value)
                message = f"{value!r} is not a duration"
            except DurationError as problem:
                message = str(problem).split(";")[0]
            return self.diag(codes.WRONG_FORM, f"{message}{where}", path,
                             "write a whole number and a unit: 14d, 2w, 6mo or 2y "
                             "(at least 1; no spaces)")
        if pattern == "^[A-Z]{2}$":
            hint = "write ISO 3166 alpha-2 codes in upper case, e.g. DE, US, CN"
            if isinstance(value, str) and len(value) == 2:
                hint = f"did you mean {value.upper()!r}?"
            return self.diag(codes.WRONG_FORM,
                             f"{value!r} is not a country code{where}", path, hint)
        if pattern.startswith("^[a-z0-9]"):
            return self.diag(codes.WRONG_FORM, f"{value!r} is not a valid id{where}", path,
                             "ids use lower-case letters, digits, '-' and '_' "
                             "(at most 64 characters)")
        return self.diag(codes.WRONG_FORM, f"{value!r} has the wrong form{where}", path,
                         self._resolve(error.schema).get("description", ""))

    def _sizes(self, error: Any, path: str, where: str) -> Diagnostic:
        kind = error.validator
        value = error.instance
        if kind == "minItems":
            return self.diag(codes.TOO_SHORT_OR_REPEATED,
                             f"the list needs at least {error.validator_value} "
                             f"item(s){where}", path)
        if kind == "maxItems":
            return self.diag(codes.TOO_SHORT_OR_REPEATED,
                             f"the list has more than {error.validator_value} "
                             f"items{where}", path)
        if kind == "minLength":
            return self.diag(codes.TOO_SHORT_OR_REPEATED, f"empty text{where}", path)
        seen: list[object] = []
        duplicate: object = None
        for item in value:
            if item in seen:
                duplicate = item
                break
            seen.append(item)
        return self.diag(codes.TOO_SHORT_OR_REPEATED, f"{duplicate!r} is listed twice{where}", path,
                         "remove the repeated item")

    def _counts(self, error: Any, path: str, where: str) -> Diagnostic:
        value = error.instance
        resolved = self._resolve(error.schema)
        # keys that only qualify others (``when`` of an excess_to target) are
        # no choice of their own
        qualifiers = resolved.get("dependentSchemas", {})
        allowed = [k for k in resolved.get("properties", {}) if k not in qualifiers]
        keys = ", ".join(repr(k) for k in value)
        if error.validator == "minProperties" and not value:
            return self.diag(codes.WRONG_KEY_COUNT, f"empty mapping{where}", path,
                             "give one of: " + ", ".join(allowed))
        if error.validator == "minProperties":
            return self.diag(codes.WRONG_KEY_COUNT, f"too few keys{where}: {keys}", path,
                             "give one of: " + ", ".join(k for k in allowed if k not in value))
        branch = list(error.relative_schema_path)[-2:-1]
        if branch == ["then"]:
            return self.diag(
                codes.WRONG_KEY_COUNT,
                f"a comparison has only 'field', 'op' and 'value', found {keys}{where}",
                path, "put other conditions next to it inside 'all: [...]' or 'any: [...]'",
            )
        if branch == ["else"] or ("field" in allowed and "idle_for" in allowed):
            return self.diag(
                codes.WRONG_KEY_COUNT,
                f"a condition has exactly one kind, found {keys}{where}", path,
                "combine several conditions with 'all: [...]' or 'any: [...]'",
            )
        return self.diag(codes.WRONG_KEY_COUNT,
                         f"only one of {', '.join(allowed)} is allowed, found "
                         f"{keys}{where}", path)

    def _alternatives(self, error: Any, path: str, where: str) -> list[Diagnostic]:
        branches: list[dict[str, Any]] = error.validator_value
        if all(set(b) == {"required"} for b in branches):
            names = [name for b in branches for name in b["required"]]
            return [self.diag(codes.MISSING_KEY, f"needs at least one of {', '.join(names)}{where}",
                              path, self._resolve(error.schema).get("description", ""))]
        fitting = [i for i, b in enumerate(branches) if _branch_fits(b, error.instance, self.root)]
        if len(fitting) == 1:
            sub = [e for e in error.context if e.relative_schema_path[0] == fitting[0]]
            if sub:
                out: list[Diagnostic] = []
                for child in sub:
                    out.extend(self._convert(child))
                return out
        options = " or ".join(_describe(b, self.root) for b in branches)
        return [self.diag(codes.WRONG_TYPE,
                          f"expected {options}, got {_kind_of(error.instance)}{where}",
                          path, self._resolve(error.schema).get("description", ""))]


#: Former private name, kept for callers that imported it.


def _where(error: Any) -> str:
    parts = list(error.absolute_path)
    return f" in '{parts[-1]}'" if parts and isinstance(parts[-1], str) else ""


def schema_diagnostics(
    data: object, positions: dict[str, tuple[int, int]], file: str = ""
) -> list[Diagnostic]:
    """Validate ``data`` against the ruleset schema; diagnostics sorted by line."""
    mapper = SchemaErrorMapper(positions, file)
    found: list[Diagnostic] = []
    for error in _validator().iter_errors(data):
        found.extend(mapper.convert(error))
    return _unique_sorted(found)


def _unique_sorted(diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
    seen: set[tuple[str, str, str]] = set()
    out = []
    for d in diagnostics:
        key = (d.code, d.json_path, d.message)
        if key not in seen:
            seen.add(key)
            out.append(d)
    return sorted(out, key=lambda d: (d.line, d.column, d.code))
