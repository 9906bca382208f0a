"""The typed result of planning: decisions, and what apply needs to persist."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

#: Actions a decision can carry, in the order a plan lists them.
ACTIONS = ("relay_end", "relay", "release", "trim", "assign", "remind")
#: Actions that change who owns a customer.
OWNERSHIP_ACTIONS = frozenset({"relay", "release", "trim", "assign"})


@dataclass(frozen=True)
class Decision:
    """One thing the nightly run decided for one customer.

    ``rule_id`` names the ruleset part that decided: a release rule id, a
    relay id, ``caps.private.<tier>`` for trims, an allocation id for assigns.
    """

    customer_id: str
    action: str
    rule_id: str
    reason: str
    from_rep_id: str | None = None
    to_rep_id: str | None = None
    from_pool_id: str | None = None
    to_pool_id: str | None = None
    customer_name: str = ""
    days_left: int | None = None
    due_on: date | None = None
    reminder_offset: str | None = None
    relay_round: int | None = None

    def sort_key(self) -> tuple[int, str, str]:
        return (ACTIONS.index(self.action), self.customer_id, self.rule_id)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["due_on"] = self.due_on.isoformat() if self.due_on else None
        return data


@dataclass(frozen=True)
class Skip:
    """A salesperson considered for a customer and passed over, with why."""

    rep_id: str
    reason: str


@dataclass(frozen=True)
class Unassigned:
    customer_id: str
    pool_id: str | None
    reason: str
    rule_id: str = ""


@dataclass(frozen=True)
class RelayStateRow:
    customer_id: str
    relay_id: str
    round: int
    rep_id: str
    started_on: date
    deadline: date
    reps_tried: tuple[str, ...]


@dataclass(frozen=True)
class Plan:
    """Everything one run decided, and the engine state it leaves behind."""

    company_id: str
    ruleset_id: str
    ruleset_hash: str
    as_of: date
    decisions: tuple[Decision, ...]
    unassigned: tuple[Unassigned, ...] = ()
    #: customer_id -> the (rep_id, reason) pairs of salespeople passed over, as
    #: a mapping kept raw: a night can skip millions (see :meth:`skipped_for`).
    skipped: Mapping[str, tuple[tuple[str, str], ...]] = field(default_factory=dict)
    #: (allocation_id, pool_id) -> last rep served, after this run.
    rotation: tuple[tuple[str, str, str | None], ...] = ()
    #: Relay rows after this run (upserted), and customers whose relay ended.
    relay_upserts: tuple[RelayStateRow, ...] = ()
    relay_deletes: tuple[str, ...] = ()
    evaluated_customers: int = 0
    #: Coverage points (engine.coverage) this plan went through.
    exercised: frozenset[str] = frozenset()
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    def by_action(self, action: str) -> list[Decision]:
        return [d for d in self.decisions if d.action == action]

    def ownership_changes(self) -> list[Decision]:
        return [d for d in self.decisions if d.action in OWNERSHIP_ACTIONS]

    def counts(self) -> dict[str, int]:
        counts = {action: 0 for action in ACTIONS}
        for decision in self.decisions:
            counts[decision.action] += 1
        counts["unassigned"] = len(self.unassigned)
        counts["customers_evaluated"] = self.evaluated_customers
        return counts

    def skipped_for(self, customer_id: str) -> tuple[Skip, ...]:
        """The salespeople considered for ``customer_id`` and why each was skipped."""
        return tuple(Skip(rep, why) for rep, why in self.skipped.get(customer_id, ()))

    def to_json(self) -> str:
        """The plan file: deterministic JSON, byte for byte for the same plan."""
        payload = {
            "company_id": self.company_id,
            "ruleset_id": self.ruleset_id,
            "ruleset_hash": self.ruleset_hash,
            "as_of": self.as_of.isoformat(),
            "counts": self.counts(),
            "decisions": [d.to_dict() for d in self.decisions],
            "unassigned": [asdict(u) for u in self.unassigned],
        }
        return json.dumps(payload, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
