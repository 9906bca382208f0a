"""Evaluate compiled decision points in durable-rules, synchronously and
completely.

Hit policy (docs/compiler.md): one durable ruleset per decision point with a
``hit`` rule (priority 1) and a ``miss`` catch-all (priority 2). Facts are
sent as *events* with ``post_batch``: an event fires only its
highest-priority matching rule, so each fact fires ``hit`` or ``miss``, never
nothing (no MessageNotHandledException) and never both. ``post_batch`` runs
the actions before it returns because this module's host has no background
dispatch threads. Every fact's verdict is then counted: a fact without exactly
one verdict per decision point is an EngineError, never a silent drop.

One host per process (:func:`host`), registered rulesets reused by definition
hash (their names are ``hs_<hash>``), evicted least-recently-used beyond
:data:`MAX_CACHED_RULESETS` through the native ``delete_ruleset``.
"""

from __future__ import annotations

import itertools
import threading
import warnings
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from highseas import codes
from highseas.compile import compat, ir
from highseas.compile import to_durable as durable_form
from highseas.compile.decision_points import (
    HIT_RULE,
    MISS_RULE,
    CompiledRuleset,
    translate_durable_error,
)
from highseas.errors import EngineError

# Before anything imports durable-rules: on Python 3.13+ its extension module
# needs a symbol that only highseas' compatibility library provides.
compat.load_durable_compat()

#: Events per ``post_batch`` call.
BATCH_SIZE = 5000
#: Registered durable rulesets kept for reuse before the oldest is freed.
MAX_CACHED_RULESETS = 256

_LOCK = threading.RLock()
_HOST: Any = None
_CACHE: OrderedDict[str, Any] = OrderedDict()
_COLLECTORS: dict[str, _Collector] = {}
_SIDS = itertools.count(1)


class _Collector:
    """The verdicts of one decision point being evaluated (one sid)."""

    def __init__(self) -> None:
        self.hits: set[int] = set()
        self.misses: set[int] = set()
        self.miss_count = 0

    def hit(self, messages: Sequence[Any]) -> None:
        # An event matching several branches of an $or fires "hit" once per
        # branch: a set keeps one verdict.
        for message in messages:
            self.hits.add(message["id"])

    def miss(self, messages: Sequence[Any]) -> None:
        for message in messages:
            self.misses.add(message["id"])
            self.miss_count += 1


def _action(rule: str) -> Callable[[Any], None]:
    def run(c: Any) -> None:
        collector = _COLLECTORS[str(c.s.sid)]
        messages = c.m if isinstance(c.m, list) else [c.m]
        if rule == HIT_RULE:
            collector.hit(messages)
        else:
            collector.miss(messages)

    run.__name__ = f"highseas_{rule}"
    return run


@contextmanager
def _durable_warnings_contained() -> Iterator[None]:
    """Hide the warnings durable-rules itself is known to raise, and only
    those, so the caller's warning filters (``-W error``, pytest's
    ``filterwarnings = error``) cannot turn them into engine failures.

    durable-rules 2.0.28 stamps every action with
    ``datetime.utcfromtimestamp(0)`` (``durable/engine.py``), deprecated since
    Python 3.12. Any other warning still reaches the caller's filters."""
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore",
            message=r"datetime\.datetime\.utcfromtimestamp\(\) is deprecated",
            category=DeprecationWarning,
            module=r"durable\.engine\Z",
        )
        yield


def host() -> Any:
    """The process's single durable-rules host (created on first use)."""
    global _HOST
    with _LOCK:
        if _HOST is None:
            from durable import engine

            actions = {HIT_RULE: _action(HIT_RULE), MISS_RULE: _action(MISS_RULE)}

            class _SyncHost(engine.Host):  # type: ignore[misc]
                """A Host without the two timer threads every ``Host()`` starts:
                nothing here uses timers, and the dispatch thread is what runs
                actions after ``assert_facts`` has returned."""

                def _run(self) -> None:
                    return None

                def _handle_function(self, rules: Any, func: Any, args: Any,
                                     complete: Any) -> Any:
                    # Every call that runs actions (post, post_batch,
                    # assert_fact...) goes through here, and running an
                    # action is what warns.
                    with _durable_warnings_contained():
                        return super()._handle_function(rules, func, args, complete)

                def get_action(self, action_name: str) -> Callable[[Any], None]:
                    if action_name not in actions:
                        raise EngineError(
                            f"unknown action {action_name!r}", code=codes.COMPILER_INVARIANT
                        )
                    return actions[action_name]

            _HOST = _SyncHost()
        return _HOST


