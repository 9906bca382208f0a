"""Derived facts, as of a date, computed set-based in DuckDB.

One row per customer of the company (the fact shape the compiled conditions
read; see docs/compiler.md) and one snapshot per salesperson. Only facts
recorded up to the end of the as-of day count: an activity at 23:59 on the
as-of date counts, one the next morning does not. Whatever changed after the
day is read as it stood on it: an order closed later is open, the stage is
the latest change by then, a salesperson who left later is active, an
ownership change dated later has not happened (docs/data-model.md, "What a
run on D sees"). This is what lets the simulator replay history day by day
with the same code, and a run for a past day see no hindsight. The dated
filters are part of these queries: no per-customer work.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from os import PathLike
from typing import TYPE_CHECKING, Any

from highseas import codes
from highseas.errors import Diagnostic, EngineError, InvalidInputError, Severity
from highseas.nightly.lapsed import lapsed_relay_cooldowns, merge_cooldowns
from highseas.ruleset.model import Ruleset
from highseas.store.db import companies
from highseas.suggestions import did_you_mean

if TYPE_CHECKING:
    import duckdb

_SAFE_IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
_DUCK_TYPES = {
    "string": "VARCHAR",
    "integer": "BIGINT",
    "number": "DOUBLE",
    "boolean": "BOOLEAN",
    "date": "DATE",
}
#: The base columns every customer fact row has (custom fields follow as cf_<name>).
FACT_COLUMNS = (
    "k",
    "customer_id",
    "owner_rep_id",
    "pool_id",
    "last_touch_day",
    "last_order_touch_day",
    "owned_since_day",
    "created_day",
    "contacted",
    "open_orders",
    "last_won_day",
    "stage_since_day",
    "country",
    "region",
    "source",
    "stage",
    "name",
    "level",
    "tags",
)


def custom_column(name: str) -> str:
    """The fact column of custom field ``name`` (validated, safe to quote)."""
    if not _SAFE_IDENTIFIER.match(name):
        raise EngineError(
            f"custom field name {name!r} is not a safe identifier", code=codes.UNSAFE_IDENTIFIER
        )
    return f"cf_{name}"


def _region_values(ruleset: Ruleset) -> tuple[str, list[str]]:
    """A VALUES list mapping (kind, key) -> region id, with bound parameters."""
    rows: list[str] = []
    params: list[str] = []
    for region in ruleset.regions:
        for country in region.countries:
            rows.append("(?, ?, ?)")
            params += ["country", country, region.id]
        for code in (*region.codes, region.id):
            rows.append("(?, ?, ?)")
            params += ["code", code, region.id]
    if not rows:
        return (
            "SELECT NULL::VARCHAR AS kind, NULL::VARCHAR AS key, "
            "NULL::VARCHAR AS region_id WHERE false",
            [],
        )
    return (
        "SELECT * FROM (VALUES " + ", ".join(rows) + ") AS t(kind, key, region_id)",
        params,
    )


#: How a customer row ``c`` finds its region in ``region_map`` (_region_values):
#: an explicit region code first, else the country. _REGION_OF is the result.
_REGION_JOINS = """LEFT JOIN region_map rc ON rc.kind = 'code' AND rc.key = c.region
LEFT JOIN region_map rk ON rk.kind = 'country' AND rk.key = upper(c.country)"""
_REGION_OF = "coalesce(rc.region_id, rk.region_id)"


def _pool_values(ruleset: Ruleset) -> tuple[str, list[str]]:
    """A VALUES list mapping region id -> the pool its released customers go to."""
    rows: list[str] = []
    params: list[str] = []
    for region in ruleset.regions:
        rows.append("(?, ?)")
        params += [region.id, pool_of_region(ruleset, region.id)]
    if not rows:
        return "SELECT NULL::VARCHAR AS region_id, NULL::VARCHAR AS pool_id WHERE false", []
    return "SELECT * FROM (VALUES " + ", ".join(rows) + ") AS t(region_id, pool_id)", params


#: How many mistyped values per custom field an HS553 error lists.
MISTYPED_SHOWN = 5


def check_custom_attributes(con: duckdb.DuckDBPyConnection, ruleset: Ruleset,
                            company_id: str) -> None:
    """Refuse (HS553) customers whose declared custom attribute holds a value
    that is not of the declared type: the facts would read it as missing, and
    a rule or exemption on it would silently not apply."""
    problems = []
    for custom in ruleset.custom_fields:
        duck_type = _DUCK_TYPES[custom.type]
        rows = con.execute(
            f"""
            SELECT customer_id, value, count(*) OVER () FROM (
                SELECT customer_id, json_extract_string(attributes, ?) AS value
                FROM customers WHERE company_id = ?)
            WHERE value IS NOT NULL AND TRY_CAST(value AS {duck_type}) IS NULL
            ORDER BY customer_id LIMIT ?
            """,
            [f"$.{custom.name}", company_id, MISTYPED_SHOWN],
        ).fetchall()
        if not rows:
            continue
        shown = ", ".join(f"{cid} ({value!r})" for cid, value, _ in rows)
        total = int(rows[0][2])
        more = f" and {total - len(rows)} more" if total > len(rows) else ""
        line, column = ruleset.position(custom.json_path)
        problems.append(Diagnostic(
            code=codes.CUSTOM_ATTRIBUTE_TYPE,
            message=f"{total} customer(s) hold a custom attribute {custom.name!r} that is not "
                    f"of its declared type {custom.type}: {shown}{more}",
            file=ruleset.source_file, line=line, column=column, json_path=custom.json_path,
            hint="correct the values in the customers' attributes (or the field's type in "
                 "the ruleset); nothing was decided",
        ))
    if problems:
        raise InvalidInputError(problems)


def check_company(
    con: duckdb.DuckDBPyConnection, ruleset: Ruleset, db: str | PathLike[str]
) -> None:
    """Refuse a database that holds nothing of the ruleset's company (HS552: a
    typo in ``company.id`` must not be a silent no-op), then customers whose
    custom attributes are of the wrong type (HS553). The run, ``plan``,
    ``explain``, ``claim`` and the simulation all check this way."""
    company = ruleset.company.id
    present = companies(con)
    if company not in present:
        raise InvalidInputError(
            f"database {db} holds no salespeople or customers of company {company!r}",
            code=codes.COMPANY_NOT_IN_DATABASE,
            file=str(ruleset.source_file),
            json_path="$.company.id",
            hint=did_you_mean(company, present)
            or (f"it holds {', '.join(present)}" if present else "load facts first"),
        )
    check_custom_attributes(con, ruleset, company)


#: When an order closed: ``closed_at``, or for a won or lost order without
#: one, the moment it was placed (files of the first data model, and rows
#: written without the column, record only the final status).
CLOSED_AT = "coalesce(closed_at, CASE WHEN status <> 'open' THEN placed_at END)"


def as_of_customers_sql(only_sql: str = "") -> str:
    """The CTEs ``later``, ``gained`` and ``cust``: the company's customers
    created by the end of the as-of day, with their owner, pool and
    ``owned_since`` as they stood on it. An ownership change dated after the
    day (an event with a later ``as_of``) did not happen yet: a customer with
    one is held as before the first of them (its ``from_rep_id`` /
    ``from_pool_id``), since the last earlier change that gave it to that
    salesperson (else since its stored ``owned_since`` when that is older,
    else since its creation), as the replay's rewind restores it.
    Parameters: :func:`as_of_customers_params`, then those of ``only_sql``
    (a filter on ``c.customer_id``)."""
    return f"""later AS (
    SELECT customer_id, from_rep_id, from_pool_id FROM (
        SELECT customer_id, from_rep_id, from_pool_id,
               row_number() OVER (PARTITION BY customer_id ORDER BY as_of, "at", event_id) AS n
        FROM ownership_events WHERE company_id = ? AND as_of > ?)
    WHERE n = 1
),
gained AS (
    SELECT e.customer_id, e.to_rep_id, max(e.as_of) AS gained_on
    FROM ownership_events e JOIN later l
      ON l.customer_id = e.customer_id AND l.from_rep_id = e.to_rep_id
    WHERE e.company_id = ? AND e.as_of <= ?
    GROUP BY 1, 2
),
cust AS (
    SELECT c.* REPLACE (
        CASE WHEN l.customer_id IS NULL THEN c.owner_rep_id ELSE l.from_rep_id END
            AS owner_rep_id,
        CASE WHEN l.customer_id IS NULL THEN c.pool_id
             WHEN l.from_rep_id IS NULL THEN l.from_pool_id END AS pool_id,
        CASE WHEN l.customer_id IS NULL THEN c.owned_since
             WHEN l.from_rep_id IS NULL THEN NULL
             WHEN g.gained_on IS NOT NULL THEN CAST(g.gained_on AS TIMESTAMP)
             WHEN c.owner_rep_id = l.from_rep_id AND c.owned_since < ? THEN c.owned_since
             ELSE c.created_at END AS owned_since)
    FROM customers c
    LEFT JOIN later l ON l.customer_id = c.customer_id
    LEFT JOIN gained g ON g.customer_id = c.customer_id
    WHERE c.company_id = ? AND c.created_at < ?{only_sql}
)"""


def as_of_customers_params(company_id: str, as_of: date) -> list[Any]:
    """The parameters of :func:`as_of_customers_sql` (before ``only_sql``'s)."""
    end = as_of + timedelta(days=1)
    return [company_id, as_of, company_id, as_of, end, company_id, end]


def customer_facts_sql(
    ruleset: Ruleset,
    as_of: date,
    company_id: str,
    only: tuple[str, Sequence[Any]] | None = None,
) -> tuple[str, list[Any]]:
    """The SQL (and parameters) of the derived customer facts as of ``as_of``.

    A high-seas customer without a recorded pool is in the pool of its region
    (the default pool when no pool covers the region). ``only``: a query
    selecting the customer ids to derive (and its parameters), for callers
    that need a few customers' facts; ``k`` then numbers those rows only."""
    only_sql, only_params = ("", []) if only is None else (
        f" AND c.customer_id IN ({only[0]})", list(only[1]))
    end = as_of + timedelta(days=1)  # exclusive end of the as-of day
    region_sql, region_params = _region_values(ruleset)
    pool_sql, pool_params = _pool_values(ruleset)
    custom_selects = []
    custom_params: list[Any] = []
    for custom in ruleset.custom_fields:
        column = custom_column(custom.name)
        duck_type = _DUCK_TYPES[custom.type]
        expr = f"TRY_CAST(json_extract_string(c.attributes, ?) AS {duck_type})"
        custom_params.append(f"$.{custom.name}")
        if custom.type == "date":
            expr = f"(date_diff('day', DATE '0001-01-01', {expr}) + 1)"
        custom_selects.append(f', {expr} AS "{column}"')
    sql = f"""
WITH
region_map AS ({region_sql}),
pool_map AS ({pool_sql}),
{as_of_customers_sql(only_sql)},
touch AS (
    -- one pass over the activities: anyone's touch, and the owner's last one
    SELECT a.customer_id,
           -- an activity without a salesperson is a follow-up too (docs/data-model.md)
           max(a.at) FILTER (WHERE c.owner_rep_id IS NOT NULL
                             AND (a.rep_id = c.owner_rep_id OR a.rep_id IS NULL)
                             AND a.at >= c.owned_since) AS last_owner_at
    FROM activities a JOIN cust c ON a.customer_id = c.customer_id
    WHERE a.company_id = ? AND a.at < ?
    GROUP BY a.customer_id
),
order_facts AS (
    -- an order is open on the day when placed by its end and not closed by it
    SELECT customer_id, max(placed_at) AS last_at,
           count(*) FILTER (WHERE closed IS NULL OR closed >= ?) AS open_orders,
           max(closed) FILTER (WHERE status = 'won' AND closed < ?) AS last_won_at
    FROM (SELECT customer_id, placed_at, status, {CLOSED_AT} AS closed FROM orders
          WHERE company_id = ? AND placed_at < ?
            AND customer_id IN (SELECT customer_id FROM cust))
    GROUP BY customer_id
),
stage_facts AS (
    -- the stage on the day: the latest change by its end, else the stage the
    -- customer came in with; since: the first of the latest run of changes
    -- to that stage (a change to the stage it has already does not restart it)
    SELECT customer_id, arg_max(stage, n) AS stage,
           max("at") FILTER (WHERE stage IS DISTINCT FROM previous) AS since
    FROM (SELECT customer_id, stage, "at", n,
                 lag(stage) OVER (PARTITION BY customer_id ORDER BY n) AS previous
          FROM (SELECT customer_id, stage, "at",
                       row_number() OVER (PARTITION BY customer_id
                                          ORDER BY "at", initial DESC, stage) AS n
                FROM (SELECT customer_id, stage, "at", FALSE AS initial FROM stage_changes
                      WHERE company_id = ? AND "at" < ?
                        AND customer_id IN (SELECT customer_id FROM cust)
                      UNION ALL
                      SELECT customer_id, stage, created_at, TRUE FROM cust
                      WHERE stage IS NOT NULL
                        AND customer_id IN (SELECT customer_id FROM stage_changes
                                            WHERE company_id = ? AND "at" < ?))))
    GROUP BY customer_id
)
SELECT
    (row_number() OVER (ORDER BY c.customer_id) - 1)::BIGINT AS k,
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
    {_REGION_OF} AS region,
    coalesce(pm.pool_id, ?) AS region_pool,
    c.source,
    CASE WHEN s.customer_id IS NULL THEN c.stage ELSE s.stage END AS stage,
    c.name,
    c.level::BIGINT AS level,
    coalesce(c.tags, []::VARCHAR[]) AS tags
    {''.join(custom_selects)}
FROM cust c
LEFT JOIN touch t ON t.customer_id = c.customer_id
LEFT JOIN order_facts o ON o.customer_id = c.customer_id
LEFT JOIN stage_facts s ON s.customer_id = c.customer_id
{_REGION_JOINS}
LEFT JOIN pool_map pm ON pm.region_id = {_REGION_OF}
ORDER BY c.customer_id
"""
    params: list[Any] = [
        *region_params,
        *pool_params,
        *as_of_customers_params(company_id, as_of),
        *only_params,
        company_id,
        end,
        end,
        end,
        company_id,
        end,
        company_id,
        end,
        company_id,
        end,
        ruleset.default_pool.id,
        pool_of_region(ruleset, None),
        *custom_params,
    ]
    return sql, params


def materialize_customer_facts(
    con: duckdb.DuckDBPyConnection,
    ruleset: Ruleset,
    as_of: date,
    company_id: str,
    only: tuple[str, Sequence[Any]] | None = None,
    table: str = "hs_facts",
) -> str:
    """Create (or replace) the temp table ``table`` (``hs_facts``, the one the
    planner reads, unless told) with the facts of every customer, or of the
    customers ``only`` selects, and return its name."""
    sql, params = customer_facts_sql(ruleset, as_of, company_id, only)
    con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS " + sql, params)
    return table


def fetch_fact_rows(
    con: duckdb.DuckDBPyConnection,
    table: str,
    where_sql: str = "",
    params: Sequence[Any] = (),
    columns: Sequence[str] | None = None,
) -> list[dict[str, Any]]:
    """Rows of the facts table as dicts (NULLs kept as None); only ``columns``
    (fact column names, quoted here) when given."""
    selected = "*"
    if columns is not None:
        for column in columns:
            if column not in FACT_COLUMNS and not column.startswith("cf_"):
                raise EngineError(f"unknown fact column {column!r}", code=codes.UNSAFE_IDENTIFIER)
        selected = ", ".join(f'"{c}"' for c in columns)
    query = f"SELECT {selected} FROM {table}"
    if where_sql:
        query += f" WHERE {where_sql}"
    query += " ORDER BY k"
    cursor = con.execute(query, list(params))
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


@dataclass(frozen=True)
class RepFacts:
    """A salesperson as the planner sees them on the as-of date."""

    rep_id: str
    name: str
    hired_on: date
    tier: str | None
    regions: tuple[str, ...]
    active: bool
    away: bool
    away_until: date | None
    weight: int | None
    private_count: int
    claims_today: int
    claims_week: int
    claims_month: int
    assigned_last_30d: int


def resolve_tier(ruleset: Ruleset, explicit: str | None, hired_on: date, as_of: date) -> str | None:
    """The one tier of a salesperson: an explicit attribute naming a tier wins;
    otherwise the first tier (in ruleset order) whose tenure range holds and
    that needs no attribute."""
    if explicit:
        for tier in ruleset.tiers:
            if tier.attribute == explicit or (tier.attribute is None and tier.id == explicit):
                if _tenure_ok(tier.tenure_at_least, tier.tenure_less_than, hired_on, as_of):
                    return tier.id
    for tier in ruleset.tiers:
        if tier.attribute is not None:
            continue
        if _tenure_ok(tier.tenure_at_least, tier.tenure_less_than, hired_on, as_of):
            return tier.id
    return None


def tier_names(ruleset: Ruleset) -> list[str]:
    """The explicit tier attributes that select a tier (:func:`resolve_tier`):
    each tier's ``attribute``, and the id of each tier without one."""
    return list(dict.fromkeys(t.attribute if t.attribute is not None else t.id
                              for t in ruleset.tiers))


#: At most this many undeclared tier attributes are reported, and this many
#: salespeople named for each.
_TIER_ATTRIBUTES_SHOWN = 20
_REPS_SHOWN = 5


def undeclared_tier_attributes(
    con: duckdb.DuckDBPyConnection, ruleset: Ruleset, as_of: date, company_id: str
) -> list[Diagnostic]:
    """Warnings (HS554) for the explicit tier attributes (``reps.tier``) of
    salespeople working on ``as_of`` that select no tier of the ruleset: such
    a salesperson's tenure decides their tier, which is seldom what whoever
    set the attribute meant. One per attribute, at the ruleset's ``tiers``."""
    names = tier_names(ruleset)
    rows = con.execute(
        """
        SELECT tier, count(*), list(rep_id ORDER BY rep_id)[1:?]
        FROM reps
        WHERE company_id = ? AND tier IS NOT NULL AND tier <> '' AND hired_on <= ?
          AND CASE WHEN left_on IS NULL THEN active ELSE left_on > ? END
          AND tier NOT IN (SELECT unnest(?::VARCHAR[]))
        GROUP BY tier ORDER BY tier LIMIT ?
        """,
        [_REPS_SHOWN, company_id, as_of, as_of, names, _TIER_ATTRIBUTES_SHOWN],
    ).fetchall()
    line, column = ruleset.position("$.tiers")
    found = []
    for attribute, count, shown in rows:
        more = f" and {count - len(shown)} more" if count > len(shown) else ""
        found.append(Diagnostic(
            code=codes.UNDECLARED_TIER_ATTRIBUTE,
            message=f"{'1 salesperson has' if count == 1 else f'{count} salespeople have'} "
                    f"tier attribute {attribute!r}, which selects "
                    f"no tier of the ruleset, so their tenure decides their tier: "
                    f"{', '.join(shown)}{more}",
            file=ruleset.source_file, line=line, column=column, json_path="$.tiers",
            hint=did_you_mean(attribute, names)
            or f"add a tier with `attribute: {attribute}`, or correct reps.tier in the CRM "
               f"(values that select a tier: {', '.join(names)})",
            severity=Severity.WARNING,
        ))
    return found


def _tenure_ok(at_least: Any, less_than: Any, hired_on: date, as_of: date) -> bool:
    if at_least is not None and at_least.add_to(hired_on) > as_of:
        return False
    if less_than is not None and less_than.add_to(hired_on) <= as_of:
        return False
    return True


#: Ownership-event actions that count against a salesperson's claim caps.
RECEIVING_ACTIONS = ("claim", "assign", "trim", "relay")


def rep_facts(
    con: duckdb.DuckDBPyConnection,
    ruleset: Ruleset,
    as_of: date,
    company_id: str,
    only: Sequence[str] | None = None,
) -> list[RepFacts]:
    """Every salesperson of the company (of ``only``, when given) hired by
    ``as_of``, as they were on it: active unless they left on or before it
    (``left_on``; without one, the undated ``active`` flag), tier, load (the
    customers they owned that day) and claim counters."""
    week_start = as_of - timedelta(days=as_of.weekday())
    month_start = as_of.replace(day=1)
    region_ids = {r.id for r in ruleset.regions}
    code_to_region: dict[str, str] = {}
    for region in ruleset.regions:
        for code in (*region.codes, *region.countries):
            code_to_region.setdefault(code, region.id)
    placeholders = ", ".join("?" for _ in RECEIVING_ACTIONS)
    only_params: list[Any] = [] if only is None else [list(only)]
    only_sql = "" if only is None else " AND {} IN (SELECT unnest(?::VARCHAR[]))"
    rows = con.execute(
        f"""
        WITH {as_of_customers_sql()},
        owned AS (
            SELECT owner_rep_id AS rep_id, count(*) AS n FROM cust
            WHERE owner_rep_id IS NOT NULL{only_sql.format("owner_rep_id")}
            GROUP BY 1
        ),
        received AS (
            SELECT to_rep_id AS rep_id,
                count(*) FILTER (WHERE as_of = ?) AS today,
                count(*) FILTER (WHERE as_of >= ? AND as_of <= ?) AS week,
                count(*) FILTER (WHERE as_of >= ? AND as_of <= ?) AS month,
                count(*) FILTER (WHERE as_of > ? AND as_of <= ?) AS last30
            FROM ownership_events
            WHERE company_id = ? AND to_rep_id IS NOT NULL AND action IN ({placeholders})
              AND as_of >= ? AND as_of <= ?{only_sql.format("to_rep_id")}
            GROUP BY 1
        )
        SELECT r.rep_id, r.name, r.hired_on, r.tier, r.regions,
               -- the day they left decides; without one, the active flag (undated)
               CASE WHEN r.left_on IS NULL THEN r.active ELSE r.left_on > ? END AS active,
               (r.away_from IS NOT NULL AND r.away_from <= ?
                AND (r.away_until IS NULL OR r.away_until >= ?)) AS away,
               r.away_until, r.weight,
               coalesce(o.n, 0), coalesce(x.today, 0), coalesce(x.week, 0),
               coalesce(x.month, 0), coalesce(x.last30, 0)
        FROM reps r
        LEFT JOIN owned o ON o.rep_id = r.rep_id
        LEFT JOIN received x ON x.rep_id = r.rep_id
        WHERE r.company_id = ? AND r.hired_on <= ?{only_sql.format("r.rep_id")}
        ORDER BY r.rep_id
        """,
        [
            *as_of_customers_params(company_id, as_of),
            *only_params,
            as_of,
            week_start,
            as_of,
            month_start,
            as_of,
            as_of - timedelta(days=30),
            as_of,
            company_id,
            *RECEIVING_ACTIONS,
            min(week_start, month_start, as_of - timedelta(days=29)),
            as_of,
            *only_params,
            as_of,
            as_of,
            as_of,
            company_id,
            as_of,
            *only_params,
        ],
    ).fetchall()
    result = []
    for row in rows:
        (rep_id, name, hired_on, explicit, regions, active, away, away_until, weight,
         owned, today, week, month, last30) = row
        resolved = []
        for code in regions or []:
            region_id = code if code in region_ids else code_to_region.get(code)
            if region_id and region_id not in resolved:
                resolved.append(region_id)
        result.append(
            RepFacts(
                rep_id=rep_id,
                name=name,
                hired_on=hired_on,
                tier=resolve_tier(ruleset, explicit, hired_on, as_of),
                regions=tuple(resolved),
                active=bool(active),
                away=bool(away),
                away_until=away_until,
                weight=weight,
                private_count=int(owned),
                claims_today=int(today),
                claims_week=int(week),
                claims_month=int(month),
                assigned_last_30d=int(last30),
            )
        )
    return result


def cooldowns(
    con: duckdb.DuckDBPyConnection,
    ruleset: Ruleset,
    as_of: date,
    company_id: str,
    customers: Sequence[str] | None = None,
) -> dict[str, dict[str, date]]:
    """customer_id -> {rep_id: cooldown end date (exclusive)} for reps who lost
    the customer within the ruleset's cooldown (only of ``customers`` when
    given), and holders whose relay round lapsed (highseas.nightly.lapsed)."""
    lapsed = lapsed_relay_cooldowns(con, ruleset, as_of, company_id, customers)
    cooldown = ruleset.caps.cooldown
    if cooldown is None:
        return lapsed
    # a generous lower bound; the exact end (lost_on + cooldown) is computed below
    since = cooldown.subtract_from(as_of) - timedelta(days=4)
    only = ""
    params: list[Any] = [company_id, since, as_of]
    if customers is not None:
        only = "AND customer_id IN (SELECT unnest(?::VARCHAR[]))"
        params.append(list(customers))
    rows = con.execute(
        f"""
        SELECT customer_id, from_rep_id, max(as_of) FROM ownership_events
        WHERE company_id = ? AND from_rep_id IS NOT NULL AND as_of > ? AND as_of <= ?
          AND coalesce(to_rep_id, '') <> from_rep_id {only}
        GROUP BY 1, 2
        """,
        params,
    ).fetchall()
    result: dict[str, dict[str, date]] = {}
    ends: dict[date, date] = {}  # lost_on -> end: few distinct days, many rows
    for customer_id, rep_id, lost_on in rows:
        until = ends.get(lost_on)
        if until is None:
            until = ends[lost_on] = cooldown.add_to(lost_on)
        if until > as_of:
            result.setdefault(customer_id, {})[rep_id] = until
    return merge_cooldowns(result, lapsed)


def customer_regions(
    con: duckdb.DuckDBPyConnection, ruleset: Ruleset, company_id: str, customer_ids: list[str]
) -> dict[str, str | None]:
    """The region of each of ``customer_ids``, as the facts' ``region`` column
    derives it."""
    region_sql, region_params = _region_values(ruleset)
    rows = con.execute(
        f"""
        WITH region_map AS ({region_sql})
        SELECT c.customer_id, {_REGION_OF}
        FROM customers c
        {_REGION_JOINS}
        WHERE c.company_id = ? AND c.customer_id IN (SELECT unnest(?::VARCHAR[]))
        """,
        [*region_params, company_id, customer_ids],
    ).fetchall()
    return {customer_id: region for customer_id, region in rows}


def pool_of_region(ruleset: Ruleset, region: str | None) -> str:
    """The pool a customer of ``region`` is released to (default pool if none covers it)."""
    for pool in ruleset.pools:
        if region is not None and region in pool.regions:
            return pool.id
    for pool in ruleset.pools:
        if pool.all_regions and not pool.default:
            return pool.id
    return ruleset.default_pool.id
