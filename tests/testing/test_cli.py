"""Tests of the tester: ``highseas test`` and ``highseas init`` end to end."""

from __future__ import annotations

import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner

from highseas.cli import main

# A ruleset built for exact coverage counts: 7 points (the allocation falls
# back with "stay", so it has no fallback point).
RULESET = """\
version: 1
company: {id: cov-co, name: Coverage Co, timezone: UTC}
tiers:
  - {id: new, tenure: {less_than: 1y}}
  - {id: veteran, tenure: {at_least: 1y}}
regions:
  - {id: north, countries: [DE]}
  - {id: south, countries: [IT]}
pools:
  - {id: north-pool, regions: [north]}
  - {id: all-pool, regions: all, default: true}
release_rules:
  - id: idle-30d
    when: {idle_for: 30d}
    unless: {has_open_order: true}
    remind_before: [5d, 1d]
  - id: never-touched
    when:
      all: [{never_contacted: true}, {created_before: 60d}]
caps:
  cooldown: 10d
allocation:
  - id: rotate
    schedule: daily
    pools: all
    tiers: [new]
    strategy: round_robin
    region_match: {fallback: stay}
"""

POINTS = [
    "release_rules.idle-30d",
    "release_rules.idle-30d.unless",
    "release_rules.idle-30d.remind_before.5d",
    "release_rules.idle-30d.remind_before.1d",
    "release_rules.never-touched",
    "caps.cooldown",
    "allocation.rotate",
]

TESTS = """\
version: 1
background:
  reps:
    - {id: vera, hired_on: 2020-01-01, regions: [north]}
    - {id: ned, hired_on: 2025-03-01, regions: [north]}
cases:
  - name: idle customer released
    customers:
      - {id: c1, country: DE, created_at: 2025-01-01, owner: vera}
      - {id: c2, country: DE, created_at: 2025-01-01, owner: vera}
    activities:
      - {customer: c1, rep: vera, at: 2025-04-01}
      - {customer: c2, rep: vera, at: 2025-05-01}
    as_of: 2025-05-01
    expect:
      released: [{customer: c1, rule: idle-30d, pool: north-pool, from: vera}]
      untouched: [c2]

  - name: reminder five days before
    customers:
      - {id: c1, country: DE, created_at: 2025-01-01, owner: vera}
    activities:
      - {customer: c1, rep: vera, at: 2025-04-01}
    as_of: 2025-04-26
    expect:
      reminded: [{customer: c1, rule: idle-30d, days_left: 5, rep: vera}]
"""


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


@pytest.fixture()
def suite(tmp_path: Path) -> Path:
    write(tmp_path, "cov.yaml", RULESET)
    write(tmp_path, "cov.tests.yaml", TESTS)
    return tmp_path


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["test", *args])
    return result.exit_code, result.output


def test_passing_suite_exits_0_with_exact_coverage(suite: Path) -> None:
    code, output = run(str(suite))
    assert code == 0, output
    assert "PASS    idle customer released" in output
    assert "PASS    reminder five days before" in output
    assert "coverage of cov-co" in output and "2/7 points (28.6%)" in output
    missing = output.split("not exercised by any case:")[1].split("\n")
    listed = [line.strip() for line in missing if line.startswith("    ")]
    assert listed == [p for p in POINTS if p not in (
        "release_rules.idle-30d", "release_rules.idle-30d.remind_before.5d")]
    assert "2 passed, 0 failed, 0 invalid" in output


def test_coverage_is_exact_through_the_api(suite: Path) -> None:
    from highseas import testing

    session = testing.run_paths([suite])
    (coverage,) = session.coverage
    assert coverage.points == tuple(POINTS)
    assert set(coverage.covered) == {"release_rules.idle-30d",
                                     "release_rules.idle-30d.remind_before.5d"}
    assert coverage.percent == pytest.approx(200 / 7)


def test_min_coverage_fails_below(suite: Path) -> None:
    code, output = run(str(suite), "--min-coverage", "50")
    assert code == 1
    assert "below the minimum of 50%" in output
    code, _ = run(str(suite), "--min-coverage", "28")
    assert code == 0


def test_broken_expectation_fails_with_a_diff_naming_customer_and_rule(suite: Path) -> None:
    tests = suite / "cov.tests.yaml"
    tests.write_text(TESTS.replace("pool: north-pool", "pool: all-pool"), encoding="utf-8")
    code, output = run(str(tests))
    assert code == 1, output
    assert "FAIL    idle customer released" in output
    diff = output.split("FAIL    idle customer released")[1]
    assert "day 2025-05-01:" in diff
    assert "released c1" in diff and "idle-30d" in diff
    assert "pool: expected all-pool, got north-pool" in diff
    assert "engine: rule idle-30d" in diff  # the engine's own reason
    assert "1 passed, 1 failed" in output


