"""No hindsight: a run as of a day D sees only what was true on D.

For a random history (salespeople hired and leaving, customers coming in,
changing owner and stage, orders placed and closed later, follow-ups), a
random day D and a random valid ruleset, the plan of the run as of D on the
database holding the whole history equals, decision for decision, the plan
on a database holding only what was known on D: every later row removed,
every status (an order's, a salesperson's, a customer's owner and stage) as
it stood on D. The second database is built from the history here, in
Python, not by the engine's SQL.

The same holds on the CRM sales opportunities data (the sample in fixtures/,
and the whole data set in ../shared/data when it is there) for several
days, with the later rows removed in SQL.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from highseas.nightly.planner import plan
from highseas.ruleset import model
from highseas.ruleset.durations import Duration
from highseas.ruleset.loader import load_ruleset
from highseas.ruleset.model import Ruleset
from highseas.store.db import open_db
from highseas.store.imports import import_crm_sales_opportunities
from highseas.store.scratch import memory_db
from tests.robustness.test_fuzz import valid_rulesets

ROOT = Path(__file__).resolve().parents[2]
CRM_SAMPLE = ROOT / "fixtures" / "crm-sales-opportunities-sample"
CRM_FULL = ROOT.parent / "shared" / "data" / "crm-sales-opportunities"
CRM_RULESET = ROOT / "fixtures" / "crm-sales-opportunities.ruleset.yaml"

START = date(2025, 1, 1)  # the history's first day
DAYS = 420  # its length
STAGES = ["lead", "qualified", "negotiation", "contract", "won", "lost"]


def _ts(day: date, hour: int = 10) -> datetime:
    return datetime.combine(day, time(hour))


@dataclass
class Ownership:
    """An ownership change on ``day`` (an event with as_of = day, at 23:00)."""

    day: date
    from_rep: str | None
    from_pool: str | None
    to_rep: str | None
    to_pool: str | None


@dataclass
class Customer:
    customer_id: str
    created_at: datetime
    country: str | None
    stage: str  # the stage it came in with
    owner: str | None
    pool: str | None
    owned_since: datetime | None
    changes: list[Ownership] = field(default_factory=list)
    stages: list[tuple[datetime, str]] = field(default_factory=list)


@dataclass
class History:
    company: str
    reps: list[dict[str, Any]]
    customers: list[Customer]
    activities: list[tuple[str, str | None, datetime]]
    #: (customer, placed_at, closed_at, final status, legacy: no closed_at stored)
    orders: list[tuple[str, datetime, datetime | None, str, bool]]

    def owner_on(self, customer: Customer, day: date
                 ) -> tuple[str | None, str | None, datetime | None]:
        owner, pool, since = customer.owner, customer.pool, customer.owned_since
        for change in customer.changes:
            if change.day > day:
                break
            owner, pool = change.to_rep, change.to_pool
            since = None if owner is None else datetime.combine(change.day, time())
        return owner, pool, since


@st.composite
def histories(draw: st.DrawFn, ruleset: Ruleset) -> History:
    """A random history of ``DAYS`` days for the ruleset's company."""
    countries = sorted({c for r in ruleset.regions for c in r.countries}) + ["ZZ"]
    regions = [r.id for r in ruleset.regions]
    pools = [p.id for p in ruleset.pools]
    attributes = [t.attribute for t in ruleset.tiers if t.attribute]
    reps: list[dict[str, Any]] = []
    for i in range(draw(st.integers(1, 5))):
        hired = START + timedelta(days=draw(st.integers(-1500, DAYS - 30)))
        left = draw(st.none() | st.integers(1, 500))
        reps.append({
            "rep_id": f"r{i}", "hired_on": hired,
            "left_on": None if left is None else hired + timedelta(days=left),
            # without a day they left: the undated flag
            "active": draw(st.integers(0, 6)) > 0,
            "regions": draw(st.lists(st.sampled_from(regions), max_size=2, unique=True))
            if regions else [],
            "tier": draw(st.sampled_from([None, None, *attributes])),
        })

    def hired_by(day: date) -> list[str]:
        return [r["rep_id"] for r in reps if r["hired_on"] <= day]

    customers: list[Customer] = []
    activities: list[tuple[str, str | None, datetime]] = []
    orders: list[tuple[str, datetime, datetime | None, str, bool]] = []
    for i in range(draw(st.integers(0, 18))):
        customer_id = f"c{i:02d}"
        created_day = START + timedelta(days=draw(st.integers(0, DAYS - 1)))
        created = _ts(created_day, 8)
        owner = draw(st.sampled_from([None, *hired_by(created_day)]))
        changes: list[Ownership] = []
        day, holder = created_day, owner
        first_pool = holder_pool = None if owner else draw(st.sampled_from(pools))
        for _ in range(draw(st.integers(0, 3))):
            day += timedelta(days=draw(st.integers(1, 120)))
            candidates = [r for r in hired_by(day) if r != holder]
            to_rep = draw(st.sampled_from([None, *candidates]))
            if to_rep is None and holder is None:
                continue
            to_pool = None if to_rep else draw(st.sampled_from(pools))
            changes.append(Ownership(day, holder, holder_pool, to_rep, to_pool))
            holder, holder_pool = to_rep, to_pool
        # the start of an ownership a later change overwrote is not kept: the
        # store knows it only from the customer's creation (docs/data-model.md)
        since = None if owner is None else (
            created if changes else created + timedelta(days=draw(st.integers(0, 20))))
        customer = Customer(customer_id, created, draw(st.sampled_from([*countries, None])),
                            draw(st.sampled_from(STAGES[:3])), owner, first_pool, since,
                            changes)
        at = created
        for _ in range(draw(st.integers(0, 3))):
            at += timedelta(days=draw(st.integers(0, 90)), hours=draw(st.integers(0, 30)))
            customer.stages.append((at, draw(st.sampled_from(STAGES))))
        for _ in range(draw(st.integers(0, 3))):
            when = created + timedelta(days=draw(st.integers(0, DAYS)), hours=2)
            activities.append((customer_id, draw(st.sampled_from([None, *hired_by(when.date())])),
                               when))
        for _ in range(draw(st.integers(0, 2))):
            placed = created + timedelta(days=draw(st.integers(0, DAYS)), hours=3)
            closes = draw(st.none() | st.integers(0, 200))
            closed = None if closes is None else placed + timedelta(days=closes, hours=1)
            status = "open" if closed is None else draw(st.sampled_from(["won", "lost"]))
            # files of the first model: a won or lost order closed when placed
            legacy = closed is not None and closes == 0 and draw(st.booleans())
            orders.append((customer_id, placed, placed if legacy else closed, status, legacy))
        customers.append(customer)
    return History(ruleset.company.id, reps, customers, activities, orders)


