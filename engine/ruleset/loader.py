"""YAML ruleset -> the typed, immutable :class:`highseas.ruleset.model.Ruleset`.

Three stages, each reporting every problem it finds:

1. :mod:`highseas.ruleset.yaml_loader` parses the file safely and records positions;
2. :mod:`highseas.ruleset.schema` checks the shape against the JSON Schema;
3. this module builds the dataclasses and :mod:`highseas.ruleset.semantic` checks what
   a schema cannot (references, overlaps, conflicts).

Later stages consume only the dataclasses.
"""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path
from typing import Any, cast

from highseas import codes
from highseas.errors import Diagnostic, InvalidInputError, errors_only
from highseas.ruleset import model as m
from highseas.ruleset import versions
from highseas.ruleset.durations import Duration, DurationError
from highseas.ruleset.schema import schema_diagnostics
from highseas.ruleset.semantic import check_ruleset
from highseas.ruleset.yaml_loader import (
    join_index,
    join_key,
    load_yaml_text,
    nearest_position,
    read_bytes,
)

_SHORTHAND_FIELDS = ("stage", "source", "country", "region", "name")


class _Builder:
    """Builds model objects from schema-valid data, collecting diagnostics."""

    def __init__(self, positions: dict[str, tuple[int, int]], file: str) -> None:
        self.positions = positions
        self.file = file
        self.diagnostics: list[Diagnostic] = []
        self.field_types: dict[str, str] = dict(m.BUILTIN_FIELDS)

    def error(self, code: str, message: str, path: str, hint: str = "") -> None:
        line, column = nearest_position(self.positions, path)
        self.diagnostics.append(Diagnostic(code=code, message=message, file=self.file,
                                           line=line, column=column, json_path=path, hint=hint))

    def duration(self, text: str, path: str) -> Duration:
        try:
            return Duration.parse(text)
        except DurationError as problem:
            self.error(codes.DURATION_OUT_OF_RANGE, str(problem), path,
                       "durations run from 1 day to 20 years")
            return Duration(1, "d")

    # Conditions -----------------------------------------------------------
    def condition(self, data: dict[str, Any], path: str) -> m.Condition:
        if "field" in data:
            return self.compare(data["field"], data["op"], data["value"], path)
        ((key, value),) = data.items()
        if key in m.TIME_CONDITIONS:
            leaf = m.TIME_CONDITIONS[key](self.duration(value, join_key(path, key)), json_path=path)
            return cast(m.Condition, leaf)
        if key == "never_contacted":
            return m.NeverContacted(bool(value), json_path=path)
        if key == "has_open_order":
            return m.HasOpenOrder(bool(value), json_path=path)
        if key == "won_within":
            return m.WonWithin(self.duration(value, join_key(path, key)), json_path=path)
        if key == "tags":
            ((mode, tags),) = value.items()
            return m.TagsMatch(mode, tuple(tags), json_path=path)
        if key in _SHORTHAND_FIELDS:
            if isinstance(value, dict):
                ((mode, values),) = value.items()
                op: m.CompareOp = "in" if mode == "in" else "not in"
                return m.Compare(key, op, tuple(values), json_path=path)
            return m.Compare(key, "=", value, json_path=path)
        if key in ("all", "any"):
            items = tuple(
                self.condition(item, join_index(join_key(path, key), i))
                for i, item in enumerate(value)
            )
            if key == "all":
                return m.AllOf(items, json_path=path)
            return m.AnyOf(items, json_path=path)
        if key == "not":
            return m.Not(self.condition(value, join_key(path, key)), json_path=path)
        raise AssertionError(f"schema let through condition key {key!r}")  # pragma: no cover

    def compare(self, name: str, op: str, value: Any, path: str) -> m.Compare:
        if isinstance(value, list):
            converted: Any = tuple(self.scalar(name, v, join_index(join_key(path, "value"), i))
                                   for i, v in enumerate(value))
        else:
            converted = self.scalar(name, value, join_key(path, "value"))
        return m.Compare(name, cast(m.CompareOp, op), converted, json_path=path)

    def scalar(self, name: str, value: Any, path: str) -> Any:
        """Dates of declared date fields become :class:`datetime.date`."""
        if isinstance(value, str) and self.field_types.get(name) == "date":
            try:
                return date.fromisoformat(value)
            except ValueError:
                return value  # semantic check HS320 reports it
        return value

    def target(self, value: str | None, path: str) -> m.PoolTarget:
        if value is None or value == "by_region":
            return m.PoolTarget(by_region=True, pool=None, json_path=path)
        return m.PoolTarget(by_region=False, pool=value, json_path=path)

    # The ruleset ------------------------------------------------------------
    def ruleset(self, data: dict[str, Any], source_file: str, content_hash: str) -> m.Ruleset:
        custom_fields = tuple(
            m.CustomField(f["name"], f["type"], f.get("description", ""),
                          json_path=f"$.custom_fields[{i}]")
            for i, f in enumerate(data.get("custom_fields", []))
        )
        self.field_types = dict(m.BUILTIN_FIELDS)
        for custom in custom_fields:
            self.field_types.setdefault(custom.name, custom.type)
        company = data["company"]
        tiers = []
        for i, t in enumerate(data["tiers"]):
            path = f"$.tiers[{i}]"
            tenure = t.get("tenure", {})
            tiers.append(m.Tier(
                id=t["id"], name=t.get("name", ""), attribute=t.get("attribute"),
                tenure_at_least=self.duration(tenure["at_least"], f"{path}.tenure.at_least")
                if "at_least" in tenure else None,
                tenure_less_than=self.duration(tenure["less_than"], f"{path}.tenure.less_than")
                if "less_than" in tenure else None,
                json_path=path,
            ))
        regions = tuple(
            m.Region(r["id"], r.get("name", ""), tuple(r.get("countries", [])),
                     tuple(r.get("codes", [])), tuple(r.get("fallbacks", [])),
                     json_path=f"$.regions[{i}]")
            for i, r in enumerate(data.get("regions", []))
        )
        pools = tuple(
            m.Pool(p["id"], p.get("name", ""),
                   regions=() if p["regions"] == "all" else tuple(p["regions"]),
                   all_regions=p["regions"] == "all", default=bool(p.get("default", False)),
                   json_path=f"$.pools[{i}]")
            for i, p in enumerate(data["pools"])
        )
        rules = []
        for i, r in enumerate(data.get("release_rules", [])):
            path = f"$.release_rules[{i}]"
            rules.append(m.ReleaseRule(
                id=r["id"], when=self.condition(r["when"], f"{path}.when"),
                description=r.get("description", ""),
                unless=self.condition(r["unless"], f"{path}.unless") if "unless" in r else None,
                remind_before=tuple(self.duration(d, f"{path}.remind_before[{j}]")
                                    for j, d in enumerate(r.get("remind_before", []))),
                target=self.target(r.get("to_pool"), f"{path}.to_pool"),
                json_path=path,
            ))
        caps = self.caps(data.get("caps", {}))
        allocations = tuple(self.allocation(a, f"$.allocation[{i}]")
                            for i, a in enumerate(data.get("allocation", [])))
        relays = []
        for i, r in enumerate(data.get("activation_relay", [])):
            path = f"$.activation_relay[{i}]"
            after = r.get("after_last_round", {}).get("to_pool")
            relays.append(m.ActivationRelay(
                id=r["id"], when=self.condition(r["when"], f"{path}.when"),
                contact_window=self.duration(r["contact_window"], f"{path}.contact_window"),
                rounds=r["rounds"], tiers=tuple(r["tiers"]),
                after_last_round=self.target(after, f"{path}.after_last_round.to_pool"),
                description=r.get("description", ""),
                region_fallback=r.get("region_match", {}).get("fallback", "any_region"),
                max_per_rep_per_run=r.get("max_per_rep_per_run"),
                lapsed_cooldown=(self.duration(r["lapsed_cooldown"], f"{path}.lapsed_cooldown")
                                 if "lapsed_cooldown" in r else None),
                json_path=path,
            ))
        return m.Ruleset(
            version=versions.LATEST if versions.is_latest(data["version"]) else 1,
            company=m.Company(company["id"], company["name"], company["timezone"]),
            tiers=tuple(tiers), regions=regions, pools=pools, custom_fields=custom_fields,
            release_rules=tuple(rules), caps=caps, allocations=allocations,
            relays=tuple(relays), guards=self.guards(data.get("guards", {})),
            source_file=source_file, content_hash=content_hash,
            positions=dict(self.positions),
        )

    def guards(self, data: dict[str, Any]) -> m.Guards:
        defaults = m.Guards()
        return m.Guards(
            max_facts_age=(self.duration(data["max_facts_age"], "$.guards.max_facts_age")
                           if "max_facts_age" in data else defaults.max_facts_age),
            max_release_share=float(data.get("max_release_share",
                                             defaults.max_release_share)),
            max_ownership_changes=data.get("max_ownership_changes"),
        )

    def caps(self, data: dict[str, Any]) -> m.Caps:
        private = []
        for i, c in enumerate(data.get("private", [])):
            path = f"$.caps.private[{i}]"
            excess = c.get("excess_to")
            if isinstance(excess, list):
                targets = tuple(self.excess_target(t, f"{path}.excess_to[{j}]")
                                for j, t in enumerate(excess))
            else:
                targets = (() if excess is None
                           else (self.excess_target(excess, f"{path}.excess_to"),))
            private.append(m.PrivateCap(
                tier=c["tier"], max=c["max"],
                excess_order=c.get("excess_order", "least_recently_followed_up"),
                protect=self.condition(c["protect"], f"{path}.protect") if "protect" in c else None,
                excess_to=targets, json_path=path,
            ))
        claims = tuple(
            m.ClaimCap(c["tier"], c.get("per_day"), c.get("per_week"), c.get("per_month"),
                       json_path=f"$.caps.claims[{i}]")
            for i, c in enumerate(data.get("claims", []))
        )
        cooldown = (self.duration(data["cooldown"], "$.caps.cooldown")
                    if "cooldown" in data else None)
        return m.Caps(private=tuple(private), claims=claims, cooldown=cooldown)

    def excess_target(self, data: dict[str, Any], path: str) -> m.ExcessTarget:
        return m.ExcessTarget(
            tier=data.get("tier"),
            pool=self.target(data.get("to_pool"), f"{path}.to_pool"),
            when=self.condition(data["when"], f"{path}.when") if "when" in data else None,
            json_path=path,
        )

    def allocation(self, a: dict[str, Any], path: str) -> m.Allocation:
        schedule = a.get("schedule", "daily")
        weekdays = () if schedule == "daily" else tuple(schedule["weekly"])
        pools = a.get("pools", "all")
        weights = a.get("weights", {})
        return m.Allocation(
            id=a["id"], tiers=tuple(a["tiers"]), strategy=a.get("strategy", "round_robin"),
            weekdays=weekdays, pools=() if pools == "all" else tuple(pools),
            tier_weights=tuple(weights.get("tiers", {}).items()),
            rep_weights=tuple(weights.get("reps", {}).items()),
            capacity=a.get("capacity_per_30d"),
            region_fallback=a.get("region_match", {}).get("fallback", "fallbacks"),
            max_per_rep_per_run=a.get("max_per_rep_per_run"),
            when=self.condition(a["when"], f"{path}.when") if "when" in a else None,
            rep_capacity=tuple(a.get("capacity_per_rep", {}).items()), json_path=path,
        )


