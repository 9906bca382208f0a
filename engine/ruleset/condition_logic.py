"""What can be proved about conditions without facts: implication, shadowing,
contradiction.

The semantic checks (:mod:`highseas.ruleset.semantic`) use these to warn of
a release rule that can never fire, or that an earlier rule always fires
before. The reasoning is sound but incomplete: it proves what it can from
the structure of conditions (their conjuncts and time thresholds) and says
nothing otherwise.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from highseas.ruleset import model as m

_TIME_LEAVES = tuple(m.TIME_CONDITIONS.values())


def walk(condition: m.Condition) -> Iterator[m.Condition]:
    yield condition
    if isinstance(condition, m.AllOf | m.AnyOf):
        for item in condition.items:
            yield from walk(item)
    elif isinstance(condition, m.Not):
        yield from walk(condition.item)


def key(condition: m.Condition) -> tuple[Any, ...]:
    """A structural key of a condition, ignoring where it was written."""
    if isinstance(condition, m.AllOf | m.AnyOf):
        return (type(condition).__name__, tuple(sorted((key(i) for i in condition.items),
                                                       key=repr)))
    if isinstance(condition, m.Not):
        return ("Not", key(condition.item))
    if isinstance(condition, _TIME_LEAVES):
        return (type(condition).__name__, condition.duration.approx_days())
    if isinstance(condition, m.NeverContacted | m.HasOpenOrder):
        return (type(condition).__name__, condition.value)
    if isinstance(condition, m.WonWithin):
        return ("WonWithin", condition.duration.approx_days())
    if isinstance(condition, m.TagsMatch):
        return ("Tags", condition.mode, tuple(sorted(condition.tags)))
    assert isinstance(condition, m.Compare)
    value = tuple(sorted(map(repr, condition.value))) if isinstance(condition.value, tuple) \
        else repr(condition.value)
    return ("Compare", condition.field, condition.op, value)


def conjuncts(condition: m.Condition) -> list[m.Condition]:
    """The conditions that must all hold (``all`` flattened)."""
    if isinstance(condition, m.AllOf):
        return [c for item in condition.items for c in conjuncts(item)]
    return [condition]


def release_period(condition: m.Condition) -> int | None:
    """Days after which the time conditions of ``condition`` can first all hold.

    ``all``: the longest of its parts; ``any``: the shortest; conditions
    without a time leaf (and ``not``) have no period (None).
    """
    if isinstance(condition, _TIME_LEAVES):
        return condition.duration.approx_days()
    if isinstance(condition, m.AllOf | m.AnyOf):
        parts = [p for p in (release_period(i) for i in condition.items) if p is not None]
        if not parts:
            return None
        return max(parts) if isinstance(condition, m.AllOf) else min(parts)
    return None


def _implies(strong: m.Condition, weak: m.Condition) -> bool:
    """Whether ``strong`` holding guarantees ``weak`` (a sound, partial test)."""
    if key(strong) == key(weak):
        return True
    if isinstance(strong, _TIME_LEAVES) and type(strong) is type(weak):
        assert isinstance(weak, _TIME_LEAVES)
        return strong.duration.approx_days() >= weak.duration.approx_days()
    if isinstance(strong, m.WonWithin) and isinstance(weak, m.WonWithin):
        return strong.duration.approx_days() <= weak.duration.approx_days()
    if isinstance(strong, m.Compare) and isinstance(weak, m.Compare) \
            and strong.field == weak.field and weak.op == "in":
        assert isinstance(weak.value, tuple)
        if strong.op == "=":
            return strong.value in weak.value
        if strong.op == "in" and isinstance(strong.value, tuple):
            return set(strong.value) <= set(weak.value)
    if isinstance(weak, m.AnyOf):
        return any(_implies(strong, item) for item in weak.items)
    return False


def shadows(earlier: m.ReleaseRule, later: m.ReleaseRule) -> bool:
    """Whether ``earlier`` always releases a customer before ``later`` could."""
    if earlier.unless is not None and (later.unless is None
                                       or key(earlier.unless) != key(later.unless)):
        return False
    strong = conjuncts(later.when)
    return all(any(_implies(s, w) for s in strong) for w in conjuncts(earlier.when))


def never_fires(when: m.Condition, unless: m.Condition | None) -> str:
    """A reason why ``when`` (minus ``unless``) can never hold, or ''."""
    parts = conjuncts(when)
    reason = _contradiction(parts)
    if reason:
        return reason
    if unless is not None:
        exemptions = list(unless.items) if isinstance(unless, m.AnyOf) else [unless]
        for exemption in exemptions:
            needed = conjuncts(exemption)
            if all(any(_implies(p, n) for p in parts) for n in needed):
                return "its exemption (unless) holds whenever its condition does"
    return ""


def _contradiction(parts: list[m.Condition]) -> str:
    keys = {key(p) for p in parts}
    for part in parts:
        if isinstance(part, m.Not) and key(part.item) in keys:
            return "it requires a condition and its negation"
        if isinstance(part, m.NeverContacted | m.HasOpenOrder):
            if (type(part).__name__, not part.value) in keys:
                name = "never_contacted" if isinstance(part, m.NeverContacted) else "has_open_order"
                return f"it requires {name} to be both true and false"
    within = [p.duration.approx_days() for p in parts if isinstance(p, m.WonWithin)]
    won_before = [p.duration.approx_days() for p in parts if isinstance(p, m.LastWonBefore)]
    if within and won_before and max(won_before) >= min(within):
        return "it requires the last order won both within and before the same time"
    compares: dict[str, list[m.Compare]] = {}
    for part in parts:
        if isinstance(part, m.Compare):
            compares.setdefault(part.field, []).append(part)
    for name, items in compares.items():
        allowed: set[Any] | None = None
        banned: set[Any] = set()
        low, high = float("-inf"), float("inf")
        low_open = high_open = False
        for item in items:
            values = set(item.value) if isinstance(item.value, tuple) else {item.value}
            if item.op in ("=", "in"):
                allowed = values if allowed is None else allowed & values
            elif item.op in ("!=", "not in"):
                banned |= values
            elif isinstance(item.value, int | float) and not isinstance(item.value, bool):
                number = float(item.value)
                strict = item.op in (">", "<")
                if item.op in (">", ">=") and (number > low or (number == low and strict)):
                    low, low_open = number, strict
                if item.op in ("<", "<=") and (number < high or (number == high and strict)):
                    high, high_open = number, strict
        if allowed is not None:
            allowed -= banned
            allowed = {v for v in allowed if not isinstance(v, int | float) or isinstance(v, bool)
                       or _in_range(float(v), low, high, low_open, high_open)}
            if not allowed:
                return f"no value of {name!r} satisfies all its comparisons"
        if low > high or (low == high and (low_open or high_open)):
            return f"no value of {name!r} satisfies all its comparisons"
    tags = [p for p in parts if isinstance(p, m.TagsMatch)]
    none = {t for p in tags if p.mode == "none" for t in p.tags}
    for part in tags:
        if part.mode == "all" and none & set(part.tags):
            return "it requires a tag that it also forbids"
        if part.mode == "any" and set(part.tags) <= none:
            return "it requires a tag that it also forbids"
    return ""


def _in_range(value: float, low: float, high: float, low_open: bool, high_open: bool) -> bool:
    above = value > low if low_open else value >= low
    below = value < high if high_open else value <= high
    return above and below
