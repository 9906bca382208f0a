"""Crash safety and concurrency of ``highseas run --apply`` in real processes.

* SIGKILL at random moments: afterwards the database holds the whole run or
  none of it (owners, audit trail and runs row agree) and the next run
  completes.
* A kill inside the transaction (after the ownership update, before the runs
  row) leaves the database exactly as it was.
* Two applies started together: one wins, the other exits 2 with the busy
  message and writes nothing. Readers during an apply get a consistent answer
  or the busy message.
"""

from __future__ import annotations

import json
import random
import shutil
import signal
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.support.processes import wait_until_open

ROOT = Path(__file__).resolve().parents[2]
RULESET = ROOT / "rulesets" / "regional-trading.yaml"
COMPANY = "regional-trading"
FIRST_DAY = date(2026, 7, 1)
BUSY = "is in use by another process"
KILLS = 8
OWNERSHIP_ACTIONS = ("release", "trim", "assign", "relay")


def _script() -> list[str]:
    script = Path(sys.executable).with_name("highseas")
    return [str(script)] if script.exists() else [sys.executable, "-c",
                                                  "from highseas.cli import main; main()"]


def _run_args(db: Path, day: date, *, apply: bool = True) -> list[str]:
    args = [*_script(), "run", "--ruleset", str(RULESET), "--db", str(db),
            "--as-of", day.isoformat()]
    # --force: the days run on past the generated facts' last one (the freshness guard)
    return args + ["--apply", "--force"] if apply else args


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """1,500 customers of the regional-trading archetype (a run takes 1-3 s)."""
    from highseas.store.fixtures import generate

    path = tmp_path_factory.mktemp("crash") / "template.db"
    generate(path, "regional-trading", 1500, 20, 7)
    return path


@pytest.fixture
def db(generated: Path, tmp_path: Path) -> Path:
    target = tmp_path / "facts.db"
    shutil.copy(generated, target)
    return target


def _state(db: Path) -> dict[str, Any]:
    """Owners, audit trail, notifications and runs of the company."""
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    try:
        def rows(sql: str) -> list[tuple[Any, ...]]:
            return con.execute(sql, [COMPANY]).fetchall()

        return {
            "owners": {r[0]: (r[1], r[2], r[3]) for r in rows(
                "SELECT customer_id, owner_rep_id, pool_id, owned_since FROM customers "
                "WHERE company_id = ?")},
            "events": rows(
                "SELECT run_id, customer_id, to_rep_id, to_pool_id, action, event_id "
                "FROM ownership_events WHERE company_id = ? ORDER BY event_id"),
            "notifications": rows(
                "SELECT run_id, notification_id FROM notifications WHERE company_id = ? "
                "ORDER BY 2"),
            "runs": {r[0]: (r[1], json.loads(r[2])) for r in rows(
                "SELECT run_id, as_of, counts FROM runs WHERE company_id = ? AND mode = 'apply'")},
            "rotation": rows("SELECT * FROM rotation_state WHERE company_id = ? ORDER BY ALL"),
            "relays": rows("SELECT * FROM relay_state WHERE company_id = ? ORDER BY ALL"),
        }
    finally:
        con.close()


def _check_all_or_nothing(before: dict[str, Any], after: dict[str, Any], day: date) -> bool:
    """True if the run of ``day`` is wholly in ``after``; False if none of it is.
    Fails on anything in between."""
    new_runs = {k: v for k, v in after["runs"].items() if k not in before["runs"]}
    old_events = set(before["events"])
    new_events = [e for e in after["events"] if e not in old_events]
    new_notes = [n for n in after["notifications"] if n not in set(before["notifications"])]
    if not new_runs:
        assert after == before, "no runs row, yet the database changed"
        return False
    ((run_id, (as_of, counts)),) = new_runs.items()
    assert as_of == day
    assert all(e[0] == run_id for e in new_events) and all(n[0] == run_id for n in new_notes)
    assert len(new_events) == sum(counts.get(a, 0) for a in OWNERSHIP_ACTIONS), counts
    assert len(new_notes) == counts.get("remind", 0), counts
    changed = {}
    for _, customer, to_rep, to_pool, _, _ in new_events:
        assert customer not in changed, f"{customer} changed twice in one run"
        changed[customer] = (to_rep, to_pool)
    for customer, (owner, pool, _) in after["owners"].items():
        if customer in changed:
            to_rep, to_pool = changed[customer]
            assert owner == to_rep and (owner is not None or pool == to_pool), customer
        else:
            assert after["owners"][customer] == before["owners"][customer], customer
    return True


