"""Opening databases: init, schema versions, foreign files, locks."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import pytest

from highseas.errors import BusyError, InvalidInputError
from highseas.store import db as store_db
from highseas.store.countries import ISO_ALPHA2, NAME_TO_CODE, is_country
from highseas.store.db import connect, init_db, open_db, schema_version
from highseas.store.ddl import FACT_TABLES, SCHEMA_VERSION


def test_init_creates_every_table_and_is_idempotent(tmp_path: Path) -> None:
    path = tmp_path / "facts.db"
    init_db(path)
    init_db(path)
    with open_db(path, read_only=True) as con:
        assert schema_version(con) == SCHEMA_VERSION
        tables = {r[0] for r in con.execute("SHOW TABLES").fetchall()}
        versions = con.execute("SELECT count(*) FROM schema_version").fetchall()[0][0]
    assert set(FACT_TABLES) <= tables
    assert {"ownership_events", "runs", "rotation_state", "relay_state"} <= tables
    assert versions == SCHEMA_VERSION


def test_init_accepts_an_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.db"
    path.touch()
    init_db(path)
    with open_db(path) as con:
        assert schema_version(con) == SCHEMA_VERSION


def test_connect_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError) as caught:
        connect(tmp_path / "nope.db")
    assert caught.value.first.code == "HS400"
    assert "db init" in caught.value.first.hint


def test_not_a_duckdb_file_is_refused_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("shopping list\n" * 500)
    for call in (lambda: connect(path), lambda: init_db(path)):
        with pytest.raises(InvalidInputError) as caught:
            call()
        assert caught.value.first.code == "HS402"
    assert path.read_text().startswith("shopping list")


def test_foreign_duckdb_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE TABLE sales (x INTEGER)")
    for call in (lambda: connect(path), lambda: init_db(path)):
        with pytest.raises(InvalidInputError) as caught:
            call()
        assert caught.value.first.code == "HS402"
        assert "not a highseas database" in caught.value.first.message


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "future.db"
    init_db(path)
    with duckdb.connect(str(path)) as con:
        con.execute("INSERT INTO schema_version VALUES (?, now())", [SCHEMA_VERSION + 1])
    for read_only in (False, True):
        with pytest.raises(InvalidInputError) as caught:
            connect(path, read_only=read_only)
        assert caught.value.first.code == "HS403"


def test_older_schema_is_upgraded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file at version N is migrated to N+1 read-write, refused read-only."""
    path = tmp_path / "old.db"
    init_db(path)
    extra = "CREATE TABLE IF NOT EXISTS hs_test_extra (company_id VARCHAR NOT NULL);"
    monkeypatch.setattr(store_db, "MIGRATIONS", (*store_db.MIGRATIONS, extra))
    monkeypatch.setattr(store_db, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    with pytest.raises(InvalidInputError) as caught:
        connect(path, read_only=True)
    assert caught.value.first.code == "HS404"
    with open_db(path) as con:
        assert schema_version(con) == SCHEMA_VERSION + 1
        assert con.execute("SELECT count(*) FROM hs_test_extra").fetchall() == [(0,)]


def test_busy_database_gives_busy_error(tmp_path: Path) -> None:
    path = tmp_path / "busy.db"
    init_db(path)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import sys, duckdb
                con = duckdb.connect({str(path)!r})
                print("ready", flush=True)
                sys.stdin.read()
                """
            ),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        for read_only in (False, True):
            with pytest.raises(BusyError) as caught:
                connect(path, read_only=read_only)
            assert caught.value.first.code == "HS401"
            assert caught.value.exit_code == 2
            assert "in use by another process" in caught.value.first.message
    finally:
        holder.communicate("", timeout=30)


def test_open_db_closes(tmp_path: Path) -> None:
    path = tmp_path / "facts.db"
    init_db(path)
    with open_db(path) as con:
        pass
    with pytest.raises(duckdb.ConnectionException):
        con.execute("SELECT 1")


def test_country_list() -> None:
    assert len(ISO_ALPHA2) == 249
    assert is_country("DE") and is_country("SS") and not is_country("UK")
    assert set(NAME_TO_CODE.values()) <= ISO_ALPHA2


def test_same_process_other_mode_is_busy(tmp_path: Path) -> None:
    path = tmp_path / "facts.db"
    init_db(path)
    with open_db(path):
        with pytest.raises(BusyError) as caught:
            connect(path, read_only=True)
    assert "already open in this process" in caught.value.first.message
