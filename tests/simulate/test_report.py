"""Pieces of the simulation report: text table, HTML tables, charts, fairness."""

from __future__ import annotations

from pathlib import Path

from highseas.simulate.metrics import gini, side_by_side, to_arrow
from highseas.simulate.report import MAX_NAMED_REPS, chart_assignments, html_table
from highseas.simulate.result import format_side_by_side

SUMMARY = [
    {"scenario": "baseline", "metric": "customers_released", "label": "customers released",
     "value": 10},
    {"scenario": "idle-period=30d", "metric": "customers_released",
     "label": "customers released", "value": 4},
    {"scenario": "baseline", "metric": "assign_max_min", "label": "assignments max/min",
     "value": None},
    {"scenario": "idle-period=30d", "metric": "assign_max_min", "label": "assignments max/min",
     "value": 1.5},
]


def test_side_by_side_differences_and_text() -> None:
    rows = side_by_side(SUMMARY, ["baseline", "idle-period=30d"])
    released = next(r for r in rows if r["metric"] == "customers_released")
    assert released["idle-period=30d diff"] == -6
    ratio = next(r for r in rows if r["metric"] == "assign_max_min")
    assert ratio["idle-period=30d diff"] is None  # no difference against a missing value
    text = format_side_by_side(rows, ["baseline", "idle-period=30d"])
    lines = text.splitlines()
    assert lines[0].split() == ["metric", "baseline", "[1]", "diff"]
    assert "customers released" in lines[2] and lines[2].split()[-2:] == ["4", "-6"]
    assert lines[-1] == "[1] idle-period=30d"


def test_html_table_escapes_and_limits() -> None:
    rows = [{"name": "<b>x</b>", "n": i} for i in range(5)]
    page = html_table(rows, limit=3)
    assert "&lt;b&gt;x&lt;/b&gt;" in page and "<b>x</b>" not in page
    assert page.count("<tr>") == 4  # header + 3 rows
    assert "first 3 of 5 rows" in page
    assert "(none)" in html_table([])


def test_gini() -> None:
    assert gini([5, 5, 5, 5]) == 0.0
    assert gini([0, 0, 0, 10]) == 0.75
    assert gini([]) == 0.0 and gini([0, 0]) == 0.0


def test_assignment_chart_ranks_many_salespeople(tmp_path: Path) -> None:
    rows = [{"scenario": s, "rep_id": f"r{i:03d}", "received": (i * 7 + k) % 23,
             "claims_back": 0} for k, s in enumerate(["baseline", "b"])
            for i in range(MAX_NAMED_REPS + 10)]
    for name, data in (("many.png", rows), ("few.png", rows[:8])):
        path = chart_assignments(data, ["baseline", "b"], tmp_path / name)
        assert path.read_bytes()[:4] == b"\x89PNG" and path.stat().st_size > 10_000


def test_to_arrow_keeps_columns_and_nulls() -> None:
    table = to_arrow(SUMMARY)
    assert table.column_names == ["scenario", "metric", "label", "value"]
    assert table.column("value").to_pylist() == [10, 4, None, 1.5]
    assert to_arrow([]).column_names == ["scenario"]
