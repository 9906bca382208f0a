"""Outputs of a simulation: CSV/Parquet files, PNG charts and one
self-contained ``report.html`` (charts embedded as base64); the terminal
table is :func:`highseas.simulate.result.format_side_by_side`.

matplotlib runs with the Agg backend (no display needed).
"""

from __future__ import annotations

import base64
import csv
import html
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from highseas.simulate.advice import Advice, curve_rows
from highseas.simulate.metrics import Row, to_arrow
from highseas.simulate.result import (
    SAME_AS_BASELINE,
    SimulationResult,
    format_diff,
    format_value,
)

CHARTS = ("pool_size.png", "releases_per_week.png", "assignments_per_rep.png",
          "released_then_ordered.png")


# --------------------------------------------------------------------------
# files
# --------------------------------------------------------------------------


def _csv_value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, date):
        return value.isoformat()
    return value


def write_table(rows: list[Row], folder: Path, name: str) -> list[Path]:
    """``NAME.csv`` and ``NAME.parquet`` in ``folder``."""
    import pyarrow.parquet as pq

    csv_path = folder / f"{name}.csv"
    columns = list(rows[0]) if rows else ["scenario"]
    with open(csv_path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for row in rows:
            writer.writerow([_csv_value(row.get(c)) for c in columns])
    parquet_path = folder / f"{name}.parquet"
    pq.write_table(to_arrow(rows, name), parquet_path)
    return [csv_path, parquet_path]


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _week(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _save(fig: Any, path: Path, tight: bool = True) -> Path:
    if tight:
        fig.tight_layout()
    fig.savefig(path, dpi=100)
    _plt().close(fig)
    return path


#: The hatch of bars of a scenario whose ruleset is the baseline's.
SAME_HATCH = "//"


def _label(name: str, same: Sequence[str]) -> str:
    """A scenario's name in a legend, marked when its ruleset is the baseline's."""
    return f"{name} {SAME_AS_BASELINE}" if name in same else name


def chart_pool_size(daily: list[Row], scenarios: Sequence[str], path: Path,
                    same: Sequence[str] = ()) -> Path:
    """One line per scenario. The baseline is drawn wide and underneath; a
    scenario equal to it is a thin dashed line on top, so both show."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(9, 4.5))
    for index, name in enumerate(scenarios):
        points = [(r["day"], r["high_seas"]) for r in daily if r["scenario"] == name]
        style: dict[str, Any] = {"linewidth": 1.4, "zorder": 3}
        if index == 0:
            style = {"linewidth": 3.2, "zorder": 2}
        elif name in same:
            style = {"linewidth": 1.4, "linestyle": (0, (4, 3)), "zorder": 4}
        ax.plot([p[0] for p in points], [p[1] for p in points], label=_label(name, same),
                **style)
    ax.set_title("High-seas pool size over time")
    ax.set_ylabel("customers in the high seas")
    ax.legend(fontsize=8)
    fig.autofmt_xdate()
    return _save(fig, path)


def chart_releases_per_week(daily: list[Row], scenarios: Sequence[str], path: Path,
                            same: Sequence[str] = ()) -> Path:
    plt = _plt()
    weeks = sorted({_week(r["day"]) for r in daily})
    fig, ax = plt.subplots(figsize=(9, 4.5))
    width = 0.8 / max(len(scenarios), 1)
    for index, name in enumerate(scenarios):
        per_week: dict[date, int] = defaultdict(int)
        for r in daily:
            if r["scenario"] == name:
                per_week[_week(r["day"])] += r["released"]
        xs = [i + index * width for i in range(len(weeks))]
        ax.bar(xs, [per_week[w] for w in weeks], width=width, label=_label(name, same),
               hatch=SAME_HATCH if name in same else None)
    ax.set_xticks([i + 0.4 - width / 2 for i in range(len(weeks))])
    ax.set_xticklabels([w.isoformat() for w in weeks], rotation=60, fontsize=7)
    ax.set_title("Releases per week (week starting)")
    ax.set_ylabel("customers released")
    ax.legend(fontsize=8)
    return _save(fig, path)


#: The per-salesperson chart names at most this many salespeople (those who
#: received the most); the rest are one row of their mean.
MAX_NAMED_REPS = 250
#: Height of one salesperson's row in that chart, in inches (at 100 dpi: 19
#: pixels for a 9-point name).
REP_ROW_INCHES = 0.19
#: Marker of each scenario after the baseline (a wide hollow circle).
_MARKERS = ("s", "^", "D", "v", "P", "X", "<", ">", "p", "h")


def chart_assignments(assignments: list[Row], scenarios: Sequence[str], path: Path,
                      same: Sequence[str] = ()) -> Path:
    """Customers received per salesperson: one row per salesperson, named in
    a readable font, the figure as tall as the team (a dot per scenario; the
    baseline a wide hollow circle, so a scenario with the same figure shows
    inside it). Sorted by what the baseline gave, most first."""
    plt = _plt()
    got: dict[str, dict[str, int]] = defaultdict(dict)
    for r in assignments:
        got[r["rep_id"]][r["scenario"]] = r["received"]
    reps = sorted({r["rep_id"] for r in assignments if r["received"] or r["claims_back"]})
    if not reps:
        reps = sorted({r["rep_id"] for r in assignments})[:20]
    base = scenarios[0] if scenarios else ""
    reps.sort(key=lambda rep: (-got[rep].get(base, 0), rep))
    labels = list(reps)
    rows: list[list[float]] = [[got[rep].get(name, 0) for name in scenarios] for rep in reps]
    if len(reps) > MAX_NAMED_REPS:
        keep = sorted(reps, key=lambda rep: (-max(got[rep].values(), default=0), rep))
        named = set(keep[:MAX_NAMED_REPS - 1])
        others = [rep for rep in reps if rep not in named]
        labels = [rep for rep in reps if rep in named]
        rows = [[got[rep].get(name, 0) for name in scenarios] for rep in labels]
        rows.append([round(sum(got[rep].get(name, 0) for rep in others) / len(others), 1)
                     for name in scenarios])
        labels.append(f"mean of the other {len(others)}")
    # Margins in inches, whatever the height: title, legend and a scale above,
    # a scale and its label below, the longest name on the left.
    legend_rows = -(-len(scenarios) // 3)
    top = 0.45 + 0.24 * legend_rows + 0.35
    bottom, right = 0.65, 0.35
    left = 0.3 + 0.075 * max((len(label) for label in labels), default=4)
    width, height = 10.0, top + bottom + REP_ROW_INCHES * max(len(labels), 8)
    fig, ax = plt.subplots(figsize=(width, height))
    fig.subplots_adjust(left=left / width, right=1 - right / width, top=1 - top / height,
                        bottom=bottom / height)
    ys = range(len(labels))
    for index, name in enumerate(scenarios):
        xs = [row[index] for row in rows]
        if index == 0:
            ax.scatter(xs, ys, s=90, facecolors="none", edgecolors="tab:blue", linewidths=1.8,
                       label=_label(name, same), zorder=2)
        else:
            ax.scatter(xs, ys, s=22, marker=_MARKERS[(index - 1) % len(_MARKERS)],
                       label=_label(name, same), zorder=3)
    ax.set_yticks(list(ys))
    ax.set_yticklabels(labels, fontsize=9)
    ax.set_ylim(len(labels) - 0.5, -0.5)  # the most first, at the top
    ax.grid(axis="y", color="#e5e5e5", linewidth=0.6)
    ax.grid(axis="x", color="#eeeeee", linewidth=0.6)
    ax.set_axisbelow(True)
    ax.tick_params(axis="x", labeltop=True, top=True)  # a scale at both ends
    ax.set_xlim(left=min(0, ax.get_xlim()[0]))
    ax.set_xlabel("customers received (assign, relay, trim)")
    fig.suptitle("Customers received per salesperson", y=1 - 0.1 / height, va="top")
    fig.legend(fontsize=9, loc="upper center", bbox_to_anchor=(0.5, 1 - 0.42 / height),
               ncol=min(len(scenarios), 3), frameon=False)
    return _save(fig, path, tight=False)


def chart_released_then_ordered(summary: list[Row], scenarios: Sequence[str],
                                path: Path, same: Sequence[str] = ()) -> Path:
    plt = _plt()
    values = {(r["scenario"], r["metric"]): r["value"] for r in summary}
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4.5))
    labels = [(name if len(name) <= 24 else name[:22] + "...")
              + (f"\n{SAME_AS_BASELINE}" if name in same else "") for name in scenarios]
    hatches = [SAME_HATCH if name in same else None for name in scenarios]
    counts = [values.get((n, "released_then_ordered")) or 0 for n in scenarios]
    amounts = [values.get((n, "released_then_ordered_amount")) or 0 for n in scenarios]
    for axis, heights, color in ((left, counts, "tab:red"), (right, amounts, "tab:orange")):
        bars = axis.bar(range(len(scenarios)), heights, color=color)
        for bar, hatch in zip(bars, hatches, strict=True):
            bar.set_hatch(hatch)
    left.set_title("Released customers who later ordered")
    right.set_title("Their order amount")
    for axis in (left, right):
        axis.set_xticks(range(len(scenarios)))
        axis.set_xticklabels(labels, rotation=30, ha="right", fontsize=8)
    return _save(fig, path)


def chart_advice(advice: Advice, path: Path) -> Path:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(9, 4.5))
    ax.plot([d for d, _ in advice.curve], [s * 100 for _, s in advice.curve], color="tab:blue")
    ax.axhline(advice.max_share * 100, color="tab:gray", linestyle="--",
               label=f"target {advice.max_share:.0%}")
    if advice.recommended_days is not None:
        ax.axvline(advice.recommended_days, color="tab:green",
                   label=f"recommended {advice.recommended_days}d")
    ax.set_xlabel("idle period (days)")
    ax.set_ylabel("% of eventual orders released first")
    ax.set_title(f"Orders an idle-period rule would have released ({advice.company_id})")
    ax.legend()
    return _save(fig, path)


# --------------------------------------------------------------------------
# HTML
# --------------------------------------------------------------------------

_STYLE = """
body { font-family: -apple-system, Segoe UI, Helvetica, Arial, sans-serif; margin: 2em;
       color: #222; max-width: 1200px; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 13px; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: right; }
th { background: #f0f3f7; } td:first-child, th:first-child { text-align: left; }
td.changed { font-weight: bold; }
img { max-width: 100%; border: 1px solid #ddd; margin: 0.5em 0 1.5em; }
.note { color: #555; font-size: 13px; }
table.about th { text-align: left; } table.about td { text-align: left; }
"""


def html_table(rows: Sequence[Row], columns: Sequence[str] | None = None,
               limit: int | None = None, headers: Mapping[str, str] | None = None) -> str:
    """An HTML table of ``rows`` (values escaped); ``headers`` renames columns."""
    if not rows:
        return '<p class="note">(none)</p>'
    cols = list(columns or rows[0])
    names = headers or {}
    head = "".join(f"<th>{html.escape(names.get(c, str(c)))}</th>" for c in cols)
    body = []
    for row in rows[:limit] if limit else rows:
        cells = []
        for column in cols:
            value = row.get(column)
            css = ""
            if column.endswith(" diff") and isinstance(value, int | float) and value:
                css = ' class="changed"'
            text = format_diff(value) if column.endswith(" diff") else format_value(value)
            cells.append(f"<td{css}>{html.escape(text)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    more = ""
    if limit and len(rows) > limit:
        more = f'<p class="note">first {limit} of {len(rows)} rows; all in the CSV file</p>'
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>{more}"


def _img(path: Path, alt: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def _pivot_assignments(rows: list[Row], scenarios: Sequence[str]) -> list[Row]:
    by_rep: dict[str, Row] = {}
    for r in rows:
        entry = by_rep.setdefault(r["rep_id"], {"salesperson": r["rep_id"], "tier": r["tier"]})
        entry[r["scenario"]] = r["received"]
    return [by_rep[k] for k in sorted(by_rep)]


def _releases_by(rows: list[Row], key: str, scenarios: Sequence[str]) -> list[Row]:
    """Release totals by ``key``, scenarios in their order (not alphabetical)."""
    totals: dict[tuple[str, str], int] = defaultdict(int)
    for r in rows:
        totals[(r["scenario"], r[key] or "-")] += r["customers"]
    rank = {name: index for index, name in enumerate(scenarios)}
    ordered = sorted(totals.items(), key=lambda item: (rank.get(item[0][0], len(rank)),
                                                       item[0][0], item[0][1]))
    return [{"scenario": s, key: k, "customers": n} for (s, k), n in ordered]


def _definition_rows(table_id: str, rows: Sequence[tuple[str, str]]) -> str:
    """A two-column table: a heading cell and an (already escaped) value cell."""
    body = "".join(f"<tr><th>{html.escape(label)}</th><td>{value}</td></tr>"
                   for label, value in rows)
    return f'<table id="{table_id}" class="about"><tbody>{body}</tbody></table>'


def _provenance_rows(result: SimulationResult) -> list[tuple[str, str]]:
    """What produced the report, as (label, escaped HTML) rows."""
    rows: list[tuple[str, str]] = []
    p = result.provenance
    if p is not None:
        span = (f"{p.facts_from} to {p.facts_to}" if p.facts_from and p.facts_to
                else "no facts of the company")
        rows += [("ruleset", html.escape(p.ruleset)),
                 ("ruleset sha256", f"<code>{html.escape(p.ruleset_sha256)}</code>"),
                 ("database", html.escape(p.database)),
                 ("facts in the database", html.escape(span))]
    rows.append(("replayed", f"{result.start} to {result.end} ({result.days} days)"))
    if result.warm_up_days:
        last = result.first_counted - timedelta(days=1)
        warm_up = p.warm_up if p is not None and p.warm_up else f"{result.warm_up_days}d"
        rows.append(("warm-up", html.escape(
            f"{warm_up}: {result.start} to {last} ({result.warm_up_days} days) replayed, "
            "not counted")))
    counted_days = (result.end - result.first_counted).days + 1
    rows.append(("metrics count", f"{result.first_counted} to {result.end} "
                                  f"({counted_days} days)"))
    if p is not None:
        rows += [("command", f"<code>{html.escape(p.command)}</code>"),
                 ("highseas version", html.escape(p.version)),
                 ("produced on", p.produced_on.isoformat())]
    return rows


def _swept_html(result: SimulationResult) -> str:
    """Each swept setting with the baseline's own value; a swept value equal
    to it marked."""
    swept = result.provenance.swept if result.provenance is not None else ()
    if not swept:
        return ""
    body = []
    for setting in swept:
        values = ", ".join(
            f"<b>{html.escape(v)} {SAME_AS_BASELINE}</b>" if v in setting.equal
            else html.escape(v) for v in setting.values)
        body.append(f"<tr><td>{html.escape(setting.path)}</td>"
                    f"<td>{html.escape(setting.baseline)}</td><td>{values}</td></tr>")
    return ("<h2>Swept settings</h2><table id=\"swept\"><thead><tr><th>setting</th>"
            "<th>the baseline's value</th><th>values swept</th></tr></thead><tbody>"
            + "".join(body) + "</tbody></table>")


def render_html(result: SimulationResult, charts: dict[str, Path]) -> str:
    """The self-contained report: what produced it, charts inline, tables inline.

    Nothing in it changes from one run to the next but the date it was
    produced (:attr:`highseas.simulate.provenance.Provenance.produced_on`)."""
    scenarios = list(result.scenarios)
    same = result.same_as_baseline
    headers = {name: _label(name, same) for name in scenarios}
    comparison = [{"metric": row["label"], **{k: v for k, v in row.items()
                                              if k not in ("metric", "label")}}
                  for row in result.side_by_side()]
    columns = ["metric", *[c for name in scenarios
                           for c in ((name,) if name == "baseline" else (name, f"{name} diff"))]]
    counted = ""
    if result.warm_up_days:
        counted = (f" The first {result.warm_up_days} days are a warm-up: replayed, but not "
                   f"counted in any figure, table or chart; the metrics count from "
                   f"<b>{result.first_counted}</b>.")
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        f"<title>highseas simulation {result.start} to {result.end}</title>",
        f"<style>{_STYLE}</style></head><body>",
        f"<h1>What-if simulation: {html.escape(result.company_id)}</h1>",
        f"<p>Replay of the recorded history from <b>{result.start}</b> to <b>{result.end}</b> "
        f"({result.days} days), {len(scenarios)} scenario(s).{counted} The baseline is the "
        "ruleset as written; each scenario changes it as listed. Differences are scenario "
        "minus baseline.</p>",
        "<h2>About this report</h2>",
        _definition_rows("provenance", _provenance_rows(result)),
        _swept_html(result),
        "<h2>Scenarios</h2><ul>",
    ]
    for name in scenarios:
        overrides = result.overrides.get(name, ())
        mark = ""
        if name in same:
            mark = (f" <b>{SAME_AS_BASELINE}</b>: the same ruleset as the baseline, not "
                    "replayed again; its figures are the baseline's (drawn dashed or hatched "
                    "in the charts)")
        parts.append(f"<li><b>{html.escape(name)}</b>: "
                     f"{html.escape(', '.join(overrides) or 'the ruleset as written')}{mark}</li>")
    parts.append("</ul><h2>Side by side</h2>")
    parts.append(html_table(comparison, columns, headers=headers))
    titles = {"pool_size.png": "High-seas pool size over time",
              "releases_per_week.png": "Releases per week",
              "assignments_per_rep.png": "Assignments per salesperson",
              "released_then_ordered.png": "Released, then ordered"}
    for name in CHARTS:
        if name in charts:
            parts.append(f"<h2>{titles[name]}</h2>{_img(charts[name], titles[name])}")
    tables = result.tables
    parts.append("<h2>Fairness of assignments</h2>" + html_table(tables["fairness"]))
    parts.append("<h2>Customers received per salesperson</h2>"
                 + html_table(_pivot_assignments(tables["assignments"], scenarios),
                              ["salesperson", "tier", *scenarios], headers=headers))
    for key, title in (("rule_id", "rule"), ("pool_id", "pool"), ("region", "region"),
                       ("rep_id", "salesperson")):
        parts.append(f"<h2>Releases by {title}</h2>"
                     + html_table(_releases_by(tables["releases"], key, scenarios)))
    parts.append("<h2>Activation relays</h2>" + html_table(tables["relays"]))
    parts.append("<h2>Released customers who later ordered</h2>"
                 "<p class='note'>Sales the rule would have taken from their owner: the first "
                 "recorded order placed after the customer's first simulated release.</p>"
                 + html_table(tables["released_then_ordered"], limit=200))
    parts.append("<h2>Assignment to first contact</h2>"
                 "<p class='note'>Only where the recorded history shows the new owner "
                 "contacting the customer after the simulated assignment.</p>"
                 + html_table(tables["first_contact"], limit=200))
    assumptions = list(ASSUMPTIONS)
    if result.behaviour:
        assumptions[3] = ("Behaviour model switched on: " + result.behaviour
                          + " (written as activities of kind 'simulated').")
    if result.warm_up_days:
        assumptions.append(
            f"Warm-up: the days from {result.start} to "
            f"{result.first_counted - timedelta(days=1)} are replayed like the others (the "
            "ownership they leave is where the counted days start), but no metric counts "
            "their releases, reminders, assignments, claims or pool sizes.")
    parts.append("<h2>Assumptions</h2><ul>" + "".join(
        f"<li>{html.escape(line)}</li>" for line in assumptions) + "</ul>")
    if result.warnings:
        parts.append("<h2>Warnings</h2><ul>" + "".join(
            f"<li>{html.escape(w.format_text())}</li>" for w in result.warnings) + "</ul>")
    parts.append("</body></html>")
    return "\n".join(parts)


ASSUMPTIONS = (
    "Recorded activities and orders are facts of the past: they happen on their recorded day "
    "whatever the ruleset does.",
    "The replay starts from the ownership of the first day: the stored ownership with every "
    "change recorded on or after that day undone; customers appear on the day they were "
    "created, with their stored owner.",
    "A recorded activity by the salesperson who lost the customer in the simulation counts as "
    "that salesperson claiming it back when the rules allow (claim caps, private caps, "
    "cooldown, region), otherwise as a lost touch.",
    "Salespeople who receive a customer in the simulation make no contact the history does not "
    "show: no contacts are invented.",
    "The nightly run of each simulated day sees every fact recorded up to the end of that day, "
    "with the same code as 'highseas run'.",
)


def write_outputs(result: SimulationResult, folder: Path) -> list[Path]:
    """Every table (CSV + Parquet), the charts and report.html into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for name, rows in result.tables.items():
        written += write_table(rows, folder, name)
    written += write_table(result.side_by_side(), folder, "comparison")
    scenarios = list(result.scenarios)
    same = result.same_as_baseline
    tables = result.tables
    charts = {
        "pool_size.png": chart_pool_size(tables["daily"], scenarios, folder / "pool_size.png",
                                         same),
        "releases_per_week.png": chart_releases_per_week(tables["daily"], scenarios,
                                                         folder / "releases_per_week.png", same),
        "assignments_per_rep.png": chart_assignments(tables["assignments"], scenarios,
                                                     folder / "assignments_per_rep.png", same),
        "released_then_ordered.png": chart_released_then_ordered(
            tables["summary"], scenarios, folder / "released_then_ordered.png", same),
    }
    written += list(charts.values())
    report = folder / "report.html"
    report.write_text(render_html(result, charts), encoding="utf-8")
    written.append(report)
    return written


def write_advice(advice: Advice, folder: Path) -> list[Path]:
    """The release curve (CSV + Parquet), its chart, and advice.html."""
    folder.mkdir(parents=True, exist_ok=True)
    written = write_table(curve_rows(advice), folder, "advise_curve")
    chart = chart_advice(advice, folder / "advise_curve.png")
    written.append(chart)
    rows = [{"distribution": "gaps between follow-ups", **advice.follow_up_gaps.to_dict()},
            {"distribution": "last touch -> order", **advice.touch_to_order.to_dict()}]
    written += write_table(rows, folder, "advise_distributions")
    page = folder / "advice.html"
    page.write_text(
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>highseas advise</title>"
        f"<style>{_STYLE}</style></head><body><h1>Idle period advice: "
        f"{html.escape(advice.company_id)}</h1><pre>{html.escape(advice.format_text())}</pre>"
        f"<h2>How this advice is computed</h2><p id=\"method\">{html.escape(advice.method())}</p>"
        f"{html_table(rows)}{_img(chart, 'release curve')}</body></html>",
        encoding="utf-8")
    written.append(page)
    return written
