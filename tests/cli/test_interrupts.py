"""Ctrl-C during a command that writes: the database holds the whole write or
none of it, and the message says which, with what.

Each test runs a command once uninterrupted, then again from the same
database with a real SIGINT at moments picked at random (with a seed) among
those around its statements, plus the moments just before and just after
its COMMIT (tests/support/interrupts.py). After each interrupt the command
must exit 130 with no traceback, the database must equal the one before or
the one the uninterrupted command left (clock and random-id columns aside),
and the message must be the one for that state, naming what is there.
"""

from __future__ import annotations

import random
import shutil
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pytest

from highseas import api
from highseas.store.ddl import SCHEMA_VERSION
from tests.support.interrupts import (
    Outcome,
    commit_points,
    contents,
    count_points,
    interrupt_at,
)
from tests.support.nightly import RULESETS, Facts, two_reps_one_owned_one_pooled

ROOT = Path(__file__).resolve().parents[2]
SMALL = ROOT / "fixtures" / "small"
CRM_SAMPLE = ROOT / "fixtures" / "crm-sales-opportunities-sample"
CRM = "crm-sales-opportunities"
#: Random moments per command, besides the first, the last and those around COMMIT.
RANDOM_MOMENTS = 6

State = dict[str, list[tuple[Any, ...]]] | None


def interrupted(args: list[str], prepare: Callable[[], None], db: Path, seed: int,
                nothing: tuple[State, ...], check: Callable[[Outcome, bool], None],
                random_moments: int = RANDOM_MOMENTS) -> None:
    """Interrupt ``highseas ARGS`` (each time after ``prepare()``) and call
    ``check(outcome, written)`` right after each interrupt: written when the
    database holds the write, not when it is in one of the ``nothing`` states."""
    count, statements = count_points(args, prepare)
    whole = contents(db)
    assert whole not in nothing
    moments = set(random.Random(seed).sample(range(count), min(random_moments, count)))
    moments |= {0, count - 1, *commit_points(statements)}
    seen = set()
    for moment in sorted(moments):
        prepare()
        outcome = interrupt_at(args, moment)
        assert outcome.exit_code == 130, (moment, outcome)
        for text in (outcome.stdout, outcome.stderr):
            assert "Traceback" not in text and "HS999" not in text, (moment, outcome)
        state = contents(db)
        assert state == whole or state in nothing, f"moment {moment}: a partial write"
        check(outcome, state == whole)
        seen.add(state == whole)
    assert seen == {True, False}  # both sides of the COMMIT


def fresh(template: Path, db: Path) -> Callable[[], None]:
    def copy() -> None:
        shutil.copyfile(template, db)

    return copy


def query(db: Path, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql, list(params)).fetchall()


# --- load and import ---------------------------------------------------------


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small company's salespeople, no customers yet."""
    db = tmp_path_factory.mktemp("small") / "small.duckdb"
    api.init_database(db)
    api.load_facts(db, "reps", SMALL / "reps.csv", "small-co")
    return db


def test_an_interrupted_load_says_whether_the_rows_are_in(small: Path, tmp_path: Path) -> None:
    db = tmp_path / "facts.duckdb"
    file = SMALL / "customers.csv"

    def check(outcome: Outcome, written: bool) -> None:
        if not written:
            assert outcome.message == (
                f"interrupted: nothing was written (no row of {file} was loaded; "
                "the load can be run again)")
            return
        [(load_id, rows)] = query(db, "SELECT load_id, row_count FROM loads "
                                      "WHERE table_name = 'customers'")
        assert rows == 6
        assert outcome.message == (
            f"interrupted after the load was written (load {load_id}): customers holds "
            f"the 6 rows loaded from {file}; do not load it again")

    interrupted(["load", str(db), "customers", str(file)], fresh(small, db), db, seed=1,
                nothing=(contents(small),), check=check)


def import_written(db: Path, outcome: Outcome) -> None:
    [(load_id,)] = query(db, "SELECT DISTINCT load_id FROM loads WHERE company_id = ?", CRM)
    counts = dict(query(db, "SELECT table_name, row_count FROM loads WHERE load_id = ?",
                        load_id))
    assert counts["customers"] == query(
        db, "SELECT count(*) FROM customers WHERE company_id = ?", CRM)[0][0] > 0
    listed = ", ".join(f"{table} {counts[table]}" for table in (
        "reps", "customers", "activities", "orders", "stage_changes"))
    assert outcome.message == (
        f"interrupted after the import was written (load {load_id}): company {CRM} holds "
        f"the data of {CRM_SAMPLE}: {listed}")


