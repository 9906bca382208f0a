"""Language versions (docs/rulesets.md, "Language versions") and the
cooldown check HS316 as consultants use it."""

from __future__ import annotations

from pathlib import Path

import pytest

from highseas.ruleset.loader import load_ruleset_with_diagnostics
from highseas.ruleset.validation import validate_paths

ROOT = Path(__file__).resolve().parents[2]
BASE = """\
version: {version}
company: {{id: acme, name: ACME, timezone: UTC}}
tiers:
  - {{id: everyone, tenure: {tenure}}}
pools:
  - {{id: global-pool, regions: all, default: true}}
release_rules:
  - id: idle-14d
    when: {{idle_for: 14d}}
caps:
  cooldown: {cooldown}
"""


def write(tmp_path: Path, version: str = "1.1", tenure: str = "{}",
          cooldown: str = "30d") -> Path:
    path = tmp_path / "r.yaml"
    path.write_text(BASE.format(version=version, tenure=tenure, cooldown=cooldown),
                    encoding="utf-8")
    return path


@pytest.mark.parametrize("version", ["1.1", '"1.1"'])
def test_both_spellings_of_1_1_enable_its_keys(tmp_path: Path, version: str) -> None:
    ruleset, diagnostics = load_ruleset_with_diagnostics(
        write(tmp_path, version, tenure="{}"))
    assert diagnostics == [] and ruleset is not None
    assert ruleset.version == "1.1"


def test_a_1_1_key_under_version_1_names_the_version(tmp_path: Path) -> None:
    ruleset, diagnostics = load_ruleset_with_diagnostics(write(tmp_path, "1", tenure="{}"))
    assert ruleset is None
    assert [d.code for d in diagnostics] == ["HS328"]
    assert "version: 1.1" in diagnostics[0].hint


def test_a_version_1_file_is_unchanged() -> None:
    ruleset, diagnostics = load_ruleset_with_diagnostics(ROOT / "rulesets" / "quick-order.yaml")
    assert diagnostics == [] and ruleset is not None and ruleset.version == 1


def test_a_cooldown_beyond_a_short_release_period_passes_strict(tmp_path: Path) -> None:
    assert validate_paths([write(tmp_path)], strict=True).exit_code == 0


def test_a_cooldown_longer_than_any_customer_is_kept_warns(tmp_path: Path) -> None:
    path = write(tmp_path, cooldown="6mo")
    _, diagnostics = load_ruleset_with_diagnostics(path)
    assert [d.code for d in diagnostics] == ["HS316"]
    assert validate_paths([path], strict=True).exit_code == 1
