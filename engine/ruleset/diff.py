"""The structural difference of two rulesets, by section and id.

Release rules, relays, allocations, pools, tiers, regions, custom fields
and caps are matched by id (caps by tier, custom fields by name); each is
added, removed, changed (with the fields that differ, old and new) or, for
the ordered release rules, moved. Every change carries the line of the item
in the old and in the new file. A ruleset may also be read from git
(``HEAD:rulesets/acme.yaml``) with :func:`load_ruleset_spec`.
"""

from __future__ import annotations

import hashlib
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields, is_dataclass
from datetime import date
from pathlib import Path
from typing import Any, Literal

from highseas import codes
from highseas.errors import InvalidInputError, errors_only
from highseas.ruleset import model as m
from highseas.ruleset.durations import Duration
from highseas.ruleset.loader import load_ruleset, ruleset_from_document
from highseas.ruleset.yaml_loader import load_yaml_text

ChangeKind = Literal["added", "removed", "changed", "moved"]

#: The YAML key of each condition class written under one key.
_CONDITION_KEYS: dict[type, str] = {
    **{kind: key for key, kind in m.TIME_CONDITIONS.items()},
    m.NeverContacted: "never_contacted",
    m.HasOpenOrder: "has_open_order",
    m.WonWithin: "won_within",
}


@dataclass(frozen=True)
class FieldChange:
    """One field of an item, as written under OLD and under NEW."""

    name: str
    old: str
    new: str

    def to_dict(self) -> dict[str, str]:
        return {"field": self.name, "old": self.old, "new": self.new}


@dataclass(frozen=True)
class Change:
    """An item of a section added, removed, changed or moved."""

    section: str
    item_id: str
    kind: ChangeKind
    old_line: int | None = None
    new_line: int | None = None
    fields: tuple[FieldChange, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"section": self.section, "id": self.item_id, "kind": self.kind,
                "old_line": self.old_line, "new_line": self.new_line,
                "fields": [f.to_dict() for f in self.fields]}


@dataclass(frozen=True)
class RulesetDiff:
    """Every structural change from ``old`` to ``new``, in file order."""

    old_source: str
    new_source: str
    changes: tuple[Change, ...]

    @property
    def identical(self) -> bool:
        return not self.changes

    def to_dict(self) -> dict[str, Any]:
        return {"old": self.old_source, "new": self.new_source,
                "changes": [c.to_dict() for c in self.changes]}


# --------------------------------------------------------------------------
# reading OLD and NEW
# --------------------------------------------------------------------------


def _git_show(spec: str, cwd: Path | None) -> bytes:
    try:
        done = subprocess.run(["git", "show", spec], cwd=cwd, capture_output=True,
                              check=False, timeout=60)
    except (OSError, subprocess.SubprocessError) as error:
        raise InvalidInputError(f"cannot run git to read {spec}: {error}",
                                code=codes.GIT_REVISION_UNREADABLE, file=spec,
                                hint="install git, or pass the file's path") from None
    if done.returncode != 0:
        problem = done.stderr.decode("utf-8", "replace").strip().splitlines()
        reason = problem[0].removeprefix("fatal: ") if problem else "git show failed"
        raise InvalidInputError(
            f"cannot read {spec} from git: {reason}", code=codes.GIT_REVISION_UNREADABLE,
            file=spec, hint="write REVISION:PATH with PATH from the repository's top, "
                            "or ./PATH relative to the current directory",
        )
    return done.stdout


def load_ruleset_spec(spec: str, cwd: Path | None = None) -> m.Ruleset:
    """The ruleset of a file path, or of ``REVISION:PATH`` in git (the file as
    committed in that revision); raises :class:`InvalidInputError` (exit 2)."""
    base = cwd or Path.cwd()
    path = Path(spec) if Path(spec).is_absolute() else base / spec
    if path.is_file():
        try:
            return load_ruleset(path if cwd else Path(spec))
        except InvalidInputError as error:
            raise InvalidInputError(list(error.diagnostics), exit_code=codes.EXIT_USAGE) from None
    if ":" not in spec or path.exists():
        raise InvalidInputError(f"no such file: {spec}", code=codes.PATH_NOT_FOUND, file=spec,
                                hint="pass a ruleset file, or REVISION:PATH from git")
    raw = _git_show(spec, cwd)
    loaded = load_yaml_text(raw, file=spec)
    ruleset, diagnostics = ruleset_from_document(loaded.data, loaded.positions, spec,
                                                 hashlib.sha256(raw).hexdigest())
    if ruleset is None:
        raise InvalidInputError(errors_only(diagnostics), exit_code=codes.EXIT_USAGE)
    return ruleset


