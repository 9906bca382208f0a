"""The loader API (``ruleset_from_document``, ``load_ruleset``) and semantic
checks beyond the golden cases."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from highseas.errors import InvalidInputError, Severity
from highseas.ruleset import model as m
from highseas.ruleset.condition_logic import never_fires, release_period, shadows
from highseas.ruleset.durations import Duration
from highseas.ruleset.loader import load_ruleset, ruleset_from_document
from highseas.ruleset.yaml_loader import load_yaml_file, load_yaml_text

ROOT = Path(__file__).resolve().parents[2]
RULESETS = ROOT / "rulesets"
REGIONAL = load_yaml_file(ROOT / "rulesets" / "regional-trading.yaml")


def doc(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(REGIONAL.data)
    data.update(changes)
    return data


def codes(data: dict[str, Any]) -> list[tuple[str, str]]:
    _, diagnostics = ruleset_from_document(data, REGIONAL.positions, "r.yaml", "h")
    return [(d.code, d.severity.value) for d in diagnostics]


def test_ruleset_from_document_returns_the_model_and_hash() -> None:
    ruleset, diagnostics = ruleset_from_document(REGIONAL.data, REGIONAL.positions, "r.yaml",
                                                 "abc")
    assert diagnostics == []
    assert ruleset is not None
    assert (ruleset.source_file, ruleset.content_hash) == ("r.yaml", "abc")
    assert ruleset.positions["$.caps.cooldown"] == (123, 3)


def test_in_memory_override_is_checked_like_a_file() -> None:
    data = doc()
    data["caps"]["cooldown"] = "14 days"
    ruleset, diagnostics = ruleset_from_document(data, REGIONAL.positions, "r.yaml", "h")
    assert ruleset is None
    assert [(d.code, d.line) for d in diagnostics] == [("HS205", 123)]


def test_warnings_are_not_fatal() -> None:
    data = doc()
    data["caps"]["cooldown"] = "2y"
    ruleset, diagnostics = ruleset_from_document(data, REGIONAL.positions, "r.yaml", "h")
    assert ruleset is not None and ruleset.caps.cooldown == Duration(2, "y")
    assert [(d.code, d.severity) for d in diagnostics] == [("HS316", Severity.WARNING)]


def test_load_ruleset_raises_with_every_error(tmp_path: Path) -> None:
    text = (ROOT / "rulesets" / "regional-trading.yaml").read_text(encoding="utf-8")
    bad = tmp_path / "bad.yaml"
    bad.write_text(text.replace("tier: new", "tier: newbie").replace("[new]", "[neww]"),
                   encoding="utf-8")
    with pytest.raises(InvalidInputError) as caught:
        load_ruleset(bad)
    found = [(d.code, d.line) for d in caught.value.diagnostics]
    assert found == [("HS302", 112), ("HS302", 115), ("HS302", 130), ("HS302", 147)]
    assert all(d.file == str(bad) for d in caught.value.diagnostics)


def test_load_ruleset_reports_yaml_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nversion: 1\n", encoding="utf-8")
    with pytest.raises(InvalidInputError) as caught:
        load_ruleset(bad)
    assert caught.value.first.code == "HS102"
    with pytest.raises(InvalidInputError) as caught:
        load_ruleset(tmp_path / "missing.yaml")
    assert caught.value.first.code == "HS001"


RULES_YAML = """
version: 1
company: {id: c, name: C, timezone: UTC}
custom_fields:
  - {name: vip, type: boolean}
  - {name: since, type: date}
tiers:
  - {id: new, tenure: {less_than: 1y}}
  - {id: old, tenure: {at_least: 1y}}
  - {id: ka, attribute: key}
  - {id: ka2, attribute: key}
regions:
  - {id: eu, countries: [DE], codes: [EU]}
pools:
  - {id: p, regions: all, default: true}
  - {id: q, regions: all}
release_rules:
  - id: a
    when: {all: [{field: level, op: ">", value: 5}, {field: level, op: "<=", value: 5}]}
  - id: b
    when: {field: vip, op: "<", value: true}
  - id: c
    when: {field: since, op: "=", value: "2024-02-30"}
  - id: d
    when: {region: europe}
  - id: e
    when: {tags: {none: [x]}}
  - id: f
    when: {tags: {none: [x]}}
