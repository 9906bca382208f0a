"""``highseas validate`` and ``highseas schema`` through click's CliRunner:
every output format and every exit code."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from highseas.cli import main
from highseas.errors import Diagnostic, Severity

ROOT = Path(__file__).resolve().parents[2]
RULESETS = ROOT / "rulesets"
EXAMPLES = [str(RULESETS / name) for name in
            ("quick-order.yaml", "large-project.yaml", "regional-trading.yaml")]
CASES = ROOT / "tests" / "ruleset_cases"
INVALID = CASES / "unknown-condition-key.yaml"  # HS201 at line 28, column 7
WARNING_ONLY = CASES / "cooldown-too-long.yaml"  # HS316 warning at line 40


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


def test_text_valid() -> None:
    code, out, _ = run("validate", *EXAMPLES)
    assert code == 0
    assert out.strip().splitlines()[-1] == "3 files checked: 0 errors, 0 warnings"


def test_text_invalid_points_at_the_line() -> None:
    code, out, _ = run("validate", str(INVALID), str(RULESETS / "quick-order.yaml"))
    assert code == 1
    first = out.splitlines()[0]
    assert first.startswith(f"{INVALID}:28:7: error HS201 unknown key 'idel_for'")
    assert "(did you mean 'idle_for'?)" in first
    assert "2 files checked: 1 error, 0 warnings" in out


def test_all_errors_of_all_files_are_reported(tmp_path: Path) -> None:
    code, out, _ = run("validate", str(CASES))
    assert code == 1
    files_with_errors = {line.split(":")[0] for line in out.splitlines() if " HS" in line}
    assert len(files_with_errors) == len(list(CASES.glob("*.yaml")))


def test_missing_path_exits_2_but_still_checks_the_rest(tmp_path: Path) -> None:
    code, out, _ = run("validate", str(tmp_path / "nope.yaml"), str(INVALID))
    assert code == 2
    assert f"{tmp_path / 'nope.yaml'}: error HS001 no such file or directory" in out
    assert "HS201" in out


def test_empty_directory_exits_2(tmp_path: Path) -> None:
    code, out, _ = run("validate", str(tmp_path))
    assert code == 2
    assert "HS004" in out


def test_usage_errors_exit_2() -> None:
    assert run("validate")[0] == 2
    assert run("validate", "--format", "xml", str(INVALID))[0] == 2


def test_strict_makes_warnings_fail() -> None:
    code, out, _ = run("validate", str(WARNING_ONLY))
    assert code == 0
    assert f"{WARNING_ONLY}:40:3: warning HS316" in out
    code, out, _ = run("validate", "--strict", str(WARNING_ONLY))
    assert code == 1
    assert "--strict: warnings fail" in out


def test_json_format() -> None:
    code, out, _ = run("validate", "--format", "json", str(INVALID), str(WARNING_ONLY))
    assert code == 1
    items = json.loads(out)
    assert [(i["code"], i["line"], i["column"], i["severity"]) for i in items] == [
        ("HS201", 28, 7, "error"), ("HS316", 40, 3, "warning"),
    ]
    assert items[0]["file"] == str(INVALID)
    assert items[0]["json_path"] == "$.release_rules[0].when.idel_for"
    assert items[0]["hint"] == "did you mean 'idle_for'?"
    code, out, _ = run("validate", "--format", "json", *EXAMPLES)
    assert (code, json.loads(out)) == (0, [])


def test_github_format() -> None:
    code, out, _ = run("validate", "--format", "github", str(INVALID), str(WARNING_ONLY))
    assert code == 1
    lines = out.splitlines()
    assert lines[0].startswith(f"::error file={INVALID},line=28,col=7,title=HS201 unknown key::")
    assert "HS201 unknown key 'idel_for'" in lines[0]
    assert lines[1].startswith(f"::warning file={WARNING_ONLY},line=40,col=3,")


def test_github_format_escapes_properties(tmp_path: Path) -> None:
    path = tmp_path / "a,b:c.yaml"
    path.write_text("a: 1\n", encoding="utf-8")
    code, out, _ = run("validate", "--format", "github", str(path))
    assert code == 1
    assert "a%2Cb%3Ac.yaml" in out.splitlines()[0]


def test_sarif_format() -> None:
    code, out, _ = run("validate", "--format", "sarif", str(INVALID), str(WARNING_ONLY),
                       str(CASES / "top-level-list.yaml"))
    assert code == 1
    log = json.loads(out)
    assert log["version"] == "2.1.0"
    assert log["$schema"].endswith("sarif-2.1.0.json")
    (run_,) = log["runs"]
    assert run_["tool"]["driver"]["name"] == "highseas"
    rule_ids = [r["id"] for r in run_["tool"]["driver"]["rules"]]
    assert rule_ids == ["HS108", "HS201", "HS316"]
    results = run_["results"]
    assert [(r["ruleId"], r["level"]) for r in results] == [
        ("HS201", "error"), ("HS316", "warning"), ("HS108", "error"),
    ]
    region = results[0]["locations"][0]["physicalLocation"]["region"]
    assert region == {"startLine": 28, "startColumn": 7}
    uri = results[0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert uri.startswith("file://") and uri.endswith("unknown-condition-key.yaml")
    code, out, _ = run("validate", "--format", "sarif", *EXAMPLES)
    assert code == 0 and json.loads(out)["runs"][0]["results"] == []


def test_schema_command() -> None:
    code, out, _ = run("schema")
    assert code == 0
    assert json.loads(out) == json.loads(
        (ROOT / "schemas" / "ruleset.schema.json").read_text(encoding="utf-8")
    )


def test_bad_bytes_are_diagnostics_not_tracebacks(tmp_path: Path) -> None:
    (tmp_path / "binary.yaml").write_bytes(bytes(range(256)))
    (tmp_path / "empty.yml").write_bytes(b"")
    (tmp_path / ".hidden.yaml").write_bytes(b"\x00")
    code, out, err = run("validate", str(tmp_path))
    assert code == 1
    assert "binary.yaml:1:1: error HS105" in out or "HS104" in out
    assert "empty.yml:1:1: error HS108" in out
    assert ".hidden" not in out
    assert "Traceback" not in out + err


def test_tests_files_are_skipped_without_a_test_file_validator(tmp_path: Path) -> None:
    """The ruleset package never imports the test harness: called on its own,
    validate_paths skips test files with a note."""
    from highseas.ruleset.validation import validate_paths

    (tmp_path / "acme.tests.yaml").write_text("cases: []\n", encoding="utf-8")
    report = validate_paths([tmp_path])
    assert report.exit_code == 0
    assert [result.kind for result in report.files] == ["tests"]
    assert "skipped: test files are not checked here" in report.notes[0]


def test_tests_files_use_the_test_file_checks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``highseas validate`` checks test files with highseas.testfile's validator."""
    from highseas import testfile as testing

    seen: list[Path] = []

    def validate_test_file(path: Path) -> list[Diagnostic]:
        seen.append(path)
        return [Diagnostic("HS601", "bad case", line=2, column=3, severity=Severity.ERROR)]

    monkeypatch.setattr(testing, "validate_test_file", validate_test_file)
    path = tmp_path / "acme.tests.yml"
    path.write_text("cases: []\n", encoding="utf-8")
    code, out, _ = run("validate", str(path))
    assert code == 1
    assert seen == [path]
    assert f"{path}:2:3: error HS601 bad case" in out


