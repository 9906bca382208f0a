"""Compile a ruleset, as of a date, into named decision points and the
durable-rules definitions that evaluate them.

Decision points (each one durable-rules ruleset, see docs/compiler.md):

* ``release:<rule_id>`` - ``when AND NOT unless``;
* ``exempt:<rule_id>`` - ``unless`` alone (for explanations);
* ``remind:<rule_id>:<offset>`` - the release condition as of ``as_of + offset``
  ("would be released within offset");
* ``relay:<relay_id>`` - the relay's ``when``;
* ``allocate:<allocation_id>`` - an allocation's ``when`` (version 1.1; only
  allocations that have one);
* ``protect:<tier>`` - ``caps.private[*].protect``;
* ``excess:<tier>:<n>`` - the ``when`` of target ``n`` (1 for the first) of
  the tier's ``caps.private[*].excess_to`` (version 1.1; only targets that
  have one).

Nothing a consultant wrote reaches durable-rules: rulesets are named
``hs_<hash>``, properties ``f0``, ``f1``, ... (never ``id``/``sid``), and every
definition passes the size guards that keep durable-rules from hanging.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

from highseas import codes
from highseas.compile import ir, trace
from highseas.compile import to_durable as durable_form
from highseas.compile import to_sql as sql_form
from highseas.errors import EngineError
from highseas.ruleset import model
from highseas.ruleset.durations import Duration
from highseas.suggestions import did_you_mean

PointKind = Literal["release", "exempt", "remind", "relay", "allocate", "protect", "excess"]

# Size guards, measured on durable-rules 2.0.28 (docs/compiler.md): 511
# tests after one node hang set_rulesets for good (a full 512-bucket table),
# 16 $and/$or in one rule fail with code 113 (2 entries each in a sequence of
# 32), 254 properties in one event crash the process.
MAX_LEAVES_PER_COLUMN = 200
MAX_LEAVES = 400
MAX_AND_OR_PER_RULE = 15
MAX_HIT_RULES = 64
MAX_PROPERTIES = 200

#: Rule names inside each durable ruleset and their priorities (lower first).
HIT_RULE = "hit"
MISS_RULE = "miss"
HIT_PRIORITY = 1
MISS_PRIORITY = 2
#: Matched events handed to one action call (durable-rules' ``cap``).
ACTION_CAP = 5000

#: durable-rules native error codes (rules.h of durable-rules 2.0.28).
DURABLE_ERROR_CODES: dict[int, str] = {
    1: "event not handled (no rule matched)",
    2: "event already observed (duplicate message id)",
    101: "out of memory",
    102: "unexpected type in the definition",
    103: "identifier too long",
    104: "unexpected value in the definition",
    105: "unknown key in the definition",
    106: "too many rules",
    107: "too many existence tests in a rule",
    108: "too many joins in a rule",
    109: "a rule without a qualifier",
    110: "unknown setting",
    111: "invalid ruleset handle",
    112: "too many rulesets (handle limit)",
    113: "condition too complex (expression limit exceeded)",
    201: "cannot parse a value",
    202: "cannot parse (unknown operator or bad string)",
    203: "cannot parse a number",
    204: "cannot parse an object",
    205: "cannot parse an array",
    302: "too many properties in one event",
    303: "maximum stack size exceeded",
    304: "too many messages in one frame",
    305: "message not found",
    306: "location not found",
    307: "node deleted",
    308: "node dispatching",
    309: "state (sid) not found",
    310: "no action available",
    311: "property not found",
    312: "operation not supported",
    501: "bad $mt pattern (a Lua pattern, not a regex)",
    502: "pattern too large (transitions)",
    503: "pattern too large (states)",
    504: "pattern queue full",
    505: "pattern list full",
    506: "pattern set full",
    507: "pattern conflict",
}

_CODE_RE = re.compile(r"error code:\s*(\d+)")


def translate_durable_error(error: BaseException, context: str) -> EngineError:
    """An HS5xx EngineError for a durable-rules failure such as
    ``Could not create ruleset, error code: 202``."""
    match = _CODE_RE.search(str(error))
    if match:
        number = int(match.group(1))
        meaning = DURABLE_ERROR_CODES.get(number, "unknown durable-rules error")
        return EngineError(
            f"durable-rules refused {context}: error {number}: {meaning}",
            code=codes.DURABLE_ERROR_CODE,
            hint="this is a bug in the highseas compiler; please report it with the ruleset",
        )
    return EngineError(
        f"durable-rules failed {context}: {type(error).__name__}: {error}",
        code=codes.DURABLE_FAILED,
    )


@dataclass(frozen=True)
class DecisionPoint:
    """One named boolean question asked of every customer."""

    name: str
    kind: PointKind
    subject: str
    condition: ir.Node
    as_of: date
    offset: Duration | None = None
    json_path: str = ""
    #: The durable ruleset evaluating it: ``hs_`` + hash of its definition.
    durable_name: str = ""


@dataclass(frozen=True)
class CompiledRuleset:
    """A ruleset's decision points as of one date, ready for every backend."""

    as_of: date
    ruleset_hash: str
    #: Columns read by any condition -> type (the facts each event carries).
    columns: Mapping[str, ir.ColumnType]
    #: Column -> safe durable-rules property name (f0, f1, ...).
    properties: Mapping[str, str]
    points: tuple[DecisionPoint, ...]
    #: Every column a condition may read (the SQL identifier whitelist).
    allowed_columns: Mapping[str, ir.ColumnType] = field(default_factory=dict)
    _definitions: Mapping[str, dict[str, Any]] = field(default_factory=dict, repr=False)

    @property
    def names(self) -> tuple[str, ...]:
        """Decision point names, in compile order."""
        return tuple(p.name for p in self.points)

    def point(self, name: str) -> DecisionPoint:
        """The decision point called ``name``."""
        for candidate in self.points:
            if candidate.name == name:
                return candidate

        hint = did_you_mean(name, list(self.names))
        raise EngineError(
            f"no decision point {name!r}", code=codes.UNKNOWN_DECISION_POINT, hint=hint
        )

    def durable_definition(self) -> dict[str, dict[str, Any]]:
        """The exact definitions handed to durable-rules (a fresh deep copy:
        ``set_rulesets`` mutates what it is given). Actions are named
        ``"hit"`` / ``"miss"``; the evaluation host binds them."""
        return {
            p.durable_name: copy.deepcopy(dict(self._definitions[p.durable_name]))
            for p in self.points
        }

    def durable_json(self) -> str:
        """``durable_definition`` with the decision point names, pretty and
        deterministic (for ``highseas compile``)."""
        document = {
            "as_of": self.as_of.isoformat(),
            "ruleset_hash": self.ruleset_hash,
            "properties": dict(sorted(self.properties.items(), key=lambda kv: kv[1])),
            "decision_points": {p.name: p.durable_name for p in self.points},
            "rulesets": self.durable_definition(),
        }
        return json.dumps(document, indent=2, sort_keys=False, ensure_ascii=False)

    @property
    def definition_hash(self) -> str:
        """sha256 of every durable definition (identical definitions: same hash)."""
        canonical = json.dumps(self.durable_definition(), sort_keys=True)
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    def sql(self, name: str) -> tuple[str, list[object]]:
        """The DuckDB boolean expression of a point and its parameters."""
        return sql_form.to_sql(self.point(name).condition, self.allowed_columns)

    def normalize(self, fact: Mapping[str, object]) -> dict[str, object]:
        """``fact`` reduced to the columns read, in the backends' form."""
        return ir.normalize_fact(fact, self.columns)

    def matches(self, name: str, fact: Mapping[str, object]) -> bool:
        """The pure-Python verdict of a point for one raw fact."""
        return ir.holds(self.point(name).condition, self.normalize(fact))

    def explain(self, name: str, fact: Mapping[str, object]) -> trace.ConditionTrace:
        """Leaf-by-leaf explanation of a point for one raw fact."""
        return trace.explain(self.point(name).condition, self.normalize(fact))


