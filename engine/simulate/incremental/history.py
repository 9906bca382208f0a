"""What the recorded history brings on each replayed day, read once.

Nothing here depends on who owns a customer in a scenario, so one
:class:`History` serves every scenario of a sweep. For each day it holds

- the nightly facts rows (:func:`highseas.nightly.facts.customer_facts_sql`)
  of the customers whose dated facts change on that day: an activity, an
  order placed or closed, a stage change, or their creation. The columns that
  depend on the owner are ignored for customers that existed before (the
  scenario keeps its own); a customer created on the day takes the row whole;
- the day's activities (customer and salesperson), in time order;
- the orders placed on the day;
- the salespeople as the copy sees them on the day (tier, active, away,
  regions, weight, and the claim counters of the history before the replay;
  the scenario adds its own).

It is read from the rewound copy before any scenario writes to it, in a
dozen statements whatever the number of days: the facts rows of every day's
changed customers come from one query over all the (day, customer) pairs,
each derived as of its own day (:func:`_changed_sql`), and the salespeople
of every day from one read of them, of their holdings and of their claims
(:func:`_reps`), instead of the nightly facts queries once per day.

Customers and salespeople are numbered once (:class:`DayNumbers`: a
customer by its position in ``customer_ids``, a salesperson by theirs in
``rep_ids``), so that a scenario's day takes them with numpy; the changed
customers' facts are read from Arrow once (:meth:`History.prepare`).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from itertools import accumulate
from typing import TYPE_CHECKING, Any

from highseas.compile import ir
from highseas.compile.to_numpy import FactColumns
from highseas.nightly import facts as derive
from highseas.ruleset.model import Ruleset

if TYPE_CHECKING:
    import duckdb
    import numpy as np
    import pyarrow as pa

    IntArray = np.ndarray[Any, np.dtype[np.int64]]


@dataclass
class DayHistory:
    """The recorded facts of one day (see the module docstring)."""

    day: date
    #: Nightly facts rows of the customers whose dated facts change today.
    changed: pa.Table | None
    #: Customers with an order placed today.
    ordered: list[str] = field(default_factory=list)
    #: The salespeople hired by the day, history counters only.
    reps: list[derive.RepFacts] = field(default_factory=list)
    #: The same in numbers (:class:`DayNumbers`), set by :func:`read_history`.
    numbers: DayNumbers | None = None


@dataclass
class DayNumbers:
    """A day's activities, orders and changed customers as numbers: each
    customer by its position in ``History.customer_ids``, each salesperson
    by its position in ``History.rep_ids``."""

    #: Per activity of the day, in time order (then customer, then
    #: salesperson, none first): the customer, and the salesperson (-1: none named).
    touch_rows: IntArray
    touch_reps: IntArray
    #: The customers with an order placed on the day.
    ordered_rows: IntArray
    #: The customers of the rows of ``DayHistory.changed``, in their order.
    changed_rows: IntArray


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
    #: Every salesperson the history names, sorted: position = their number.
    rep_ids: list[str] = field(default_factory=list)
    #: Per (customer, salesperson) pair in touch on a replayed day, its
    #: :meth:`touch_key` on that day, sorted (:meth:`in_touch`).
    touch_keys: list[int] = field(default_factory=list)
    #: The state on the first day per set of fact columns, built once
    #: (:func:`highseas.simulate.incremental.planner.initial_state`).
    states: dict[Any, Any] = field(default_factory=dict)
    #: The changed customers' facts of each day (:meth:`changed_facts`).
    _facts: dict[tuple[int, tuple[tuple[str, str], ...]], FactColumns] = field(
        default_factory=dict)

    def touch_key(self, row: int, rep: int, day_index: int) -> int:
        """The number of customer ``row`` and salesperson ``rep`` in touch
        on replayed day ``day_index``, ordered by pair, then day."""
        return (row * len(self.rep_ids) + rep) * (len(self.days) + 1) + day_index

    def in_touch(self, row: int, rep: int, first: int, last: int) -> bool:
        """Whether the pair was in touch on a replayed day from ``first`` to
        ``last`` (day indexes; ``first`` may be before the replay)."""
        at = bisect_left(self.touch_keys, self.touch_key(row, rep, max(first, 0)))
        return at < len(self.touch_keys) and self.touch_keys[at] <= self.touch_key(row, rep, last)

    def changed_facts(self, day_index: int, types: Mapping[str, ir.ColumnType]
                      ) -> FactColumns:
        """The ``types`` columns of the changed customers of day
        ``day_index``, read once (:meth:`prepare` reads them before the
        scenarios' workers start, which then share them)."""
        key = (day_index, tuple(sorted(types.items())))
        facts = self._facts.get(key)
        if facts is None:
            table = self.days[day_index].changed
            assert table is not None, "a day with changed customers"
            facts = self._facts[key] = FactColumns.from_arrow(table, dict(types))
        return facts

    def prepare(self, types: Mapping[str, ir.ColumnType]) -> None:
        """Read the ``types`` columns of every day's changed customers."""
        for index, day in enumerate(self.days):
            if day.changed is not None and day.changed.num_rows:
                self.changed_facts(index, types)


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
    touches = _arrow(
        con, 'SELECT customer_id, rep_id, date_diff(\'day\', ?::DATE, "at"::DATE) AS day '
        'FROM activities WHERE company_id = ? AND "at" >= ? AND "at" < ? '
        'ORDER BY "at", customer_id, rep_id NULLS FIRST', [start, company, start, after_end])
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
    changed = _changed(con, ruleset, start, after_end)
    reps = _reps(con, ruleset, days)
    history_days = [
        DayHistory(day=day, changed=changed.get(day), ordered=ordered.get(day, []),
                   reps=reps[n])
        for n, day in enumerate(days)]
    history = History(ruleset, history_days, customer_ids, initial, last_order_day, lost_on,
                      reminded, stored_pool)
    _number(history, touches)
    return history


def _number(history: History, touches: pa.Table) -> None:
    """Number the customers and salespeople of every day (:class:`DayNumbers`)
    and key each pair's days in touch (``touches``: the activities with
    their day index, in time order)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    def named(column: pa.ChunkedArray) -> set[str]:
        return {name for name in pc.unique(column).to_pylist() if name is not None}

    history.rep_ids = sorted(
        {rep.rep_id for day in history.days for rep in day.reps}
        | named(touches.column("rep_id")) | named(history.initial.column("owner_rep_id"))
        | set().union(*(named(day.changed.column("owner_rep_id"))
                        for day in history.days if day.changed is not None)))
    customers = pa.array(history.customer_ids, pa.string())

    def rows(ids: pa.ChunkedArray | pa.Array) -> IntArray:
        """Positions of ``ids`` among the customers (-1: none such)."""
        found = pc.index_in(ids, value_set=customers).fill_null(-1)
        return np.asarray(found.to_numpy(zero_copy_only=False), dtype=np.int64)

    touch_rows = rows(touches.column("customer_id"))
    known = touch_rows >= 0  # (other activities name no customer)
    touch_rows = touch_rows[known]
    touch_reps = np.asarray(pc.index_in(touches.column("rep_id"), value_set=pa.array(
        history.rep_ids, pa.string())).fill_null(-1).to_numpy(zero_copy_only=False),
        dtype=np.int64)[known]
    day_index = np.asarray(touches.column("day").to_numpy(), dtype=np.int64)[known]
    named_rep = touch_reps >= 0
    history.touch_keys = np.unique(
        (touch_rows[named_rep] * len(history.rep_ids) + touch_reps[named_rep])
        * (len(history.days) + 1) + day_index[named_rep]).tolist()
    bounds = np.searchsorted(day_index, np.arange(len(history.days) + 1))
    # every day's ordered, then changed, customers numbered at once
    lists = [pa.array(day.ordered, pa.string()) for day in history.days] + [
        day.changed.column("customer_id").combine_chunks().cast(pa.string())
        if day.changed is not None
        else pa.array([], pa.string()) for day in history.days]
    numbered = np.split(rows(pa.chunked_array(lists, pa.string())),
                        np.cumsum([len(ids) for ids in lists])[:-1])
    for n, day in enumerate(history.days):
        begin, end = bounds[n], bounds[n + 1]
        ordered, changed = numbered[n], numbered[len(history.days) + n]
        day.numbers = DayNumbers(
            touch_rows=touch_rows[begin:end], touch_reps=touch_reps[begin:end],
            ordered_rows=ordered[ordered >= 0], changed_rows=changed)


#: The (day, customer) pairs of the customers whose dated facts change on a
#: day: an activity, an order placed or closed, a stage change, a creation.
#: Parameters: (company, first day, exclusive end) five times.
_CHANGES = f"""SELECT DISTINCT day, customer_id FROM (
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
    WHERE company_id = ? AND created_at >= ? AND created_at < ?)"""


def _changed_sql(ruleset: Ruleset, changes: list[Any]) -> tuple[str, list[Any]]:
    """The nightly facts rows of every (day, customer) pair of ``_CHANGES``
    (its parameters: ``changes``), each as of its day, with a leading ``day``
    column, ordered by day and customer.

    :func:`highseas.nightly.facts.customer_facts_sql` with ``only`` the day's
    customers, for every day at once: the same CTEs, each keyed by the pair
    instead of the customer, with the pair's day where that query has its
    as-of day (``upto``: the day after, the exclusive end); only the stages
    are numbered once per customer (a day's are a prefix of them). ``k`` is
    0, for the caller to number each day's rows. A change to that query must
    be made here too (tests/simulate/test_history.py compares them)."""
    company = ruleset.company.id
    region_sql, region_params = derive._region_values(ruleset)
    pool_sql, pool_params = derive._pool_values(ruleset)
    custom_selects = []
    custom_params: list[Any] = []
    for custom in ruleset.custom_fields:
        column = derive.custom_column(custom.name)
        expr = (f"TRY_CAST(json_extract_string(c.attributes, ?) AS "
                f"{derive._DUCK_TYPES[custom.type]})")
        custom_params.append(f"$.{custom.name}")
        if custom.type == "date":
            expr = f"(date_diff('day', DATE '0001-01-01', {expr}) + 1)"
        custom_selects.append(f', {expr} AS "{column}"')
    sql = f"""
WITH
region_map AS ({region_sql}),
pool_map AS ({pool_sql}),
pairs AS (SELECT day, customer_id, CAST(day + 1 AS DATE) AS upto FROM ({_CHANGES})),
later AS (
    SELECT day, customer_id, from_rep_id, from_pool_id FROM (
        SELECT p.day, p.customer_id, e.from_rep_id, e.from_pool_id,
               row_number() OVER (PARTITION BY p.day, p.customer_id
                                  ORDER BY e.as_of, e."at", e.event_id) AS n
        FROM pairs p JOIN ownership_events e ON e.customer_id = p.customer_id
        WHERE e.company_id = ? AND e.as_of > p.day)
    WHERE n = 1
),
gained AS (
    SELECT l.day, e.customer_id, max(e.as_of) AS gained_on
    FROM ownership_events e JOIN later l
      ON l.customer_id = e.customer_id AND l.from_rep_id = e.to_rep_id
    WHERE e.company_id = ? AND e.as_of <= l.day
    GROUP BY 1, 2
),
cust AS (
    SELECT p.day, p.upto, c.* REPLACE (
        CASE WHEN l.customer_id IS NULL THEN c.owner_rep_id ELSE l.from_rep_id END
            AS owner_rep_id,
        CASE WHEN l.customer_id IS NULL THEN c.pool_id
             WHEN l.from_rep_id IS NULL THEN l.from_pool_id END AS pool_id,
        CASE WHEN l.customer_id IS NULL THEN c.owned_since
             WHEN l.from_rep_id IS NULL THEN NULL
             WHEN g.gained_on IS NOT NULL THEN CAST(g.gained_on AS TIMESTAMP)
             WHEN c.owner_rep_id = l.from_rep_id AND c.owned_since < p.upto THEN c.owned_since
             ELSE c.created_at END AS owned_since)
    FROM pairs p
    JOIN customers c ON c.customer_id = p.customer_id
    LEFT JOIN later l ON l.day = p.day AND l.customer_id = p.customer_id
    LEFT JOIN gained g ON g.day = p.day AND g.customer_id = p.customer_id
    WHERE c.company_id = ? AND c.created_at < p.upto
),
touch AS (
    -- one pass over the activities: anyone's touch, and the owner's last one
    SELECT c.day, a.customer_id,
           -- an activity without a salesperson is a follow-up too (docs/data-model.md)
           max(a.at) FILTER (WHERE c.owner_rep_id IS NOT NULL
                             AND (a.rep_id = c.owner_rep_id OR a.rep_id IS NULL)
                             AND a.at >= c.owned_since) AS last_owner_at
    FROM activities a JOIN cust c ON a.customer_id = c.customer_id
    WHERE a.company_id = ? AND a.at < c.upto
    GROUP BY 1, 2
),
order_facts AS (
    SELECT c.day, o.customer_id, max(o.placed_at) AS last_at,
           count(*) FILTER (WHERE o.closed IS NULL OR o.closed >= c.upto) AS open_orders,
           max(o.closed) FILTER (WHERE o.status = 'won' AND o.closed < c.upto) AS last_won_at
    FROM (SELECT customer_id, placed_at, status, {derive.CLOSED_AT} AS closed FROM orders
          WHERE company_id = ?) o
    JOIN cust c ON o.customer_id = c.customer_id
    WHERE o.placed_at < c.upto
    GROUP BY 1, 2
),
stages AS (
    -- every customer's stages in order: the one it came in with (when it has
    -- changes), then its changes; the ones by a day's end are a prefix of them
    SELECT customer_id, stage, "at", n,
           lag(stage) OVER (PARTITION BY customer_id ORDER BY n) AS previous
    FROM (SELECT customer_id, stage, "at",
                 row_number() OVER (PARTITION BY customer_id
                                    ORDER BY "at", initial DESC, stage) AS n
          FROM (SELECT customer_id, stage, "at", FALSE AS initial FROM stage_changes
                WHERE company_id = ?
                UNION ALL
                SELECT customer_id, stage, created_at, TRUE FROM customers
                WHERE company_id = ? AND stage IS NOT NULL
                  AND customer_id IN (SELECT customer_id FROM stage_changes
                                      WHERE company_id = ?)))
),
stage_facts AS (
    -- the stage on the day: the latest change by its end; since: the first of
    -- the latest run of changes to that stage. Without a change by then, the
    -- stage it came in with since its creation, as without a row here.
    SELECT c.day, c.customer_id, arg_max(s.stage, s.n) AS stage,
           max(s."at") FILTER (WHERE s.stage IS DISTINCT FROM s.previous) AS since
    FROM cust c JOIN stages s ON s.customer_id = c.customer_id
    WHERE s."at" < c.upto
    GROUP BY 1, 2
)
SELECT
    c.day,
    0::BIGINT AS k,  -- numbered below
    c.customer_id,
    c.owner_rep_id,
    CASE WHEN c.owner_rep_id IS NULL THEN
        coalesce(c.pool_id, pm.pool_id, ?)
    END AS pool_id,
    CASE WHEN c.owner_rep_id IS NOT NULL THEN
        date_diff('day', DATE '0001-01-01',
                  greatest(c.owned_since, coalesce(t.last_owner_at, c.owned_since))::DATE) + 1
    END AS last_touch_day,
    CASE WHEN c.owner_rep_id IS NOT NULL THEN
        date_diff('day', DATE '0001-01-01',
                  greatest(c.owned_since, coalesce(o.last_at, c.owned_since))::DATE) + 1
    END AS last_order_touch_day,
    CASE WHEN c.owner_rep_id IS NOT NULL THEN
        date_diff('day', DATE '0001-01-01', c.owned_since::DATE) + 1
    END AS owned_since_day,
    date_diff('day', DATE '0001-01-01', c.created_at::DATE) + 1 AS created_day,
    (t.customer_id IS NOT NULL) AS contacted,
    coalesce(o.open_orders, 0)::BIGINT AS open_orders,
    date_diff('day', DATE '0001-01-01', o.last_won_at::DATE) + 1 AS last_won_day,
    date_diff('day', DATE '0001-01-01',
              (CASE WHEN s.customer_id IS NULL THEN
                   CASE WHEN c.stage IS NOT NULL THEN c.created_at END
               ELSE s.since END)::DATE) + 1 AS stage_since_day,
    c.country,
    {derive._REGION_OF} AS region,
    coalesce(pm.pool_id, ?) AS region_pool,
    c.source,
    CASE WHEN s.customer_id IS NULL THEN c.stage ELSE s.stage END AS stage,
    c.name,
    c.level::BIGINT AS level,
    coalesce(c.tags, []::VARCHAR[]) AS tags
    {''.join(custom_selects)}
FROM cust c
LEFT JOIN touch t ON t.day = c.day AND t.customer_id = c.customer_id
LEFT JOIN order_facts o ON o.day = c.day AND o.customer_id = c.customer_id
LEFT JOIN stage_facts s ON s.day = c.day AND s.customer_id = c.customer_id
{derive._REGION_JOINS}
LEFT JOIN pool_map pm ON pm.region_id = {derive._REGION_OF}
ORDER BY c.day, c.customer_id
"""
    params: list[Any] = [
        *region_params, *pool_params, *changes,
        company, company, company,  # later, gained, cust
        company, company, company, company, company,  # touch, order_facts, stages
        ruleset.default_pool.id, derive.pool_of_region(ruleset, None),
        *custom_params,
    ]
    return sql, params


def _changed(con: duckdb.DuckDBPyConnection, ruleset: Ruleset, start: date,
             after_end: date) -> dict[date, pa.Table]:
    """The facts rows of the customers whose dated facts change on each day
    after ``start`` (up to ``after_end``, exclusive), as of that day: one
    table per day with a change (empty when none of its customers exists
    by then), read in two statements."""
    import numpy as np
    import pyarrow as pa

    changes = [ruleset.company.id, start + timedelta(days=1), after_end] * 5
    days = [day for (day,) in con.execute(
        f"SELECT DISTINCT day FROM ({_CHANGES}) ORDER BY 1", changes).fetchall()]
    if not days:
        return {}
    sql, params = _changed_sql(ruleset, changes)
    rows = _arrow(con, sql, params)
    epoch = date(1970, 1, 1)
    day_of_row = rows.column("day").cast(pa.int32()).to_numpy()
    wanted = np.array([(day - epoch).days for day in days], dtype=np.int32)
    lows = np.searchsorted(day_of_row, wanted, side="left")
    highs = np.searchsorted(day_of_row, wanted, side="right")
    # k numbers each day's rows, as the facts of the day alone would
    k = np.arange(rows.num_rows, dtype=np.int64) - np.repeat(lows, highs - lows)
    rows = rows.select(rows.column_names[1:])
    rows = rows.set_column(0, "k", pa.array(k, pa.int64()))
    return {day: rows.slice(int(low), int(high - low))
            for day, low, high in zip(days, lows, highs, strict=True)}


#: Per salesperson, the customers they hold on each replayed day, as changes:
#: (owner, day, +n) from the day they hold n more, (owner, day, -n) from the
#: day they hold n fewer. An ownership change dated after a day has not
#: happened on it (:func:`highseas.nightly.facts.as_of_customers_sql`): on
#: the days before the first change dated after the first day, and between
#: two such dates, a customer is held by the ``from_rep_id`` of the first
#: change of the later date; from the last of them on, by its stored owner.
#: Parameters: company, first day, company, first day, exclusive end, company,
#: last day, last day.
_HELD = """
WITH firsts AS (
    SELECT customer_id, as_of, from_rep_id FROM (
        SELECT customer_id, as_of, from_rep_id,
               row_number() OVER (PARTITION BY customer_id, as_of ORDER BY "at", event_id) AS n
        FROM ownership_events WHERE company_id = ? AND as_of > ?)
    WHERE n = 1
),
spans AS (
    SELECT customer_id, from_rep_id AS owner,
           lag(as_of) OVER (PARTITION BY customer_id ORDER BY as_of) AS since, as_of AS until
    FROM firsts
    UNION ALL
    SELECT c.customer_id, c.owner_rep_id, f.last, NULL
    FROM customers c
    LEFT JOIN (SELECT customer_id, max(as_of) AS last FROM firsts GROUP BY 1) f
      ON f.customer_id = c.customer_id
    WHERE c.company_id = ?
),
held AS (
    SELECT s.owner, greatest(coalesce(s.since, ?), CAST(c.created_at AS DATE)) AS since,
           coalesce(s.until, ?) AS until
    FROM spans s JOIN customers c ON c.customer_id = s.customer_id
    WHERE c.company_id = ? AND s.owner IS NOT NULL
)
SELECT owner, since, count(*) FROM held WHERE since < until AND since <= ? GROUP BY 1, 2
UNION ALL
SELECT owner, until, -count(*) FROM held WHERE since < until AND until <= ? GROUP BY 1, 2
"""


def _reps(con: duckdb.DuckDBPyConnection, ruleset: Ruleset,
          days: list[date]) -> list[list[derive.RepFacts]]:
    """The salespeople of each of ``days`` (consecutive), as
    :func:`highseas.nightly.facts.rep_facts` gives them, from one read each
    of the salespeople, of their holdings and of the claims counted against
    their caps."""
    company = ruleset.company.id
    held = _held(con, company, days)
    received = _Received(con, company, days)
    out: list[list[derive.RepFacts]] = [[] for _ in days]
    for (rep_id, name, hired_on, explicit, codes, active, left_on, away_from, away_until,
         weight) in con.execute(
            "SELECT rep_id, name, hired_on, tier, regions, active, left_on, away_from, "
            "away_until, weight FROM reps WHERE company_id = ? ORDER BY rep_id", [company],
    ).fetchall():
        regions = _rep_regions(ruleset, codes)
        tiers = _tiers(ruleset, explicit, hired_on, days)
        holdings = held.get(rep_id)
        for n, day in enumerate(days):
            if hired_on > day:
                continue
            today, week, month, last30 = received.counters(rep_id, day)
            out[n].append(derive.RepFacts(
                rep_id=rep_id,
                name=name,
                hired_on=hired_on,
                tier=tiers[n],
                regions=regions,
                # the day they left decides; without one, the active flag (undated)
                active=bool(active) if left_on is None else left_on > day,
                away=(away_from is not None and away_from <= day
                      and (away_until is None or away_until >= day)),
                away_until=away_until,
                weight=weight,
                private_count=0 if holdings is None else holdings[n],
                claims_today=today,
                claims_week=week,
                claims_month=month,
                assigned_last_30d=last30,
            ))
    return out


def _rep_regions(ruleset: Ruleset, codes: list[str] | None) -> tuple[str, ...]:
    """The regions a salesperson's codes (region ids, codes or countries) name."""
    region_ids = {r.id for r in ruleset.regions}
    code_to_region: dict[str, str] = {}
    for region in ruleset.regions:
        for code in (*region.codes, *region.countries):
            code_to_region.setdefault(code, region.id)
    resolved: list[str] = []
    for code in codes or []:
        region_id = code if code in region_ids else code_to_region.get(code)
        if region_id and region_id not in resolved:
            resolved.append(region_id)
    return tuple(resolved)


def _tiers(ruleset: Ruleset, explicit: str | None, hired_on: date,
           days: list[date]) -> list[str | None]:
    """:func:`highseas.nightly.facts.resolve_tier` on each of ``days``
    (consecutive). A tier's tenure range holds from the day its lower bound
    is reached to the day before its upper bound is: the tier can change on
    those days only."""
    bounds = {bound.add_to(hired_on) for tier in ruleset.tiers
              for bound in (tier.tenure_at_least, tier.tenure_less_than) if bound is not None}
    tiers: list[str | None] = []
    for n, day in enumerate(days):
        tiers.append(derive.resolve_tier(ruleset, explicit, hired_on, day)
                     if n == 0 or day in bounds else tiers[-1])
    return tiers


def _held(con: duckdb.DuckDBPyConnection, company: str,
          days: list[date]) -> dict[str, list[int]]:
    """salesperson -> how many customers they hold on each of ``days``."""
    start, end = days[0], days[-1]
    steps: dict[str, list[int]] = {}
    for owner, day, step in con.execute(
            _HELD, [company, start, company, start, end + timedelta(days=1), company,
                    end, end]).fetchall():
        steps.setdefault(owner, [0] * len(days))[(day - start).days] += step
    return {owner: list(accumulate(changes)) for owner, changes in steps.items()}


class _Received:
    """The customers each salesperson received (the actions counted against
    claim caps) per day, from the first day any window of ``days`` opens."""

    def __init__(self, con: duckdb.DuckDBPyConnection, company: str,
                 days: list[date]) -> None:
        start, end = days[0], days[-1]
        self.first = min(start - timedelta(days=start.weekday()), start.replace(day=1),
                         start - timedelta(days=29))
        size = (end - self.first).days + 1
        counts: dict[str, list[int]] = {}
        placeholders = ", ".join("?" for _ in derive.RECEIVING_ACTIONS)
        for rep_id, day, n in con.execute(
                "SELECT to_rep_id, as_of, count(*) FROM ownership_events "
                "WHERE company_id = ? AND to_rep_id IS NOT NULL "
                f"AND action IN ({placeholders}) AND as_of >= ? AND as_of <= ? GROUP BY 1, 2",
                [company, *derive.RECEIVING_ACTIONS, self.first, end]).fetchall():
            counts.setdefault(rep_id, [0] * size)[(day - self.first).days] += n
        #: salesperson -> how many they received before each day (from ``first``)
        self.before = {rep_id: [0, *accumulate(n)] for rep_id, n in counts.items()}

    def counters(self, rep_id: str, day: date) -> tuple[int, int, int, int]:
        """What ``rep_id`` received on ``day``, in its week, in its month and
        in the 30 days to it (``RepFacts.claims_today`` etc.)."""
        before = self.before.get(rep_id)
        if before is None:
            return 0, 0, 0, 0
        upto = before[(day - self.first).days + 1]
        return (upto - before[(day - self.first).days],
                upto - before[(day - timedelta(days=day.weekday()) - self.first).days],
                upto - before[(day.replace(day=1) - self.first).days],
                upto - before[(day - timedelta(days=29) - self.first).days])
