"""The Python API of highseas: what the CLI is a thin layer over, and what a
CRM embeds.

Every function takes paths or typed objects and returns typed results;
problems are raised as :class:`highseas.errors.HighseasError` subclasses.

May import the facades ``highseas.testing`` and ``highseas.simulate``, and
``highseas.nightly``, ``highseas.compile``, ``highseas.ruleset``,
``highseas.store``, ``highseas.errors``, ``highseas.codes`` and
``highseas.suggestions``; never the CLI or the fleet, which sit above it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from importlib.resources import as_file, files
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from highseas import codes
from highseas import validate as checks
from highseas.compile.decision_points import compile_ruleset
from highseas.errors import InvalidInputError
from highseas.nightly import guards
from highseas.nightly.apply import ApplyResult, applied_run_id, apply_plan, check_can_apply
from highseas.nightly.claims import ClaimVerdict, check_claim, claim_holding, record_claim
from highseas.nightly.explain import Explanation, explain_customer
from highseas.nightly.facts import check_company
from highseas.nightly.guards import TooManyChangesError
from highseas.nightly.outbox import OutboxBatch, fetch, outbox_company, parse_cursor
from highseas.nightly.plan import Plan
from highseas.nightly.plan_diff import DIFF_FORMATS, PlanDiff, diff_plans, format_diff
from highseas.nightly.plan_files import PLAN_FORMATS, check_plan_path, write_plan
from highseas.nightly.planner import plan as _plan
from highseas.nightly.revert import RevertResult, revert_runs
from highseas.nightly.runs import RunDetails, RunRecord, list_runs
from highseas.nightly.runs import reverted_by as reverted_by_of
from highseas.nightly.runs import run_details as run_details_of
from highseas.nightly.summary import format_summary
from highseas.ruleset.diff import RulesetDiff, diff_rulesets, load_ruleset_spec
from highseas.ruleset.loader import load_ruleset as _load
from highseas.ruleset.model import Ruleset
from highseas.ruleset.validation import ValidationReport
from highseas.simulate import SimulationResult, advise, simulate
from highseas.store.db import (
    companies,
    connect,
    init_db,
    open_db,
    schema_version,
    stored_schema_version,
    table_counts,
)
from highseas.store.ddl import SCHEMA_VERSION
from highseas.store.demo import DEMO_ARCHETYPE, ensure_demo_db
from highseas.store.fixtures import DEFAULT_AS_OF, generate
from highseas.store.freshness import RecordedLoad, date_ranges, find_load, new_load_id
from highseas.store.imports import (
    ImportReport,
    import_crm_sales_opportunities,
    import_olist_marketing_funnel,
)
from highseas.store.loader import LoadReport, load_file

__all__ = [
    "MAX_AS_OF",
    "MIN_AS_OF",
    "PLAN_FORMATS",
    "AppliedRun",
    "DatabaseInfo",
    "DIFF_FORMATS",
    "Difference",
    "ImportReport",
    "LoadReport",
    "OutboxBatch",
    "RecordedLoad",
    "RevertResult",
    "RunDetails",
    "RunRecord",
    "RunResult",
    "SimulationResult",
    "TooManyChangesError",
    "ValidationReport",
    "advise",
    "applied_run",
    "check_plan_path",
    "claim",
    "claim_recorded",
    "compile_definition",
    "db_info",
    "demo_applied_run",
    "demo_ruleset_path",
    "diff",
    "explain",
    "format_summary",
    "format_validation",
    "generate_fixtures",
    "import_crm_sales_opportunities",
    "import_olist_marketing_funnel",
    "init_database",
    "load_facts",
    "load_ruleset",
    "new_load_id",
    "outbox",
    "plan",
    "recorded_load",
    "revert",
    "reverted_by",
    "ruleset_schema_text",
    "run",
    "run_demo",
    "run_details",
    "runs",
    "simulate",
    "today_in",
    "validate",
    "write_plan",
]

PathLike = str | os.PathLike[str]

#: The as-of dates highseas accepts (durations of up to 20 years must fit
#: around them in Python's calendar).
MIN_AS_OF = date(1900, 1, 1)
MAX_AS_OF = date(2999, 12, 31)


def load_ruleset(path: PathLike) -> Ruleset:
    """Load, check and parse a ruleset file (raises with every error found)."""
    return _load(Path(path))


def validate(paths: Sequence[PathLike], *, strict: bool = False) -> ValidationReport:
    """Validate rulesets and test files; all diagnostics of all files (the
    same check as ``highseas validate``, :func:`highseas.validate.validate`)."""
    return checks.validate(paths, strict=strict)


def format_validation(report: ValidationReport, fmt: str = "text") -> str:
    """``report`` as ``highseas validate`` prints it: text, json, github or sarif."""
    return checks.format_validation(report, fmt)


def ruleset_schema_text() -> str:
    """The JSON Schema of rulesets (draft 2020-12), as shipped in the package."""
    return checks.ruleset_schema_text()


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
    rules = _ruleset(ruleset)
    compiled = compile_ruleset(rules, _day(rules, as_of))
    document: dict[str, Any] = json.loads(compiled.durable_json())
    return document


def plan(ruleset: Ruleset | PathLike, db: PathLike, as_of: date | None = None) -> Plan:
    """Plan the nightly run for ``as_of`` (default: today in the company's zone).
    Reads the database, writes nothing."""
    rules = _ruleset(ruleset)
    day = _day(rules, as_of)
    with connect(db, read_only=True) as con:
        check_company(con, rules, db)
        return _plan(con, rules, day)


@dataclass(frozen=True)
class Difference:
    """What changes from one ruleset to another: the rules, and with facts
    the plan of the night per customer."""

    rules: RulesetDiff
    plan: PlanDiff | None = None

    @property
    def identical(self) -> bool:
        return self.rules.identical and (self.plan is None or self.plan.identical)

    def format(self, fmt: str = "text", limit: int | None = 200) -> str:
        """The report as ``highseas diff`` prints it: text, json or markdown."""
        return format_diff(self.rules, self.plan, fmt, limit)


def diff(
    old: Ruleset | str,
    new: Ruleset | str,
    db: PathLike | None = None,
    as_of: date | None = None,
) -> Difference:
    """The structural difference of ``old`` and ``new`` (rulesets, file paths
    or git ``REVISION:PATH``), and with ``db`` the per-customer difference
    of the plans of ``as_of`` (default: today in NEW's company zone)."""
    before = old if isinstance(old, Ruleset) else load_ruleset_spec(str(old))
    after = new if isinstance(new, Ruleset) else load_ruleset_spec(str(new))
    rules = diff_rulesets(before, after)
    if db is None:
        return Difference(rules)
    day = _day(after, as_of)
    return Difference(rules, diff_plans(plan(before, db, day), plan(after, db, day)))

@dataclass(frozen=True)
class RunResult:
    """The plan of a run, and what applying it wrote (None when only planned)."""

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
    """Plan, and with ``apply`` write the plan in one transaction.

    Applying is guarded (highseas.nightly.guards): facts older than the
    ruleset's ``guards.max_facts_age`` or an as-of date after today refuse it
    (exit 2); a plan over a blast-radius limit raises
    :class:`TooManyChangesError` (exit 1; its ``plan`` is the refused plan),
    except on the company's first applied run. ``force`` overrides the guards
    (and applies a date before the last applied one); the run row records it.
    """
    rules = _ruleset(ruleset)
    day = _day(rules, as_of)
    if not apply:
        return RunResult(plan(rules, db, day), None)
    with connect(db) as con:
        check_company(con, rules, db)
        skip = check_can_apply(con, rules.company.id, day, force)
        stale = [] if skip else guards.check_facts(con, rules, day, today_in(rules),
                                                   force=force, source=str(db))
        the_plan = _plan(con, rules, day)
        radius, by = ([], "") if skip else guards.check_plan(con, rules, the_plan, force=force)
        overrides = "; ".join(text for text in (
            guards.overrides_text(guards.BY_FORCE, stale), guards.overrides_text(by, radius),
        ) if text) or (guards.BY_FORCE if force else "")
        result = apply_plan(con, the_plan, force=force, overrides=overrides)
    return RunResult(the_plan, result)


@dataclass(frozen=True)
class AppliedRun:
    """The applied run of one as-of date."""

    run_id: str
    as_of: date


def applied_run(
    ruleset: Ruleset | PathLike, db: PathLike, as_of: date | None = None
) -> AppliedRun | None:
    """The run applied for ``as_of`` (default: today in the company's zone), or
    None. Asked before planning (an applied date is not planned again) and
    after an interrupt (to say whether the run was written)."""
    rules = _ruleset(ruleset)
    day = _day(rules, as_of)
    with connect(db, read_only=True) as con:
        run_id = applied_run_id(con, rules.company.id, day)
    return AppliedRun(run_id, day) if run_id is not None else None


def outbox(
    db: PathLike, since: int | str = 0, company: str | None = None, *, limit: int | None = None
) -> OutboxBatch:
    """The changes the CRM has not fetched: those after ``since`` (0, or the
    ``seq`` of the last change it processed), at most ``limit``, with the
    cursor to pass next (docs/nightly-run.md, "The outbox"). ``company``
    defaults to the only company of ``db``. Numbers the changes committed
    since the last fetch, so it opens ``db`` for writing."""
    cursor = parse_cursor(since)
    with connect(db) as con:
        return fetch(con, outbox_company(con, company), cursor, limit)


def explain(
    ruleset: Ruleset | PathLike, db: PathLike, customer_id: str, as_of: date | None = None
) -> Explanation:
    """Why a customer is (or is not) released, reminded, assigned...: facts,
    every rule's verdict with the failing condition, the decision, the
    salespeople considered, and the ownership history."""
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
) -> ClaimVerdict:
    """May ``rep_id`` claim ``customer_id`` now? With ``apply``, record the claim."""
    rules = _ruleset(ruleset)
    day = _day(rules, as_of)
    with connect(db, read_only=not apply) as con:
        verdict = check_claim(con, rules, day, rep_id, customer_id)
        if apply and verdict.allowed:
            record_claim(con, rules, day, verdict)
        return verdict


def claim_recorded(
    ruleset: Ruleset | PathLike, db: PathLike, rep_id: str, customer_id: str
) -> str | None:
    """The event id of the claim by which ``rep_id`` holds ``customer_id`` now,
    or None: asked after an interrupted ``claim(..., apply=True)`` to say
    whether the claim was recorded (a database that does not exist holds none)."""
    rules = _ruleset(ruleset)
    if not Path(db).exists():
        return None
    with connect(db, read_only=True) as con:
        return claim_holding(con, rules.company.id, rep_id, customer_id)


def runs(db: PathLike, company: str | None = None, limit: int | None = None
         ) -> tuple[RunRecord, ...]:
    """The runs ``db`` records (of ``company``, default all), newest first."""
    with open_db(db, read_only=True) as con:
        return list_runs(con, company, limit)


def run_details(db: PathLike, run_id: str, company: str | None = None) -> RunDetails:
    """One run: its row, the events and reminders it wrote, and whether
    :func:`revert` would undo it (and if not, why)."""
    with open_db(db, read_only=True) as con:
        return run_details_of(con, run_id, company)


def revert(db: PathLike, run_ids: Sequence[str], company: str | None = None
           ) -> tuple[RevertResult, ...]:
    """Undo the latest applied runs ``run_ids`` in one transaction, newest
    first (highseas.nightly.revert): ownership, pools, ``owned_since``, claim
    counters, cooldowns, relay and rotation state as before them; their
    pending reminders cancelled; each revert recorded as a run of mode
    ``revert``. Refused (nothing written) for any other run."""
    with open_db(db) as con:
        return revert_runs(con, list(run_ids), company)


def reverted_by(db: PathLike, run_ids: Sequence[str], company: str | None = None
                ) -> dict[str, str | None]:
    """Each of ``run_ids`` -> the revert run that undid it, None when it is not
    reverted (or unknown): asked after an interrupted :func:`revert`."""
    if not Path(db).exists():
        return dict.fromkeys(run_ids)
    with open_db(db, read_only=True) as con:
        return reverted_by_of(con, run_ids, company)


# --------------------------------------------------------------------------
# the facts database
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class DatabaseInfo:
    """What a facts database holds: its schema version and, per company, the
    row count of each table, and the dates of each fact table: its oldest and
    newest timestamp, and when a load or import last wrote it."""

    schema_version: int | None
    companies: dict[str, dict[str, int]]
    #: company -> table -> {"oldest", "newest", "last_load_at"} (ISO text or None)
    date_ranges: dict[str, dict[str, dict[str, str | None]]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"schema_version": self.schema_version, "companies": self.companies,
                "date_ranges": self.date_ranges}


def init_database(db: PathLike) -> int:
    """Create the database ``db``, or upgrade an older one; its schema version."""
    init_db(db)
    return SCHEMA_VERSION


def db_info(db: PathLike) -> DatabaseInfo:
    """The schema version and row counts per company of ``db`` (opened read-only)."""
    with open_db(db, read_only=True) as con:
        found = companies(con)
        ranges = {company: {table: dates.to_dict()
                            for table, dates in date_ranges(con, company).items()}
                  for company in found}
        return DatabaseInfo(schema_version(con),
                            {company: table_counts(con, company) for company in found}, ranges)


def _only_company(db: PathLike) -> str:
    """The one company in ``db``; refused when it holds none or several."""
    with open_db(db, read_only=True) as con:
        found = companies(con)
    if len(found) == 1:
        return found[0]
    listed = f" (it holds: {', '.join(found)})" if found else " (it holds no company yet)"
    raise InvalidInputError(
        f"say which company to load with --company{listed}", code=codes.COMPANY_NOT_GIVEN,
        file=str(db),
    )


def load_facts(
    db: PathLike,
    table: str,
    file: PathLike,
    company: str | None = None,
    *,
    rejects: PathLike | None = None,
    skip_bad_rows: bool = False,
    load_id: str | None = None,
) -> LoadReport:
    """Check every row of ``file`` (CSV, Parquet or JSON) and append it to
    ``table`` for ``company`` (default: the only company in ``db``), in one
    transaction that records the load under ``load_id`` (default: a new id;
    give one from :func:`new_load_id` to ask :func:`recorded_load` later
    whether it was written)."""
    return load_file(db, table, file, company or _only_company(db), rejects_path=rejects,
                     skip_bad_rows=skip_bad_rows, load_id=load_id)


def recorded_load(db: PathLike, load_id: str) -> RecordedLoad | None:
    """The load or import ``db`` records under ``load_id`` (:func:`load_facts`,
    the importers), or None: it was not written. Asked after an interrupt; a
    database that does not exist, or that no load could have written yet
    (not a highseas database, an older schema), records none."""
    if not Path(db).exists():
        return None
    try:
        with open_db(db, read_only=True) as con:
            return find_load(con, load_id)
    except InvalidInputError as error:
        if {d.code for d in error.diagnostics} & {codes.NOT_A_DATABASE, codes.DATABASE_TOO_OLD}:
            return None
        raise


@dataclass(frozen=True)
class StoreState:
    """What a database holds, to tell after an interrupt whether a command
    wrote: its schema version (0: the file exists but holds no highseas
    schema yet) and, for one company, its customer and salesperson counts
    and a hash of their rows."""

    schema_version: int
    customers: int = 0
    reps: int = 0
    #: hashes of the company's customer and salesperson rows
    content_hash: tuple[int, int] = (0, 0)


def store_state(db: PathLike, company: str | None = None) -> StoreState | None:
    """The :class:`StoreState` of ``db`` (and of ``company`` in it), or None
    when the file does not exist."""
    if not Path(db).exists():
        return None
    version = stored_schema_version(db) or 0
    if company is None or version != SCHEMA_VERSION:
        return StoreState(version)
    with open_db(db, read_only=True) as con:
        customers, reps, customer_rows, rep_rows = con.execute(
            "SELECT (SELECT count(*) FROM customers WHERE company_id = $c), "
            "(SELECT count(*) FROM reps WHERE company_id = $c), "
            "(SELECT coalesce(bit_xor(hash(customer_id, created_at, owner_rep_id, "
            "pool_id)), 0) FROM customers WHERE company_id = $c), "
            "(SELECT coalesce(bit_xor(hash(rep_id, hired_on, tier)), 0) "
            "FROM reps WHERE company_id = $c)",
            {"c": company},
        ).fetchall()[0]
    return StoreState(version, int(customers), int(reps), (int(customer_rows), int(rep_rows)))


def generate_fixtures(
    db: PathLike,
    archetype: str,
    customers: int,
    reps: int,
    seed: int = 1,
    as_of: date | None = None,
    *,
    replace: bool = False,
) -> dict[str, Any]:
    """Generate one fake company (``archetype``, also its id) into ``db``: the
    same arguments give the same content. Returns the row counts written."""
    return generate(db, archetype, customers, reps, seed, as_of or DEFAULT_AS_OF,
                    replace=replace)


# --------------------------------------------------------------------------
# the demo
# --------------------------------------------------------------------------


def demo_ruleset_path() -> Path:
    """The bundled example ruleset of the demo company (inside the package)."""
    resource = files("highseas.rulesets").joinpath(f"{DEMO_ARCHETYPE}.yaml")
    with as_file(resource) as path:
        return Path(path)


def demo_applied_run(db: PathLike) -> AppliedRun | None:
    """The demo's applied run in ``db`` (None: not applied, or no database)."""
    if not Path(db).exists():
        return None
    return applied_run(load_ruleset(demo_ruleset_path()), db, DEFAULT_AS_OF)


def run_demo(db: PathLike, *, apply: bool = False) -> RunResult:
    """Create the demo database if absent and run the demo company's ruleset on
    it as of the generator's anchor date."""
    Path(db).parent.mkdir(parents=True, exist_ok=True)
    ensure_demo_db(db)
    return run(load_ruleset(demo_ruleset_path()), db, DEFAULT_AS_OF, apply=apply)
