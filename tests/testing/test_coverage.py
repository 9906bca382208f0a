"""Tests of the tester: exact rule coverage on a ruleset with every kind of
point, each kind both exercised and not (often by a near miss), so that a
kind wrongly marked covered (or missed) fails here."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from highseas import testing
from highseas.nightly import events, reasons
from highseas.ruleset.loader import load_ruleset
from highseas.testing import coverage

# Regions: north falls back to south. Allocations: by-fallbacks (north-pool,
# region fallback "fallbacks"), any-region (west-pool, "any_region"),
# vets-south (south-pool, veterans, of whom none covers the south).
RULESET = """\
version: 1
company: {id: every-co, name: Every Kind Co, timezone: UTC}
custom_fields:
  - {name: credit_score, type: integer}
tiers:
  - {id: new, tenure: {less_than: 1y}}
  - {id: veteran, tenure: {at_least: 1y}}
regions:
  - {id: north, countries: [DE], fallbacks: [south]}
  - {id: south, countries: [IT]}
  - {id: west, countries: [FR]}
pools:
  - {id: north-pool, regions: [north]}
  - {id: south-pool, regions: [south]}
  - {id: west-pool, regions: [west]}
  - {id: all-pool, regions: all, default: true}
release_rules:
  - id: idle-60d
    when: {idle_for: 60d}
    unless:
      any:
        - has_open_order: true
        - tags: {any: [key-account]}
        - stage: {in: [contract]}
    remind_before: [5d, 1d]
  - id: no-order-1y
    when:
      all: [{no_order_for: 1y}, {owned_for: 1y}]
    unless: {field: credit_score, op: ">=", value: 80}
caps:
  private:
    - {tier: veteran, max: 4, excess_order: oldest_owned}
    - {tier: new, max: 20, excess_order: oldest_owned}
  claims:
    - {tier: new, per_day: 1}
    - {tier: veteran, per_day: 5}
  cooldown: 10d
allocation:
  - id: by-fallbacks
    pools: [north-pool]
    tiers: [new]
    region_match: {fallback: fallbacks}
  - id: any-region
    pools: [west-pool]
    tiers: [new]
    region_match: {fallback: any_region}
  - id: vets-south
    pools: [south-pool]
    tiers: [veteran]
activation_relay:
  - id: web-leads
    when:
      all: [{source: web}, {never_contacted: true}, {created_before: 30d}]
    tiers: [new]
    contact_window: 3d
    rounds: 2
    after_last_round: {to_pool: all-pool}
  - id: fair-leads
    when:
      all: [{source: fair}, {never_contacted: true}, {created_before: 30d}]
    tiers: [new]
    contact_window: 3d
    rounds: 3
  - id: expo-leads
    when:
      all: [{source: expo}, {never_contacted: true}]
    tiers: [new]
    contact_window: 3d
    rounds: 1
"""

# One night (claims, releases, exemptions, trims, allocation), then three
# nights of relays. The comments say what each row is for.
TESTS = """\
version: 1
background:
  reps:
    - {id: vera, hired_on: 2020-01-01, regions: [north]}
    - {id: val, hired_on: 2020-01-01, regions: [north]}
    - {id: ned, hired_on: 2025-03-01, regions: [south]}
    - {id: nia, hired_on: 2025-03-01, regions: [west]}
    - {id: noa, hired_on: 2025-03-01, regions: [west]}
