"""Golden invalid rulesets: each file in tests/ruleset_cases/ says, in its
header, every diagnostic it must produce (``# expect: CODE line N``); the
validator must report exactly those, at those lines."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from highseas.ruleset.validation import validate_file, validate_paths

CASES = Path(__file__).resolve().parents[1] / "ruleset_cases"
EXPECT = re.compile(rb"^# expect: (HS\d{3}) line (\d+)$", re.MULTILINE)


def _expectations(path: Path) -> set[tuple[str, int]]:
    return {(code.decode(), int(line)) for code, line in EXPECT.findall(path.read_bytes())}


CASE_FILES = sorted(CASES.glob("*.yaml"))


def test_there_are_enough_cases_covering_every_stage() -> None:
    assert len(CASE_FILES) >= 30
    codes = {code for path in CASE_FILES for code, _ in _expectations(path)}
    for prefix in ("HS1", "HS2", "HS3"):
        assert sum(code.startswith(prefix) for code in codes) >= 5, prefix


@pytest.mark.parametrize("path", CASE_FILES, ids=[p.stem for p in CASE_FILES])
def test_golden_case(path: Path) -> None:
    expected = _expectations(path)
    assert expected, f"{path.name} has no '# expect: CODE line N' header"
    result = validate_file(path)
    found = {(d.code, d.line) for d in result.diagnostics}
    assert found == expected, "\n".join(d.format_text() for d in result.diagnostics)
    for diagnostic in result.diagnostics:
        assert diagnostic.file == str(path)
        assert diagnostic.column >= 1
        assert diagnostic.message
    # The case must fail validation: at once for errors, under --strict for warnings.
    report = validate_paths([path], strict=True)
    assert report.exit_code == 1
    if all(not d.is_error for d in result.diagnostics):
        assert validate_paths([path]).exit_code == 0