def store(history: History, day: date | None) -> duckdb.DuckDBPyConnection:
    """The history in a database: all of it (``day`` None), or only what was
    known on ``day``: later rows removed, statuses as they stood."""
    end = None if day is None else _ts(day + timedelta(days=1), 0)
    con = memory_db()
    company = history.company
    for rep in history.reps:
        if day is not None and rep["hired_on"] > day:
            continue
        left = rep["left_on"]
        if day is not None and left is not None and left > day:
            left, active = None, True  # on the day, they had not left yet
        else:
            active = False if left is not None else rep["active"]
        con.execute(
            "INSERT INTO reps (company_id, rep_id, name, hired_on, tier, regions, active, "
            "left_on) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [company, rep["rep_id"], rep["rep_id"], rep["hired_on"], rep["tier"],
             rep["regions"], active, left],
        )
    known: set[str] = set()
    for customer in history.customers:
        if end is not None and customer.created_at >= end:
            continue
        known.add(customer.customer_id)
        owner, pool, since = history.owner_on(customer, day or date.max)
        con.execute(
            "INSERT INTO customers (company_id, customer_id, name, country, source, stage, "
            "tags, created_at, owner_rep_id, pool_id, owned_since) "
            "VALUES (?, ?, ?, ?, 'website', ?, [], ?, ?, ?, ?)",
            [company, customer.customer_id, customer.customer_id, customer.country,
             customer.stage, customer.created_at, owner, pool, since],
        )
        for n, change in enumerate(customer.changes):
            if day is not None and change.day > day:
                break
            con.execute(
                "INSERT INTO ownership_events (company_id, event_id, customer_id, from_rep_id, "
                "to_rep_id, from_pool_id, to_pool_id, action, reason, \"at\", as_of) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'history', ?, ?)",
                [company, f"{customer.customer_id}-{n}", customer.customer_id, change.from_rep,
                 change.to_rep, change.from_pool, change.to_pool,
                 "release" if change.to_rep is None else "claim",
                 _ts(change.day, 23), change.day],
            )
        for at, stage in customer.stages:
            if end is None or at < end:
                con.execute(
                    'INSERT INTO stage_changes (company_id, customer_id, stage, "at") '
                    "VALUES (?, ?, ?, ?)", [company, customer.customer_id, stage, at])
    for customer_id, rep_id, at in history.activities:
        if customer_id in known and (end is None or at < end):
            con.execute(
                'INSERT INTO activities (company_id, customer_id, rep_id, kind, "at") '
                "VALUES (?, ?, ?, 'call', ?)", [company, customer_id, rep_id, at])
    for customer_id, placed, closed, status, legacy in history.orders:
        if customer_id not in known or (end is not None and placed >= end):
            continue
        if end is not None and closed is not None and closed >= end:
            closed, status = None, "open"  # still open on the day
        con.execute(
            "INSERT INTO orders (company_id, customer_id, placed_at, amount, status, closed_at) "
            "VALUES (?, ?, ?, 100, ?, ?)",
            [company, customer_id, placed, status, None if legacy else closed],
        )
    return con


