"""The guards of ``run --apply``: each refuses what it should, lets a normal
night through, gives way to ``--force`` and records it."""

from __future__ import annotations

import shutil
from datetime import date, timedelta
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from highseas import api
from highseas.cli import main
from highseas.errors import InvalidInputError
from highseas.nightly.guards import TooManyChangesError
from highseas.ruleset.model import Guards
from highseas.store.db import open_db
from tests.nightly.test_revert import table_hashes

ROOT = Path(__file__).resolve().parents[2]
FIRST_NIGHT = date(2026, 6, 30)
#: The generated facts end late on the day before the generator's as-of date.
NEWEST_FACT = date(2026, 6, 29)


def _ruleset(tmp_path: Path, archetype: str, **guards: object) -> Path:
    """The example ruleset, with ``guards`` and ``idle_for`` replacements."""
    document = yaml.safe_load((ROOT / "rulesets" / f"{archetype}.yaml").read_text())
    idle = guards.pop("idle_for", None)
    if idle is not None:
        document["release_rules"][0]["when"]["idle_for"] = idle
        document["release_rules"][0].pop("remind_before", None)
    if guards:
        document["guards"] = guards
    path = tmp_path / f"{archetype}.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generated regional-trading company, no run applied yet."""
    db = tmp_path_factory.mktemp("guards") / "fresh.duckdb"
    api.generate_fixtures(db, "regional-trading", 600, 16, seed=3)
    return db


