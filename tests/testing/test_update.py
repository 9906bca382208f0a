"""``highseas test --update`` (the failing expectations rewritten to the
run's outcomes, comments and layout kept) and ``--format github|json``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from highseas import codes
from highseas.cli import main


def invoke(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    assert invoke("init", "--archetype", "quick-order", "--company", "acme",
                  str(tmp_path)).exit_code == 0
    ruleset = tmp_path / "acme.yaml"
    text = ruleset.read_text(encoding="utf-8")
    assert text.count("      max: 40") == 1
    ruleset.write_text(text.replace("      max: 40", "      max: 38"), encoding="utf-8")
    return tmp_path


def comments(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.lstrip().startswith("#")]


def test_update_round_trip_keeps_comments_and_passes(project: Path) -> None:
    tests = project / "acme.tests.yaml"
    before = tests.read_text(encoding="utf-8")
    failing = invoke("test", str(project))
    assert failing.exit_code == 1, failing.output
    updated = invoke("test", "--update", str(project))
    assert updated.exit_code == 0, updated.output
    assert f"--- a/{tests}" in updated.output
    assert "+        - {customer: q01, rule: caps.private.new, from: neo, pool: main-pool}" \
        in updated.output
    assert "updated: " in updated.output
    after = tests.read_text(encoding="utf-8")
    assert comments(after) == comments(before)
    changed = [line for line in after.splitlines() if line not in before.splitlines()]
    assert all("caps.private.new" in line or line.strip() == "trimmed:" for line in changed)
    again = invoke("test", str(project))
    assert again.exit_code == 0, again.output
    assert invoke("test", "--update", str(project)).output.count("updated:") == 0
    assert tests.read_text(encoding="utf-8") == after


def test_update_refuses_an_invalid_file(project: Path) -> None:
    tests = project / "acme.tests.yaml"
    broken = tests.read_text(encoding="utf-8") + "bogus: 1\n"
    tests.write_text(broken, encoding="utf-8")
    result = invoke("test", "--update", str(project))
    assert result.exit_code == 2
    assert codes.UPDATE_INVALID_FILE in result.output
    assert tests.read_text(encoding="utf-8") == broken


def test_github_annotations_at_the_failing_expectation(project: Path) -> None:
    result = invoke("test", "--format", "github", str(project))
    assert result.exit_code == 1
    tests = project / "acme.tests.yaml"
    line = next(i for i, text in enumerate(tests.read_text(encoding="utf-8").splitlines(), 1)
                if "trimmed: [{customer: n-stale" in text)
    annotations = [x for x in result.output.splitlines() if x.startswith("::error ")]
    assert len(annotations) == 1
    # the expect block (a decision nobody listed) or the entry itself
    assert any(annotations[0].startswith(f"::error file={tests},line={at},title=FAIL%3A ")
               for at in (line - 1, line)), annotations[0]
    assert "%0A" in annotations[0]


def test_json_report(project: Path) -> None:
    result = invoke("test", "--format", "json", str(project))
    assert result.exit_code == 1
    report = json.loads(result.output)
    assert report["exit_code"] == 1
    assert report["summary"]["failed"] == 1
    failed = [c for f in report["files"] for c in f["cases"] if c["status"] == "failed"]
    assert failed[0]["mismatches"][0]["kind"] in ("different", "unexpected", "missing")
    assert report["coverage"][0]["ruleset"] == "acme"
