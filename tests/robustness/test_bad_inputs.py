"""The bad-input corpus (tests/bad_inputs/cases.yaml plus the golden cases of
tests/ruleset_cases and tests/facts_cases, by reference) through the real
command line: exit code, error code, location, no traceback, and a database
left exactly as it was."""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result

from highseas.cli import main
from tests.support.robustness import snapshot

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "tests" / "bad_inputs"
MANIFEST: dict[str, Any] = yaml.safe_load((CORPUS / "cases.yaml").read_text(encoding="utf-8"))
GOLDEN_RULESETS = (CORPUS / MANIFEST["reuse"]["rulesets"]).resolve()
GOLDEN_FACTS = (CORPUS / MANIFEST["reuse"]["facts"]).resolve()
COMPANY = "small-co"
SMALL = ROOT / "fixtures" / "small"
EXPECT_HEADER = re.compile(r"^# expect: (HS\d{3}) line (\d+)$", re.MULTILINE)
DIAGNOSTIC_LINE = re.compile(r"^(?P<file>.+?):(?P<line>\d+):(?P<col>\d+): "
                             r"(?P<severity>error|warning) (?P<code>HS\d{3}) ", re.MULTILINE)
TEXT_OUTPUT_LINE = re.compile(r"^(\S.*?: (error|warning) HS\d{3} .+|\d+ files? checked: .+)$")
ROW_LINE = re.compile(r"^(?P<file>.+?):row (?P<row>\d+): error (?P<code>HS\d{3}) "
                      r"(?P<column>[^:]+): ", re.MULTILINE)


@dataclass(frozen=True)
class RulesetCase:
    name: str
    path: Path | None  # None: generated at test time
    exit: int
    expect: frozenset[tuple[str, int]]
    strict_exit: int | None = None
    generate: str = ""


@dataclass(frozen=True)
class FactsCase:
    name: str
    path: Path
    table: str
    exit: int
    expect: frozenset[tuple[str, int, str]] = field(default_factory=frozenset)
    file_error: str = ""


def _ruleset_cases() -> list[RulesetCase]:
    cases = []
    for entry in MANIFEST["rulesets"]:
        expect = frozenset((text.split()[0], int(text.split()[2])) for text in entry["expect"])
        path = CORPUS / "rulesets" / entry["file"] if "file" in entry else None
        cases.append(RulesetCase(entry.get("file") or entry["generate"], path, entry["exit"],
                                 expect, entry.get("strict_exit"), entry.get("generate", "")))
    for path in sorted(GOLDEN_RULESETS.glob("*.yaml")):
        text = path.read_bytes().decode("utf-8", errors="replace")
        expect = frozenset((code, int(line)) for code, line in EXPECT_HEADER.findall(text))
        only_warnings = all(code in WARNING_CODES for code, _ in expect)
        cases.append(RulesetCase(f"golden/{path.name}", path, 0 if only_warnings else 1, expect,
                                 1 if only_warnings else None))
    return cases


#: Codes that are warnings (valid ruleset, exit 1 only under --strict).
WARNING_CODES = {"HS313", "HS316", "HS317", "HS318"}


def _facts_cases() -> list[FactsCase]:
    cases = []
    for entry in MANIFEST["facts"]:
        rows: set[tuple[str, int, str]] = set()
        file_error = ""
        for text in entry["expect"]:
            parts = text.split()
            if len(parts) == 1:
                file_error = parts[0]
            else:
                rows.add((parts[0], int(parts[2]), parts[3]))
        cases.append(FactsCase(entry["file"], CORPUS / "facts" / entry["file"], entry["table"],
                               entry["exit"], frozenset(rows), file_error))
    skip = set(MANIFEST["reuse"].get("facts_skip", []))
    for case_dir in sorted(GOLDEN_FACTS.iterdir()):
        spec_file = case_dir / "case.yaml"
        if not spec_file.is_file() or case_dir.name in skip:
            continue
        spec = yaml.safe_load(spec_file.read_text(encoding="utf-8"))
        path = case_dir / spec["file"]
        if "expect_error" in spec:
            cases.append(FactsCase(f"golden/{case_dir.name}", path, spec["table"], 2,
                                   file_error=spec["expect_error"]))
        else:
            expected = frozenset((str(e["code"]), int(e["row"]), str(e["column"]))
                                 for e in spec["expect"])
            cases.append(FactsCase(f"golden/{case_dir.name}", path, spec["table"], 1, expected))
    return cases


