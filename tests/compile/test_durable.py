"""durable-rules evaluation: synchronous, complete, and equal to the IR's
Python evaluator and SQL expression; every sharp edge in docs/compiler.md reproduced."""

from __future__ import annotations

import threading
from datetime import date

import pytest

from highseas.compile import durable as durable_eval
from highseas.compile.decision_points import compile_ruleset
from highseas.errors import EngineError
from highseas.ruleset import model
from tests.support.ir import AS_OF, TODAY, d, fact, make_ruleset, one_rule


def verdict_by_python(compiled, facts):  # type: ignore[no-untyped-def]
    return {
        name: frozenset(f["k"] for f in facts if compiled.matches(name, f))
        for name in compiled.names
    }


def test_every_fact_gets_a_verdict_per_point() -> None:
    ruleset = make_ruleset(
        release_rules=(model.ReleaseRule("idle", when=model.IdleFor(d("90d")),
                                         unless=model.HasOpenOrder(True),
                                         remind_before=(d("7d"),)),),
        relays=(model.ActivationRelay("dorm", when=model.NeverContacted(True),
                                      contact_window=d("7d"), rounds=2, tiers=("new",)),),
    )
    compiled = compile_ruleset(ruleset, AS_OF)
    facts = [
        fact(1, last_touch_day=TODAY - 95),
        fact(2, last_touch_day=TODAY - 95, open_orders=1),
        fact(3, last_touch_day=TODAY - 85),
        fact(4, contacted=False),
        fact(5),
    ]
    verdicts = durable_eval.decide(compiled, facts)
    assert verdicts["release:idle"] == {1}
    assert verdicts["exempt:idle"] == {2}
    assert verdicts["remind:idle:7d"] == {1, 3}
    assert verdicts["relay:dorm"] == {4}
    assert verdicts.keys_evaluated == {1, 2, 3, 4, 5}
    assert dict(verdicts) == verdict_by_python(compiled, facts)


def test_no_facts() -> None:
    compiled = compile_ruleset(one_rule(model.IdleFor(d("1d"))), AS_OF)
    assert durable_eval.decide(compiled, [])["release:r"] == frozenset()


# -- sharp edges of durable-rules 2.0.28 (docs/compiler.md), each reproduced ---


def test_unmatched_message_raises_in_durable_and_never_here() -> None:
    from durable import engine

    host = durable_eval.host()
    host.set_rulesets({"t_no_catch_all": {
        "only": {"all": [{"m": {"$gt": {"a": 5}}}], "run": lambda c: None}}})
    with pytest.raises(engine.MessageNotHandledException):
        host.post("t_no_catch_all", {"id": 1, "a": 1})
    # Ours: a catch-all "miss" rule answers every fact.
    compiled = compile_ruleset(one_rule(model.Compare("level", ">", 5)), AS_OF)
    verdicts = durable_eval.decide(compiled, [fact(1, level=1), fact(2)])
    assert verdicts["release:r"] == frozenset()
    assert verdicts.keys_evaluated == {1, 2}


def test_hit_beats_miss_by_priority_not_by_order() -> None:
    compiled = compile_ruleset(one_rule(model.Compare("level", ">", 5)), AS_OF)
    definition = compiled.durable_definition()
    for rules in definition.values():
        assert rules["hit"]["pri"] < rules["miss"]["pri"]
        assert isinstance(rules["hit"]["pri"], int) and isinstance(rules["miss"]["pri"], int)
    # An event fires only its highest-priority rule: with the rules listed
    # miss first, a matching fact is still a hit, and never both.
    host = durable_eval.host()
    name = "t_order_swapped"
    host.set_rulesets({name: {
        "miss": {"all": [{"m": {"$eq": {"e": 1}}}], "pri": 2, "run": "miss"},
        "hit": {"all": [{"m": {"$gt": {"a": 5}}}], "pri": 1, "run": "hit"},
    }})
    collector = durable_eval._Collector()
    durable_eval._COLLECTORS["swapped"] = collector
    try:
        host.post_batch(name, [{"sid": "swapped", "id": 1, "e": 1, "a": 9},
                               {"sid": "swapped", "id": 2, "e": 1, "a": 1}])
    finally:
        del durable_eval._COLLECTORS["swapped"]
    assert collector.hits == {1} and collector.misses == {2}


