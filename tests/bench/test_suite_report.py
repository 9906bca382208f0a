"""The benchmark writes each run's raw results and table to bench/results/
(git-ignored), never into docs/."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench.suite import RESULTS, markdown, write_reports

ROOT = Path(__file__).resolve().parents[2]


def _results() -> dict[str, Any]:
    plan = {"median": 0.5, "cpu_median": 0.6, "peak_rss_mib": 200.0,
            "reference_median": 0.25, "reference_cpu_median": 0.3,
            "ratio_median": 2.0, "cpu_ratio_median": 2.0, "equal": True,
            "decisions": {"release": 3, "relay": 1}}
    return {
        "date": "2026-12-02 02:00 UTC",
        "machine": {"cores": 2, "memory_gib": 23.5, "load_average": [0.5, 0.5, 0.5],
                    "load_average_end": [0.7, 0.6, 0.5], "python": "3.11.7",
                    "platform": "Linux"},
        "duckdb": "2.0.1",
        "source": {"commit": "abc1234", "engine_dirty_files": 0},
        "repeat": 1,
        "seed": 7,
        "label": "",
        "notes": [],
        "validate": {"runs": [0.2], "median": 0.2, "best": 0.2, "peak_rss_mib": 27.0,
                     "many_200_seconds": 1.3},
        "sizes": {"10k": {"fixture": {"customers": 10_000, "reps": 20, "activities": 70_000},
                          "plan": plan}},
        "growth": {},
    }


def test_results_go_to_the_ignored_bench_results_folder() -> None:
    assert RESULTS == ROOT / "bench" / "results"
    ignored = (ROOT / ".gitignore").read_text(encoding="utf-8").splitlines()
    assert "/bench/results/" in ignored


def test_a_run_writes_its_raw_json_and_its_table_and_nothing_else(tmp_path: Path) -> None:
    results = _results()
    raw, table = write_reports(results, tmp_path / "results")
    assert raw.parent == table.parent == tmp_path / "results"
    assert raw.name.startswith("bench-") and raw.suffix == ".json"
    assert table == raw.with_suffix(".md")
    assert json.loads(raw.read_text(encoding="utf-8")) == results
    text = table.read_text(encoding="utf-8")
    assert text == markdown(results) + "\n"
    assert "| plan / reference | **2.0x** (CPU 2.0x) (equal) |" in text
    assert sorted(tmp_path.rglob("*")) == sorted([tmp_path / "results", raw, table])
