"""Speed of ``highseas simulate``: a day-by-day replay with a sweep.

The budget (docs/performance.md): 365 days of 100k customers and 200
salespeople with a 4-value idle-period sweep (5 scenarios with the baseline)
in under 60 s on a 2-core machine.

Run::

    python bench/bench_simulate.py                      # the full target
    python bench/bench_simulate.py --customers 10000 --days 30
    python bench/bench_simulate.py --customers 10000 --compare-nightly

``--replay-path`` picks the replay (default auto: the incremental replay);
``--compare-nightly`` also replays on the nightly path in the same run and
prints the ratio (both outputs must be equal; a difference fails the bench).
Peak RSS is of the whole process tree (the parent and its workers).

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
    parser.add_argument("--replay-path", default="auto", choices=["auto", "incremental", "nightly"])
    parser.add_argument("--compare-nightly", action="store_true",
                        help="also replay on the nightly path and print the ratio")
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
    result = simulate(ruleset, db, start, end, sweeps=sweeps, out=args.out, jobs=args.jobs,
                      replay_path=args.replay_path)
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
    print(f"  peak RSS: {_peak_rss_mib():.0f} MiB (largest process of the run)")
    print(result.format_text())
    if args.compare_nightly:
        started = time.perf_counter()
        nightly = simulate(ruleset, db, start, end, sweeps=sweeps, jobs=args.jobs,
                           replay_path="nightly")
        nightly_total = time.perf_counter() - started
        if nightly.tables != result.tables:
            raise SystemExit("the nightly path's tables differ from the replay's")
        print(f"nightly path: {nightly_total:.1f} s, {nightly_total / total:.1f}x the "
              f"replay's {total:.1f} s (tables equal)")


def _peak_rss_mib() -> float:
    """The largest peak RSS of this process and of its finished children."""
    import resource

    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, children) / 1024


if __name__ == "__main__":
    main()
