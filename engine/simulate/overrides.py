"""Ruleset overrides for the simulator: ``--set PATH=VALUE``, ``--idle-period``
and ``--sweep PATH=V1,V2,...``.

An override changes one value of the ruleset *document* (the plain data the
YAML file holds) and the changed document is validated exactly like a file:
schema, building, semantic checks. Paths (docs/simulation.md):

* dotted keys: ``caps.cooldown``, ``caps.private.veteran.max``;
* list items by their ``id`` (``release_rules.no-follow-up-90d.when.idle_for``,
  ``allocation.daily-new-rotation.strategy``), by their ``tier`` for
  ``caps.private`` and ``caps.claims``, or by 0-based index
  (``release_rules.0`` or ``release_rules[0]``); a leading ``$.`` is allowed;
* the shortcut ``idle-period`` sets the ``idle_for`` of every release rule
  (every ``idle_for`` leaf inside each rule's ``when``).

A sweep's values run in their natural order (by magnitude: ``30d, 60d, 90d,
180d``), not as typed nor as text.

Values are read as YAML scalars (``300`` is a number, ``true`` a boolean,
``90d`` text, ``[a, b]`` a list). Every segment before the last must exist;
the last may name a key the ruleset leaves out (e.g. ``caps.cooldown``) only
where the schema allows it.
"""

from __future__ import annotations

import copy
import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from highseas import codes
from highseas.errors import Diagnostic, InvalidInputError, errors_only
from highseas.ruleset.durations import Duration, DurationError
from highseas.ruleset.loader import ruleset_from_document
from highseas.ruleset.model import Ruleset
from highseas.ruleset.yaml_loader import (
    LoadedYaml,
    join_index,
    join_key,
    load_yaml_file,
    load_yaml_text,
    read_bytes,
)
from highseas.suggestions import did_you_mean

#: The shortcut path that sets every release rule's idle period.
IDLE_PERIOD = "idle-period"
#: Lists whose items are addressed by a key other than ``id``.
_ITEM_KEYS = {"private": "tier", "claims": "tier"}
_INDEX = re.compile(r"\[(\d+)\]")


@dataclass(frozen=True)
class Override:
    """One ``PATH=VALUE`` as the user wrote it, and the parsed value."""

    path: str
    raw: str
    value: Any
    option: str = "--set"

    def label(self) -> str:
        return f"{self.path}={self.raw}"


@dataclass(frozen=True)
class Scenario:
    """A named ruleset variant: the baseline has no overrides."""

    name: str
    overrides: tuple[Override, ...]
    ruleset: Ruleset
    #: Warnings the overridden ruleset produced (errors raise instead).
    warnings: tuple[Diagnostic, ...] = field(default_factory=tuple)

    @property
    def is_baseline(self) -> bool:
        return not self.overrides


def _error(
    code: str, message: str, hint: str = "", file: str = "<command line>"
) -> InvalidInputError:
    return InvalidInputError(message, code=code, hint=hint, file=file)


def parse_value(raw: str, where: str) -> Any:
    """A command-line value read as a YAML scalar or flow collection."""
    if raw.strip() == "":
        raise _error(codes.OVERRIDE_VALUE_INVALID, f"{where}: the value is empty",
                     "write PATH=VALUE, e.g. caps.cooldown=30d")
    try:
        loaded = load_yaml_text("value: " + raw)
    except InvalidInputError as problem:
        raise _error(codes.OVERRIDE_VALUE_INVALID,
                     f"{where}: {raw!r} is not a value ({problem.first.message})",
                     "quote text with special characters") from None
    return loaded.data["value"]


def parse_assignment(text: str, option: str = "--set") -> Override:
    """``PATH=VALUE`` -> :class:`Override`."""
    path, sep, raw = text.partition("=")
    if not sep or not path.strip():
        raise _error(codes.OVERRIDE_PATH_UNKNOWN, f"{option} {text!r}: expected PATH=VALUE",
                     "e.g. --set caps.private.veteran.max=200 or --set idle-period=60d")
    path = path.strip()
    return Override(path, raw.strip(), parse_value(raw.strip(), f"{option} {path}"), option)


