"""What-if simulation and idle-period advice: the Python API.

``simulate`` replays the recorded history day by day under the ruleset as
written (the baseline) and under each scenario (``--set``, ``--idle-period``,
``--sweep``), each on its own copy of the database, and returns metric
tables side by side. ``advise`` recommends an idle period from the recorded
history. Both are what ``highseas simulate`` / ``highseas advise`` call, and
what a notebook calls::

    from highseas.simulate import simulate
    result = simulate("rulesets/quick-order.yaml", "facts.duckdb",
                      date(2026, 1, 1), date(2026, 6, 30),
                      sweeps=["idle-period=14d,30d,60d"])
    result.table("summary").to_pylist()      # or .to_pandas()

See docs/simulation.md for override paths, assumptions and metrics.

This module is the package's public facade; the command line uses nothing
else of it. Modules:

* ``overrides`` - ``--set`` / ``--idle-period`` / ``--sweep`` into scenario rulesets
* ``replay`` - the day-by-day replay of recorded history on a database copy
* ``replay_facts`` - the replay's incremental re-derivation of customer facts
* ``incremental`` - the incremental replay: the nightly decisions on columnar
  state, day by day, without SQL (imported where used: numpy)
* ``incremental_runs`` - a sweep's scenarios on the incremental replay, sharing
  their history (forked workers)
* ``verify`` - ``--verify``: the first difference of the two replay paths
* ``workers`` - scenarios in worker processes, with the progress of their days
* ``metrics`` - metric tables of a replayed scenario, side by side
* ``result`` - :class:`SimulationResult` and its text table
* ``provenance`` - what produced a simulation: ruleset hash, database, command, date
* ``advice`` - the idle-period recommendation from gaps in the history
* ``report`` - CSV / Parquet files, PNG charts and the HTML reports

May import: ``highseas.nightly``, ``highseas.compile``, ``highseas.ruleset``,
``highseas.store``, ``highseas.errors``, ``highseas.codes``,
``highseas.suggestions``. Never ``highseas.testing``, ``highseas.api`` or
``highseas.cli``.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from highseas import codes
from highseas.errors import Diagnostic, InvalidInputError, Severity
from highseas.nightly.facts import check_company
from highseas.ruleset.loader import load_ruleset
from highseas.simulate.advice import Advice, advise_from_connection
from highseas.simulate.metrics import Row, collect_context, counted, merge, scenario_tables
from highseas.simulate.overrides import Scenario, build_scenarios, swept_settings
from highseas.simulate.provenance import (
    Provenance,
    database_span,
    highseas_version,
    produced_date,
    python_call,
)
from highseas.simulate.replay import (
    ContactModel,
    ReplayLog,
    copy_database,
    day_range,
    measured_from,
    rewind,
)
from highseas.simulate.replay import replay as replay_history  # ``replay`` stays the module
from highseas.simulate.report import write_advice, write_outputs
from highseas.simulate.result import SimulationResult
from highseas.simulate.verify import StateCheck, check_equal
from highseas.store.db import open_db

if TYPE_CHECKING:
    import duckdb

__all__ = [
    "Advice",
    "ContactModel",
    "Provenance",
    "Scenario",
    "SimulationResult",
    "advise",
    "day_range",
    "measured_from",
    "plan_scenarios",
    "simulate",
]

PathLike = str | os.PathLike[str]


@dataclass(frozen=True)
class ReplayOptions:
    """How the replay treats touches the history cannot settle."""

    claim_back: bool = True
    contact: ContactModel | None = None
    #: ``auto`` (the incremental replay where it can, else the nightly
    #: path), ``incremental`` or ``nightly``.
    path: str = "auto"
    #: Replay on both paths and stop at the first difference (HS713).
    verify: bool = False
    #: Plan every K-th day on the nightly path, on the incremental replay's
    #: state, and stop at the first difference (HS713); 0: never.
    verify_every: int = 0


def plan_scenarios(
    ruleset: PathLike,
    *,
    sets: Sequence[str] = (),
    idle_period: str | None = None,
    sweeps: Sequence[str] = (),
) -> list[Scenario]:
    """The validated baseline and scenarios (raises on any invalid override)."""
    return build_scenarios(Path(ruleset), sets, idle_period, sweeps)


@dataclass(frozen=True)
class ScenarioOutcome:
    """What one scenario's replay gives the facade."""

    tables: dict[str, list[Row]]
    warnings: list[Diagnostic]
    #: The first and last day of the company's facts (read by the first scenario).
    facts_span: tuple[date | None, date | None] = (None, None)
    #: Wall seconds of each replayed day, warm-up included (for benchmarks:
    #: no metric table holds them, so that outputs are the same byte for byte).
    day_seconds: tuple[float, ...] = ()


