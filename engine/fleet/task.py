"""What a worker runs for one company: the nightly run through the API.

:func:`run_company` plans (and applies) exactly as ``highseas run`` does,
through :func:`highseas.api.run` (with ``--apply``, a date already applied
is not planned again), and returns an :class:`Outcome`. A
company's own fault (a bad ruleset, a missing or busy database, a guard
rail's refusal: any :class:`~highseas.errors.HighseasError`) becomes a
``failed`` or ``skipped by guard`` outcome, never an exception, so that the
cluster does not retry it. Anything else propagates: the cluster retries it.

The apply is one transaction and refuses a date already applied, so running
a company again after a worker died mid-apply writes its run once.
"""

from __future__ import annotations

import hashlib
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from highseas import api
from highseas.errors import HighseasError
from highseas.fleet.companies import CompanyRef
from highseas.fleet.outcome import Outcome, Status, failure
from highseas.fleet.summary import FleetResult


@dataclass(frozen=True)
class RunOptions:
    """The options every company of a fleet run shares."""

    as_of: date | None = None
    apply: bool = False


#: A test-only hook called in the worker just before the company runs.
BeforeRun = Callable[[CompanyRef], None]


def worker_address() -> str:
    """The address of the Dask worker running this task; ``local`` outside one."""
    if "distributed" not in sys.modules:  # never imported: not inside a worker
        return "local"
    from distributed import get_worker

    try:
        return str(get_worker().address)
    except ValueError:
        return "local"


def warm_up() -> None:
    """Import the engine in this worker (by compiling the bundled demo
    ruleset) before the first company, so that no company's duration
    includes the imports."""
    api.compile_definition(api.demo_ruleset_path())


def plan_sha256(result: api.RunResult) -> str:
    """SHA-256 of the plan file ``highseas run --output plan.json`` writes."""
    with tempfile.TemporaryDirectory(prefix="highseas-fleet-") as folder:
        path = Path(folder) / "plan.json"
        api.write_plan(result.plan, path)
        return hashlib.sha256(path.read_bytes()).hexdigest()


def run_company(company: CompanyRef, options: RunOptions,
                before_run: BeforeRun | None = None) -> Outcome:
    """Run one company's nightly job; its :class:`Outcome`."""
    worker = worker_address()
    started = time.perf_counter()
    if before_run is not None:
        before_run(company)
    try:
        rules = api.load_ruleset(company.ruleset)
        # As highseas run --apply: an applied date is not planned again.
        done = api.applied_run(rules, company.facts, options.as_of) if options.apply else None
        if done is not None:
            return Outcome(company.id, Status.ALREADY_APPLIED, as_of=done.as_of.isoformat(),
                           duration_s=time.perf_counter() - started, worker=worker,
                           run_id=done.run_id)
        result = api.run(rules, company.facts, options.as_of, apply=options.apply)
        digest = plan_sha256(result)
    except HighseasError as error:
        return failure(company.id, error,
                       as_of=options.as_of.isoformat() if options.as_of else "",
                       duration_s=time.perf_counter() - started, worker=worker)
    applied = result.applied
    if applied is None:
        status = Status.PLANNED
    elif applied.applied:
        status = Status.APPLIED
    else:
        status = Status.ALREADY_APPLIED
    return Outcome(
        company.id,
        status,
        as_of=result.plan.as_of.isoformat(),
        counts=dict(result.plan.counts()),
        duration_s=time.perf_counter() - started,
        worker=worker,
        run_id=applied.run_id if applied is not None else "",
        plan_sha256=digest,
    )


@dataclass(frozen=True)
class AppliedCheck:
    """Which companies hold an applied run for their date, asked after an
    interrupted ``run-all --apply``."""

    applied: tuple[str, ...]
    not_applied: tuple[str, ...]
    #: companies whose database or ruleset could not say (locked, broken)
    unknown: tuple[str, ...]


def applied_companies(companies: Sequence[CompanyRef], as_of: date | None) -> AppliedCheck:
    """Look in each company's database for the run of its date (``as_of``,
    default today in its zone), applied by this fleet run or before it."""
    applied: list[str] = []
    not_applied: list[str] = []
    unknown: list[str] = []
    for company in companies:
        try:
            done = api.applied_run(company.ruleset, company.facts, as_of)
        except HighseasError:
            unknown.append(company.id)
            continue
        (applied if done is not None else not_applied).append(company.id)
    return AppliedCheck(tuple(applied), tuple(not_applied), tuple(unknown))


def run_in_process(companies: Sequence[CompanyRef], options: RunOptions) -> FleetResult:
    """Every company one after another in this process, without Dask: the
    baseline that the cluster's per-task overhead is measured against."""
    started = time.perf_counter()
    outcomes = [run_company(company, options) for company in companies]
    return FleetResult(tuple(sorted(outcomes, key=lambda o: o.company)),
                       time.perf_counter() - started, 1)
