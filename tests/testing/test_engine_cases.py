"""Engine behaviour written as harness cases: the same harness consultants
use in YAML serves the project's own tests (and a CRM's).

The golden cases in tests/engine_cases/*.tests.yaml (with their ruleset
nightly.yaml) are found as ``highseas test tests/engine_cases`` finds them
and run one pytest test per case; add a case or a file there and it runs.
Below them, cases written in Python (:func:`highseas.testing.case_from_dict`).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from highseas import testing
from highseas.ruleset.loader import load_ruleset
from highseas.ruleset.model import Ruleset

ROOT = Path(__file__).resolve().parents[2]
ENGINE_CASES = ROOT / "tests" / "engine_cases"


def golden_cases() -> list[Any]:
    files, _ = testing.discover([ENGINE_CASES])
    return [pytest.param(case, id=f"{path.name.removesuffix('.tests.yaml')}: {case.name}")
            for path in files for case in testing.cases_of(path)]


def test_the_golden_cases_are_found() -> None:
    files, problems = testing.discover([ENGINE_CASES])
    assert problems == []
    assert {path.name for path in files} >= {
        "releases.tests.yaml", "caps.tests.yaml", "allocation.tests.yaml", "relays.tests.yaml"}


@pytest.mark.parametrize("case", golden_cases())
def test_engine_golden_case(case: testing.Case) -> None:
    testing.assert_case(case)


@pytest.fixture(scope="module")
def regional() -> Ruleset:
    return load_ruleset(ROOT / "rulesets" / "regional-trading.yaml")


REPS: list[dict[str, Any]] = [
    {"id": "alice", "hired_on": date(2019, 3, 1), "regions": ["emea"]},
    {"id": "nina", "hired_on": date(2025, 1, 6), "regions": ["emea"]},
]


def test_an_exempt_customer_gets_no_reminder(regional: Ruleset) -> None:
    case = testing.case_from_dict(regional, {
        "name": "exempt customers are not reminded",
        "reps": REPS,
        "customers": [
            {"id": "key", "country": "DE", "created_at": date(2024, 11, 1), "owner": "alice",
             "tags": ["key-account"]},
            {"id": "plain", "country": "DE", "created_at": date(2024, 11, 1), "owner": "alice"},
        ],
        "activities": [
            {"customer": "key", "rep": "alice", "at": date(2025, 3, 1)},
            {"customer": "plain", "rep": "alice", "at": date(2025, 3, 1)},
        ],
        "as_of": date(2025, 5, 23),
        "expect": {"reminded": [{"customer": "plain", "days_left": 7}], "untouched": ["key"]},
    })
    testing.assert_case(case)


def test_one_ownership_change_per_customer_per_run(regional: Ruleset) -> None:
    # A dormant lead owned by alice and idle for 90 days: the relay takes it
    # (relays come first), the release rule does not release it the same night.
    case = testing.case_from_dict(regional, {
        "name": "relay before release",
        "reps": REPS,
        "customers": [{"id": "lead", "country": "DE", "source": "alibaba",
                       "created_at": date(2025, 1, 1), "owner": "alice"}],
        "as_of": date(2025, 5, 30),
        "expect": {"relayed": [{"customer": "lead", "to": "nina", "round": 1,
                                "from": "alice"}]},
    })
    testing.assert_case(case)


def test_assert_case_raises_with_the_diff(regional: Ruleset) -> None:
    case = testing.case_from_dict(regional, {
        "name": "wrong pool on purpose",
        "reps": REPS,
        "customers": [{"id": "acme", "country": "DE", "created_at": date(2024, 11, 1),
                       "owner": "alice"}],
        "as_of": date(2025, 5, 30),
        "expect": {"released": [{"customer": "acme", "pool": "apac-pool"}]},
    })
    with pytest.raises(AssertionError, match="pool: expected apac-pool, got emea-pool"):
        testing.assert_case(case)
