"""The incremental replay: the nightly run's decisions, day after day, on a
scenario's columnar state instead of its database copy.

Holds :mod:`.history` (what the recorded history brings each day, read once
from the rewound copy), :mod:`.start` (the engine state the replay starts
from: rotation, relays), :mod:`.state` (one scenario's owners, pools and
facts as numpy columns), :mod:`.steps` (the nightly run's steps on that
state) and :mod:`.planner` (one replayed day: claims back, facts, steps,
apply).
:func:`replay_incremental` gives the same :class:`highseas.simulate.replay.ReplayLog`
as the nightly-path replay; ``highseas simulate --verify`` runs both and
stops at the first day they differ (:mod:`highseas.simulate.verify`).

May import: highseas.nightly, highseas.compile, highseas.ruleset and the
rest of highseas.simulate below the facade.
"""

from __future__ import annotations

import time as clock
from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING

from highseas.ruleset.model import Ruleset
from highseas.simulate.incremental.history import History, read_history
from highseas.simulate.incremental.planner import (
    DayCheck,
    IncrementalPlanner,
    initial_state,
    read_columns,
    unsupported,
)
from highseas.simulate.incremental.start import EngineStart, read_start
from highseas.simulate.replay import DayState, ReplayLog

if TYPE_CHECKING:
    import duckdb

__all__ = ["EngineStart", "History", "initial_state", "read_columns", "read_history",
           "read_start", "replay_incremental", "unsupported"]


def replay_incremental(
    con: duckdb.DuckDBPyConnection | None,
    ruleset: Ruleset,
    days: list[date],
    *,
    claim_back: bool = True,
    history: History | None = None,
    start: EngineStart | None = None,
    progress: Callable[[int], None] | None = None,
    check: DayCheck | None = None,
) -> ReplayLog:
    """Replay ``days`` under ``ruleset`` from the rewound copy ``con`` (only
    read), as :func:`highseas.simulate.replay.replay` would on it. ``history``
    and ``start``, when given (read from such a copy), spare reading them:
    ``con`` may then be None. ``check``: ``--verify-every``
    (:class:`highseas.simulate.verify.StateCheck`)."""
    if history is None or start is None:
        assert con is not None, "a copy to read the history from"
        history = history or read_history(con, ruleset, days)
        start = start or read_start(con, ruleset, days[0])
    planner = IncrementalPlanner(ruleset, history, start, claim_back=claim_back)
    log = ReplayLog()
    for today in history.days:
        started = clock.perf_counter()
        outcome = planner.day(today, check, log.events)
        log.events.extend(outcome.events)
        log.days.append(DayState(outcome.day, outcome.counts, outcome.high_seas,
                                 outcome.private, outcome.pools, outcome.claims_back,
                                 outcome.lost_touches, 0, clock.perf_counter() - started))
        if progress is not None:
            progress(1)
    return log
