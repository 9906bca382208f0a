"""Checks on a ruleset that a JSON Schema cannot express.

:func:`check_ruleset` returns every problem it finds as a Diagnostic with
the YAML line of the offending key: references to tiers, regions, pools and
fields that do not exist; duplicate ids; a country in two regions; tiers
that overlap or leave a gap; reminders not shorter than the release period;
conflicts between caps, cooldown and release periods; release rules that
can never fire or are shadowed by another rule (warnings; the reasoning
about conditions is :mod:`highseas.ruleset.condition_logic`).

The checks are grouped by the ruleset's sections, one class each (structure;
conditions and release rules; caps, allocations and relays), sharing the
references to ids and the list of diagnostics.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import date
from typing import Any

from highseas import codes
from highseas.errors import Diagnostic, Severity
from highseas.ruleset import model as m
from highseas.ruleset.condition_logic import never_fires, release_period, shadows, walk
from highseas.ruleset.yaml_loader import join_index, join_key
from highseas.suggestions import did_you_mean

#: ISO 3166-1 alpha-2 country codes (officially assigned).
ISO_COUNTRIES = frozenset(
    """AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO
    BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK
    DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR
    GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM
    KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP
    MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL
    PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST
    SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG
    VI VN VU WF WS YE YT ZA ZM ZW""".split()
)
_COUNTRY_HINTS = {"UK": "GB", "EL": "GR", "EN": "GB"}

_TIME_LEAVES = tuple(m.TIME_CONDITIONS.values())


class _References:
    """The ruleset under check, its ids and the diagnostics found so far."""

    def __init__(self, ruleset: m.Ruleset) -> None:
        self.rs = ruleset
        self.found: list[Diagnostic] = []
        self.tier_ids = list(dict.fromkeys(t.id for t in ruleset.tiers))
        self.region_ids = list(dict.fromkeys(r.id for r in ruleset.regions))
        self.pool_ids = list(dict.fromkeys(p.id for p in ruleset.pools))

    def report(self, code: str, message: str, path: str, hint: str = "",
               warning: bool = False) -> None:
        line, column = self.rs.position(path)
        self.found.append(Diagnostic(
            code=code, message=message, file=self.rs.source_file, line=line, column=column,
            json_path=path, hint=hint,
            severity=Severity.WARNING if warning else Severity.ERROR,
        ))

    # References -------------------------------------------------------------
    def tier_ref(self, tier: str, path: str) -> None:
        if tier not in self.tier_ids:
            self.report(codes.UNKNOWN_TIER, f"unknown tier {tier!r}", path,
                        did_you_mean(tier, self.tier_ids) or
                        f"declared tiers: {', '.join(self.tier_ids)}")

    def region_ref(self, region: str, path: str) -> None:
        if region not in self.region_ids:
            self.report(codes.UNKNOWN_REGION, f"unknown region {region!r}", path,
                        did_you_mean(region, self.region_ids) or
                        (f"declared regions: {', '.join(self.region_ids)}"
                         if self.region_ids else "no regions are declared"))

    def pool_ref(self, target: m.PoolTarget) -> None:
        if target.pool is not None and target.pool not in self.pool_ids:
            self.report(codes.UNKNOWN_POOL, f"unknown pool {target.pool!r}", target.json_path,
                        did_you_mean(target.pool, self.pool_ids) or
                        f"declared pools: {', '.join(self.pool_ids)}, or by_region")

    def unique(self, items: Iterable[tuple[str, str]], what: str, code: str = codes.DUPLICATE_ID,
               hint: str = "ids must be unique; rename one") -> None:
        seen: dict[str, str] = {}
        for ident, path in items:
            if ident in seen:
                line, _ = self.rs.position(seen[ident])
                self.report(code, f"{what} {ident!r} is declared twice (first at line {line})",
                            path, hint)
            else:
                seen[ident] = path

    def country(self, code: Any, path: str) -> None:
        if isinstance(code, str) and code not in ISO_COUNTRIES:
            hint = (f"did you mean {_COUNTRY_HINTS[code]!r}?" if code in _COUNTRY_HINTS
                    else did_you_mean(code, ISO_COUNTRIES)
                    or "use ISO 3166 alpha-2 codes such as DE, US, CN")
            self.report(codes.NOT_ISO_COUNTRY,
                        f"{code!r} is not an ISO 3166 country code", path, hint)


class _StructureChecks(_References):
    """Company, custom fields, tiers, regions and pools."""

    def check_company(self) -> None:
        name = self.rs.company.timezone
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            from zoneinfo import available_timezones

            self.report(codes.UNKNOWN_TIMEZONE, f"unknown time zone {name!r}", "$.company.timezone",
                        did_you_mean(name, available_timezones())
                        or "use an IANA name such as Europe/Berlin or Asia/Shanghai")

    def check_custom_fields(self) -> None:
        for custom in self.rs.custom_fields:
            if custom.name in m.BUILTIN_FIELDS:
                self.report(codes.SHADOWS_BUILTIN_FIELD,
                            f"custom field {custom.name!r} has the name of a built-in "
                            "field", custom.json_path + ".name",
                            "built-in fields: " + ", ".join(m.BUILTIN_FIELDS))

    def check_tiers(self) -> None:
        groups: dict[str | None, list[tuple[m.Tier, int, float]]] = {}
        for position, tier in enumerate(self.rs.tiers):
            if is_catch_all(tier):
                if position != len(self.rs.tiers) - 1:
                    self.report(codes.CATCH_ALL_TIER_NOT_LAST,
                                f"tier {tier.id!r} covers every tenure (`tenure: {{}}`), so "
                                "the tiers after it can never match", tier.json_path + ".tenure",
                                "move the catch-all tier to the end of the list")
                continue
            low = tier.tenure_at_least.approx_days() if tier.tenure_at_least else 0
            high = (tier.tenure_less_than.approx_days() if tier.tenure_less_than
                    else float("inf"))
            if low >= high:
                self.report(codes.EMPTY_TENURE,
                            f"tier {tier.id!r} can never match: its tenure range "
                            "is empty (at_least is not below less_than)", tier.json_path +
                            ".tenure", "at_least must be shorter than less_than")
                continue
            groups.setdefault(tier.attribute, []).append((tier, low, high))
        catch_all = any(is_catch_all(t) for t in self.rs.tiers)
        if groups and None not in groups and not catch_all:
            self.report(codes.TIERS_GAP,
                        "every tier selects an attribute, so a salesperson without "
                        "one (or whose attribute names no tier) is in no tier", "$.tiers",
                        "add tenure-only tiers that cover every tenure, e.g. "
                        "{id: new, tenure: {less_than: 1y}} and "
                        "{id: veteran, tenure: {at_least: 1y}}")
        for attribute, members in groups.items():
            members.sort(key=lambda item: item[1])
            for i, (tier, low, high) in enumerate(members):
                for other, other_low, other_high in members[:i]:
                    if low < other_high and other_low < high:
                        why = (f"both select attribute {attribute!r} and their " if attribute
                               else "their ")
                        self.report(codes.TIERS_OVERLAP,
                                    f"tiers {other.id!r} and {tier.id!r} overlap: "
                                    f"{why}tenure ranges intersect", tier.json_path,
                                    "a salesperson must be in exactly one tier; make the "
                                    "tenure ranges meet without overlapping")
            if attribute is not None or catch_all:
                continue  # a catch-all tier takes everyone the others leave
            reach = 0.0
            for tier, low, high in members:
                if low > reach:
                    self.report(codes.TIERS_GAP, f"tiers leave a gap: no tier covers a tenure from "
                                f"{_days(reach)} to {_days(low)}", tier.json_path + ".tenure",
                                "make one tier's less_than equal the next tier's at_least")
                reach = max(reach, high)
            if reach != float("inf"):
                last = members[-1][0]
                self.report(codes.TIERS_GAP, f"tiers leave a gap: no tier covers a tenure of "
                            f"{_days(reach)} or more", last.json_path + ".tenure",
                            "give the most senior tier only at_least")

    def check_regions(self) -> None:
        owner: dict[str, str] = {}
        for region in self.rs.regions:
            if not region.countries and not region.codes:
                self.report(codes.EMPTY_REGION,
                            f"region {region.id!r} has no countries and no codes",
                            region.json_path, "list its countries or region codes")
            for i, country in enumerate(region.countries):
                path = f"{region.json_path}.countries[{i}]"
                self.country(country, path)
                self.claim_member(owner, country, region.id, path, "country")
            for i, code in enumerate(region.codes):
                self.claim_member(owner, "code:" + code, region.id,
                                  f"{region.json_path}.codes[{i}]", "region code")
            for i, fallback in enumerate(region.fallbacks):
                path = f"{region.json_path}.fallbacks[{i}]"
                if fallback == region.id:
                    self.report(codes.REGION_SELF_FALLBACK,
                                f"region {region.id!r} falls back to itself", path,
                                "list other regions only")
                else:
                    self.region_ref(fallback, path)

    def claim_member(self, owner: dict[str, str], key: str, region: str, path: str,
                     what: str) -> None:
        shown = key.removeprefix("code:")
        if key in owner and owner[key] != region:
            self.report(codes.CODE_IN_TWO_REGIONS,
                        f"{what} {shown!r} is in two regions: {owner[key]!r} and "
                        f"{region!r}", path, "a customer must map to one region; remove one")
        owner.setdefault(key, region)

    def check_pools(self) -> None:
        defaults = [p for p in self.rs.pools if p.default]
        if not defaults:
            self.report(codes.DEFAULT_POOL_COUNT, "no pool is the default", "$.pools",
                        "mark exactly one pool with 'default: true'; it receives customers "
                        "whose region no pool covers")
        for extra in defaults[1:]:
            self.report(codes.DEFAULT_POOL_COUNT,
                        f"more than one default pool: {defaults[0].id!r} and "
                        f"{extra.id!r}", extra.json_path + ".default",
                        "exactly one pool is the default")
        covered: dict[str, str] = {}
        catch_all: list[m.Pool] = []
        for pool in self.rs.pools:
            if pool.all_regions:
                catch_all.append(pool)
            for i, region in enumerate(pool.regions):
                path = f"{pool.json_path}.regions[{i}]"
                self.region_ref(region, path)
                if region in covered:
                    self.report(codes.REGION_IN_TWO_POOLS,
                                f"region {region!r} is covered by two pools: "
                                f"{covered[region]!r} and {pool.id!r}", path,
                                "released customers of a region go to one pool")
                covered.setdefault(region, pool.id)
        for pool in catch_all[1:]:
            self.report(codes.REGION_IN_TWO_POOLS,
                        f"two pools cover all regions: {catch_all[0].id!r} and "
                        f"{pool.id!r}", pool.json_path + ".regions",
                        "only one pool may say 'regions: all'")


class _RuleChecks(_References):
    """Conditions and release rules."""

    # Conditions ---------------------------------------------------------------
    def conditions(self, condition: m.Condition) -> None:
        for leaf in walk(condition):
            if isinstance(leaf, m.Compare):
                self.compare(leaf)

    def value_path(self, leaf: m.Compare, index: int | None) -> str:
        """Where the value (the ``index``-th of a list) of a comparison is
        written, whichever of its forms the ruleset uses: ``{field: x, op:
        in, value: [...]}``, ``{x: value}`` or ``{x: {in: [...]}}``."""
        shorthand = join_key(leaf.json_path, leaf.field)
        if index is None:
            candidates = [join_key(leaf.json_path, "value"), shorthand]
        else:
            candidates = [join_index(join_key(leaf.json_path, "value"), index),
                          *(join_index(join_key(shorthand, mode), index)
                            for mode in ("in", "not_in"))]
        return next((c for c in candidates if c in self.rs.positions), leaf.json_path)

    def compare(self, leaf: m.Compare) -> None:
        kind = self.rs.field_type(leaf.field)
        path = leaf.json_path
        if kind is None:
            known = list(m.BUILTIN_FIELDS) + [c.name for c in self.rs.custom_fields]
            self.report(codes.UNDECLARED_FIELD, f"unknown field {leaf.field!r}", path + ".field",
                        did_you_mean(leaf.field, known) or
                        "declare it under custom_fields, or use a built-in field: "
                        + ", ".join(m.BUILTIN_FIELDS))
            return
        listed = leaf.op in ("in", "not in")
        if listed != isinstance(leaf.value, tuple):
            self.report(codes.VALUE_DOES_NOT_FIT, f"operator {leaf.op!r} needs " +
                        ("a list of values" if listed else "a single value"), path + ".value",
                        "write value: [a, b] for in / not in")
            return
        if kind == "boolean" and leaf.op in ("<", "<=", ">", ">="):
            self.report(codes.VALUE_DOES_NOT_FIT,
                        f"operator {leaf.op!r} does not apply to true/false field "
                        f"{leaf.field!r}", path + ".op", "use = or !=")
            return
        values = leaf.value if isinstance(leaf.value, tuple) else (leaf.value,)
        for index, value in enumerate(values):
            at = self.value_path(leaf, index if listed else None)
            if not _fits(kind, value):
                self.report(codes.VALUE_DOES_NOT_FIT, f"{value!r} is not a valid {kind} for field "
                            f"{leaf.field!r}", at,
                            "dates are written YYYY-MM-DD" if kind == "date" else
                            f"{leaf.field!r} holds values of type {kind}")
                return
            if leaf.field == "country":
                self.country(value, at)
            if leaf.field == "region" and isinstance(value, str):
                region_codes = [c for r in self.rs.regions for c in r.codes]
                if value not in self.region_ids and value not in region_codes:
                    self.report(codes.UNKNOWN_REGION, f"unknown region {value!r}", at,
                                did_you_mean(value, self.region_ids + region_codes)
                                or "compare with a declared region id or region code")

    def check_release_rules(self) -> None:
        rules = self.rs.release_rules
        periods: list[tuple[m.ReleaseRule, int]] = []
        for rule in rules:
            self.conditions(rule.when)
            if rule.unless is not None:
                self.conditions(rule.unless)
            self.pool_ref(rule.target)
            period = release_period(rule.when)
            if period is not None:
                periods.append((rule, period))
            for i, remind in enumerate(rule.remind_before):
                path = f"{rule.json_path}.remind_before[{i}]"
                if period is None:
                    self.report(codes.REMINDER_WITHOUT_TIME,
                                f"rule {rule.id!r} has reminders but no time-based "
                                "condition (idle_for, no_order_for, owned_for, created_before) "
                                "to count them back from", path,
                                "remove remind_before or add a time condition")
                elif remind.approx_days() >= period:
                    self.report(codes.REMINDER_TOO_LONG,
                                f"reminder {remind} is not shorter than the release "
                                f"period of rule {rule.id!r} ({_days(period)})", path,
                                "a reminder must come before the release and after the "
                                "period starts")
            reason = never_fires(rule.when, rule.unless)
            if reason:
                self.report(codes.RULE_NEVER_FIRES, f"rule {rule.id!r} can never fire: {reason}",
                            rule.json_path + ".when", "check the conditions", warning=True)
        for i, later in enumerate(rules):
            for j, earlier in enumerate(rules):
                if i == j or (j > i and shadows(later, earlier)):
                    continue
                if shadows(earlier, later):
                    self.report(codes.RULE_SHADOWED, f"rule {later.id!r} is shadowed by rule "
                                f"{earlier.id!r}: whenever it would fire, {earlier.id!r} "
                                "has already released the customer", later.json_path + ".when",
                                "remove one rule or make their conditions differ",
                                warning=True)
                    break
        cooldown = self.rs.caps.cooldown
        if cooldown is not None and periods:
            # A cooldown beyond a short release period is common practice (30
            # days after a 14-day release); longer than every release period
            # and than a quarter, it keeps a salesperson from a customer they
            # lost longer than any customer is kept: likely a mistake.
            rule, longest = max(periods, key=lambda item: item[1])
            if cooldown.approx_days() > max(longest, COOLDOWN_FREE_DAYS):
                self.report(codes.COOLDOWN_TOO_LONG,
                            f"cooldown {cooldown} is longer than every release period "
                            f"(the longest: rule {rule.id!r}, {_days(longest)}) and than "
                            f"{COOLDOWN_FREE_DAYS} days", "$.caps.cooldown",
                            "a salesperson could not claim back a customer for longer than "
                            "customers are kept; shorten the cooldown", warning=True)


class _AllocationChecks(_RuleChecks):
    """Caps, allocations and relays (their conditions are checked as rules' are)."""

    def check_caps(self) -> None:
        caps = self.rs.caps
        self.unique(((c.tier, c.json_path + ".tier") for c in caps.private),
                    "private cap for tier", codes.TWO_CAPS_FOR_TIER, "merge the two caps into one")
        self.unique(((c.tier, c.json_path + ".tier") for c in caps.claims),
                    "claim cap for tier", codes.TWO_CAPS_FOR_TIER, "merge the two caps into one")
        for cap in caps.private:
            self.tier_ref(cap.tier, cap.json_path + ".tier")
            if cap.protect is not None:
                self.conditions(cap.protect)
            self.excess_targets(cap)
        for claim in caps.claims:
            self.tier_ref(claim.tier, claim.json_path + ".tier")
            limits = [("per_day", claim.per_day), ("per_week", claim.per_week),
                      ("per_month", claim.per_month)]
            given = [(name, value) for name, value in limits if value is not None]
            for (small, small_value), (big, big_value) in zip(given, given[1:], strict=False):
                assert small_value is not None and big_value is not None
                if small_value > big_value:
                    self.report(codes.CLAIM_CAP_NEVER_APPLIES,
                                f"{small} {small_value} is larger than {big} "
                                f"{big_value}, so it never applies", claim.json_path + "."
                                + small, f"lower {small} or raise {big}", warning=True)

    def excess_targets(self, cap: m.PrivateCap) -> None:
        # A pool target without `when` takes every customer that reaches it; a
        # tier target passes on those nobody of the tier has room for.
        takes_all: int | None = None
        for number, target in enumerate(cap.excess_to, start=1):
            if takes_all is not None:
                self.report(codes.EXCESS_TARGET_NEVER_USED,
                            f"excess_to target {number} of the {cap.tier!r} cap is never "
                            f"used: target {takes_all} before it has no `when` and sends "
                            "every customer left to a pool", target.json_path,
                            "move the pool target without `when` to the end of the list, "
                            "or give it a `when`")
            if target.when is not None:
                self.conditions(target.when)
                reason = never_fires(target.when, None)
                if reason:
                    self.report(codes.RULE_NEVER_FIRES,
                                f"excess_to target {number} of the {cap.tier!r} cap can never "
                                f"take a customer: {reason}", target.json_path + ".when",
                                "check the conditions", warning=True)
            if target.tier is None:
                self.pool_ref(target.pool)
                if target.when is None and takes_all is None:
                    takes_all = number
                continue
            path = target.json_path + ".tier"
            self.tier_ref(target.tier, path)
            if target.tier == cap.tier:
                self.report(codes.EXCESS_TO_SAME_TIER,
                            f"the excess of tier {cap.tier!r} goes back to the same "
                            "tier", path, "send it to another tier or to a pool")

    def check_allocations(self) -> None:
        for allocation in self.rs.allocations:
            path = allocation.json_path
            if allocation.when is not None:
                self.conditions(allocation.when)
                reason = never_fires(allocation.when, None)
                if reason:
                    self.report(codes.RULE_NEVER_FIRES,
                                f"allocation {allocation.id!r} can never rotate anyone: {reason}",
                                path + ".when", "check the conditions", warning=True)
            for i, tier in enumerate(allocation.tiers):
                self.tier_ref(tier, f"{path}.tiers[{i}]")
            for i, pool in enumerate(allocation.pools):
                if pool not in self.pool_ids:
                    self.report(codes.UNKNOWN_POOL, f"unknown pool {pool!r}", f"{path}.pools[{i}]",
                                did_you_mean(pool, self.pool_ids) or
                                f"declared pools: {', '.join(self.pool_ids)}")
            weighted = allocation.strategy == "weighted"
            has_weights = bool(allocation.tier_weights or allocation.rep_weights)
            if weighted and not has_weights:
                self.report(codes.STRATEGY_SETTINGS,
                            "strategy 'weighted' needs weights", path + ".strategy",
                            "add weights: {tiers: {new: 2, veteran: 1}}")
            if has_weights and not weighted:
                self.report(codes.STRATEGY_SETTINGS,
                            f"weights are ignored by strategy {allocation.strategy!r}",
                            path + ".weights", "remove them or use strategy: weighted",
                            warning=True)
            for tier, _ in allocation.tier_weights:
                wpath = f"{path}.weights.tiers.{tier}"
                if tier not in self.tier_ids:
                    self.tier_ref(tier, wpath)
                elif tier not in allocation.tiers:
                    self.report(codes.STRATEGY_SETTINGS,
                                f"tier {tier!r} has a weight but is not eligible in "
                                "this allocation", wpath, "add it to tiers or remove the weight",
                                warning=True)
            if allocation.strategy == "capacity" and allocation.capacity is None:
                self.report(codes.STRATEGY_SETTINGS, "strategy 'capacity' needs capacity_per_30d",
                            path + ".strategy", "add capacity_per_30d: 60")
            if allocation.capacity is not None and allocation.strategy != "capacity":
                self.report(codes.STRATEGY_SETTINGS, f"capacity_per_30d is ignored by strategy "
                            f"{allocation.strategy!r}", path + ".capacity_per_30d",
                            "remove it or use strategy: capacity", warning=True)

    def check_relays(self) -> None:
        for relay in self.rs.relays:
            self.conditions(relay.when)
            for i, tier in enumerate(relay.tiers):
                self.tier_ref(tier, f"{relay.json_path}.tiers[{i}]")
            self.pool_ref(relay.after_last_round)
            reason = never_fires(relay.when, None)
            if reason:
                self.report(codes.RULE_NEVER_FIRES, f"relay {relay.id!r} can never start: {reason}",
                            relay.json_path + ".when", "check the conditions", warning=True)


#: A cooldown up to this many days never warns (HS316).
COOLDOWN_FREE_DAYS = 90


class _Checker(_StructureChecks, _AllocationChecks):
    """Every check, in the order of the ruleset's sections."""

    # Checks -----------------------------------------------------------------
    def run(self) -> list[Diagnostic]:
        rs = self.rs
        self.check_company()
        self.unique(((t.id, t.json_path + ".id") for t in rs.tiers), "tier")
        self.unique(((r.id, r.json_path + ".id") for r in rs.regions), "region")
        self.unique(((p.id, p.json_path + ".id") for p in rs.pools), "pool")
        self.unique(((f.name, f.json_path + ".name") for f in rs.custom_fields), "custom field")
        self.unique(
            [(r.id, r.json_path + ".id") for r in rs.release_rules]
            + [(a.id, a.json_path + ".id") for a in rs.allocations]
            + [(r.id, r.json_path + ".id") for r in rs.relays],
            "rule id",
        )
        self.check_custom_fields()
        self.check_tiers()
        self.check_regions()
        self.check_pools()
        self.check_release_rules()
        self.check_caps()
        self.check_allocations()
        self.check_relays()
        return sorted(self.found, key=lambda d: (d.line, d.column, d.code))


def is_catch_all(tier: m.Tier) -> bool:
    """A tier for every salesperson not in an earlier tier (``tenure: {}``)."""
    return tier.attribute is None and tier.tenure_at_least is None \
        and tier.tenure_less_than is None


def _days(days: float) -> str:
    return "no limit" if days == float("inf") else f"{int(days)} days"


#: Integers in facts and conditions are 64-bit (DuckDB BIGINT); a larger
#: comparison value would only fail later, at run time.
_INT64 = range(-(2**63), 2**63)


def _fits(kind: str, value: object) -> bool:
    if kind == "string":
        return isinstance(value, str)
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool) and value in _INT64
    if kind == "number":
        if isinstance(value, float):
            return math.isfinite(value)
        return isinstance(value, int) and not isinstance(value, bool) and value in _INT64
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "date":
        return isinstance(value, date)
    return False


def check_ruleset(ruleset: m.Ruleset) -> list[Diagnostic]:
    """Every semantic problem of ``ruleset`` (errors and warnings), sorted by line."""
    return _Checker(ruleset).run()
