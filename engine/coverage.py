"""Rule coverage: the parts of a ruleset a plan can exercise.

Every point is a dotted name built from the ruleset's own ids, e.g.
``release_rules.no-follow-up-90d.unless`` or ``allocation.daily.fallback``.
The planner records in :attr:`engine.plan_model.Plan.exercised` the points
that one of its decisions (or skips) went through; ``highseas test`` reports
the points no case exercised.
"""

from __future__ import annotations

from engine.model import Ruleset


def release_point(rule_id: str) -> str:
    return f"release_rules.{rule_id}"


def exemption_point(rule_id: str) -> str:
    return f"release_rules.{rule_id}.unless"


def reminder_point(rule_id: str, offset: object) -> str:
    return f"release_rules.{rule_id}.remind_before.{offset}"


def private_cap_point(tier: str) -> str:
    return f"caps.private.{tier}"


def claim_cap_point(tier: str) -> str:
    return f"caps.claims.{tier}"


COOLDOWN_POINT = "caps.cooldown"


def allocation_point(allocation_id: str) -> str:
    return f"allocation.{allocation_id}"


def allocation_fallback_point(allocation_id: str) -> str:
    return f"allocation.{allocation_id}.fallback"


def relay_point(relay_id: str) -> str:
    return f"activation_relay.{relay_id}"


def relay_contact_point(relay_id: str) -> str:
    return f"activation_relay.{relay_id}.contact"


def relay_next_round_point(relay_id: str) -> str:
    return f"activation_relay.{relay_id}.next_round"


def relay_after_last_point(relay_id: str) -> str:
    return f"activation_relay.{relay_id}.after_last_round"


def coverage_points(ruleset: Ruleset) -> list[str]:
    """Every coverage point of ``ruleset``, in ruleset order."""
    points: list[str] = []
    for rule in ruleset.release_rules:
        points.append(release_point(rule.id))
        if rule.unless is not None:
            points.append(exemption_point(rule.id))
        points.extend(reminder_point(rule.id, offset) for offset in rule.remind_before)
    points.extend(private_cap_point(cap.tier) for cap in ruleset.caps.private)
    points.extend(claim_cap_point(cap.tier) for cap in ruleset.caps.claims)
    if ruleset.caps.cooldown is not None:
        points.append(COOLDOWN_POINT)
    for allocation in ruleset.allocations:
        points.append(allocation_point(allocation.id))
        if allocation.region_fallback != "stay":
            points.append(allocation_fallback_point(allocation.id))
    for relay in ruleset.relays:
        points.append(relay_point(relay.id))
        points.append(relay_contact_point(relay.id))
        if relay.rounds > 1:
            points.append(relay_next_round_point(relay.id))
        points.append(relay_after_last_point(relay.id))
    return points
