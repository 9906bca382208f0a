"""The loader: every reject reason with a real file (tests/facts_cases),
all-or-nothing loads, --skip-bad-rows, CSV/Parquet/JSON readers."""

from __future__ import annotations

import csv
import json
import re
import shutil
import signal
import subprocess
import sys
from datetime import date, datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from highseas import codes
from highseas.cli import main
from highseas.errors import InvalidInputError, RejectedDataError
from highseas.store.db import init_db, open_db
from highseas.store.loader import load_file
from highseas.store.tables import TABLES
from tests.support.processes import wait_until_open

ROOT = Path(__file__).resolve().parents[2]
SMALL = ROOT / "fixtures" / "small"
CASES = ROOT / "tests" / "facts_cases"
COMPANY = "small-co"
NOW = datetime(2026, 6, 30, 12, 0)


def _case_dirs() -> list[Path]:
    return sorted(p for p in CASES.iterdir() if (p / "case.yaml").is_file())


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database holding the small fixture company."""
    path = tmp_path_factory.mktemp("template") / "small.db"
    init_db(path)
    for table in ("reps", "customers", "activities", "orders"):
        report = load_file(path, table, SMALL / f"{table}.csv", COMPANY, now=NOW)
        assert report.rows_loaded == report.rows_read > 0
    return path


@pytest.fixture
def small_db(template: Path, tmp_path: Path) -> Path:
    target = tmp_path / "facts.db"
    shutil.copy(template, target)
    return target


def _snapshot(db: Path, table: str) -> list[tuple[Any, ...]]:
    with open_db(db, read_only=True) as con:
        return con.execute(f"SELECT * FROM {table} ORDER BY ALL").fetchall()


def test_small_fixture_loads_with_defaults(template: Path) -> None:
    with open_db(template, read_only=True) as con:
        customers = dict(
            (r[0], r[1:])
            for r in con.execute(
                "SELECT customer_id, country, tags, owned_since, attributes FROM customers"
            ).fetchall()
        )
        reps = dict(
            (r[0], r[1:])
            for r in con.execute("SELECT rep_id, regions, active, weight FROM reps").fetchall()
        )
    assert customers["C001"][0] == "DE"
    assert customers["C006"][1] == ["vip"]  # [vip] list syntax
    assert customers["C002"][1] == ["key-account"]
    assert customers["C005"][2] == datetime(2026, 3, 15, 10, 0)  # owned_since := created_at
    assert customers["C003"][2] is None  # in the high seas
    assert reps["R02"] == (["apac", "emea"], True, 2)
    assert reps["R04"][1] is False


@pytest.mark.parametrize("case", _case_dirs(), ids=lambda p: p.name)
def test_facts_case(case: Path, small_db: Path, tmp_path: Path) -> None:
    spec = yaml.safe_load((case / "case.yaml").read_text())
    table, file = spec["table"], case / spec["file"]
    before = _snapshot(small_db, table)
    if "expect_error" in spec:
        with pytest.raises(InvalidInputError) as caught:
            load_file(small_db, table, file, COMPANY, now=NOW)
        assert caught.value.first.code == spec["expect_error"]
        assert caught.value.exit_code == 2
        assert _snapshot(small_db, table) == before
        return
    expected = {(e["row"], e["column"], e["code"]) for e in spec["expect"]}
    rejects = tmp_path / "rejects.csv"
    with pytest.raises(RejectedDataError) as caught:
        load_file(small_db, table, file, COMPANY, rejects_path=rejects, now=NOW)
    assert caught.value.exit_code == 1
    report = caught.value.report  # type: ignore[attr-defined]
    assert {(r.row, r.column, r.code) for r in report.rejects} == expected
    assert _snapshot(small_db, table) == before  # nothing loaded
    with rejects.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["row", "column", "value", "code", "reason"]
    assert {(int(r["row"]), r["column"], r["code"]) for r in rows} == expected
    assert all(r["reason"] for r in rows)
    # --skip-bad-rows loads exactly the other rows, and still reports the bad
    report = load_file(small_db, table, file, COMPANY, skip_bad_rows=True, now=NOW)
    bad_rows = {row for row, _, _ in expected}
    assert report.rows_rejected == len(bad_rows)
    assert report.rows_loaded == report.rows_read - len(bad_rows)
    assert len(_snapshot(small_db, table)) == len(before) + report.rows_loaded


def test_every_reject_code_has_a_case() -> None:
    covered: set[str] = set()
    for case in _case_dirs():
        spec = yaml.safe_load((case / "case.yaml").read_text())
        covered |= {e["code"] for e in spec.get("expect", [])}
    # rows rejected: HS420-HS439 and HS441
    reject_codes = {c.id for c in codes.active()
                    if "HS420" <= c.id < "HS440" or c.id == codes.CLOSED_ORDER_OPEN}
    assert covered == reject_codes


def test_parquet_input(small_db: Path, tmp_path: Path) -> None:
    file = tmp_path / "acts.parquet"
    with duckdb.connect() as con:
        con.execute(
            f"""COPY (SELECT * FROM (VALUES
                ('C001', 'R01', 'call', TIMESTAMP '2026-01-01 10:00:00'),
                ('C404', 'R01', 'call', TIMESTAMP '2026-01-01 11:00:00'),
                ('C002', NULL, 'visit', TIMESTAMP '2099-01-01 00:00:00'))
                t(customer_id, rep_id, kind, "at")) TO '{file}' (FORMAT parquet)"""
        )
    with pytest.raises(RejectedDataError) as caught:
        load_file(small_db, "activities", file, COMPANY, now=NOW)
    got = {(r.row, r.column, r.code) for r in caught.value.report.rejects}  # type: ignore[attr-defined]
    assert got == {(2, "customer_id", "HS427"), (3, "at", "HS423")}


def test_parquet_native_lists(small_db: Path, tmp_path: Path) -> None:
    file = tmp_path / "reps.parquet"
    with duckdb.connect() as con:
        con.execute(
            f"""COPY (SELECT 'R30' AS rep_id, 'Pat' AS name, DATE '2024-02-01' AS hired_on,
                ['emea', 'apac'] AS regions, FALSE AS active, 3 AS weight)
                TO '{file}' (FORMAT parquet)"""
        )
    assert load_file(small_db, "reps", file, COMPANY, now=NOW).rows_loaded == 1
    with open_db(small_db, read_only=True) as con:
        row = con.execute(
            "SELECT regions, active, weight, hired_on FROM reps WHERE rep_id = 'R30'"
        ).fetchall()[0]
    assert row[:3] == (["emea", "apac"], False, 3)


def test_rows_are_scoped_by_company(small_db: Path, tmp_path: Path) -> None:
    """Another company may reuse ids; references only see its own rows."""
    file = tmp_path / "customers.csv"
    file.write_text("customer_id,name,created_at,owner_rep_id\nC001,Other Co,2025-01-01,R01\n")
    with pytest.raises(RejectedDataError) as caught:
        load_file(small_db, "customers", file, "other-co", now=NOW)
    assert [r.code for r in caught.value.report.rejects] == ["HS426"]  # type: ignore[attr-defined]
    file.write_text("customer_id,name,created_at\nC001,Other Co,2025-01-01\n")
    assert load_file(small_db, "customers", file, "other-co", now=NOW).rows_loaded == 1


def test_unknown_table_suggests(small_db: Path) -> None:
    with pytest.raises(InvalidInputError) as caught:
        load_file(small_db, "customer", SMALL / "customers.csv", COMPANY)
    assert caught.value.first.code == "HS410"
    assert "customers" in caught.value.first.hint


def test_missing_file(small_db: Path, tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError) as caught:
        load_file(small_db, "reps", tmp_path / "nope.csv", COMPANY)
    assert caught.value.first.code == "HS411"
    with pytest.raises(InvalidInputError) as caught:
        load_file(
            small_db, "reps", SMALL / "reps.csv", COMPANY, rejects_path=tmp_path / "a" / "r.csv"
        )
    assert caught.value.first.code == "HS414"


def test_rejects_file_written_even_when_clean(small_db: Path, tmp_path: Path) -> None:
    file = tmp_path / "reps.csv"
    file.write_text("rep_id,name,hired_on\nR40,Quin,2024-01-01\n")
    rejects = tmp_path / "rejects.csv"
    report = load_file(small_db, "reps", file, COMPANY, rejects_path=rejects, now=NOW)
    assert report.ok and report.rows_loaded == 1
    assert rejects.read_text().strip() == "row,column,value,code,reason"


def test_many_rejects_are_summarised(small_db: Path, tmp_path: Path) -> None:
    file = tmp_path / "customers.csv"
    lines = ["customer_id,name,created_at,country"]
    lines += [f"X{i},N{i},2025-01-01,ZZ" for i in range(50)]
    file.write_text("\n".join(lines) + "\n")
    with pytest.raises(RejectedDataError) as caught:
        load_file(small_db, "customers", file, COMPANY, now=NOW)
    codes = [d.code for d in caught.value.diagnostics]
    assert codes.count("HS428") == 20 and codes[-2:] == ["HS440", "HS440"]
    assert caught.value.report.reject_count == 50  # type: ignore[attr-defined]


def test_interrupted_load_leaves_table_unchanged(
    small_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A crash inside the transaction (here: while inserting) rolls back."""
    from highseas.store import loader

    file = tmp_path / "reps.csv"
    file.write_text("rep_id,name,hired_on\nR50,Ray,2024-01-01\n")
    before = _snapshot(small_db, "reps")

    def boom(*args: Any) -> str:
        raise KeyboardInterrupt

    monkeypatch.setattr(loader, "typed_select", boom)
    with pytest.raises(KeyboardInterrupt):
        load_file(small_db, "reps", file, COMPANY, now=NOW)
    assert _snapshot(small_db, "reps") == before


