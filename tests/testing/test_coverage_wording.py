"""Coverage says when a ruleset's test file is invalid, not "no test file"."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from highseas.cli import main


def test_invalid_test_file_is_named_in_the_coverage_line(tmp_path: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(main, ["init", "--archetype", "quick-order", "--company", "acme",
                                str(tmp_path)]).exit_code == 0
    tests = tmp_path / "acme.tests.yaml"
    tests.write_text(tests.read_text(encoding="utf-8") + "bogus: 1\n", encoding="utf-8")
    result = runner.invoke(main, ["test", str(tmp_path)])
    assert result.exit_code == 2, result.output
    line = next(x for x in result.output.splitlines() if x.startswith("coverage of acme "))
    assert line.endswith(f": test file {tests} invalid (its errors are above)"), line
    assert "no test file" not in line
