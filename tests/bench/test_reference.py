"""The benchmark's pure-SQL reference (bench/reference.py) makes the engine's
relay, release, trim and assign decisions on generated data."""

from __future__ import annotations

import dataclasses
import importlib.util
import shutil
import sys
from collections import Counter
from pathlib import Path
from types import ModuleType

import pytest

from highseas.nightly.planner import plan
from highseas.ruleset.loader import load_ruleset
from highseas.store.db import open_db
from highseas.store.fixtures import DEFAULT_AS_OF, generate

ROOT = Path(__file__).resolve().parents[2]
RULESET = ROOT / "rulesets" / "regional-trading.yaml"


def _reference() -> ModuleType:
    path = ROOT / "bench" / "reference.py"
    spec = importlib.util.spec_from_file_location("bench_reference", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_reference"] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def fixture_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("bench") / "rt.duckdb"
    generate(db, "regional-trading", 2_000, 12, seed=3)
    return db


def _compare(db: Path, ruleset: object) -> tuple[Counter[str], int, list[object], list[object]]:
    ref = _reference()
    with open_db(db, read_only=True) as con:
        reference = ref.reference_plan(con, ruleset, DEFAULT_AS_OF)
        result = plan(con, ruleset, DEFAULT_AS_OF)  # type: ignore[arg-type]
    keys = ref.engine_keys(result.decisions)
    only_engine, only_reference = ref.compare(keys, reference.decisions)
    actions = Counter(f"{k[1]}{'>' if k[4] else ''}" for k in keys)
    return actions, reference.conflicts, only_engine, only_reference


def _with_cap(cap_max: int) -> object:
    ruleset = load_ruleset(RULESET)
    cap = dataclasses.replace(ruleset.caps.private[0], max=cap_max)
    return dataclasses.replace(ruleset, caps=dataclasses.replace(ruleset.caps, private=(cap,)))


def test_reference_equals_engine_on_generated_data(fixture_db: Path) -> None:
    actions, _, only_engine, only_reference = _compare(fixture_db, load_ruleset(RULESET))
    assert (only_engine, only_reference) == ([], []), actions
    assert actions["relay>"] > 0 and actions["release"] > 0
    # a lower cap: trims too (to the pool: the relay used the new salespeople's claims)
    actions, _, only_engine, only_reference = _compare(fixture_db, _with_cap(60))
    assert (only_engine, only_reference) == ([], []), actions
    assert actions["trim"] > 0


@pytest.mark.parametrize("cap_max", [10**6, 60])
def test_reference_equals_engine_on_assign_trim_and_cooldown_paths(
    fixture_db: Path, tmp_path: Path, cap_max: int
) -> None:
    """Few relay candidates leave the new salespeople room for trims (least
    loaded) or, without a private cap, for the round-robin allocation; recent
    releases put some of them in cooldown, which the reference re-solves
    around."""
    db = tmp_path / "variant.duckdb"
    shutil.copyfile(fixture_db, db)
    with open_db(db) as con:
        con.execute("UPDATE customers SET source = 'website' "
                    "WHERE source = 'alibaba' AND hash(customer_id) % 100 <> 0")
        con.execute(
            """INSERT INTO ownership_events (company_id, event_id, run_id, customer_id, action,
                   rule_id, ruleset_hash, from_rep_id, to_pool_id, reason, as_of, "at")
            SELECT c.company_id, 'e-' || c.customer_id || r.rep_id, 'r0', c.customer_id,
                   'release', 'no-follow-up-90d', 'x', r.rep_id, c.pool_id, 'test',
                   DATE '2026-06-20', TIMESTAMP '2026-06-20 01:00'
            FROM customers c, reps r
            WHERE c.owner_rep_id IS NULL AND r.hired_on > DATE '2025-06-30'
              AND hash(c.customer_id || r.rep_id) % 3 = 0"""
        )
    actions, conflicts, only_engine, only_reference = _compare(db, _with_cap(cap_max))
    assert (only_engine, only_reference) == ([], []), actions
    if cap_max == 60:
        assert actions["trim>"] > 0
    else:
        assert actions["assign>"] > 0 and conflicts > 0
