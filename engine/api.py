"""The Python API of highseas: what the CLI is a thin layer over, and what a
CRM embeds.

Every function takes paths or typed objects and returns typed results;
problems are raised as :class:`engine.errors.HighseasError` subclasses.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from engine.errors import InvalidInputError
from engine.model import Ruleset

if TYPE_CHECKING:
    from engine.apply import ApplyResult
    from engine.explain import Explanation
    from engine.plan_model import Plan
    from engine.validation import ValidationReport

PathLike = str | os.PathLike[str]


def load_ruleset(path: PathLike) -> Ruleset:
    """Load, check and parse a ruleset file (raises with every error found)."""
    from engine.ruleset_loader import load_ruleset as _load

    return _load(Path(path))


def validate(paths: Sequence[PathLike], *, strict: bool = False) -> ValidationReport:
    """Validate rulesets and test files; all diagnostics of all files."""
    from engine.validation import validate_paths

    return validate_paths([str(p) for p in paths], strict=strict)


def today_in(ruleset: Ruleset) -> date:
    """Today's date in the company's time zone: the default as-of date."""
    return datetime.now(ZoneInfo(ruleset.company.timezone)).date()


def _ruleset(ruleset: Ruleset | PathLike) -> Ruleset:
    return ruleset if isinstance(ruleset, Ruleset) else load_ruleset(ruleset)


def compile_definition(ruleset: Ruleset | PathLike, as_of: date | None = None) -> dict[str, Any]:
    """The durable-rules definitions the ruleset compiles to for ``as_of``, with
    the decision point each one decides and the field -> property mapping."""
    import json

    from engine.compiler import compile_ruleset

    rules = _ruleset(ruleset)
    compiled = compile_ruleset(rules, as_of or today_in(rules))
    document: dict[str, Any] = json.loads(compiled.durable_json())
    return document


def _existing_db(db: PathLike) -> Path:
    path = Path(db)
    if not path.exists():
        raise InvalidInputError(
            f"database {path} does not exist",
            code="HS400",
            file=str(path),
            hint="create it with 'highseas db init' and load facts, or run 'highseas demo'",
        )
    return path


def plan(ruleset: Ruleset | PathLike, db: PathLike, as_of: date | None = None) -> Plan:
    """Plan the nightly run for ``as_of`` (default: today in the company's zone).
    Reads the database, writes nothing."""
    from engine.planner import plan as _plan
    from engine.store.db import connect

    rules = _ruleset(ruleset)
    day = as_of or today_in(rules)
    with connect(_existing_db(db), read_only=True) as con:
        return _plan(con, rules, day)


@dataclass(frozen=True)
class RunResult:
    plan: Plan
    applied: ApplyResult | None


def run(
    ruleset: Ruleset | PathLike,
    db: PathLike,
    as_of: date | None = None,
    *,
    apply: bool = False,
    force: bool = False,
) -> RunResult:
    """Plan, and with ``apply`` write the plan in one transaction."""
    from engine.apply import apply_plan, check_can_apply
    from engine.planner import plan as _plan
    from engine.store.db import connect

    rules = _ruleset(ruleset)
    day = as_of or today_in(rules)
    if not apply:
        return RunResult(plan(rules, db, day), None)
    with connect(_existing_db(db)) as con:
        check_can_apply(con, rules.company.id, day, force)
        the_plan = _plan(con, rules, day)
        result = apply_plan(con, the_plan, force=force)
    return RunResult(the_plan, result)


def explain(
    ruleset: Ruleset | PathLike, db: PathLike, customer_id: str, as_of: date | None = None
) -> Explanation:
    """Why a customer is (or is not) released, reminded, assigned...: facts,
    every rule's verdict with the failing condition, the decision, the
    salespeople considered, and the ownership history."""
    from engine.explain import explain_customer
    from engine.store.db import connect

    rules = _ruleset(ruleset)
    day = as_of or today_in(rules)
    with connect(_existing_db(db), read_only=True) as con:
        return explain_customer(con, rules, day, customer_id)


def claim(
    ruleset: Ruleset | PathLike,
    db: PathLike,
    rep_id: str,
    customer_id: str,
    as_of: date | None = None,
    *,
    apply: bool = False,
) -> Any:
    """May ``rep_id`` claim ``customer_id`` now? With ``apply``, record the claim."""
    from engine.claims import check_claim, record_claim
    from engine.store.db import connect

    rules = _ruleset(ruleset)
    day = as_of or today_in(rules)
    with connect(_existing_db(db), read_only=not apply) as con:
        verdict = check_claim(con, rules, day, rep_id, customer_id)
        if apply and verdict.allowed:
            record_claim(con, rules, day, verdict)
        return verdict