def parse_sweep(text: str) -> list[Override]:
    """``PATH=V1,V2,...`` -> one override per value (no repeats), in their
    natural order (:func:`natural_order`)."""
    path, sep, raw = text.partition("=")
    if not sep or not path.strip() or not raw.strip():
        raise _error(codes.MALFORMED_SWEEP, f"--sweep {text!r}: expected PATH=V1,V2,...",
                     "e.g. --sweep idle-period=30d,60d,90d,180d")
    values = [v.strip() for v in raw.split(",")]
    if any(not v for v in values):
        raise _error(codes.MALFORMED_SWEEP, f"--sweep {text!r}: an empty value in the list")
    if len(set(values)) != len(values):
        raise _error(codes.MALFORMED_SWEEP, f"--sweep {text!r}: a value is listed twice")
    path = path.strip()
    return natural_order(
        [Override(path, v, parse_value(v, f"--sweep {path}"), "--sweep") for v in values])


def _magnitude(value: Any) -> float | None:
    """A sweep value's size, when it has one: a duration in days, a number."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(Duration.parse(value).approx_days())
        except DurationError:
            return None
    return None


def natural_order(values: list[Override]) -> list[Override]:
    """A sweep's values by magnitude (``30d, 60d, 90d, 180d``; numbers by
    value) when every value has one, else in the order given. Values of the
    same magnitude (``4w`` and ``28d``) keep the order given."""
    sizes = [_magnitude(o.value) for o in values]
    known = [size for size in sizes if size is not None]
    if len(known) != len(values):
        return values
    order = sorted(range(len(values)), key=known.__getitem__)  # (stable)
    return [values[i] for i in order]


def split_path(path: str) -> list[str | int]:
    """``$.caps.private[0].max`` / ``caps.private.veteran.max`` -> segments."""
    text = path.strip()
    if text.startswith("$"):
        text = text[1:].lstrip(".")
    text = _INDEX.sub(lambda m: "." + m.group(1), text)
    parts: list[str | int] = []
    for piece in text.split("."):
        if piece == "":
            raise _error(codes.OVERRIDE_PATH_UNKNOWN,
                         f"override path {path!r} has an empty segment",
                         "separate keys with single dots, e.g. caps.cooldown")
        parts.append(int(piece) if piece.isdigit() else piece)
    return parts


def _item_name(item: Any, list_key: str) -> str | None:
    if not isinstance(item, dict):
        return None
    key = _ITEM_KEYS.get(list_key, "id")
    name = item.get(key, item.get("id"))
    return str(name) if name is not None else None


def _resolve(document: Any, path: str) -> tuple[Any, str | int, str]:
    """The container holding the value ``path`` names, the key in it, and
    the value's JSON path. Raises HS701 with a did-you-mean when a segment
    names nothing."""
    parts = split_path(path)
    node = document
    json_path = "$"
    parent_key = ""
    for position, part in enumerate(parts):
        last = position == len(parts) - 1
        if isinstance(node, list):
            names = [_item_name(item, parent_key) for item in node]
            if isinstance(part, int):
                if part >= len(node):
                    raise _error(codes.OVERRIDE_PATH_UNKNOWN,
                                 f"override path {path!r}: {json_path} has only "
                                 f"{len(node)} item(s), no index {part}")
                index = part
            elif str(part) in names:
                index = names.index(str(part))
            else:
                known = [n for n in names if n]
                raise _error(codes.OVERRIDE_PATH_UNKNOWN,
                             f"override path {path!r}: no item {part!r} in "
                             f"{json_path}",
                             did_you_mean(str(part), known) or
                             ("items here: " + ", ".join(known) if known else ""))
            if last:
                return node, index, join_index(json_path, index)
            json_path = join_index(json_path, index)
            node = node[index]
            continue
        if isinstance(node, dict):
            key = str(part)
            if key not in node:
                if last:
                    return node, key, join_key(json_path, key)  # checked by validation
                raise _error(codes.OVERRIDE_PATH_UNKNOWN,
                             f"override path {path!r}: {json_path} has no key "
                             f"{key!r}", did_you_mean(key, [str(k) for k in node]) or
                             "keys here: " + ", ".join(str(k) for k in node))
            json_path = join_key(json_path, key)
            parent_key = key
            if last:
                return node, key, json_path
            node = node[key]
            continue
        raise _error(codes.OVERRIDE_PATH_UNKNOWN,
                     f"override path {path!r}: {json_path} is a single value, "
                     f"it has no {part!r}")
    raise _error(codes.OVERRIDE_PATH_UNKNOWN,
                 f"override path {path!r} names nothing")  # pragma: no cover


def _idle_leaves(node: Any, json_path: str) -> list[tuple[dict[str, Any], str]]:
    """Every ``{idle_for: ...}`` mapping under ``node`` with its JSON path."""
    found: list[tuple[dict[str, Any], str]] = []
    if isinstance(node, dict):
        if "idle_for" in node:
            found.append((node, join_key(json_path, "idle_for")))
        for key, value in node.items():
            if key != "idle_for":
                found.extend(_idle_leaves(value, join_key(json_path, str(key))))
    elif isinstance(node, list):
        for index, item in enumerate(node):
            found.extend(_idle_leaves(item, join_index(json_path, index)))
    return found


def apply_override(document: Any, override: Override) -> list[str]:
    """Change ``document`` in place; return the JSON paths that changed."""
    if override.path == IDLE_PERIOD:
        changed = []
        for index, rule in enumerate(document.get("release_rules", []) or []):
            if isinstance(rule, dict) and "when" in rule:
                base = join_key(join_index("$.release_rules", index), "when")
                for leaf, leaf_path in _idle_leaves(rule["when"], base):
                    leaf["idle_for"] = override.value
                    changed.append(leaf_path)
        if not changed:
            raise _error(codes.NO_IDLE_RULE,
                         f"{override.option} {override.label()}: no release rule "
                         "has an idle_for condition to change",
                         "name the value to change with a path instead")
        return changed
    container, key, json_path = _resolve(document, override.path)
    if json_path in ("$.company", "$.company.id"):
        raise _error(codes.NO_IDLE_RULE,
                     f"{override.option} {override.label()}: a scenario replays the "
                     "same company; its id cannot be overridden",
                     "change other values; the company's data decides what is replayed")
    container[key] = copy.deepcopy(override.value)  # type: ignore[index]
    return [json_path]


def build_ruleset(
    loaded: LoadedYaml, content_hash: str, overrides: Sequence[Override]
) -> tuple[Ruleset, list[Diagnostic]]:
    """The ruleset of ``loaded`` with ``overrides`` applied and validated.

    Raises :class:`InvalidInputError` naming the override when the changed
    ruleset is invalid. The content hash of an overridden ruleset is derived
    from the file's and the overrides, so its runs have their own ids.
    """
    import hashlib

    document = copy.deepcopy(loaded.data)
    changed: dict[str, Override] = {}
    for override in overrides:
        for json_path in apply_override(document, override):
            changed[json_path] = override
    digest = content_hash
    if overrides:
        text = content_hash + "|" + "|".join(o.label() for o in overrides)
        digest = hashlib.sha256(text.encode()).hexdigest()
    ruleset, diagnostics = ruleset_from_document(document, loaded.positions, loaded.file, digest)
    if ruleset is None:
        labels = ", ".join(f"{o.option} {o.label()}" for o in overrides)
        problems = []
        for diagnostic in errors_only(diagnostics):
            culprit = next((o for p, o in changed.items()
                            if diagnostic.json_path.startswith(p) or p.startswith(
                                diagnostic.json_path + ".")), None)
            where = f"{culprit.option} {culprit.label()}" if culprit else labels
            problems.append(Diagnostic(
                code=diagnostic.code, message=f"{diagnostic.message} (with {where})",
                file=diagnostic.file, line=diagnostic.line, column=diagnostic.column,
                json_path=diagnostic.json_path, hint=diagnostic.hint, row=diagnostic.row,
            ))
        raise InvalidInputError(problems or [Diagnostic(
            codes.NO_IDLE_RULE, f"the ruleset with {labels} is invalid", file=loaded.file)])
    return ruleset, [d for d in diagnostics if not d.is_error]


def _overlaps(path: str, other: str) -> bool:
    return path == other or path.startswith(other + ".") or other.startswith(path + ".")


def check_conflicts(overrides: Sequence[Override]) -> None:
    """Refuse two overrides of one path (or of a path and a value inside it):
    which one would win is nowhere said (HS709)."""
    for index, override in enumerate(overrides):
        for earlier in overrides[:index]:
            if _overlaps(override.path, earlier.path):
                first = (f"{earlier.option} {earlier.raw}" if earlier.option == "--idle-period"
                         else f"{earlier.option} {earlier.path}=...")
                raise _error(
                    codes.CONFLICTING_OVERRIDES,
                    f"{first} and {override.option} {override.path}=... both set "
                    f"{override.path}",
                    "give each path once: drop one, or put every value in the --sweep",
                )


def scenario_name(overrides: Sequence[Override]) -> str:
    return ", ".join(o.label() for o in overrides) or "baseline"


def build_scenarios(
    ruleset_path: str | Path,
    sets: Sequence[str] = (),
    idle_period: str | None = None,
    sweeps: Sequence[str] = (),
) -> list[Scenario]:
    """The baseline and every scenario the options ask for, all validated.

    ``sets`` and ``idle_period`` apply to every scenario; each ``--sweep``
    multiplies the scenarios by its values (several sweeps: every
    combination). Without overrides only the baseline runs.
    """
    import hashlib

    raw = read_bytes(ruleset_path)
    loaded = load_yaml_file(ruleset_path)
    content_hash = hashlib.sha256(raw).hexdigest()
    common = [parse_assignment(text) for text in sets]
    if idle_period is not None:
        common.append(Override(IDLE_PERIOD, idle_period,
                               parse_value(idle_period, "--idle-period"), "--idle-period"))
    sweep_lists = [parse_sweep(text) for text in sweeps]
    check_conflicts([*common, *(values[0] for values in sweep_lists)])
    baseline, warnings = build_ruleset(loaded, content_hash, [])
    scenarios = [Scenario("baseline", (), baseline, tuple(warnings))]
    combos: list[tuple[Override, ...]] = (
        [tuple(c) for c in itertools.product(*sweep_lists)] if sweep_lists else [()]
    )
    seen = {"baseline"}
    for combo in combos:
        overrides = tuple(common) + combo
        if not overrides:
            continue
        name = scenario_name(overrides)
        if name in seen:
            continue
        seen.add(name)
        ruleset, warnings = build_ruleset(loaded, content_hash, overrides)
        scenarios.append(Scenario(name, overrides, ruleset, tuple(warnings)))
    return scenarios


def override_paths(document: Any) -> list[str]:
    """Every path ``--set`` accepts for ``document`` (for docs and did-you-mean)."""
    out: list[str] = []

    def walk(node: Any, prefix: str, list_key: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, f"{prefix}.{key}" if prefix else str(key), str(key))
        elif isinstance(node, list):
            for index, item in enumerate(node):
                name = _item_name(item, list_key)
                walk(item, f"{prefix}.{name if name else index}", "")
        else:
            out.append(prefix)

    walk(document, "", "")
    return out


@dataclass(frozen=True)
class SweptSetting:
    """One ``--sweep``: the setting, the baseline's own value, the values
    swept (in their natural order) and which of them equal the baseline's."""

    path: str
    baseline: str
    values: tuple[str, ...]
    equal: tuple[str, ...] = ()


