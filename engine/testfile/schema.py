"""The JSON Schema of test files (``schemas/ruleset-tests.schema.json``),
reported at YAML lines with the ruleset schema's wording."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from highseas.errors import Diagnostic
from highseas.ruleset.schema import SchemaErrorMapper, packaged_schema, packaged_schema_text

SCHEMA_FILE = "ruleset-tests.schema.json"




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
