"""``highseas test --update``: record what the engine decides as the new
expectations of the failing cases (snapshot testing).

Only the ``expect:`` block of a failing day is rewritten, in place, by line:
the rest of the file (comments, layout, the other cases) is kept byte for
byte. A case that fails on a later day after its first failing day is
updated is run again, up to its number of days. The new block lists:

* with ``match: exact`` (the default), every decision of the day; an entry
  keeps the keys the old entry of its customer and kind wrote (a customer id
  alone stays alone), a new one gets every key the decision has;
* with ``match: at_least``, the decisions of the customers the old block
  named;
* the ``untouched`` customers that stay untouched, the ``none`` entries that
  still hold.

Claims answered otherwise than expected are not rewritten (say ``allowed``
by hand); a file that is invalid is refused, written nothing.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from highseas import codes
from highseas.errors import HighseasError, InvalidInputError, errors_only
from highseas.nightly import planner
from highseas.nightly.apply import apply_plan
from highseas.nightly.plan import Decision, Plan, Unassigned
from highseas.ruleset.model import Ruleset
from highseas.testfile import (
    CATEGORY_ACTIONS,
    ENTRY_FIELDS,
    Case,
    Day,
    Entry,
    Expectation,
    load_test_file_with_diagnostics,
)
from highseas.testing import coverage as cov
from highseas.testing.run import (
    _claim,
    _end_of,
    _fact_rows,
    _insert,
    case_database,
    run_test_file,
)

_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")
_KEYWORDS = frozenset({"true", "false", "yes", "no", "on", "off", "null", "none", "y", "n"})


@dataclass(frozen=True)
class FileUpdate:
    """What ``--update`` did to one test file."""

    path: str
    updated: tuple[str, ...]
    #: (case name, why it was left as it is)
    left: tuple[tuple[str, str], ...]
    diff: str


# --------------------------------------------------------------------------
# the day a case fails, and the plan of that day
# --------------------------------------------------------------------------


def _failing_day(ruleset: Ruleset, case: Case) -> tuple[Day, Plan] | str | None:
    """The first failing day of ``case`` and its plan; None when the case
    passes; a reason (text) when it cannot be updated."""
    from highseas.testing.compare import compare_plan

    recorder = cov.CoverageRecorder()
    try:
        con = case_database(ruleset, case)
    except HighseasError as error:
        return f"the engine refused its data ({error.first.message})"
    try:
        company = ruleset.company.id
        for day in case.days:
            _insert(con, "activities", company, _fact_rows(day.activities, "activities"))
            _insert(con, "orders", company, _fact_rows(day.orders, "orders"))
            if any(_claim(con, ruleset, day.as_of, check, recorder) for check in day.claims):
                return f"a claim on {day.as_of.isoformat()} is answered otherwise (edit it by hand)"
            plan = planner.plan(con, ruleset, day.as_of)
            if day.expect is not None and compare_plan(day.expect, plan):
                return day, plan
            apply_plan(con, plan, mode="simulate", timestamp=_end_of(day.as_of))
    except HighseasError as error:
        return f"the engine stopped: {error.first.message}"
    finally:
        con.close()
    return None


# --------------------------------------------------------------------------
# the new expectation, as YAML lines
# --------------------------------------------------------------------------


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    text = str(value)
    if _PLAIN.match(text) and text.lower() not in _KEYWORDS:
        return text
    return json.dumps(text, ensure_ascii=False)


def _entry_text(customer: str, fields: Sequence[tuple[str, Any]]) -> str:
    if not fields:
        return _scalar(customer)
    inner = ", ".join([f"customer: {_scalar(customer)}"]
                      + [f"{key}: {_scalar(value)}" for key, value in fields])
    return "{" + inner + "}"


def _fields_of(item: Decision | Unassigned, category: str,
               like: Entry | None) -> list[tuple[str, Any]]:
    mapping = ENTRY_FIELDS[category]
    keys = [key for key, _ in like.fields] if like is not None else list(mapping)
    return [(key, getattr(item, mapping[key])) for key in keys
            if key in mapping and getattr(item, mapping[key], None) is not None]


def _items(plan: Plan, category: str) -> list[Decision | Unassigned]:
    if category == "unassigned":
        return list(plan.unassigned)
    return [d for d in plan.decisions if d.action == CATEGORY_ACTIONS[category]]


def new_expectation(expect: Expectation, plan: Plan) -> dict[str, list[str]]:
    """Category -> entry texts of the rewritten ``expect`` (plus ``match``,
    ``untouched`` and ``none`` keys as texts of their own)."""
    old = {(e.category, e.customer): e for e in expect.entries}
    named = {e.customer for e in expect.entries}
    decided = {d.customer_id for d in plan.decisions}
    result: dict[str, list[str]] = {}
    for category in CATEGORY_ACTIONS:
        for item in _items(plan, category):
            key = (category, item.customer_id)
            if category == "unassigned" and key not in old:
                continue  # never checked unless listed
            if expect.match != "exact" and item.customer_id not in named:
                continue
            result.setdefault(category, []).append(
                _entry_text(item.customer_id, _fields_of(item, category, old.get(key))))
    # a customer the old block expected something of, now left alone
    untouched = list(dict.fromkeys(
        [c for c in expect.untouched if c not in decided]
        + [e.customer for e in expect.entries
           if e.customer not in decided and e.category != "unassigned"]))
    if untouched:
        result["untouched"] = [_scalar(c) for c in untouched]
    for entry in expect.forbidden:
        mapping = ENTRY_FIELDS[entry.category]
        if any(item.customer_id == entry.customer and all(
                getattr(item, mapping.get(k, ""), None) == v for k, v in entry.fields)
               for item in _items(plan, entry.category)):
            continue
        result.setdefault(f"none.{entry.category}", []).append(
            _entry_text(entry.customer, list(entry.fields)))
    return result


def _block(indent: str, expect: Expectation, entries: dict[str, list[str]]) -> list[str]:
    inner = indent + "  "
    lines = [f"{indent}expect:"]
    if expect.match != "exact":
        lines.append(f"{inner}match: {expect.match}")
    nones: dict[str, list[str]] = {}
    for key, texts in entries.items():
        if key.startswith("none."):
            nones[key.removeprefix("none.")] = texts
            continue
        lines.extend(_list(inner, key, texts))
    if nones:
        lines.append(f"{inner}none:")
        for key, texts in nones.items():
            lines.extend(_list(inner + "  ", key, texts))
    if len(lines) == 1 or (len(lines) == 2 and expect.match != "exact"):
        lines.append(f"{inner}untouched: []")  # nothing happens: still a valid block
    return lines


def _list(indent: str, key: str, texts: list[str]) -> list[str]:
    one_line = f"{indent}{key}: [{', '.join(texts)}]"
    if len(one_line) <= 96:
        return [one_line]
    return [f"{indent}{key}:"] + [f"{indent}  - {text}" for text in texts]


# --------------------------------------------------------------------------
# rewriting the file by line
# --------------------------------------------------------------------------


def _indent_of(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _block_span(lines: list[str], line: int) -> tuple[int, int, str]:
    """(first, end) 0-based line range of the ``expect:`` key at 1-based
    ``line`` and everything indented under it; and the key's indent."""
    first = line - 1
    text = lines[first]
    column = text.index("expect:")
    indent = " " * column
    end = first + 1
    while end < len(lines):
        stripped = lines[end].strip()
        if stripped and _indent_of(lines[end]) <= column:
            break
        end += 1
    while end - 1 > first and not lines[end - 1].strip():
        end -= 1  # the blank lines after the block stay
    return first, end, indent


