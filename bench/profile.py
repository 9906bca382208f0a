"""cProfile of the nightly plan on a cached fixture: where the time goes.

``python -m bench --profile 100k`` prints the top functions by own time and
by cumulative time, with their share of the total, and writes the full
statistics to ``bench/results/plan-<size>.prof`` (git-ignored; open with
``snakeviz`` or ``python -m pstats``).
"""

from __future__ import annotations

import cProfile
import pstats
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def profile_plan(size: int, top: int = 25) -> str:
    """Profile ``highseas.nightly.planner.plan`` at ``size`` customers; a text report."""
    from bench.steps import RULESET
    from bench.suite import RESULTS, fixture, size_label
    from highseas.nightly.planner import plan
    from highseas.ruleset.loader import load_ruleset
    from highseas.store.db import open_db
    from highseas.store.fixtures import DEFAULT_AS_OF

    db, summary = fixture(size)
    ruleset = load_ruleset(RULESET)
    profiler = cProfile.Profile()
    with open_db(db, read_only=True) as con:
        plan(con, ruleset, DEFAULT_AS_OF)  # warm DuckDB's buffers and imports
        started = time.perf_counter()
        profiler.enable()
        plan(con, ruleset, DEFAULT_AS_OF)
        profiler.disable()
        wall = time.perf_counter() - started
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"plan-{size_label(size)}.prof"
    profiler.dump_stats(str(out))
    stats = pstats.Stats(profiler)
    # shares are of the profiled plan call (its cumulative time)
    total = max(v[3] for v in stats.stats.values())  # type: ignore[attr-defined]
    lines = [f"plan at {size_label(size)} ({summary['customers']} customers): "
             f"{wall:.2f} s wall under cProfile; profile in {out}", "",
             f"top {top} by own time (tottime, % of the plan's profiled time):"]
    rows = sorted(stats.stats.items(), key=lambda kv: kv[1][2], reverse=True)  # type: ignore[attr-defined]
    for (file, line, name), (_cc, nc, tt, ct, _callers) in rows[:top]:
        lines.append(f"  {tt:8.3f} s {100 * tt / total:5.1f}%  cum {ct:8.3f} s  "
                     f"calls {nc:>9}  {_where(file, line, name)}")
    lines.append("")
    lines.append(f"top {top} by cumulative time:")
    rows = sorted(stats.stats.items(), key=lambda kv: kv[1][3], reverse=True)  # type: ignore[attr-defined]
    for (file, line, name), (_cc, nc, tt, ct, _callers) in rows[:top]:
        lines.append(f"  {ct:8.3f} s {100 * ct / total:5.1f}%  own {tt:8.3f} s  "
                     f"calls {nc:>9}  {_where(file, line, name)}")
    return "\n".join(lines)


def _where(file: str, line: int, name: str) -> str:
    root = str(ROOT) + "/"
    if file.startswith(root):
        file = file[len(root):]
    elif "site-packages/" in file:
        file = file.split("site-packages/", 1)[1]
    return f"{name} ({file}:{line})" if line else name
