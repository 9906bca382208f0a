"""``highseas diff``: the structural difference of two rulesets and, with
facts, the per-customer difference of tonight's plan."""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner

from highseas import api, codes
from highseas.cli import main
from highseas.errors import InvalidInputError
from highseas.ruleset.diff import diff_rulesets, load_ruleset_spec
from highseas.store.fixtures import DEFAULT_AS_OF, generate
from highseas.store.imports import import_crm_sales_opportunities

ROOT = Path(__file__).resolve().parents[2]
QUICK_ORDER = ROOT / "rulesets" / "quick-order.yaml"
CRM_RULESET = ROOT / "fixtures" / "crm-sales-opportunities.ruleset.yaml"
CRM_SAMPLE = ROOT / "fixtures" / "crm-sales-opportunities-sample"
CRM_AS_OF = date(2017, 12, 31)


def edited(tmp_path: Path, source: Path, name: str, *replacements: tuple[str, str]) -> Path:
    """A copy of ``source`` with each (old, new) replaced exactly once."""
    text = source.read_text(encoding="utf-8")
    for old, new in replacements:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def line_of(path: Path, needle: str) -> int:
    lines = path.read_text(encoding="utf-8").splitlines()
    return next(i for i, line in enumerate(lines, 1) if needle in line)


@pytest.fixture(scope="module")
def quick_order_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("diff") / "facts.duckdb"
    generate(db, "quick-order", 200, 5, 3)
    return db


def test_identical_rulesets_have_no_difference(quick_order_db: Path) -> None:
    difference = api.diff(str(QUICK_ORDER), str(QUICK_ORDER), quick_order_db, DEFAULT_AS_OF)
    assert difference.identical
    assert difference.plan is not None and not difference.plan.customers


def test_structural_changes_by_section_and_id_with_lines(tmp_path: Path) -> None:
    new = edited(tmp_path, QUICK_ORDER, "new.yaml",
                 ("idle_for: 14d", "idle_for: 21d"),
                 ("  - id: rest-of-eu\n", "  - id: rest-of-europe\n"),
                 ("    - tier: new\n      max: 40", "    - tier: new\n      max: 30"))
    result = diff_rulesets(load_ruleset_spec(str(QUICK_ORDER)), load_ruleset_spec(str(new)))
    found = {(c.kind, c.section, c.item_id): c for c in result.changes}
    assert set(found) == {
        ("removed", "regions", "rest-of-eu"),
        ("added", "regions", "rest-of-europe"),
        ("changed", "release_rules", "idle-14d"),
        ("changed", "caps.private", "new"),
    }
    rule = found[("changed", "release_rules", "idle-14d")]
    assert [(f.name, f.old, f.new) for f in rule.fields] == [
        ("when", "idle_for: 14d", "idle_for: 21d")]
    assert rule.new_line == line_of(new, "- id: idle-14d")
    assert found[("removed", "regions", "rest-of-eu")].old_line == line_of(
        QUICK_ORDER, "- id: rest-of-eu")
    cap = found[("changed", "caps.private", "new")]
    assert [(f.name, f.old, f.new) for f in cap.fields] == [("max", "40", "30")]


def test_excess_to_targets_read_as_the_yaml_writes_them(tmp_path: Path) -> None:
    old = edited(tmp_path, QUICK_ORDER, "old.yaml", ("version: 1\n", "version: 1.1\n"))
    new = edited(tmp_path, old, "new.yaml", (
        "      excess_to:\n        to_pool: by_region\n",
        "      excess_to:\n        - {when: {stage: {in: [won, lost]}}, to_pool: lost-deals}\n"
        "        - {tier: new}\n"), (
        "pools:\n", "pools:\n  - {id: lost-deals, regions: []}\n"))
    result = diff_rulesets(load_ruleset_spec(str(old)), load_ruleset_spec(str(new)))
    found = {(c.kind, c.section, c.item_id): c for c in result.changes}
    assert set(found) == {("added", "pools", "lost-deals"),
                          ("changed", "caps.private", "veteran")}
    cap = found[("changed", "caps.private", "veteran")]
    assert [(f.name, f.old, f.new) for f in cap.fields] == [
        ("excess_to", "[to_pool by_region]",
         "[to_pool lost-deals when stage in [won, lost], tier new]")]


def test_reordered_release_rules_are_moved(tmp_path: Path) -> None:
    text = QUICK_ORDER.read_text(encoding="utf-8")
    start = text.index("  - id: idle-14d")
    middle = text.index("  - id: stale-leads-30d")
    end = text.index("\ncaps:")
    swapped = text[:start] + text[middle:end].rstrip("\n") + "\n\n" + \
        text[start:middle].rstrip("\n") + "\n" + text[end:]
    new = tmp_path / "swapped.yaml"
    new.write_text(swapped, encoding="utf-8")
    result = diff_rulesets(load_ruleset_spec(str(QUICK_ORDER)), load_ruleset_spec(str(new)))
    assert {(c.kind, c.item_id) for c in result.changes} == {
        ("moved", "idle-14d"), ("moved", "stale-leads-30d")}


