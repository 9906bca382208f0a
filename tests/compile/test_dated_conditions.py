"""The conditions over dated facts: won_within, last_won_before, in_stage_for
(YAML -> model -> IR -> every back end, explanations, semantic checks)."""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

import pytest
import yaml

from highseas.compile import ir
from highseas.compile.decision_points import compile_ruleset
from highseas.ruleset import model
from highseas.ruleset.loader import ruleset_from_document
from tests.support.ir import AS_OF, TODAY, d, fact, one_rule
from tests.support.nightly import RULESETS

BASE = yaml.safe_load((RULESETS / "regional-trading.yaml").read_text(encoding="utf-8"))


def _document(when: dict[str, Any], unless: dict[str, Any] | None = None,
              remind: list[str] | None = None) -> dict[str, Any]:
    doc = copy.deepcopy(BASE)
    rule: dict[str, Any] = {"id": "dated", "when": when}
    if unless is not None:
        rule["unless"] = unless
    if remind is not None:
        rule["remind_before"] = remind
    doc["release_rules"] = [rule]
    return doc


def _load(when: dict[str, Any], unless: dict[str, Any] | None = None,
          remind: list[str] | None = None) -> tuple[model.Ruleset | None, list[Any]]:
    return ruleset_from_document(_document(when, unless, remind), {}, "dated.yaml", "h")


def test_the_yaml_keys_build_the_model_conditions() -> None:
    ruleset, diagnostics = _load(
        {"all": [{"in_stage_for": "60d"}, {"last_won_before": "1y"}]},
        unless={"any": [{"won_within": "90d"}, {"stage": {"in": ["won", "lost"]}}]},
        remind=["7d"],
    )
    assert ruleset is not None and not [x for x in diagnostics if x.is_error], diagnostics
    rule = ruleset.release_rules[0]
    assert isinstance(rule.when, model.AllOf)
    assert [type(c) for c in rule.when.items] == [model.InStageFor, model.LastWonBefore]
    assert rule.when.items[0].duration == d("60d")
    assert isinstance(rule.unless, model.AnyOf)
    assert rule.unless.items[0] == model.WonWithin(
        d("90d"), json_path="$.release_rules[0].unless.any[0]")


def test_bad_durations_are_refused_by_the_schema() -> None:
    ruleset, diagnostics = _load({"won_within": "soon"})
    assert ruleset is None
    assert {x.code for x in diagnostics} == {"HS205"}


def test_won_within_and_last_won_before_the_same_time_never_fire() -> None:
    _, diagnostics = _load({"all": [{"idle_for": "30d"}, {"won_within": "30d"},
                                    {"last_won_before": "60d"}]})
    assert "HS317" in {x.code for x in diagnostics}
    _, diagnostics = _load({"all": [{"idle_for": "30d"}, {"won_within": "90d"},
                                    {"last_won_before": "60d"}]})
    assert "HS317" not in {x.code for x in diagnostics}


def test_reminders_count_back_from_in_stage_for_but_not_from_won_within() -> None:
    _, diagnostics = _load({"in_stage_for": "60d"}, remind=["7d"])
    assert not [x for x in diagnostics if x.is_error]
    _, diagnostics = _load({"won_within": "60d"}, remind=["7d"])
    assert "HS311" in {x.code for x in diagnostics}


def _holds(condition: model.Condition, **columns: object) -> bool:
    compiled = compile_ruleset(one_rule(condition), AS_OF)
    return compiled.matches("release:r", fact(1, **columns))


@pytest.mark.parametrize(("condition", "column", "days", "expected"), [
    (model.WonWithin(d("30d")), "last_won_day", 0, True),  # won on the as-of day
    (model.WonWithin(d("30d")), "last_won_day", 29, True),
    (model.WonWithin(d("30d")), "last_won_day", 30, False),
    (model.LastWonBefore(d("30d")), "last_won_day", 29, False),
    (model.LastWonBefore(d("30d")), "last_won_day", 30, True),
    (model.InStageFor(d("2w")), "stage_since_day", 13, False),
    (model.InStageFor(d("2w")), "stage_since_day", 14, True),
])
def test_thresholds(condition: model.Condition, column: str, days: int, expected: bool) -> None:
    assert _holds(condition, **{column: TODAY - days}) is expected


def test_never_won_and_no_stage_are_false_and_their_negation_true() -> None:
    for condition in (model.WonWithin(d("30d")), model.LastWonBefore(d("30d")),
                      model.InStageFor(d("30d"))):
        assert not _holds(condition, last_won_day=None, stage_since_day=None)
        assert _holds(model.Not(condition), last_won_day=None, stage_since_day=None)


def test_the_back_ends_agree_on_the_new_columns() -> None:
    import duckdb

    from highseas.compile import durable

    condition = model.AnyOf((
        model.AllOf((model.WonWithin(d("1mo")), model.Not(model.InStageFor(d("10d"))))),
        model.LastWonBefore(d("1y")),
    ))
    compiled = compile_ruleset(one_rule(condition), AS_OF)
    days = [None, 0, 9, 10, 30, 31, 364, 365, 366]
    facts = [fact(k, last_won_day=None if a is None else TODAY - a,
                  stage_since_day=None if b is None else TODAY - b)
             for k, (a, b) in enumerate((a, b) for a in days for b in days)]
    python = {f["k"] for f in facts if compiled.matches("release:r", f)}
    assert durable.decide(compiled, facts)["release:r"] == python
    con = duckdb.connect()
    con.execute("CREATE TABLE f (k BIGINT, last_won_day BIGINT, stage_since_day BIGINT)")
    con.executemany("INSERT INTO f VALUES (?, ?, ?)",
                    [[f["k"], f["last_won_day"], f["stage_since_day"]] for f in facts])
    text, params = compiled.sql("release:r")
    assert {k for (k,) in con.execute(f"SELECT k FROM f WHERE {text}", params).fetchall()} \
        == python
    assert 0 < len(python) < len(facts)


def test_explanations_read_in_days() -> None:
    compiled = compile_ruleset(one_rule(model.AllOf((
        model.WonWithin(d("30d")), model.LastWonBefore(d("7d")), model.InStageFor(d("2mo"))))),
        AS_OF)
    row = fact(1, last_won_day=TODAY - 12, stage_since_day=TODAY - 70)
    lines = [leaf.text for leaf in compiled.explain("release:r", row).leaves()]
    won_on = (AS_OF - timedelta(days=12)).isoformat()
    assert lines[0] == f"last order won 12 days ago < 30 days (on {won_on}): yes"
    assert lines[1] == f"last order won 12 days ago >= 7 days (on {won_on}): yes"
    assert lines[2].startswith("in its stage for 70 days >= ")
    assert lines[2].endswith(": yes")
    unknown = compiled.explain("release:r", fact(2)).leaves()
    assert [leaf.text for leaf in unknown][0] == (
        "last order won ? (unknown: no order won) < 30 days: no")
    leaf = ir.lower(model.InStageFor(d("2mo")), AS_OF, one_rule(model.InStageFor(d("2mo"))))
    assert isinstance(leaf, ir.Leaf) and leaf.column == "stage_since_day"
