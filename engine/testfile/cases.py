"""The typed form of consultants' test cases: facts rows, days, expectations.

Frozen dataclasses built by :mod:`highseas.testfile.format` from a checked
test file (or a Python mapping) and consumed by the runner and the
comparison. Imports nothing of highseas but the ruleset model and errors.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from highseas.errors import Diagnostic
from highseas.ruleset.model import Ruleset

#: Expectation category -> decision action of :mod:`highseas.nightly.plan`.
CATEGORY_ACTIONS: dict[str, str] = {
    "released": "release",
    "reminded": "remind",
    "trimmed": "trim",
    "assigned": "assign",
    "relayed": "relay",
    "relay_ended": "relay_end",
    "unassigned": "unassigned",
}
ACTION_CATEGORIES = {action: category for category, action in CATEGORY_ACTIONS.items()}
#: Expectation category -> entry key -> attribute of the decision (or Unassigned).
ENTRY_FIELDS: dict[str, dict[str, str]] = {
    "released": {"rule": "rule_id", "pool": "to_pool_id", "from": "from_rep_id"},
    "reminded": {"rule": "rule_id", "days_left": "days_left", "rep": "to_rep_id"},
    "trimmed": {"rule": "rule_id", "from": "from_rep_id", "to": "to_rep_id", "pool": "to_pool_id"},
    "assigned": {"to": "to_rep_id", "rule": "rule_id", "pool": "from_pool_id"},
    "relayed": {"to": "to_rep_id", "rule": "rule_id", "round": "relay_round",
                "from": "from_rep_id"},
    "relay_ended": {"rule": "rule_id", "rep": "to_rep_id"},
    "unassigned": {"pool": "pool_id", "rule": "rule_id"},
}
REP_KEYS = frozenset({"from", "to", "rep"})




@dataclass(frozen=True)
class Row:
    """One fact row, with store column names and typed values."""

    values: dict[str, Any]
    json_path: str = ""
    file: str = ""
    line: int = 0


@dataclass(frozen=True)
class Entry:
    """One expected (or forbidden) decision: a category, a customer and the
    fields it must have (entry keys such as ``rule``, ``pool``, ``to``)."""

    category: str
    customer: str
    fields: tuple[tuple[str, Any], ...] = ()
    reason: str | None = None
    json_path: str = ""
    line: int = 0

    def describe(self) -> str:
        """``released c1 (rule no-idle, pool emea-pool)``."""
        parts = [f"{key} {value}" for key, value in self.fields]
        if self.reason:
            parts.append(f"reason containing {self.reason!r}")
        detail = f" ({', '.join(parts)})" if parts else ""
        return f"{self.category.replace('_', ' ')} {self.customer}{detail}"


@dataclass(frozen=True)
class Expectation:
    """What one nightly run must decide."""

    match: str = "exact"
    entries: tuple[Entry, ...] = ()
    forbidden: tuple[Entry, ...] = ()
    untouched: tuple[str, ...] = ()
    json_path: str = ""
    line: int = 0


@dataclass(frozen=True)
class ClaimCheck:
    """A claim made during a day, before its nightly run, and the expected answer."""

    rep: str
    customer: str
    allowed: bool
    reasons: tuple[str, ...] = ()
    record: bool = True
    json_path: str = ""
    line: int = 0


@dataclass(frozen=True)
class Day:
    """One day of a case: new facts, claims, then the nightly run for ``as_of``."""

    as_of: date
    activities: tuple[Row, ...] = ()
    orders: tuple[Row, ...] = ()
    claims: tuple[ClaimCheck, ...] = ()
    expect: Expectation | None = None
    json_path: str = ""
    line: int = 0


@dataclass(frozen=True)
class Case:
    """One test case: facts tables and the day(s) to run."""

    name: str
    days: tuple[Day, ...]
    reps: tuple[Row, ...] = ()
    customers: tuple[Row, ...] = ()
    activities: tuple[Row, ...] = ()
    orders: tuple[Row, ...] = ()
    description: str = ""
    file: str = ""
    json_path: str = ""
    line: int = 0

    @property
    def test_id(self) -> str:
        """``file::name``: what ``-k`` matches and JUnit reports."""
        return f"{self.file}::{self.name}"


@dataclass(frozen=True)
class TestFile:
    """A loaded, checked test file with its ruleset."""

    __test__ = False  # not a pytest test class, despite its name

    path: str
    ruleset_path: str
    ruleset: Ruleset
    cases: tuple[Case, ...]
    warnings: tuple[Diagnostic, ...] = field(default_factory=tuple)
