"""One measured step of the benchmark, run in its own process.

``python -m bench.steps STEP --db FILE [--size N] [--files DIR]`` runs STEP
once, times only the step itself (its prerequisites, e.g. the plan an apply
writes, are built first and not timed) and prints one JSON object: the
seconds, the peak RSS of this process and its children (KiB, from
``getrusage``, so it includes the untimed prerequisites) and step details.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RULESET = ROOT / "rulesets" / "regional-trading.yaml"
#: Where simulations copy the database (emptied by the suite after a timeout).
SCRATCH = Path(__file__).resolve().parent / ".cache" / "scratch"
STEPS = ("load", "derive", "evaluate", "plan", "apply", "explain", "simulate")


def _peak_rss_kib() -> int:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return int(max(own, children))


def step_load(db: Path, files: Path) -> dict[str, Any]:
    """Load the exported customers CSV (every check on every row) into a fresh file."""
    from highseas.store.db import init_db
    from highseas.store.loader import load_file

    with tempfile.TemporaryDirectory(prefix="hs-bench-load-") as folder:
        target = Path(folder) / "load.duckdb"
        init_db(target)
        now = datetime(2026, 6, 30, 12, 0)
        load_file(target, "reps", files / "reps.csv", "bench", now=now)
        started, cpu = time.perf_counter(), time.process_time()
        report = load_file(target, "customers", files / "customers.csv", "bench", now=now)
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    return {"seconds": seconds, "cpu_seconds": cpu, "rows": report.rows_loaded}


def step_derive(db: Path) -> dict[str, Any]:
    """Materialize the derived customer facts and the salesperson snapshots."""
    from highseas.nightly import facts as derive
    from highseas.ruleset.loader import load_ruleset
    from highseas.store.db import open_db
    from highseas.store.fixtures import DEFAULT_AS_OF

    ruleset = load_ruleset(RULESET)
    with open_db(db, read_only=True) as con:
        started, cpu = time.perf_counter(), time.process_time()
        table = derive.materialize_customer_facts(con, ruleset, DEFAULT_AS_OF, ruleset.company.id)
        derive.rep_facts(con, ruleset, DEFAULT_AS_OF, ruleset.company.id)
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        rows = con.execute(f"SELECT count(*) FROM {table}").fetchone()
    return {"seconds": seconds, "cpu_seconds": cpu, "rows": rows[0] if rows else 0}


def step_evaluate(db: Path) -> dict[str, Any]:
    """Compile the ruleset and decide every point (SQL filter + durable-rules)."""
    from highseas.nightly import facts as derive
    from highseas.nightly.verdicts import evaluate_ruleset
    from highseas.ruleset.loader import load_ruleset
    from highseas.store.db import open_db
    from highseas.store.fixtures import DEFAULT_AS_OF

    ruleset = load_ruleset(RULESET)
    with open_db(db, read_only=True) as con:
        table = derive.materialize_customer_facts(con, ruleset, DEFAULT_AS_OF, ruleset.company.id)
        started, cpu = time.perf_counter(), time.process_time()
        evaluation = evaluate_ruleset(con, ruleset, DEFAULT_AS_OF, table)
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    return {"seconds": seconds, "cpu_seconds": cpu, "customers": evaluation.customer_count}


def step_plan(db: Path) -> dict[str, Any]:
    """The engine's plan and the SQL reference in one process, and their comparison.

    Order: the reference once (warms DuckDB's buffers), the engine's plan
    (timed), the reference again (timed)."""
    from bench.reference import compare, engine_keys, reference_plan
    from highseas.nightly.planner import plan
    from highseas.ruleset.loader import load_ruleset
    from highseas.store.db import open_db
    from highseas.store.fixtures import DEFAULT_AS_OF

    ruleset = load_ruleset(RULESET)
    with open_db(db, read_only=True) as con:
        first = reference_plan(con, ruleset, DEFAULT_AS_OF)
        started, cpu = time.perf_counter(), time.process_time()
        result = plan(con, ruleset, DEFAULT_AS_OF)
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        reference = reference_plan(con, ruleset, DEFAULT_AS_OF)
    keys = engine_keys(result.decisions)
    only_engine, only_reference = compare(keys, reference.decisions)
    return {
        "seconds": seconds,
        "cpu_seconds": cpu,
        "reference_seconds": reference.seconds,
        "reference_cpu_seconds": reference.cpu_seconds,
        "reference_first_seconds": first.seconds,
        "reference_steps": {k: round(v, 4) for k, v in reference.steps.items()},
        "reference_conflicts": reference.conflicts,
        "ratio": seconds / reference.seconds,
        "cpu_ratio": cpu / reference.cpu_seconds if reference.cpu_seconds else None,
        "decisions": dict(Counter(d.action for d in result.decisions)),
        "compared": len(keys),
        "equal": not only_engine and not only_reference,
        "only_engine": [list(k) for k in only_engine[:50]],
        "only_reference": [list(k) for k in only_reference[:50]],
        "only_engine_count": len(only_engine),
        "only_reference_count": len(only_reference),
    }


def step_apply(db: Path) -> dict[str, Any]:
    """Apply the plan to a copy of the file (the plan is built first, untimed)."""
    from highseas.nightly.apply import apply_plan
    from highseas.nightly.planner import plan
    from highseas.ruleset.loader import load_ruleset
    from highseas.store.db import open_db
    from highseas.store.fixtures import DEFAULT_AS_OF

    ruleset = load_ruleset(RULESET)
    with tempfile.TemporaryDirectory(prefix="hs-bench-apply-", dir=db.parent) as folder:
        copy = Path(folder) / db.name
        shutil.copyfile(db, copy)
        with open_db(copy) as con:
            result = plan(con, ruleset, DEFAULT_AS_OF)
            started, cpu = time.perf_counter(), time.process_time()
            applied = apply_plan(con, result)
            seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    return {"seconds": seconds, "cpu_seconds": cpu, "changes": applied.ownership_changes,
            "notifications": applied.notifications, "applied": applied.applied}


def step_explain(db: Path, size: int) -> dict[str, Any]:
    """Explain one customer (the one in the middle of the id range)."""
    from highseas.nightly.explain import explain_customer
    from highseas.ruleset.loader import load_ruleset
    from highseas.store.db import open_db
    from highseas.store.fixtures import DEFAULT_AS_OF

    ruleset = load_ruleset(RULESET)
    customer = "C" + str(max(1, size // 2)).zfill(max(7, len(str(size))))
    with open_db(db, read_only=True) as con:
        started, cpu = time.perf_counter(), time.process_time()
        explain_customer(con, ruleset, DEFAULT_AS_OF, customer)
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    return {"seconds": seconds, "cpu_seconds": cpu, "customer": customer}


def step_simulate(db: Path, days: int, sweep: str) -> dict[str, Any]:
    """A day-by-day replay ending on the fixture's date, with a sweep."""
    from highseas.simulate import simulate
    from highseas.store.fixtures import DEFAULT_AS_OF

    start = DEFAULT_AS_OF - timedelta(days=days - 1)
    scratch = SCRATCH
    scratch.mkdir(parents=True, exist_ok=True)
    started, cpu = time.perf_counter(), time.process_time()
    result = simulate(RULESET, db, start, DEFAULT_AS_OF, sweeps=[sweep] if sweep else [],
                      scratch=scratch)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    return {"seconds": seconds, "cpu_seconds": cpu, "days": days,
            "scenarios": len(result.scenarios), "sweep": sweep}


def main(argv: list[str] | None = None) -> None:
    """Run one step and print its JSON result on stdout."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("step", choices=STEPS)
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--size", type=int, default=0)
    parser.add_argument("--files", type=Path)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--sweep", default="idle-period=30d,60d,90d,180d")
    args = parser.parse_args(argv)
    if args.step == "load":
        if args.files is None:
            parser.error("load needs --files")
        result = step_load(args.db, args.files)
    elif args.step == "explain":
        result = step_explain(args.db, args.size)
    elif args.step == "simulate":
        result = step_simulate(args.db, args.days, args.sweep)
    else:
        result = {"derive": step_derive, "evaluate": step_evaluate, "plan": step_plan,
                  "apply": step_apply}[args.step](args.db)
    result["peak_rss_kib"] = _peak_rss_kib()
    json.dump(result, sys.stdout, default=str)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