def test_sigkill_at_random_moments_leaves_all_or_nothing(db: Path) -> None:
    rng = random.Random(20260701)
    # One uninterrupted run measures how long a run takes on this machine now.
    before = _state(db)
    started = time.monotonic()
    assert subprocess.run(_run_args(db, FIRST_DAY), capture_output=True, timeout=60,
                          check=False).returncode == 0
    full = time.monotonic() - started
    assert _check_all_or_nothing(before, _state(db), FIRST_DAY)
    day, kills, mid_run, committed = FIRST_DAY + timedelta(days=1), 0, 0, 0
    # Kill until KILLS of them landed inside a run. A run that finished before
    # its kill is checked too, and its duration becomes the new estimate (the
    # first run is often slower than the rest: cold caches).
    while mid_run < KILLS and kills < 4 * KILLS:
        before = _state(db)
        started = time.monotonic()
        process = subprocess.Popen(_run_args(db, day), stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE, text=True)
        time.sleep(rng.uniform(0.05, 0.95) * full)
        still_running = process.poll() is None
        if still_running:
            process.send_signal(signal.SIGKILL)
            mid_run += 1
        _, err = process.communicate(timeout=30)
        if not still_running:
            assert process.returncode == 0, err
            full = time.monotonic() - started
        kills += 1
        if _check_all_or_nothing(before, _state(db), day):
            committed += 1
            day += timedelta(days=1)
    assert mid_run >= KILLS, (kills, mid_run)  # the kills land inside the run
    # The next run completes normally, and a re-run of its date is a no-op.
    before = _state(db)
    done = subprocess.run(_run_args(db, day), capture_output=True, text=True, timeout=60,
                          check=False)
    assert done.returncode == 0, done.stderr
    assert "applied run" in done.stdout
    assert _check_all_or_nothing(before, _state(db), day)
    again = subprocess.run(_run_args(db, day), capture_output=True, text=True, timeout=60,
                           check=False)
    assert again.returncode == 0 and "already applied" in again.stdout
    print(f"full={full:.1f}s kills={kills} mid_run={mid_run} committed={committed}")


KILL_INSIDE = """
import os, signal, sys
import highseas.nightly.apply as apply_module

def die(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)

apply_module._write_engine_state = die  # after ownership and audit rows, before the runs row
from highseas.cli import main
sys.argv = ["highseas"] + sys.argv[1:]
main()
"""


def test_kill_inside_the_transaction_leaves_the_database_unchanged(db: Path) -> None:
    before = _state(db)
    process = subprocess.run([sys.executable, "-c", KILL_INSIDE, *_run_args(db, FIRST_DAY)[1:]],
                             capture_output=True, text=True, timeout=60, check=False)
    assert process.returncode == -signal.SIGKILL, process.stderr
    assert _state(db) == before
    done = subprocess.run(_run_args(db, FIRST_DAY), capture_output=True, text=True, timeout=60,
                          check=False)
    assert done.returncode == 0 and "applied run" in done.stdout, done.stderr
    assert _check_all_or_nothing(before, _state(db), FIRST_DAY)


def test_two_applies_at_once_one_wins_the_other_is_busy_and_writes_nothing(
        generated: Path, tmp_path: Path) -> None:
    overlapped = 0
    for attempt in range(3):  # a loaded machine may start the second after the first ended
        db = tmp_path / f"facts-{attempt}.db"
        shutil.copy(generated, db)
        before = _state(db)
        processes = [subprocess.Popen(_run_args(db, FIRST_DAY), stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True) for _ in range(2)]
        outputs = [p.communicate(timeout=60) for p in processes]
        codes = [p.returncode for p in processes]
        after = _state(db)
        assert _check_all_or_nothing(before, after, FIRST_DAY)  # exactly one run's writes
        assert len(after["runs"]) == len(before["runs"]) + 1
        if codes == [0, 0]:  # no overlap: the second saw the finished run
            assert sum("already applied" in out for out, _ in outputs) == 1, outputs
            continue
        assert sorted(codes) == [0, 2], outputs
        loser, winner = outputs[codes.index(2)], outputs[codes.index(0)]
        assert BUSY in loser[1] and "HS401" in loser[1] and "Traceback" not in loser[1]
        assert "applied run" in winner[0]
        overlapped += 1
        break
    assert overlapped == 1, "the two applies never ran at the same time"


def _reader_args(kind: str, db: Path, customer: str) -> list[str]:
    if kind == "explain":
        return ["explain", "--ruleset", str(RULESET), "--db", str(db), customer,
                "--as-of", FIRST_DAY.isoformat()]
    return ["run", "--ruleset", str(RULESET), "--db", str(db), "--as-of", FIRST_DAY.isoformat()]


def _in_process(args: list[str]) -> str:
    from click.testing import CliRunner

    from highseas.cli import main

    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_readers_during_an_apply_see_a_consistent_state_or_busy(db: Path,
                                                                tmp_path: Path) -> None:
    before = _state(db)
    customer = sorted(before["owners"])[0]
    kinds = ("explain", "run")
    # what a reader may print: the answer on the state before the run, or after it
    copy = tmp_path / "before.db"
    shutil.copy(db, copy)
    allowed = {k: {_in_process(_reader_args(k, copy, customer))} for k in kinds}
    writer = subprocess.Popen(_run_args(db, FIRST_DAY), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    # The readers start once the writer holds the file (on a busy machine the
    # writer may still be importing after 0.3 s, and a reader first would
    # make the writer, not the reader, the one told the file is busy).
    wait_until_open(writer, db, seconds=30)
    readers = []
    try:
        for delay in (0.1, 0.4):
            time.sleep(delay)
            for kind in kinds:
                readers.append((kind, subprocess.Popen(
                    [*_script(), *_reader_args(kind, db, customer)],
                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)))
        _, writer_err = writer.communicate(timeout=60)
    finally:
        results = [(kind, reader.communicate(timeout=60), reader.returncode)
                   for kind, reader in readers]
    assert writer.returncode == 0, writer_err
    assert _check_all_or_nothing(before, _state(db), FIRST_DAY)
    for kind in kinds:
        allowed[kind].add(_in_process(_reader_args(kind, db, customer)))
    busy = 0
    for kind, (out, err), code in results:
        assert "Traceback" not in out + err
        if code == 2:
            assert BUSY in err and "HS401" in err, err
            busy += 1
        else:
            assert code == 0, err
            assert out in allowed[kind], f"{kind} printed a state that is neither before nor after"
    print(f"readers={len(readers)} busy={busy}")