def test_unexpected_decision_fails_an_exact_case(suite: Path) -> None:
    tests = suite / "cov.tests.yaml"
    tests.write_text(TESTS.replace("      untouched: [c2]\n", "").replace(
        "at: 2025-05-01}", "at: 2025-03-01}"), encoding="utf-8")
    code, output = run(str(tests), "-k", "idle")
    assert code == 1
    assert "+ not expected: released c2 (rule idle-30d" in output


def test_invalid_case_data_is_invalid_not_a_pass(suite: Path) -> None:
    tests = suite / "cov.tests.yaml"
    tests.write_text(TESTS.replace("{customer: c2, rep: vera", "{customer: c3, rep: vera"),
                     encoding="utf-8")
    code, output = run(str(suite))
    assert code == 2, output
    assert "INVALID" in output and "HS604 unknown customer 'c3'" in output
    assert "0 passed" in output


def test_data_the_engine_refuses_makes_the_case_invalid(suite: Path) -> None:
    # ned is hired after the as-of day: the claim check refuses the unknown rep.
    tests = suite / "cov.tests.yaml"
    tests.write_text(TESTS + textwrap.indent(textwrap.dedent("""\
        - name: claim by someone not hired yet
          customers:
            - {id: p1, country: DE, created_at: 2025-01-01}
          as_of: 2025-02-01
          claims:
            - {rep: ned, customer: p1, allowed: true}
        """), "  "), encoding="utf-8")
    code, output = run(str(tests))
    assert code == 2, output
    assert "INVALID claim by someone not hired yet" in output
    assert "HS520" in output


def test_junit_xml_has_one_testcase_per_case(suite: Path, tmp_path: Path) -> None:
    tests = suite / "cov.tests.yaml"
    tests.write_text(TESTS.replace("days_left: 5", "days_left: 4"), encoding="utf-8")
    report = tmp_path / "reports" / "junit.xml"
    code, _ = run(str(tests), "--junit-xml", str(report))
    assert code == 1
    root = ET.parse(report).getroot()
    assert root.tag == "testsuites"
    assert root.get("tests") == "2" and root.get("failures") == "1"
    cases = root.findall("./testsuite/testcase")
    assert [c.get("name") for c in cases] == ["idle customer released",
                                              "reminder five days before"]
    assert cases[0].find("failure") is None
    failure = cases[1].find("failure")
    assert failure is not None and "days_left: expected 4, got 5" in (failure.text or "")
    properties = {p.get("name"): p.get("value") for p in root.iter("property")}
    assert properties["coverage.points"] == "2/7"


def test_junit_for_an_invalid_file(tmp_path: Path) -> None:
    write(tmp_path, "cov.yaml", RULESET)
    write(tmp_path, "cov.tests.yaml", "version: 1\ncases: []\n")
    report = tmp_path / "junit.xml"
    code, output = run(str(tmp_path), "--junit-xml", str(report))
    assert code == 2, output
    root = ET.parse(report).getroot()
    (case,) = root.findall("./testsuite/testcase")
    assert case.find("error") is not None


def test_k_selects_cases(suite: Path) -> None:
    code, output = run(str(suite), "-k", "REMINDER")
    assert code == 0
    assert "reminder five days before" in output
    assert "idle customer released" not in output
    assert "1 passed" in output
    code, output = run(str(suite), "-k", "*idle*released")
    assert "idle customer released" in output and "1 passed" in output
    code, output = run(str(suite), "-k", "no such case")
    assert code == 2 and "HS623" in output


def test_a_ruleset_path_runs_its_sibling_test_file(suite: Path) -> None:
    code, output = run(str(suite / "cov.yaml"), "-k", "reminder")
    assert code == 0 and "cov.tests.yaml" in output
    (suite / "cov.tests.yaml").unlink()
    code, output = run(str(suite / "cov.yaml"))
    assert code == 2 and "HS620" in output and "cov.tests.yaml" in output


def test_multi_day_sequence_applies_each_day(suite: Path) -> None:
    tests = suite / "cov.tests.yaml"
    tests.write_text(TESTS + textwrap.indent(textwrap.dedent("""\
        - name: reminded, reminded, released, then rotated and protected by the cooldown
          customers:
            - {id: c1, country: DE, created_at: 2025-01-01, owner: vera}
          activities:
            - {customer: c1, rep: vera, at: 2025-04-01}
          days:
            - as_of: 2025-04-26
              expect: {reminded: [{customer: c1, days_left: 5}]}
            - as_of: 2025-04-28
              expect: {untouched: [c1]}
            - as_of: 2025-04-30
              expect: {reminded: [{customer: c1, days_left: 1}]}
            - as_of: 2025-05-01
              expect: {released: [{customer: c1, rule: idle-30d}]}
            - as_of: 2025-05-02
              claims:
                - {rep: vera, customer: c1, allowed: false, reason: cooldown}
              expect: {assigned: [{customer: c1, to: ned, rule: rotate, pool: north-pool}]}
        """), "  "), encoding="utf-8")
    code, output = run(str(tests), "-k", "cooldown", "--min-coverage", "0")
    assert code == 0, output
    assert "(5 days," in output
    assert "5/7 points" in output  # idle, both reminders, cooldown, rotation