cases:
  - name: one night of releases, exemptions, caps, claims and allocation
    customers:
      - {id: r1, country: DE, created_at: 2025-01-01, owner: val}     # released
      - {id: m1, country: DE, created_at: 2025-01-01, owner: val}     # reminded 5 days ahead
      # kept by the open order alone
      - {id: e1, country: DE, created_at: 2025-01-01, owner: val}
      # kept by two alternatives at once (neither is shown to work alone); the
      # credit score would exempt it from no-order-1y, whose when does not hold
      - {id: e2, country: DE, created_at: 2025-01-01, owner: val, tags: [key-account],
         stage: contract, attributes: {credit_score: 90}}
      # kept by the tag alone
      - {id: e3, country: IT, created_at: 2025-01-01, owner: ned, tags: [key-account]}
      # vera holds 5, one over the veterans' cap of 4: the oldest owned goes
      - {id: v1, country: DE, created_at: 2025-01-01, owner: vera}
      - {id: v2, country: DE, created_at: 2025-01-02, owner: vera}
      - {id: v3, country: DE, created_at: 2025-01-03, owner: vera}
      - {id: v4, country: DE, created_at: 2025-01-04, owner: vera}
      - {id: v5, country: DE, created_at: 2025-01-05, owner: vera}
      - {id: a1, country: DE, created_at: 2025-01-01}   # nobody new in north: south
      - {id: a2, country: FR, created_at: 2025-01-01}   # nia in west, no fallback
      - {id: p1, country: US, created_at: 2025-01-01}   # all-pool: claims only
      - {id: p2, country: US, created_at: 2025-01-01}
      - {id: s1, country: IT, created_at: 2025-01-01}   # no veteran in the south
    activities:
      - {customer: r1, rep: val, at: 2025-04-01}
      - {customer: m1, rep: val, at: 2025-04-08}
      - {customer: e1, rep: val, at: 2025-04-01}
      - {customer: e2, rep: val, at: 2025-04-01}
      - {customer: e3, rep: ned, at: 2025-04-01}
      - {customer: v1, rep: vera, at: 2025-05-20}
      - {customer: v2, rep: vera, at: 2025-05-20}
      - {customer: v3, rep: vera, at: 2025-05-20}
      - {customer: v4, rep: vera, at: 2025-05-20}
      - {customer: v5, rep: vera, at: 2025-05-20}
    orders:
      - {customer: e1, rep: val, placed_at: 2025-05-01, status: open}
    as_of: 2025-06-02
    claims:
      - {rep: noa, customer: p1, allowed: true}
      - {rep: noa, customer: p2, allowed: false, reason: claim cap for the new tier}
      # refused by the private cap, not by the veterans' claim cap nor a cooldown
      - {rep: val, customer: p2, allowed: false, reason: private cap reached}
    expect:
      released: [{customer: r1, rule: idle-60d, pool: north-pool, from: val}]
      reminded: [{customer: m1, rule: idle-60d, days_left: 5, rep: val}]
      trimmed: [{customer: v1, rule: caps.private.veteran, from: vera, pool: north-pool}]
      assigned:
        - {customer: a1, to: ned, rule: by-fallbacks, pool: north-pool}
        - {customer: a2, to: nia, rule: any-region, pool: west-pool}
      unassigned: [{customer: s1, rule: vets-south, pool: south-pool}]

  - name: a web lead passes two salespeople, a fair lead is contacted
    customers:
      - {id: w1, country: IT, created_at: 2025-04-01, source: web}
      - {id: f1, country: IT, created_at: 2025-04-01, source: fair}
      # an expo lead already contacted: no relay
      - {id: x1, country: IT, created_at: 2025-04-01, source: expo, owner: val}
    activities:
      - {customer: x1, rep: val, at: 2025-05-30}
    days:
      - as_of: 2025-06-02
        expect:
          relayed:
            - {customer: w1, rule: web-leads, round: 1, to: ned}
            - {customer: f1, rule: fair-leads, round: 1, to: nia}
      - as_of: 2025-06-05
        activities:
          - {customer: f1, rep: nia, at: 2025-06-04}
        expect:
          relay_ended: [{customer: f1, rule: fair-leads, rep: nia}]
          relayed: [{customer: w1, rule: web-leads, round: 2, from: ned}]
      - as_of: 2025-06-08
        expect:
          released: [{customer: w1, rule: web-leads, pool: all-pool}]
