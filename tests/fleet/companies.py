"""Builders of fleet companies: a ruleset file and a facts database each,
copied from generated templates and renamed to their own company id."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import duckdb

from highseas import api
from highseas.store.fixtures import DEFAULT_AS_OF, generate

ROOT = Path(__file__).resolve().parents[2]
RULESETS = ROOT / "rulesets"
ARCHETYPES = ("quick-order", "large-project", "regional-trading")
AS_OF = DEFAULT_AS_OF


class CompanyMaker:
    """Makes companies ``<id>.yaml`` + ``<id>.duckdb`` in two folders; each
    (archetype, customers) is generated once and copied."""

    def __init__(self, root: Path) -> None:
        self.templates = root / "templates"
        self.rulesets = root / "rulesets"
        self.facts = root / "facts"
        for folder in (self.templates, self.rulesets, self.facts):
            folder.mkdir(parents=True, exist_ok=True)

    def template(self, archetype: str, customers: int) -> Path:
        path = self.templates / f"{archetype}-{customers}.duckdb"
        if not path.exists():
            generate(path, archetype, customers, max(2, customers // 25), seed=customers,
                     as_of=AS_OF)
        return path

    def add(self, company_id: str, archetype: str, customers: int) -> None:
        """The company ``company_id``: its archetype's ruleset with that
        ``company.id``, and generated facts renamed to it."""
        text = (RULESETS / f"{archetype}.yaml").read_text(encoding="utf-8")
        heading = f"company:\n  id: {archetype}\n"
        assert heading in text
        (self.rulesets / f"{company_id}.yaml").write_text(
            text.replace(heading, f"company:\n  id: {company_id}\n", 1), encoding="utf-8")
        facts = self.facts / f"{company_id}.duckdb"
        shutil.copyfile(self.template(archetype, customers), facts)
        rename_company(facts, company_id)

    def add_broken(self, company_id: str) -> None:
        """A company whose ruleset does not validate (its facts are fine)."""
        self.add(company_id, "quick-order", 50)
        path = self.rulesets / f"{company_id}.yaml"
        path.write_text(path.read_text(encoding="utf-8").replace("version: 1\n",
                                                                  "version: 1\nbogus: 3\n", 1),
                        encoding="utf-8")


def rename_company(db: Path, company_id: str) -> None:
    """Give every row of ``db`` the company id ``company_id``."""
    with duckdb.connect(str(db)) as con:
        tables = [row[0] for row in con.execute(
            "SELECT table_name FROM information_schema.columns "
            "WHERE column_name = 'company_id' AND table_schema = 'main'").fetchall()]
        for table in tables:
            con.execute(f'UPDATE "{table}" SET company_id = ?', [company_id])


def plan_digest(ruleset: Path, db: Path, folder: Path) -> str:
    """SHA-256 of the plan file ``highseas run --output plan.json`` writes,
    through the API the command is a thin layer over."""
    result = api.run(ruleset, db, AS_OF)
    path = folder / f"{ruleset.stem}.plan.json"
    api.write_plan(result.plan, path)
    return hashlib.sha256(path.read_bytes()).hexdigest()


def ownership(db: Path, company_id: str) -> list[tuple[object, ...]]:
    """Who owns each customer, and the run rows: what an apply changes."""
    with duckdb.connect(str(db), read_only=True) as con:
        owners = con.execute(
            "SELECT customer_id, owner_rep_id, pool_id, owned_since FROM customers "
            "WHERE company_id = ? ORDER BY customer_id", [company_id]).fetchall()
        events = con.execute(
            "SELECT customer_id, from_rep_id, to_rep_id, to_pool_id, action, rule_id "
            "FROM ownership_events WHERE company_id = ? ORDER BY event_id",
            [company_id]).fetchall()
    return [*owners, ("events", len(events)), *events]


def applied_runs(db: Path, company_id: str) -> list[tuple[object, ...]]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(
            "SELECT as_of, mode, status FROM runs WHERE company_id = ?", [company_id]
        ).fetchall()