def test_or_branches_fire_hit_several_times_but_count_once() -> None:
    # durable-rules expands $or into branches: an event matching two fires
    # the action twice. The verdict is a set; the count still closes.
    condition = model.AnyOf((model.Compare("level", ">", 1), model.Compare("level", ">", 2)))
    compiled = compile_ruleset(one_rule(condition), AS_OF)
    verdicts = durable_eval.decide(compiled, [fact(1, level=5), fact(2, level=0)])
    assert verdicts["release:r"] == {1}


def test_equal_facts_with_unique_keys_all_come_back() -> None:
    compiled = compile_ruleset(one_rule(model.Compare("level", ">", 5)), AS_OF)
    facts = [fact(k, level=7, customer_id="same") for k in range(3000)]
    verdicts = durable_eval.decide(compiled, facts)
    assert len(verdicts["release:r"]) == 3000


def test_duplicate_or_missing_keys_are_refused() -> None:
    compiled = compile_ruleset(one_rule(model.Compare("level", ">", 5)), AS_OF)
    with pytest.raises(EngineError) as caught:
        durable_eval.decide(compiled, [fact(1), fact(1)])
    assert caught.value.first.code == "HS541"
    with pytest.raises(EngineError):
        durable_eval.decide(compiled, [{"level": 3}])


def test_an_exception_inside_an_action_fails_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(self: object, messages: object) -> None:
        raise RuntimeError("collector broke")

    monkeypatch.setattr(durable_eval._Collector, "hit", broken)
    compiled = compile_ruleset(one_rule(model.Compare("level", ">", 5)), AS_OF)
    with pytest.raises(EngineError) as caught:
        durable_eval.decide(compiled, [fact(1, level=9)])
    assert caught.value.first.code == "HS543"
    assert "collector broke" in caught.value.first.message
    monkeypatch.undo()
    # The state that held the exception was deleted: the next run is clean.
    assert durable_eval.decide(compiled, [fact(1, level=9)])["release:r"] == {1}


def test_a_lost_verdict_is_detected(monkeypatch: pytest.MonkeyPatch) -> None:
    original = durable_eval._Collector.miss

    def lossy(self: durable_eval._Collector, messages: list[object]) -> None:
        original(self, messages[1:])

    monkeypatch.setattr(durable_eval._Collector, "miss", lossy)
    compiled = compile_ruleset(one_rule(model.Compare("level", ">", 5)), AS_OF)
    with pytest.raises(EngineError) as caught:
        durable_eval.decide(compiled, [fact(1, level=1), fact(2, level=2)])
    assert caught.value.first.code == "HS540"
    assert "no verdict" in caught.value.first.message


def test_fields_called_id_and_sid_are_renamed_and_do_not_hang() -> None:
    fields = (model.CustomField("id", "integer"), model.CustomField("sid", "string"))
    condition = model.AllOf((model.Compare("id", ">=", 2), model.Compare("sid", "=", "x")))
    compiled = compile_ruleset(one_rule(condition, custom_fields=fields), AS_OF)
    facts = [fact(1, cf_id=5, cf_sid="x"), fact(2, cf_id=1, cf_sid="x"), fact(3, cf_id=9)]
    assert durable_eval.decide(compiled, facts)["release:r"] == {1}


def test_wrongly_typed_facts_are_refused_not_compared() -> None:
    compiled = compile_ruleset(one_rule(model.Compare("level", ">", 5)), AS_OF)
    with pytest.raises(EngineError) as caught:  # durable-rules: '10' is not > 5
        durable_eval.decide(compiled, [fact(1, level="10")])
    assert caught.value.first.code == "HS544"
    flag = model.CustomField("flag", "boolean")
    compiled = compile_ruleset(
        one_rule(model.Compare("flag", "=", True), custom_fields=(flag,)), AS_OF)
    with pytest.raises(EngineError):  # durable-rules: true == 1
        durable_eval.decide(compiled, [fact(1, cf_flag=1)])


def test_dates_and_decimals_become_numbers() -> None:
    from decimal import Decimal

    fields = (model.CustomField("signed", "date"), model.CustomField("amount", "number"))
    condition = model.AllOf((model.Compare("signed", "<", date(2024, 1, 1)),
                             model.Compare("amount", ">=", 10.5)))
    compiled = compile_ruleset(one_rule(condition, custom_fields=fields), AS_OF)
    facts = [fact(1, cf_signed=date(2023, 5, 1), cf_amount=Decimal("10.50")),
             fact(2, cf_signed=date(2024, 5, 1), cf_amount=Decimal("99")),
             fact(3, cf_signed=None, cf_amount=float("nan"))]
    assert durable_eval.decide(compiled, facts)["release:r"] == {1}


