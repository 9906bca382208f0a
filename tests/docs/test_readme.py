"""The README cannot drift: its ruleset example is valid, its Python snippet runs
after `highseas demo`, and CI runs its test command."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
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


def _python_snippet() -> str:
    (snippet,) = re.findall(r"```python\n(.*?)```", README, re.S)
    return str(snippet)


def _highseas_command() -> list[str]:
    """The console script of this environment, as the README's install gives it."""
    script = shutil.which("highseas", path=str(Path(sys.executable).parent))
    return [script] if script else [sys.executable, "-m", "highseas"]


def test_readme_python_snippet_runs_after_highseas_demo(tmp_path: Path) -> None:
    # What the snippet reads from the repository root: the example ruleset,
    # and the demo database that `highseas demo` creates there.
    shutil.copytree(ROOT / "rulesets", tmp_path / "rulesets")
    demo = subprocess.run([*_highseas_command(), "demo"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=600, check=False)
    assert demo.returncode == 0, demo.stdout + demo.stderr
    assert "demo database: demo/regional-trading.duckdb" in demo.stdout

    snippet = _python_snippet()
    done = subprocess.run([sys.executable, "-c", snippet], cwd=tmp_path, capture_output=True,
                          text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr
    assert " release " in done.stdout
    assert "customer C0000002 as of 2026-06-30" in done.stdout
