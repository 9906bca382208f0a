"""Pieces of the simulation report: text table, HTML tables, charts, fairness."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from highseas.simulate.metrics import gini, side_by_side, to_arrow
from highseas.simulate.report import (
    MAX_NAMED_REPS,
    REP_ROW_INCHES,
    chart_assignments,
    html_table,
)
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


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def _received(reps: int) -> list[dict[str, object]]:
    return [{"scenario": s, "rep_id": f"rep-{i:03d}", "received": (i * 7 + k) % 23 + 1,
             "claims_back": 0} for k, s in enumerate(["baseline", "b"]) for i in range(reps)]


Labels = list[tuple[list[str], list[float], list[tuple[float, float]]]]


@pytest.fixture
def drawn(monkeypatch: pytest.MonkeyPatch) -> Labels:
    """The y-axis names of each chart saved: texts, font sizes, vertical extents."""
    from highseas.simulate import report

    seen: Labels = []
    original = report._save

    def inspect(fig: Any, path: Path, tight: bool = True) -> Path:
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        labels = fig.axes[0].get_yticklabels()
        boxes = [label.get_window_extent(renderer) for label in labels]
        seen.append(([label.get_text() for label in labels],
                     [label.get_fontsize() for label in labels],
                     [(box.y0, box.y1) for box in boxes]))
        return original(fig, path, tight)

    monkeypatch.setattr(report, "_save", inspect)
    return seen


def test_assignment_chart_names_200_salespeople_readably(tmp_path: Path,
                                                         drawn: Labels) -> None:
    """Every salesperson is named on their own row, in a readable font, and
    no two names overlap: the figure grows with the team."""
    path = chart_assignments(_received(200), ["baseline", "b"], tmp_path / "team.png")
    names, sizes, spans = drawn[-1]
    assert sorted(names) == [f"rep-{i:03d}" for i in range(200)]
    assert min(sizes) >= 9
    spans.sort()
    assert all(low[1] <= high[0] for low, high in zip(spans, spans[1:], strict=False))
    width, height = _png_size(path)
    assert width <= 1000 and height >= 200 * REP_ROW_INCHES * 100
    small = chart_assignments(_received(8), ["baseline", "b"], tmp_path / "small.png")
    assert _png_size(small)[1] < height / 8


def test_assignment_chart_of_a_huge_team_names_the_busiest(tmp_path: Path,
                                                           drawn: Labels) -> None:
    reps = MAX_NAMED_REPS + 150
    path = chart_assignments(_received(reps), ["baseline", "b"], tmp_path / "huge.png")
    names = drawn[-1][0]
    assert len(names) == MAX_NAMED_REPS and names[-1] == f"mean of the other {151}"
    _, height = _png_size(path)
    assert height <= (MAX_NAMED_REPS * REP_ROW_INCHES + 2.5) * 100


def test_to_arrow_keeps_columns_and_nulls() -> None:
    table = to_arrow(SUMMARY)
    assert table.column_names == ["scenario", "metric", "label", "value"]
    assert table.column("value").to_pylist() == [10, 4, None, 1.5]
    assert to_arrow([]).column_names == ["scenario"]