def test_nulls_are_left_out_so_negations_hold() -> None:
    condition = model.Not(model.Compare("level", "!=", 3))
    compiled = compile_ruleset(one_rule(condition), AS_OF)
    facts = [fact(1, level=None), fact(2, level=3), fact(3, level=4), fact(4)]
    verdicts = durable_eval.decide(compiled, facts)
    assert verdicts["release:r"] == {1, 2, 4}
    tags_none = compile_ruleset(one_rule(model.TagsMatch("none", ("a",))), AS_OF)
    facts = [fact(1, tags=[]), fact(2, tags=["a"]), fact(3, tags=["b", "c"])]
    assert durable_eval.decide(tags_none, facts)["release:r"] == {1, 3}


def test_durable_error_codes_come_back_as_hs510() -> None:
    bad = {"hit": {"all": [{"m": {"$ne": {"f0": 1}}}], "run": "hit"}}
    with pytest.raises(EngineError) as caught:
        durable_eval._register("t_bad_operator", bad)
    assert caught.value.first.code == "HS514"
    assert "error 202" in caught.value.first.message
    bad_pattern = {"hit": {"all": [{"m": {"$mt": {"f0": "[a"}}}], "run": "hit"}}
    with pytest.raises(EngineError) as caught:
        durable_eval._register("t_bad_pattern", bad_pattern)
    assert "Lua pattern" in caught.value.first.message


def test_rulesets_are_reused_and_native_handles_freed(monkeypatch: pytest.MonkeyPatch) -> None:
    ruleset = one_rule(model.Compare("level", ">", 5))
    compiled = compile_ruleset(ruleset, AS_OF)
    durable_eval.decide(compiled, [fact(1, level=9)])
    before = durable_eval.cached_rulesets()
    again = compile_ruleset(ruleset, AS_OF)  # same definition: same durable ruleset
    assert durable_eval.decide(again, [fact(1, level=9)])["release:r"] == {1}
    assert durable_eval.cached_rulesets() == before
    monkeypatch.setattr(durable_eval, "MAX_CACHED_RULESETS", 2)
    idle = one_rule(model.IdleFor(d("10d")))
    for day in range(1, 6):
        durable_eval.decide(compile_ruleset(idle, date(2026, 1, day)), [fact(1)])
    assert len(durable_eval.cached_rulesets()) == 2
    freed = durable_eval.clear_cache()
    assert freed == 2 and durable_eval.cached_rulesets() == ()
    # A freed name can be registered again (durable-rules alone would refuse).
    assert durable_eval.decide(compiled, [fact(1, level=9)])["release:r"] == {1}


def test_the_host_starts_no_threads() -> None:
    before = threading.active_count()
    durable_eval.host()
    compiled = compile_ruleset(one_rule(model.Compare("level", ">", 5)), AS_OF)
    durable_eval.decide(compiled, [fact(1, level=9)])
    assert threading.active_count() == before
    assert durable_eval.host() is durable_eval.host()


def test_long_value_lists_evaluate_fast() -> None:
    values = tuple(range(200))
    compiled = compile_ruleset(one_rule(model.Compare("level", "in", values)), AS_OF)
    facts = [fact(k, level=k % 400) for k in range(2000)]
    verdicts = durable_eval.decide(compiled, facts)
    assert verdicts["release:r"] == {k for k in range(2000) if k % 400 < 200}


def test_too_many_fields_are_refused_before_durable_crashes() -> None:
    # 254 properties in one event crash durable-rules 2.0.28 (segfault).
    fields = tuple(model.CustomField(f"x{i}", "integer") for i in range(201))
    condition = model.AnyOf(tuple(model.Compare(f.name, "=", 1) for f in fields[:100]))
    other = model.AnyOf(tuple(model.Compare(f.name, "=", 1) for f in fields[100:]))
    ruleset = make_ruleset(release_rules=(model.ReleaseRule("a", when=condition),
                                          model.ReleaseRule("b", when=other)),
                           custom_fields=fields)
    with pytest.raises(EngineError) as caught:
        compile_ruleset(ruleset, AS_OF)
    assert caught.value.first.code == "HS506"


