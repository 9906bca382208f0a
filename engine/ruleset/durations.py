"""Durations such as ``14d``, ``2w``, ``6mo``, ``2y``.

Days and weeks are exact numbers of days. Months and years are calendar
months and years: adding ``1mo`` to 31 January gives 28 (or 29) February,
the last day of the shorter month; adding ``1y`` to 29 February gives
28 February of a non-leap year. Subtracting rolls the same way (31 March
minus ``1mo`` is 28/29 February). This is the "clamp to month end" rule
used by most calendars and by ``dateutil.relativedelta``.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, timedelta

DURATION_PATTERN = r"^([1-9][0-9]{0,3})(d|w|mo|y)$"
_DURATION_RE = re.compile(DURATION_PATTERN)
_UNIT_NAMES = {"d": "day", "w": "week", "mo": "month", "y": "year"}
#: Longest duration accepted, in days (about 20 years).
MAX_DURATION_DAYS = 7305


class DurationError(ValueError):
    """A string that is not a valid duration."""


@dataclass(frozen=True, order=True)
class Duration:
    """A positive calendar duration: ``amount`` of ``unit`` (d, w, mo, y)."""

    amount: int
    unit: str

    @classmethod
    def parse(cls, text: str) -> Duration:
        """Parse ``14d``/``2w``/``6mo``/``2y``; raise :class:`DurationError` otherwise."""
        if not isinstance(text, str):
            raise DurationError(f"a duration must be a string like '14d', not {text!r}")
        match = _DURATION_RE.match(text.strip())
        if not match or text != text.strip():
            raise DurationError(
                f"{text!r} is not a duration; write a whole number of days, weeks, "
                "months or years such as '14d', '2w', '6mo' or '2y'"
            )
        duration = cls(int(match.group(1)), match.group(2))
        if duration.approx_days() > MAX_DURATION_DAYS:
            raise DurationError(f"{text!r} is longer than the maximum of 20 years")
        return duration

    def __str__(self) -> str:
        return f"{self.amount}{self.unit}"

    def describe(self) -> str:
        name = _UNIT_NAMES[self.unit]
        return f"{self.amount} {name}{'s' if self.amount != 1 else ''}"

    def approx_days(self) -> int:
        """Nominal length in days (months as 30.44, years as 365.25), for checks
        that compare durations, never for computing dates."""
        factor = {"d": 1.0, "w": 7.0, "mo": 30.436875, "y": 365.2425}[self.unit]
        return round(self.amount * factor)

    def add_to(self, day: date) -> date:
        """``day`` plus this duration (month ends clamp)."""
        return _shift(day, self, +1)

    def latest_start(self, day: date) -> date:
        """The latest date ``t`` with ``t + self <= day``.

        Thresholds use this, not :meth:`subtract_from`, so that a period that
        starts on 31 January and lasts ``1mo`` is over on 28/29 February: the
        release date is always ``start + duration``. (31 March minus a month
        is 29 February, but 30 and 31 January plus a month are 29 February too.)
        """
        start = self.subtract_from(day)
        while self.add_to(start + timedelta(days=1)) <= day:
            start += timedelta(days=1)
        return start

    def subtract_from(self, day: date) -> date:
        """``day`` minus this duration (month ends clamp)."""
        return _shift(day, self, -1)


def _shift(day: date, duration: Duration, sign: int) -> date:
    if duration.unit == "d":
        return day + timedelta(days=sign * duration.amount)
    if duration.unit == "w":
        return day + timedelta(days=sign * 7 * duration.amount)
    months = duration.amount * (12 if duration.unit == "y" else 1) * sign
    total = day.year * 12 + (day.month - 1) + months
    year, month = divmod(total, 12)
    month += 1
    last = calendar.monthrange(year, month)[1]
    return date(year, month, min(day.day, last))
