"""Typed reasons are told in the words plans and claim answers have always used."""

from __future__ import annotations

from datetime import date

import pytest

from highseas.nightly.reasons import (
    ClaimRefusal,
    RefusalKind,
    SkipKind,
    SkipReason,
    excluded,
    render_refusal,
    render_skip,
    skip_label,
)


@pytest.mark.parametrize(("reason", "words", "label"), [
    (SkipReason(SkipKind.NOT_IN_TIERS), "not in eligible tiers", "not in eligible tiers"),
    (SkipReason(SkipKind.INACTIVE), "inactive", "inactive"),
    (SkipReason(SkipKind.AWAY), "away", "away"),
    (SkipReason(SkipKind.AWAY, until=date(2026, 7, 1)),
     "away through 2026-07-01, back on 2026-07-02", "away"),
    (SkipReason(SkipKind.OVER_PRIVATE_CAP, limit=5, used=5), "over private cap 5/5",
     "over private cap 5/5"),
    (SkipReason(SkipKind.CLAIM_CAP, limit=10, period="day"),
     "claim cap per day reached (10)", "claim cap per day reached"),
    (SkipReason(SkipKind.CLAIM_CAP, limit=3, period="month"),
     "claim cap per month reached (3)", "claim cap per month reached"),
    (SkipReason(SkipKind.PER_RUN_LIMIT, limit=2), "per-run limit reached (2)",
     "per-run limit reached"),
    (SkipReason(SkipKind.CAPACITY_QUOTA, limit=1), "capacity quota for today reached (1)",
     "capacity quota for today reached"),
    (SkipReason(SkipKind.CAPACITY_30_DAYS, limit=30), "capacity per 30 days reached (30)",
     "capacity per 30 days reached"),
    (SkipReason(SkipKind.WEIGHT_ZERO), "weight 0", "weight 0"),
    (excluded("already tried in relay"), "already tried in relay", "already tried in relay"),
    (SkipReason(SkipKind.COOLDOWN), "in cooldown", "in cooldown"),
    (SkipReason(SkipKind.WRONG_REGION), "wrong region", "wrong region"),
    (SkipReason(SkipKind.SKIPPED), "skipped", "skipped"),
])
def test_skip_reasons_in_words(reason: SkipReason, words: str, label: str) -> None:
    assert render_skip(reason) == words
    assert skip_label(reason) == label


def test_equal_skip_reasons_hash_alike() -> None:
    one = SkipReason(SkipKind.CLAIM_CAP, limit=2, period="week")
    other = SkipReason(SkipKind.CLAIM_CAP, limit=2, period="week")
    assert one == other and hash(one) == hash(other) and len({one, other}) == 1
    assert one != SkipReason(SkipKind.CLAIM_CAP, limit=2, period="day")


@pytest.mark.parametrize(("refusal", "words"), [
    (ClaimRefusal(RefusalKind.NOT_IN_HIGH_SEAS, "ann", "c1", owner="ann"),
     "c1 is not in the high seas (you already own it)"),
    (ClaimRefusal(RefusalKind.NOT_IN_HIGH_SEAS, "ann", "c1", owner="bob"),
     "c1 is not in the high seas (owned by bob)"),
    (ClaimRefusal(RefusalKind.INACTIVE, "ann", "c1"), "ann is not active"),
    (ClaimRefusal(RefusalKind.CLAIM_CAP, "ann", "c1", tier="new", period="week", used=5,
                  limit=5), "claim cap for the new tier reached this week (5/5)"),
    (ClaimRefusal(RefusalKind.PRIVATE_CAP, "ann", "c1", tier="veteran", used=40, limit=40),
     "private cap reached (40/40 for veteran)"),
    (ClaimRefusal(RefusalKind.COOLDOWN, "ann", "c1", until=date(2026, 5, 2)),
     "in cooldown for c1 until 2026-05-02"),
    (ClaimRefusal(RefusalKind.REGION, "ann", "c1", region="US", covers=("emea", "DE")),
     "region not allowed: c1 is in US, ann covers emea, DE"),
])
def test_claim_refusals_in_words(refusal: ClaimRefusal, words: str) -> None:
    assert render_refusal(refusal) == words