# --------------------------------------------------------------------------


def release_condition(
    rule: model.ReleaseRule, as_of: date, ruleset: model.Ruleset
) -> ir.Node:
    """``when AND NOT unless`` of a release rule, as of ``as_of``."""
    when = ir.lower(rule.when, as_of, ruleset)
    if rule.unless is None:
        return when
    unless = ir.lower(rule.unless, as_of, ruleset)
    return ir.And((when, ir.Neg(unless, rule.unless.json_path)), rule.json_path)


def excess_point(tier: str, number: int) -> str:
    """The decision point of the ``when`` of excess_to target ``number`` (1
    for the first) of the private cap of ``tier``."""
    return f"excess:{tier}:{number}"


def compile_ruleset(ruleset: model.Ruleset, as_of: date) -> CompiledRuleset:
    """Compile every decision point of ``ruleset`` as of ``as_of``.

    Raises EngineError (HS5xx) for a condition the engine cannot evaluate
    exactly: unknown field, mistyped value, a condition too large for
    durable-rules.
    """
    points: list[DecisionPoint] = []
    for rule in ruleset.release_rules:
        points.append(DecisionPoint(
            f"release:{rule.id}", "release", rule.id,
            release_condition(rule, as_of, ruleset), as_of, json_path=rule.json_path,
        ))
        if rule.unless is not None:
            points.append(DecisionPoint(
                f"exempt:{rule.id}", "exempt", rule.id,
                ir.lower(rule.unless, as_of, ruleset), as_of,
                json_path=rule.unless.json_path,
            ))
        for offset in rule.remind_before:
            later = offset.add_to(as_of)
            points.append(DecisionPoint(
                f"remind:{rule.id}:{offset}", "remind", rule.id,
                release_condition(rule, later, ruleset), later, offset=offset,
                json_path=rule.json_path,
            ))
    for relay in ruleset.relays:
        points.append(DecisionPoint(
            f"relay:{relay.id}", "relay", relay.id,
            ir.lower(relay.when, as_of, ruleset), as_of, json_path=relay.json_path,
        ))
    for allocation in ruleset.allocations:
        if allocation.when is not None:
            points.append(DecisionPoint(
                f"allocate:{allocation.id}", "allocate", allocation.id,
                ir.lower(allocation.when, as_of, ruleset), as_of,
                json_path=allocation.json_path,
            ))
    for cap in ruleset.caps.private:
        if cap.protect is not None:
            points.append(DecisionPoint(
                f"protect:{cap.tier}", "protect", cap.tier,
                ir.lower(cap.protect, as_of, ruleset), as_of, json_path=cap.json_path,
            ))
        for number, target in enumerate(cap.excess_to, start=1):
            if target.when is not None:
                points.append(DecisionPoint(
                    excess_point(cap.tier, number), "excess", cap.tier,
                    ir.lower(target.when, as_of, ruleset), as_of, json_path=target.json_path,
                ))

    seen: set[str] = set()
    for point in points:
        if point.name in seen:
            raise EngineError(
                f"two decision points are both called {point.name!r}",
                code=codes.DUPLICATE_DECISION_POINT, json_path=point.json_path,
                hint="rule, relay and tier ids must be unique",
            )
        seen.add(point.name)

    allowed = ir.column_types(ruleset)
    read: set[str] = set()
    for point in points:
        read |= ir.columns_of(point.condition)
    columns = {c: allowed[c] for c in sorted(read)}
    if len(columns) > MAX_PROPERTIES:
        raise EngineError(
            f"the conditions read {len(columns)} fields; durable-rules holds at most "
            f"{MAX_PROPERTIES} per customer here",
            code=codes.TOO_MANY_FIELDS,
        )
    properties = {column: f"f{i}" for i, column in enumerate(columns)}
    _check_property_hashes(properties)

    definitions: dict[str, dict[str, Any]] = {}
    final: list[DecisionPoint] = []
    for point in points:
        guard_size(point.name, point.condition, point.json_path)
        definition = durable_rules_for(
            point.condition, properties, point.name, point.json_path
        )
        name = "hs_" + hashlib.sha256(
            json.dumps(definition, sort_keys=True).encode("utf-8")
        ).hexdigest()[:24]
        definitions[name] = definition
        final.append(DecisionPoint(
            point.name, point.kind, point.subject, point.condition, point.as_of,
            point.offset, point.json_path, name,
        ))
    return CompiledRuleset(
        as_of=as_of,
        ruleset_hash=ruleset.content_hash,
        columns=columns,
        properties=properties,
        points=tuple(final),
        allowed_columns=allowed,
        _definitions=definitions,
    )