RULESET_CASES = _ruleset_cases()
FACTS_CASES = _facts_cases()
CLI_CASES: list[dict[str, Any]] = MANIFEST["cli"]


def test_the_corpus_is_large_and_covers_every_kind() -> None:
    assert len(RULESET_CASES) + len(FACTS_CASES) + len(CLI_CASES) >= 50
    assert len(FACTS_CASES) >= 25 and len(RULESET_CASES) >= 25
    codes = {code for case in RULESET_CASES for code, _ in case.expect}
    codes |= {code for case in FACTS_CASES for code, _, _ in case.expect}
    codes |= {case.file_error for case in FACTS_CASES if case.file_error}
    for prefix in ("HS1", "HS2", "HS3", "HS4"):
        assert sum(code.startswith(prefix) for code in codes) >= 5, prefix
    # every file of the corpus is used by a case
    used = {case.path for case in RULESET_CASES + FACTS_CASES if case.path}
    for path in (CORPUS / "rulesets").iterdir():
        assert path in used, f"{path.name} is in the corpus but in no case"
    for path in (CORPUS / "facts").iterdir():
        assert path in used, f"{path.name} is in the corpus but in no case"


# --- fixtures -----------------------------------------------------------------

def _invoke(args: list[str]) -> Result:
    result = CliRunner().invoke(main, args, catch_exceptions=True)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"highseas {args} raised {result.exception!r}") from result.exception
    assert "Traceback" not in result.output, result.output
    assert "HS999" not in result.output, result.output
    return result


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small fixture company loaded through the CLI."""
    path = tmp_path_factory.mktemp("template") / "small.db"
    assert _invoke(["db", "init", str(path)]).exit_code == 0
    for table in ("reps", "customers", "activities", "orders"):
        result = _invoke(["load", str(path), table, str(SMALL / f"{table}.csv"),
                          "--company", COMPANY])
        assert result.exit_code == 0, result.output
    return path


@pytest.fixture
def small_db(template: Path, tmp_path: Path) -> Path:
    target = tmp_path / "facts.db"
    shutil.copy(template, target)
    return target


@pytest.fixture(scope="module")
def small_ruleset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The regional-trading example ruleset, for the small fixture company."""
    text = (ROOT / "rulesets" / "regional-trading.yaml").read_text(encoding="utf-8")
    path = tmp_path_factory.mktemp("ruleset") / "small-co.yaml"
    path.write_text(text.replace("id: regional-trading", f"id: {COMPANY}", 1), encoding="utf-8")
    return path


# --- rulesets -------------------------------------------------------------------

def _materialize(case: RulesetCase, tmp_path: Path) -> Path:
    if case.path is not None:
        return case.path
    assert case.generate == "twenty-megabytes"
    path = tmp_path / "twenty-megabytes.yaml"
    line = b"# " + b"x" * 97 + b"\n"
    with path.open("wb") as handle:
        handle.write(b"version: 1\n")
        for _ in range(20 * 1024 * 1024 // len(line)):
            handle.write(line)
    return path


def _found(output: str, path: Path) -> set[tuple[str, int]]:
    found = set()
    for match in DIAGNOSTIC_LINE.finditer(output):
        assert match["file"] == str(path), match.group(0)
        assert int(match["col"]) >= 1
        found.add((match["code"], int(match["line"])))
    return found


@pytest.mark.parametrize("case", RULESET_CASES, ids=[c.name for c in RULESET_CASES])
def test_bad_ruleset(case: RulesetCase, tmp_path: Path, template: Path) -> None:
    path = _materialize(case, tmp_path)
    result = _invoke(["validate", str(path)])
    assert result.exit_code == case.exit, result.output
    strict = _invoke(["validate", "--strict", str(path)])
    assert strict.exit_code == (case.strict_exit or case.exit), strict.output
    assert _found(strict.output, path) == case.expect, strict.output
    for line in strict.output.splitlines():  # one line per diagnostic, whatever the input
        assert TEXT_OUTPUT_LINE.match(line), repr(line)
    if case.exit == 0:
        return
    # The nightly run refuses the same file before touching the database: not a
    # byte of the database file changes.
    db = tmp_path / "facts.db"
    shutil.copy(template, db)
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    run = _invoke(["run", "--ruleset", str(path), "--db", str(db), "--as-of", "2026-06-30",
                   "--apply"])
    assert run.exit_code == 2, run.output
    assert {code for code, _ in case.expect} & set(re.findall(r"HS\d{3}", run.output))
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("facts.db")) == \
        ["facts.db"]  # no WAL either


