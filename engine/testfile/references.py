"""Checks of a test case against itself and its ruleset: ids, references, expectations.

:class:`CaseReferences` reports duplicate ids, facts naming unknown customers
or salespeople, tiers, regions, pools and rules the ruleset does not have,
contradictory expectations and days out of order. It is a mixin of the
test file checker (:mod:`highseas.testfile.format`), which provides
``error``, ``diagnostics``, ``file`` and ``ruleset``.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from highseas import codes
from highseas.errors import Diagnostic, Severity
from highseas.ruleset.model import Ruleset
from highseas.ruleset.schema import matches_json_type
from highseas.ruleset.yaml_loader import join_index, join_key
from highseas.suggestions import did_you_mean
from highseas.testfile.cases import REP_KEYS, Case, Entry, Expectation, Row


class CaseReferences:
    """Semantic checks of a built case (a mixin of the checker)."""

    file: str
    ruleset: Ruleset | None
    diagnostics: list[Diagnostic]

    def error(self, code: str, message: str, path: str, hint: str = "",
              severity: Severity = Severity.ERROR) -> None:
        raise NotImplementedError

    # semantic checks ----------------------------------------------------------
    def check_case(self, case: Case) -> None:
        reps = self._unique(case.reps, "rep_id", "salesperson")
        customers = self._unique(case.customers, "customer_id", "customer")
        last_day = max((d.as_of for d in case.days), default=None)
        for row in case.reps:
            self._check_rep(row)
        for row in case.customers:
            owner = row.values.get("owner_rep_id")
            if owner is not None:
                self._ref(owner, reps, "salesperson", row, "owner")
                if row.values.get("pool_id") is not None:
                    self._row_error(row, codes.KEYS_DO_NOT_GO_TOGETHER,
                                    "a customer with an owner has no pool",
                                    "pool", "give 'owner' (private sea) or 'pool' (high seas)")
            self._check_customer(row)
        all_facts = [*case.activities, *case.orders,
                     *(r for d in case.days for r in (*d.activities, *d.orders))]
        for row in all_facts:
            self._ref(row.values.get("customer_id"), customers, "customer", row, "customer")
            if row.values.get("rep_id") is not None:
                self._ref(row.values["rep_id"], reps, "salesperson", row, "rep")
            when = row.values.get("at") or row.values.get("placed_at")
            if isinstance(when, datetime) and last_day is not None and when.date() > last_day:
                self._row_error(row, codes.FACT_AFTER_LAST_DAY,
                                f"dated {when.date()}, after the last as-of day "
                                f"{last_day}: no run can see it", "at" if "at" in row.values
                                else "placed_at", "move it before an as-of day or remove it",
                                Severity.WARNING)
        previous: date | None = None
        for day in case.days:
            if previous is not None and day.as_of <= previous:
                self.error(codes.DAYS_OUT_OF_ORDER,
                           f"day {day.as_of} does not come after {previous}",
                           join_key(day.json_path, "as_of"), "list days in increasing order")
            previous = day.as_of
            for claim in day.claims:
                if claim.rep not in reps:
                    self.error(codes.UNKNOWN_CASE_ID, f"unknown salesperson {claim.rep!r}",
                               join_key(claim.json_path, "rep"), did_you_mean(claim.rep, reps))
                if claim.customer not in customers:
                    self.error(codes.UNKNOWN_CASE_ID, f"unknown customer {claim.customer!r}",
                               join_key(claim.json_path, "customer"),
                               did_you_mean(claim.customer, customers))
            if day.expect is not None:
                self._check_expectation(day.expect, reps, customers)

    def _unique(self, rows: tuple[Row, ...], key: str, what: str) -> set[str]:
        seen: set[str] = set()
        for row in rows:
            value = row.values.get(key)
            if value in seen:
                self._row_error(row, codes.LISTED_TWICE_IN_CASE,
                                f"{what} {value!r} is listed twice", "id",
                                "ids are unique within a case")
            if value is not None:
                seen.add(value)
        return seen

    def _row_error(self, row: Row, code: str, message: str, key: str, hint: str = "",
                   severity: Severity = Severity.ERROR) -> None:
        path = join_key(row.json_path, key)
        if row.file == self.file:
            self.error(code, message, path, hint, severity)
        else:
            self.diagnostics.append(Diagnostic(code=code, message=message, file=row.file,
                                               line=row.line, column=1, json_path=path,
                                               hint=hint, severity=severity))

    def _ref(self, value: Any, known: set[str], what: str, row: Row, key: str) -> None:
        if value is not None and value not in known:
            self._row_error(row, codes.UNKNOWN_CASE_ID, f"unknown {what} {value!r}", key,
                            did_you_mean(str(value), known) or f"add it to the case's "
                            f"{'reps' if what == 'salesperson' else 'customers'}")

    def _check_rep(self, row: Row) -> None:
        rules = self.ruleset
        if rules is None:
            return
        tier = row.values.get("tier")
        if tier is not None:
            names = {t.attribute for t in rules.tiers if t.attribute} | {
                t.id for t in rules.tiers if t.attribute is None}
            if tier not in names:
                self._row_error(row, codes.UNKNOWN_CASE_REFERENCE,
                                f"tier {tier!r} is neither a tier attribute nor "
                                "a tier id of the ruleset", "tier",
                                did_you_mean(tier, names) or f"known: {', '.join(sorted(names))}")
        region_codes = _region_codes(rules)
        for region in row.values.get("regions") or []:
            if region not in region_codes:
                self._row_error(row, codes.UNKNOWN_CASE_REFERENCE,
                                f"region {region!r} is not a region, region code "
                                "or country of the ruleset", "regions",
                                did_you_mean(region, region_codes) or "")
        away_from, away_until = row.values.get("away_from"), row.values.get("away_until")
        if away_from and away_until and away_until < away_from:
            self._row_error(row, codes.KEYS_DO_NOT_GO_TOGETHER,
                            "away_until is before away_from", "away_until")

    def _check_customer(self, row: Row) -> None:
        rules = self.ruleset
        if rules is None:
            return
        pool = row.values.get("pool_id")
        pools = {p.id for p in rules.pools}
        if pool is not None and pool not in pools:
            self._row_error(row, codes.UNKNOWN_CASE_REFERENCE, f"unknown pool {pool!r}", "pool",
                            did_you_mean(pool, pools))
        types = {f.name: f.type for f in rules.custom_fields}
        for name, value in (row.values.get("attributes") or {}).items():
            if name not in types:
                self._row_error(row, codes.UNKNOWN_CASE_REFERENCE,
                                f"{name!r} is not a custom field of the ruleset",
                                "attributes", did_you_mean(name, types) or
                                "declare it under custom_fields in the ruleset")
            elif not _fits(value, types[name]):
                self._row_error(row, codes.UNKNOWN_CASE_REFERENCE,
                                f"{name} is a {types[name]} field; {value!r} "
                                "does not fit", "attributes")
        created, owned = row.values.get("created_at"), row.values.get("owned_since")
        if isinstance(created, datetime) and isinstance(owned, datetime) and owned < created:
            self._row_error(row, codes.KEYS_DO_NOT_GO_TOGETHER,
                            "owned_since is before created_at", "owned_since")

    def _check_expectation(self, expect: Expectation, reps: set[str],
                           customers: set[str]) -> None:
        seen: dict[tuple[str, str], Entry] = {}
        for entry in expect.entries:
            previous = seen.get((entry.category, entry.customer))
            if previous is not None:
                self.error(codes.LISTED_TWICE_IN_CASE,
                           f"{entry.category} {entry.customer} is expected twice "
                           f"(first at line {previous.line})", entry.json_path,
                           "a run makes one decision of a kind per customer")
            seen[(entry.category, entry.customer)] = entry
        for entry in (*expect.entries, *expect.forbidden):
            self._check_entry(entry, reps, customers)
        for entry in expect.forbidden:
            same = seen.get((entry.category, entry.customer))
            if same is not None and not entry.fields and not entry.reason:
                self.error(codes.CONTRADICTORY_EXPECTATION,
                           f"{entry.customer} is both expected and forbidden to be "
                           f"{entry.category.replace('_', ' ')} (line {same.line})",
                           entry.json_path)
        for index, customer in enumerate(expect.untouched):
            path = join_index(join_key(expect.json_path, "untouched"), index)
            if customer not in customers:
                self.error(codes.UNKNOWN_CASE_ID, f"unknown customer {customer!r}", path,
                           did_you_mean(customer, customers))
            for entry in expect.entries:
                if entry.customer == customer:
                    self.error(codes.CONTRADICTORY_EXPECTATION,
                               f"{customer} is expected untouched but also "
                               f"{entry.category.replace('_', ' ')} (line {entry.line})", path)

    def _check_entry(self, entry: Entry, reps: set[str], customers: set[str]) -> None:
        if entry.customer not in customers:
            self.error(codes.UNKNOWN_CASE_ID,
                       f"unknown customer {entry.customer!r}", entry.json_path,
                       did_you_mean(entry.customer, customers) or
                       "expectations name customers of the case")
        for key, value in entry.fields:
            where = join_key(entry.json_path, key)
            if key in REP_KEYS and value not in reps:
                self.error(codes.UNKNOWN_CASE_ID, f"unknown salesperson {value!r}", where,
                           did_you_mean(str(value), reps))
        rules = self.ruleset
        if rules is None:
            return
        fields = dict(entry.fields)
        if "rule" in fields:
            allowed = rule_ids_for(rules, entry.category)
            rule = fields["rule"]
            if rule not in allowed:
                kind = entry.category.replace("_", " ")
                self.error(codes.UNKNOWN_RULE_ID,
                           f"{rule!r} is not a rule that can have customers {kind}",
                           join_key(entry.json_path, "rule"),
                           did_you_mean(rule, allowed) or
                           ("rules here: " + ", ".join(sorted(allowed)) if allowed
                            else "the ruleset has no such rules"))
        if "pool" in fields:
            pools = {p.id for p in rules.pools}
            if fields["pool"] not in pools:
                self.error(codes.UNKNOWN_CASE_REFERENCE, f"unknown pool {fields['pool']!r}",
                           join_key(entry.json_path, "pool"), did_you_mean(fields["pool"], pools))


def rule_ids_for(ruleset: Ruleset, category: str) -> set[str]:
    """Rule ids that can decide decisions of ``category`` in ``ruleset``."""
    release = {r.id for r in ruleset.release_rules}
    relays = {r.id for r in ruleset.relays}
    allocations = {a.id for a in ruleset.allocations}
    trims = {f"caps.private.{c.tier}" for c in ruleset.caps.private}
    return {
        "released": release | relays,
        "reminded": {r.id for r in ruleset.release_rules if r.remind_before},
        "trimmed": trims,
        "assigned": allocations,
        "relayed": relays,
        "relay_ended": relays,
        "unassigned": allocations | relays | trims,
    }[category]


def _region_codes(ruleset: Ruleset) -> set[str]:
    known: set[str] = set()
    for region in ruleset.regions:
        known.add(region.id)
        known.update(region.codes)
        known.update(region.countries)
    return known


def _fits(value: Any, type_name: str) -> bool:
    """Whether ``value`` fits a custom field type (JSON types, plus ISO dates)."""
    if type_name != "date":
        return type_name in ("string", "integer", "number", "boolean") and matches_json_type(
            value, type_name
        )
    if not isinstance(value, str):
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True
