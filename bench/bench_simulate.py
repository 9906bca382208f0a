"""Speed of ``highseas simulate``: a day-by-day replay with a sweep.

The budget (docs/performance.md): 365 days of 100k customers and 200
salespeople with a 4-value idle-period sweep (5 scenarios with the baseline)
in under 60 s on a 2-core machine.

Run::

    python bench/bench_simulate.py                      # the full target
    python bench/bench_simulate.py --customers 10000 --days 30

The generated database is cached under --cache (regenerated when missing).
Prints the total, seconds per scenario-day (from the replay's own timings)
and, when the run is smaller than the target, a linear extrapolation.
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--reps", type=int, default=200)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--archetype", default="regional-trading")
    parser.add_argument("--sweep", default="idle-period=30d,60d,90d,180d")
    parser.add_argument("--jobs", type=int, default=None)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/highseas-bench"))
    parser.add_argument("--out", type=Path, default=None, help="also write the report here")
    args = parser.parse_args()

    from highseas.simulate import simulate
    from highseas.store.fixtures import DEFAULT_AS_OF, generate

    args.cache.mkdir(parents=True, exist_ok=True)
    db = args.cache / f"{args.archetype}-{args.customers}-{args.reps}.duckdb"
    if not db.exists():
        started = time.perf_counter()
        generate(db, args.archetype, args.customers, args.reps, seed=1)
        print(f"generated {db} in {time.perf_counter() - started:.1f} s")
    end = DEFAULT_AS_OF
    start = end - timedelta(days=args.days - 1)
    ruleset = ROOT / "rulesets" / f"{args.archetype}.yaml"
    sweeps = [args.sweep] if args.sweep else []
    started = time.perf_counter()
    result = simulate(ruleset, db, start, end, sweeps=sweeps, out=args.out, jobs=args.jobs)
    total = time.perf_counter() - started
    per_day = [seconds for days in result.day_seconds.values() for seconds in days]
    scenario_days = len(per_day)
    print(f"{args.customers} customers, {args.reps} reps, {args.days} days, "
          f"{len(result.scenarios)} scenarios ({scenario_days} scenario-days): {total:.1f} s")
    print(f"  per scenario-day: mean {statistics.fmean(per_day):.3f} s, "
          f"median {statistics.median(per_day):.3f} s, max {max(per_day):.3f} s")
    print(f"  sum of the simulated days' own time: {sum(per_day):.1f} s "
          "(over all worker processes)")
    target_days = 365 * 5
    if scenario_days < target_days:
        scale = target_days / scenario_days * max(1.0, 100_000 / args.customers)
        print(f"  linear extrapolation to 100k customers x 365 days x 5 scenarios: "
              f"~{total * scale:.0f} s (customers scale is a rough upper bound)")
    print(result.format_text())


if __name__ == "__main__":
    main()
