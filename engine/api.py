"""The Python API of highseas: what the CLI is a thin layer over, and what a
CRM embeds.

Every function takes paths or typed objects and returns typed results;
problems are raised as :class:`highseas.errors.HighseasError` subclasses.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from highseas import codes
from highseas.errors import InvalidInputError
from highseas.nightly.facts import check_company
from highseas.nightly.plan_files import PLAN_FORMATS, check_plan_path, write_plan  # noqa: F401 - the API
from highseas.nightly.summary import format_summary  # noqa: F401 - the API
from highseas.ruleset.model import Ruleset
from highseas.simulate import SimulationResult, advise, simulate  # noqa: F401 - the API

if TYPE_CHECKING:
    from highseas.nightly.apply import ApplyResult
    from highseas.nightly.explain import Explanation
    from highseas.nightly.plan import Plan
    from highseas.ruleset.validation import ValidationReport

PathLike = str | os.PathLike[str]

#: The as-of dates highseas accepts (durations of up to 20 years must fit
#: around them in Python's calendar).
MIN_AS_OF = date(1900, 1, 1)
MAX_AS_OF = date(2999, 12, 31)


def load_ruleset(path: PathLike) -> Ruleset:
    """Load, check and parse a ruleset file (raises with every error found)."""
    from highseas.ruleset.loader import load_ruleset as _load

    return _load(Path(path))


def validate(paths: Sequence[PathLike], *, strict: bool = False) -> ValidationReport:
    """Validate rulesets and test files; all diagnostics of all files."""
    from highseas.ruleset.validation import validate_paths

    return validate_paths([str(p) for p in paths], strict=strict)


def today_in(ruleset: Ruleset) -> date:
    """Today's date in the company's time zone: the default as-of date."""
    return datetime.now(ZoneInfo(ruleset.company.timezone)).date()


def _ruleset(ruleset: Ruleset | PathLike) -> Ruleset:
    return ruleset if isinstance(ruleset, Ruleset) else load_ruleset(ruleset)


def _day(ruleset: Ruleset, as_of: date | None) -> date:
    """``as_of``, or today in the company's zone; refused when out of range."""
    day = as_of or today_in(ruleset)
    if not MIN_AS_OF <= day <= MAX_AS_OF:
        raise InvalidInputError(
            f"as-of date {day.isoformat()} is out of range",
            code=codes.AS_OF_OUT_OF_RANGE,
            hint=f"use a date between {MIN_AS_OF.isoformat()} and {MAX_AS_OF.isoformat()}",
        )
    return day


def compile_definition(ruleset: Ruleset | PathLike, as_of: date | None = None) -> dict[str, Any]:
    """The durable-rules definitions the ruleset compiles to for ``as_of``, with
    the decision point each one decides and the field -> property mapping."""
    import json

    from highseas.compile.decision_points import compile_ruleset

    rules = _ruleset(ruleset)
    compiled = compile_ruleset(rules, _day(rules, as_of))
    document: dict[str, Any] = json.loads(compiled.durable_json())
    return document


def plan(ruleset: Ruleset | PathLike, db: PathLike, as_of: date | None = None) -> Plan:
    """Plan the nightly run for ``as_of`` (default: today in the company's zone).
    Reads the database, writes nothing."""
    from highseas.nightly.planner import plan as _plan
    from highseas.store.db import connect

    rules = _ruleset(ruleset)
    day = _day(rules, as_of)
    with connect(db, read_only=True) as con:
        check_company(con, rules, db)
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
    from highseas.nightly.apply import apply_plan, check_can_apply
    from highseas.nightly.planner import plan as _plan
    from highseas.store.db import connect

    rules = _ruleset(ruleset)
    day = _day(rules, as_of)
    if not apply:
        return RunResult(plan(rules, db, day), None)
    with connect(db) as con:
        check_company(con, rules, db)
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
    from highseas.nightly.explain import explain_customer
    from highseas.store.db import connect

    rules = _ruleset(ruleset)
    day = _day(rules, as_of)
    with connect(db, read_only=True) as con:
        check_company(con, rules, db)
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
    from highseas.nightly.claims import check_claim, record_claim
    from highseas.store.db import connect

    rules = _ruleset(ruleset)
    day = _day(rules, as_of)
    with connect(db, read_only=not apply) as con:
        verdict = check_claim(con, rules, day, rep_id, customer_id)
        if apply and verdict.allowed:
            record_claim(con, rules, day, verdict)
        return verdict

