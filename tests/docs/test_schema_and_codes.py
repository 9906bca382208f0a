"""Every schema property has a description and an entry in docs/rulesets.md
(diagnostic codes are checked in test_codes.py)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from highseas.ruleset.schema import ruleset_schema

ROOT = Path(__file__).resolve().parents[2]
DOCS = (ROOT / "docs" / "rulesets.md").read_text(encoding="utf-8")


def properties(node: dict[str, Any], prefix: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """(documented name, schema) of every property under ``node``.

    Names are dotted paths with ``[]`` for list items, e.g. ``tiers[].tenure.at_least``;
    properties of a condition are named ``condition.KEY``.
    """
    for name, child in node.get("properties", {}).items():
        path = f"{prefix}.{name}" if prefix else name
        yield path, child
        yield from nested(child, path)


def nested(child: dict[str, Any], path: str) -> Iterator[tuple[str, dict[str, Any]]]:
    if "properties" in child:
        yield from properties(child, path)
    items = child.get("items")
    if isinstance(items, dict) and "properties" in items:
        yield from properties(items, path + "[]")
    for branch in child.get("anyOf", []):
        yield from nested(branch, path)


def all_properties() -> list[tuple[str, dict[str, Any]]]:
    schema = ruleset_schema()
    found = list(properties(schema, ""))
    found.extend(properties(schema["$defs"]["condition"], "condition"))
    return found


def test_walk_finds_the_nested_properties() -> None:
    names = {name for name, _ in all_properties()}
    assert {"tiers[].tenure.at_least", "caps.private[].excess_to.tier", "condition.tags.any",
            "allocation[].schedule.weekly", "condition.stage.not_in"} <= names
    assert len(names) > 80


def test_every_property_has_a_description() -> None:
    missing = [name for name, schema in all_properties() if not schema.get("description")]
    assert missing == []


def test_every_property_is_documented() -> None:
    missing = [name for name, _ in all_properties() if f"`{name}`" not in DOCS]
    assert missing == [], "add these keys to docs/rulesets.md"


def test_docs_examples_are_the_shipped_rulesets() -> None:
    for name in ("quick-order.yaml", "large-project.yaml", "regional-trading.yaml"):
        assert name in DOCS


def test_complete_rulesets_in_the_docs_validate_clean() -> None:
    from highseas.ruleset.loader import ruleset_from_document
    from highseas.ruleset.yaml_loader import load_yaml_text

    blocks = re.findall(r"```yaml\n(.*?)```", DOCS, re.S)
    complete = [b for b in blocks if re.search(r"^version: 1$", b, re.M)]
    assert complete
    for block in complete:
        loaded = load_yaml_text(block, file="docs/rulesets.md")
        ruleset, diagnostics = ruleset_from_document(loaded.data, loaded.positions)
        assert ruleset is not None and diagnostics == [], diagnostics
