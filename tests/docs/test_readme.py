"""The README cannot drift: its ruleset example is valid and CI runs its test command."""

from __future__ import annotations

import re
from pathlib import Path

from highseas.ruleset.loader import load_ruleset

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_readme_ruleset_example_is_valid(tmp_path: Path) -> None:
    block = re.search(r"```yaml\n(.*?)```", README, re.S)
    assert block, "README.md has no yaml example"
    path = tmp_path / "example.yaml"
    path.write_text(block.group(1), encoding="utf-8")
    ruleset = load_ruleset(path)
    assert ruleset.release_rules[0].id == "no-follow-up-90d"


def test_ci_runs_exactly_the_readme_test_command() -> None:
    commands = re.findall(r"```sh\n(.*?)\n```", README, re.S)
    test_command = next(c for c in commands if c.rstrip().endswith("pytest"))
    assert test_command in (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert any(c.rstrip().endswith("highseas demo") for c in commands)
