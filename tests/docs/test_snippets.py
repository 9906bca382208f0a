"""Install, CI, pre-commit and editor snippets work as written: each is
extracted from the docs and run, or what it points at is checked."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

import click
import pytest
import yaml
from click.testing import CliRunner

from highseas.cli import main
from highseas.errors import Diagnostic
from highseas.ruleset.reporters import render
from highseas.ruleset.validation import FileResult, ValidationReport

ROOT = Path(__file__).resolve().parents[2]
RULESETS_DOC = ROOT / "docs" / "rulesets.md"


def yaml_block_after(doc: Path, marker: str) -> Any:
    """The first ```yaml block after the line that starts with ``marker``."""
    text = doc.read_text(encoding="utf-8")
    start = text.index("\n" + marker)
    match = re.compile(r"```yaml\n(.*?)```", re.S).search(text, start)
    assert match, f"no yaml block after {marker!r} in {doc}"
    return yaml.safe_load(match.group(1))


def invoke(command_line: str) -> tuple[int, str]:
    words = command_line.split()
    assert words[0] == "highseas"
    result = CliRunner().invoke(main, words[1:])
    return result.exit_code, result.output


def test_the_ci_snippet_installs_from_source_and_validates(monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    steps = yaml_block_after(RULESETS_DOC, "GitHub Actions")
    installs = [s["run"] for s in steps if s.get("run", "").startswith("pip install")]
    assert installs == ["pip install ./highseas-src"], "highseas is not on PyPI"
    checkout = next(s for s in steps if s.get("with", {}).get("path") == "highseas-src")
    assert checkout["uses"].startswith("actions/checkout@")
    # What ./highseas-src holds once checked out: this repository, an installable highseas.
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["name"] == "highseas" and "highseas" in project["scripts"]
    validate = next(s["run"] for s in steps if s.get("run", "").startswith("highseas "))
    monkeypatch.chdir(ROOT)
    code, output = invoke(validate)
    assert code == 0, output


def test_the_pre_commit_snippet_selects_only_rulesets(monkeypatch: pytest.MonkeyPatch) -> None:
    config = yaml_block_after(RULESETS_DOC, "pre-commit")
    (repo,) = config["repos"]
    assert repo["repo"] == "local" and "rev" not in repo
    (hook,) = repo["hooks"]
    assert hook["language"] == "system"
    program, command = hook["entry"].split()
    assert program == "highseas" and main.get_command(click.Context(main), command)
    staged = ["rulesets/quick-order.yaml", "rulesets/quick-order.tests.yaml", "mkdocs.yml",
              ".github/workflows/ci.yml", "docs/rulesets.md", "tests/bad_inputs/rulesets/x.yaml"]
    selected = [p for p in staged if re.search(hook["files"], p)]
    assert selected == staged[:2]
    monkeypatch.chdir(ROOT)
    code, output = invoke(f"{hook['entry']} {' '.join(selected)}")
    assert code == 0, output


def test_no_snippet_names_a_tag_or_a_package_that_does_not_exist() -> None:
    for path in (RULESETS_DOC, ROOT / "docs" / "testing.md", ROOT / "docs" / "cli.md",
                 ROOT / "README.md", ROOT / ".pre-commit-hooks.yaml"):
        text = path.read_text(encoding="utf-8")
        assert "rev: v0.1.0" not in text, path
        assert not re.search(r"pip install highseas\b(?![-\w])", text), path
        assert "$schema=https://highseas.dev" not in text, path


def test_schema_modelines_resolve() -> None:
    files = sorted((ROOT / "rulesets").glob("*.yaml"))
    assert files
    for path in files:
        first = path.read_text(encoding="utf-8").splitlines()[0]
        match = re.fullmatch(r"# yaml-language-server: \$schema=(\S+)", first)
        assert match, f"{path}: {first}"
        target = (path.parent / match.group(1)).resolve()
        assert target.is_file(), f"{path}: {match.group(1)} does not resolve"
        json.loads(target.read_text(encoding="utf-8"))


def test_sarif_help_links_point_at_the_doc_of_each_code() -> None:
    diagnostics = (Diagnostic(code="HS601", message="m", file="a.tests.yaml", line=1),
                   Diagnostic(code="HS201", message="m", file="a.yaml", line=1))
    report = ValidationReport(files=(FileResult("a.yaml", "ruleset", diagnostics),))
    log = json.loads(render(report, "sarif"))
    driver = log["runs"][0]["tool"]["driver"]
    links = {rule["id"]: rule["helpUri"] for rule in driver["rules"]}
    assert links == {"HS201": "docs/rulesets.md", "HS601": "docs/testing.md"}
    for code, link in links.items():
        assert f"| {code} |" in (ROOT / link).read_text(encoding="utf-8") or \
            f"| `{code}` |" in (ROOT / link).read_text(encoding="utf-8")
    assert (ROOT / driver["informationUri"]).is_file()
