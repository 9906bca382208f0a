"""Plan files and the summary, computed from the plan's Arrow tables.

The reference for every format is the plain Python rendering of the plan
(``json.dumps`` of each decision, a Counter over the decisions): the columnar
writers must give the same bytes and the same counts.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, replace
from datetime import date
from pathlib import Path
from typing import Literal

import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from highseas.errors import InvalidInputError
from highseas.nightly.plan import Decision, Plan, Unassigned
from highseas.nightly.plan_files import PLAN_COLUMNS, check_plan_path, write_plan
from highseas.nightly.summary import format_summary

DECISIONS = (
    Decision("C1", "relay_end", "dormant", "contacted", from_rep_id="ann"),
    Decision("C2", "relay", "dormant", "round 2", from_rep_id="bob", to_rep_id="cy",
             relay_round=2, due_on=date(2026, 7, 3)),
    Decision("C3", "release", "idle-90d", 'idle "90" days', from_rep_id="ann",
             to_pool_id="emea", customer_name="Café 中文 😀"),
    Decision("C4", "release", "idle-90d", "back\\slash\nnew line", from_rep_id="bob",
             to_pool_id=None),
    Decision("C5", "trim", "caps.private.veteran", "over cap", from_rep_id="ann",
             to_pool_id="emea"),
    Decision("C6", "assign", "daily", "round robin", to_rep_id="cy", from_pool_id="emea"),
    Decision("C7", "assign", "daily", "round robin", to_rep_id=None, from_pool_id="emea"),
    Decision("C8", "remind", "idle-90d", "7 days left", from_rep_id="ann", days_left=7,
             due_on=date(2026, 7, 7), reminder_offset="7d"),
)
UNASSIGNED = (
    Unassigned("C9", "emea", "no eligible salesperson", "daily"),
    Unassigned("C10", None, "claim cap per day reached", "daily"),
)


def make_plan(decisions: tuple[Decision, ...] = DECISIONS,
              unassigned: tuple[Unassigned, ...] = UNASSIGNED) -> Plan:
    return Plan("acme", "acme", "f" * 64, date(2026, 6, 30), decisions, unassigned,
                evaluated_customers=10)


def python_json(plan: Plan, include_unassigned: bool) -> str:
    """The plan file as Python's encoder writes it (the format's definition)."""
    payload = {
        "company_id": plan.company_id, "ruleset_id": plan.ruleset_id,
        "ruleset_hash": plan.ruleset_hash, "as_of": plan.as_of.isoformat(),
        "counts": plan.counts(), "decisions": [d.to_dict() for d in plan.decisions],
    }
    if include_unassigned:
        payload["unassigned"] = [asdict(u) for u in plan.unassigned]
    return json.dumps(payload, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


@pytest.mark.parametrize("include_unassigned", [False, True])
def test_the_json_file_is_pythons_encoding_of_the_plan(
    tmp_path: Path, include_unassigned: bool
) -> None:
    out = tmp_path / "plan.json"
    write_plan(make_plan(), out, include_unassigned=include_unassigned)
    assert out.read_text(encoding="utf-8") == python_json(make_plan(), include_unassigned)
    assert ("unassigned" in json.loads(out.read_text(encoding="utf-8"))) is include_unassigned


def test_an_empty_plan_writes_empty_lists(tmp_path: Path) -> None:
    out = tmp_path / "plan.json"
    write_plan(make_plan((), ()), out, include_unassigned=True)
    assert out.read_text(encoding="utf-8") == python_json(make_plan((), ()), True)
    assert '"decisions": []' in out.read_text(encoding="utf-8")


SURROGATES: tuple[Literal["Cs"]] = ("Cs",)
text = st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x1F6FF,
                                      exclude_categories=SURROGATES), max_size=8)


@settings(max_examples=60, deadline=None)
@given(reasons=st.lists(text, min_size=1, max_size=5), name=text)
def test_any_text_is_escaped_as_python_escapes_it(
    tmp_path_factory: pytest.TempPathFactory, reasons: list[str], name: str
) -> None:
    decisions = tuple(
        Decision(f"C{i}", "release", "idle", reason, customer_name=name, to_pool_id="p")
        for i, reason in enumerate(reasons)
    )
    plan = make_plan(decisions, (Unassigned("U", "p", name, "daily"),))
    folder = tmp_path_factory.mktemp("escape")
    write_plan(plan, folder / "plan.json", include_unassigned=True)
    write_plan(plan, folder / "plan.jsonl", include_unassigned=True)
    assert (folder / "plan.json").read_text(encoding="utf-8") == python_json(plan, True)
    # JSON Lines are separated by "\n" only (text may hold U+0085 or U+2028).
    lines = (folder / "plan.jsonl").read_text(encoding="utf-8").split("\n")[:-1]
    assert [json.loads(line) for line in lines[:-1]] == [d.to_dict() for d in decisions]


def test_json_lines_hold_one_decision_per_line_then_the_unassigned(tmp_path: Path) -> None:
    out = tmp_path / "plan.jsonl"
    write_plan(make_plan(), out)
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines == [json.dumps(d.to_dict(), sort_keys=True, ensure_ascii=False)
                     for d in DECISIONS]
    write_plan(make_plan(), out, include_unassigned=True)
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert rows[len(DECISIONS):] == [
        {**asdict(u), "action": "unassigned"} for u in UNASSIGNED
    ]


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_tables_hold_the_decisions_and_on_request_the_unassigned(
    tmp_path: Path, suffix: str
) -> None:
    out = tmp_path / f"plan{suffix}"

    def read() -> list[dict[str, object]]:
        table = pacsv.read_csv(out) if suffix == ".csv" else pq.read_table(out)
        assert tuple(table.column_names) == PLAN_COLUMNS
        # CSV has no null text: an empty field reads back as ''.
        return [{k: (None if v == "" else v) for k, v in row.items()}
                for row in table.to_pylist()]

    write_plan(make_plan(), out)
    rows = read()
    assert [(r["customer_id"], r["action"]) for r in rows] == [
        (d.customer_id, d.action) for d in DECISIONS
    ]
    write_plan(make_plan(), out, include_unassigned=True)
    extra = read()[len(DECISIONS):]
    assert [(r["customer_id"], r["action"], r["from_pool_id"], r["reason"]) for r in extra] == [
        (u.customer_id, "unassigned", u.pool_id, u.reason) for u in UNASSIGNED
    ]


def test_a_plan_file_of_unknown_format_is_refused_before_anything_is_written(
    tmp_path: Path,
) -> None:
    with pytest.raises(InvalidInputError) as error:
        check_plan_path(tmp_path / "plan.txt")
    assert error.value.diagnostics[0].code == "HS530"
    assert check_plan_path(tmp_path / "PLAN.JSONL") == ".jsonl"
    with pytest.raises(InvalidInputError):
        write_plan(make_plan(), tmp_path / "plan.xml")
    assert list(tmp_path.iterdir()) == []


def counter_summary(plan: Plan, limit: int = 10) -> str:
    """The summary counted over Python objects: the definition of its numbers."""
    lines = [
        f"highseas run for {plan.company_id} as of {plan.as_of.isoformat()} "
        f"(ruleset {plan.ruleset_hash[:12]})",
        f"  customers evaluated: {plan.evaluated_customers}",
    ]

    def section(title: str, counter: Counter[str]) -> None:
        lines.append(f"  {title}: {sum(counter.values())}")
        ranked = sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))
        lines.extend(f"    {key}: {count}" for key, count in ranked[:limit])
        if len(counter) > limit:
            lines.append(f"    ... and {len(counter) - limit} more")

    of = [d for d in plan.decisions]
    section("releases", Counter(f"{d.rule_id} -> {d.to_pool_id}" for d in of
                                if d.action == "release"))
    section("reminders", Counter(d.rule_id for d in of if d.action == "remind"))
    section("trims", Counter(f"{d.from_rep_id} ({d.rule_id})" for d in of if d.action == "trim"))
    section("assignments", Counter(d.to_rep_id or "" for d in of if d.action == "assign"))
    section("relays", Counter(f"{d.rule_id} round {d.relay_round}" for d in of
                              if d.action == "relay"))
    section("relays ended by a contact", Counter(d.rule_id for d in of if d.action == "relay_end"))
    section("unassigned", Counter(u.reason for u in plan.unassigned))
    return "\n".join(lines)


def test_the_summary_counts_what_a_counter_over_the_decisions_counts() -> None:
    many = tuple(
        replace(DECISIONS[5], customer_id=f"A{i}", to_rep_id=f"rep{i % 13}") for i in range(60)
    )
    plan = make_plan(DECISIONS + many)
    assert format_summary(plan) == counter_summary(plan)
    assert "    ... and 5 more" in format_summary(plan)
    assert format_summary(make_plan((), ())) == counter_summary(make_plan((), ()))
