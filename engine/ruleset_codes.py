"""The catalogue of diagnostic codes for I/O, YAML, schema and ruleset checks.

Each code is stable: CI configurations and SARIF consumers key on it. The
meaning of each code is documented in docs/rulesets.md (a test keeps the two
in step).
"""

from __future__ import annotations

CODES: dict[str, str] = {
    "HS001": "path does not exist",
    "HS002": "path cannot be read",
    "HS004": "directory without YAML files",
    "HS101": "YAML syntax error",
    "HS102": "duplicate key",
    "HS103": "file larger than 1 MiB",
    "HS104": "file is not UTF-8",
    "HS105": "NUL byte or control character",
    "HS106": "tab character",
    "HS107": "more than one YAML document",
    "HS108": "empty file or top level not a mapping",
    "HS109": "tag not allowed (only plain data)",
    "HS110": "too many aliases, too large, recursive, or nested too deeply",
    "HS111": "key that is not plain text",
    "HS201": "unknown key",
    "HS202": "missing required key",
    "HS203": "wrong type of value",
    "HS204": "value not allowed",
    "HS205": "value of the wrong form (duration, id, country code)",
    "HS206": "number out of range",
    "HS207": "list or text too short, or an item listed twice",
    "HS208": "wrong number of keys (a condition has exactly one kind)",
    "HS209": "other schema violation",
    "HS301": "duplicate id",
    "HS302": "unknown tier",
    "HS303": "unknown region",
    "HS304": "unknown pool",
    "HS305": "country or region code in two regions",
    "HS306": "no default pool, or more than one",
    "HS307": "tiers overlap",
    "HS308": "tiers leave a gap, or every tier needs an attribute",
    "HS309": "tier with an empty tenure range",
    "HS310": "reminder not shorter than the release period",
    "HS311": "reminder on a rule without a time condition",
    "HS312": "region covered by two pools",
    "HS313": "claim caps that never apply (warning)",
    "HS314": "two caps of the same kind for one tier",
    "HS315": "cap excess sent back to the same tier",
    "HS316": "cooldown longer than a release period (warning)",
    "HS317": "rule that can never fire (warning)",
    "HS318": "rule shadowed by another rule (warning)",
    "HS319": "condition on an undeclared field",
    "HS320": "comparison value does not fit the field or operator",
    "HS321": "duration out of range",
    "HS322": "unknown time zone",
    "HS323": "not an ISO 3166 country code",
    "HS324": "allocation strategy and its settings disagree",
    "HS325": "custom field named like a built-in field",
    "HS326": "region falls back to itself",
    "HS327": "region with no countries and no codes",
}


def title(code: str) -> str:
    """The short title of ``code`` (or the code itself when unknown); test-file
    codes (HS6xx) come from their own catalogue in highseas.testing.format."""
    if code.startswith("HS6") and code not in CODES:
        from highseas.testing.format import TEST_CODES

        return TEST_CODES.get(code, code)
    return CODES.get(code, code)
