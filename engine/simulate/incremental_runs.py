"""The scenarios of a sweep on the incremental replay, sharing their history.

The recorded history of the replayed days depends on the ruleset only
through what derives the facts (company, regions, pools, custom fields,
tiers), which a sweep over durations, caps or allocations leaves alone. So
the scenarios with the same such parts share one rewound copy and one
:class:`highseas.simulate.incremental.History`, read once; each scenario
then replays on its own columnar state. With more than one worker they run
in forked processes, which inherit the history instead of reading it again
(on platforms without ``fork``, one after the other).
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from highseas import codes
from highseas.errors import Diagnostic, Severity
from highseas.nightly.facts import check_company
from highseas.ruleset.model import Ruleset
from highseas.simulate.metrics import (
    Row,
    collect_context,
    counted,
    read_copy_facts,
    scenario_tables,
)
from highseas.simulate.overrides import Scenario
from highseas.simulate.provenance import database_span
from highseas.simulate.replay import ReplayLog, copy_database, rewind
from highseas.store.db import open_db


@dataclass(frozen=True)
class IncrementalOutcome:
    """One scenario's metric tables and day timings."""

    tables: dict[str, list[Row]]
    day_seconds: tuple[float, ...]


def facts_key(ruleset: Ruleset) -> tuple[Any, ...]:
    """What of ``ruleset`` the recorded history depends on."""
    return (ruleset.company.id, ruleset.regions, ruleset.pools, ruleset.custom_fields,
            ruleset.tiers)


#: The shared inputs of forked workers (set before the pool starts).
_SHARED: dict[str, Any] = {}


def run_group(scenarios: Sequence[Scenario], source: Path, folder: Path, name: str,
              days: list[date], first_counted: date, claim_back: bool,
              progress: Callable[[int], None] | None, workers: int, first_group: bool,
              db_label: str) -> tuple[list[IncrementalOutcome], list[Diagnostic],
                                      tuple[date | None, date | None]]:
    """Replay ``scenarios`` (one facts key) from one rewound copy."""
    from highseas.simulate import incremental

    copy = copy_database(source, folder, name)
    warnings: list[Diagnostic] = []
    span: tuple[date | None, date | None] = (None, None)
    baseline = scenarios[0].ruleset
    with open_db(copy) as con:
        con.execute("SET threads = 1") if workers > 1 else None
        if first_group:
            check_company(con, baseline, db_label)
            span = database_span(con, baseline.company.id)
        undone = rewind(con, baseline, days[0])
        if undone and first_group:
            warnings.append(Diagnostic(
                codes.OWNERSHIP_CHANGES_UNDONE,
                f"the database records {undone} ownership change(s) on or after "
                f"{days[0].isoformat()}; the replay undid them in its copy to start from "
                "the ownership of that day", file=db_label, severity=Severity.WARNING,
                hint="changes made outside highseas (not in the audit trail) cannot be "
                "undone; relays in progress and rotation positions restart"))
        history = incremental.read_history(con, baseline, days)
        starts = [incremental.read_start(con, s.ruleset, days[0]) for s in scenarios]
        copy_facts = read_copy_facts(con, baseline, days[-1])
        # the changed customers' facts and the first day's state, made once
        # for the workers to share
        for types in {tuple(sorted(incremental.read_columns(s.ruleset).items()))
                      for s in scenarios}:
            history.prepare(dict(types))
            incremental.initial_state(history, dict(types))
        con.execute("CHECKPOINT")
    _SHARED.update(history=history, starts=starts, scenarios=list(scenarios), copy=copy,
                   copy_facts=copy_facts,
                   days=days, first_counted=first_counted, claim_back=claim_back)
    try:
        if workers > 1 and len(scenarios) > 1 and "fork" in multiprocessing.get_all_start_methods():
            outcomes = _forked(len(scenarios), workers, progress)
        else:
            outcomes = [_replay_one(index, progress) for index in range(len(scenarios))]
    finally:
        _SHARED.clear()
    return outcomes, warnings, span


def _replay_one(index: int, progress: Callable[[int], None] | None) -> IncrementalOutcome:
    from highseas.simulate import incremental

    scenario: Scenario = _SHARED["scenarios"][index]
    days: list[date] = _SHARED["days"]
    log: ReplayLog = incremental.replay_incremental(
        None, scenario.ruleset, days, claim_back=_SHARED["claim_back"],
        history=_SHARED["history"], start=_SHARED["starts"][index], progress=progress)
    with open_db(_SHARED["copy"], read_only=True) as con:
        context = collect_context(con, scenario.name, scenario.ruleset,
                                  _SHARED["first_counted"], days[-1],
                                  counted(log, _SHARED["first_counted"]),
                                  _SHARED["copy_facts"])
    return IncrementalOutcome(scenario_tables(context),
                              tuple(state.seconds for state in log.days))


def _worker(index: int, ticks: Any) -> IncrementalOutcome:
    return _replay_one(index, ticks.put if ticks is not None else None)


def _forked(count: int, workers: int,
            progress: Callable[[int], None] | None) -> list[IncrementalOutcome]:
    from highseas.simulate.workers import run_in_processes

    return run_in_processes("fork", min(workers, count), _worker,
                            [(index,) for index in range(count)], progress)
