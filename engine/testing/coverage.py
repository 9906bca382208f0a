"""Rule coverage: the parts of a ruleset a plan can exercise.

Every point is a dotted name built from the ruleset's own ids, e.g.
``release_rules.no-follow-up-90d.unless.tags`` or ``allocation.daily.fallback``.
A :class:`CoverageRecorder` observes the nightly runs and claim checks of a
case (the events of :mod:`highseas.nightly.events`) and turns what they went
through into points; ``highseas test`` reports the points no case exercised.

Exemptions are counted per alternative (:func:`exemption_alternatives`): an
``unless`` whose top level is ``any`` has one point per member, exercised
when that member alone kept a customer the rule's ``when`` matched from being
released (:func:`exercised_exemptions`).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import TYPE_CHECKING

from highseas.compile import ir
from highseas.compile import to_sql as sql_form
from highseas.nightly.events import (
    ClaimRefused,
    CustomerAssigned,
    Event,
    ExcessTargetUsed,
    PrivateCapTrimmed,
    RelayContacted,
    RelayExhausted,
    RelayRoundStarted,
    ReminderSent,
    RuleReleased,
    SalespersonSkipped,
)
from highseas.nightly.reasons import RefusalKind, SkipKind
from highseas.ruleset import model
from highseas.ruleset.model import ReleaseRule, Ruleset

if TYPE_CHECKING:
    import duckdb


def release_point(rule_id: str) -> str:
    return f"release_rules.{rule_id}"


def exemption_point(rule_id: str, alternative: str | None = None) -> str:
    """The whole exemption of a rule, or one of its alternatives."""
    base = f"release_rules.{rule_id}.unless"
    return base if alternative is None else f"{base}.{alternative}"


def reminder_point(rule_id: str, offset: object) -> str:
    return f"release_rules.{rule_id}.remind_before.{offset}"


def private_cap_point(tier: str) -> str:
    return f"caps.private.{tier}"


def excess_target_point(tier: str, number: int) -> str:
    """Target ``number`` (1 for the first) of a private cap's ``excess_to``."""
    return f"caps.private.{tier}.excess_to.{number}"


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
        points.extend(point for point, _ in exemption_alternatives(rule))
        points.extend(reminder_point(rule.id, offset) for offset in rule.remind_before)
    for cap in ruleset.caps.private:
        points.append(private_cap_point(cap.tier))
        points.extend(excess_target_point(cap.tier, number)
                      for number, target in enumerate(cap.excess_to, start=1)
                      if target.when is not None)
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


# --------------------------------------------------------------------------
# Points seen in a run
# --------------------------------------------------------------------------


class CoverageRecorder:
    """A :class:`highseas.nightly.events.RunObserver` that collects the
    coverage points the observed runs and claim checks went through in
    :attr:`points` (exemptions are found apart: :func:`exercised_exemptions`)."""

    def __init__(self) -> None:
        self.points: set[str] = set()

    def notice(self, event: Event) -> None:
        self.points.update(points_of(event))


def points_of(event: Event) -> tuple[str, ...]:
    """The coverage points an event exercises (often none)."""
    match event:
        case RelayContacted(relay_id):
            return (relay_contact_point(relay_id),)
        case RelayExhausted(relay_id):
            return (relay_after_last_point(relay_id),)
        case RelayRoundStarted(relay_id, round_):
            return (relay_point(relay_id) if round_ == 1
                    else relay_next_round_point(relay_id),)
        case RuleReleased(rule_id):
            return (release_point(rule_id),)
        case PrivateCapTrimmed(tier):
            return (private_cap_point(tier),)
        case ExcessTargetUsed(tier, number):
            return (excess_target_point(tier, number),)
        case ReminderSent(rule_id, offset):
            return (reminder_point(rule_id, offset),)
        case CustomerAssigned(allocation_id, fallback):
            if fallback:
                return allocation_point(allocation_id), allocation_fallback_point(allocation_id)
            return (allocation_point(allocation_id),)
        case SalespersonSkipped(_, _, tier, reason):
            if reason.kind is SkipKind.COOLDOWN:
                return (COOLDOWN_POINT,)
            if reason.kind is SkipKind.CLAIM_CAP and tier:
                return (claim_cap_point(tier),)
        case ClaimRefused(refusal):
            if refusal.kind is RefusalKind.COOLDOWN:
                return (COOLDOWN_POINT,)
            if refusal.kind is RefusalKind.CLAIM_CAP and refusal.tier:
                return (claim_cap_point(refusal.tier),)
    return ()