@pytest.fixture
def db(fresh: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "facts.duckdb"
    shutil.copy(fresh, copy)
    return copy


def _overrides(db: Path) -> list[tuple[str, str | None]]:
    with open_db(db, read_only=True) as con:
        return con.execute(
            "SELECT CAST(as_of AS VARCHAR), overrides FROM runs WHERE mode = 'apply' ORDER BY seq"
        ).fetchall()


def test_normal_nights_pass_and_the_first_one_is_let_through(db: Path,
                                                             tmp_path: Path) -> None:
    rules = ROOT / "rulesets" / "regional-trading.yaml"
    for offset in range(4):
        applied = api.run(rules, db, FIRST_NIGHT + timedelta(days=offset), apply=True).applied
        assert applied is not None and applied.applied
    (first_day, first), *rest = _overrides(db)
    assert first_day == "2026-06-30" and first is not None
    assert first.startswith("first run: HS518 the run would release")
    assert [overrides for _, overrides in rest] == [None, None, None]


def test_a_release_rule_typo_is_refused_after_the_first_night(db: Path,
                                                              tmp_path: Path) -> None:
    api.run(ROOT / "rulesets" / "regional-trading.yaml", db, FIRST_NIGHT, apply=True)
    typo = _ruleset(tmp_path, "regional-trading", idle_for="9d")
    before = table_hashes(db)
    with pytest.raises(TooManyChangesError) as refused:
        api.run(typo, db, date(2026, 7, 1), apply=True)
    assert refused.value.exit_code == 1
    assert refused.value.first.code == "HS518"
    assert "guards.max_release_share allows 20%" in refused.value.first.message
    assert refused.value.plan.ownership_changes()  # the refused plan, to show
    assert table_hashes(db) == before

    forced = api.run(typo, db, date(2026, 7, 1), apply=True, force=True).applied
    assert forced is not None and forced.applied
    assert _overrides(db)[-1][1].startswith("--force: HS518")  # type: ignore[union-attr]


def test_the_number_of_ownership_changes_is_limited(db: Path, tmp_path: Path) -> None:
    api.run(ROOT / "rulesets" / "regional-trading.yaml", db, FIRST_NIGHT, apply=True)
    tight = _ruleset(tmp_path, "regional-trading", max_ownership_changes=1)
    with pytest.raises(TooManyChangesError) as refused:
        api.run(tight, db, date(2026, 7, 1), apply=True)
    assert "guards.max_ownership_changes allows 1" in str(refused.value)
    assert Guards().changes_limit(600) == 100 and Guards().changes_limit(10_000) == 1500


def test_stale_facts_are_refused(db: Path, tmp_path: Path) -> None:
    rules = ROOT / "rulesets" / "regional-trading.yaml"
    late = NEWEST_FACT + timedelta(days=5)  # the default allows 4 days
    with pytest.raises(InvalidInputError) as refused:
        api.run(rules, db, late, apply=True)
    assert refused.value.exit_code == 2 and refused.value.first.code == "HS516"
    message = refused.value.first.message
    assert "the facts are 5 days old on 2026-07-04" in message
    assert "the newest fact is of 2026-06-29 (no load or import recorded" in message
    assert "guards.max_facts_age allows 4d" in message
    api.run(rules, db, late, apply=False)  # a plan alone is never refused
    assert api.run(rules, db, late - timedelta(days=1), apply=True).applied is not None

    strict = _ruleset(tmp_path, "regional-trading", max_facts_age="2d")
    with pytest.raises(InvalidInputError, match="HS516"):
        api.run(strict, db, late, apply=True, force=False)
    forced = api.run(strict, db, late, apply=True, force=True).applied
    assert forced is not None and forced.applied
    assert _overrides(db)[-1][1].startswith("--force: HS516")  # type: ignore[union-attr]


def test_an_as_of_date_after_today_is_refused(db: Path) -> None:
    rules = api.load_ruleset(ROOT / "rulesets" / "regional-trading.yaml")
    tomorrow = api.today_in(rules) + timedelta(days=1)
    with pytest.raises(InvalidInputError) as refused:
        api.run(rules, db, tomorrow, apply=True)
    codes = [d.code for d in refused.value.diagnostics]
    assert codes[0] == "HS517" and f"after today ({api.today_in(rules)}" in str(refused.value)


def test_loads_record_when_they_ran_and_the_newest_fact(db: Path, tmp_path: Path) -> None:
    activities = tmp_path / "activities.csv"
    with open_db(db, read_only=True) as con:
        customer = con.execute("SELECT min(customer_id) FROM customers").fetchall()[0][0]
    activities.write_text(
        "activity_id,customer_id,kind,at\n"
        f"late-1,{customer},call,2026-07-20 10:00:00\n"
        f"late-2,{customer},email,2026-07-21 09:30:00\n"
    )
    api.load_facts(db, "activities", activities)
    with open_db(db, read_only=True) as con:
        rows = con.execute(
            "SELECT kind, source, table_name, row_count, CAST(latest_at AS VARCHAR) FROM loads"
        ).fetchall()
    assert rows == [("load", str(activities), "activities", 2, "2026-07-21 09:30:00")]
    info = api.db_info(db).date_ranges["regional-trading"]["activities"]
    assert info["newest"] == "2026-07-21 09:30:00" and info["last_load_at"] is not None
    # the salespeople's dates are days, shown without a time
    reps = api.db_info(db).date_ranges["regional-trading"]["reps"]
    assert reps["oldest"] is not None and len(reps["oldest"]) == len("2026-07-21")
    # fresh again: the day after the newest fact passes the guard
    applied = api.run(ROOT / "rulesets" / "regional-trading.yaml", db, date(2026, 7, 22),
                      apply=True).applied
    assert applied is not None and applied.applied


def test_the_command_line_prints_a_refused_plan_and_exits_1(db: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    rules = ROOT / "rulesets" / "regional-trading.yaml"
    base = ["run", "--ruleset", str(rules), "--db", str(db), "--apply"]
    first = runner.invoke(main, [*base, "--as-of", "2026-06-30"])
    assert first.exit_code == 0, first.output

    typo = _ruleset(tmp_path, "regional-trading", idle_for="9d")
    refused = runner.invoke(main, ["run", "--ruleset", str(typo), "--db", str(db), "--apply",
                                   "--as-of", "2026-07-01"])
    assert refused.exit_code == 1
    assert "release" in refused.output and "nothing was applied" in refused.output
    assert "error HS518" in refused.output

    stale = runner.invoke(main, [*base, "--as-of", "2026-07-20"])
    assert stale.exit_code == 2 and "error HS516" in stale.output

    info = runner.invoke(main, ["db", "info", str(db)])
    assert info.exit_code == 0
    assert "activities: 20" in info.output and "no load recorded" in info.output
