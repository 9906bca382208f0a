"""The replay's customer facts, kept current from one day to the next.

The nightly run derives every customer's facts from scratch
(:func:`engine.derive.materialize_customer_facts`). A replay plans day after
day on the same copy, where from one day to the next only a few customers'
facts can change: the facts hold absolute day numbers, never "days since",
so a customer's row changes only when

- its ownership changes (a run's decision or a claim back: both write an
  ownership event, which is also how the copy's ``customers`` table is
  updated),
- an activity or an order of it falls on the new day (the behaviour
  model's contacts are written on the day they happen),
- it is created on the new day.

:class:`IncrementalFacts` keeps the facts of the previous day in the temp
table ``hs_replay_facts``, which the planner reads instead of ``hs_facts``,
and re-derives only those customers, with the same SQL restricted to them.
Any other change to the copy's tables between two days (an order's status, a
customer's stage) is not seen: the replay makes none. With :data:`VERIFY`
set (the tests do), every refresh is compared with a full derivation and a
difference stops the replay."""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING

from engine import derive
from engine.model import Ruleset

if TYPE_CHECKING:
    import duckdb

#: Tests set this to compare every refresh with a full derivation.
VERIFY = False

_CACHE = "hs_replay_facts"


class IncrementalFacts:
    """The ``facts`` step of :func:`engine.planner.plan` for a replay:
    ``refresh(con, ruleset, day, company)`` brings the facts table to ``day``
    and returns its name, re-deriving only the customers whose inputs
    changed since the day before (everything on the first day, after a gap,
    or for another ruleset or company)."""

    def __init__(self) -> None:
        self._day: date | None = None
        self._key: tuple[str, str] | None = None

    def refresh(self, con: duckdb.DuckDBPyConnection, ruleset: Ruleset, day: date,
                company_id: str) -> str:
        """Bring the facts table to ``day`` and return its name."""
        key = (ruleset.content_hash, company_id)
        if self._day is None or self._key != key or day != self._day + timedelta(days=1):
            derive.materialize_customer_facts(con, ruleset, day, company_id, table=_CACHE)
        else:
            self._update(con, ruleset, day, company_id)
        self._day, self._key = day, key
        if VERIFY:
            _verify(con, ruleset, day, company_id)
        return _CACHE

    def _update(self, con: duckdb.DuckDBPyConnection, ruleset: Ruleset, day: date,
                company_id: str) -> None:
        previous = day - timedelta(days=1)
        end = day + timedelta(days=1)  # exclusive end of the new day
        # Events are dated by the run or claim that wrote them: the previous
        # day's run was applied after its facts were taken, the new day's
        # claims back come before its run. (Dates, not row ids: DuckDB may
        # renumber rows after deletes, and the rewind deletes events.)
        con.execute(
            """
            CREATE OR REPLACE TEMP TABLE hs_replay_dirty AS
            SELECT customer_id FROM ownership_events
             WHERE company_id = ? AND as_of >= ?
            UNION
            SELECT customer_id FROM activities
             WHERE company_id = ? AND "at" >= ? AND "at" < ?
            UNION
            SELECT customer_id FROM orders
             WHERE company_id = ? AND placed_at >= ? AND placed_at < ?
            UNION
            SELECT customer_id FROM customers
             WHERE company_id = ? AND created_at >= ? AND created_at < ?
            """,
            [company_id, previous, company_id, day, end, company_id, day, end,
             company_id, day, end],
        )
        if not con.execute("SELECT count(*) FROM hs_replay_dirty").fetchall()[0][0]:
            return
        derive.materialize_customer_facts(
            con, ruleset, day, company_id,
            only=("SELECT customer_id FROM hs_replay_dirty", []), table="hs_replay_fresh",
        )
        new_customers = con.execute(
            f"SELECT count(*) FROM hs_replay_fresh WHERE customer_id NOT IN "
            f"(SELECT customer_id FROM {_CACHE})"
        ).fetchall()[0][0]
        # Fresh rows keep their customer's key; new customers renumber them all.
        con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE hs_replay_fresh AS
            SELECT f.* REPLACE (coalesce(old.k, -1) AS k)
            FROM hs_replay_fresh f LEFT JOIN {_CACHE} old USING (customer_id)
            """
        )
        con.execute(
            f"DELETE FROM {_CACHE} WHERE customer_id IN "
            "(SELECT customer_id FROM hs_replay_dirty)"
        )
        con.execute(f"INSERT INTO {_CACHE} SELECT * FROM hs_replay_fresh")
        if new_customers:
            con.execute(
                f"""
                UPDATE {_CACHE} SET k = n.k
                FROM (SELECT customer_id,
                             (row_number() OVER (ORDER BY customer_id) - 1)::BIGINT AS k
                      FROM {_CACHE}) n
                WHERE n.customer_id = {_CACHE}.customer_id AND n.k <> {_CACHE}.k
                """
            )


def _verify(con: duckdb.DuckDBPyConnection, ruleset: Ruleset, day: date,
            company_id: str) -> None:
    derive.materialize_customer_facts(con, ruleset, day, company_id, table="hs_replay_check")
    differences = con.execute(
        f"SELECT count(*) FROM ((SELECT * FROM {_CACHE} EXCEPT ALL SELECT * FROM hs_replay_check) "
        f"UNION ALL (SELECT * FROM hs_replay_check EXCEPT ALL SELECT * FROM {_CACHE}))"
    ).fetchall()[0][0]
    if differences:
        example = con.execute(
            f"SELECT * FROM {_CACHE} EXCEPT ALL SELECT * FROM hs_replay_check LIMIT 1"
        ).fetchall()
        raise AssertionError(
            f"replay facts of {day} differ from a full derivation in {differences} rows, "
            f"e.g. {example}"
        )
