"""The typed, immutable form of a ruleset.

``highseas.ruleset.loader`` turns a validated YAML document into these frozen
dataclasses; every later stage (compiler, planner, simulator, explainer)
consumes only these, never raw dictionaries.

Each object keeps the ``json_path`` it came from so that later stages can
point back at the YAML (``Ruleset.positions`` maps paths to line/column).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Literal, TypeAlias

from highseas.ruleset.durations import Duration

# --------------------------------------------------------------------------
# Conditions (the source form; highseas.compile.ir lowers them to the IR)
# --------------------------------------------------------------------------

#: Built-in customer fields a condition may compare, with their types.
BUILTIN_FIELDS: dict[str, str] = {
    "country": "string",
    "region": "string",
    "source": "string",
    "stage": "string",
    "level": "integer",
    "name": "string",
}

FieldType = Literal["string", "integer", "number", "boolean", "date"]
CompareOp = Literal["=", "!=", "<", "<=", ">", ">=", "in", "not in"]
Scalar: TypeAlias = str | int | float | bool | date


@dataclass(frozen=True)
class IdleFor:
    """No follow-up (activity by the current owner) for at least ``duration``;
    counted from the later of the last follow-up and the start of ownership."""

    duration: Duration
    json_path: str = ""


@dataclass(frozen=True)
class NoOrderFor:
    """No order (of any status) for at least ``duration``; counted from the
    later of the last order and the start of ownership."""

    duration: Duration
    json_path: str = ""


@dataclass(frozen=True)
class OwnedFor:
    """Owned by the current owner for at least ``duration``."""

    duration: Duration
    json_path: str = ""


@dataclass(frozen=True)
class CreatedBefore:
    """Created at least ``duration`` ago."""

    duration: Duration
    json_path: str = ""


@dataclass(frozen=True)
class NeverContacted:
    """``value`` true: no activity at all since the customer was created."""

    value: bool = True
    json_path: str = ""


@dataclass(frozen=True)
class HasOpenOrder:
    """``value`` true: the customer has an order open on the as-of day
    (placed on or before it, not closed on or before it)."""

    value: bool = True
    json_path: str = ""


@dataclass(frozen=True)
class LastWonBefore:
    """The last order won (on or before the as-of day) was won at least
    ``duration`` ago; false for a customer that never won an order."""

    duration: Duration
    json_path: str = ""


@dataclass(frozen=True)
class InStageFor:
    """The customer has been in its current stage for at least ``duration``;
    false for a customer without a stage."""

    duration: Duration
    json_path: str = ""


@dataclass(frozen=True)
class WonWithin:
    """An order was won within ``duration`` before the as-of day: on one of
    its last N days, the as-of day included (``won_within: 30d`` is the
    as-of day and the 29 before it)."""

    duration: Duration
    json_path: str = ""


@dataclass(frozen=True)
class Compare:
    """``field op value`` on a built-in or declared custom field.

    Null semantics: if the field is missing or null the comparison is false,
    whatever the operator (``!=`` and ``not in`` included); ``not`` of it is
    then true. ``value`` is a tuple for ``in`` / ``not in``.
    """

    field: str
    op: CompareOp
    value: Scalar | tuple[Scalar, ...]
    json_path: str = ""


@dataclass(frozen=True)
class TagsMatch:
    """The customer's tags contain ``any`` / ``all`` / ``none`` of ``tags``."""

    mode: Literal["any", "all", "none"]
    tags: tuple[str, ...]
    json_path: str = ""


@dataclass(frozen=True)
class AllOf:
    items: tuple[Condition, ...]
    json_path: str = ""


@dataclass(frozen=True)
class AnyOf:
    items: tuple[Condition, ...]
    json_path: str = ""


@dataclass(frozen=True)
class Not:
    item: Condition
    json_path: str = ""


