"""The outbox: every change reaches the CRM exactly once, whatever the fetches
go through (limits, interrupted fetches repeated with the same cursor,
applies committing while a fetch runs, `highseas revert` of delivered runs)."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from highseas import api
from highseas.cli import main
from highseas.errors import InvalidInputError
from highseas.nightly.apply import apply_plan
from highseas.nightly.outbox import fetch, parse_cursor
from highseas.nightly.planner import plan
from highseas.store.db import open_db
from tests.support.interrupts import commit_points, count_points, interrupt_at
from tests.support.nightly import Facts, ruleset_with

COMPANY = "regional-trading"
FIRST_DAY = date(2026, 4, 1)


def busy_company() -> Facts:
    """Customers whose last follow-ups are spread out: over the nights from
    FIRST_DAY some are reminded, then released, then assigned."""
    facts = Facts(COMPANY)
    facts.reps([
        {"rep_id": "anna", "hired_on": "2020-01-01", "regions": ["emea"]},
        {"rep_id": "ben", "hired_on": "2026-03-01", "regions": ["emea"]},
        {"rep_id": "cara", "hired_on": "2026-02-01", "regions": ["emea"]},
    ])
    customers, activities = [], []
    for i in range(12):
        customers.append({"customer_id": f"c{i:02}", "name": f"Customer {i}", "country": "DE",
                          "created_at": "2025-01-01", "owner": "anna",
                          "owned_since": "2025-12-01"})
        touched = FIRST_DAY - timedelta(days=84 + i)
        activities.append({"customer_id": f"c{i:02}", "rep_id": "anna",
                           "at": f"{touched.isoformat()} 10:00"})
    facts.customers(customers)
    facts.activities(activities)
    return facts


def apply_nights(con: Any, first: date, nights: int) -> None:
    rules = ruleset_with(COMPANY)
    for n in range(nights):
        apply_plan(con, plan(con, rules, first + timedelta(days=n)))


def all_changes(con: Any) -> set[tuple[str, str]]:
    """Every change the database holds: (kind, id)."""
    events = con.execute("SELECT event_id FROM ownership_events").fetchall()
    notes = con.execute("SELECT notification_id FROM notifications").fetchall()
    return {("ownership", e) for (e,) in events} | {("notification", n) for (n,) in notes}


def change_id(change: dict[str, Any]) -> tuple[str, str]:
    ref = change["event_id"] if change["type"].startswith("ownership") else (
        change["notification_id"])
    return change["type"], ref


def test_every_change_arrives_once_across_interrupted_fetches() -> None:
    con = busy_company().con
    rng = random.Random(20)
    delivered: list[dict[str, Any]] = []
    cursor = 0
    day = FIRST_DAY
    for _ in range(8):
        apply_nights(con, day, 2)
        day += timedelta(days=2)
        while True:
            batch = fetch(con, COMPANY, cursor, limit=rng.choice([1, 2, 5, None]))
            if rng.random() < 0.4:
                # interrupted before the CRM stored the cursor: the same
                # fetch again gives the same changes first
                again = fetch(con, COMPANY, cursor, limit=len(batch.changes) or None)
                assert again.changes == batch.changes
            delivered.extend(batch.changes)
            cursor = batch.cursor
            if not batch.more:
                break
    seqs = [change["seq"] for change in delivered]
    assert seqs == list(range(1, len(seqs) + 1))  # no gap, no repeat
    ids = [change_id(change) for change in delivered]
    assert len(ids) == len(set(ids))
    assert set(ids) == all_changes(con)
    assert {c["type"] for c in delivered} == {"ownership", "notification"}
    assert {c["action"] for c in delivered if c["type"] == "ownership"} >= {"release", "assign"}


def test_a_change_committed_during_a_fetch_comes_with_the_next_one() -> None:
    con = busy_company().con
    apply_nights(con, FIRST_DAY, 1)
    first = fetch(con, COMPANY, 0)
    # a write is underway on another connection while the CRM fetches
    writer = con.cursor()
    writer.execute("BEGIN TRANSACTION")
    writer.execute(
        "INSERT INTO notifications VALUES (?, 'late-1', 'late-run', 'anna', 'c00', "
        "'no-follow-up-90d', 'remind:7d', DATE '2026-04-09', 7, 'late', "
        "TIMESTAMP '2000-01-01 00:00:00', DATE '2026-04-02')",
        [COMPANY],
    )
    meanwhile = fetch(con, COMPANY, first.cursor)
    assert meanwhile.changes == ()
    writer.execute("COMMIT")
    # an older timestamp does not put it before changes already numbered
    after = fetch(con, COMPANY, first.cursor)
    assert [(c["type"], c["notification_id"]) for c in after.changes] == [
        ("notification", "late-1")]
    assert after.changes[0]["seq"] == first.last_seq + 1


def company_file(tmp_path: Path) -> Path:
    """:func:`busy_company` in a database file."""
    db = tmp_path / "facts.duckdb"
    api.init_database(db)
    facts = busy_company()
    facts.con.execute(f"ATTACH '{db}' AS target")
    for table in ("reps", "customers", "activities"):
        facts.con.execute(f"INSERT INTO target.main.{table} SELECT * FROM {table}")
    facts.con.execute("DETACH target")
    return db


def apply_file_nights(db: Path, first: date, nights: int) -> list[str]:
    """Apply ``nights`` nights from ``first``; their run ids, oldest first."""
    rules = ruleset_with(COMPANY)
    with open_db(db) as con:
        return [apply_plan(con, plan(con, rules, first + timedelta(days=n))).run_id
                for n in range(nights)]


def fetch_everything(db: Path, cursor: int, rng: random.Random) -> list[dict[str, Any]]:
    """Fetch with `highseas outbox` from ``cursor`` until nothing waits, as a
    CRM would whose fetches go wrong: each batch is first fetched with its
    output lost, then fetched again and interrupted by Ctrl-C (at a random
    moment, or just before or after the transaction that numbers the changes
    commits), then fetched for good, always with the same cursor."""
    delivered: list[dict[str, Any]] = []
    while True:
        args = ["outbox", "--db", str(db), "--since", str(cursor), "--format", "json",
                "--limit", str(rng.choice([1, 2, 5, 50]))]
        moments, statements = count_points(args)  # a fetch whose output was lost
        moment = rng.choice([rng.randrange(moments), *commit_points(statements)])
        outcome = interrupt_at(args, moment)
        assert (outcome.exit_code, outcome.message) == (
            130, f"interrupted: the cursor is still {cursor}; fetch again with --since {cursor}")
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 0, result.output
        batch = json.loads(result.stdout)
        delivered.extend(batch["changes"])
        cursor = batch["cursor"]
        if not batch["more"]:
            return delivered


def test_a_revert_of_delivered_changes_sends_their_reversal_once(tmp_path: Path) -> None:
    """Three nights delivered, a fourth applied but not fetched; `highseas
    revert` undoes the last two. The CRM then gets the reversal of each change
    of the third night it had, once, and never hears of the fourth."""
    db = company_file(tmp_path)
    rng = random.Random(21)
    *_, third = apply_file_nights(db, FIRST_DAY, 3)
    delivered = fetch_everything(db, 0, rng)
    [fourth] = apply_file_nights(db, FIRST_DAY + timedelta(days=3), 1)
    reverted = CliRunner().invoke(main, ["revert", fourth, third, "--db", str(db)])
    assert reverted.exit_code == 0, reverted.output
    revert_of = dict(query(db, "SELECT run_id, reverted_by FROM runs WHERE status = 'reverted'"))
    assert sorted(revert_of) == sorted([third, fourth])

    undone = fetch_everything(db, delivered[-1]["seq"], rng)

    seqs = [change["seq"] for change in delivered + undone]
    assert seqs == list(range(1, len(seqs) + 1))  # no gap, no repeat
    of_third = [c for c in delivered if c["run_id"] == third]
    assert of_third and not [c for c in delivered if c["run_id"] == fourth]
    kinds = {"ownership": "ownership_reverted", "notification": "notification_cancelled"}
    assert sorted((kinds[c["type"]], change_id(c)[1]) for c in of_third) == sorted(
        change_id(c) for c in undone)  # each once; nothing of the fourth night
    assert {c["type"] for c in undone} == {"ownership_reverted", "notification_cancelled"}
    for change in undone:
        assert (change["run_id"], change["reverted_by"]) == (third, revert_of[third])
        if change["type"] == "ownership_reverted":
            [original] = [c for c in of_third if c.get("event_id") == change["event_id"]]
            assert (change["to_rep_id"], change["to_pool_id"]) == (
                original["from_rep_id"], original["from_pool_id"])
    # nothing more waits, and the next night's changes follow the reversals
    assert fetch_everything(db, seqs[-1], rng) == []
    [again] = apply_file_nights(db, FIRST_DAY + timedelta(days=2), 1)
    later = fetch_everything(db, seqs[-1], rng)
    assert later and {c["run_id"] for c in later} == {again}
    assert [c["seq"] for c in later] == list(range(seqs[-1] + 1, seqs[-1] + 1 + len(later)))


def query(db: Path, sql: str) -> list[tuple[Any, ...]]:
    with open_db(db, read_only=True) as con:
        return con.execute(sql).fetchall()


def test_cursors_that_cannot_be_right_are_refused() -> None:
    con = busy_company().con
    apply_nights(con, FIRST_DAY, 1)
    last = fetch(con, COMPANY, 0).last_seq
    with pytest.raises(InvalidInputError) as ahead:
        fetch(con, COMPANY, last + 1)
    assert ahead.value.diagnostics[0].code == "HS529"
    for bad in ("-1", "1.5", "", "abc"):
        with pytest.raises(InvalidInputError) as invalid:
            parse_cursor(bad)
        assert invalid.value.diagnostics[0].code == "HS528"


def highseas(*args: str) -> subprocess.CompletedProcess[str]:
    command = Path(sys.executable).with_name("highseas")
    return subprocess.run([str(command), *args], capture_output=True, text=True, check=False,
                          env={**os.environ, "PYTHONWARNINGS": "error"})


def test_the_command_prints_changes_and_the_next_cursor(tmp_path: Path) -> None:
    db = company_file(tmp_path)
    apply_file_nights(db, FIRST_DAY, 3)
    first = highseas("outbox", "--db", str(db), "--limit", "2")
    assert first.returncode == 0, first.stderr
    lines = [json.loads(line) for line in first.stdout.splitlines()]
    assert [c["seq"] for c in lines] == [1, 2]
    assert "next cursor: 2; more after it" in first.stderr
    rest = highseas("outbox", "--db", str(db), "--since", "2", "--format", "json")
    document = json.loads(rest.stdout)
    assert document["since"] == 2 and not document["more"]
    assert [c["seq"] for c in document["changes"]] == list(range(3, document["cursor"] + 1))
    repeated = highseas("outbox", "--db", str(db), "--since", "2", "--format", "json")
    assert repeated.stdout == rest.stdout
    ahead = highseas("outbox", "--db", str(db), "--since", str(document["cursor"] + 5))
    assert ahead.returncode == 2 and ahead.stderr.startswith("error HS529 ")