def test_many_facts_are_all_answered_synchronously() -> None:
    condition = model.AllOf((model.IdleFor(d("30d")), model.Not(model.HasOpenOrder(True))))
    compiled = compile_ruleset(one_rule(condition), AS_OF)
    facts = [fact(k, last_touch_day=TODAY - k % 60, open_orders=k % 3) for k in range(20000)]
    verdicts = durable_eval.decide(compiled, facts)
    expected = {k for k in range(20000) if k % 60 >= 30 and k % 3 == 0}
    assert verdicts["release:r"] == expected


HANG_SCRIPT = """
import highseas.compile.durable  # on Python 3.13+, what durable-rules needs to load
from durable import engine
class Host(engine.Host):
    def _run(self):
        return None
host = Host()
host.set_rulesets({"only_nex": {
    "hit": {"all": [{"m": CONDITION}], "pri": 1, "run": lambda c: None},
    "miss": {"all": [{"m": {"$eq": {"e": 1}}}], "pri": 2, "run": lambda c: None}}})
host.post_batch("only_nex", [{"id": 1, "e": 1}])
print("returned")
"""


def _post_in_subprocess(condition: str) -> bool:
    """Whether posting one event to a ruleset with ``condition`` returns."""
    import subprocess
    import sys

    script = HANG_SCRIPT.replace("CONDITION", condition)
    try:
        done = subprocess.run([sys.executable, "-c", script], capture_output=True,
                              text=True, timeout=3)
    except subprocess.TimeoutExpired:
        return False
    return "returned" in done.stdout


def test_a_branch_of_only_nex_tests_hangs_durable_and_is_guarded() -> None:
    # Reproduced: a rule whose condition (or one $or branch) tests only $nex
    # makes post_batch spin for good. The compiler ANDs the marker e == 1
    # into every hit condition, which puts a positive test in every branch.
    bare = '{"$or": [{"$nex": {"f0": 1}}, {"$eq": {"f0": 3}}]}'
    guarded = '{"$and": [' + bare + ', {"$eq": {"e": 1}}]}'
    assert not _post_in_subprocess(bare)
    assert _post_in_subprocess(guarded)
    compiled = compile_ruleset(one_rule(model.Not(model.Compare("level", "!=", 3))), AS_OF)
    (rules,) = compiled.durable_definition().values()
    assert rules["hit"]["all"][0]["m"]["$and"][-1] == {"$eq": {"e": 1}}


def test_strings_beyond_16_bit_lengths_are_refused() -> None:
    # Reproduced: durable-rules keeps string lengths in 16 bits, so a value of
    # 65,537 bytes compares equal to its first byte.
    host = durable_eval.host()
    host.set_rulesets({"t_long_string": {
        "hit": {"all": [{"m": {"$and": [{"$eq": {"a": "y" * 65537}}, {"$eq": {"e": 1}}]}}],
                "pri": 1, "run": "hit"},
        "miss": {"all": [{"m": {"$eq": {"e": 1}}}], "pri": 2, "run": "miss"}}})
    collector = durable_eval._Collector()
    durable_eval._COLLECTORS["long"] = collector
    try:
        host.post_batch("t_long_string", [{"sid": "long", "id": 1, "e": 1, "a": "y"}])
    finally:
        del durable_eval._COLLECTORS["long"]
    assert collector.hits == {1}  # wrong, and why we refuse such strings
    with pytest.raises(EngineError) as caught:
        compile_ruleset(one_rule(model.Compare("name", "=", "y" * 65537)), AS_OF)
    assert caught.value.first.code == "HS502"
    compiled = compile_ruleset(one_rule(model.Compare("name", "=", "y")), AS_OF)
    with pytest.raises(EngineError) as caught:
        durable_eval.decide(compiled, [fact(1, name="y" * 65537)])
    assert caught.value.first.code == "HS544"
    assert durable_eval.decide(compiled, [fact(1, name="é" * 5000)])["release:r"] == set()


def test_what_durable_runs_is_what_compile_prints() -> None:
    import json

    compiled = compile_ruleset(
        one_rule(model.AllOf((model.IdleFor(d("3mo")), model.Compare("country", "in", ("DE",))))),
        AS_OF,
    )
    verdicts = durable_eval.decide(compiled, [fact(1, country="DE", last_touch_day=1)])
    assert len(verdicts) == 1 and verdicts["release:r"] == {1}
    printed = json.loads(compiled.durable_json())
    assert printed["decision_points"] == {"release:r": compiled.points[0].durable_name}
    host = durable_eval.host()
    for name, rules in printed["rulesets"].items():
        for rule in rules.values():
            del rule["run"]  # bound to the host's actions, then removed by durable-rules
        assert host.get_ruleset(name).get_definition() == rules