# --------------------------------------------------------------------------
# values as text
# --------------------------------------------------------------------------


def describe_condition(condition: Any) -> str:
    """A condition in one line, close to how the YAML writes it."""
    key = _CONDITION_KEYS.get(type(condition))
    if key is not None:
        value = getattr(condition, "duration", getattr(condition, "value", None))
        return f"{key}: {as_text(value)}"
    if isinstance(condition, m.Compare):
        return f"{condition.field} {condition.op} {as_text(condition.value)}"
    if isinstance(condition, m.TagsMatch):
        return f"tags {condition.mode} {as_text(condition.tags)}"
    if isinstance(condition, (m.AllOf, m.AnyOf)):
        word = "all" if isinstance(condition, m.AllOf) else "any"
        return f"{word}({', '.join(describe_condition(c) for c in condition.items)})"
    if isinstance(condition, m.Not):
        return f"not({describe_condition(condition.item)})"
    return _generic(condition)


def _generic(value: Any) -> str:
    parts = [f"{f.name}: {as_text(getattr(value, f.name))}" for f in fields(value)
             if f.name != "json_path"]
    return f"{type(value).__name__}({', '.join(parts)})"


def as_text(value: Any) -> str:
    """``value`` as a reviewer reads it: durations as ``90d``, lists in brackets."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (Duration, int, float, str)):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, tuple):
        return "[" + ", ".join(as_text(v) for v in value) + "]"
    if isinstance(value, m.PoolTarget):
        return "by_region" if value.by_region else str(value.pool)
    if isinstance(value, m.ExcessTarget):
        to = f"tier {value.tier}" if value.tier is not None else f"to_pool {as_text(value.pool)}"
        return to if value.when is None else f"{to} when {describe_condition(value.when)}"
    if is_dataclass(value) and not isinstance(value, type):
        if type(value).__module__ == m.__name__ and type(value).__name__ not in (
            "Caps", "Guards", "Company",
        ) and not hasattr(value, "id"):
            return describe_condition(value)
        return _generic(value)
    return str(value)


def _comparable(value: Any) -> Any:
    """``value`` without its ``json_path``s (they move when items move)."""
    if is_dataclass(value) and not isinstance(value, type):
        return (type(value).__name__,) + tuple(
            (f.name, _comparable(getattr(value, f.name)))
            for f in fields(value) if f.name != "json_path"
        )
    if isinstance(value, tuple):
        return tuple(_comparable(v) for v in value)
    return value


# --------------------------------------------------------------------------
# the difference
# --------------------------------------------------------------------------


def _field_changes(old: Any, new: Any, skip: Sequence[str] = ()) -> tuple[FieldChange, ...]:
    changed = []
    for f in fields(old):
        if f.name == "json_path" or f.name in skip:
            continue
        before, after = getattr(old, f.name), getattr(new, f.name)
        if _comparable(before) != _comparable(after):
            changed.append(FieldChange(f.name, as_text(before), as_text(after)))
    return tuple(changed)


def _line(ruleset: m.Ruleset, json_path: str) -> int:
    return ruleset.position(json_path)[0]


def _section(
    name: str,
    old: m.Ruleset,
    new: m.Ruleset,
    items: Callable[[m.Ruleset], Sequence[Any]],
    key: Callable[[Any], str],
    ordered: bool = False,
) -> list[Change]:
    before = {key(item): item for item in items(old)}
    after = {key(item): item for item in items(new)}
    changes: list[Change] = []
    for item_id, item in before.items():
        if item_id not in after:
            changes.append(Change(name, item_id, "removed", old_line=_line(old, item.json_path)))
    for item_id, item in after.items():
        new_line = _line(new, item.json_path)
        if item_id not in before:
            changes.append(Change(name, item_id, "added", new_line=new_line))
            continue
        was = before[item_id]
        differences = _field_changes(was, item)
        if differences:
            changes.append(Change(name, item_id, "changed", _line(old, was.json_path),
                                  new_line, differences))
    if ordered:
        common_before = [i for i in before if i in after]
        common_after = [i for i in after if i in before]
        for index, item_id in enumerate(common_after):
            if common_before[index] != item_id and not any(
                c.item_id == item_id and c.kind == "changed" for c in changes
            ):
                was = before[item_id]
                changes.append(Change(
                    name, item_id, "moved", _line(old, was.json_path),
                    _line(new, after[item_id].json_path),
                    (FieldChange("position", str(common_before.index(item_id) + 1),
                                 str(index + 1)),),
                ))
    return changes


def _single(name: str, old: m.Ruleset, new: m.Ruleset, item: Callable[[m.Ruleset], Any],
            json_path: str, skip: Sequence[str] = ()) -> list[Change]:
    differences = _field_changes(item(old), item(new), skip)
    if not differences:
        return []
    return [Change(name, name, "changed", _line(old, json_path), _line(new, json_path),
                   differences)]


def diff_rulesets(old: m.Ruleset, new: m.Ruleset) -> RulesetDiff:
    """What changed from ``old`` to ``new``, section by section."""
    changes: list[Change] = []
    if old.version != new.version:
        changes.append(Change("version", "version", "changed", _line(old, "$.version"),
                              _line(new, "$.version"),
                              (FieldChange("version", str(old.version), str(new.version)),)))
    changes += _single("company", old, new, lambda r: r.company, "$.company")
    changes += _section("tiers", old, new, lambda r: r.tiers, lambda t: t.id)
    changes += _section("regions", old, new, lambda r: r.regions, lambda r: r.id)
    changes += _section("pools", old, new, lambda r: r.pools, lambda p: p.id)
    changes += _section("custom_fields", old, new, lambda r: r.custom_fields, lambda f: f.name)
    changes += _section("release_rules", old, new, lambda r: r.release_rules, lambda r: r.id,
                        ordered=True)
    changes += _single("caps", old, new, lambda r: r.caps, "$.caps", skip=("private", "claims"))
    changes += _section("caps.private", old, new, lambda r: r.caps.private, lambda c: c.tier)
    changes += _section("caps.claims", old, new, lambda r: r.caps.claims, lambda c: c.tier)
    changes += _section("allocation", old, new, lambda r: r.allocations, lambda a: a.id)
    changes += _section("activation_relay", old, new, lambda r: r.relays, lambda r: r.id)
    changes += _single("guards", old, new, lambda r: r.guards, "$.guards")
    return RulesetDiff(old.source_file, new.source_file, tuple(changes))


# --------------------------------------------------------------------------
# text and Markdown
# --------------------------------------------------------------------------


def _where(change: Change) -> str:
    if change.kind == "added":
        return f"new line {change.new_line}"
    if change.kind == "removed":
        return f"old line {change.old_line}"
    return f"line {change.old_line} -> {change.new_line}"


def format_text(diff: RulesetDiff) -> list[str]:
    """One line per change, then one indented line per field."""
    if diff.identical:
        return ["rules: no structural difference"]
    lines = [f"rules: {len(diff.changes)} change(s)"]
    for change in diff.changes:
        lines.append(f"  {change.kind:<7} {change.section} {change.item_id} ({_where(change)})")
        for field in change.fields:
            lines.append(f"      {field.name}: {field.old} -> {field.new}")
    return lines


def table_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def format_markdown(diff: RulesetDiff) -> list[str]:
    """A Markdown table of the changes, to paste into a pull request."""
    lines = ["### Rules", ""]
    if diff.identical:
        return lines + ["No structural difference.", ""]
    lines += ["| change | section | id | lines | field | old | new |",
              "|---|---|---|---|---|---|---|"]
    for change in diff.changes:
        head = (f"| {change.kind} | {change.section} | `{table_cell(change.item_id)}` "
                f"| {_where(change)} ")
        if not change.fields:
            lines.append(head + "| | | |")
        for field in change.fields:
            lines.append(head + f"| {field.name} | `{table_cell(field.old)}` "
                                f"| `{table_cell(field.new)}` |")
    return lines + [""]
