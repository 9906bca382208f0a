"""The bundled example rulesets and the JSON Schema, checked by us and by a
third-party validator (check-jsonschema)."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.resources import files
from pathlib import Path

import pytest

from highseas.ruleset import model as m
from highseas.ruleset.durations import DURATION_PATTERN, Duration
from highseas.ruleset.loader import load_ruleset
from highseas.ruleset.schema import ruleset_schema, schema_text
from highseas.ruleset.validation import validate_paths

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = [ROOT / "rulesets" / name for name in
            ("quick-order.yaml", "large-project.yaml", "regional-trading.yaml")]
SCHEMA = ROOT / "schemas" / "ruleset.schema.json"


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_validates_clean_even_strict(path: Path) -> None:
    report = validate_paths([path], strict=True)
    assert report.diagnostics == []
    assert report.exit_code == 0
    first = path.read_text(encoding="utf-8").splitlines()[0]
    assert first == "# yaml-language-server: $schema=../schemas/ruleset.schema.json"


def test_examples_ship_in_the_package() -> None:
    shipped = {p.name for p in files("highseas.rulesets").iterdir() if p.name.endswith(".yaml")}
    assert {p.name for p in EXAMPLES} <= shipped
    assert json.loads(schema_text()) == json.loads(SCHEMA.read_text(encoding="utf-8"))


def test_regional_trading_model() -> None:
    rs = load_ruleset(ROOT / "rulesets" / "regional-trading.yaml")
    assert rs.company == m.Company("regional-trading", "Regional Trading Co.", "Asia/Shanghai")
    assert len(rs.content_hash) == 64
    assert rs.tier("veteran").tenure_at_least == Duration(1, "y")
    assert rs.tier("key-account").attribute == "key-account"
    assert rs.region("emea").fallbacks == ("americas",)
    assert rs.default_pool.id == "global-pool" and rs.default_pool.all_regions
    rule = rs.release_rules[0]
    assert rule.when == m.IdleFor(Duration(90, "d"), json_path="$.release_rules[0].when")
    assert isinstance(rule.unless, m.AnyOf)
    assert rule.unless.items[1] == m.TagsMatch(
        "any", ("key-account",), json_path="$.release_rules[0].unless.any[1]"
    )
    assert rule.unless.items[2] == m.Compare(
        "stage", "in", ("contract",), json_path="$.release_rules[0].unless.any[2]"
    )
    assert rule.remind_before == (Duration(7, "d"), Duration(1, "d"))
    assert rule.target.by_region
    cap = rs.caps.private[0]
    assert (cap.tier, cap.max, cap.excess_to_tier) == ("veteran", 300, "new")
    assert rs.caps.claims[1] == m.ClaimCap("veteran", 3, None, 30, json_path="$.caps.claims[1]")
    assert rs.caps.cooldown == Duration(30, "d")
    allocation = rs.allocations[0]
    assert allocation.weekdays == () and allocation.max_per_rep_per_run == 5
    relay = rs.relays[0]
    assert relay.after_last_round == m.PoolTarget(
        False, "global-pool", json_path="$.activation_relay[0].after_last_round.to_pool"
    )
    assert rs.position(relay.json_path) == (140, 5)
    assert rs.position("$.release_rules[1].unless.any[1].value") == (99, 11)


def test_large_project_model() -> None:
    rs = load_ruleset(ROOT / "rulesets" / "large-project.yaml")
    weighted = rs.allocations[0]
    assert weighted.weekdays == ("mon", "thu")
    assert weighted.tier_weights == (("senior", 2), ("principal", 1))
    assert weighted.rep_weights == (("rep-anna", 3),)
    assert weighted.region_fallback == "stay"
    assert rs.allocations[1].capacity == 20 and rs.allocations[1].pools == ("world-pool",)
    assert rs.tier("senior").tenure_less_than == Duration(5, "y")


def test_quick_order_model_converts_dates() -> None:
    rs = load_ruleset(ROOT / "rulesets" / "quick-order.yaml")
    stale = rs.release_rules[1]
    assert isinstance(stale.when, m.AllOf)
    negated = stale.when.items[3]
    assert isinstance(negated, m.Not) and isinstance(negated.item, m.Compare)
    from datetime import date

    assert negated.item.value == date(2026, 1, 1)
    assert stale.target == m.PoolTarget(False, "main-pool", json_path="$.release_rules[1].to_pool")
    assert rs.caps.private[1].protect == m.TagsMatch(
        "any", ("vip",), json_path="$.caps.private[1].protect"
    )


def test_schema_shape() -> None:
    schema = ruleset_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"].startswith("https://")
    assert schema["$defs"]["duration"]["pattern"] == DURATION_PATTERN

    def objects(node: object) -> list[dict[str, object]]:
        found = []
        if isinstance(node, dict):
            if "properties" in node:
                found.append(node)
            for value in node.values():
                found.extend(objects(value))
        elif isinstance(node, list):
            for value in node:
                found.extend(objects(value))
        return found

    for obj in objects(schema):
        assert obj.get("additionalProperties") is False, obj.get("description")


def _check_jsonschema(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", *args],
        capture_output=True, text=True, timeout=120, check=False,
    )


def test_third_party_validator_accepts_schema_and_examples(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        (ROOT / "rulesets" / "quick-order.yaml").read_text(encoding="utf-8")
        .replace("idle_for: 14d", "idel_for: 14d"),
        encoding="utf-8",
    )
    result = _check_jsonschema(
        "--check-metaschema", str(SCHEMA),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    result = _check_jsonschema("--schemafile", str(SCHEMA), *map(str, EXAMPLES))
    assert result.returncode == 0, result.stdout + result.stderr
    result = _check_jsonschema("--schemafile", str(SCHEMA), str(bad))
    assert result.returncode == 1
    assert "idel_for" in result.stdout + result.stderr


def test_a_loaded_ruleset_cannot_be_changed_in_place() -> None:
    """The compiler and the planner read one immutable model: no stage can
    alter what another stage sees."""
    import dataclasses

    from highseas.ruleset import model as m
    from highseas.ruleset.loader import load_ruleset

    ruleset = load_ruleset(ROOT / "rulesets" / "regional-trading.yaml")
    classes = [c for c in vars(m).values() if isinstance(c, type)
               and dataclasses.is_dataclass(c) and c.__module__ == m.__name__]
    assert len(classes) > 20
    thawed = [c.__name__ for c in classes
              if not c.__dataclass_params__.frozen]  # type: ignore[attr-defined]
    assert thawed == []
    with pytest.raises(dataclasses.FrozenInstanceError):
        ruleset.release_rules[0].when = ruleset.release_rules[1].when  # type: ignore[misc]
    assert isinstance(ruleset.release_rules, tuple)