def test_concurrent_evaluations_do_not_mix() -> None:
    compiled_a = compile_ruleset(one_rule(model.Compare("level", ">", 5)), AS_OF)
    compiled_b = compile_ruleset(one_rule(model.Compare("level", "<", 5)), AS_OF)
    facts = [fact(k, level=k % 10) for k in range(3000)]
    results: dict[str, frozenset[int]] = {}

    def run(label: str, compiled: object) -> None:
        results[label] = durable_eval.decide(compiled, facts)["release:r"]  # type: ignore[arg-type]

    threads = [threading.Thread(target=run, args=(f"{name}{i}", compiled))
               for i in range(3) for name, compiled in (("a", compiled_a), ("b", compiled_b))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for i in range(3):
        assert results[f"a{i}"] == {k for k in range(3000) if k % 10 > 5}
        assert results[f"b{i}"] == {k for k in range(3000) if k % 10 < 5}


def test_a_negative_priority_runs_last_so_ours_are_positive() -> None:
    host = durable_eval.host()
    host.set_rulesets({"t_negative_pri": {
        "hit": {"all": [{"m": {"$eq": {"e": 1}}}], "pri": -1, "run": "hit"},
        "miss": {"all": [{"m": {"$eq": {"e": 1}}}], "pri": 2, "run": "miss"},
    }})
    collector = durable_eval._Collector()
    durable_eval._COLLECTORS["negative"] = collector
    try:
        host.post_batch("t_negative_pri", [{"sid": "negative", "id": 1, "e": 1}])
    finally:
        del durable_eval._COLLECTORS["negative"]
    assert collector.misses == {1} and not collector.hits  # -1 lost to 2
    compiled = compile_ruleset(one_rule(model.Compare("level", ">", 5)), AS_OF)
    for rules in compiled.durable_definition().values():
        assert 0 < rules["hit"]["pri"] < rules["miss"]["pri"]


def test_sixteen_groups_fail_with_113_and_are_split_instead() -> None:
    # Reproduced: each $and/$or takes two entries of a 32-entry sequence per
    # rule; the 16th fails with "error code: 113".
    groups = [{"$or": [{"$eq": {f"a{i}": 1}}, {"$eq": {f"b{i}": 1}}]} for i in range(15)]
    too_many = {"hit": {"all": [{"m": {"$and": groups}}], "pri": 1, "run": "hit"}}
    with pytest.raises(EngineError) as caught:
        durable_eval._register("t_sixteen_groups", too_many)
    assert "error 113" in caught.value.first.message
    fields = tuple(model.CustomField(f"n{i}", "integer") for i in range(16))
    condition = model.Not(model.AnyOf(tuple(model.Compare(f.name, "=", 1) for f in fields)))
    compiled = compile_ruleset(one_rule(condition, custom_fields=fields), AS_OF)
    facts = [fact(k, **{f"cf_n{i}": (1 if (k >> i) & 1 else (None if i % 2 else 0))
                        for i in range(16)}) for k in range(0, 70000, 997)]
    facts.append(fact(99999))
    verdicts = durable_eval.decide(compiled, facts)
    assert verdicts["release:r"] == {f["k"] for f in facts if compiled.matches("release:r", f)}
    assert 99999 in verdicts["release:r"]


def test_nested_groups_found_by_hypothesis_compile_and_agree() -> None:
    idle = model.IdleFor(d("1d"))
    level = model.Compare("level", "in", (0, 0))
    unless = model.AllOf((
        model.AllOf((level, model.TagsMatch("any", ("vip",)))),
        model.AnyOf((idle, idle, level)),
        model.AnyOf((idle, idle, model.TagsMatch("all", ("vip", "vip", "vip")))),
    ))
    compiled = compile_ruleset(one_rule(idle, unless=unless), AS_OF)
    facts = [fact(1), fact(2, last_touch_day=TODAY - 5, level=0, tags=["vip"]),
             fact(3, last_touch_day=TODAY - 5, level=3), fact(4, last_touch_day=TODAY)]
    verdicts = durable_eval.decide(compiled, facts)
    for name in compiled.names:
        assert verdicts[name] == {f["k"] for f in facts if compiled.matches(name, f)}
