"""Override paths of ``highseas simulate`` (--set, --idle-period, --sweep) and their errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from highseas.errors import InvalidInputError
from highseas.ruleset.durations import Duration
from highseas.ruleset.model import AllOf, IdleFor
from highseas.simulate.overrides import (
    _resolve,
    apply_override,
    build_scenarios,
    override_paths,
    parse_assignment,
    parse_sweep,
    split_path,
)

ROOT = Path(__file__).resolve().parents[2]
REGIONAL = ROOT / "rulesets" / "regional-trading.yaml"


def _idle(rule_when: object) -> Duration:
    assert isinstance(rule_when, IdleFor)
    return rule_when.duration


def test_baseline_alone_without_overrides() -> None:
    scenarios = build_scenarios(REGIONAL)
    assert [s.name for s in scenarios] == ["baseline"]
    assert scenarios[0].is_baseline


@pytest.mark.parametrize(
    ("path", "check"),
    [
        ("caps.private.veteran.max", lambda r: r.caps.private[0].max == 200),
        ("caps.private.0.max", lambda r: r.caps.private[0].max == 200),
        ("$.caps.private[0].max", lambda r: r.caps.private[0].max == 200),
        ("caps.claims.new.per_day", lambda r: r.caps.claims[0].per_day == 200),
        ("allocation.daily-new-rotation.max_per_rep_per_run",
         lambda r: r.allocations[0].max_per_rep_per_run == 200),
    ],
)
def test_set_by_id_tier_index_and_json_path(path: str, check: object) -> None:
    scenarios = build_scenarios(REGIONAL, [f"{path}=200"])
    assert [s.name for s in scenarios] == ["baseline", f"{path}=200"]
    assert check(scenarios[1].ruleset)  # type: ignore[operator]
    assert scenarios[0].ruleset.caps.private[0].max == 300  # the baseline is untouched
    assert scenarios[1].ruleset.content_hash != scenarios[0].ruleset.content_hash


def test_set_text_values_and_strategy() -> None:
    scenario = build_scenarios(REGIONAL, ["allocation.daily-new-rotation.strategy=least_loaded",
                                          "caps.cooldown=14d"])[1]
    assert scenario.ruleset.allocations[0].strategy == "least_loaded"
    assert scenario.ruleset.caps.cooldown == Duration(14, "d")


def test_idle_period_sets_every_release_rule_idle_for() -> None:
    scenarios = build_scenarios(REGIONAL, idle_period="60d")
    rules = scenarios[1].ruleset.release_rules
    assert _idle(rules[0].when) == Duration(60, "d")
    # the second rule has no idle_for: untouched
    assert isinstance(rules[1].when, AllOf)
    assert scenarios[1].overrides[0].option == "--idle-period"


def test_idle_period_reaches_nested_leaves() -> None:
    document: dict[str, Any] = {"release_rules": [
        {"id": "a", "when": {"all": [{"idle_for": "10d"}, {"stage": "lead"}]}},
        {"id": "b", "when": {"any": [{"not": {"idle_for": "5d"}}, {"idle_for": "7d"}]}},
    ]}
    changed = apply_override(document, parse_assignment("idle-period=45d"))
    assert changed == [
        "$.release_rules[0].when.all[0].idle_for",
        "$.release_rules[1].when.any[0].not.idle_for",
        "$.release_rules[1].when.any[1].idle_for",
    ]
    assert document["release_rules"][0]["when"]["all"][0] == {"idle_for": "45d"}


def test_sweep_runs_one_scenario_per_value_beside_the_baseline() -> None:
    scenarios = build_scenarios(REGIONAL, ["caps.private.veteran.max=250"],
                                sweeps=["idle-period=30d,90d,180d"])
    assert [s.name for s in scenarios] == [
        "baseline",
        "caps.private.veteran.max=250, idle-period=30d",
        "caps.private.veteran.max=250, idle-period=90d",
        "caps.private.veteran.max=250, idle-period=180d",
    ]
    assert [_idle(s.ruleset.release_rules[0].when).amount for s in scenarios] == [90, 30, 90, 180]
    assert all(s.ruleset.caps.private[0].max == 250 for s in scenarios[1:])


def test_sweep_any_set_path_and_two_sweeps_combine() -> None:
    scenarios = build_scenarios(REGIONAL, sweeps=["caps.claims.new.per_day=0,5",
                                                  "caps.cooldown=7d,30d"])
    assert len(scenarios) == 5
    assert {(s.ruleset.caps.claims[0].per_day, s.ruleset.caps.cooldown.amount)  # type: ignore
            for s in scenarios[1:]} == {(0, 7), (0, 30), (5, 7), (5, 30)}


def test_sweep_values_run_in_their_natural_order() -> None:
    """By magnitude (durations by length, numbers by value), not as text
    (where 180d sorts before 30d) nor as typed; values without one keep
    the order given."""
    scenarios = build_scenarios(REGIONAL, sweeps=["idle-period=180d,30d,2w,90d,6mo"])
    assert [s.name for s in scenarios] == [
        "baseline", "idle-period=2w", "idle-period=30d", "idle-period=90d", "idle-period=180d",
        "idle-period=6mo"]  # 6mo: about 183 days
    assert [o.raw for o in parse_sweep("caps.cooldown=4w,28d,1d")] == ["1d", "4w", "28d"]
    assert [o.raw for o in parse_sweep("x=10,2,0.5")] == ["0.5", "2", "10"]
    strategies = "allocation.daily-new-rotation.strategy=round_robin,least_loaded"
    assert [o.raw for o in parse_sweep(strategies)] == ["round_robin", "least_loaded"]
    assert [o.raw for o in parse_sweep("x=30d,none,7d")] == ["30d", "none", "7d"]


def test_swept_settings_name_the_baseline_value(tmp_path: Path) -> None:
    from highseas.simulate.overrides import swept_settings

    idle, cap, cooldown = swept_settings(REGIONAL, ["idle-period=90d,30d",
                                                    "caps.private.veteran.max=300,200",
                                                    "caps.cooldown=7d,14d"])
    assert (idle.path, idle.baseline, idle.values, idle.equal) == (
        "idle-period", "90d", ("30d", "90d"), ("90d",))
    assert (cap.baseline, cap.values, cap.equal) == ("300", ("200", "300"), ("300",))
    assert cooldown.baseline != "not set" and cooldown.equal == ()
    document = REGIONAL.read_text(encoding="utf-8").replace("cooldown: 30d", "")
    assert "cooldown" not in document
    bare = tmp_path / "no-cooldown.yaml"
    bare.write_text(document, encoding="utf-8")
    (unset,) = swept_settings(bare, ["caps.cooldown=7d,14d"])
    assert (unset.baseline, unset.equal) == ("not set", ())


def _error(sets: list[str] | None = None, sweeps: list[str] | None = None,
           idle: str | None = None) -> InvalidInputError:
    with pytest.raises(InvalidInputError) as caught:
        build_scenarios(REGIONAL, sets or [], idle, sweeps or [])
    return caught.value


def test_unknown_item_is_an_error_with_did_you_mean() -> None:
    error = _error(["caps.private.veteren.max=1"])
    assert error.first.code == "HS701"
    assert "veteren" in error.first.message
    assert "did you mean 'veteran'?" in error.first.hint


def test_unknown_key_in_the_middle_is_an_error_with_did_you_mean() -> None:
    error = _error(["cap.cooldown=7d"])
    assert error.first.code == "HS701"
    assert "did you mean 'caps'?" in error.first.hint
    error = _error(["release_rules.no-follow-up-90d.whn.idle_for=7d"])
    assert "did you mean 'when'?" in error.first.hint


def test_unknown_last_key_fails_validation_with_did_you_mean() -> None:
    error = _error(["caps.private.veteran.mx=1"])
    assert error.first.code == "HS201"
    assert "did you mean 'max'?" in error.first.hint
    assert "--set caps.private.veteran.mx=1" in error.first.message
    assert error.first.line > 0  # points into the ruleset file


def test_index_out_of_range_and_value_below_a_leaf() -> None:
    assert _error(["release_rules.7.when.idle_for=7d"]).first.code == "HS701"
    error = _error(["caps.cooldown.days=7"])
    assert error.first.code == "HS701"
    assert "single value" in error.first.message


@pytest.mark.parametrize(
    ("override", "code", "words"),
    [
        ("caps.private.veteran.max=-1", "HS206", "at least 0"),
        ("allocation.daily-new-rotation.strategy=round_robbin", "HS204", "round_robin"),
        ("release_rules.0.when.idle_for=90x", "HS205", "not a duration"),
        ("caps.claims.new.per_day=many", "HS203", "whole number"),
    ],
)
def test_invalid_values_are_validated_like_the_file(override: str, code: str,
                                                    words: str) -> None:
    error = _error([override])
    assert error.first.code == code
    assert words in error.first.format_text()
    assert override in error.first.message


def test_semantic_checks_run_on_the_overridden_ruleset() -> None:
    # a tier that does not exist: caught by the semantic checks, not the schema
    error = _error(["allocation.daily-new-rotation.tiers=[nobody]"])
    assert error.first.code.startswith("HS3")


def test_the_company_id_cannot_be_overridden() -> None:
    assert _error(["company.id=other"]).first.code == "HS702"
    scenario = build_scenarios(REGIONAL, ["company.name=Renamed"])[1]
    assert scenario.ruleset.company.name == "Renamed"


def test_idle_period_needs_an_idle_rule_and_a_valid_duration() -> None:
    error = _error(idle="2 weeks")
    assert error.first.code == "HS205"
    document = {"release_rules": [{"id": "x", "when": {"no_order_for": "1y"}}]}
    with pytest.raises(InvalidInputError) as caught:
        apply_override(document, parse_assignment("idle-period=30d"))
    assert caught.value.first.code == "HS702"


@pytest.mark.parametrize("text", ["caps.cooldown", "=7d", "caps.cooldown="])
def test_set_syntax_errors(text: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        parse_assignment(text)
    assert caught.value.first.code in ("HS701", "HS703")


@pytest.mark.parametrize("text", ["idle-period", "idle-period=", "idle-period=30d,,60d",
                                  "idle-period=30d,30d"])
def test_sweep_syntax_errors(text: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        parse_sweep(text)
    assert caught.value.first.code == "HS704"


def test_values_are_yaml_scalars() -> None:
    assert parse_assignment("a=300").value == 300
    assert parse_assignment("a=true").value is True
    assert parse_assignment("a=NO").value == "NO"  # YAML 1.2: not a boolean
    assert parse_assignment("a=[x, y]").value == ["x", "y"]
    assert parse_assignment("a=90d").value == "90d"


def test_split_path_forms() -> None:
    assert split_path("$.caps.private[0].max") == ["caps", "private", 0, "max"]
    assert split_path("release_rules.idle-14d.when") == ["release_rules", "idle-14d", "when"]
    with pytest.raises(InvalidInputError):
        split_path("caps..cooldown")


def test_override_paths_lists_documented_forms() -> None:
    import yaml

    document = yaml.safe_load(REGIONAL.read_text(encoding="utf-8"))
    paths = override_paths(document)
    assert "caps.private.veteran.max" in paths
    assert "release_rules.no-follow-up-90d.when.idle_for" in paths
    assert "allocation.daily-new-rotation.strategy" in paths
    for path in paths:  # every listed path names an existing value
        container, key, _ = _resolve(document, path)
        if isinstance(container, dict):
            assert key in container
        else:
            assert isinstance(key, int) and key < len(container)
