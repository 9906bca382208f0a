"""Durations: parsing and calendar arithmetic at month ends and 29 February."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from highseas.ruleset.durations import Duration, DurationError


@pytest.mark.parametrize("text", ["14d", "2w", "6mo", "2y", "1d", "20y"])
def test_valid_durations_parse_and_print_back(text: str) -> None:
    assert str(Duration.parse(text)) == text


@pytest.mark.parametrize("text", ["0d", "-3d", "14 days", "14", "d", "3h", " 14d", "21y", "1.5mo"])
def test_invalid_durations_are_rejected(text: str) -> None:
    with pytest.raises(DurationError):
        Duration.parse(text)


@pytest.mark.parametrize(
    ("start", "duration", "expected"),
    [
        (date(2026, 1, 31), "1mo", date(2026, 2, 28)),
        (date(2024, 1, 31), "1mo", date(2024, 2, 29)),
        (date(2024, 2, 29), "1y", date(2025, 2, 28)),
        (date(2024, 2, 29), "4y", date(2028, 2, 29)),
        (date(2026, 3, 31), "1mo", date(2026, 4, 30)),
        (date(2026, 12, 15), "2w", date(2026, 12, 29)),
        (date(2026, 11, 30), "3mo", date(2027, 2, 28)),
    ],
)
def test_calendar_months_clamp_to_the_month_end(start: date, duration: str, expected: date) -> None:
    assert Duration.parse(duration).add_to(start) == expected


def test_a_period_from_the_31st_ends_on_the_last_day_of_a_short_month() -> None:
    one_month = Duration.parse("1mo")
    assert one_month.latest_start(date(2024, 2, 29)) == date(2024, 1, 31)
    assert one_month.latest_start(date(2024, 2, 28)) == date(2024, 1, 28)


@settings(max_examples=300, deadline=None)
@given(
    day=st.dates(min_value=date(1990, 1, 1), max_value=date(2100, 12, 31)),
    amount=st.integers(min_value=1, max_value=40),
    unit=st.sampled_from(["d", "w", "mo", "y"]),
)
def test_latest_start_is_the_exact_threshold(day: date, amount: int, unit: str) -> None:
    duration = Duration(amount, unit)
    start = duration.latest_start(day)
    assert duration.add_to(start) <= day
    assert duration.add_to(start + timedelta(days=1)) > day