Condition: TypeAlias = (
    IdleFor
    | NoOrderFor
    | OwnedFor
    | CreatedBefore
    | NeverContacted
    | HasOpenOrder
    | LastWonBefore
    | InStageFor
    | WonWithin
    | Compare
    | TagsMatch
    | AllOf
    | AnyOf
    | Not
)
TimeCondition: TypeAlias = (
    IdleFor | NoOrderFor | OwnedFor | CreatedBefore | LastWonBefore | InStageFor
)
#: The YAML key of each duration condition that only becomes truer as days
#: pass without new facts ("at least this long"), and its class.
TIME_CONDITIONS: dict[str, type[TimeCondition]] = {
    "idle_for": IdleFor,
    "no_order_for": NoOrderFor,
    "owned_for": OwnedFor,
    "created_before": CreatedBefore,
    "last_won_before": LastWonBefore,
    "in_stage_for": InStageFor,
}
#: The YAML key of each of the other one-key conditions (``Compare`` is
#: written under its field's name). ``won_within`` takes a duration too, but
#: becomes false as days pass: it is no time condition for reminders.
FLAG_CONDITIONS: dict[str, type[NeverContacted | HasOpenOrder | TagsMatch | WonWithin]] = {
    "never_contacted": NeverContacted,
    "has_open_order": HasOpenOrder,
    "tags": TagsMatch,
    "won_within": WonWithin,
}

# --------------------------------------------------------------------------
# The ruleset
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Company:
    id: str
    name: str
    timezone: str
    json_path: str = "$.company"


@dataclass(frozen=True)
class CustomField:
    name: str
    type: FieldType
    description: str = ""
    json_path: str = ""


@dataclass(frozen=True)
class Tier:
    """A class of salesperson.

    A salesperson whose explicit ``tier`` attribute equals ``attribute`` is in
    this tier (explicit attributes win over tenure). Otherwise the tier whose
    tenure range ``[tenure_at_least, tenure_less_than)`` contains the
    salesperson's tenure on the as-of date. With both ``attribute`` and a
    tenure range, the salesperson must satisfy both.
    """

    id: str
    name: str = ""
    attribute: str | None = None
    tenure_at_least: Duration | None = None
    tenure_less_than: Duration | None = None
    json_path: str = ""


@dataclass(frozen=True)
class Region:
    """A named set of countries (ISO 3166 alpha-2) and/or region codes.

    ``fallbacks`` are other region ids tried in order when allocation finds no
    eligible salesperson in this region.
    """

    id: str
    name: str = ""
    countries: tuple[str, ...] = ()
    codes: tuple[str, ...] = ()
    fallbacks: tuple[str, ...] = ()
    json_path: str = ""


@dataclass(frozen=True)
class Pool:
    """A named high-seas pool covering ``regions`` (empty with ``all_regions``
    true: every region). Exactly one pool is the default: customers whose
    region no pool covers go there."""

    id: str
    name: str = ""
    regions: tuple[str, ...] = ()
    all_regions: bool = False
    default: bool = False
    json_path: str = ""


#: Where released or trimmed customers go: the pool of their region, or a pool.
@dataclass(frozen=True)
class PoolTarget:
    by_region: bool = True
    pool: str | None = None
    json_path: str = ""


@dataclass(frozen=True)
class ReleaseRule:
    """Private sea -> high seas when ``when`` holds and ``unless`` does not."""

    id: str
    when: Condition
    description: str = ""
    unless: Condition | None = None
    remind_before: tuple[Duration, ...] = ()
    target: PoolTarget = field(default_factory=PoolTarget)
    json_path: str = ""


ExcessOrder = Literal[
    "least_recently_followed_up", "oldest_owned", "newest_owned", "lowest_level"
]


@dataclass(frozen=True)
class ExcessTarget:
    """One target of a private cap's ``excess_to``: salespeople of ``tier``
    (the least loaded with room) or, when ``tier`` is None, ``pool``.

    Version 1.1: with ``when``, only trimmed customers matching it go here.
    """

    tier: str | None = None
    pool: PoolTarget = field(default_factory=PoolTarget)
    when: Condition | None = None
    json_path: str = ""