def _register(name: str, definition: Mapping[str, Any]) -> None:
    """Register one durable ruleset unless already registered (reuse)."""
    if name in _CACHE:
        _CACHE.move_to_end(name)
        return
    target = host()
    try:
        target.set_rulesets({name: dict(definition)})  # a copy of ours: it mutates it
    except Exception as error:
        raise translate_durable_error(error, f"the definition of {name}") from error
    _CACHE[name] = target.get_ruleset(name)
    while len(_CACHE) > MAX_CACHED_RULESETS:
        oldest = next(iter(_CACHE))
        _free(oldest)


def _free(name: str) -> None:
    import durable_rules_engine

    ruleset = _CACHE.pop(name)
    target = host()
    target._ruleset_directory.pop(name, None)
    if ruleset in target._ruleset_list:
        target._ruleset_list.remove(ruleset)
    durable_rules_engine.delete_ruleset(ruleset._handle)


def clear_cache() -> int:
    """Free every registered durable ruleset (native handles included);
    return how many were freed."""
    with _LOCK:
        names = list(_CACHE)
        for name in names:
            _free(name)
        return len(names)


def cached_rulesets() -> tuple[str, ...]:
    """Names of the durable rulesets currently registered."""
    with _LOCK:
        return tuple(_CACHE)


class Verdicts(Mapping[str, frozenset[int]]):
    """Decision point name -> keys ``k`` of the facts that matched it.

    ``keys`` holds every fact evaluated: each got exactly one verdict per
    decision point (matched, or in ``keys`` minus the matched set)."""

    def __init__(self, matched: Mapping[str, frozenset[int]], keys: frozenset[int]) -> None:
        self._matched = dict(matched)
        self.keys_evaluated = keys

    def __getitem__(self, name: str) -> frozenset[int]:
        return self._matched[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._matched)

    def __len__(self) -> int:
        return len(self._matched)

    def __repr__(self) -> str:
        counts = ", ".join(f"{n}: {len(v)}" for n, v in self._matched.items())
        return f"Verdicts({len(self.keys_evaluated)} facts; {counts})"


_FAST_TYPES: dict[str, type] = {
    "string": str, "integer": int, "date": int, "boolean": bool, "number": float,
}


def build_events(
    compiled: CompiledRuleset, facts: Sequence[Mapping[str, object]]
) -> tuple[list[dict[str, object]], frozenset[int]]:
    """One durable event per fact: ``id`` = the fact's unique key ``k``, the
    marker ``e: 1`` and the columns read under their safe names; NULLs and
    empty tag lists are left out (so ``$nex`` sees them), dates and decimals
    are numbers (:func:`highseas.compile.ir.normalize_value`, with a fast path for
    values already in their final form)."""
    events: list[dict[str, object]] = []
    seen: set[int] = set()
    items = [(column, ctype, compiled.properties[column], _FAST_TYPES.get(ctype))
             for column, ctype in compiled.columns.items()]
    normalize = ir.normalize_value
    non_null = ir.NON_NULL_COLUMNS
    for index, fact in enumerate(facts):
        key = fact.get("k")
        if type(key) is not int:
            raise EngineError(
                f"fact #{index + 1} has no integer key 'k' (got {key!r})",
                code=codes.FACT_WITHOUT_KEY
            )
        if key in seen:
            raise EngineError(f"two facts share the key k={key}", code=codes.FACT_WITHOUT_KEY,
                              hint="k must be unique per evaluation")
        seen.add(key)
        event: dict[str, object] = {"id": key, durable_form.MARKER: 1}
        for column, ctype, prop, fast in items:
            value = fact.get(column)
            if fast is not None and type(value) is fast and _plain(value, ctype):
                event[prop] = value
                continue
            value = normalize(value, ctype, column)
            if value is None:
                if column in non_null:
                    raise EngineError(
                        f"fact k={key}: column {column!r} is NULL but never may be",
                        code=codes.FACT_VALUE_TYPE,
                    )
                continue
            if isinstance(value, tuple):
                if value:  # an empty tag list is sent as a missing property
                    event[prop] = list(value)
                continue
            event[prop] = value
        events.append(event)
    return events, frozenset(seen)


