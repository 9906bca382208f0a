"""read_history reads what the nightly facts queries give day by day, in a
number of statements that does not grow with the days.

The oracle is the per-day derivation it replaces: for every replayed day,
``customer_facts_sql`` of the customers whose dated facts change that day
and ``rep_facts``. Compared on a generated company (as generated, then with
ownership changes dated before, during and after the replayed days) and on
random histories under random valid rulesets, with random ownership
changes, salespeople who leave, are away or are hired during the days, and
custom attributes: the changed tables column by column (``k`` aside, which
the replay ignores), the salespeople of every day.
"""

from __future__ import annotations

import json
import random
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any, cast

import duckdb
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from highseas.nightly import facts as derive
from highseas.ruleset.loader import load_ruleset
from highseas.ruleset.model import Ruleset
from highseas.simulate.incremental import read_history
from highseas.simulate.replay import day_range
from tests.robustness.test_fuzz import valid_rulesets
from tests.simulate.test_incremental import DAYS, FIRST, histories
from tests.support.simulate import AS_OF, QUICK_ORDER, generated_db

PerDay = list[tuple[pa.Table | None, list[derive.RepFacts]]]


def per_day(con: duckdb.DuckDBPyConnection, ruleset: Ruleset, days: list[date]) -> PerDay:
    """The oracle: each day's changed customers' facts and salespeople, two
    nightly facts queries per day (how read_history read them before)."""
    company = ruleset.company.id
    start, end = days[0], days[-1]
    after_end = end + timedelta(days=1)
    changed_on: dict[date, list[str]] = {}
    for day, customer_id in con.execute(
        f"""
        SELECT DISTINCT day, customer_id FROM (
            SELECT CAST("at" AS DATE) AS day, customer_id FROM activities
            WHERE company_id = ? AND "at" >= ? AND "at" < ?
            UNION ALL
            SELECT CAST(placed_at AS DATE), customer_id FROM orders
            WHERE company_id = ? AND placed_at >= ? AND placed_at < ?
            UNION ALL
            SELECT CAST({derive.CLOSED_AT} AS DATE), customer_id FROM orders
            WHERE company_id = ? AND {derive.CLOSED_AT} >= ? AND {derive.CLOSED_AT} < ?
            UNION ALL
            SELECT CAST("at" AS DATE), customer_id FROM stage_changes
            WHERE company_id = ? AND "at" >= ? AND "at" < ?
            UNION ALL
            SELECT CAST(created_at AS DATE), customer_id FROM customers
            WHERE company_id = ? AND created_at >= ? AND created_at < ?)
        ORDER BY 1, 2
        """,
        [company, start + timedelta(days=1), after_end] * 5,
    ).fetchall():
        changed_on.setdefault(day, []).append(customer_id)
    out: PerDay = []
    for day in days:
        ids = changed_on.get(day)
        changed = None
        if ids:
            sql, params = derive.customer_facts_sql(
                ruleset, day, company, only=("SELECT unnest(?::VARCHAR[])", [ids]))
            changed = con.sql(sql, params=params).to_arrow_table()
        out.append((changed, derive.rep_facts(con, ruleset, day, company)))
    return out


