"""durable-rules has the last word on every verdict the SQL filter gives,
even though it confirms them on a worker thread while the planner runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.compiler import CompiledRuleset
from engine.errors import EngineError
from engine.planner import plan
from engine.ruleset_loader import load_ruleset
from engine.store.db import open_db
from engine.store.fixtures import DEFAULT_AS_OF, generate

ROOT = Path(__file__).resolve().parent.parent
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


def test_durable_rules_sees_one_pattern_per_class_of_customers(db: Path) -> None:
    """Customers on whom every leaf agrees share a verdict, so each class is
    sent once, as the real values of one of its customers; no class is left
    out."""
    from engine import ir
    from engine.compiler import compile_ruleset
    from engine.derive import fetch_fact_rows, materialize_customer_facts
    from engine.evaluate import _patterns

    compiled = compile_ruleset(RULESET, DEFAULT_AS_OF)
    point = compiled.point("release:no-follow-up-90d")
    columns = sorted(ir.columns_of(point.condition))
    types = {c: compiled.columns[c] for c in columns}
    leaves = list(dict.fromkeys(ir.leaves(point.condition)))

    def leaf_class(row: dict[str, object]) -> tuple[bool, ...]:
        fact = ir.normalize_fact(row, types)
        return tuple(ir.evaluate(leaf, fact) for leaf in leaves) + tuple(
            row[c] is None for c in columns)

    with open_db(db, read_only=True) as con:
        table = materialize_customer_facts(con, RULESET, DEFAULT_AS_OF, RULESET.company.id)
        expression, params = compiled.sql(point.name)
        patterns = _patterns(con, compiled, point, table, expression, params)
        selected = fetch_fact_rows(con, table, expression, params, columns)
    distinct_values = {tuple(str(row[c]) for c in columns) for row in selected}
    assert len(selected) > 20 and len(distinct_values) > 10
    classes = {leaf_class(row) for row in selected}
    assert len(patterns) == len(classes) < len(distinct_values)
    sent = [{c: p[c] for c in columns} for p in patterns]
    assert {leaf_class(p) for p in sent} == classes
    assert all(p in [{c: row[c] for c in columns} for row in selected] for p in sent)