@dataclass(frozen=True)
class PrivateCap:
    """At most ``max`` private customers for salespeople of ``tier``.

    The excess is trimmed in ``excess_order`` (ties broken by customer id);
    customers with an open order, and those matching ``protect``, are never
    trimmed. Each trimmed customer goes to the first of ``excess_to`` whose
    ``when`` it matches (a target without ``when`` matches everyone) and
    that can take it: a pool always can, a tier when one of its salespeople
    has room. A customer no target takes goes to the pool of its region
    (``by_region``). Version 1 writes one target without ``when``; empty:
    every trimmed customer goes ``by_region``.
    """

    tier: str
    max: int
    excess_order: ExcessOrder = "least_recently_followed_up"
    protect: Condition | None = None
    excess_to: tuple[ExcessTarget, ...] = ()
    json_path: str = ""

    @property
    def excess_to_tier(self) -> str | None:
        """The tier of the first target without ``when`` (the version 1 form
        ``excess_to: {tier: new}``), or None."""
        first = next((t for t in self.excess_to if t.when is None), None)
        return first.tier if first is not None else None

    @property
    def excess_to_pool(self) -> PoolTarget:
        """Where the customers no target before it takes go: the pool of the
        first pool target without ``when``, else ``by_region``."""
        return next((t.pool for t in self.excess_to if t.when is None and t.tier is None),
                    PoolTarget())

    @property
    def excess_tiers(self) -> tuple[str, ...]:
        """Every tier the excess may go to, in ``excess_to`` order."""
        return tuple(dict.fromkeys(t.tier for t in self.excess_to if t.tier is not None))


@dataclass(frozen=True)
class ClaimCap:
    """How many high-seas customers a salesperson of ``tier`` may claim or be
    assigned per calendar day / ISO week / calendar month (None: no limit)."""

    tier: str
    per_day: int | None = None
    per_week: int | None = None
    per_month: int | None = None
    json_path: str = ""


#: The guards' defaults (docs/rulesets.md, ``guards``): a normal night stays
#: well below them; a typo in a release rule, or facts that stopped coming,
#: does not.
DEFAULT_MAX_FACTS_AGE = "4d"
DEFAULT_MAX_RELEASE_SHARE = 0.2
#: Without ``max_ownership_changes``: this share of the company's customers...
DEFAULT_CHANGES_SHARE = 0.15
#: ... but never fewer than this many changes.
MIN_DEFAULT_CHANGES = 100


@dataclass(frozen=True)
class Guards:
    """Limits ``run --apply`` checks before it writes (highseas.nightly.guards).

    ``max_ownership_changes`` None: :data:`DEFAULT_CHANGES_SHARE` of the
    company's customers, at least :data:`MIN_DEFAULT_CHANGES`.
    """

    max_facts_age: Duration = field(
        default_factory=lambda: Duration.parse(DEFAULT_MAX_FACTS_AGE)
    )
    max_release_share: float = DEFAULT_MAX_RELEASE_SHARE
    max_ownership_changes: int | None = None
    json_path: str = "$.guards"

    def changes_limit(self, customers: int) -> int:
        """The most ownership changes a run may make in a company of ``customers``."""
        if self.max_ownership_changes is not None:
            return self.max_ownership_changes
        return max(MIN_DEFAULT_CHANGES, int(customers * DEFAULT_CHANGES_SHARE))


@dataclass(frozen=True)
class Caps:
    private: tuple[PrivateCap, ...] = ()
    claims: tuple[ClaimCap, ...] = ()
    #: A salesperson may not claim or be assigned a customer they lost
    #: (release, trim, relay) within this duration.
    cooldown: Duration | None = None
    json_path: str = "$.caps"


Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
Strategy = Literal["round_robin", "weighted", "least_loaded", "capacity"]
RegionFallback = Literal["fallbacks", "any_region", "stay"]
#: A relay's region matching adds ``wait``: nobody of the region, the customer
#: stays out of the relay until someone of its region can take it.
RelayRegionFallback = Literal["fallbacks", "any_region", "stay", "wait"]