def _run_scenario(
    scenario: Scenario, db: Path, folder: Path, index: int, days: list[date],
    options: ReplayOptions, progress: Callable[[int], None] | None, threads: int | None = None,
    first_counted: date | None = None,
) -> ScenarioOutcome:
    copy = copy_database(db, folder, f"scenario-{index}")
    warnings: list[Diagnostic] = []
    span: tuple[date | None, date | None] = (None, None)
    first_counted = first_counted or days[0]
    try:
        with open_db(copy) as con:
            if threads is not None:
                con.execute(f"SET threads = {int(threads)}")
            if index == 0:
                check_company(con, scenario.ruleset, db)
                span = database_span(con, scenario.ruleset.company.id)
            undone = rewind(con, scenario.ruleset, days[0])
            if undone and index == 0:
                warnings.append(Diagnostic(
                    codes.OWNERSHIP_CHANGES_UNDONE,
                    f"the database records {undone} ownership change(s) on or after "
                    f"{days[0].isoformat()}; the replay undid them in its copy to start from "
                    "the ownership of that day", file=str(db), severity=Severity.WARNING,
                    hint="changes made outside highseas (not in the audit trail) cannot be "
                    "undone; relays in progress and rotation positions restart"))
            log = _replay(con, scenario, days, options, progress)
            # A warm-up is replayed, not counted.
            context = collect_context(con, scenario.name, scenario.ruleset, first_counted,
                                      days[-1], counted(log, first_counted))
    finally:
        for leftover in (copy, copy.with_name(copy.name + ".wal")):
            leftover.unlink(missing_ok=True)
    return ScenarioOutcome(scenario_tables(context), warnings, span,
                           tuple(state.seconds for state in log.days))


def _shared_incremental(scenarios: Sequence[Scenario], options: ReplayOptions) -> bool:
    """Whether every scenario replays incrementally without --verify (they
    then share their history: highseas.simulate.incremental_runs)."""
    from highseas.simulate import incremental

    return (options.path != "nightly" and not options.verify and not options.verify_every
            and all(incremental.unsupported(s.ruleset, contact=options.contact) is None
                    for s in scenarios))


def _run_incremental(
    scenarios: list[Scenario], source: Path, folder: Path, days: list[date],
    options: ReplayOptions, progress: Callable[[int], None] | None, workers: int,
    first_counted: date, db_label: str,
) -> list[ScenarioOutcome]:
    """The scenarios on the incremental replay, grouped by what their
    history depends on; outcomes in the order of ``scenarios``."""
    from highseas.simulate import incremental_runs

    groups: dict[Any, list[int]] = {}
    for index, scenario in enumerate(scenarios):
        groups.setdefault(incremental_runs.facts_key(scenario.ruleset), []).append(index)
    outcomes: dict[int, ScenarioOutcome] = {}
    for number, members in enumerate(groups.values()):
        results, warnings, span = incremental_runs.run_group(
            [scenarios[i] for i in members], source, folder, f"incremental-{number}", days,
            first_counted, options.claim_back, progress, workers, number == 0, db_label)
        for position, (index, result) in enumerate(zip(members, results, strict=True)):
            first = number == 0 and position == 0
            outcomes[index] = ScenarioOutcome(
                result.tables, warnings if first else [], span if first else (None, None),
                result.day_seconds)
    return [outcomes[index] for index in range(len(scenarios))]


def _replay(con: duckdb.DuckDBPyConnection, scenario: Scenario, days: list[date],
            options: ReplayOptions, progress: Callable[[int], None] | None) -> ReplayLog:
    """One scenario's replay on the path ``options`` asks for."""
    from highseas.simulate import incremental  # numpy: only where a replay runs

    ruleset = scenario.ruleset
    reason = incremental.unsupported(ruleset, contact=options.contact)
    if options.path == "incremental" and reason is not None:
        raise InvalidInputError(
            f"scenario {scenario.name}: the incremental replay cannot replay {reason} yet",
            code=codes.INCREMENTAL_UNSUPPORTED, file="<command line>",
            hint="leave out --replay-path (auto) to replay such a ruleset on the nightly path")
    if options.path == "nightly" or reason is not None:
        return replay_history(con, ruleset, days, claim_back=options.claim_back,
                              contact=options.contact, progress=progress)
    check = (StateCheck(con, ruleset, options.verify_every, scenario.name)
             if options.verify_every else None)
    log = incremental.replay_incremental(con, ruleset, days, claim_back=options.claim_back,
                                         progress=progress, check=check)
    if options.verify:
        # The incremental replay only read the copy: the nightly path starts
        # from the same state.
        nightly = replay_history(con, ruleset, days, claim_back=options.claim_back)
        check_equal(nightly, log, scenario.name)
    return log


