"""What the nightly run tells people is true: reminders name the release that
happens first, counts add up to customers, an interrupt says what was
written, an applied date is not planned again, a closed output ends quietly,
and errors share one style."""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pytest

from highseas import api
from highseas.cli import message_of
from highseas.errors import Diagnostic
from highseas.nightly.plan import Decision, Plan, Unassigned
from highseas.nightly.planner import plan
from highseas.nightly.summary import format_summary
from tests.support.nightly import Facts, ruleset_with

COMPANY = "regional-trading"


def twice_due_facts() -> Facts:
    """ACME: idle since 2026-04-03 (no-follow-up-90d releases it on 07-02) and
    owned since 2025-07-01 without an order (no-order-1y releases it on 07-01)."""
    facts = Facts(COMPANY)
    facts.reps([{"rep_id": "anna", "hired_on": "2020-01-01", "regions": ["emea"]}])
    facts.customers([
        {"customer_id": "acme", "name": "ACME GmbH", "country": "DE",
         "created_at": "2025-07-01", "owner": "anna", "owned_since": "2025-07-01"},
    ])
    facts.activities([{"customer_id": "acme", "rep_id": "anna", "at": "2026-04-03 10:00"}])
    return facts


def test_the_reminder_names_the_rule_that_releases_first() -> None:
    rules = ruleset_with(COMPANY)
    con = twice_due_facts().con
    [reminder] = plan(con, rules, date(2026, 6, 25)).by_action("remind")
    assert (reminder.rule_id, reminder.due_on, reminder.days_left, reminder.reminder_offset) == (
        "no-order-1y", date(2026, 7, 1), 6, "30d")
    # ... and that rule does release it on that day.
    [release] = plan(con, rules, date(2026, 7, 1)).by_action("release")
    assert (release.customer_id, release.rule_id) == ("acme", "no-order-1y")


def test_a_rule_without_reminders_that_releases_first_silences_the_others() -> None:
    def no_reminders_for_orders(document: dict) -> None:  # type: ignore[type-arg]
        document["release_rules"][1].pop("remind_before")

    rules = ruleset_with(COMPANY, no_reminders_for_orders)
    con = twice_due_facts().con
    # no-follow-up-90d would say "7 days" although the customer goes in 6.
    assert plan(con, rules, date(2026, 6, 25)).by_action("remind") == ()


def plan_with_unassigned() -> Plan:
    """Two allocations tried c1 and c2; the second assigned c2; c3 was tried once."""
    return Plan(
        company_id="acme", ruleset_id="acme", ruleset_hash="", as_of=date(2026, 6, 30),
        decisions=(Decision("c2", "assign", "second", "c2 assigned", from_pool_id="p",
                            to_rep_id="r1"),),
        unassigned=(
            Unassigned("c1", "p", "nobody has room", "first"),
            Unassigned("c1", "p", "no eligible salesperson", "second"),
            Unassigned("c2", "p", "nobody has room", "first"),
            Unassigned("c3", "p", "nobody has room", "first"),
        ),
        evaluated_customers=3,
    )


def test_counts_count_customers_not_customer_x_allocation() -> None:
    the_plan = plan_with_unassigned()
    assert the_plan.counts()["unassigned"] == 2  # c1 and c3; c2 was assigned
    assert the_plan.counts()["unassigned"] <= the_plan.evaluated_customers


def test_the_summary_counts_customers_and_says_which_are_counted_twice() -> None:
    summary = format_summary(plan_with_unassigned()).splitlines()
    at = summary.index("  unassigned: 2")
    assert summary[at + 1:] == [
        "    nobody has room: 2",
        "    no eligible salesperson: 1",
        "    (1 of these customers are counted under more than one reason: "
        "allocations tried them in turn)",
    ]


# --- the command line ------------------------------------------------------

RULESET = Path(__file__).resolve().parents[2] / "rulesets" / "quick-order.yaml"
AS_OF = "2026-06-30"


def highseas_command() -> list[str]:
    return [str(Path(sys.executable).with_name("highseas"))]


def highseas(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*highseas_command(), *args], capture_output=True, text=True,
                          check=False, env={**os.environ, "PYTHONWARNINGS": "error"})


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("messages") / "quick-order.duckdb"
    api.generate_fixtures(db, "quick-order", 300, 10, seed=5)
    return db


def fresh_copy(generated: Path, folder: Path, name: str = "facts.duckdb") -> Path:
    db = folder / name
    shutil.copyfile(generated, db)
    return db


def applied_runs(db: Path) -> list[str]:
    import duckdb

    with duckdb.connect(str(db), read_only=True) as con:
        return [r[0] for r in con.execute(
            "SELECT run_id FROM runs WHERE mode = 'apply' AND status = 'ok'").fetchall()]


def events(db: Path) -> int:
    import duckdb

    with duckdb.connect(str(db), read_only=True) as con:
        return int(con.execute("SELECT count(*) FROM ownership_events").fetchall()[0][0])


def run_apply(db: Path, *extra: str) -> list[str]:
    return [*highseas_command(), "run", "-r", str(RULESET), "--db", str(db), "--as-of", AS_OF,
            "--apply", *extra]