@dataclass(frozen=True)
class Allocation:
    """Automatic rotation of high-seas customers.

    ``weekdays`` empty means daily. ``pools`` empty means every pool.
    ``region_fallback``: when no eligible salesperson covers the customer's
    region, try the region's ``fallbacks`` in order (``fallbacks``), or anyone
    eligible (``any_region``), or leave the customer in the pool (``stay``).
    ``capacity`` (strategy ``capacity``): customers a salesperson may receive
    per 30 days; today's quota is round(capacity / 30) minus today's count.
    """

    id: str
    tiers: tuple[str, ...]
    strategy: Strategy = "round_robin"
    weekdays: tuple[Weekday, ...] = ()
    pools: tuple[str, ...] = ()
    tier_weights: tuple[tuple[str, int], ...] = ()
    rep_weights: tuple[tuple[str, int], ...] = ()
    capacity: int | None = None
    region_fallback: RegionFallback = "fallbacks"
    max_per_rep_per_run: int | None = None
    #: Version 1.1: only customers matching ``when`` are rotated.
    when: Condition | None = None
    #: Version 1.1: rep id -> customers they may receive per 30 days from
    #: this allocation, whatever the strategy (0: nothing).
    rep_capacity: tuple[tuple[str, int], ...] = ()
    json_path: str = ""


@dataclass(frozen=True)
class ActivationRelay:
    """Dormant customers matching ``when`` are passed in turn to up to
    ``rounds`` salespeople of ``tiers``, each with ``contact_window`` to make
    contact; a contact ends the relay (the customer stays). After the last
    round the customer goes to ``after_last_round``."""

    id: str
    when: Condition
    contact_window: Duration
    rounds: int
    tiers: tuple[str, ...]
    after_last_round: PoolTarget = field(default_factory=PoolTarget)
    description: str = ""
    #: Version 1.1: region matching of each round (``wait``: as ``stay``).
    region_fallback: RelayRegionFallback = "any_region"
    #: Version 1.1: at most this many customers per salesperson per run.
    max_per_rep_per_run: int | None = None
    #: Version 1.1: the holder of a lapsed round may not get the customer back
    #: (assignment or claim) within this duration.
    lapsed_cooldown: Duration | None = None
    json_path: str = ""


@dataclass(frozen=True)
class Ruleset:
    #: The language version: 1, or "1.1" (highseas.ruleset.versions).
    version: int | str
    company: Company
    tiers: tuple[Tier, ...]
    regions: tuple[Region, ...] = ()
    pools: tuple[Pool, ...] = ()
    custom_fields: tuple[CustomField, ...] = ()
    release_rules: tuple[ReleaseRule, ...] = ()
    caps: Caps = field(default_factory=Caps)
    allocations: tuple[Allocation, ...] = ()
    relays: tuple[ActivationRelay, ...] = ()
    #: What ``run --apply`` refuses (highseas.nightly.guards).
    guards: Guards = field(default_factory=Guards)
    #: Where the ruleset came from, and the sha256 of its bytes.
    source_file: str = ""
    content_hash: str = ""
    #: JSON path -> (line, column), for messages that point at the YAML.
    positions: dict[str, tuple[int, int]] = field(default_factory=dict, compare=False)

    # Convenience look-ups ------------------------------------------------
    def tier(self, tier_id: str) -> Tier:
        return next(t for t in self.tiers if t.id == tier_id)

    def region(self, region_id: str) -> Region:
        return next(r for r in self.regions if r.id == region_id)

    def pool(self, pool_id: str) -> Pool:
        return next(p for p in self.pools if p.id == pool_id)

    @property
    def default_pool(self) -> Pool:
        return next(p for p in self.pools if p.default)

    def field_type(self, name: str) -> str | None:
        if name in BUILTIN_FIELDS:
            return BUILTIN_FIELDS[name]
        for custom in self.custom_fields:
            if custom.name == name:
                return custom.type
        return None

    def position(self, json_path: str) -> tuple[int, int]:
        """Line and column of ``json_path`` (or its nearest ancestor)."""
        path = json_path
        while path:
            if path in self.positions:
                return self.positions[path]
            cut = max(path.rfind("."), path.rfind("["))
            if cut <= 0:
                break
            path = path[:cut]
        return self.positions.get("$", (1, 1))