def ruleset_from_document(
    data: Any,
    positions: dict[str, tuple[int, int]],
    source_file: str = "",
    content_hash: str = "",
) -> tuple[m.Ruleset | None, list[Diagnostic]]:
    """Check and build a ruleset from an in-memory document.

    Returns the ruleset (None when there is any error) and every diagnostic,
    warnings included, sorted by line.
    """
    diagnostics = schema_diagnostics(data, positions, source_file)
    if not errors_only(diagnostics):
        diagnostics.extend(versions.version_diagnostics(data, positions, source_file))
    if errors_only(diagnostics):
        return None, diagnostics
    builder = _Builder(positions, source_file)
    ruleset = builder.ruleset(data, source_file, content_hash)
    diagnostics.extend(builder.diagnostics)
    diagnostics.extend(check_ruleset(ruleset))
    diagnostics.sort(key=lambda d: (d.line, d.column, d.code))
    if errors_only(diagnostics):
        return None, diagnostics
    return ruleset, diagnostics


def load_ruleset_with_diagnostics(
    path: str | Path,
) -> tuple[m.Ruleset | None, list[Diagnostic]]:
    """Read, parse and check a ruleset file; never raises for bad content."""
    raw = read_bytes(path)
    file = str(path)
    try:
        loaded = load_yaml_text(raw, file=file)
    except InvalidInputError as error:
        return None, list(error.diagnostics)
    return ruleset_from_document(loaded.data, loaded.positions, file,
                                 hashlib.sha256(raw).hexdigest())


def load_ruleset(path: str | Path) -> m.Ruleset:
    """Load a ruleset file; raise :class:`InvalidInputError` with all its errors."""
    ruleset, diagnostics = load_ruleset_with_diagnostics(path)
    if ruleset is None:
        raise InvalidInputError(errors_only(diagnostics))
    return ruleset
