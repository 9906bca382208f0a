"""``highseas simulate --verify``: the incremental replay checked against the
nightly path, day by day.

Both replays start from the same rewound copy; :func:`first_difference`
compares their logs day by day (every decision but reminders, which both
count; claims back, lost touches, the pools' sizes) and names the first day,
customer and both decisions where they part.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from highseas import codes
from highseas.errors import ReplayDivergedError
from highseas.simulate.replay import ReplayLog

#: What a day's state holds that both paths must agree on.
_DAY_FIELDS = ("counts", "high_seas", "private", "pools", "claims_back", "lost_touches")


@dataclass(frozen=True)
class Difference:
    """Where two replays first differ."""

    day: date
    what: str
    nightly: Any
    incremental: Any

    def describe(self) -> str:
        return (f"on {self.day.isoformat()}, {self.what}: the nightly path "
                f"{_show(self.nightly)}, the incremental replay {_show(self.incremental)}")


def _show(value: Any) -> str:
    if isinstance(value, tuple) and len(value) >= 3:
        action, customer, rule, from_rep, to_rep, from_pool, to_pool = value[1:8]
        where = (f"{from_rep or from_pool or '-'} -> {to_rep or to_pool or '-'}")
        return f"decided {action} of {customer} by {rule} ({where})"
    if value is None:
        return "decided nothing"
    return f"has {value}"


def first_difference(nightly: ReplayLog, incremental: ReplayLog) -> Difference | None:
    """The first day (and what) on which the two logs differ; None if equal."""
    by_day_n = _events_by_day(nightly)
    by_day_i = _events_by_day(incremental)
    for day_n, day_i in zip(nightly.days, incremental.days, strict=True):
        day = day_n.day
        events_n, events_i = by_day_n.get(day, []), by_day_i.get(day, [])
        if events_n != events_i:
            keyed_n = {(e[1], e[2]): e for e in events_n}
            keyed_i = {(e[1], e[2]): e for e in events_i}
            for key in sorted(set(keyed_n) | set(keyed_i)):
                if keyed_n.get(key) != keyed_i.get(key):
                    return Difference(day, f"customer {key[1]}", keyed_n.get(key),
                                      keyed_i.get(key))
            return Difference(day, "the order of the decisions", [e[2] for e in events_n],
                              [e[2] for e in events_i])
        for name in _DAY_FIELDS:
            value_n, value_i = getattr(day_n, name), getattr(day_i, name)
            if value_n != value_i:
                return Difference(day, name.replace("_", " "), value_n, value_i)
    return None


def _events_by_day(log: ReplayLog) -> dict[date, list[tuple[Any, ...]]]:
    out: dict[date, list[tuple[Any, ...]]] = {}
    for event in log.events:
        out.setdefault(event[0], []).append(event)
    return out


def check_equal(nightly: ReplayLog, incremental: ReplayLog, scenario: str) -> None:
    """Raise HS713 (exit 1) at the first difference of the two logs."""
    difference = first_difference(nightly, incremental)
    if difference is not None:
        raise ReplayDivergedError(
            f"scenario {scenario}: {difference.describe()}",
            code=codes.REPLAY_PATHS_DIFFER, file="<command line>",
            hint="this is a bug in highseas's incremental replay; replay without --verify "
                 "and with --replay-path nightly for the nightly run's answer, and report it")
