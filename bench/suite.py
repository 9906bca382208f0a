"""The benchmark suite: fixtures, measured steps, the reference ratio, reports.

Every step runs in its own process (``bench.steps``), ``repeat`` times; the
suite reports the median time and the highest peak RSS. Fixtures come from
the generator with fixed seeds and are cached under ``bench/.cache``. Each
run's raw results (JSON) and its Markdown table go to ``bench/results/``
(git-ignored); docs/performance.md keeps only the current figure per budget.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CACHE = Path(__file__).resolve().parent / ".cache"
#: Where each run's raw results and table are written (git-ignored).
RESULTS = Path(__file__).resolve().parent / "results"
ARCHETYPE = "regional-trading"
SEED = 7
CUSTOMERS_PER_REP = 500
#: Steps measured at every size, in this order.
SIZE_STEPS = ("load", "derive", "evaluate", "plan", "apply", "explain")


@dataclass
class Options:
    """What to measure."""

    sizes: list[int]
    repeat: int = 3
    simulate: bool = True
    simulate_size: int = 100_000
    simulate_days: int = 365
    simulate_timeout: float | None = None
    step_timeout: float | None = None
    sweep: str = "idle-period=30d,60d,90d,180d"
    validate_runs: int = 10
    write: bool = True
    label: str = ""
    steps: tuple[str, ...] = SIZE_STEPS
    notes: list[str] = field(default_factory=list)


def parse_size(text: str) -> int:
    """``10k`` -> 10000, ``1m`` -> 1000000, ``2500`` -> 2500."""
    text = text.strip().lower()
    factor = 1
    if text.endswith("k"):
        factor, text = 1_000, text[:-1]
    elif text.endswith("m"):
        factor, text = 1_000_000, text[:-1]
    value = float(text) * factor
    if value < 1 or value != int(value):
        raise ValueError(f"bad size {text!r}")
    return int(value)


def size_label(n: int) -> str:
    """10000 -> ``10k``."""
    if n % 1_000_000 == 0:
        return f"{n // 1_000_000}m"
    if n % 1_000 == 0:
        return f"{n // 1_000}k"
    return str(n)


def fixture(n: int) -> tuple[Path, dict[str, Any]]:
    """The cached generated database of ``n`` customers and its summary."""
    from highseas.store.fixtures import generate

    CACHE.mkdir(parents=True, exist_ok=True)
    reps = max(1, n // CUSTOMERS_PER_REP)
    db = CACHE / f"{ARCHETYPE}-{n}-{reps}-s{SEED}.duckdb"
    meta = db.with_suffix(".json")
    if db.exists() and meta.exists():
        return db, json.loads(meta.read_text(encoding="utf-8"))
    for leftover in (db, Path(str(db) + ".wal")):
        leftover.unlink(missing_ok=True)
    print(f"generating {n} customers, {reps} salespeople (seed {SEED}) ...", flush=True)
    summary = generate(db, ARCHETYPE, n, reps, seed=SEED)
    summary["activities_per_customer"] = round(summary["activities"] / n, 2)
    meta.write_text(json.dumps(summary, indent=2, default=str), encoding="utf-8")
    return db, summary


def exported(db: Path) -> Path:
    """The fixture's reps and customers as CSV/Parquet (bench_load's export)."""
    folder = db.with_suffix(".files")
    if (folder / "customers.csv").exists():
        return folder
    sys.path.insert(0, str(ROOT / "bench"))
    from bench_load import _export  # type: ignore[import-not-found]

    folder.mkdir(parents=True, exist_ok=True)
    _export(db, folder)
    return folder


def run_step(step: str, db: Path, size: int, extra: list[str] | None = None,
             timeout: float | None = None) -> dict[str, Any]:
    """One run of ``step`` in a fresh process; its JSON result."""
    cmd = [sys.executable, "-m", "bench.steps", step, "--db", str(db), "--size", str(size),
           *(extra or [])]
    # its own session, so that a timeout also ends the step's worker processes
    child = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, start_new_session=True)
    try:
        stdout, stderr = child.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(child.pid, signal.SIGKILL)
        child.communicate()
        from bench.steps import SCRATCH

        for leftover in SCRATCH.glob("highseas-sim-*"):  # copies of a killed simulation
            shutil.rmtree(leftover, ignore_errors=True)
        raise
    done = subprocess.CompletedProcess(cmd, child.returncode, stdout, stderr)
    if done.returncode != 0:
        raise RuntimeError(f"step {step} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure(step: str, db: Path, size: int, repeat: int,
            extra: list[str] | None = None, timeout: float | None = None) -> dict[str, Any]:
    """``repeat`` runs of a step: median seconds, max peak RSS, the last details.

    A failed or timed-out step is recorded as ``{"error": ...}`` (the rest of
    the suite still runs)."""
    runs = []
    for _ in range(repeat):
        try:
            runs.append(run_step(step, db, size, extra, timeout))
        except (RuntimeError, subprocess.TimeoutExpired, ValueError) as error:
            print(f"  {step} {size_label(size)}: FAILED: {str(error)[-500:]}", flush=True)
            return {"error": str(error)[-2000:]}
        print(f"  {step} {size_label(size)}: {runs[-1]['seconds']:.3f} s, "
              f"{runs[-1]['peak_rss_kib'] / 1024:.0f} MiB", flush=True)
    result = dict(runs[-1])
    result["runs"] = [r["seconds"] for r in runs]
    result["median"] = statistics.median(result["runs"])
    result["cpu_median"] = statistics.median(r["cpu_seconds"] for r in runs)
    result["peak_rss_mib"] = max(r["peak_rss_kib"] for r in runs) / 1024
    if step == "plan":
        result["reference_runs"] = [r["reference_seconds"] for r in runs]
        result["reference_median"] = statistics.median(result["reference_runs"])
        result["ratio_median"] = result["median"] / result["reference_median"]
        result["reference_cpu_median"] = statistics.median(
            r["reference_cpu_seconds"] for r in runs)
        result["cpu_ratio_median"] = result["cpu_median"] / result["reference_cpu_median"]
        result["equal"] = all(r["equal"] for r in runs)
    return result


def validate_cold(runs: int) -> dict[str, Any]:
    """``highseas validate`` cold start (bench_validate's runner) and its peak RSS."""
    sys.path.insert(0, str(ROOT / "bench"))
    from bench_validate import EXAMPLE, cold_start, many_rulesets  # type: ignore[import-not-found]

    times = cold_start(runs)
    probe = (
        "import resource, shutil, subprocess, sys; "
        "exe = shutil.which('highseas', path=sys.argv[1]) or 'highseas'; "
        "subprocess.run([exe, 'validate', sys.argv[2]], check=True, capture_output=True); "
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    rss = subprocess.run([sys.executable, "-c", probe, str(Path(sys.executable).parent),
                          str(EXAMPLE)], capture_output=True, text=True, check=True)
    many = many_rulesets(200)
    return {"runs": times, "median": statistics.median(times), "best": min(times),
            "peak_rss_mib": int(rss.stdout.strip()) / 1024, "many_200_seconds": many}


def source_state() -> dict[str, Any]:
    """The commit measured and whether engine/ had uncommitted changes."""
    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True,
                              check=False)
        return done.stdout.strip()

    return {"commit": git("rev-parse", "--short", "HEAD"),
            "engine_dirty_files": len(git("status", "--porcelain", "engine").splitlines())}


def machine() -> dict[str, Any]:
    """Cores, memory and load of this machine."""
    memory = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = int(line.split()[1]) * 1024
    except OSError:
        pass
    return {"cores": os.cpu_count(), "memory_gib": round(memory / 2**30, 1),
            "load_average": [round(x, 2) for x in os.getloadavg()],
            "python": platform.python_version(), "platform": platform.platform()}


def run_suite(options: Options) -> dict[str, Any]:
    """Measure everything ``options`` asks for; returns the raw results."""
    import duckdb

    started = time.perf_counter()
    results: dict[str, Any] = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "duckdb": duckdb.__version__,
        "source": source_state(),
        "repeat": options.repeat,
        "seed": SEED,
        "label": options.label,
        "notes": options.notes,
        "sizes": {},
    }
    print("validate cold start ...", flush=True)
    results["validate"] = validate_cold(options.validate_runs)
    for n in options.sizes:
        db, summary = fixture(n)
        entry: dict[str, Any] = {"fixture": summary}
        for step in options.steps:
            extra = ["--files", str(exported(db))] if step == "load" else None
            entry[step] = measure(step, db, n, options.repeat, extra, options.step_timeout)
        results["sizes"][size_label(n)] = entry
    if options.simulate:
        db, summary = fixture(options.simulate_size)
        print(f"simulate {options.simulate_days} days at {size_label(options.simulate_size)} "
              f"with {options.sweep} ...", flush=True)
        sim = measure("simulate", db, options.simulate_size, 1,
                      ["--days", str(options.simulate_days), "--sweep", options.sweep],
                      options.simulate_timeout)
        sim["customers"] = options.simulate_size
        results["simulate"] = sim
    results["growth"] = growth(results)
    results["total_seconds"] = time.perf_counter() - started
    results["machine"]["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    return results


def growth(results: dict[str, Any]) -> dict[str, float]:
    """Time factor per step between consecutive sizes 10x apart (100k -> 1M first)."""
    sizes = results["sizes"]
    factors: dict[str, float] = {}
    for small, big in (("100k", "1m"), ("10k", "100k")):
        if small in sizes and big in sizes:
            for step in SIZE_STEPS:
                if (sizes[small].get(step, {}).get("median")
                        and sizes[big].get(step, {}).get("median")):
                    factors[f"{step} {small}->{big}"] = (
                        sizes[big][step]["median"] / sizes[small][step]["median"])
            a, b = sizes[small].get("plan"), sizes[big].get("plan")
            if a and b and "error" not in a and "error" not in b:
                factors[f"reference {small}->{big}"] = (
                    b["reference_median"] / a["reference_median"])
    return factors


def _fmt(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"


def markdown(results: dict[str, Any]) -> str:
    """The results as a Markdown section: machine, validate, a table per size."""
    m = results["machine"]
    lines = [
        f"### {results['date']}" + (f" ({results['label']})" if results["label"] else ""),
        "",
        f"Machine: {m['cores']} cores, {m['memory_gib']} GiB, load average "
        f"{m['load_average'][0]} at the start and {m['load_average_end'][0]} at the end "
        f"(shared with other jobs), Python {m['python']}, DuckDB {results['duckdb']}, "
        f"commit {results['source']['commit']}"
        + (f" with {results['source']['engine_dirty_files']} uncommitted engine files"
           if results["source"]["engine_dirty_files"] else "") + ". "
        f"Medians of {results['repeat']} runs, each step in its own process; RSS is the "
        "peak of that process (it includes the step's untimed prerequisites, e.g. apply "
        "builds its plan first).",
        "",
    ]
    for note in results["notes"]:
        lines.append(f"- {note}")
    if results["notes"]:
        lines.append("")
    v = results["validate"]
    lines += [
        f"`highseas validate` cold start: median {_fmt(v['median'])} (best {_fmt(v['best'])}), "
        f"peak RSS {v['peak_rss_mib']:.0f} MiB; 200 rulesets in one process: "
        f"{v['many_200_seconds']:.2f} s.",
        "",
    ]
    sizes = results["sizes"]
    if sizes:
        header = "| step | " + " | ".join(sizes) + " |"
        lines += [header, "|---|" + "---|" * len(sizes)]
        fix = [f"{s['fixture']['customers']:,} cust, {s['fixture']['reps']:,} reps, "
               f"{s['fixture']['activities']:,} act "
               f"({s['fixture']['activities'] / s['fixture']['customers']:.1f}/cust)"
               for s in sizes.values()]
        lines.append("| fixture | " + " | ".join(fix) + " |")
        for step in SIZE_STEPS:
            cells = []
            for entry in sizes.values():
                r = entry.get(step)
                if r is not None and "error" in r:
                    cells.append("failed (see JSON)")
                    continue
                cells.append("-" if r is None else
                             f"{_fmt(r['median'])} (CPU {_fmt(r['cpu_median'])}), "
                             f"{r['peak_rss_mib']:.0f} MiB")
            lines.append(f"| {step} | " + " | ".join(cells) + " |")
        cells = []
        for entry in sizes.values():
            r = entry.get("plan")
            r = None if r is None or "error" in r else r
            cells.append("-" if r is None else
                         f"{_fmt(r['reference_median'])} (CPU {_fmt(r['reference_cpu_median'])})")
        lines.append("| SQL reference (bench/reference.py) | " + " | ".join(cells) + " |")
        cells = []
        for entry in sizes.values():
            r = entry.get("plan")
            r = None if r is None or "error" in r else r
            cells.append("-" if r is None else
                         f"**{r['ratio_median']:.1f}x** (CPU {r['cpu_ratio_median']:.1f}x)"
                         + (" (equal)" if r["equal"] else " (DIFFERENT decisions)"))
        lines.append("| plan / reference | " + " | ".join(cells) + " |")
        cells = []
        for entry in sizes.values():
            r = entry.get("plan")
            r = None if r is None or "error" in r else r
            cells.append("-" if r is None else
                         ", ".join(f"{k} {v:,}" for k, v in sorted(r["decisions"].items())))
        lines.append("| plan decisions | " + " | ".join(cells) + " |")
        lines.append("")
    if "simulate" in results and "error" in results["simulate"]:
        lines += ["Simulation: did not finish (" + results["simulate"]["error"][-200:] + ").", ""]
    elif "simulate" in results:
        s = results["simulate"]
        lines += [
            f"Simulation: {s['days']} days of {size_label(s['customers'])} customers, "
            f"{s['scenarios']} scenarios ({s['sweep']}): {_fmt(s['median'])} "
            f"(CPU of the main process {_fmt(s['cpu_median'])}), peak RSS "
            f"{s['peak_rss_mib']:.0f} MiB (one run).",
            "",
        ]
    if results["growth"]:
        lines.append("Growth (time at 10x the customers / time before): " + ", ".join(
            f"{k} {v:.1f}x" for k, v in results["growth"].items()) + ".")
        lines.append("")
    return "\n".join(lines)


def write_reports(results: dict[str, Any], folder: Path = RESULTS) -> tuple[Path, Path]:
    """Write the raw results (JSON) and their Markdown table into ``folder``.

    Both are named after the moment of writing, ``bench-<UTC stamp>.json`` and
    ``.md``; nothing else is touched. Returns the two paths (JSON, Markdown)."""
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    raw = folder / f"bench-{stamp}.json"
    raw.write_text(json.dumps(results, indent=2, default=str) + "\n", encoding="utf-8")
    table = raw.with_suffix(".md")
    table.write_text(markdown(results) + "\n", encoding="utf-8")
    return raw, table
