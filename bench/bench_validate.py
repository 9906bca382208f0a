"""Benchmark of ``highseas validate``.

1. Cold start: ``highseas validate rulesets/regional-trading.yaml`` in a new
   process, best and median of N runs (the target is under 300 ms).
2. Throughput: 200 rulesets (variants of the three examples) validated in
   one process with ``validate_paths``.

Run:  python bench/bench_validate.py [--runs 10]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "rulesets" / "regional-trading.yaml"


def cold_start(runs: int) -> list[float]:
    """Wall-clock seconds of ``highseas validate EXAMPLE`` in fresh processes."""
    exe = shutil.which("highseas", path=str(Path(sys.executable).parent)) or "highseas"
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([exe, "validate", str(EXAMPLE)], check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return times


def many_rulesets(count: int) -> float:
    """Seconds to validate ``count`` rulesets in one process."""
    from highseas.ruleset.validation import validate_paths

    sources = [ROOT / "rulesets" / name for name in
               ("quick-order.yaml", "large-project.yaml", "regional-trading.yaml")]
    with tempfile.TemporaryDirectory() as folder:
        for i in range(count):
            source = sources[i % len(sources)]
            text = source.read_text(encoding="utf-8").replace(
                "id: ", f"id: v{i}-", 1  # a different company id per file
            )
            (Path(folder) / f"ruleset-{i:03d}.yaml").write_text(text, encoding="utf-8")
        start = time.perf_counter()
        report = validate_paths([folder])
        elapsed = time.perf_counter() - start
    if report.exit_code != 0:
        raise SystemExit("benchmark rulesets are invalid:\n" + "\n".join(
            d.format_text() for d in report.diagnostics[:10]))
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--count", type=int, default=200)
    args = parser.parse_args()
    times = cold_start(args.runs)
    print(f"cold start, {args.runs} runs: best {min(times) * 1000:.0f} ms, "
          f"median {statistics.median(times) * 1000:.0f} ms (target < 300 ms)")
    elapsed = many_rulesets(args.count)
    print(f"{args.count} rulesets in one process: {elapsed:.2f} s "
          f"({elapsed / args.count * 1000:.1f} ms each)")


if __name__ == "__main__":
    main()