# --- facts ------------------------------------------------------------------------

def _load(db: Path, case: FactsCase) -> Result:
    return _invoke(["load", str(db), case.table, str(case.path), "--company", COMPANY])


@pytest.mark.parametrize("case", FACTS_CASES, ids=[c.name for c in FACTS_CASES])
def test_bad_facts(case: FactsCase, small_db: Path) -> None:
    before = snapshot(small_db)
    result = _load(small_db, case)
    assert result.exit_code == case.exit, result.output
    if case.exit == 0:
        _assert_stored_exactly(small_db, case)
        return
    rows = {(m["code"], int(m["row"]), m["column"]) for m in ROW_LINE.finditer(result.output)}
    for match in ROW_LINE.finditer(result.output):
        assert match["file"] == str(case.path)
    assert rows == case.expect, result.output
    if case.file_error:
        assert f"{case.path}: error {case.file_error} " in result.output, result.output
    if case.exit == 1:
        assert "nothing was loaded" in result.output
    assert snapshot(small_db) == before


def _assert_stored_exactly(db: Path, case: FactsCase) -> None:
    """Every text value of the file is in the table exactly as written."""
    import csv

    import duckdb

    with case.path.open(newline="", encoding="utf-8-sig") as handle:
        header = handle.readline()
        handle.seek(0)
        delimiter = ";" if ";" in header and "," not in header else ","
        rows = list(csv.DictReader(handle, delimiter=delimiter))
    key = {"customers": "customer_id", "activities": "activity_id"}[case.table]
    con = duckdb.connect(str(db), read_only=True)
    try:
        for row in rows:
            stored = con.execute(
                f"SELECT * FROM {case.table} WHERE company_id = ? AND {key} = ?",
                [COMPANY, row[key]]).fetchall()
            assert len(stored) == 1, row
            columns = [d[0] for d in con.description or []]
            record = dict(zip(columns, stored[0], strict=True))
            for name in ("name", "kind", "customer_id"):
                if name in row:
                    assert record[name] == row[name], (name, record[name], row[name])
            if row.get("tags") and not row["tags"].startswith("["):
                assert record["tags"] == [t.strip() for t in row["tags"].split(";")]
    finally:
        con.close()


# --- command-line cases -------------------------------------------------------------

def _cli_args(args: list[str], places: dict[str, str]) -> list[str]:
    return [arg.format(**places) for arg in args]


@pytest.mark.parametrize("case", CLI_CASES, ids=[" ".join(c["args"][:2]) + f"-{i}"
                                                  for i, c in enumerate(CLI_CASES)])
def test_bad_command_line(case: dict[str, Any], small_db: Path, small_ruleset: Path,
                          tmp_path: Path) -> None:
    notdb = tmp_path / "notes.db"
    notdb.write_text("not a database\n", encoding="utf-8")
    places = {"db": str(small_db), "tmp": str(tmp_path / "scratch"), "notdb": str(notdb),
              "ruleset": str(small_ruleset), "facts": str(CORPUS / "facts")}
    (tmp_path / "scratch").mkdir()
    before = snapshot(small_db)
    result = _invoke(_cli_args(case["args"], places))
    assert result.exit_code == case["exit"], result.output
    for code in case["expect"]:
        assert f"error {code} " in result.output, result.output
    assert case["where"].format(**places) in result.output, result.output
    assert snapshot(small_db) == before
    assert notdb.read_text(encoding="utf-8") == "not a database\n"


# --- a few through the installed console script ---------------------------------------

def _script() -> list[str]:
    script = Path(sys.executable).with_name("highseas")
    return [str(script)] if script.exists() else [sys.executable, "-m", "highseas.cli"]


def _by_name(name: str) -> Iterator[RulesetCase]:
    yield from (c for c in RULESET_CASES if c.name == name)


@pytest.mark.parametrize("name", ["binary.yaml", "twenty-megabytes", "golden/python-tag.yaml"])
def test_console_script_on_hostile_rulesets(name: str, tmp_path: Path) -> None:
    (case,) = _by_name(name)
    path = _materialize(case, tmp_path)
    done = subprocess.run([*_script(), "validate", str(path)], capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == case.exit, done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    assert _found(done.stdout + done.stderr, path) == case.expect