allocation:
  - {id: w, tiers: [new], strategy: round_robin, weights: {tiers: {old: 2}}}
  - {id: cap, tiers: [new], strategy: capacity}
activation_relay:
  - id: r
    when: {all: [{never_contacted: true}, {never_contacted: false}]}
    tiers: [new]
    contact_window: 7d
    rounds: 2
"""


def test_more_semantic_checks() -> None:
    loaded = load_yaml_text(RULES_YAML, file="x.yaml")
    ruleset, diagnostics = ruleset_from_document(loaded.data, loaded.positions, "x.yaml", "")
    assert ruleset is None
    found = [(d.code, d.line, d.severity.value) for d in diagnostics]
    assert found == [
        ("HS307", 11, "error"),    # ka and ka2 select the same attribute
        ("HS312", 16, "error"),    # two pools cover all regions
        ("HS317", 19, "warning"),  # level > 5 and level <= 5
        ("HS320", 21, "error"),    # < on a boolean field
        ("HS320", 23, "error"),    # 30 February is no date
        ("HS303", 25, "error"),    # unknown region in a condition
        ("HS318", 29, "warning"),  # f repeats e
        ("HS324", 31, "warning"),  # weights without strategy weighted
        ("HS324", 31, "warning"),  # a weight for a tier that is not eligible
        ("HS324", 32, "error"),    # capacity without capacity_per_30d
        ("HS317", 35, "warning"),  # relay that can never start
    ]


def _leaf(text: str) -> m.Condition:
    data = load_yaml_text(
        "version: 1\ncompany: {id: c, name: C, timezone: UTC}\ntiers: [{id: t, tenure: "
        "{less_than: 1y}}, {id: u, tenure: {at_least: 1y}}]\n"
        "pools: [{id: p, regions: all, default: true}]\nrelease_rules:\n"
        f"  - id: r\n    when: {text}\n"
    )
    ruleset, diagnostics = ruleset_from_document(data.data, data.positions)
    assert ruleset is not None, diagnostics
    return ruleset.release_rules[0].when


def test_release_period_of_combinations() -> None:
    assert release_period(_leaf("{idle_for: 2w}")) == 14
    assert release_period(_leaf("{all: [{idle_for: 2w}, {owned_for: 30d}]}")) == 30
    assert release_period(_leaf("{any: [{idle_for: 2w}, {owned_for: 30d}]}")) == 14
    assert release_period(_leaf("{not: {idle_for: 2w}}")) is None
    assert release_period(_leaf("{stage: lead}")) is None


def test_never_fires_and_shadows() -> None:
    assert never_fires(_leaf("{all: [{stage: a}, {stage: b}]}"), None)
    assert never_fires(_leaf("{all: [{tags: {all: [x]}}, {tags: {none: [x]}}]}"), None)
    assert never_fires(_leaf("{all: [{stage: a}, {not: {stage: a}}]}"), None)
    assert not never_fires(_leaf("{all: [{stage: a}, {stage: {in: [a, b]}}]}"), None)
    assert not never_fires(_leaf("{all: [{field: level, op: '>=', value: 3},"
                                 " {field: level, op: '<=', value: 3}]}"), None)

    def rule(when: str, unless: m.Condition | None = None) -> m.ReleaseRule:
        return m.ReleaseRule("r", _leaf(when), unless=unless)

    assert shadows(rule("{idle_for: 30d}"), rule("{all: [{idle_for: 90d}, {stage: a}]}"))
    assert not shadows(rule("{idle_for: 90d}"), rule("{idle_for: 30d}"))
    assert shadows(rule("{stage: {in: [a, b]}}"), rule("{stage: a}"))
    exempt = _leaf("{has_open_order: true}")
    assert not shadows(rule("{idle_for: 30d}", exempt), rule("{idle_for: 90d}"))


MUTATIONS = st.sampled_from([None, 0, -1, 1.5, True, "", "x", "90 days", [], {}, ["x"], {"a": 1}])


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_any_mutation_gives_diagnostics_never_a_crash(data: st.DataObject) -> None:
    document = doc()
    paths: list[tuple[Any, Any]] = []

    def collect(node: Any) -> None:
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for key, value in items:
            paths.append((node, key))
            if isinstance(value, dict | list):
                collect(value)

    collect(document)
    container, key = data.draw(st.sampled_from(paths))
    container[key] = data.draw(MUTATIONS)
    ruleset, diagnostics = ruleset_from_document(document, REGIONAL.positions, "r.yaml", "")
    for diagnostic in diagnostics:
        assert diagnostic.code[:3] in ("HS2", "HS3") and diagnostic.line >= 1
    if ruleset is None:
        assert any(d.is_error for d in diagnostics)


def test_schema_error_mapper_serves_other_schemas() -> None:
    from jsonschema import Draft202012Validator

    from highseas.ruleset.schema import SchemaErrorMapper

    schema = {
        "type": "object", "additionalProperties": False,
        "properties": {"when": {"$ref": "#/$defs/day", "description": "The day."}},
        "$defs": {"day": {"enum": ["mon", "tue"], "description": "A weekday."}},
    }
    loaded = load_yaml_text("\nwhen: mun\nwehn: x\n", file="t.yaml")
    mapper = SchemaErrorMapper(loaded.positions, "t.yaml", root_schema=schema)
    found = [d for e in Draft202012Validator(schema).iter_errors(loaded.data)
             for d in mapper.convert(e)]
    assert sorted((d.code, d.line, d.hint) for d in found) == [
        ("HS201", 3, "did you mean 'when'?"),
        ("HS204", 2, "did you mean 'mon'?"),
    ]


@pytest.mark.parametrize(
    ("original", "typo", "code", "suggestion"),
    [
        ("    - tier: veteran\n", "    - tier: veteren\n", "HS302", "veteran"),
        ("    fallbacks: [americas]\n", "    fallbacks: [amercas]\n", "HS303", "americas"),
        ("      to_pool: global-pool\n", "      to_pool: globl-pool\n", "HS304", "global-pool"),
        ("        - field: credit_score\n", "        - field: credit_scor\n", "HS319",
         "credit_score"),
        ("    countries: [DE, FR, GB,", "    countries: [DE, FR, UK,", "HS323", "GB"),
        ("  timezone: Asia/Shanghai", "  timezone: Asia/Shanghia", "HS322", "Asia/Shanghai"),
    ],
)
def test_a_misspelled_name_gets_the_nearest_one(original: str, typo: str, code: str,
                                                suggestion: str) -> None:
    """A consultant's typo in a name the ruleset refers to is answered with the
    name they meant, at the typo's line."""
    text = (RULESETS / "regional-trading.yaml").read_text()
    assert original in text, original
    changed = text.replace(original, typo, 1)
    line = text[: text.index(original)].count("\n") + 1
    loaded = load_yaml_text(changed, file="x.yaml")
    ruleset, diagnostics = ruleset_from_document(loaded.data, loaded.positions, "x.yaml", "")
    assert ruleset is None
    (found,) = [d for d in diagnostics if d.code == code]
    assert found.line == line
    assert f"did you mean {suggestion!r}" in found.hint, found.hint


def test_a_bad_value_in_a_condition_is_reported_where_it_is_written() -> None:
    """The consultant's cursor lands on the misspelled value (or, for
    ``{field: value}``, its field), in every form a comparison can take,
    even when the list continues on the next line."""
    text = (RULESETS / "regional-trading.yaml").read_text()
    original = "        - source: alibaba\n"
    assert original in text
    forms = (
        "        - region: apca\n",
        "        - region: {in: [emea, apca]}\n",
        "        - {field: region, op: not in, value: [emea,\n            apca]}\n",
        "        - country: UK\n",
    )
    for form in forms:
        changed = text.replace(original, form, 1)
        loaded = load_yaml_text(changed, file="x.yaml")
        _, diagnostics = ruleset_from_document(loaded.data, loaded.positions, "x.yaml", "")
        (found,) = [d for d in diagnostics if d.code in ("HS303", "HS323")]
        lines = changed.splitlines()
        written = lines[found.line - 1][found.column - 1:]
        # a list item is found at the item; a single value at its key
        assert written.startswith(("apca", "region: apca", "country: UK")), (form, found)