#: Conditions over the dated facts a drawn ruleset's first release rule gets.
DATED_UNLESS = [
    model.HasOpenOrder(True),
    model.Compare("stage", "in", ("won", "lost")),
    model.WonWithin(Duration(30, "d")),
    model.AnyOf((model.HasOpenOrder(True), model.Compare("stage", "=", "contract"))),
]
DATED_WHEN = [
    model.InStageFor(Duration(20, "d")),
    model.LastWonBefore(Duration(14, "d")),
    model.Not(model.WonWithin(Duration(2, "mo"))),
    model.Compare("stage", "not in", ("won",)),
]


@st.composite
def dated_rulesets(draw: st.DrawFn) -> Ruleset:
    """A random valid ruleset (the fuzz tests' generator) whose first release
    rule may also read the dated facts."""
    ruleset = draw(valid_rulesets())
    if not ruleset.release_rules:
        return ruleset
    first = ruleset.release_rules[0]
    unless = draw(st.sampled_from(DATED_UNLESS))
    extra = draw(st.sampled_from([None, *DATED_WHEN]))
    when = first.when if extra is None else model.AllOf((first.when, extra))
    changed = dataclasses.replace(first, when=when, unless=unless)
    return dataclasses.replace(ruleset, release_rules=(changed, *ruleset.release_rules[1:]))


def _decisions(con: duckdb.DuckDBPyConnection, ruleset: Ruleset, day: date
               ) -> tuple[list[dict[str, Any]], list[tuple[Any, ...]]]:
    result = plan(con, ruleset, day)
    unassigned = [(u.customer_id, u.rule_id, u.pool_id, u.reason) for u in result.unassigned]
    return [d.to_dict() for d in result.decisions], unassigned


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.filter_too_much])
@given(st.data())
def test_a_run_as_of_a_day_plans_as_on_what_was_known_that_day(data: st.DataObject) -> None:
    ruleset = data.draw(dated_rulesets())
    history = data.draw(histories(ruleset))
    day = START + timedelta(days=data.draw(st.integers(0, DAYS + 30)))
    full, known = store(history, None), store(history, day)
    if not full.execute("SELECT count(*) FROM reps").fetchall()[0][0]:
        return
    try:
        assert _decisions(full, ruleset, day) == _decisions(known, ruleset, day)
    finally:
        full.close()
        known.close()


# --- the CRM sales opportunities data -------------------------------------------


def known_on(con: duckdb.DuckDBPyConnection, company: str, day: date) -> None:
    """Remove from ``con`` what was not known on ``day`` (the CRM import
    writes no ownership changes): later customers and their rows, later
    activities, orders and stage changes; orders closed later are open."""
    end = day + timedelta(days=1)
    for sql in (
        "DELETE FROM activities WHERE company_id = $c AND (\"at\" >= $end OR customer_id IN "
        "(SELECT customer_id FROM customers WHERE company_id = $c AND created_at >= $end))",
        "DELETE FROM orders WHERE company_id = $c AND (placed_at >= $end OR customer_id IN "
        "(SELECT customer_id FROM customers WHERE company_id = $c AND created_at >= $end))",
        "UPDATE orders SET status = 'open', closed_at = NULL WHERE company_id = $c "
        "AND closed_at >= $end",
        "DELETE FROM stage_changes WHERE company_id = $c AND \"at\" >= $end",
        "DELETE FROM customers WHERE company_id = $c AND created_at >= $end",
        "DELETE FROM reps WHERE company_id = $c AND hired_on > $day",
        "UPDATE reps SET left_on = NULL, active = TRUE WHERE company_id = $c AND left_on > $day",
    ):
        con.execute(sql, {k: v for k, v in {"c": company, "end": end, "day": day}.items()
                          if f"${k}" in sql})


@pytest.fixture(scope="module")
def crm_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The CRM data imported: the whole data set when present, else the sample."""
    folder = CRM_FULL if CRM_FULL.is_dir() else CRM_SAMPLE
    db = tmp_path_factory.mktemp("crm") / "crm.db"
    import_crm_sales_opportunities(db, folder)
    return db


@pytest.mark.parametrize("day", [date(2017, 1, 15), date(2017, 4, 1), date(2017, 7, 1),
                                 date(2017, 10, 1)])
def test_crm_runs_plan_as_on_what_was_known(crm_db: Path, tmp_path: Path, day: date) -> None:
    ruleset = load_ruleset(CRM_RULESET)
    copy = tmp_path / "known.db"
    copy.write_bytes(crm_db.read_bytes())
    with open_db(copy) as con:
        known_on(con, ruleset.company.id, day)
    with open_db(crm_db, read_only=True) as full, open_db(copy, read_only=True) as known:
        expected = _decisions(known, ruleset, day)
        assert _decisions(full, ruleset, day) == expected
        assert expected[0]  # the day decides something