def test_an_interrupted_import_says_whether_the_company_is_in(small: Path,
                                                              tmp_path: Path) -> None:
    db = tmp_path / "facts.duckdb"

    def check(outcome: Outcome, written: bool) -> None:
        if written:
            import_written(db, outcome)
        else:
            assert outcome.message == (
                f"interrupted: nothing was written (the data of company {CRM} is as before; "
                "the import can be run again)")

    interrupted(["import", CRM, str(CRM_SAMPLE), "--db", str(db)], fresh(small, db), db,
                seed=2, nothing=(contents(small),), check=check)


def test_an_interrupted_import_into_a_new_file_says_so(tmp_path: Path) -> None:
    db = tmp_path / "new.duckdb"
    empty = tmp_path / "empty.duckdb"
    api.init_database(empty)

    def no_file() -> None:
        for leftover in tmp_path.glob("new.duckdb*"):
            leftover.unlink()


    def check(outcome: Outcome, written: bool) -> None:
        if written:
            import_written(db, outcome)
        elif db.exists():
            assert outcome.message == (
                f"interrupted: nothing was imported ({db} was created and holds no data; "
                "the import can be run again)")
        else:
            assert outcome.message == (
                f"interrupted: nothing was written (the data of company {CRM} is as before; "
                "the import can be run again)")

    # nothing: no file yet, a file without tables, or an empty highseas database
    interrupted(["import", CRM, str(CRM_SAMPLE), "--db", str(db)], no_file, db, seed=3,
                nothing=(None, {}, contents(empty)), check=check)


# --- claim and revert ----------------------------------------------------------

RULESET = RULESETS / "regional-trading.yaml"