def durable_rules_for(
    condition: ir.Node, properties: Mapping[str, str], name: str = "", json_path: str = ""
) -> dict[str, Any]:
    """The durable ruleset of one decision point: ``hit`` rules (priority 1)
    and a lower-priority ``miss`` catch-all (priority 2), so every event fires
    exactly one of them (events fire only their highest-priority matching
    rule; among equal priorities, one).

    A condition too large for one durable rule (at most 15 ``$and``/``$or``)
    is split into alternatives, one ``hit`` rule each (``hit``, ``hit_1``,
    ...): an ``OR`` in halves, ``x AND (a OR b)`` into ``x AND a`` and
    ``x AND b`` (:func:`highseas.compile.durable_form.split_alternatives`), at most
    :data:`MAX_HIT_RULES` rules.
    """
    marker = durable_form.marker_condition(1)
    pending = [ir.to_nnf(condition)]
    expressions: list[dict[str, object]] = []
    while pending:
        node = pending.pop(0)
        expression = durable_form.durable_expression(node, properties)
        # Every branch needs a positive test: a branch made only of $nex
        # makes post() spin for good (measured on 2.0.28). The marker e == 1
        # is in every event, so ANDing it changes no verdict.
        parts = list(expression["$and"]) if "$and" in expression else [expression]  # type: ignore[call-overload]
        if marker not in parts:
            parts.append(marker)
        guarded = parts[0] if len(parts) == 1 else {"$and": parts}
        nodes, _ = durable_form.durable_counts(guarded)
        if nodes <= MAX_AND_OR_PER_RULE:
            expressions.append(guarded)
        else:
            split = durable_form.split_alternatives(node)
            if split is None:
                raise EngineError(
                    f"{name}: condition too deeply nested for the rules engine "
                    f"({nodes} and/or groups in one alternative, at most "
                    f"{MAX_AND_OR_PER_RULE})",
                    code=codes.CONDITION_TOO_LARGE, json_path=json_path,
                    hint="split the rule or flatten nested all_of / any_of groups",
                )
            pending[:0] = split
        if len(expressions) + len(pending) > MAX_HIT_RULES:
            raise EngineError(
                f"{name}: condition too large for the rules engine (more than "
                f"{MAX_HIT_RULES} alternatives once expanded)",
                code=codes.CONDITION_TOO_LARGE, json_path=json_path,
                hint="split the rule, or replace negated any_of groups by simpler conditions",
            )
    # Tests in all hit rules, the marker of each left out.
    tests = sum(durable_form.durable_counts(e)[1] for e in expressions) - len(expressions)
    if tests > MAX_LEAVES:
        raise EngineError(
            f"{name}: condition too large for the rules engine ({tests} comparisons "
            f"once expanded, at most {MAX_LEAVES})",
            code=codes.CONDITION_TOO_LARGE, json_path=json_path,
            hint="split the rule or shorten value lists",
        )
    rules: dict[str, Any] = {}
    for index, expression in enumerate(expressions):
        rules[HIT_RULE if index == 0 else f"{HIT_RULE}_{index}"] = {
            "all": [{"m": expression}],
            "pri": HIT_PRIORITY,
            "cap": ACTION_CAP,
            "run": HIT_RULE,
        }
    rules[MISS_RULE] = {
        "all": [{"m": marker}],
        "pri": MISS_PRIORITY,
        "cap": ACTION_CAP,
        "run": MISS_RULE,
    }
    return rules


