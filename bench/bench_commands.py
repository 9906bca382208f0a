"""The nightly command as users run it: ``highseas run`` from start to exit.

``python bench/bench_commands.py [--sizes 100k,1m] [--repeat 3]`` runs each
variant of the command in a fresh process on the bench's cached fixture
(``regional-trading``, 500 customers per salesperson, seed 7, as of
2026-06-30) and reports the median wall time and the peak RSS of the
command's process (``wait4``'s rusage). The in-process SQL reference
(``bench.steps plan``) is measured in the same run and is the ratio's
denominator. ``--apply`` variants run on a fresh copy of the fixture each
time (the copy is not timed).

Raw results go to ``bench/results/commands-<UTC time>.json`` (git-ignored);
``docs/performance.md`` keeps the current figure of each budget.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.suite import RESULTS, fixture, parse_size, run_step, size_label, source_state  # noqa: E402

RULESET = ROOT / "rulesets" / "regional-trading.yaml"
AS_OF = "2026-06-30"
#: variant name -> (extra arguments, applies, output file name or None)
VARIANTS: dict[str, tuple[list[str], bool, str | None]] = {
    "run": ([], False, None),
    "run -o plan.parquet": ([], False, "plan.parquet"),
    "run -o plan.json": ([], False, "plan.json"),
    "run -o plan.jsonl": ([], False, "plan.jsonl"),
    "run --apply -o plan.parquet": (["--apply"], True, "plan.parquet"),
}
#: The budgets at one million customers (seconds).
BUDGETS_1M = {
    "run": 6.0, "run -o plan.parquet": 7.0, "run -o plan.json": 15.0,
    "run --apply -o plan.parquet": 10.0,
}
BUDGET_RSS_MIB = 2048


def command() -> str:
    """The ``highseas`` script beside this interpreter."""
    found = shutil.which("highseas", path=str(Path(sys.executable).parent))
    return found or "highseas"


def timed(args: list[str]) -> tuple[float, float, str]:
    """Run ``args`` to exit: wall seconds, peak RSS in MiB, and its stdout."""
    started = time.perf_counter()
    child = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert child.stdout is not None and child.stderr is not None
    stdout = child.stdout.read()
    stderr = child.stderr.read()
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({child.returncode}): {stderr[-2000:]!r}")
    return seconds, usage.ru_maxrss / 1024, stdout.decode()


def measure(db: Path, variant: str, repeat: int) -> dict[str, Any]:
    extra, applies, output = VARIANTS[variant]
    runs: list[float] = []
    peaks: list[float] = []
    sizes: list[int] = []
    with tempfile.TemporaryDirectory(prefix="hs-bench-cmd-") as folder:
        for _ in range(repeat):
            target = db
            if applies:
                target = Path(folder) / "copy.duckdb"
                target.unlink(missing_ok=True)
                shutil.copyfile(db, target)
            args = [command(), "run", "--ruleset", str(RULESET), "--db", str(target),
                    "--as-of", AS_OF, *extra]
            if output is not None:
                args += ["--output", str(Path(folder) / output)]
            seconds, peak, _ = timed(args)
            runs.append(seconds)
            peaks.append(peak)
            if output is not None:
                sizes.append((Path(folder) / output).stat().st_size)
            print(f"  {variant}: {seconds:.2f} s, {peak:.0f} MiB", flush=True)
    return {"runs": runs, "median": statistics.median(runs), "peak_rss_mib": max(peaks),
            "output_bytes": sizes[-1] if sizes else None}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100k,1m")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    options = parser.parse_args(argv)
    results: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "source": source_state(),
        "sizes": {},
    }
    for size in [parse_size(s) for s in options.sizes.split(",")]:
        db, summary = fixture(size)
        label = size_label(size)
        print(f"{label}: {summary.get('customers')} customers", flush=True)
        reference = run_step("plan", db, size)
        entry: dict[str, Any] = {
            "reference_seconds": reference["reference_seconds"],
            "plan_step_seconds": reference["seconds"],
            "commands": {},
        }
        for variant in options.variants.split(","):
            measured = measure(db, variant, options.repeat)
            measured["ratio_to_reference"] = measured["median"] / reference["reference_seconds"]
            entry["commands"][variant] = measured
        results["sizes"][label] = entry
    labels = list(results["sizes"])
    if len(labels) >= 2:
        small, large = results["sizes"][labels[0]], results["sizes"][labels[-1]]
        results["growth"] = {
            v: large["commands"][v]["median"] / small["commands"][v]["median"]
            for v in large["commands"] if v in small["commands"]
        }
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS / f"commands-{stamp}.json"
    path.write_text(json.dumps(results, indent=2), encoding="utf-8")
    print(markdown(results))
    print(f"raw results: {path.relative_to(ROOT)}")


def markdown(results: dict[str, Any]) -> str:
    lines = ["| size | command | median | peak RSS | x SQL reference | file |",
             "|---|---|---|---|---|---|"]
    for label, entry in results["sizes"].items():
        for variant, m in entry["commands"].items():
            size = f"{m['output_bytes'] / 1e6:.0f} MB" if m["output_bytes"] else ""
            lines.append(f"| {label} | `highseas {variant}` | {m['median']:.2f} s | "
                         f"{m['peak_rss_mib']:.0f} MiB | {m['ratio_to_reference']:.1f}x | {size} |")
        lines.append(f"| {label} | SQL reference (in process) | "
                     f"{entry['reference_seconds']:.2f} s | | 1.0x | |")
    for variant, factor in results.get("growth", {}).items():
        lines.append(f"growth of `{variant}`: {factor:.1f}x")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
