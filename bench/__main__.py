"""``python -m bench``: the highseas benchmark suite.

Generates regional-trading fixtures (fixed seed, 1 salesperson per 500
customers) into bench/.cache, measures validate cold start, load, derive,
evaluate, plan (against the pure-SQL reference in bench/reference.py), apply,
explain and a 365-day simulation with a 4-value sweep, prints a table and
writes the raw results (JSON) and the table (Markdown) to bench/results/.

Examples::

    python -m bench --quick                    # 10k, one run, no simulation
    python -m bench --sizes 10k,100k --repeat 3
    python -m bench --sizes 10k,100k,1m --no-simulate
    python -m bench --profile 100k             # cProfile of the plan
"""

from __future__ import annotations

import argparse
import json
import sys


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments, run the suite or the profile, print the table."""
    from bench.suite import Options, markdown, parse_size, run_suite, write_reports

    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10k,100k,1m",
                        help="customer counts, e.g. 10k,100k,1m (default)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per step (median)")
    parser.add_argument("--quick", action="store_true",
                        help="10k only, one run, no simulation, nothing written")
    parser.add_argument("--no-simulate", action="store_true", help="skip the simulation")
    parser.add_argument("--simulate-size", default="100k")
    parser.add_argument("--simulate-days", type=int, default=365)
    parser.add_argument("--simulate-timeout", type=float, default=None,
                        help="give up the simulation after this many seconds")
    parser.add_argument("--step-timeout", type=float, default=None,
                        help="give up a step run after this many seconds")
    parser.add_argument("--steps", default=None,
                        help="comma-separated subset of load,derive,evaluate,plan,apply,explain")
    parser.add_argument("--no-write", action="store_true",
                        help="print only; write nothing to bench/results/")
    parser.add_argument("--label", default="", help="a note for the table heading")
    parser.add_argument("--note", action="append", default=[], help="a line under the heading")
    parser.add_argument("--profile", metavar="SIZE",
                        help="profile the plan at SIZE instead (see bench/profile.py)")
    args = parser.parse_args(argv)
    if args.profile:
        from bench.profile import profile_plan

        print(profile_plan(parse_size(args.profile)))
        return 0
    try:
        sizes = [parse_size(s) for s in args.sizes.split(",") if s.strip()]
        options = Options(
            sizes=sizes,
            repeat=max(1, args.repeat),
            simulate=not args.no_simulate,
            simulate_size=parse_size(args.simulate_size),
            simulate_days=args.simulate_days,
            simulate_timeout=args.simulate_timeout,
            step_timeout=args.step_timeout,
            write=not args.no_write,
            label=args.label,
            notes=list(args.note),
        )
    except ValueError as error:
        parser.error(str(error))
    if args.steps:
        options.steps = tuple(s.strip() for s in args.steps.split(",") if s.strip())
    if args.quick:
        options.sizes, options.repeat, options.simulate, options.write = [10_000], 1, False, False
        options.validate_runs = 3
    results = run_suite(options)
    print()
    print(markdown(results))
    if options.write:
        raw, table = write_reports(results)
        print(f"raw results in {raw}; table in {table}")
    else:
        print(json.dumps({k: v for k, v in results.items() if k != "sizes"}, default=str)[:2000])
    failed = [size for size, entry in results["sizes"].items()
              if "plan" in entry and not entry["plan"].get("equal", True)]
    if failed:
        print(f"engine and reference decisions DIFFER at {', '.join(failed)} "
              "(see the raw JSON)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