"""

COVERED = [
    "release_rules.idle-60d",
    "release_rules.idle-60d.unless.has_open_order",
    "release_rules.idle-60d.unless.tags",
    "release_rules.idle-60d.remind_before.5d",
    "caps.private.veteran",
    "caps.claims.new",
    "allocation.by-fallbacks",
    "allocation.by-fallbacks.fallback",
    "allocation.any-region",
    "activation_relay.web-leads",
    "activation_relay.web-leads.next_round",
    "activation_relay.web-leads.after_last_round",
    "activation_relay.fair-leads",
    "activation_relay.fair-leads.contact",
]

MISSING = [
    "release_rules.idle-60d.unless.stage",
    "release_rules.idle-60d.remind_before.1d",
    "release_rules.no-order-1y",
    "release_rules.no-order-1y.unless",
    "caps.private.new",
    "caps.claims.veteran",
    "caps.cooldown",
    "allocation.any-region.fallback",
    "allocation.vets-south",
    "allocation.vets-south.fallback",
    "activation_relay.web-leads.contact",
    "activation_relay.fair-leads.next_round",
    "activation_relay.fair-leads.after_last_round",
    "activation_relay.expo-leads",
    "activation_relay.expo-leads.contact",
    "activation_relay.expo-leads.after_last_round",
]


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> testing.SessionResult:
    folder = tmp_path_factory.mktemp("every")
    (folder / "every.yaml").write_text(RULESET, encoding="utf-8")
    (folder / "every.tests.yaml").write_text(TESTS, encoding="utf-8")
    return testing.run_paths([folder])


def test_every_kind_of_point_is_counted_exactly(session: testing.SessionResult) -> None:
    assert session.count("passed") == 2, testing.format_session(session)
    (result,) = session.coverage
    assert list(result.covered) == COVERED
    assert list(result.missing) == MISSING
    assert len(result.points) == 30 and result.percent == pytest.approx(100 * 14 / 30)


def test_the_report_lists_exactly_the_points_no_case_exercised(
    session: testing.SessionResult,
) -> None:
    text = testing.format_session(session)
    assert "every-co" in text and "14/30 points (46.7%)" in text
    listed = text.split("not exercised by any case:")[1].splitlines()
    assert [line.strip() for line in listed if line.startswith("    ")] == MISSING


def test_exemption_alternatives_are_named_after_their_field_or_position(
    tmp_path: Path,
) -> None:
    path = tmp_path / "names.yaml"
    path.write_text(RULESET.split("release_rules:")[0] + textwrap.dedent("""\
        release_rules:
          - id: idle
            when: {idle_for: 60d}
            unless:
              any:
                - has_open_order: true
                - tags: {any: [key-account]}
                - tags: {any: [vip]}
                - all: [{stage: {in: [contract]}}, {field: credit_score, op: ">=", value: 50}]
                - field: credit_score
                  op: ">="
                  value: 80
          - id: one
            when: {idle_for: 90d}
            unless: {any: [{has_open_order: true}]}
          - id: plain
            when: {idle_for: 120d}
        """), encoding="utf-8")
    ruleset = load_ruleset(path)
    assert [p for p in coverage.coverage_points(ruleset) if ".unless" in p] == [
        "release_rules.idle.unless.has_open_order",
        "release_rules.idle.unless.2",
        "release_rules.idle.unless.3",
        "release_rules.idle.unless.4",
        "release_rules.idle.unless.credit_score",
        "release_rules.one.unless",
    ]


def test_the_recorder_reads_events_not_words() -> None:
    """Each event names its point from typed fields; reasons that exercise
    nothing (an absence, another salesperson's refusal) name none."""
    recorder = coverage.CoverageRecorder()
    for event in (
        events.RelayContacted("r"), events.RelayExhausted("r"),
        events.RelayRoundStarted("r", 1), events.RelayRoundStarted("r", 2),
        events.RuleReleased("idle"), events.PrivateCapTrimmed("veteran"),
        events.ExcessTargetUsed("veteran", 2),
        events.ReminderSent("idle", "7d"), events.CustomerAssigned("daily", fallback=True),
        events.SalespersonSkipped("daily", "ann", "new", reasons.IN_COOLDOWN),
        events.SalespersonSkipped("daily", "bob", "veteran", reasons.SkipReason(
            reasons.SkipKind.CLAIM_CAP, limit=3, period="week")),
        events.SalespersonSkipped("daily", "cy", "new", reasons.SkipReason(
            reasons.SkipKind.AWAY)),
        events.ClaimRefused(reasons.ClaimRefusal(
            reasons.RefusalKind.CLAIM_CAP, "dee", "c1", tier="new", period="day", used=2,
            limit=2)),
        events.ClaimRefused(reasons.ClaimRefusal(reasons.RefusalKind.INACTIVE, "dee", "c1")),
    ):
        recorder.notice(event)
    assert recorder.points == {
        "activation_relay.r.contact", "activation_relay.r.after_last_round",
        "activation_relay.r", "activation_relay.r.next_round", "release_rules.idle",
        "caps.private.veteran", "caps.private.veteran.excess_to.2",
        "release_rules.idle.remind_before.7d", "allocation.daily",
        "allocation.daily.fallback", "caps.cooldown", "caps.claims.veteran",
        "caps.claims.new",
    }