def test_failing_day_stops_the_case(suite: Path) -> None:
    tests = suite / "cov.tests.yaml"
    tests.write_text(TESTS + textwrap.indent(textwrap.dedent("""\
        - name: wrong first day
          customers:
            - {id: c1, country: DE, created_at: 2025-01-01, owner: vera}
          activities:
            - {customer: c1, rep: vera, at: 2025-04-01}
          days:
            - as_of: 2025-04-26
              expect: {released: [c1]}
            - as_of: 2025-05-01
              expect: {released: [c1]}
        """), "  "), encoding="utf-8")
    code, output = run(str(tests), "-k", "wrong first day")
    assert code == 1
    assert "(1 day," in output
    assert "- expected released c1, but the run decided: reminded c1" in output


def test_no_test_files_is_a_usage_error(tmp_path: Path) -> None:
    code, output = run(str(tmp_path))
    assert code == 2
    assert "HS620" in output


@pytest.mark.parametrize("name", ["regional-trading", "quick-order", "large-project"])
def test_example_ruleset_passes_with_full_coverage(name: str) -> None:
    from highseas import testing

    path = Path(__file__).resolve().parents[2] / "rulesets" / f"{name}.tests.yaml"
    session = testing.run_paths([path], min_coverage=100)
    assert session.exit_code == 0, testing.format_session(session)
    assert len(session.cases) >= 8
    (coverage,) = session.coverage
    assert coverage.ruleset_id == name and coverage.percent == 100


def test_init_scaffolds_a_company_whose_tests_pass(tmp_path: Path) -> None:
    target = tmp_path / "acme"
    result = CliRunner().invoke(main, ["init", "--archetype", "regional-trading",
                                       "--company", "acme-trading", str(target)])
    assert result.exit_code == 0, result.output
    ruleset = (target / "acme-trading.yaml").read_text(encoding="utf-8")
    assert "id: acme-trading" in ruleset and "regional-trading" not in ruleset.split(
        "company:")[1].split("\n\n")[0]
    tests_text = (target / "acme-trading.tests.yaml").read_text(encoding="utf-8")
    lines = tests_text.splitlines()
    assert lines[2] == ("# What the acme-trading ruleset (regional-trading archetype) must do, "
                        "written down as cases.")
    assert ("description: Expected outcomes of the acme-trading ruleset (regional-trading "
            "archetype; regions, relays, caps).") in lines
    assert ") (" not in tests_text and "regional-trading ruleset" not in tests_text
    assert (target / "regional-trading.veteran-customers.csv").is_file()
    code, output = run(str(target), "-k", "90 days goes back")
    assert code == 0, output
    assert "coverage of acme-trading" in output
    again = CliRunner().invoke(main, ["init", "--archetype", "regional-trading",
                                      "--company", "acme-trading", str(target)])
    assert again.exit_code == 2 and "HS632" in again.output


def test_init_rejects_a_bad_company_id(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["init", "--archetype", "quick-order", "--company",
                                       "Acme Trading", str(tmp_path)])
    assert result.exit_code == 2
    assert "HS631" in result.output


def test_default_path_and_untested_rulesets(suite: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(suite, "other.yaml", RULESET.replace("id: cov-co", "id: other-co"))
    write(suite, "notes.yaml", "just: a file that is not a ruleset\n")
    monkeypatch.chdir(suite)  # no ./rulesets here: the current directory is searched
    code, output = run("-k", "reminder")
    assert code == 0, output
    assert "coverage of other-co (other.yaml): 0/7 points (0.0%): no test file" in output
    assert "notes" not in output
    code, output = run("--min-coverage", "1")
    assert code == 1 and "other-co 0.0%" in output


def test_fact_after_the_last_day_is_a_warning(suite: Path) -> None:
    from highseas.testing import validate_test_file

    tests = suite / "cov.tests.yaml"
    late = "      - {customer: c2, rep: vera, at: 2025-06-01}\n"
    tests.write_text(TESTS.replace("at: 2025-05-01}\n", "at: 2025-05-01}\n" + late, 1),
                     encoding="utf-8")
    (warning,) = validate_test_file(tests)
    assert warning.code == "HS614" and not warning.is_error and warning.line == 14
    code, output = run(str(tests), "-k", "idle")
    assert code == 0 and "warning HS614" in output


def test_an_engine_error_is_reported_as_an_error_not_a_pass(
    suite: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import highseas.nightly.planner

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("planner exploded")

    monkeypatch.setattr(highseas.nightly.planner, "plan", broken)
    code, output = run(str(suite), "-k", "reminder")
    assert code == 3
    assert "ERROR   reminder five days before" in output
    assert "internal error RuntimeError: planner exploded" in output
