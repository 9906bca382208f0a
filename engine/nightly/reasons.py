"""Typed reasons: why a salesperson was passed over, why a claim is refused.

Allocation and claim checks decide with these values; words are only made at
the edge, by :func:`render_skip` and :func:`render_refusal`, which give the
exact sentences plans, claim answers and reports have always shown. Code that
needs to know *why* (coverage, summaries) reads the ``kind`` and the details,
never the sentence.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import Enum
from functools import lru_cache


class SkipKind(Enum):
    """Why allocation passed a salesperson over for a customer."""

    NOT_IN_TIERS = "not in eligible tiers"
    INACTIVE = "inactive"
    AWAY = "away"
    OVER_PRIVATE_CAP = "over private cap"
    CLAIM_CAP = "claim cap"
    PER_RUN_LIMIT = "per-run limit"
    CAPACITY_QUOTA = "capacity quota for today"
    CAPACITY_30_DAYS = "capacity per 30 days"
    WEIGHT_ZERO = "weight 0"
    #: One of the request's ``exclude_reps`` (tried in the relay, the owner).
    EXCLUDED = "excluded"
    COOLDOWN = "in cooldown"
    WRONG_REGION = "wrong region"
    SKIPPED = "skipped"


@dataclass(frozen=True, slots=True)
class SkipReason:
    """Why one salesperson was passed over, with the details its sentence
    shows: ``used``/``limit`` (private count and cap, claim cap, per-run
    limit, capacity), ``period`` (``day``, ``week`` or ``month`` of a claim
    cap), ``until`` (the last day of an absence), ``words`` (the request's
    own words for an exclusion).

    Its hash is computed once: plans hash skip reasons by the million (the
    summaries of unassigned customers are memoised on them)."""

    kind: SkipKind
    limit: int | None = None
    used: int | None = None
    period: str = ""
    until: date | None = None
    words: str = ""
    _hash: int = field(default=0, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        key = (self.kind, self.limit, self.used, self.period, self.until, self.words)
        object.__setattr__(self, "_hash", hash(key))

    def __hash__(self) -> int:
        return self._hash


NOT_IN_TIERS = SkipReason(SkipKind.NOT_IN_TIERS)
INACTIVE = SkipReason(SkipKind.INACTIVE)
IN_COOLDOWN = SkipReason(SkipKind.COOLDOWN)
WRONG_REGION = SkipReason(SkipKind.WRONG_REGION)
WEIGHT_ZERO = SkipReason(SkipKind.WEIGHT_ZERO)
SKIPPED = SkipReason(SkipKind.SKIPPED)


@lru_cache(maxsize=256)
def excluded(words: str) -> SkipReason:
    """An exclusion told in the request's ``words`` (one value per wording)."""
    return SkipReason(SkipKind.EXCLUDED, words=words)


@lru_cache(maxsize=4096)
def render_skip(reason: SkipReason) -> str:
    """The sentence of a skip reason (``claim cap per day reached (10)``)."""
    kind = reason.kind
    if kind is SkipKind.AWAY:
        if reason.until is None:
            return "away"
        # away_until is the last day away (inclusive): say when they are back.
        back = reason.until + timedelta(days=1)
        return f"away through {reason.until.isoformat()}, back on {back.isoformat()}"
    if kind is SkipKind.OVER_PRIVATE_CAP:
        return f"over private cap {reason.used}/{reason.limit}"
    if kind is SkipKind.EXCLUDED:
        return reason.words
    if kind in _WITH_LIMIT:
        return f"{skip_label(reason)} ({reason.limit})"
    return kind.value


@lru_cache(maxsize=4096)
def skip_label(reason: SkipReason) -> str:
    """A skip reason without its details, as unassigned customers' summaries
    count them (``away``, ``claim cap per day reached``)."""
    kind = reason.kind
    if kind is SkipKind.CLAIM_CAP:
        return f"claim cap per {reason.period} reached"
    if kind in _WITH_LIMIT:
        return f"{kind.value} reached"
    if kind in (SkipKind.AWAY, SkipKind.EXCLUDED):
        return reason.words or kind.value
    return render_skip(reason)


#: Kinds whose sentence ends in the limit reached, in parentheses.
_WITH_LIMIT = frozenset({
    SkipKind.CLAIM_CAP, SkipKind.PER_RUN_LIMIT, SkipKind.CAPACITY_QUOTA,
    SkipKind.CAPACITY_30_DAYS,
})


# --------------------------------------------------------------------------
# Claims
# --------------------------------------------------------------------------


class RefusalKind(Enum):
    """Why a claim is refused."""

    NOT_IN_HIGH_SEAS = "not in the high seas"
    INACTIVE = "not active"
    CLAIM_CAP = "claim cap"
    PRIVATE_CAP = "private cap"
    COOLDOWN = "in cooldown"
    REGION = "region not allowed"


@dataclass(frozen=True, slots=True)
class ClaimRefusal:
    """One reason a claim of ``customer_id`` by ``rep_id`` is refused, with the
    details its sentence shows: ``owner`` (who holds the customer), ``tier``,
    ``period``/``used``/``limit`` (a claim cap; ``used``/``limit`` also the
    private cap), ``until`` (a cooldown's end), ``region`` and ``covers``
    (the customer's region and the salesperson's)."""

    kind: RefusalKind
    rep_id: str
    customer_id: str
    owner: str | None = None
    tier: str | None = None
    period: str = ""
    used: int = 0
    limit: int = 0
    until: date | None = None
    region: str | None = None
    covers: tuple[str, ...] = ()


def render_refusal(refusal: ClaimRefusal) -> str:
    """The sentence of a claim refusal, as claim answers show it."""
    kind = refusal.kind
    if kind is RefusalKind.NOT_IN_HIGH_SEAS:
        who = ("you already own it" if refusal.owner == refusal.rep_id
               else f"owned by {refusal.owner}")
        return f"{refusal.customer_id} is not in the high seas ({who})"
    if kind is RefusalKind.INACTIVE:
        return f"{refusal.rep_id} is not active"
    if kind is RefusalKind.CLAIM_CAP:
        return (f"claim cap for the {refusal.tier} tier reached this {refusal.period} "
                f"({refusal.used}/{refusal.limit})")
    if kind is RefusalKind.PRIVATE_CAP:
        return f"private cap reached ({refusal.used}/{refusal.limit} for {refusal.tier})"
    if kind is RefusalKind.COOLDOWN:
        until = refusal.until.isoformat() if refusal.until else ""
        return f"in cooldown for {refusal.customer_id} until {until}"
    return (f"region not allowed: {refusal.customer_id} is in {refusal.region}, "
            f"{refusal.rep_id} covers {', '.join(refusal.covers)}")
