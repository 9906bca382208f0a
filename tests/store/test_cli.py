"""The facts commands end to end through the ``highseas`` click group."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from highseas.cli import main

ROOT = Path(__file__).resolve().parents[2]
SMALL = ROOT / "fixtures" / "small"


def _run(*args: str | Path) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, [str(a) for a in args])
    return result.exit_code, result.stdout, result.stderr


def test_init_load_and_info(tmp_path: Path) -> None:
    db = tmp_path / "facts.db"
    code, out, _ = _run("db", "init", db)
    assert code == 0 and "schema version" in out
    for table in ("reps", "customers", "activities", "orders"):
        code, out, err = _run("load", db, table, SMALL / f"{table}.csv", "--company", "small-co")
        assert code == 0, err
        assert f"{table}: read" in out and "rejected 0" in out
    code, out, _ = _run("db", "info", db, "--json")
    assert code == 0
    counts = json.loads(out)["companies"]["small-co"]
    assert counts["reps"] == 5 and counts["customers"] == 6


def test_load_rejects_exit_1_and_skip_bad_rows(tmp_path: Path) -> None:
    db = tmp_path / "facts.db"
    _run("db", "init", db)
    _run("load", db, "reps", SMALL / "reps.csv", "--company", "small-co")
    bad = tmp_path / "customers.csv"
    bad.write_text("customer_id,name,created_at,country\nC1,A,2025-01-01,XX\nC2,B,2025-01-01,DE\n")
    rejects = tmp_path / "rejects.csv"
    code, _, err = _run("load", db, "customers", bad, "--rejects", rejects)  # only company
    assert code == 1
    assert "row 1: error HS428" in err and "nothing was loaded" in err
    assert "HS428" in rejects.read_text()
    code, out, err = _run("load", db, "customers", bad, "--skip-bad-rows")
    assert code == 0
    assert "loaded 1, rejected 1" in out and "warning HS428" in err


def test_load_usage_errors_exit_2(tmp_path: Path) -> None:
    db = tmp_path / "facts.db"
    code, _, err = _run("load", db, "reps", SMALL / "reps.csv", "--company", "x")
    assert code == 2 and "HS400" in err  # no database yet
    _run("db", "init", db)
    code, _, err = _run("load", db, "rep", SMALL / "reps.csv", "--company", "x")
    assert code == 2 and "did you mean 'reps'" in err
    code, _, err = _run("load", db, "reps", SMALL / "reps.csv")
    assert code == 2 and "HS405" in err  # which company?


def test_fixtures_generate_and_import(tmp_path: Path) -> None:
    db = tmp_path / "gen.db"
    args = ("--customers", "120", "--reps", "6", "--seed", "4", "--db", db, "--json")
    code, out, err = _run("fixtures", "generate", "--archetype", "quick-order", *args)
    assert code == 0, err
    summary = json.loads(out)
    assert summary["customers"] == 120 and summary["company_id"] == "quick-order"
    code, _, err = _run("fixtures", "generate", "--archetype", "quick-order", *args)
    assert code == 2 and "HS462" in err
    code, out, err = _run(
        "import", "crm-sales-opportunities", ROOT / "fixtures" / "crm-sales-opportunities-sample",
        "--db", db,
    )  # fmt: skip
    assert code == 0, err
    assert "quirks of the source" in out and "GTXPro" in out
    code, _, err = _run("import", "olist-marketing-funnel", tmp_path / "none", "--db", db)
    assert code == 2 and "HS450" in err
