"""Hostile strings (quotes, SQL, CJK, emoji, control characters) in customer
names, ids, tags, stages and custom fields, and as condition values of a
ruleset: stored exactly, planned correctly, and never part of an SQL text
(only ever bound parameters)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from highseas.nightly.apply import apply_plan
from highseas.nightly.explain import explain_customer
from highseas.nightly.planner import plan
from tests.support.nightly import Facts, ruleset_with

COMPANY = "regional-trading"
AS_OF = date(2026, 6, 1)
HOSTILE = [
    "'; DROP TABLE customers; --",
    'Robert"); DROP TABLE reps;--',
    "深圳市华强电子有限公司",
    "株式会社 🚢⚓😀",
    "tab\there\x01\x1f\x7f",
    "back\\slash $1 ? %s {0} :name",
    "O'Brien & Sons \"Ltd\"",
]


class RecordingConnection:
    """A DuckDB connection that remembers the text of every statement."""

    def __init__(self, con: Any) -> None:
        self._con = con
        self.statements: list[str] = []

    def execute(self, sql: str, *args: Any, **kwargs: Any) -> Any:
        self.statements.append(sql)
        self._con.execute(sql, *args, **kwargs)
        return self

    def sql(self, sql: str, *args: Any, **kwargs: Any) -> Any:
        self.statements.append(sql)
        return self._con.sql(sql, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._con, name)


def _hostile_rules(doc: dict[str, Any]) -> None:
    doc["custom_fields"].append({"name": "segment", "type": "string"})
    doc["release_rules"].insert(0, {
        "id": "hostile-values",
        "description": "Releases exactly the customers whose data is one of the hostile strings.",
        "when": {"any": [
            {"name": {"in": HOSTILE[:3]}},
            {"tags": {"any": [HOSTILE[3]]}},
            {"stage": {"in": [HOSTILE[4]]}},
            {"field": "segment", "op": "=", "value": HOSTILE[5]},
        ]},
        "to_pool": "global-pool",
    })


RULES = ruleset_with("regional-trading", _hostile_rules)


def _facts() -> tuple[Facts, dict[str, bool]]:
    facts = Facts(COMPANY)
    rep = HOSTILE[0] + " rep"
    facts.reps([{"rep_id": rep, "name": HOSTILE[2], "hired_on": "2020-01-01",
                 "regions": ["emea"]}])
    customers: list[dict[str, Any]] = []
    should_release: dict[str, bool] = {}
    for i, text in enumerate(HOSTILE):
        matching: dict[str, Any] = {
                    "customer_id": f"{text}#{i}", "name": text if i < 3 else f"n{i}",
                    "tags": [text] if i == 3 else ["vip-" + text],
                    "stage": text if i == 4 else "lead",
                    "attributes": {"segment": text if i == 5 else "other " + text,
                                   "credit_score": 10},
                    "country": "DE", "created_at": "2026-05-01", "owner": rep}
        customers.append(matching)
        should_release[matching["customer_id"]] = i < 6
        decoy: dict[str, Any] = {"customer_id": f"decoy {text}", "name": text + " (not quite)",
                 "tags": [text + " "], "stage": text.upper() + "x",
                 "attributes": {"segment": " " + text}, "country": "DE",
                 "created_at": "2026-05-01", "owner": rep}
        customers.append(decoy)
        should_release[decoy["customer_id"]] = False
    facts.customers(customers)
    return facts, should_release


def test_hostile_values_are_planned_exactly_and_never_reach_sql_text() -> None:
    facts, should_release = _facts()
    recording = RecordingConnection(facts.con)
    the_plan = plan(recording, RULES, AS_OF)  # type: ignore[arg-type]
    released = {d.customer_id for d in the_plan.decisions
                if d.action == "release" and d.rule_id == "hostile-values"}
    assert released == {c for c, yes in should_release.items() if yes}
    result = apply_plan(recording, the_plan)  # type: ignore[arg-type]
    assert result.applied and result.ownership_changes >= len(released)
    statements = "\n".join(recording.statements)
    assert recording.statements
    for text in HOSTILE:
        assert text not in statements, f"{text!r} was written into an SQL statement"
    for fragment in ("DROP TABLE", "深圳", "🚢", "O'Brien"):
        assert fragment not in statements
    # stored exactly; the tables are all still there
    rows = dict(facts.con.execute(
        "SELECT customer_id, pool_id FROM customers WHERE owner_rep_id IS NULL").fetchall())
    assert set(rows) == released and set(rows.values()) == {"global-pool"}
    names = {r[0] for r in facts.con.execute("SELECT name FROM customers").fetchall()}
    assert set(HOSTILE[:3]) <= names
    events = facts.con.execute(
        "SELECT customer_id, from_rep_id FROM ownership_events WHERE rule_id = 'hostile-values'"
    ).fetchall()
    assert {e[0] for e in events} == released
    assert {e[1] for e in events} == {HOSTILE[0] + " rep"}


@pytest.mark.parametrize("index", range(len(HOSTILE)))
def test_explain_names_hostile_ids_exactly(index: int) -> None:
    facts, should_release = _facts()
    customer = f"{HOSTILE[index]}#{index}"
    recording = RecordingConnection(facts.con)
    explanation = explain_customer(recording, RULES, AS_OF, customer)  # type: ignore[arg-type]
    text = explanation.format_text()
    assert customer in text
    decision = text.split("decision:", 1)[1].split("ownership history:", 1)[0]
    assert ("hostile-values" in decision) == should_release[customer], decision
    assert HOSTILE[index] not in "\n".join(recording.statements)


def _hostile_codes(doc: dict[str, Any]) -> None:
    """Region codes and tier attributes are free text in a ruleset."""
    doc["regions"][2]["codes"] = [HOSTILE[1], HOSTILE[2]]
    doc["tiers"][2]["attribute"] = HOSTILE[6]


CODES_RULES = ruleset_with("regional-trading", _hostile_codes)


def test_hostile_region_codes_and_tier_attributes_are_bound_not_interpolated() -> None:
    from highseas.nightly import facts as derive

    facts = Facts(COMPANY)
    facts.reps([
        {"rep_id": "key", "hired_on": "2025-12-01", "tier": HOSTILE[6], "regions": ["apac"]},
        {"rep_id": "old", "hired_on": "2015-01-01", "regions": ["apac"]},
    ])
    facts.customers([
        {"customer_id": f"c{i}", "region": code, "created_at": "2026-01-01", "owner": "old",
         "source": "website", "stage": "lead"}
        for i, code in enumerate([HOSTILE[1], HOSTILE[2], HOSTILE[1] + " "])
    ])
    recording = RecordingConnection(facts.con)
    tiers = {r.rep_id: r.tier for r in derive.rep_facts(recording, CODES_RULES, AS_OF,  # type: ignore[arg-type]
                                                         COMPANY)}
    assert tiers == {"key": "key-account", "old": "veteran"}
    the_plan = plan(recording, CODES_RULES, AS_OF)  # type: ignore[arg-type]
    pools = {d.customer_id: d.to_pool_id for d in the_plan.decisions if d.action == "release"}
    # idle since 1 January: released to the pool of the region their code names
    assert pools == {"c0": "apac-pool", "c1": "apac-pool", "c2": "global-pool"}
    statements = "\n".join(recording.statements)
    for text in (HOSTILE[1], HOSTILE[2], HOSTILE[6], "DROP TABLE", "O'Brien"):
        assert text not in statements, text
