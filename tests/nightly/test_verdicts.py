"""durable-rules has the last word on every verdict the SQL filter gives,
even though it confirms them on a worker thread while the planner runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from highseas.compile.decision_points import CompiledRuleset
from highseas.errors import EngineError
from highseas.nightly.planner import plan
from highseas.ruleset.loader import load_ruleset
from highseas.store.db import open_db
from highseas.store.fixtures import DEFAULT_AS_OF, generate

ROOT = Path(__file__).resolve().parents[2]
RULESET = load_ruleset(ROOT / "rulesets" / "regional-trading.yaml")


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("confirm") / "facts.db"
    generate(path, "regional-trading", 300, 6, 7)
    return path


def test_a_wrong_sql_filter_stops_the_plan(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    original = CompiledRuleset.sql

    def too_wide(self: CompiledRuleset, name: str) -> tuple[str, list[object]]:
        # A broken filter for one release rule: it selects every customer.
        if name == "release:no-follow-up-90d":
            return "true", []
        return original(self, name)

    monkeypatch.setattr(CompiledRuleset, "sql", too_wide)
    with open_db(db, read_only=True) as con, pytest.raises(EngineError) as caught:
        plan(con, RULESET, DEFAULT_AS_OF)
    assert caught.value.first.code == "HS525"
    assert "release:no-follow-up-90d" in str(caught.value)


def test_the_same_filter_unbroken_plans(db: Path) -> None:
    with open_db(db, read_only=True) as con:
        result = plan(con, RULESET, DEFAULT_AS_OF)
        released = {d.customer_id for d in result.by_action("release")
                    if d.rule_id == "no-follow-up-90d"}
        keys = result.extra["evaluation"].matched("release:no-follow-up-90d")
        matched = {cid for (cid,) in con.execute(
            "SELECT customer_id FROM hs_facts WHERE k IN (SELECT unnest(?::BIGINT[]))",
            [sorted(keys)]).fetchall()}
    assert released  # the fixture has idle customers
    assert released <= matched


def test_durable_rules_sees_each_class_of_customers_at_its_edges(db: Path) -> None:
    """Customers on whom every leaf agrees share a verdict, so each class is
    sent a few times, not once per customer: as its lowest-key customer's
    values, and with each column moved to the smallest and largest value it
    takes in the class. No class is left out and nothing outside the
    selection's classes is sent."""
    from highseas.compile import ir
    from highseas.compile.decision_points import compile_ruleset
    from highseas.nightly.facts import fetch_fact_rows, materialize_customer_facts
    from highseas.nightly.verdicts import _patterns

    compiled = compile_ruleset(RULESET, DEFAULT_AS_OF)
    point = compiled.point("release:no-order-1y")
    columns = sorted(ir.columns_of(point.condition))
    types = {c: compiled.columns[c] for c in columns}
    leaves = list(dict.fromkeys(ir.leaves(point.condition)))

    def leaf_class(row: dict[str, object]) -> tuple[bool, ...]:
        fact = ir.normalize_fact(row, types)
        return tuple(ir.holds(leaf, fact) for leaf in leaves) + tuple(
            row[c] is None for c in columns)

    with open_db(db, read_only=True) as con:
        table = materialize_customer_facts(con, RULESET, DEFAULT_AS_OF, RULESET.company.id)
        expression, params = compiled.sql(point.name)
        patterns = _patterns(con, compiled, point, table, expression, params)
        selected = fetch_fact_rows(con, table, expression, params, columns)
    distinct_values = {tuple(str(row[c]) for c in columns) for row in selected}
    assert len(selected) > 20 and len(distinct_values) > 10
    members: dict[tuple[bool, ...], list[dict[str, object]]] = {}
    for row in selected:
        members.setdefault(leaf_class(row), []).append(row)
    sent: dict[tuple[bool, ...], list[dict[str, object]]] = {}
    for pattern in patterns:
        values = {c: pattern[c] for c in columns}
        sent.setdefault(leaf_class(values), []).append(values)
    assert set(sent) == set(members)  # every class, and only the selection's classes
    assert len(patterns) < len(distinct_values)
    edges_checked = 0
    for klass, rows in members.items():
        lowest = rows[0]  # fetch_fact_rows orders by key
        assert {c: lowest[c] for c in columns} in sent[klass]
        for column in columns:
            present = [row[column] for row in rows if row[column] is not None]
            if not present or isinstance(present[0], list):
                continue
            for edge in (min(present), max(present)):  # type: ignore[type-var]
                assert any(p[column] == edge for p in sent[klass]), (klass, column, edge)
                edges_checked += 1
    assert edges_checked > len(members)