def _rewrite(text: str, edits: list[tuple[Expectation, Plan]]) -> str:
    lines = text.splitlines()
    for expect, plan in sorted(edits, key=lambda e: -e[0].line):
        first, end, indent = _block_span(lines, expect.line)
        prefix = lines[first][:len(indent)]
        block = _block(indent, expect, new_expectation(expect, plan))
        if prefix.strip() == "-":  # `- expect:` as a list item's first key
            block[0] = prefix + block[0][len(indent):]
        lines[first:end] = block
    return "\n".join(lines) + ("\n" if text.endswith("\n") else "")


def update_file(path: str | Path, patterns: Sequence[str] = ()) -> FileUpdate:
    """Rewrite the failing expectations of the test file ``path``; raises
    :class:`InvalidInputError` (nothing written) when it is invalid."""
    path = Path(path)
    original = path.read_text(encoding="utf-8")
    text = original
    updated: list[str] = []
    left: dict[str, str] = {}
    for _ in range(64):  # each round moves every failing case one day on
        test_file, diagnostics = load_test_file_with_diagnostics(path)
        if test_file is None or errors_only(diagnostics):
            if text != original:
                path.write_text(original, encoding="utf-8")
            raise InvalidInputError(
                f"{path} is invalid: --update rewrites only valid test files "
                f"({len(errors_only(diagnostics))} error(s); highseas validate {path})",
                code=codes.UPDATE_INVALID_FILE, file=str(path),
                hint="fix the errors, then run --update again",
            )
        result = run_test_file(test_file, patterns)
        failing = {r.case.name for r in result.cases if not r.passed}
        edits: list[tuple[Expectation, Plan]] = []
        for case in test_file.cases:
            if case.name not in failing or case.name in left:
                continue
            found = _failing_day(test_file.ruleset, case)
            if found is None:
                continue
            if isinstance(found, str):
                left[case.name] = found
                continue
            day, plan = found
            assert day.expect is not None
            edits.append((day.expect, plan))
            if case.name not in updated:
                updated.append(case.name)
        if not edits:
            break
        rewritten = _rewrite(text, edits)
        if rewritten == text:  # the plan says what the block already says
            left.update({name: "its expectation cannot be written from the run"
                         for name in failing if name not in left})
            break
        text = rewritten
        path.write_text(text, encoding="utf-8")
    diff = "".join(difflib.unified_diff(
        original.splitlines(keepends=True), text.splitlines(keepends=True),
        fromfile=f"a/{path}", tofile=f"b/{path}"))
    return FileUpdate(str(path), tuple(updated), tuple(left.items()), diff)
