"""Benchmark of ``highseas run-all``: companies per hour on a LocalCluster, and
the per-task overhead of Dask against one process running the same companies
one after another, in the same run.

1. Generates a few template companies per archetype (``--customers`` each,
   cached in ``bench/.cache/fleet/``) and copies them into ``--companies``
   companies (mixed archetypes): two copies of every facts file, one for each
   side. A copy keeps its archetype's company id (only the ruleset file name
   differs): the work per company is the same as with distinct ids.
2. Plans and applies every company on a ``--workers``-process LocalCluster
   (``highseas.fleet.run_all``, as ``highseas run-all --apply`` does), timed
   after the workers have imported the engine.
3. Plans and applies the second copies one after another in this process
   (``highseas.fleet.run_in_process``).
4. Times ``--noop`` empty tasks on the same cluster: the scheduler's own cost
   per task, which bounds the throughput of a large cluster.

Prints the figures and the throughput model (docs/scale-out.md) for 2, 8 and
64 workers, and writes them to ``bench/results/fleet-<UTC time>.json``.

Run:  python bench/bench_fleet.py [--companies 1000] [--customers 2000] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import tempfile
import time
import warnings
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CACHE = Path(__file__).resolve().parent / ".cache" / "fleet"
RESULTS = Path(__file__).resolve().parent / "results"
ARCHETYPES = ("quick-order", "large-project", "regional-trading")
TEMPLATES_PER_ARCHETYPE = 2


def templates(customers: int) -> list[tuple[str, Path]]:
    """(archetype, facts file) of the cached template companies."""
    from highseas.store.ddl import SCHEMA_VERSION
    from highseas.store.fixtures import DEFAULT_AS_OF, generate

    CACHE.mkdir(parents=True, exist_ok=True)
    made = []
    for archetype in ARCHETYPES:
        for seed in range(1, TEMPLATES_PER_ARCHETYPE + 1):
            # Named by schema version: the workers open the copies read-only
            # first and cannot upgrade a template of an older schema.
            path = CACHE / f"{archetype}-{customers}-{seed}-v{SCHEMA_VERSION}.duckdb"
            if not path.exists():
                generate(path, archetype, customers, max(2, customers // 50), seed,
                         DEFAULT_AS_OF)
            made.append((archetype, path))
    return made


def make_fleet(root: Path, companies: int, customers: int) -> tuple[Path, Path, Path]:
    """``rulesets/``, ``facts/`` and ``facts-seq/`` folders of ``companies`` companies."""
    rulesets, facts, facts_seq = root / "rulesets", root / "facts", root / "facts-seq"
    for folder in (rulesets, facts, facts_seq):
        folder.mkdir()
    sources = templates(customers)
    for i in range(companies):
        archetype, template = sources[i % len(sources)]
        name = f"c{i:05d}"
        shutil.copyfile(ROOT / "rulesets" / f"{archetype}.yaml", rulesets / f"{name}.yaml")
        shutil.copyfile(template, facts / f"{name}.duckdb")
        shutil.copyfile(template, facts_seq / f"{name}.duckdb")
    return rulesets, facts, facts_seq


def noop(i: int) -> int:
    return i


def scheduler_cost(address: str, tasks: int) -> float:
    """Seconds per empty task on the cluster at ``address``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from distributed import Client, wait

        with Client(address) as client:
            started = time.perf_counter()
            futures = client.map(noop, range(tasks), pure=False)
            wait(futures)
            return (time.perf_counter() - started) / tasks


def model(company_s: float, overhead_s: float, scheduler_s: float,
          workers: int) -> float:
    """Companies per hour on ``workers`` workers: each worker runs a company
    every ``company_s + overhead_s`` seconds; the scheduler hands out at most
    one task every ``scheduler_s`` seconds."""
    per_company = max((company_s + overhead_s) / workers, scheduler_s)
    return 3600 / per_company


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--companies", type=int, default=1000)
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--noop", type=int, default=2000, help="empty tasks timed")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()

    from highseas.fleet import RunOptions, discover, run_all, run_in_process
    from highseas.fleet.task import warm_up
    from highseas.store.fixtures import DEFAULT_AS_OF

    options = RunOptions(DEFAULT_AS_OF, apply=True)
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench-fleet-") as folder:
        started = time.perf_counter()
        rulesets, facts, facts_seq = make_fleet(Path(folder), args.companies, args.customers)
        prepared = time.perf_counter() - started
        facts_mib = sum(p.stat().st_size for p in facts.iterdir()) / args.companies / 2**20

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from distributed import LocalCluster

            cluster = LocalCluster(n_workers=args.workers, threads_per_worker=1,
                                   processes=True, host="127.0.0.1", dashboard_address=None)
        try:
            fleet = run_all(discover(rulesets, facts, apply=True), options,
                            scheduler=cluster.scheduler_address)
            per_task_scheduler = scheduler_cost(cluster.scheduler_address, args.noop)
        finally:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                cluster.close()

        warm_up()
        sequential = run_in_process(discover(rulesets, facts_seq, apply=True), options)

    statuses = {s.value: n for s, n in fleet.by_status().items()}
    seq_statuses = {s.value: n for s, n in sequential.by_status().items()}
    failed = [o for o in (*fleet.outcomes, *sequential.outcomes) if o.status.value != "applied"]
    if failed:
        # A company that fails costs a fraction of one that applies: the
        # figures would mean nothing.
        first = failed[0]
        raise SystemExit(f"{len(failed)} companies not applied; first: {first.company} "
                         f"{first.status.value} {first.error_code} {first.error_message}")
    n = args.companies
    company_s = sequential.wall_s / n  # one company, one process, no Dask
    in_task_s = statistics.fmean(o.duration_s for o in fleet.outcomes)
    worker_s_per_company = fleet.wall_s * args.workers / n
    overhead_s = worker_s_per_company - company_s
    results: dict[str, Any] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "companies": n,
        "customers": args.customers,
        "workers": args.workers,
        "cpus": os.cpu_count(),
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
        "prepare_s": round(prepared, 1),
        "facts_mib_per_company": round(facts_mib, 2),
        "fleet_wall_s": round(fleet.wall_s, 2),
        "fleet_statuses": statuses,
        "companies_per_hour": round(n / fleet.wall_s * 3600),
        "sequential_wall_s": round(sequential.wall_s, 2),
        "sequential_statuses": seq_statuses,
        "sequential_companies_per_hour": round(n / sequential.wall_s * 3600),
        "company_s_sequential": round(company_s, 4),
        "company_s_in_task": round(in_task_s, 4),
        "worker_s_per_company": round(worker_s_per_company, 4),
        "overhead_s_per_task": round(overhead_s, 4),
        # of which outside the task function (scheduling, messages, results):
        "dask_s_per_task": round(worker_s_per_company - in_task_s, 4),
        # and inside it, slower than alone (CPU and disk shared between workers):
        "contention_s_per_task": round(in_task_s - company_s, 4),
        "worker_time_ratio": round(worker_s_per_company / company_s, 3),
        "speedup": round(sequential.wall_s / fleet.wall_s, 2),
        "scheduler_s_per_task": round(per_task_scheduler, 5),
        "model_companies_per_hour": {
            str(w): round(model(company_s, max(overhead_s, 0.0), per_task_scheduler, w))
            for w in (2, 8, 64)
        },
    }
    print(json.dumps(results, indent=2))
    if not args.no_write:
        RESULTS.mkdir(exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        out = RESULTS / f"fleet-{stamp}.json"
        out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
        print(f"written to {out}")


if __name__ == "__main__":
    main()
