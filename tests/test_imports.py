"""What importing highseas loads: the heavy libraries only where they are used.

duckdb, durable-rules, pyarrow and matplotlib (and the cluster libraries) are
imported inside the functions that need them, so that checking a ruleset
(``highseas validate``, an editor, a pre-commit hook) starts fast. Each check
runs in a fresh interpreter.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RULESETS = ROOT / "rulesets"

#: Top-level modules that must stay unloaded.
HEAVY = ("duckdb", "durable", "rules", "pyarrow", "matplotlib", "numpy", "dask", "distributed")


def _loaded_after(code: str) -> tuple[list[str], str]:
    """The heavy modules loaded by running ``code`` in a fresh interpreter, and
    what it printed."""
    script = (
        "import json, sys\n"
        f"{code}\n"
        f"heavy = sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r}))\n"
        "print(json.dumps(heavy))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=120, check=False, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    *printed, last = result.stdout.strip().splitlines()
    return json.loads(last), "\n".join(printed)


@pytest.mark.parametrize("module", ["highseas.ruleset.validation", "highseas.ruleset.reporters",
                                    "highseas.compile.decision_points", "highseas.testing",
                                    "highseas.api", "highseas.cli"])
def test_importing_loads_no_heavy_library(module: str) -> None:
    heavy, _ = _loaded_after(f"import {module}")
    assert heavy == []


@pytest.mark.parametrize("paths", [
    [RULESETS / "quick-order.yaml"],
    [RULESETS / "quick-order.yaml", RULESETS / "quick-order.tests.yaml"],
], ids=["ruleset", "ruleset-and-tests"])
def test_validate_loads_no_heavy_library(paths: list[Path]) -> None:
    code = (
        "from highseas.cli import main\n"
        "try:\n"
        f"    main(['validate', *{[str(p) for p in paths]!r}])\n"
        "except SystemExit as done:\n"
        "    print('exit', done.code)\n"
    )
    heavy, printed = _loaded_after(code)
    assert printed.splitlines()[-1] == "exit 0", printed
    assert "checked: 0 errors" in printed, printed
    assert heavy == []