# --------------------------------------------------------------------------
# Exemptions, alternative by alternative
# --------------------------------------------------------------------------

#: The key an alternative made of one condition is named after.
_CONDITION_KEYS: dict[type, str] = {
    cls: key for key, cls in (*model.TIME_CONDITIONS.items(), *model.FLAG_CONDITIONS.items())
}


def _key(condition: model.Condition) -> str | None:
    if isinstance(condition, model.Compare):
        return condition.field
    return _CONDITION_KEYS.get(type(condition))


def exemption_alternatives(rule: ReleaseRule) -> list[tuple[str, model.Condition]]:
    """The coverage points of a rule's ``unless``, each with its condition.

    An ``unless`` whose top level is ``any`` with several members has one
    point per member, named after the field the member tests
    (``release_rules.R.unless.has_open_order``, ``.unless.tags``,
    ``.unless.credit_score``), or after its position, 1 for the first
    (``.unless.2``), when it combines several conditions or when another
    member tests the same field. Any other ``unless`` is one point,
    ``release_rules.R.unless``."""
    unless = rule.unless
    if unless is None:
        return []
    if not isinstance(unless, model.AnyOf) or len(unless.items) < 2:
        return [(exemption_point(rule.id), unless)]
    keys = [_key(item) for item in unless.items]
    result = []
    for position, (key, item) in enumerate(zip(keys, unless.items, strict=True), start=1):
        name = key if key is not None and keys.count(key) == 1 else str(position)
        result.append((exemption_point(rule.id, name), item))
    return result


def exercised_exemptions(
    con: duckdb.DuckDBPyConnection,
    ruleset: Ruleset,
    as_of: date,
    changed: Iterable[str] = (),
    facts_table: str = "hs_facts",
) -> set[str]:
    """The exemption points that kept a customer from being released on
    ``as_of``: for an owned customer not in ``changed`` (the customers the
    run released, trimmed or relayed) whose rule's ``when`` holds, the one
    alternative of the ``unless`` that holds when no other does. A customer
    two alternatives keep exercises neither: either would do, so the case
    does not show that each works alone.

    Reads the derived facts of ``as_of`` (``facts_table``, as the planner
    left them)."""
    allowed = ir.column_types(ruleset)
    skip = sorted(set(changed))
    found: set[str] = set()
    for rule in ruleset.release_rules:
        alternatives = exemption_alternatives(rule)
        if not alternatives:
            continue
        when_sql, when_params = sql_form.to_sql(ir.lower(rule.when, as_of, ruleset), allowed)
        parts = [sql_form.to_sql(ir.lower(c, as_of, ruleset), allowed) for _, c in alternatives]
        columns: list[str] = []
        params: list[object] = []
        for index, (sql, alt_params) in enumerate(parts):
            others = [(o_sql, o_params) for i, (o_sql, o_params) in enumerate(parts)
                      if i != index]
            alone = " AND ".join([sql, *(f"NOT {o_sql}" for o_sql, _ in others)])
            columns.append(f"coalesce(bool_or({alone}), FALSE)")
            params.extend(alt_params)
            for _, o_params in others:
                params.extend(o_params)
        row = con.execute(
            f"SELECT {', '.join(columns)} FROM {facts_table} "
            f"WHERE owner_rep_id IS NOT NULL AND ({when_sql}) "
            "AND customer_id NOT IN (SELECT unnest(?::VARCHAR[]))",
            [*params, *when_params, skip],
        ).fetchone()
        if row is None:
            continue
        found.update(point for (point, _), hit in zip(alternatives, row, strict=True) if hit)
    return found