def _plain(value: object, ctype: str) -> bool:
    """Whether a value of the column's exact Python type needs no conversion."""
    if ctype == "string":
        return ir.string_ok(value)  # type: ignore[arg-type]
    if ctype == "number":
        return value == value and value not in (_INF, -_INF)  # not NaN, finite
    if ctype == "integer":
        return -ir.MAX_INT <= value <= ir.MAX_INT  # type: ignore[operator]
    if ctype == "date":
        return 0 < value <= 3652059  # type: ignore[operator]
    return True


_INF = float("inf")


def decide(
    compiled: CompiledRuleset, facts: Sequence[Mapping[str, object]]
) -> Verdicts:
    """Every decision point of ``compiled`` for every fact, decided by
    durable-rules. Synchronous and complete, or EngineError."""
    events, keys = build_events(compiled, facts)
    matched: dict[str, frozenset[int]] = {}
    with _LOCK:
        definitions = compiled.durable_definition()
        for point in compiled.points:
            _register(point.durable_name, definitions[point.durable_name])
        projected: dict[frozenset[str], list[dict[str, object]]] = {}
        every = frozenset(compiled.properties.values())
        for point in compiled.points:
            # Each point's events carry only the properties it reads: less
            # JSON both ways (one projection per distinct set of columns).
            wanted = frozenset(compiled.properties[c] for c in ir.columns_of(point.condition))
            if wanted == every:
                batch_events = events
            else:
                if wanted not in projected:
                    keep = wanted | {"id", durable_form.MARKER}
                    projected[wanted] = [
                        {p: v for p, v in event.items() if p in keep} for event in events
                    ]
                batch_events = projected[wanted]
            matched[point.name] = _run_point(
                point.name, point.durable_name, batch_events, keys
            )
    return Verdicts(matched, keys)


def _run_point(
    label: str,
    ruleset_name: str,
    events: list[dict[str, object]],
    keys: frozenset[int],
) -> frozenset[int]:
    from durable import engine

    sid = f"hs{next(_SIDS)}"
    collector = _Collector()
    _COLLECTORS[sid] = collector
    target = host()
    try:
        for start in range(0, len(events), BATCH_SIZE):
            batch = events[start:start + BATCH_SIZE]
            for event in batch:  # durable-rules does not keep or change them
                event["sid"] = sid
            try:
                state = target.post_batch(ruleset_name, batch)
            except engine.MessageNotHandledException as error:
                raise EngineError(
                    f"{label}: a fact matched no rule, not even the catch-all",
                    code=codes.FACT_NOT_HANDLED
                ) from error
            except engine.MessageObservedException as error:
                raise EngineError(
                    f"{label}: durable-rules saw a fact twice (duplicate id)",
                    code=codes.FACT_NOT_HANDLED
                ) from error
            except EngineError:
                raise
            except Exception as error:
                raise translate_durable_error(error, f"the facts for {label}") from error
            if isinstance(state, dict) and state.get("exception"):
                raise EngineError(
                    f"{label}: an action raised inside durable-rules: "
                    f"{str(state['exception'])[:300]}",
                    code=codes.ACTION_RAISED,
                )
    finally:
        del _COLLECTORS[sid]
        try:
            target.delete_state(ruleset_name, sid)
        except Exception:  # noqa: S110 - a state never created has nothing to free
            pass
    _check_complete(label, collector, keys)
    return frozenset(collector.hits)


def _check_complete(label: str, collector: _Collector, keys: frozenset[int]) -> None:
    both = collector.hits & collector.misses
    answered = collector.hits | collector.misses
    missing = keys - answered
    extra = answered - keys
    problems = []
    if both:
        problems.append(f"{len(both)} both matched and missed (e.g. k={min(both)})")
    if missing:
        problems.append(f"{len(missing)} got no verdict (e.g. k={min(missing)})")
    if extra:
        problems.append(f"{len(extra)} unknown keys came back (e.g. k={min(extra)})")
    if collector.miss_count != len(collector.misses):
        problems.append("a fact missed more than once")
    if problems:
        raise EngineError(
            f"{label}: durable-rules verdicts are incomplete: " + "; ".join(problems),
            code=codes.INCOMPLETE_VERDICTS,
            hint="no decision is taken on incomplete verdicts",
        )
