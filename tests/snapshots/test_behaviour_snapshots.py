"""What users see, byte for byte: plans, validation output and test reports.

Each case runs the installed ``highseas`` command as a user would and compares
its output with a recorded file in ``tests/snapshots/recorded/``. They pin the
behaviour of the whole product so that a change of structure (a module moved,
a class split) that changes any decision, message or report fails here.

To record a deliberate change of behaviour, run with ``HIGHSEAS_RECORD=1`` and
review the diff of ``tests/snapshots/recorded/`` like any other change.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RECORDED = Path(__file__).resolve().parent / "recorded"
RECORD = os.environ.get("HIGHSEAS_RECORD") == "1"

ARCHETYPES = ("quick-order", "large-project", "regional-trading")
AS_OF = "2026-06-30"


def highseas(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """Run the installed command (the console script beside this interpreter)."""
    command = Path(sys.executable).with_name("highseas")
    return subprocess.run(
        [str(command), *args], cwd=cwd, capture_output=True, text=True, check=False,
        env={**os.environ, "PYTHONWARNINGS": "error", "COLUMNS": "100"},
    )


def check(name: str, actual: bytes) -> None:
    """Compare ``actual`` with the recorded bytes (or record them)."""
    path = RECORDED / name
    if RECORD:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(actual)
        return
    assert path.exists(), f"no recording {path.name}; run with HIGHSEAS_RECORD=1 to record it"
    expected = path.read_bytes()
    if actual != expected:
        a, e = actual.decode(errors="replace"), expected.decode(errors="replace")
        first = next(
            (i for i, (x, y) in enumerate(zip(a.splitlines(), e.splitlines(), strict=False))
             if x != y),
            min(len(a.splitlines()), len(e.splitlines())),
        )
        pytest.fail(
            f"{name} differs from its recording at line {first + 1}:\n"
            f"  recorded: {e.splitlines()[first:first + 1]}\n"
            f"  now:      {a.splitlines()[first:first + 1]}"
        )


def transcript(result: subprocess.CompletedProcess[str]) -> bytes:
    """Exit code, stdout and stderr in one stable text."""
    return (
        f"exit {result.returncode}\n--- stdout\n{result.stdout}--- stderr\n{result.stderr}"
    ).encode()


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One generated company per archetype, each in its own database."""
    folder = tmp_path_factory.mktemp("generated")
    databases = {}
    for archetype in ARCHETYPES:
        db = folder / f"{archetype}.duckdb"
        result = highseas(
            "fixtures", "generate", "--archetype", archetype, "--customers", "600",
            "--reps", "24", "--seed", "3", "--db", str(db),
        )
        assert result.returncode == 0, result.stderr
        databases[archetype] = db
    return databases


@pytest.mark.parametrize("archetype", ARCHETYPES)
def test_the_plans_of_the_example_rulesets(
    generated: dict[str, Path], archetype: str, tmp_path: Path
) -> None:
    ruleset = f"rulesets/{archetype}.yaml"
    # The JSON recording holds the unassigned customers (written on request);
    # the CSV recording the decisions only (the default).
    for suffix, options in (("json", ["--include-unassigned"]), ("csv", [])):
        plan = tmp_path / f"plan.{suffix}"
        result = highseas(
            "run", "--ruleset", ruleset, "--db", str(generated[archetype]),
            "--as-of", AS_OF, "--output", str(plan), *options,
        )
        assert result.returncode == 0, result.stderr
        check(f"run-{archetype}.{suffix}", plan.read_bytes())
    check(f"run-{archetype}.txt", result.stdout.replace(str(plan), "PLAN").encode())


def test_the_demo(tmp_path: Path) -> None:
    result = highseas("demo", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    check("demo.txt", transcript(result))


def test_validate_on_the_bad_input_corpus() -> None:
    files = sorted(
        str(path.relative_to(ROOT))
        for folder in ("tests/bad_inputs/rulesets", "tests/ruleset_cases")
        for path in (ROOT / folder).glob("*.yaml")
    )
    for output in ("text", "json"):
        result = highseas("validate", "--format", output, *files)
        check(f"validate-corpus.{output}", transcript(result))


def test_the_example_tests() -> None:
    result = highseas("test", "rulesets/")
    check("test-examples.txt", re.sub(rb"\d+\.\d+s\b", b"N.NNs", transcript(result)))