def test_table_specs_match_ddl(template: Path) -> None:
    """Every loadable column exists in the DDL, and every DDL column is loadable."""
    with open_db(template, read_only=True) as con:
        for name, spec in TABLES.items():
            ddl = {
                str(r[0])
                for r in con.execute(
                    "SELECT column_name FROM information_schema.columns WHERE table_name = ?",
                    [name],
                ).fetchall()
            }
            assert {c.name for c in spec.columns} == ddl - {"company_id"}


_DATE_CHARS = "0123456789-"


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    values=st.lists(
        st.one_of(
            st.dates(min_value=date(1900, 1, 1), max_value=date(2100, 12, 31)).map(str),
            st.text(alphabet=_DATE_CHARS, min_size=8, max_size=11),
        ),
        min_size=1,
        max_size=80,
    )
)
def test_date_checks_agree_with_python(values: list[str], small_db: Path, tmp_path: Path) -> None:
    """hired_on is rejected exactly when Python sees no ISO date, or a date
    more than a day after now."""
    file = tmp_path / "reps.csv"
    rows = [f"P{i},Name {i},{v}" for i, v in enumerate(values)]
    file.write_text("rep_id,name,hired_on\n" + "\n".join(rows) + "\n")

    def expected(value: str) -> str | None:
        if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
            return "HS422"
        try:
            day = date.fromisoformat(value)
        except ValueError:
            return "HS422"
        return "HS423" if day > date(2026, 7, 1) else None

    want = {(i + 1, code) for i, v in enumerate(values) if (code := expected(v))}
    try:
        report = load_file(small_db, "reps", file, COMPANY, now=NOW)
        got: set[tuple[int, str]] = set()
        with open_db(small_db) as con:  # undo, so the next example starts clean
            con.execute("DELETE FROM reps WHERE rep_id LIKE 'P%'")
        assert report.rows_loaded == len(values)
    except RejectedDataError as error:
        got = {(r.row, r.code) for r in error.report.rejects}  # type: ignore[attr-defined]
    assert got == want