def simulate(
    ruleset: PathLike,
    db: PathLike,
    start: date,
    end: date,
    *,
    sets: Sequence[str] = (),
    idle_period: str | None = None,
    sweeps: Sequence[str] = (),
    out: PathLike | None = None,
    claim_back: bool = True,
    contact_after: str | None = None,
    contact_share: float = 1.0,
    progress: Callable[[int], None] | None = None,
    scratch: PathLike | None = None,
    jobs: int | None = None,
    warm_up: str | None = None,
    command: str | None = None,
    produced_on: date | None = None,
    replay_path: str = "auto",
    verify: bool = False,
    verify_every: int = 0,
) -> SimulationResult:
    """Replay ``start``..``end`` under the baseline and every scenario.

    ``sets`` are ``PATH=VALUE`` overrides applied to every scenario,
    ``idle_period`` sets every release rule's idle period, each of ``sweeps``
    (``PATH=V1,V2,...``) runs one scenario per value. ``out``: write tables,
    charts and report.html there. ``claim_back=False`` turns recorded touches
    by a salesperson who lost the customer into lost touches only (no claim
    back). ``contact_after`` (a duration such as ``3d``) switches on the
    behaviour model: new owners contact ``contact_share`` of the customers
    they receive that long afterwards (docs/simulation.md); off by default,
    no contacts are invented. ``progress`` is called with 1 after each simulated day. The
    database at ``db`` is only read (copied); ``scratch`` is where the copies
    live (default: a temporary folder, removed afterwards). ``jobs``: how many
    scenarios run at once in separate processes (default: one per CPU for long
    runs, 1 for short ones). ``warm_up`` (a duration such as ``30d``): the
    first days are replayed but not counted in any metric. ``command``: how
    the report says it was asked for (default: this call, in Python);
    ``produced_on``: the date the report gives (default: ``SOURCE_DATE_EPOCH``'s
    day when set, else today). ``replay_path``: ``auto`` replays each
    scenario with the incremental replay when it can (else on the nightly
    path), ``incremental`` or ``nightly`` force one (HS714 when the
    incremental replay cannot). ``verify``: also replay the incrementally
    replayed scenarios on the nightly path and raise HS713 (exit 1) at the
    first difference (docs/simulation.md). ``verify_every`` K: plan every
    K-th day (the first included) on the nightly path, on the incremental
    replay's own state, and raise HS713 at a difference.
    """
    started = time.perf_counter()
    days = day_range(start, end)
    first_counted = measured_from(start, end, warm_up)
    contact = ContactModel.parse(contact_after, contact_share) if contact_after else None
    if replay_path not in ("auto", "incremental", "nightly"):
        raise InvalidInputError(f"unknown replay path {replay_path!r}",
                                code=codes.INCREMENTAL_UNSUPPORTED, file="<command line>",
                                hint="auto, incremental or nightly")
    if verify_every < 0:
        raise InvalidInputError(f"--verify-every {verify_every}: give 1 or more",
                                code=codes.VERIFY_EVERY_BELOW_ONE, file="<command line>")
    options = ReplayOptions(claim_back, contact, replay_path, verify, verify_every)
    source = Path(db)
    scenarios = plan_scenarios(ruleset, sets=sets, idle_period=idle_period, sweeps=sweeps)
    warnings: list[Diagnostic] = [w for s in scenarios for w in s.warnings]
    same = same_as(scenarios)
    distinct = [scenario for index, scenario in enumerate(scenarios) if same[index] == index]
    workers = _workers(jobs, len(distinct), len(days))
    with tempfile.TemporaryDirectory(prefix="highseas-sim-", dir=scratch) as folder:
        if _shared_incremental(distinct, options):
            outcomes = _run_incremental(distinct, source, Path(folder), days, options,
                                        progress, workers, first_counted, str(db))
        elif workers > 1:
            outcomes = _run_parallel(distinct, source, Path(folder), days, options,
                                     progress, workers, first_counted)
        else:
            outcomes = [_run_scenario(scenario, source, Path(folder), index, days, options,
                                      progress, first_counted=first_counted)
                        for index, scenario in enumerate(distinct)]
    by_name = {scenario.name: outcome for scenario, outcome in zip(distinct, outcomes,
                                                                   strict=True)}
    per_scenario = []
    for index, scenario in enumerate(scenarios):
        original = scenarios[same[index]].name
        tables, found = by_name[original].tables, by_name[original].warnings
        if original != scenario.name:
            # the overrides left the ruleset as it was: the same replay, not run twice
            tables = {name: [{**row, "scenario": scenario.name} for row in rows]
                      for name, rows in tables.items()}
            if progress is not None:
                progress(len(days))
        per_scenario.append(tables)
        warnings.extend(found)
    facts_from, facts_to = outcomes[0].facts_span
    provenance = Provenance(
        ruleset=str(ruleset), ruleset_sha256=scenarios[0].ruleset.content_hash,
        database=str(db), facts_from=facts_from, facts_to=facts_to,
        command=command or python_call(
            ruleset, db, start, end, sets=tuple(sets), idle_period=idle_period,
            sweeps=tuple(sweeps), warm_up=warm_up, out=out, claim_back=claim_back,
            contact_after=contact_after, contact_share=contact_share),
        version=highseas_version(), produced_on=produced_date(produced_on),
        warm_up=warm_up or "", swept=tuple(swept_settings(ruleset, sweeps)),
    )
    result = SimulationResult(
        company_id=scenarios[0].ruleset.company.id, start=start, end=end,
        scenarios=tuple(s.name for s in scenarios),
        overrides={s.name: tuple(f"{o.option} {o.label()}" for o in s.overrides)
                   for s in scenarios},
        tables=merge(per_scenario), warnings=tuple(_unique(warnings)),
        behaviour=contact.describe() if contact else "",
        measured_from=first_counted if first_counted != start else None,
        same_as_baseline=tuple(s.name for index, s in enumerate(scenarios)
                               if index and same[index] == 0),
        provenance=provenance,
        day_seconds={scenario.name: outcome.day_seconds
                     for scenario, outcome in zip(distinct, outcomes, strict=True)},
    )
    result.seconds = time.perf_counter() - started
    if out is not None:
        result.files = tuple(write_outputs(result, Path(out)))
        result.seconds = time.perf_counter() - started
    return result


