"""What ``explain`` says about projected values and absences."""

from __future__ import annotations

from datetime import date

from highseas.nightly.explain import projected_lines
from highseas.nightly.reasons import SkipKind, SkipReason, render_skip


def test_a_reminder_labels_its_projected_values() -> None:
    lines = ("all: no", "  idle for 14 days >= 14 days (since 2026-06-19): yes",
             "  stage = 'lead': yes")
    out = projected_lines(lines, date(2026, 6, 30), date(2026, 7, 3))
    assert out[0] == "(evaluated as of the reminder's date 2026-07-03, 3 days after 2026-06-30)"
    assert out[2] == ("  idle for 11 days today; projected 14 days on 2026-07-03 "
                      ">= 14 days (since 2026-06-19): yes")
    assert out[3] == "  stage = 'lead': yes"


def test_away_until_is_the_last_day_away() -> None:
    reason = SkipReason(SkipKind.AWAY, until=date(2026, 11, 30))
    assert render_skip(reason) == "away through 2026-11-30, back on 2026-12-01"
