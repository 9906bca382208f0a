"""``highseas validate`` with no path: the project configuration's files only."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from highseas.cli import main

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    """A project with a ruleset, its tests, a CI file and a nested folder."""
    (tmp_path / "rulesets").mkdir()
    for name in ("quick-order.yaml", "quick-order.tests.yaml",
                 "quick-order.new-rep-customers.csv", "quick-order.veteran-customers.csv"):
        shutil.copy(ROOT / "rulesets" / name, tmp_path / "rulesets" / name)
    (tmp_path / "mkdocs.yml").write_text("site_name: docs\nnav: [index.md]\n", encoding="utf-8")
    (tmp_path / "docs" / "deep").mkdir(parents=True)
    (tmp_path / "highseas.toml").write_text(
        'rulesets = ["rulesets/*.yaml"]\ntests = ["rulesets/*.tests.yaml"]\n', encoding="utf-8"
    )
    return tmp_path


def validate(cwd: Path, *args: str) -> tuple[int, str, str]:
    """``highseas validate ARGS`` run from the folder ``cwd``."""
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(cwd)
        result = CliRunner().invoke(main, ["validate", *args])
    return result.exit_code, result.stdout, result.stderr


def test_no_path_checks_the_configured_files_from_a_nested_folder(project: Path) -> None:
    code, out, err = validate(project / "docs" / "deep")
    assert code == 0, out + err
    # the ruleset and its test file; mkdocs.yml (not a ruleset) is not read
    assert "2 files checked: 0 errors, 0 warnings" in out


def test_the_configured_strictness_applies(project: Path) -> None:
    # per_day above per_week: a warning (HS313), an error only when strict
    shutil.copy(ROOT / "tests" / "bad_inputs" / "rulesets" / "claims-day-above-week.yaml",
                project / "rulesets" / "warned.yaml")
    code, _, _ = validate(project)
    assert code == 0
    (project / "highseas.toml").write_text(
        'rulesets = ["rulesets/*.yaml"]\ntests = []\nstrict = true\n', encoding="utf-8"
    )
    code, out, _ = validate(project)
    assert code == 1 and "HS313" in out


def test_without_paths_or_configuration_it_says_what_to_give(tmp_path: Path) -> None:
    code, _, err = validate(tmp_path)
    assert code == 2
    assert "project configuration" in err
