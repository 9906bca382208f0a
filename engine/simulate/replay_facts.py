"""The replay's customer facts, kept current from one day to the next.

The nightly run derives every customer's facts from scratch
(:func:`highseas.nightly.facts.materialize_customer_facts`). A replay plans day after
day on the same copy, where from one day to the next only a few customers'
facts can change: the facts hold absolute day numbers, never "days since",
so a customer's row changes only when

- its ownership changes (a run's decision or a claim back: both write an
  ownership event, which is also how the copy's ``customers`` table is
  updated),
- an activity of it, an order placed or closed, or a stage change falls on
  the new day (the behaviour model's contacts are written on the day they
  happen),
- it is created on the new day.

:class:`IncrementalFacts` keeps the facts of the previous day in the temp
table ``hs_replay_facts``, which the planner reads instead of ``hs_facts``,
and re-derives only those customers, with the same SQL restricted to them.
Every fact a condition reads is dated (docs/data-model.md), so a day sees
what the nightly run of that day would; the replay itself changes only
ownership and activities.

The key ``k`` orders the customers as a full derivation's does (by customer
id), but numbers them among all the company's customers, those created
later included (``hs_replay_keys``), so that a customer appearing does not
renumber all the others; the planner uses ``k`` only to order customers and
to name them, never its value. With :data:`VERIFY` set (the tests do), every
refresh is compared with a full derivation (every column but ``k``, and the
order ``k`` gives) and a difference stops the replay."""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING

from highseas.nightly import facts as derive
from highseas.ruleset.model import Ruleset

if TYPE_CHECKING:
    import duckdb

#: Tests set this to compare every refresh with a full derivation.
VERIFY = False

_CACHE = "hs_replay_facts"
_KEYS = "hs_replay_keys"
#: The rows of ``hs_replay_fresh`` with the replay's keys.
_WITH_KEYS = (f"SELECT f.* REPLACE (keys.k AS k) FROM hs_replay_fresh f "
              f"JOIN {_KEYS} keys USING (customer_id)")


class IncrementalFacts:
    """The ``facts`` step of :func:`highseas.nightly.planner.plan` for a replay:
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
            con.execute(
                f"CREATE OR REPLACE TEMP TABLE {_KEYS} AS SELECT customer_id, "
                "(row_number() OVER (ORDER BY customer_id) - 1)::BIGINT AS k "
                "FROM customers WHERE company_id = ?",
                [company_id],
            )
            derive.materialize_customer_facts(con, ruleset, day, company_id,
                                              table="hs_replay_fresh")
            con.execute(f"CREATE OR REPLACE TEMP TABLE {_CACHE} AS {_WITH_KEYS} ORDER BY k")
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
             WHERE company_id = ? AND ((placed_at >= ? AND placed_at < ?)
                OR (closed_at >= ? AND closed_at < ?))
            UNION
            SELECT customer_id FROM stage_changes
             WHERE company_id = ? AND "at" >= ? AND "at" < ?
            UNION
            SELECT customer_id FROM customers
             WHERE company_id = ? AND created_at >= ? AND created_at < ?
            """,
            [company_id, previous, company_id, day, end, company_id, day, end, day, end,
             company_id, day, end, company_id, day, end],
        )
        if not con.execute("SELECT count(*) FROM hs_replay_dirty").fetchall()[0][0]:
            return
        derive.materialize_customer_facts(
            con, ruleset, day, company_id,
            only=("SELECT customer_id FROM hs_replay_dirty", []), table="hs_replay_fresh",
        )
        con.execute(
            f"DELETE FROM {_CACHE} WHERE customer_id IN "
            "(SELECT customer_id FROM hs_replay_dirty)"
        )
        # Fresh rows take their customer's key; no other row changes.
        con.execute(f"INSERT INTO {_CACHE} {_WITH_KEYS}")


def _verify(con: duckdb.DuckDBPyConnection, ruleset: Ruleset, day: date,
            company_id: str) -> None:
    derive.materialize_customer_facts(con, ruleset, day, company_id, table="hs_replay_check")
    differences = con.execute(
        f"SELECT count(*) FROM ((SELECT * EXCLUDE (k) FROM {_CACHE} "
        f"EXCEPT ALL SELECT * EXCLUDE (k) FROM hs_replay_check) "
        f"UNION ALL (SELECT * EXCLUDE (k) FROM hs_replay_check "
        f"EXCEPT ALL SELECT * EXCLUDE (k) FROM {_CACHE}))"
    ).fetchall()[0][0]
    if differences:
        example = con.execute(
            f"SELECT * EXCLUDE (k) FROM {_CACHE} "
            f"EXCEPT ALL SELECT * EXCLUDE (k) FROM hs_replay_check LIMIT 1"
        ).fetchall()
        raise AssertionError(
            f"replay facts of {day} differ from a full derivation in {differences} rows, "
            f"e.g. {example}"
        )
    # k is unique and orders the customers as the full derivation's k does.
    misordered, duplicated = con.execute(
        f"SELECT count(*) FILTER (WHERE mine.by_key - 1 <> full_facts.k), "
        f"count(*) - count(DISTINCT mine.k) FROM (SELECT customer_id, k, "
        f"row_number() OVER (ORDER BY k) AS by_key FROM {_CACHE}) mine "
        f"JOIN hs_replay_check full_facts USING (customer_id)"
    ).fetchall()[0]
    if misordered or duplicated:
        raise AssertionError(f"replay facts of {day}: {misordered} customers out of k order, "
                             f"{duplicated} repeated keys")
