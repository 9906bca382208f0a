"""``highseas revert``: an applied run undone exactly, only the latest ones,
and audited; ``highseas runs list | show``."""

from __future__ import annotations

import hashlib
import shutil
from datetime import date
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from highseas import api
from highseas.cli import main
from highseas.errors import InvalidInputError
from highseas.store.db import open_db

ROOT = Path(__file__).resolve().parents[2]
FIRST_NIGHT = date(2026, 6, 30)

#: Tables a revert writes to on purpose: the audit trail.
AUDIT_TABLES = frozenset({"runs", "reverted_ownership_events", "reverted_notifications",
                          "schema_version"})


def _ruleset(archetype: str) -> Path:
    return ROOT / "rulesets" / f"{archetype}.yaml"


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Per archetype: a generated company whose first night is applied."""
    folder = tmp_path_factory.mktemp("revert")
    found = {}
    for archetype in ("regional-trading", "quick-order"):
        db = folder / f"{archetype}.duckdb"
        api.generate_fixtures(db, archetype, 400, 12, seed=5)
        api.run(_ruleset(archetype), db, FIRST_NIGHT, apply=True)
        found[archetype] = db
    return found


def _copy(generated: dict[str, Path], archetype: str, tmp_path: Path) -> Path:
    db = tmp_path / f"{archetype}.duckdb"
    shutil.copy(generated[archetype], db)
    return db


def table_hashes(db: Path) -> dict[str, str]:
    """sha256 of each table's sorted content, the audit trail left out."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        tables = [r[0] for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' "
            "ORDER BY 1").fetchall()]
        hashes = {}
        for table in tables:
            if table in AUDIT_TABLES:
                continue
            rows = con.execute(f"SELECT * FROM {table} ORDER BY ALL").fetchall()
            hashes[table] = hashlib.sha256(repr(rows).encode()).hexdigest()
        return hashes
    finally:
        con.close()


def _runs(db: Path) -> list[tuple[str, str, str, str | None, str | None]]:
    with open_db(db, read_only=True) as con:
        return con.execute(
            "SELECT run_id, mode, status, reverts, reverted_by FROM runs ORDER BY seq"
        ).fetchall()


@pytest.mark.parametrize("archetype", ["regional-trading", "quick-order"])
def test_apply_then_revert_leaves_every_table_but_the_audit_trail_as_before(
        generated: dict[str, Path], archetype: str, tmp_path: Path) -> None:
    db = _copy(generated, archetype, tmp_path)
    night = date(2026, 7, 1)
    before = table_hashes(db)
    planned = api.plan(_ruleset(archetype), db, night)
    applied = api.run(_ruleset(archetype), db, night, apply=True).applied
    assert applied is not None and applied.applied and applied.ownership_changes > 0
    assert table_hashes(db) != before

    (result,) = api.revert(db, [applied.run_id])

    assert table_hashes(db) == before
    assert result.ownership_changes_undone == applied.ownership_changes
    assert result.notifications_cancelled == applied.notifications
    # claim counters, cooldowns, relays and rotation as before: the same plan again
    assert api.plan(_ruleset(archetype), db, night).to_json() == planned.to_json()
    run_row, revert_row = _runs(db)[-2:]
    assert run_row == (applied.run_id, "apply", "reverted", None, result.revert_run_id)
    assert revert_row == (result.revert_run_id, "revert", "ok", applied.run_id, None)
    with open_db(db, read_only=True) as con:
        kept = con.execute(
            "SELECT count(*) FROM reverted_ownership_events WHERE run_id = ?",
            [applied.run_id]).fetchall()[0][0]
        cancelled = con.execute(
            "SELECT count(*) FROM reverted_notifications WHERE run_id = ?",
            [applied.run_id]).fetchall()[0][0]
    assert (kept, cancelled) == (applied.ownership_changes, applied.notifications)


def test_the_date_can_be_applied_again_after_a_revert(generated: dict[str, Path],
                                                     tmp_path: Path) -> None:
    db = _copy(generated, "quick-order", tmp_path)
    night = date(2026, 7, 1)
    first = api.run(_ruleset("quick-order"), db, night, apply=True).applied
    assert first is not None
    after_first = table_hashes(db)
    api.revert(db, [first.run_id])
    again = api.run(_ruleset("quick-order"), db, night, apply=True).applied
    assert again is not None and again.applied
    assert again.run_id == f"{first.run_id}-2"
    assert table_hashes(db).keys() == after_first.keys()
    assert table_hashes(db)["customers"] == after_first["customers"]


