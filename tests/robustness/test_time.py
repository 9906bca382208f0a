"""Time: the default as-of date in company time zones east and west of UTC
across daylight-saving changes, month ends and 29 February; Duration
arithmetic; the end-of-day cut-off of derived facts (docs/nightly-run.md)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any

import pytest

import highseas.api as api
from highseas.nightly.planner import plan
from highseas.ruleset.durations import Duration
from tests.support.nightly import Facts, ruleset_with


def _ruleset_in(zone: str) -> Any:
    def change(doc: dict[str, Any]) -> None:
        doc["company"]["timezone"] = zone
    return ruleset_with("regional-trading", change)


@pytest.mark.parametrize(("instant", "zone", "expected"), [
    # Los Angeles, spring forward on 2026-03-08 02:00 PST -> 03:00 PDT
    ("2026-03-08T07:59:00", "America/Los_Angeles", date(2026, 3, 7)),
    ("2026-03-08T08:00:00", "America/Los_Angeles", date(2026, 3, 8)),
    ("2026-03-09T06:59:00", "America/Los_Angeles", date(2026, 3, 8)),  # UTC-7 now
    ("2026-03-09T07:00:00", "America/Los_Angeles", date(2026, 3, 9)),
    # ... and fall back on 2026-11-01
    ("2026-11-02T07:59:00", "America/Los_Angeles", date(2026, 11, 1)),  # UTC-8 again
    ("2026-11-02T08:00:00", "America/Los_Angeles", date(2026, 11, 2)),
    # Auckland, NZDT (UTC+13) ends on 2026-04-05 03:00 -> 02:00 NZST (UTC+12)
    ("2026-04-04T10:59:00", "Pacific/Auckland", date(2026, 4, 4)),
    ("2026-04-04T11:00:00", "Pacific/Auckland", date(2026, 4, 5)),
    ("2026-04-05T11:59:00", "Pacific/Auckland", date(2026, 4, 5)),
    ("2026-04-05T12:00:00", "Pacific/Auckland", date(2026, 4, 6)),
    # month end and 29 February: a different date on each side of UTC
    ("2026-06-30T23:30:00", "Pacific/Auckland", date(2026, 7, 1)),
    ("2026-07-01T03:30:00", "America/Los_Angeles", date(2026, 6, 30)),
    ("2028-02-28T11:00:00", "Pacific/Auckland", date(2028, 2, 29)),
    ("2028-03-01T07:00:00", "America/Los_Angeles", date(2028, 2, 29)),
    ("2027-12-31T16:00:00", "Asia/Shanghai", date(2028, 1, 1)),
])
def test_default_as_of_is_today_in_the_company_zone(
        monkeypatch: pytest.MonkeyPatch, instant: str, zone: str, expected: date) -> None:
    now = datetime.fromisoformat(instant).replace(tzinfo=UTC)

    class FrozenDatetime(datetime):
        @classmethod
        def now(cls, tz: tzinfo | None = None) -> FrozenDatetime:  # type: ignore[override]
            moment = now.astimezone(tz) if tz else now.replace(tzinfo=None)
            return cls(*moment.timetuple()[:6], tzinfo=moment.tzinfo)

    monkeypatch.setattr(api, "datetime", FrozenDatetime)
    assert api.today_in(_ruleset_in(zone)) == expected


@pytest.mark.parametrize(("start", "duration", "expected"), [
    (date(2026, 1, 31), "1mo", date(2026, 2, 28)),
    (date(2028, 1, 31), "1mo", date(2028, 2, 29)),
    (date(2028, 2, 29), "1y", date(2029, 2, 28)),
    (date(2028, 2, 29), "4y", date(2032, 2, 29)),
    (date(2026, 3, 7), "1d", date(2026, 3, 8)),   # DST does not change day arithmetic
    (date(2026, 10, 31), "1w", date(2026, 11, 7)),
    (date(2026, 8, 31), "6mo", date(2027, 2, 28)),
    (date(2026, 12, 31), "2mo", date(2027, 2, 28)),
])
def test_duration_arithmetic_clamps_to_month_end(start: date, duration: str,
                                                 expected: date) -> None:
    length = Duration.parse(duration)
    assert length.add_to(start) == expected
    # thresholds: the latest start whose period is over on `expected` is `start`
    # (or a later day that lands on the same clamped date)
    latest = length.latest_start(expected)
    assert latest >= start and length.add_to(latest) <= expected
    assert length.add_to(latest + timedelta(days=1)) > expected


def _idle_release(zone: str, owned_since: str, idle: str, as_of: date,
                  activity_at: str | None = None) -> bool:
    """Is a customer owned since ``owned_since`` released by an ``idle_for``
    rule of ``idle`` on ``as_of``?"""
    def change(doc: dict[str, Any]) -> None:
        doc["company"]["timezone"] = zone
        doc["release_rules"] = [{"id": "idle", "when": {"idle_for": idle},
                                 "to_pool": "global-pool"}]
        doc.pop("activation_relay", None)
        doc["caps"]["private"] = []
        doc["caps"].pop("cooldown", None)
    rules = ruleset_with("regional-trading", change)
    facts = Facts("regional-trading")
    facts.reps([{"rep_id": "r1", "hired_on": "2015-01-01", "regions": ["emea"]}])
    facts.customers([{"customer_id": "c1", "country": "DE", "created_at": owned_since,
                      "owner": "r1", "owned_since": owned_since}])
    if activity_at:
        facts.activities([{"customer_id": "c1", "rep_id": "r1", "at": activity_at}])
    decisions = plan(facts.con, rules, as_of).decisions
    return any(d.action == "release" and d.customer_id == "c1" for d in decisions)


@pytest.mark.parametrize("zone", ["Pacific/Auckland", "America/Los_Angeles"])
def test_month_end_and_leap_day_release_dates(zone: str) -> None:
    # documented: owned since 31 January, idle_for 1mo -> released on 28/29 February
    assert not _idle_release(zone, "2026-01-31", "1mo", date(2026, 2, 27))
    assert _idle_release(zone, "2026-01-31", "1mo", date(2026, 2, 28))
    assert not _idle_release(zone, "2028-01-31", "1mo", date(2028, 2, 28))
    assert _idle_release(zone, "2028-01-31", "1mo", date(2028, 2, 29))
    # 29 February + 1y = 28 February
    assert not _idle_release(zone, "2028-02-29", "1y", date(2029, 2, 27))
    assert _idle_release(zone, "2028-02-29", "1y", date(2029, 2, 28))


@pytest.mark.parametrize(("zone", "dst_day"), [("America/Los_Angeles", date(2026, 3, 8)),
                                               ("Pacific/Auckland", date(2026, 4, 5))])
def test_end_of_day_cut_off_on_a_daylight_saving_day(zone: str, dst_day: date) -> None:
    owned = date(dst_day.year, dst_day.month - 1 if dst_day.month > 1 else 12, dst_day.day)
    start = owned.replace(day=1).isoformat()  # idle for well over 14 days by dst_day
    day = dst_day.isoformat()
    # an activity at 23:59 on the as-of day counts: not idle
    assert not _idle_release(zone, start, "14d", dst_day, f"{day} 23:59:59")
    # one in the small hours that do not exist / repeat on the DST day counts too
    assert not _idle_release(zone, start, "14d", dst_day, f"{day} 02:30:00")
    # one the next morning does not count yet: released
    next_morning = date.fromordinal(dst_day.toordinal() + 1).isoformat()
    assert _idle_release(zone, start, "14d", dst_day, f"{next_morning} 00:00:00")
    # the period ends exactly on the as-of day across the DST change
    last_contact = date.fromordinal(dst_day.toordinal() - 14).isoformat()
    assert _idle_release(zone, start, "14d", dst_day, f"{last_contact} 23:59:00")
    assert not _idle_release(zone, start, "14d", dst_day,
                             f"{date.fromordinal(dst_day.toordinal() - 13)} 00:00:00")