def guard_size(name: str, condition: ir.Node, json_path: str = "") -> None:
    """Refuse a condition with too many comparisons on one field (HS504)
    before durable-rules could hang on it; the durable form is checked by
    :func:`durable_rules_for` (HS505)."""
    size = ir.measure(condition)
    for column, count in sorted(size.per_column.items()):
        if count > MAX_LEAVES_PER_COLUMN:
            raise EngineError(
                f"{name}: {count} comparisons on {column!r}; at most "
                f"{MAX_LEAVES_PER_COLUMN} per field are allowed",
                code=codes.TOO_MANY_COMPARISONS, json_path=json_path,
                hint="durable-rules hangs on long value lists; use a custom field or tag",
            )


def fnv1a_32(text: str) -> int:
    """durable-rules' property-name hash (FNV-1a, 32 bits)."""
    value = 0x811C9DC5
    for byte in text.encode("utf-8"):
        value ^= byte
        value = (value * 0x01000193) & 0xFFFFFFFF
    return value


def _check_property_hashes(properties: Mapping[str, str]) -> None:
    """durable-rules finds properties by hash: no two of ours may collide,
    nor with its own ``id`` / ``sid``."""
    reserved = {fnv1a_32("id"): "id", fnv1a_32("sid"): "sid"}
    seen: dict[int, str] = dict(reserved)
    for name in [*properties.values(), durable_form.MARKER]:
        value = fnv1a_32(name)
        if value in seen:
            raise EngineError(
                f"internal: property {name!r} collides with {seen[value]!r}",
                code=codes.COMPILER_INVARIANT
            )
        seen[value] = name
