"""Benchmark: generator timings and loading 1 million customers.

Run: ``python bench/bench_load.py [--customers 1000000] [--reps 400] [--keep DIR]``

1. Generates each archetype (``--customers`` customers, about ten activities
   each) and reports the time and row counts.
2. Exports the regional-trading reps and customers to CSV and Parquet and
   loads them into a fresh database with :func:`highseas.store.loader.load_file`
   (every check on every row), reporting rows per second.
3. Loads the same customers again with 1% broken rows, to time the reject path.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from datetime import datetime
from pathlib import Path

import duckdb

from highseas.errors import RejectedDataError
from highseas.store.db import init_db
from highseas.store.fixtures import ARCHETYPES, generate
from highseas.store.loader import load_file

NOW = datetime(2026, 6, 30, 12, 0)


def _export(source: Path, folder: Path) -> dict[str, Path]:
    """Write the generated regional-trading reps and customers as CSV/Parquet."""
    files = {
        "reps.csv": folder / "reps.csv",
        "customers.csv": folder / "customers.csv",
        "customers.parquet": folder / "customers.parquet",
        "customers_bad.csv": folder / "customers_bad.csv",
    }
    with duckdb.connect(str(source), read_only=True) as con:
        where = "WHERE company_id = 'regional-trading'"
        con.execute(
            f"COPY (SELECT * EXCLUDE (company_id) FROM reps {where}) "
            f"TO '{files['reps.csv']}' (HEADER)"
        )
        con.execute(
            f"COPY (SELECT * EXCLUDE (company_id) FROM customers {where}) "
            f"TO '{files['customers.csv']}' (HEADER)"
        )
        con.execute(
            f"COPY (SELECT * EXCLUDE (company_id) FROM customers {where}) "
            f"TO '{files['customers.parquet']}' (FORMAT parquet)"
        )
        # every 100th customer gets a bad country
        con.execute(
            f"COPY (SELECT * EXCLUDE (company_id, country), CASE WHEN row_number() OVER () "
            f"% 100 = 0 THEN 'XX' ELSE country END AS country FROM customers {where}) "
            f"TO '{files['customers_bad.csv']}' (HEADER)"
        )
    return files


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--reps", type=int, default=400)
    parser.add_argument("--keep", type=Path, help="keep the files in this folder")
    parser.add_argument(
        "--reuse", action="store_true", help="reuse --keep's generated.db (time loads only)"
    )
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="highseas-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    results: dict[str, object] = {"customers": args.customers, "reps": args.reps}
    try:
        generated = folder / "generated.db"
        if not (args.reuse and generated.exists()):
            generated.unlink(missing_ok=True)
            for archetype in ARCHETYPES:
                cpu = time.process_time()
                summary = generate(generated, archetype, args.customers, args.reps, seed=1)
                summary["cpu_seconds"] = round(time.process_time() - cpu, 2)
                results[f"generate {archetype}"] = summary
                print(
                    f"generate {archetype}: {summary['seconds']}s wall, "
                    f"{summary['cpu_seconds']}s CPU ({summary['customers']} customers, "
                    f"{summary['activities']} activities, {summary['orders']} orders)",
                    flush=True,
                )
        files = _export(generated, folder)
        for name in ("customers.csv", "customers.parquet"):
            target = folder / f"load-{name}.db"
            target.unlink(missing_ok=True)
            init_db(target)
            load_file(target, "reps", files["reps.csv"], "bench", now=NOW)
            started, cpu = time.perf_counter(), time.process_time()
            report = load_file(target, "customers", files[name], "bench", now=NOW)
            seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
            results[f"load {name}"] = {
                "rows": report.rows_loaded,
                "seconds": round(seconds, 2),
                "cpu_seconds": round(cpu, 2),
            }
            print(
                f"load {name}: {report.rows_loaded} rows in {seconds:.2f}s wall, "
                f"{cpu:.2f}s CPU ({report.rows_loaded / seconds:,.0f} rows/s)",
                flush=True,
            )
        target = folder / "load-bad.db"
        target.unlink(missing_ok=True)
        init_db(target)
        load_file(target, "reps", files["reps.csv"], "bench", now=NOW)
        started, cpu = time.perf_counter(), time.process_time()
        try:
            load_file(
                target, "customers", files["customers_bad.csv"], "bench",
                rejects_path=folder / "rejects.csv", now=NOW,
            )  # fmt: skip
        except RejectedDataError as error:
            report = error.report  # type: ignore[attr-defined]
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        results["load with 1% rejects"] = {
            "rejected": report.rows_rejected,
            "seconds": round(seconds, 2),
            "cpu_seconds": round(cpu, 2),
        }
        print(
            f"load with 1% bad rows: {report.rows_rejected} rejected in {seconds:.2f}s wall, "
            f"{cpu:.2f}s CPU"
        )
        print(json.dumps(results, indent=2, default=str))
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
