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


CAPS = """\
version: {version}
company: {{id: acme, name: ACME, timezone: UTC}}
tiers:
  - {{id: new, tenure: {{less_than: 1y}}}}
  - {{id: veteran, tenure: {{at_least: 1y}}}}
pools:
  - {{id: closed-deals, regions: []}}
  - {{id: global-pool, regions: all, default: true}}
caps:
  private:
    - tier: veteran
      max: 3
      excess_to: {excess}
"""


def write_caps(tmp_path: Path, version: str, excess: str) -> Path:
    path = tmp_path / "caps.yaml"
    path.write_text(CAPS.format(version=version, excess=excess), encoding="utf-8")
    return path


def test_excess_targets_with_conditions_and_an_empty_pool_load_under_1_1(
        tmp_path: Path) -> None:
    excess = "[{when: {stage: {in: [won, lost]}}, to_pool: closed-deals}, {tier: new}, " \
             "{to_pool: global-pool}]"
    ruleset, diagnostics = load_ruleset_with_diagnostics(write_caps(tmp_path, "1.1", excess))
    assert diagnostics == [] and ruleset is not None
    closed = ruleset.pool("closed-deals")
    assert (closed.regions, closed.all_regions, closed.default) == ((), False, False)
    cap = ruleset.caps.private[0]
    assert [(t.tier, t.pool.pool, t.when is not None) for t in cap.excess_to] == [
        (None, "closed-deals", True), ("new", None, False), (None, "global-pool", False)]
    # the version 1 view: the tier of the first target without `when`, and
    # the pool of the first pool target without one
    assert (cap.excess_to_tier, cap.excess_to_pool.pool, cap.excess_tiers) == (
        "new", "global-pool", ("new",))


def test_a_version_1_excess_to_reads_as_one_target(tmp_path: Path) -> None:
    path = tmp_path / "v1.yaml"
    path.write_text(CAPS.format(version=1, excess="{tier: new}").replace(
        "  - {id: closed-deals, regions: []}\n", ""), encoding="utf-8")
    ruleset, diagnostics = load_ruleset_with_diagnostics(path)
    assert diagnostics == [] and ruleset is not None
    cap = ruleset.caps.private[0]
    assert len(cap.excess_to) == 1 and cap.excess_to[0].when is None
    assert (cap.excess_to_tier, cap.excess_to_pool.by_region) == ("new", True)


@pytest.mark.parametrize(("excess", "path"), [
    ("[{tier: new}]", "$.caps.private[0].excess_to"),
    ("{when: {stage: lost}, to_pool: closed-deals}", "$.caps.private[0].excess_to.when"),
])
def test_excess_targets_and_an_empty_pool_under_version_1_name_the_version(
        tmp_path: Path, excess: str, path: str) -> None:
    ruleset, diagnostics = load_ruleset_with_diagnostics(write_caps(tmp_path, "1", excess))
    assert ruleset is None
    assert [(d.code, d.json_path) for d in diagnostics] == [
        ("HS328", "$.pools[0].regions"), ("HS328", path)]


def test_a_pool_target_after_a_tier_target_takes_what_the_tier_has_no_room_for(
        tmp_path: Path) -> None:
    # a tier target passes on what its salespeople have no room for: the
    # targets after it are used (no HS330), unlike after a pool target
    fine = write_caps(tmp_path, "1.1", "[{tier: new}, {to_pool: closed-deals}]")
    assert load_ruleset_with_diagnostics(fine)[1] == []
    _, diagnostics = load_ruleset_with_diagnostics(
        write_caps(tmp_path, "1.1", "[{to_pool: closed-deals}, {tier: new}]"))
    assert [(d.code, d.json_path) for d in diagnostics] == [
        ("HS330", "$.caps.private[0].excess_to[1]")]
