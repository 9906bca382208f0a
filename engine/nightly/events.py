"""What a nightly run and a claim check went through, told to an observer.

The planner's steps, its allocation in chunks and the claim checks emit these
events to a :class:`RunObserver` passed in by the caller (the default,
:data:`NO_OBSERVER`, ignores them). Nightly code never knows who listens:
``highseas test`` injects a coverage recorder
(:class:`highseas.testing.coverage.CoverageRecorder`), as a test runner
injects a tracer into evaluation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from highseas.nightly.reasons import ClaimRefusal, SkipReason


@dataclass(frozen=True, slots=True)
class RelayContacted:
    """Step 1: the holder contacted the customer; the relay ends."""

    relay_id: str


@dataclass(frozen=True, slots=True)
class RelayExhausted:
    """Step 1: nobody contacted the customer in the last round; it goes to the
    relay's pool."""

    relay_id: str


@dataclass(frozen=True, slots=True)
class RelayRoundStarted:
    """Steps 1 and 2: a salesperson got the customer for relay round ``round``
    (1: a new relay)."""

    relay_id: str
    round: int


@dataclass(frozen=True, slots=True)
class RuleReleased:
    """Step 3: a release rule released at least one customer."""

    rule_id: str


@dataclass(frozen=True, slots=True)
class PrivateCapTrimmed:
    """Step 4: salespeople of ``tier`` lost customers above their private cap."""

    tier: str


@dataclass(frozen=True, slots=True)
class ExcessTargetUsed:
    """Step 4: target ``number`` (1 for the first) of the ``excess_to`` of the
    private cap of ``tier``, one with a ``when``, took trimmed customers."""

    tier: str
    number: int


@dataclass(frozen=True, slots=True)
class ReminderSent:
    """Step 5: a rule's reminder ``offset`` (as the ruleset writes it) was sent."""

    rule_id: str
    offset: str


@dataclass(frozen=True, slots=True)
class CustomerAssigned:
    """Step 6: an allocation assigned a customer; ``fallback`` when a
    salesperson of another region than the customer's got it."""

    allocation_id: str
    fallback: bool


@dataclass(frozen=True, slots=True)
class SalespersonSkipped:
    """Allocation passed ``rep_id`` (of ``tier``) over for ``reason``: emitted
    once per allocation call, tier and reason."""

    allocation_id: str
    rep_id: str
    tier: str | None
    reason: SkipReason


@dataclass(frozen=True, slots=True)
class ClaimRefused:
    """A claim check found ``refusal`` (one event per reason)."""

    refusal: ClaimRefusal


Event = (RelayContacted | RelayExhausted | RelayRoundStarted | RuleReleased
         | PrivateCapTrimmed | ExcessTargetUsed | ReminderSent | CustomerAssigned
         | SalespersonSkipped | ClaimRefused)


class RunObserver(Protocol):
    """Whoever wants to know what a run went through."""

    def notice(self, event: Event) -> None: ...


class _NoObserver:
    """Listens to nothing."""

    def notice(self, event: Event) -> None:
        return None


NO_OBSERVER: RunObserver = _NoObserver()