def test_validate_does_not_import_duckdb_or_durable() -> None:
    script = (
        "import sys\n"
        "from highseas.cli import main\n"
        "try:\n"
        f"    main(['validate', {str(RULESETS / 'regional-trading.yaml')!r}])\n"
        "except SystemExit as done:\n"
        "    code = done.code\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('duckdb', 'durable',"
        " 'rules', 'pyarrow', 'matplotlib'))\n"
        "print(code, heavy)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "0 []"


def test_file_kinds_are_pluggable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from highseas.ruleset import validation

    monkeypatch.setattr(validation, "FILE_KINDS", list(validation.FILE_KINDS))

    def check_notes(path: Path) -> list[Diagnostic]:
        return [Diagnostic("HS999", "notes are never valid", line=1, column=1,
                           severity=Severity.WARNING)]

    validation.register_file_kind(validation.FileKind(
        "notes", lambda path: path.name.endswith(".notes.yaml"), check_notes))
    (tmp_path / "a.notes.yaml").write_text("x: 1\n", encoding="utf-8")
    report = validation.validate_paths([tmp_path])
    assert [r.kind for r in report.files] == ["notes"]
    assert report.exit_code == 0
    assert validation.validate_paths([tmp_path], strict=True).exit_code == 1


def test_the_pre_commit_hook_validates_the_yaml_files_it_is_given(tmp_path: Path) -> None:
    """pre-commit runs the hook's entry with the staged files its patterns
    select: rulesets and test files pass, a broken ruleset fails the commit."""
    import re

    import yaml

    (hook,) = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert hook["id"] == "highseas-validate" and hook["language"] == "python"
    program, command = hook["entry"].split()
    assert program == "highseas"
    assert main.get_command(click.Context(main), command) is not None
    staged = ["rulesets/regional-trading.yaml", "rulesets/quick-order.tests.yaml",
              ".pre-commit-config.yaml", "README.md", "docs/rulesets.md"]
    selected = [p for p in staged if re.search(hook["files"], p)
                and not re.search(hook["exclude"], p)]
    assert selected == staged[:2]
    code, out, _ = run(command, *(str(ROOT / p) for p in selected))
    assert code == 0, out
    broken = tmp_path / "broken.yaml"
    broken.write_text((ROOT / selected[0]).read_text().replace("cooldown: 30d", "cooldown: 0d"))
    code, out, _ = run(command, str(broken))
    assert code == 1 and "HS205" in out