def test_per_customer_difference_on_generated_facts(tmp_path: Path,
                                                    quick_order_db: Path) -> None:
    new = edited(tmp_path, QUICK_ORDER, "longer.yaml", ("idle_for: 14d", "idle_for: 60d"))
    old_plan = api.plan(QUICK_ORDER, quick_order_db, DEFAULT_AS_OF)
    new_plan = api.plan(new, quick_order_db, DEFAULT_AS_OF)
    old_released = {d.customer_id for d in old_plan.by_action("release")
                    if d.rule_id == "idle-14d"}
    new_released = {d.customer_id for d in new_plan.by_action("release")
                    if d.rule_id == "idle-14d"}
    assert new_released < old_released, "a longer idle period releases fewer customers"

    difference = api.diff(str(QUICK_ORDER), str(new), quick_order_db, DEFAULT_AS_OF)
    assert not difference.identical and difference.plan is not None
    by_customer = {c.customer_id: c for c in difference.plan.customers}
    for customer in old_released - new_released:
        changed = by_customer[customer]
        assert ("release", "idle-14d") in [(o.action, o.rule_id) for o in changed.old]
        assert ("release", "idle-14d") not in [(o.action, o.rule_id) for o in changed.new]
    for customer in new_released:  # same decision, another threshold: no difference
        assert customer not in by_customer
    actions = {a: (o, n) for a, o, n in difference.plan.by_action}
    assert actions["release"] == (len(old_plan.by_action("release")),
                                  len(new_plan.by_action("release")))
    losers = {o.from_rep_id for c in difference.plan.customers for o in c.old
              if o.action == "release" and not c.new}
    assert losers and losers <= {r.rep_id for r in difference.plan.by_rep}


def test_crm_sample(tmp_path: Path) -> None:
    db = tmp_path / "crm.duckdb"
    import_crm_sales_opportunities(db, CRM_SAMPLE)
    new = edited(tmp_path, CRM_RULESET, "crm-new.yaml",
                 ("      idle_for: 90d", "      idle_for: 180d"),
                 ("    rounds: 2", "    rounds: 3"))
    difference = api.diff(str(CRM_RULESET), str(new), db, CRM_AS_OF)
    changed = {(c.section, c.item_id): c.fields for c in difference.rules.changes}
    assert set(changed) == {("release_rules", "no-follow-up-90d"),
                            ("activation_relay", "prospecting-relay")}
    assert difference.plan is not None and difference.plan.customers
    releases = {a: (o, n) for a, o, n in difference.plan.by_action}["release"]
    assert releases[0] > releases[1]
    document = json.loads(difference.format("json"))
    assert document["identical"] is False
    assert len(document["plan"]["customers"]) == len(difference.plan.customers)


def test_cli_formats_and_exit_codes(tmp_path: Path, quick_order_db: Path) -> None:
    new = edited(tmp_path, QUICK_ORDER, "new.yaml", ("idle_for: 14d", "idle_for: 60d"))
    runner = CliRunner()
    same = runner.invoke(main, ["diff", str(QUICK_ORDER), str(QUICK_ORDER)])
    assert same.exit_code == 0, same.output
    assert "no structural difference" in same.output
    args = ["diff", str(QUICK_ORDER), str(new), "--db", str(quick_order_db),
            "--as-of", DEFAULT_AS_OF.isoformat()]
    text = runner.invoke(main, args)
    assert text.exit_code == 1, text.output
    assert "changed release_rules idle-14d" in text.output
    assert "when: idle_for: 14d -> idle_for: 60d" in text.output
    markdown = runner.invoke(main, [*args, "--format", "markdown"])
    assert markdown.exit_code == 1
    assert "| changed | release_rules | `idle-14d` |" in markdown.output
    assert "| customer | old | new |" in markdown.output
    as_json = runner.invoke(main, [*args, "--format", "json"])
    assert json.loads(as_json.output)["rules"]["changes"][0]["id"] == "idle-14d"


def test_bad_input_exits_2(tmp_path: Path) -> None:
    broken = edited(tmp_path, QUICK_ORDER, "broken.yaml", ("idle_for: 14d", "idle_for: soon"))
    runner = CliRunner()
    for args in (["diff", str(tmp_path / "absent.yaml"), str(QUICK_ORDER)],
                 ["diff", str(QUICK_ORDER), str(broken)],
                 ["diff", str(QUICK_ORDER), str(QUICK_ORDER), "--as-of", "2026-01-01"]):
        result = runner.invoke(main, args)
        assert result.exit_code == 2, (args, result.output)


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_old_from_a_git_revision(tmp_path: Path) -> None:
    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    git("init", "-q")
    target = tmp_path / "rulesets" / "acme.yaml"
    target.parent.mkdir()
    shutil.copy(QUICK_ORDER, target)
    git("add", "rulesets/acme.yaml")
    git("-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "acme")
    target.write_text(QUICK_ORDER.read_text(encoding="utf-8").replace(
        "idle_for: 14d", "idle_for: 30d"), encoding="utf-8")
    old = load_ruleset_spec("HEAD:rulesets/acme.yaml", cwd=tmp_path)
    new = load_ruleset_spec("rulesets/acme.yaml", cwd=tmp_path)
    result = diff_rulesets(old, new)
    assert [(c.item_id, c.fields[0].new) for c in result.changes] == [("idle-14d",
                                                                       "idle_for: 30d")]
    with pytest.raises(InvalidInputError) as raised:
        load_ruleset_spec("HEAD:rulesets/absent.yaml", cwd=tmp_path)
    assert raised.value.first.code == codes.GIT_REVISION_UNREADABLE
    assert raised.value.exit_code == 2
    assert "absent.yaml" in raised.value.first.message