def test_attribute_columns(small_db: Path, tmp_path: Path) -> None:
    """customers may carry custom fields as attributes.NAME columns: numbers,
    booleans and strings, merged over the attributes cell (a blank leaves it)."""
    file = tmp_path / "customers.csv"
    file.write_text(
        "customer_id,name,created_at,attributes,attributes.credit_score,"
        "Attributes.Reorder_Customer,attributes.segment\n"
        "K1,One,2025-01-01,,80,true,energy\n"
        'K2,Two,2025-01-01,"{""credit_score"": 1, ""x"": 2}",,,\n'
        "K3,Three,2025-01-01,,,,\n"
        'K4,Four,2025-01-01,"{""credit_score"": 1}",12.5,FALSE,007\n'
    )
    assert load_file(small_db, "customers", file, COMPANY, now=NOW).rows_loaded == 4
    with open_db(small_db, read_only=True) as con:
        got = dict(
            con.execute(
                "SELECT customer_id, attributes FROM customers WHERE customer_id LIKE 'K%'"
            ).fetchall()
        )
    assert json.loads(got["K1"]) == {"credit_score": 80, "reorder_customer": True,
                                     "segment": "energy"}  # fmt: skip
    assert json.loads(got["K2"]) == {"credit_score": 1, "x": 2}
    assert got["K3"] is None
    assert json.loads(got["K4"]) == {"credit_score": 12.5, "reorder_customer": False,
                                     "segment": "007"}  # fmt: skip
    other = tmp_path / "reps.csv"
    other.write_text("rep_id,name,hired_on,attributes.x\nR9,N,2020-01-01,1\n")
    with pytest.raises(InvalidInputError) as caught:
        load_file(small_db, "reps", other, COMPANY, now=NOW)
    assert caught.value.first.code == "HS413"  # only customers have attributes