def test_only_the_latest_applied_runs_can_be_reverted(generated: dict[str, Path],
                                                     tmp_path: Path) -> None:
    db = _copy(generated, "regional-trading", tmp_path)
    rules = _ruleset("regional-trading")
    before = table_hashes(db)
    first = api.run(rules, db, date(2026, 7, 1), apply=True).applied
    second = api.run(rules, db, date(2026, 7, 2), apply=True).applied
    assert first is not None and second is not None
    state = table_hashes(db), _runs(db)

    with pytest.raises(InvalidInputError) as refused:
        api.revert(db, [first.run_id])
    assert refused.value.first.code == "HS527"
    assert second.run_id in refused.value.first.message
    assert "nothing was reverted" in refused.value.first.message
    assert (table_hashes(db), _runs(db)) == state

    # the latest two together, in any order: newest first
    results = api.revert(db, [first.run_id, second.run_id])
    assert [r.reverted_run_id for r in results] == [second.run_id, first.run_id]
    assert table_hashes(db) == before

    with pytest.raises(InvalidInputError) as again:
        api.revert(db, [second.run_id])
    assert again.value.first.code == "HS527" and "already reverted" in again.value.first.message


def test_unknown_runs_and_runs_of_other_kinds_are_refused(generated: dict[str, Path],
                                                         tmp_path: Path) -> None:
    db = _copy(generated, "regional-trading", tmp_path)
    applied = api.run(_ruleset("regional-trading"), db, date(2026, 7, 1), apply=True).applied
    assert applied is not None
    with pytest.raises(InvalidInputError) as unknown:
        api.revert(db, [applied.run_id[:-1]])
    assert unknown.value.first.code == "HS519"
    assert "did you mean" in unknown.value.first.hint
    (result,) = api.revert(db, [applied.run_id])
    with pytest.raises(InvalidInputError) as revert_run:
        api.revert(db, [result.revert_run_id])
    assert revert_run.value.first.code == "HS527"
    assert "only applied runs" in revert_run.value.first.message


def test_a_customer_changed_since_the_run_refuses_the_revert(generated: dict[str, Path],
                                                            tmp_path: Path) -> None:
    db = _copy(generated, "regional-trading", tmp_path)
    applied = api.run(_ruleset("regional-trading"), db, date(2026, 7, 1), apply=True).applied
    assert applied is not None
    with open_db(db) as con:
        customer, owner = con.execute(
            "SELECT e.customer_id, e.to_rep_id FROM ownership_events e WHERE run_id = ? "
            "ORDER BY event_id LIMIT 1", [applied.run_id]).fetchall()[0]
        con.execute("UPDATE customers SET owner_rep_id = 'someone-else', pool_id = NULL "
                    "WHERE customer_id = ?", [customer])
    with pytest.raises(InvalidInputError) as refused:
        api.revert(db, [applied.run_id])
    assert refused.value.first.code == "HS527"
    assert customer in refused.value.first.message and owner != "someone-else"


def test_runs_and_revert_on_the_command_line(generated: dict[str, Path],
                                             tmp_path: Path) -> None:
    db = _copy(generated, "quick-order", tmp_path)
    runner = CliRunner()
    applied = api.run(_ruleset("quick-order"), db, date(2026, 7, 1), apply=True).applied
    assert applied is not None

    listed = runner.invoke(main, ["runs", "list", "--db", str(db)])
    assert listed.exit_code == 0, listed.output
    assert listed.output.splitlines()[0].startswith(applied.run_id)
    assert "first run" in listed.output  # the first night overrode the blast radius

    shown = runner.invoke(main, ["runs", "show", applied.run_id, "--db", str(db)])
    assert shown.exit_code == 0, shown.output
    assert "revertible: yes" in shown.output

    first = listed.output.splitlines()[1].split()[0]
    older = runner.invoke(main, ["revert", first, "--db", str(db)])
    assert older.exit_code == 2 and "HS527" in older.output

    reverted = runner.invoke(main, ["revert", applied.run_id, "--db", str(db)])
    assert reverted.exit_code == 0, reverted.output
    assert reverted.output.startswith(f"reverted run {applied.run_id}")
    shown = runner.invoke(main, ["runs", "show", applied.run_id, "--db", str(db), "--json"])
    assert '"status": "reverted"' in shown.output