def test_an_interrupt_says_what_the_database_holds(generated: Path, tmp_path: Path) -> None:
    """SIGINT at random moments of `run --apply`: the message matches the database."""
    timed = fresh_copy(generated, tmp_path, "timed.duckdb")
    started = time.monotonic()
    subprocess.run(run_apply(timed), capture_output=True, check=True)
    duration = time.monotonic() - started
    rng = random.Random(11)
    seen: set[str] = set()
    for trial in range(6):
        db = fresh_copy(generated, tmp_path, f"trial-{trial}.duckdb")
        process = subprocess.Popen(run_apply(db), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   text=True)
        # half of the interrupts near the end, where the commit is
        share = rng.uniform(0.8, 1.0) if trial % 2 else rng.uniform(0.3, 0.9)
        time.sleep(duration * share)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=120)
        runs = applied_runs(db)
        if process.returncode == 0:
            assert runs and f"applied run {runs[0]}" in out
            seen.add("finished")
        elif process.returncode == 130:
            last = err.strip().splitlines()[-1]
            if runs:
                assert last.startswith(f"interrupted after the run was applied (run {runs[0]})")
                seen.add("after the commit")
            else:
                # (before the command got to the apply, it has nothing to look up)
                assert last in ("interrupted: nothing was written (the run was not applied)",
                                "interrupted: nothing was written")
                assert events(db) == 0
                seen.add("before the commit")
        else:  # the interrupt came while Python started or exited, outside highseas
            assert process.returncode == -signal.SIGINT, (process.returncode, err)
            if runs:  # at exit: the command had finished and said so
                assert f"applied run {runs[0]}" in out
            else:
                assert events(db) == 0
    assert seen, "no trial ended in a way the test knows"


def test_an_applied_date_is_not_planned_again(generated: Path, tmp_path: Path) -> None:
    db = fresh_copy(generated, tmp_path)
    first = subprocess.run(run_apply(db), capture_output=True, text=True, check=False)
    assert first.returncode == 0, first.stderr
    [run_id] = applied_runs(db)
    plan_file = tmp_path / "plan.json"
    again = subprocess.run(run_apply(db, "-o", str(plan_file)), capture_output=True, text=True,
                           check=False)
    assert again.returncode == 0, again.stderr
    assert again.stdout == (
        f"a run for {AS_OF} was already applied (run {run_id}); nothing to do\n")
    assert not plan_file.exists()


def test_a_closed_standard_output_ends_quietly(generated: Path, tmp_path: Path) -> None:
    db = fresh_copy(generated, tmp_path)
    process = subprocess.Popen(
        [*highseas_command(), "run", "-r", str(RULESET), "--db", str(db), "--as-of", AS_OF],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()  # the reader is gone before anything is printed (`| head -0`)
    with process.stderr:
        err = process.stderr.read()
    assert process.wait(timeout=120) == 141
    assert err == b""


def test_errors_without_a_file_have_no_pseudo_file_prefix(generated: Path,
                                                          tmp_path: Path) -> None:
    db = fresh_copy(generated, tmp_path)
    assert subprocess.run(run_apply(db), capture_output=True, check=False).returncode == 0
    earlier = subprocess.run(
        [*highseas_command(), "run", "-r", str(RULESET), "--db", str(db), "--as-of",
         "2026-06-01", "--apply"], capture_output=True, text=True, check=False)
    assert earlier.returncode == 2
    assert earlier.stderr.startswith("error HS510 the last applied run is for 2026-06-30")
    for pseudo in ("", "<input>", "<command line>"):
        assert message_of(Diagnostic("HS510", "late", file=pseudo, hint="h")) == (
            "error HS510 late (h)")
    assert message_of(Diagnostic("HS201", "bad", file="a.yaml", line=3, column=2)) == (
        "a.yaml:3:2: error HS201 bad")


def test_an_interrupt_whose_clean_up_failed_is_still_an_interrupt() -> None:
    from highseas.cli import _interrupted

    def interrupted_clean_up() -> None:
        try:
            raise KeyboardInterrupt
        finally:  # as DuckDB's "current transaction is aborted" in a finally
            raise RuntimeError("TransactionContext Error: Current transaction is aborted")

    with pytest.raises(RuntimeError) as failed:
        interrupted_clean_up()
    assert _interrupted(failed.value)
    assert not _interrupted(ValueError("a bug"))


def test_an_interrupt_while_duckdb_reads_a_registered_table_is_an_interrupt() -> None:
    """Ctrl-C while DuckDB reads an Arrow table registered from Python: DuckDB
    wraps the KeyboardInterrupt in its own error; the run reports an
    interrupt (exit 130), not a bug in highseas."""
    import duckdb

    from highseas.cli import _interrupted

    class InterruptedWhileRead:
        def __arrow_c_stream__(self, requested_schema: object = None) -> object:
            raise KeyboardInterrupt

        def __arrow_c_schema__(self) -> object:
            raise KeyboardInterrupt

    with duckdb.connect() as con, pytest.raises(duckdb.Error) as failed:
        con.register("hs_changes", InterruptedWhileRead())
        con.execute("SELECT * FROM hs_changes").fetchall()
    assert _interrupted(failed.value)
    assert not _interrupted(duckdb.InvalidInputException("Invalid Input Error: no such column"))
