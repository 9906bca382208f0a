"""Small builders for nightly-run tests: facts inserted into an in-memory store."""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from engine.model import Ruleset
from engine.ruleset_loader import ruleset_from_document
from engine.scratch import memory_db

ROOT = Path(__file__).resolve().parent.parent
RULESETS = ROOT / "rulesets"


def ruleset_with(name: str, change: Callable[[dict[str, Any]], None] | None = None) -> Ruleset:
    """An example ruleset, optionally changed as a plain document first."""
    document = yaml.safe_load((RULESETS / f"{name}.yaml").read_text(encoding="utf-8"))
    document = copy.deepcopy(document)
    if change is not None:
        change(document)
    digest = hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()
    ruleset, diagnostics = ruleset_from_document(document, {}, f"{name}.yaml", digest)
    errors = [d for d in diagnostics if d.is_error]
    assert ruleset is not None and not errors, [d.format_text() for d in errors]
    return ruleset


class Facts:
    """An in-memory store for one company, filled row by row."""

    def __init__(self, company_id: str, con: Any = None) -> None:
        self.company = company_id
        self.con = con if con is not None else memory_db()

    def reps(self, rows: Iterable[Mapping[str, Any]]) -> Facts:
        for row in rows:
            self.con.execute(
                "INSERT INTO reps (company_id, rep_id, name, hired_on, tier, regions, active, "
                "away_from, away_until, weight) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [self.company, row["rep_id"], row.get("name", row["rep_id"]), row["hired_on"],
                 row.get("tier"), row.get("regions", []), row.get("active", True),
                 row.get("away_from"), row.get("away_until"), row.get("weight")],
            )
        return self

    def customers(self, rows: Iterable[Mapping[str, Any]]) -> Facts:
        for row in rows:
            owner = row.get("owner")
            self.con.execute(
                "INSERT INTO customers (company_id, customer_id, name, country, region, source, "
                "stage, tags, level, attributes, created_at, owner_rep_id, pool_id, owned_since) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [self.company, row["customer_id"], row.get("name", row["customer_id"]),
                 row.get("country"), row.get("region"), row.get("source", "website"),
                 row.get("stage", "lead"), row.get("tags", []), row.get("level"),
                 json.dumps(row["attributes"]) if "attributes" in row else None,
                 row["created_at"], owner, row.get("pool_id"),
                 row.get("owned_since", row["created_at"]) if owner else None],
            )
        return self

    def activities(self, rows: Iterable[Mapping[str, Any]]) -> Facts:
        for row in rows:
            self.con.execute(
                'INSERT INTO activities (company_id, customer_id, rep_id, kind, "at") '
                "VALUES (?, ?, ?, ?, ?)",
                [self.company, row["customer_id"], row.get("rep_id"), row.get("kind", "call"),
                 row["at"]],
            )
        return self

    def orders(self, rows: Iterable[Mapping[str, Any]]) -> Facts:
        for row in rows:
            self.con.execute(
                "INSERT INTO orders (company_id, customer_id, rep_id, placed_at, amount, status) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [self.company, row["customer_id"], row.get("rep_id"), row["placed_at"],
                 row.get("amount", 100), row.get("status", "won")],
            )
        return self

    def owner_of(self, customer_id: str) -> tuple[str | None, str | None]:
        rows = self.con.execute(
            "SELECT owner_rep_id, pool_id FROM customers WHERE company_id = ? AND customer_id = ?",
            [self.company, customer_id],
        ).fetchall()
        return rows[0][0], rows[0][1]