@pytest.fixture(scope="module")
def pool(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """anna owns acme; pool1 waits in the emea pool."""
    db = tmp_path_factory.mktemp("claim") / "pool.duckdb"
    api.init_database(db)
    with duckdb.connect(str(db)) as con:
        two_reps_one_owned_one_pooled(Facts("regional-trading", con))
    return db


def test_an_interrupted_claim_says_whether_it_was_recorded(pool: Path, tmp_path: Path) -> None:
    db = tmp_path / "facts.duckdb"
    args = ["claim", "--ruleset", str(RULESET), "--db", str(db), "--as-of", "2026-04-10",
            "--rep", "ben", "--customer", "pool1", "--apply"]

    def check(outcome: Outcome, written: bool) -> None:
        if not written:
            assert outcome.message == (
                "interrupted: nothing was written (the claim was not recorded)")
            return
        [(event_id, owner)] = query(
            db, "SELECT e.event_id, c.owner_rep_id FROM ownership_events e JOIN customers c "
                "USING (company_id, customer_id) WHERE e.action = 'claim'")
        assert owner == "ben"
        assert outcome.message == (
            f"interrupted after the claim was recorded (event {event_id}): pool1 belongs to ben")

    interrupted(args, fresh(pool, db), db, seed=4, nothing=(contents(pool),), check=check)


@pytest.fixture(scope="module")
def two_nights(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """A generated company with two nights applied, and their run ids, newest first."""
    db = tmp_path_factory.mktemp("revert") / "two-nights.duckdb"
    ruleset = RULESETS / "quick-order.yaml"
    api.generate_fixtures(db, "quick-order", 150, 6, seed=5)
    run_ids: list[str] = []
    for night in (date(2026, 6, 30), date(2026, 7, 1)):
        applied = api.run(ruleset, db, night, apply=True).applied
        assert applied is not None and applied.applied
        run_ids.insert(0, applied.run_id)
    return db, run_ids


@pytest.mark.parametrize("how_many", [1, 2])
def test_an_interrupted_revert_says_whether_the_runs_are_reverted(
        two_nights: tuple[Path, list[str]], how_many: int, tmp_path: Path) -> None:
    template, run_ids = two_nights
    named = run_ids[:how_many]
    db = tmp_path / "facts.duckdb"

    def check(outcome: Outcome, written: bool) -> None:
        if not written:
            left = (f"run {named[0]} is not reverted" if how_many == 1 else
                    f"runs {', '.join(named)} are not reverted")
            assert outcome.message == f"interrupted: nothing was written ({left})"
            return
        by = dict(query(db, "SELECT run_id, reverted_by FROM runs WHERE status = 'reverted'"))
        assert sorted(by) == sorted(named)
        done = "; ".join(f"run {run_id} is reverted (recorded as run {by[run_id]})"
                         for run_id in named)
        assert outcome.message == f"interrupted after the revert was written: {done}"

    interrupted(["revert", *named, "--db", str(db)], fresh(template, db), db,
                seed=5 + how_many, nothing=(contents(template),), check=check)


def test_an_interrupted_revert_of_a_reverted_run_says_nothing_was_written(
        two_nights: tuple[Path, list[str]], tmp_path: Path) -> None:
    """The latest run reverted earlier, then both named: refused as a whole
    (nothing written), and the message says which was reverted before."""
    template, (latest, older) = two_nights
    start = tmp_path / "start.duckdb"
    shutil.copyfile(template, start)
    [first] = api.revert(start, [latest])
    db = tmp_path / "facts.duckdb"
    shutil.copyfile(start, db)
    outcome = interrupt_at(["revert", latest, older, "--db", str(db)], point=0)
    assert outcome.exit_code == 130
    assert outcome.message == (
        f"interrupted: nothing was written (run {older} is not reverted; run {latest} was "
        f"already reverted (by run {first.revert_run_id}))")
    assert contents(db) == contents(start)


# --- demo --------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo database as `highseas demo` creates it, nothing applied."""
    db = tmp_path_factory.mktemp("demo") / "demo.duckdb"
    api.run_demo(db)
    return db


def demo_applied(db: Path) -> str:
    [(run_id,)] = query(db, "SELECT run_id FROM runs WHERE mode = 'apply'")
    return (f"interrupted after the run was applied (run {run_id}): the database holds the "
            "whole run for 2026-06-30")


def test_an_interrupted_demo_apply_says_whether_the_run_was_applied(demo_db: Path,
                                                                    tmp_path: Path) -> None:
    db = tmp_path / "demo.duckdb"

    def check(outcome: Outcome, written: bool) -> None:
        assert outcome.message == (demo_applied(db) if written else
                                   "interrupted: nothing was written (the run was not applied)")

    interrupted(["demo", "--db", str(db), "--apply"], fresh(demo_db, db), db, seed=8,
                nothing=(contents(demo_db),), check=check, random_moments=2)


def test_an_interrupted_first_demo_says_what_it_created(demo_db: Path, tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    db = folder / "demo.duckdb"

    def no_database() -> None:
        shutil.rmtree(folder, ignore_errors=True)


    def check(outcome: Outcome, written: bool) -> None:
        # never a half-written database, nor a temporary file left behind
        assert sorted(p.name for p in folder.glob("*")) == ([db.name] if db.exists() else [])
        if written:
            assert outcome.message == demo_applied(db)
        elif db.exists():
            assert outcome.message == (f"interrupted after the demo database {db} was created "
                                       "(the run was not applied)")
        else:
            assert outcome.message == (
                "interrupted: nothing was written (the demo database was not created)")

    interrupted(["demo", "--db", str(db), "--apply"], no_database, db, seed=9,
                nothing=(None, contents(demo_db)), check=check, random_moments=2)


# --- db init and fixtures generate ---------------------------------------------


def test_an_interrupted_db_init_says_whether_the_schema_is_in(tmp_path: Path) -> None:
    db = tmp_path / "new.duckdb"

    def no_file() -> None:
        for leftover in tmp_path.glob("new.duckdb*"):
            leftover.unlink()

    def check(outcome: Outcome, written: bool) -> None:
        if written:
            assert outcome.message == (f"interrupted after {db} was created: schema version "
                                       f"{SCHEMA_VERSION}")
        elif db.exists():
            assert outcome.message == (f"interrupted: {db} was created but holds no schema "
                                       "yet; run db init again")
        else:
            assert outcome.message == f"interrupted: nothing was written ({db} was not created)"

    interrupted(["db", "init", str(db)], no_file, db, seed=10, nothing=(None, {}), check=check)


def test_an_interrupted_fixture_generation_says_whether_the_company_is_in(
        tmp_path: Path) -> None:
    db = tmp_path / "fixtures.duckdb"
    empty = tmp_path / "empty.duckdb"
    api.init_database(empty)
    args = ["fixtures", "generate", "--archetype", "quick-order", "--customers", "30",
            "--reps", "3", "--db", str(db)]

    def check(outcome: Outcome, written: bool) -> None:
        if written:
            assert outcome.message == (
                f"interrupted after the fixtures were written: company quick-order in {db} "
                "holds 30 customers and 3 salespeople")
        else:
            assert outcome.message == (
                "interrupted: nothing was written (the data of company quick-order in "
                f"{db} is as before)")

    interrupted(args, fresh(empty, db), db, seed=11, nothing=(contents(empty),), check=check)
