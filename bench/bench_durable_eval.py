"""Speed of highseas.compile.durable: every decision point for N customers.

Run: python bench/bench_durable_eval.py [N]  (default 100,000)

Prints event building, then durable-rules evaluation in facts per second
(all points) and fact x point evaluations per second, wall and CPU time, and
checks the verdicts against the IR's Python evaluator.
"""

from __future__ import annotations

import random
import sys
import time
from datetime import date

from highseas.compile.decision_points import compile_ruleset
from highseas.compile.durable import build_events, decide
from highseas.ruleset import model
from highseas.ruleset.durations import Duration


def ruleset() -> model.Ruleset:
    d = Duration.parse
    return model.Ruleset(
        version=1,
        company=model.Company("bench", "Bench", "UTC"),
        tiers=(model.Tier("new"),),
        custom_fields=(model.CustomField("score", "number"),),
        release_rules=(
            model.ReleaseRule(
                "idle",
                when=model.AnyOf((model.IdleFor(d("90d")), model.NoOrderFor(d("6mo")))),
                unless=model.AnyOf((
                    model.HasOpenOrder(True),
                    model.TagsMatch("any", ("vip",)),
                    model.Compare("score", ">=", 80.0),
                )),
                remind_before=(d("7d"),),
            ),
        ),
        relays=(
            model.ActivationRelay(
                "dormant",
                when=model.AllOf((model.NeverContacted(True),
                                  model.Compare("country", "in", ("DE", "FR")))),
                contact_window=d("7d"), rounds=3, tiers=("new",),
            ),
        ),
    )


def facts(n: int, as_of: date, seed: int = 1) -> list[dict[str, object]]:
    rng = random.Random(seed)
    today = as_of.toordinal()
    return [
        {
            "k": k,
            "last_touch_day": rng.choice([None, today - rng.randint(0, 200)]),
            "last_order_touch_day": rng.choice([None, today - rng.randint(0, 400)]),
            "contacted": rng.random() < 0.5,
            "open_orders": rng.randint(0, 2),
            "tags": rng.choice([[], ["vip"], ["x", "y"]]),
            "cf_score": rng.choice([None, rng.uniform(0, 100)]),
            "country": rng.choice(["DE", "FR", "US", None]),
        }
        for k in range(n)
    ]


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    as_of = date(2026, 11, 23)
    compiled = compile_ruleset(ruleset(), as_of)
    rows = facts(n, as_of)
    decide(compiled, rows[:100])  # registers the rulesets

    cpu = time.process_time()
    build_events(compiled, rows)
    cpu = time.process_time() - cpu
    print(f"build_events: {n / cpu:,.0f} facts/s (CPU)")

    wall, cpu = time.perf_counter(), time.process_time()
    verdicts = decide(compiled, rows)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    points = len(compiled.points)
    print(verdicts)
    print(
        f"evaluate: {points} points, {n:,} facts: wall {wall:.2f} s, CPU {cpu:.2f} s; "
        f"{n / cpu:,.0f} facts/s, {n * points / cpu:,.0f} fact-points/s (CPU)"
    )
    for name in compiled.names:
        expected = frozenset(r["k"] for r in rows if compiled.matches(name, r))
        assert expected == verdicts[name], name
    print("verdicts equal to the Python evaluator")


if __name__ == "__main__":
    main()