@pytest.mark.parametrize(("encoding", "named"), [("utf-16", "UTF-16"), ("utf-16-le", "UTF-16"),
                                                 ("utf-32", "UTF-32")])
def test_a_file_saved_as_utf16_or_utf32_is_named_as_such(small_db: Path, tmp_path: Path,
                                                         encoding: str, named: str) -> None:
    """Excel's "Unicode text" and friends: the error says what the file is
    and how to save it, and nothing is loaded."""
    text = (SMALL / "reps.csv").read_text(encoding="utf-8")
    path = tmp_path / "reps.csv"
    path.write_bytes(text.encode(encoding))
    before = _snapshot(small_db, "reps")
    with pytest.raises(InvalidInputError) as caught:
        load_file(small_db, "reps", path, COMPANY, now=NOW)
    error = caught.value.first
    assert error.code == "HS411" and named in error.message and "UTF-8" in (error.hint or "")
    assert _snapshot(small_db, "reps") == before


def _database(db: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every table of the database (so a dropped or added one shows too)."""
    with open_db(db, read_only=True) as con:
        names = [r[0] for r in con.execute(
            "SELECT table_name FROM information_schema.tables ORDER BY ALL").fetchall()]
        return {n: con.execute(f'SELECT * FROM "{n}" ORDER BY ALL').fetchall() for n in names}


HOSTILE_COMPANIES = ["x'); DROP TABLE reps; --", "small-co' OR '1'='1", 'a"b', "Small-Co",
                     "small co", "x" * 65, "ünïcode", "-leading-dash"]


@pytest.mark.parametrize("company", HOSTILE_COMPANIES)
def test_a_company_id_must_be_an_id_like_in_rulesets(small_db: Path, tmp_path: Path,
                                                     company: str) -> None:
    """--company is checked like ruleset ids (HS205 there): anything else is
    HS406, exit 2, before the database is touched."""
    file = tmp_path / "reps.csv"
    file.write_text("rep_id,name,hired_on\nR60,Quin,2024-01-01\n")
    before = _database(small_db)
    with pytest.raises(InvalidInputError) as caught:
        load_file(small_db, "reps", file, company, now=NOW)
    assert caught.value.first.code == "HS406" and caught.value.exit_code == 2
    assert "lower-case letters" in (caught.value.first.hint or "")
    result = CliRunner().invoke(main, ["load", str(small_db), "reps", str(file),
                                       "--company", company])
    assert result.exit_code == 2, result.output
    assert f"error HS406 {company!r} is not a valid company id" in result.output
    assert "Traceback" not in result.output
    assert _database(small_db) == before


def test_quotes_and_spaces_in_file_names_are_data(small_db: Path, tmp_path: Path) -> None:
    """File names (CSV, Parquet, JSON, the rejects file) and JSON keys go to
    DuckDB as bound parameters: quotes and SQL in them are just characters."""
    folder = tmp_path / "it's a \"folder\"; DROP TABLE reps; --"
    folder.mkdir()
    company = "o-brien_2"  # ids with '-' and '_' and digits are fine
    reps = folder / "o'brien's reps.csv"
    reps.write_text("rep_id,name,hired_on\nR61,O'Brien,2024-01-01\n")
    rejects = folder / "rejects '; DROP TABLE customers; --.csv"
    report = load_file(small_db, "reps", reps, company, rejects_path=rejects, now=NOW)
    assert report.rows_loaded == 1 and rejects.read_text().startswith("row,column")
    customers = folder / "cust'omers.parquet"
    with duckdb.connect() as con:
        con.execute("COPY (SELECT 'Q61' AS customer_id, 'It''s' AS name, "
                    "'2025-01-01' AS created_at, 'R61' AS owner_rep_id) TO $p (FORMAT parquet)",
                    {"p": str(customers)})
    assert load_file(small_db, "customers", customers, company, now=NOW).rows_loaded == 1
    orders = folder / "ord'ers.json"
    orders.write_text(json.dumps([{"customer_id": "Q61", "placed_at": "2026-01-02",
                                   "status": "won", "amount": "1.50", "rep_id": "R61"}]))
    assert load_file(small_db, "orders", orders, company, now=NOW).rows_loaded == 1
    with open_db(small_db, read_only=True) as con:
        got = [con.execute(f"SELECT company_id, count(*) FROM {t} WHERE company_id <> ? "
                           "GROUP BY ALL", [COMPANY]).fetchall()
               for t in ("reps", "customers", "orders")]
        name = con.execute("SELECT name FROM reps WHERE rep_id = 'R61'").fetchall()
    assert got == [[(company, 1)]] * 3 and name == [("O'Brien",)]
    hostile = folder / "keys.json"
    hostile.write_text(json.dumps([{"rep_id": "R62", "name": "N", "hired_on": "2024-01-01",
                                    "x': 'VARCHAR'}); DROP TABLE reps; --": "1"}]))
    before = _database(small_db)
    with pytest.raises(InvalidInputError) as caught:
        load_file(small_db, "reps", hostile, company, now=NOW)
    assert caught.value.first.code == "HS413" and "drop table reps" in caught.value.first.message
    assert _database(small_db) == before


def test_csv_header_row_forms(small_db: Path, tmp_path: Path) -> None:
    """The delimiter is the one of , ; tab | that splits the header row into
    the most columns (quoted names too); blank lines before the header are
    skipped and do not shift row numbers; a repeated column is refused."""
    file = tmp_path / "reps.csv"
    file.write_text('\n\n"rep_id";"name";"hired_on"\nR63;"Smith; Jones";2024-01-01\nR64;X\n')
    with pytest.raises(RejectedDataError) as caught:
        load_file(small_db, "reps", file, COMPANY, now=NOW)
    assert [(r.row, r.code) for r in caught.value.report.rejects] == [(2, "HS433")]  # type: ignore[attr-defined]
    file.write_text('\n\n"rep_id";"name";"hired_on"\nR63;"Smith; Jones";2024-01-01\n')
    assert load_file(small_db, "reps", file, COMPANY, now=NOW).rows_loaded == 1
    file.write_text("rep_id,name,hired_on,Name\nR65,A,2024-01-01,B\n")
    with pytest.raises(InvalidInputError) as error:
        load_file(small_db, "reps", file, COMPANY, now=NOW)
    assert error.value.first.code == "HS413" and "appears twice" in error.value.first.message
    # only double quotes quote: 'a, b' is two values, so the line has a field too many
    file.write_text("rep_id,name,hired_on\nR66,'Smith, Jones',2024-01-01\n")
    with pytest.raises(RejectedDataError) as rejected:
        load_file(small_db, "reps", file, COMPANY, now=NOW)
    assert [r.code for r in rejected.value.report.rejects] == ["HS433"]  # type: ignore[attr-defined]


def test_duckdb_interrupt_is_a_keyboard_interrupt(
    small_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DuckDB answers Ctrl-C during a query with RuntimeError("Query
    interrupted"); the loader rolls back and raises KeyboardInterrupt."""
    from highseas.store import loader

    file = tmp_path / "reps.csv"
    file.write_text("rep_id,name,hired_on\nR67,Ray,2024-01-01\n")
    before = _database(small_db)

    def interrupted(*args: Any) -> str:
        raise RuntimeError("Query interrupted")

    monkeypatch.setattr(loader, "typed_select", interrupted)
    with pytest.raises(KeyboardInterrupt):
        load_file(small_db, "reps", file, COMPANY, now=NOW)
    assert _database(small_db) == before


# The child restores Python's own SIGINT handler: a shell starts background
# jobs (such as a test run) with SIGINT ignored, and a child inherits that.
_CLI = ("import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
        "from highseas.cli import main; sys.argv[0] = 'highseas'; main()")


def _big_activities(path: Path, rows: int) -> None:
    with duckdb.connect() as con:
        con.execute(
            "COPY (SELECT 'Z' || range AS activity_id, 'C00' || (1 + range % 6) AS customer_id, "
            "'R0' || (1 + range % 5) AS rep_id, 'call' AS kind, '2026-01-01 10:00' AS at "
            "FROM range($rows)) TO $path (FORMAT csv, HEADER true)",
            {"rows": rows, "path": str(path)},
        )


def test_ctrl_c_during_a_load_writes_nothing(small_db: Path, tmp_path: Path) -> None:
    """A real SIGINT while `highseas load` reads a big file: exit 130,
    "interrupted: nothing was written (...)", no traceback, every table as before.
    If the load won the race (a fast machine), again with a bigger file."""
    before = _database(small_db)
    for attempt, rows in enumerate((1_000_000, 2_500_000, 5_000_000)):
        db = tmp_path / f"attempt{attempt}.db"
        shutil.copy(small_db, db)
        big = tmp_path / f"activities {attempt}.csv"
        _big_activities(big, rows)
        with subprocess.Popen([sys.executable, "-c", _CLI, "load", str(db), "activities",
                               str(big), "--company", COMPANY], cwd=ROOT, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
            try:
                wait_until_open(proc, big, seconds=30)
                if proc.poll() is None:
                    proc.send_signal(signal.SIGINT)
                out, err = proc.communicate(timeout=60)
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.communicate()
        big.unlink()
        if proc.returncode == 0 and f"loaded {rows}," in out:
            continue  # it finished before the signal came: again with a bigger file
        assert proc.returncode == 130, (out, err)
        assert err.strip() == (f"interrupted: nothing was written (no row of {big} was "
                               "loaded; the load can be run again)"), err
        assert "Traceback" not in out + err and "HS999" not in out + err
        assert _database(db) == before
        return
    pytest.fail("the load always finished before SIGINT arrived")