def same_as(scenarios: Sequence[Scenario]) -> list[int]:
    """For each scenario, the index of the first scenario with an identical
    ruleset (itself when none): an override that sets a value to what it
    already is (``--sweep idle-period=90d`` on a 90-day rule) replays nothing new."""
    from dataclasses import replace

    keys: list[object] = []
    out: list[int] = []
    for scenario in scenarios:
        key = replace(scenario.ruleset, content_hash="")
        out.append(keys.index(key) if key in keys else len(keys))
        if out[-1] == len(keys):
            keys.append(key)
    # map positions among distinct rulesets back to scenario indexes
    first: dict[int, int] = {}
    result = []
    for index, group in enumerate(out):
        first.setdefault(group, index)
        result.append(first[group])
    return result


#: Below this many scenario-days, starting worker processes costs more than it saves.
PARALLEL_MIN_SCENARIO_DAYS = 120


def _workers(jobs: int | None, scenarios: int, days: int) -> int:
    if jobs is not None:
        if jobs < 1:
            raise InvalidInputError(f"--jobs {jobs}: give at least 1", code=codes.JOBS_BELOW_ONE)
        return min(jobs, scenarios)
    if scenarios * days < PARALLEL_MIN_SCENARIO_DAYS:
        return 1
    return max(1, min(os.cpu_count() or 1, scenarios))


def _run_parallel(
    scenarios: list[Scenario], source: Path, folder: Path, days: list[date],
    options: ReplayOptions, progress: Callable[[int], None] | None, workers: int,
    first_counted: date,
) -> list[ScenarioOutcome]:
    """Scenarios in worker processes (spawned: no inherited DuckDB state), each
    DuckDB connection limited to one thread so the processes share the CPUs."""
    from highseas.simulate.workers import run_in_processes

    return run_in_processes(
        "spawn", workers, _scenario_worker,
        [(scenario, source, folder, index, days, options, first_counted)
         for index, scenario in enumerate(scenarios)], progress)


def _scenario_worker(
    scenario: Scenario, source: Path, folder: Path, index: int, days: list[date],
    options: ReplayOptions, first_counted: date, ticks: Any,
) -> ScenarioOutcome:
    progress = ticks.put if ticks is not None else None
    return _run_scenario(scenario, source, folder, index, days, options, progress,
                         threads=1, first_counted=first_counted)


def _unique(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    seen: set[str] = set()
    out = []
    for diagnostic in diagnostics:
        key = diagnostic.format_text()
        if key not in seen:
            seen.add(key)
            out.append(diagnostic)
    return out


def advise(
    db: PathLike,
    ruleset: PathLike | None = None,
    *,
    company_id: str | None = None,
    max_share: float = 0.05,
    statuses: Sequence[str] = ("won",),
    out: PathLike | None = None,
) -> Advice:
    """The idle period at which at most ``max_share`` of eventual orders would
    have been released, with the gap distributions, from the recorded history.

    With ``ruleset``: its company, and what its current idle periods release.
    ``statuses``: the order statuses that count as eventual orders.
    ``out``: write the curve (CSV, Parquet, PNG) and advice.html there.
    The database is opened read-only.
    """
    rules = load_ruleset(Path(ruleset)) if ruleset is not None else None
    with open_db(db, read_only=True) as con:
        advice = advise_from_connection(con, company_id=company_id, max_share=max_share,
                                        ruleset=rules, statuses=statuses)
    if out is not None:
        write_advice(advice, Path(out))
    return advice
