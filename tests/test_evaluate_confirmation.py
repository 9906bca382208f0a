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
