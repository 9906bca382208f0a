"""The compiler: decision points, safe names, size guards, durable error codes."""

from __future__ import annotations

import json
import re
from dataclasses import replace

import pytest

from highseas.compile import decision_points as compiler
from highseas.compile import ir
from highseas.compile import to_durable as durable_form
from highseas.compile.decision_points import compile_ruleset
from highseas.errors import EngineError
from highseas.ruleset import model
from tests.support.ir import AS_OF, TODAY, d, make_ruleset, one_rule


def full_ruleset() -> model.Ruleset:
    return make_ruleset(
        release_rules=(
            model.ReleaseRule(
                "idle-90",
                when=model.IdleFor(d("90d")),
                unless=model.HasOpenOrder(True),
                remind_before=(d("7d"), d("1d")),
            ),
            model.ReleaseRule("never", when=model.NeverContacted(True)),
        ),
        relays=(model.ActivationRelay("dormant", when=model.NeverContacted(True),
                                      contact_window=d("7d"), rounds=2, tiers=("new",)),),
        protects=(("veteran", model.TagsMatch("any", ("key-account",))),),
    )


def test_every_decision_point_is_named() -> None:
    compiled = compile_ruleset(full_ruleset(), AS_OF)
    assert compiled.names == (
        "release:idle-90",
        "exempt:idle-90",
        "remind:idle-90:7d",
        "remind:idle-90:1d",
        "release:never",
        "relay:dormant",
        "protect:veteran",
    )
    assert compiled.point("remind:idle-90:7d").as_of.toordinal() == TODAY + 7
    with pytest.raises(EngineError) as caught:
        compiled.point("release:idle90")
    assert caught.value.first.code == "HS508"
    assert "release:idle-90" in caught.value.first.hint


def test_each_excess_to_target_with_a_condition_is_a_decision_point() -> None:
    won = model.Compare("stage", "in", ("won", "lost"))
    strategic = model.TagsMatch("any", ("strategic",))
    cap = model.PrivateCap("veteran", 10, excess_to=(
        model.ExcessTarget(pool=model.PoolTarget(False, "closed-deals"), when=won),
        model.ExcessTarget(tier="new"),
        model.ExcessTarget(tier="new", when=strategic),
    ))
    compiled = compile_ruleset(replace(make_ruleset(), caps=model.Caps(private=(cap,))), AS_OF)
    # numbered as in the YAML, 1 for the first; the target without `when` has none
    assert compiled.names == ("excess:veteran:1", "excess:veteran:3")
    assert compiled.matches("excess:veteran:1", {"k": 1, "stage": "lost"})
    assert not compiled.matches("excess:veteran:3", {"k": 1, "tags": ["vip"]})


def test_remind_is_the_release_condition_later() -> None:
    compiled = compile_ruleset(full_ruleset(), AS_OF)
    row = {"k": 1, "contacted": True, "open_orders": 0, "tags": [],
           "last_touch_day": TODAY - 85}
    assert not compiled.matches("release:idle-90", row)
    assert compiled.matches("remind:idle-90:7d", row)
    assert not compiled.matches("remind:idle-90:1d", row)
    assert not compiled.matches("remind:idle-90:7d", dict(row, open_orders=1))


def test_definition_is_deterministic_and_a_fresh_copy() -> None:
    first = compile_ruleset(full_ruleset(), AS_OF)
    second = compile_ruleset(full_ruleset(), AS_OF)
    assert first.durable_json() == second.durable_json()
    assert first.definition_hash == second.definition_hash
    definition = first.durable_definition()
    for rules in definition.values():
        del rules["hit"]["run"]  # what durable-rules' set_rulesets does
    assert "run" in first.durable_definition()[first.points[0].durable_name]["hit"]
    json.loads(first.durable_json())
    other_day = compile_ruleset(full_ruleset(), AS_OF.replace(day=24))
    assert other_day.definition_hash != first.definition_hash


def test_consultant_names_never_reach_durable_rules() -> None:
    weird = model.CustomField("id", "string")
    sid = model.CustomField("sid", "integer")
    ruleset = make_ruleset(
        release_rules=(model.ReleaseRule(
            'r"; DROP $gt',
            when=model.AllOf((model.Compare("id", "=", "x"), model.Compare("sid", ">=", 3))),
        ),),
        custom_fields=(weird, sid),
    )
    compiled = compile_ruleset(ruleset, AS_OF)
    definition = json.dumps(compiled.durable_definition())
    assert "DROP" not in definition
    assert '"id"' not in definition and '"sid"' not in definition
    assert compiled.properties == {"cf_id": "f0", "cf_sid": "f1"}
    for name in compiled.durable_definition():
        assert re.fullmatch(r"hs_[0-9a-f]{24}", name)


