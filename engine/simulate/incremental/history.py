"""What the recorded history brings on each replayed day, read once.

Nothing here depends on who owns a customer in a scenario, so one
:class:`History` serves every scenario of a sweep. For each day it holds

- the nightly facts rows (:func:`highseas.nightly.facts.customer_facts_sql`)
  of the customers whose dated facts change on that day: an activity, an
  order placed or closed, a stage change, or their creation. The columns that
  depend on the owner are ignored for customers that existed before (the
  scenario keeps its own); a customer created on the day takes the row whole;
- the day's activities (customer, salesperson, time), in time order;
- the orders placed on the day;
- the salespeople as the copy sees them on the day (tier, active, away,
  regions, weight, and the claim counters of the history before the replay;
  the scenario adds its own).

It is read from the rewound copy before any scenario writes to it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from highseas.nightly import facts as derive
from highseas.ruleset.model import Ruleset

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa


@dataclass(frozen=True)
class Touch:
    """One recorded activity of a replayed day."""

    customer_id: str
    rep_id: str | None
    at: datetime


@dataclass
class DayHistory:
    """The recorded facts of one day (see the module docstring)."""

    day: date
    #: Nightly facts rows of the customers whose dated facts change today.
    changed: pa.Table | None
    #: The day's activities, in time order.
    touches: list[Touch] = field(default_factory=list)
    #: Customers with an order placed today.
    ordered: list[str] = field(default_factory=list)
    #: The salespeople hired by the day, history counters only.
    reps: list[derive.RepFacts] = field(default_factory=list)


@dataclass
class History:
    """Everything the replayed days read from the recorded history."""

    ruleset: Ruleset
    days: list[DayHistory]
    #: Every customer id of the company, sorted: position = the state's index.
    customer_ids: list[str]
    #: Facts rows of every customer existing on the first day (the nightly
    #: facts of that day, ownership included).
    initial: pa.Table
    #: Day of the last order placed before the first day, per customer.
    last_order_day: dict[str, int]
    #: (customer, salesperson) -> the last day the history before the replay
    #: took the customer from them (for cooldowns).
    lost_on: dict[tuple[str, str], date]
    #: Reminders already sent for releases after the first day:
    #: (customer, rule, due_on, kind).
    reminded: set[tuple[str, str, date, str]]
    #: The pool each customer's row records (None: none recorded), as the
    #: pool sizes of a replayed day count them.
    stored_pool: dict[str, str | None]


def _arrow(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any]) -> Any:
    relation = con.sql(sql, params=params)
    fetch = getattr(relation, "to_arrow_table", None) or relation.arrow  # DuckDB 2 renamed it
    return fetch()


def read_history(con: duckdb.DuckDBPyConnection, ruleset: Ruleset, days: list[date]) -> History:
    """The history of ``days`` (consecutive) from the rewound copy ``con``."""
    company = ruleset.company.id
    start, end = days[0], days[-1]
    after_end = end + timedelta(days=1)
    stored_pool = dict(con.execute(
        "SELECT customer_id, pool_id FROM customers WHERE company_id = ? ORDER BY customer_id",
        [company]).fetchall())
    customer_ids = sorted(stored_pool)
    sql, params = derive.customer_facts_sql(ruleset, start, company)
    initial = _arrow(con, sql, params)
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
    touches: dict[date, list[Touch]] = {}
    for customer_id, rep_id, at in con.execute(
        'SELECT customer_id, rep_id, "at" FROM activities WHERE company_id = ? '
        'AND "at" >= ? AND "at" < ? ORDER BY "at", customer_id, rep_id NULLS FIRST',
        [company, start, after_end],
    ).fetchall():
        touches.setdefault(at.date(), []).append(Touch(customer_id, rep_id, at))
    ordered: dict[date, list[str]] = {}
    for customer_id, placed in con.execute(
        "SELECT DISTINCT customer_id, CAST(placed_at AS DATE) FROM orders "
        "WHERE company_id = ? AND placed_at >= ? AND placed_at < ? ORDER BY 2, 1",
        [company, start, after_end],
    ).fetchall():
        ordered.setdefault(placed, []).append(customer_id)
    last_order_day = {
        customer_id: day.toordinal()
        for customer_id, day in con.execute(
            "SELECT customer_id, CAST(max(placed_at) AS DATE) FROM orders "
            "WHERE company_id = ? AND placed_at < ? GROUP BY 1",
            [company, start + timedelta(days=1)],
        ).fetchall()
    }
    lost_on = {
        (customer_id, rep_id): day
        for customer_id, rep_id, day in con.execute(
            "SELECT customer_id, from_rep_id, max(as_of) FROM ownership_events "
            "WHERE company_id = ? AND from_rep_id IS NOT NULL "
            "AND coalesce(to_rep_id, '') <> from_rep_id GROUP BY 1, 2",
            [company],
        ).fetchall()
    }
    reminded = {
        (customer_id, rule_id, due_on, kind)
        for customer_id, rule_id, due_on, kind in con.execute(
            "SELECT customer_id, rule_id, due_on, kind FROM notifications "
            "WHERE company_id = ? AND due_on > ?",
            [company, start],
        ).fetchall()
    }
    history_days = []
    for day in days:
        ids = changed_on.get(day)
        changed = None
        if ids:
            sql, params = derive.customer_facts_sql(
                ruleset, day, company, only=("SELECT unnest(?::VARCHAR[])", [ids]))
            changed = _arrow(con, sql, params)
        history_days.append(DayHistory(
            day=day, changed=changed, touches=touches.get(day, []),
            ordered=ordered.get(day, []),
            reps=derive.rep_facts(con, ruleset, day, company)))
    return History(ruleset, history_days, customer_ids, initial, last_order_day, lost_on,
                   reminded, stored_pool)