def value_text(value: Any) -> str:
    """A document value as the ruleset writes it: ``90d``, ``300``, ``true``, ``[a, b]``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(value_text(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {value_text(v)}" for k, v in value.items()) + "}"
    return str(value)


def _same_value(a: Any, b: Any) -> bool:
    return isinstance(a, bool) == isinstance(b, bool) and a == b


#: What :func:`swept_settings` says of a value the baseline's ruleset leaves out.
NOT_SET = "not set"


def _baseline_of(document: Any, path: str) -> tuple[str, list[Any]]:
    """The baseline's value at ``path`` as text, and the values a swept value
    must all equal to be the baseline's (none when the ruleset leaves it out)."""
    if path == IDLE_PERIOD:
        found: list[tuple[str, Any]] = []
        for index, rule in enumerate(document.get("release_rules", []) or []):
            if isinstance(rule, dict) and "when" in rule:
                name = str(rule.get("id", index))
                found += [(name, leaf["idle_for"]) for leaf, _ in _idle_leaves(rule["when"], "$")]
        values = [value for _, value in found]
        if values and all(_same_value(v, values[0]) for v in values):
            return value_text(values[0]), values
        return "; ".join(f"{name}: {value_text(v)}" for name, v in found) or NOT_SET, values
    container, key, _ = _resolve(document, path)
    if isinstance(container, dict) and key in container:
        return value_text(container[key]), [container[key]]
    if isinstance(container, list) and isinstance(key, int) and key < len(container):
        return value_text(container[key]), [container[key]]
    return NOT_SET, []


def swept_settings(ruleset_path: str | Path, sweeps: Sequence[str]) -> list[SweptSetting]:
    """Each ``--sweep`` with the baseline's own value of its setting; a swept
    value that equals it is listed in ``equal`` (call after
    :func:`build_scenarios`, which checks the paths and values)."""
    document = load_yaml_file(ruleset_path).data
    out = []
    for text in sweeps:
        values = parse_sweep(text)
        baseline, current = _baseline_of(document, values[0].path)
        equal = tuple(o.raw for o in values
                      if current and all(_same_value(o.value, c) for c in current))
        out.append(SweptSetting(values[0].path, baseline, tuple(o.raw for o in values), equal))
    return out
