"""What an analyst mails to a client: report.html says what produced it, the
scenarios come in their natural order everywhere, a warm-up is replayed but
not counted, and the same inputs give the same report byte for byte."""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from datetime import date, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from highseas.simulate import SimulationResult, simulate
from tests.support.simulate import AS_OF, QUICK_ORDER, generated_db

START = AS_OF - timedelta(days=7)
WARM_UP = "2d"
PRODUCED = date(2026, 7, 1)
#: Typed out of order; quick-order's rule already idles for 14 days.
SWEEP = "idle-period=30d,7d,14d"
NATURAL = ("baseline", "idle-period=7d", "idle-period=14d", "idle-period=30d")


class Tables(HTMLParser):
    """Every <table> of a page as rows of cell texts, and each one's id."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[tuple[str | None, list[list[str]]]] = []
        self.headings: list[str] = []
        self._cell: list[str] | None = None
        self._heading: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self.tables.append((dict(attrs).get("id"), []))
            self.headings.append(self._last_heading)
        elif tag == "tr" and self.tables:
            self.tables[-1][1].append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "h2":
            self._heading = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1][1][-1].append("".join(self._cell).strip())
            self._cell = None
        elif tag == "h2" and self._heading is not None:
            self._last_heading = "".join(self._heading)
            self._heading = None

    def handle_data(self, data: str) -> None:
        for sink in (self._cell, self._heading):
            if sink is not None:
                sink.append(data)

    _last_heading = ""

    def by_id(self, table_id: str) -> list[list[str]]:
        return next(rows for name, rows in self.tables if name == table_id)

    def under(self, heading: str) -> list[list[str]]:
        return next(rows for (_, rows), title in zip(self.tables, self.headings, strict=True)
                    if title == heading)


def parse(page: str) -> Tables:
    parser = Tables()
    parser.feed(page)
    return parser


@dataclass
class Report:
    db: Path
    out: Path
    result: SimulationResult
    page: str


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Report:
    db = generated_db(tmp_path_factory.mktemp("facts"))
    out = tmp_path_factory.mktemp("report")
    result = simulate(QUICK_ORDER, db, START, AS_OF, sweeps=[SWEEP], warm_up=WARM_UP, out=out,
                      produced_on=PRODUCED, jobs=1)
    return Report(db, out, result, (out / "report.html").read_text(encoding="utf-8"))


def test_the_report_says_what_produced_it(report: Report) -> None:
    from importlib.metadata import version

    about = dict(row for row in parse(report.page).by_id("provenance"))  # type: ignore[misc]
    assert about["ruleset"] == str(QUICK_ORDER)
    assert about["ruleset sha256"] == hashlib.sha256(QUICK_ORDER.read_bytes()).hexdigest()
    assert about["database"] == str(report.db)
    first, last = about["facts in the database"].split(" to ")
    assert date.fromisoformat(first) < START and START < date.fromisoformat(last) <= AS_OF
    assert about["replayed"] == f"{START} to {AS_OF} (8 days)"
    assert about["warm-up"] == (f"{WARM_UP}: {START} to {START + timedelta(days=1)} (2 days) "
                                "replayed, not counted")
    assert about["metrics count"] == f"{START + timedelta(days=2)} to {AS_OF} (6 days)"
    assert about["command"].startswith("highseas.simulate.simulate(")
    assert f"sweeps=['{SWEEP}']" in about["command"] and "warm_up='2d'" in about["command"]
    assert about["highseas version"] == version("highseas")
    assert about["produced on"] == "2026-07-01"


def test_the_baseline_value_of_a_swept_setting_is_shown_and_marked(report: Report) -> None:
    swept = parse(report.page).by_id("swept")
    assert swept == [["setting", "the baseline's value", "values swept"],
                     ["idle-period", "14d", "7d, 14d (= baseline), 30d"]]
    result = report.result
    assert result.same_as_baseline == ("idle-period=14d",)
    assert "[2] idle-period=14d (= baseline)" in result.format_text()
    side_by_side = parse(report.page).under("Side by side")
    assert "idle-period=14d (= baseline)" in side_by_side[0]


def test_scenarios_come_in_their_natural_order_everywhere(report: Report) -> None:
    result, out = report.result, report.out
    assert result.scenarios == NATURAL
    footnotes = [line for line in result.format_text().splitlines() if line.startswith("[")]
    assert [line.split()[1] for line in footnotes] == list(NATURAL[1:])
    with open(out / "comparison.csv", encoding="utf-8") as handle:
        header = next(csv.reader(handle))
    assert [c for c in header if c in NATURAL] == list(NATURAL)
    for name in ("summary", "daily", "fairness", "assignments"):
        with open(out / f"{name}.csv", encoding="utf-8") as handle:
            seen = [row["scenario"] for row in csv.DictReader(handle)]
        assert list(dict.fromkeys(seen)) == list(NATURAL), name
    tables = parse(report.page)
    releases = tables.under("Releases by rule")
    assert list(dict.fromkeys(row[0] for row in releases[1:])) == list(NATURAL)
    per_rep = tables.under("Customers received per salesperson")[0]
    assert per_rep[2:] == ["baseline", "idle-period=7d", "idle-period=14d (= baseline)",
                           "idle-period=30d"]


def test_the_same_result_gives_the_same_report_byte_for_byte(report: Report,
                                                              tmp_path: Path) -> None:
    from highseas.simulate.report import write_outputs

    pages = []
    for folder in ("a", "b"):
        write_outputs(report.result, tmp_path / folder)
        pages.append((tmp_path / folder / "report.html").read_bytes())
    assert pages[0] == pages[1] == report.page.encode("utf-8")


def test_the_production_date_comes_from_the_caller_or_the_environment(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from highseas.simulate.provenance import produced_date

    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1782864000")  # 2026-07-01T00:00:00Z
    assert produced_date() == date(2026, 7, 1)
    assert produced_date(date(2030, 1, 2)) == date(2030, 1, 2)
    monkeypatch.delenv("SOURCE_DATE_EPOCH")
    assert produced_date() == date.today()


def test_warm_up_days_are_replayed_but_not_counted(report: Report) -> None:
    """The same replay as without a warm-up; only the counting starts later."""
    warm = report.result
    first = START + timedelta(days=2)
    assert warm.first_counted == first and warm.warm_up_days == 2
    full = simulate(QUICK_ORDER, report.db, START, AS_OF, jobs=1)

    def baseline(result: SimulationResult, table: str) -> list[dict[str, Any]]:
        return [r for r in result.tables[table] if r["scenario"] == "baseline"]

    full_daily = baseline(full, "daily")
    counted = [r for r in full_daily if r["day"] >= first]
    assert baseline(warm, "daily") == counted
    assert [r for r in baseline(warm, "pool_size") if r["day"] < first] == []
    early = sum(r["released"] for r in full_daily if r["day"] < first)
    assert early > 0, "the warm-up must release something for the test to mean anything"
    assert warm.value("baseline", "release_events") == sum(r["released"] for r in counted)
    assert warm.value("baseline", "reminders") == sum(r["reminders"] for r in counted)
    assert warm.value("baseline", "assignments") == sum(r["assigned"] for r in counted)
    assert warm.value("baseline", "high_seas_end") == full.value("baseline", "high_seas_end")
    assert warm.value("baseline", "high_seas_mean") == round(
        sum(r["high_seas"] for r in counted) / len(counted), 1)
    assert "the first 2 a warm-up: metrics from 2026-06-25" in warm.format_text()
    page = report.page
    assert "The first 2 days are a warm-up" in page and "Warm-up: the days from" in page


@pytest.mark.parametrize(("warm_up", "message"), [
    ("soon", "is not a duration"),
    ("8d", "leaves no day to count"),
    ("1mo", "leaves no day to count"),
])
def test_a_warm_up_that_is_no_duration_or_covers_the_replay_is_refused(
        report: Report, warm_up: str, message: str) -> None:
    from highseas.cli import main
    from highseas.errors import InvalidInputError

    with pytest.raises(InvalidInputError) as caught:
        simulate(QUICK_ORDER, report.db, START, AS_OF, warm_up=warm_up)
    assert caught.value.first.code == "HS712" and message in caught.value.first.message
    outcome = CliRunner().invoke(main, [
        "simulate", "-r", str(QUICK_ORDER), "--db", str(report.db), "--from", str(START),
        "--to", str(AS_OF), "--warm-up", warm_up])
    assert outcome.exit_code == 2, outcome.output
    assert "error HS712" in outcome.output and message in outcome.output
    assert "Traceback" not in outcome.output


def test_the_cli_report_names_the_command_and_the_environment_date(report: Report,
                                                                   tmp_path: Path) -> None:
    from highseas.cli import main

    out = tmp_path / "what-if"
    args = ["simulate", "-r", str(QUICK_ORDER), "--db", str(report.db), "--from",
            str(AS_OF - timedelta(days=1)), "--to", str(AS_OF), "--sweep", "idle-period=21d,7d",
            "--warm-up", "1d", "--out", str(out)]
    outcome = CliRunner().invoke(main, args, env={"SOURCE_DATE_EPOCH": "1782864000"})
    assert outcome.exit_code == 0, outcome.output
    about = dict(row for row in parse((out / "report.html").read_text(  # type: ignore[misc]
        encoding="utf-8")).by_id("provenance"))
    assert about["command"] == (
        f"highseas simulate --ruleset {QUICK_ORDER} --db {report.db} --from "
        f"{AS_OF - timedelta(days=1)} --to {AS_OF} --sweep idle-period=21d,7d --out {out} "
        "--warm-up 1d")
    assert about["produced on"] == "2026-07-01"
    assert "[1] idle-period=7d" in outcome.output and "[2] idle-period=21d" in outcome.output


def test_a_scenario_equal_to_the_baseline_does_not_hide_its_line(tmp_path: Path) -> None:
    """Identical figures: the baseline's colour still shows beside the
    scenario's dashed line on top of it."""
    import matplotlib.image

    from highseas.simulate.report import chart_pool_size

    daily = [{"scenario": name, "day": START + timedelta(days=i), "high_seas": 10 + (i % 3)}
             for name in ("baseline", "same") for i in range(8)]
    path = chart_pool_size(daily, ["baseline", "same"], tmp_path / "pool.png", ["same"])
    pixels = matplotlib.image.imread(path)[:, :, :3]

    def share_of(rgb: tuple[int, int, int]) -> float:
        target = [c / 255 for c in rgb]
        close = (abs(pixels - target) < 0.08).all(axis=2)
        return float(close.mean())

    assert share_of((31, 119, 180)) > 0.002  # tab:blue, the baseline
    assert share_of((255, 127, 14)) > 0.0005  # tab:orange, the scenario equal to it