def test_only_supported_operators_are_emitted() -> None:
    ruleset = one_rule(
        model.AnyOf((
            model.Not(model.Compare("country", "in", ("DE", "FR"))),
            model.Compare("country", "not in", ("US",)),
            model.Not(model.TagsMatch("all", ("a", "b"))),
            model.TagsMatch("none", ("c",)),
            model.Compare("level", "!=", 3),
            model.Not(model.IdleFor(d("2mo"))),
        )),
    )
    text = json.dumps(compile_ruleset(ruleset, AS_OF).durable_definition())
    used = set(re.findall(r'"(\$[a-z]+)"', text))
    allowed = {"$lt", "$lte", "$gt", "$gte", "$eq", "$neq", "$ex", "$nex", "$and", "$or",
               "$iany", "$iall", "$i"}
    assert used <= allowed
    assert "$in" not in used and "$ne" not in used and "$not" not in used


def test_too_many_values_on_one_field_is_refused_before_durable_hangs() -> None:
    values = tuple(f"C{i}" for i in range(201))
    with pytest.raises(EngineError) as caught:
        compile_ruleset(one_rule(model.Compare("country", "in", values)), AS_OF)
    assert caught.value.first.code == "HS504"
    compile_ruleset(one_rule(model.Compare("country", "in", values[:200])), AS_OF)


def test_large_conditions_are_split_into_several_hit_rules() -> None:
    # durable-rules fails with code 113 at 16 $and/$or in one rule.
    fields = tuple(model.CustomField(f"n{i}", "integer") for i in range(16))
    none_is_one = model.Not(model.AnyOf(tuple(model.Compare(f.name, "=", 1) for f in fields)))
    compiled = compile_ruleset(one_rule(none_is_one, custom_fields=fields), AS_OF)
    (rules,) = compiled.durable_definition().values()
    hits = [name for name in rules if name.startswith("hit")]
    assert len(hits) == 4 and hits[0] == "hit"
    for name in hits:
        assert rules[name]["pri"] == 1 and rules[name]["run"] == "hit"
        assert durable_form.durable_counts(rules[name]["all"][0]["m"])[0] <= 15
    assert rules["miss"]["pri"] == 2


def test_conditions_too_large_even_split_are_refused() -> None:
    fields = tuple(model.CustomField(f"n{i}", "integer") for i in range(24))
    many = model.Not(model.AnyOf(tuple(model.Compare(f.name, "=", 1) for f in fields)))
    with pytest.raises(EngineError) as caught:
        compile_ruleset(one_rule(many, custom_fields=fields), AS_OF)
    assert caught.value.first.code == "HS505"
    assert "alternatives" in caught.value.first.message
    # The same size without negation is one flat $or: fine.
    compile_ruleset(one_rule(model.Not(many), custom_fields=fields), AS_OF)


def test_durable_error_codes_are_translated() -> None:
    error = compiler.translate_durable_error(
        RuntimeError("Could not create ruleset, error code: 202"), "the definition of x"
    )
    assert error.first.code == "HS514"
    assert "unknown operator" in error.first.message
    for number, words in [(105, "unknown key"), (102, "unexpected type"),
                          (501, "Lua pattern"), (113, "too complex")]:
        message = compiler.translate_durable_error(
            RuntimeError(f"error code: {number}"), "x").first.message
        assert words in message
    assert compiler.translate_durable_error(ValueError("boom"), "x").first.code == "HS515"


def test_property_hashes_do_not_collide() -> None:
    assert compiler.fnv1a_32("id") == 926444256  # durable-rules' HASH_ID
    assert compiler.fnv1a_32("sid") == 3593476751  # durable-rules' HASH_SID
    props = {f"c{i}": f"f{i}" for i in range(compiler.MAX_PROPERTIES)}
    compiler._check_property_hashes(props)


def test_sql_and_explain_through_the_compiled_ruleset() -> None:
    compiled = compile_ruleset(full_ruleset(), AS_OF)
    text, params = compiled.sql("release:idle-90")
    assert '"last_touch_day"' in text and TODAY - 90 in params
    explanation = compiled.explain(
        "release:idle-90",
        {"k": 1, "contacted": True, "open_orders": 0, "tags": [], "last_touch_day": TODAY - 95},
    )
    assert explanation.passed
    assert any("idle for 95 days >= 90 days" in leaf.text for leaf in explanation.leaves())
    assert isinstance(compiled.point("release:idle-90").condition, ir.And)


def test_every_example_ruleset_compiles_and_evaluates() -> None:
    from pathlib import Path

    from highseas.compile import durable as durable_eval
    from highseas.ruleset.loader import load_ruleset

    root = Path(__file__).resolve().parents[2] / "rulesets"
    examples = sorted(p for p in root.glob("*.yaml") if not p.name.endswith(".tests.yaml"))
    assert examples
    for path in examples:
        ruleset = load_ruleset(path)
        compiled = compile_ruleset(ruleset, AS_OF)
        assert compiled.points, path.name
        rows = [
            {"k": k, "contacted": k % 2 == 0, "open_orders": k % 3, "tags": [],
             "last_touch_day": TODAY - 40 * k, "last_order_touch_day": TODAY - 50 * k,
             "owned_since_day": TODAY - 60 * k, "created_day": TODAY - 70 * k}
            for k in range(12)
        ]
        verdicts = durable_eval.decide(compiled, rows)
        for name in compiled.names:
            assert verdicts[name] == {r["k"] for r in rows if compiled.matches(name, r)}