class Counting:
    """A connection that counts the statements run through it."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con
        self.statements = 0

    def execute(self, *args: Any, **kwargs: Any) -> Any:
        self.statements += 1
        return self.con.execute(*args, **kwargs)

    def sql(self, *args: Any, **kwargs: Any) -> Any:
        self.statements += 1
        return self.con.sql(*args, **kwargs)


def statements(con: duckdb.DuckDBPyConnection, ruleset: Ruleset, days: list[date]) -> int:
    counting = Counting(con)
    read_history(cast(duckdb.DuckDBPyConnection, counting), ruleset, days)
    return counting.statements


def assert_same(con: duckdb.DuckDBPyConnection, ruleset: Ruleset, days: list[date]) -> int:
    """read_history of ``days`` equals the oracle; returns how many changed
    rows were compared."""
    history = read_history(con, ruleset, days)
    expected = per_day(con, ruleset, days)
    compared = 0
    assert [today.day for today in history.days] == days
    for today, (changed, reps) in zip(history.days, expected, strict=True):
        assert today.reps == reps, today.day
        if changed is None:
            assert today.changed is None, today.day
            continue
        assert today.changed is not None, today.day
        got = today.changed.sort_by("customer_id")
        want = changed.sort_by("customer_id")
        assert got.column_names == want.column_names
        for column in want.column_names:
            if column == "k":
                continue
            assert got.schema.field(column).type == want.schema.field(column).type, column
            assert got.column(column).to_pylist() == want.column(column).to_pylist(), \
                (today.day, column)
        compared += want.num_rows
    return compared


def add_ownership_events(con: duckdb.DuckDBPyConnection, company: str,
                         events: list[dict[str, Any]]) -> None:
    for n, event in enumerate(events):
        as_of = event["as_of"]
        at = datetime.combine(as_of or event["fallback"], time(event["hour"]))
        con.execute(
            "INSERT INTO ownership_events (company_id, event_id, customer_id, from_rep_id, "
            "to_rep_id, from_pool_id, to_pool_id, action, reason, \"at\", as_of) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [company, f"e{n:04d}", event["customer_id"], event["from_rep_id"],
             event["to_rep_id"], event["from_pool_id"], event["to_pool_id"], event["action"],
             "test", at, as_of])


ACTIONS = ["claim", "assign", "trim", "relay", "release", "transfer"]


@pytest.fixture(scope="module")
def company_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generated_db(tmp_path_factory.mktemp("history"), customers=150, reps=10)


def test_a_generated_company_reads_alike(company_db: Path, tmp_path: Path) -> None:
    ruleset = load_ruleset(QUICK_ORDER)
    company = ruleset.company.id
    days = day_range(AS_OF - timedelta(days=44), AS_OF)
    copy = tmp_path / "copy.duckdb"
    copy.write_bytes(company_db.read_bytes())
    with duckdb.connect(str(copy)) as con:
        assert assert_same(con, ruleset, days) > 100
        # ownership changes dated before, during and after the days: the
        # owner as of each day, the holdings and the claim counters follow them
        customers = [c for (c,) in con.execute(
            "SELECT customer_id FROM customers ORDER BY 1").fetchall()]
        reps = [r for (r,) in con.execute("SELECT rep_id FROM reps ORDER BY 1").fetchall()]
        pick = random.Random(7)
        events = []
        for _ in range(120):
            from_rep, to_rep = pick.choice([None, *reps]), pick.choice([None, *reps])
            as_of = days[0] + timedelta(days=pick.randint(-40, 50))
            events.append({
                "customer_id": pick.choice(customers), "from_rep_id": from_rep,
                "to_rep_id": to_rep, "from_pool_id": None if from_rep else "default",
                "to_pool_id": None if to_rep else "default", "action": pick.choice(ACTIONS),
                "as_of": as_of, "fallback": as_of, "hour": pick.randint(0, 23)})
        add_ownership_events(con, company, events)
        assert assert_same(con, ruleset, days) > 100
        # a fixed number of statements, whatever the number of days
        assert statements(con, ruleset, days) == statements(con, ruleset, days[:3]) <= 15


@st.composite
def with_more_history(draw: st.DrawFn, ruleset: Ruleset) -> duckdb.DuckDBPyConnection:
    """A random history (test_incremental's), with ownership changes (chains
    of them from the stored owner, several on a day, on days the customer has
    other facts, and random ones), owners since any day, orders closed at any
    time (midnight too), stages changed as the customer is created,
    salespeople who leave, are away or are hired during the days, and custom
    attributes."""
    facts = draw(histories(ruleset))
    con = facts.con
    company = ruleset.company.id
    customers = [c for (c,) in con.execute("SELECT customer_id FROM customers").fetchall()]
    reps = [r for (r,) in con.execute("SELECT rep_id FROM reps").fetchall()]
    pools = [p.id for p in ruleset.pools]
    days = st.integers(-40, DAYS + 5).map(lambda n: FIRST + timedelta(days=n))
    few_days = st.sampled_from([-3, 0, 1, 2, 5, 9]).map(lambda n: FIRST + timedelta(days=n))
    owners = dict(con.execute("SELECT customer_id, owner_rep_id FROM customers").fetchall())
    events = []
    for customer_id in draw(st.lists(st.sampled_from(customers), unique=True)):
        owner = owners[customer_id]  # the stored owner held it before
        for as_of in sorted(draw(st.lists(few_days, min_size=1, max_size=4))):
            to_rep = draw(st.sampled_from([None, *reps]))
            events.append({
                "customer_id": customer_id, "from_rep_id": owner, "to_rep_id": to_rep,
                "from_pool_id": None if owner else draw(st.sampled_from([None, *pools])),
                "to_pool_id": None if to_rep else draw(st.sampled_from([None, *pools])),
                "action": draw(st.sampled_from(ACTIONS)), "as_of": as_of, "fallback": as_of,
                "hour": draw(st.integers(0, 23))})
            owner = to_rep
            if draw(st.booleans()):  # the day of the change is one the customer changes
                facts.activities([{"customer_id": customer_id, "at": f"{as_of} 08:00",
                                   "rep_id": draw(st.sampled_from([None, *reps]))}])
    events += draw(st.lists(st.fixed_dictionaries({
        "customer_id": st.sampled_from(customers),
        "from_rep_id": st.sampled_from([None, *reps]),
        "to_rep_id": st.sampled_from([None, *reps]),
        "from_pool_id": st.sampled_from([None, *pools]),
        "to_pool_id": st.sampled_from([None, *pools]),
        "action": st.sampled_from(ACTIONS),
        "as_of": st.one_of(st.none(), days),
        "fallback": days,
        "hour": st.integers(0, 23),
    }), max_size=10))
    add_ownership_events(con, company, events)
    dates = st.one_of(st.none(), days)
    for customer_id in customers:
        if draw(st.booleans()):
            con.execute("UPDATE customers SET owned_since = ? WHERE company_id = ? "
                        "AND customer_id = ? AND owner_rep_id IS NOT NULL",
                        [draw(days), company, customer_id])
        if draw(st.integers(0, 3)) == 0:  # a stage change as it is created
            con.execute("INSERT INTO stage_changes SELECT company_id, customer_id, ?, created_at "
                        "FROM customers WHERE company_id = ? AND customer_id = ?",
                        [draw(st.sampled_from(["lead", "won"])), company, customer_id])
        if draw(st.integers(0, 2)) == 0:
            placed = draw(days)
            con.execute(
                "INSERT INTO orders (company_id, customer_id, placed_at, status, closed_at) "
                "VALUES (?, ?, ?, ?, ?)",
                [company, customer_id, f"{placed} 10:00", draw(st.sampled_from(["won", "lost"])),
                 datetime.combine(placed + timedelta(days=draw(st.integers(0, 9))),
                                  time(draw(st.sampled_from([0, 0, 13]))))])
    for rep in reps:
        con.execute(
            "UPDATE reps SET left_on = ?, active = ?, away_from = ?, away_until = ?, "
            "regions = ?, hired_on = coalesce(?, hired_on) WHERE company_id = ? AND rep_id = ?",
            [draw(dates), draw(st.booleans()), draw(dates), draw(dates),
             draw(st.lists(st.sampled_from(
                 [r.id for r in ruleset.regions] + ["DE", "FR", "US", "nowhere"]), max_size=3)),
             draw(dates), company, rep])
    values = {"string": "x", "integer": 7, "number": 2.5, "boolean": True, "date": "2026-01-15"}
    for customer_id in customers:
        attributes = {custom.name: draw(st.sampled_from([values[custom.type], "oops", None]))
                      for custom in ruleset.custom_fields}
        con.execute("UPDATE customers SET attributes = ? WHERE company_id = ? AND customer_id = ?",
                    [json.dumps(attributes), company, customer_id])
    return con


@settings(max_examples=10, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.filter_too_much])
@given(st.data())
def test_random_histories_read_alike(data: st.DataObject) -> None:
    ruleset = data.draw(valid_rulesets())
    con = data.draw(with_more_history(ruleset))
    assert_same(con, ruleset, day_range(FIRST, FIRST + timedelta(days=DAYS - 1)))
