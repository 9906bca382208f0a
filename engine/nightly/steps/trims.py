"""Step 4 of the nightly run: private caps.

Salespeople above their tier's cap lose the excess, chosen in SQL in the
cap's excess order (never a customer with an open order, a protected one, or
one already changed in this run). Each trimmed customer goes to the first
target of the cap's ``excess_to`` whose ``when`` it matches and that can take
it (a tier target when one of its salespeople has room, a pool target
always); a customer no target takes goes to the pool of its region.
"""

from __future__ import annotations

from typing import Any

from highseas.compile.decision_points import excess_point
from highseas.nightly.allocation import AssignRequest
from highseas.nightly.chunks import allocate_table
from highseas.nightly.events import ExcessTargetUsed, PrivateCapTrimmed
from highseas.nightly.ledger import UNCHANGED, RunLedger
from highseas.ruleset.model import Allocation, PoolTarget, PrivateCap
from highseas.store.db import registered

#: The SQL order of each excess order of a private cap.
_EXCESS_ORDER_SQL = {
    "least_recently_followed_up": "last_touch_day ASC, customer_id ASC",
    "oldest_owned": "owned_since_day ASC, customer_id ASC",
    "newest_owned": "owned_since_day DESC, customer_id ASC",
    "lowest_level": "level ASC NULLS FIRST, customer_id ASC",
}


def trims(ledger: RunLedger) -> None:
    """Step 4: trim every salesperson above their tier's private cap."""
    con = ledger.con
    reps = ledger.loads.reps
    for cap in ledger.ruleset.caps.private:
        over = {
            rep.rep_id: ledger.loads.private(rep.rep_id) - cap.max
            for rep in reps
            if rep.tier == cap.tier and ledger.loads.private(rep.rep_id) > cap.max
        }
        if not over:
            continue
        protected_sql, protected_params = "false", []
        if cap.protect is not None:
            protected_sql, protected_params = ledger.evaluation.where(f"protect:{cap.tier}")
        owners = sorted(over)
        ledger.sync()
        # The excess of each salesperson, chosen in SQL: never a customer with an
        # open order, a protected one, or one already changed tonight.
        con.execute(
            "CREATE OR REPLACE TEMP TABLE hs_trimmed AS "
            "SELECT customer_id, owner_rep_id, name, region, region_pool "
            f"FROM {ledger.facts_table} f "
            "WHERE owner_rep_id IN (SELECT unnest(?::VARCHAR[])) AND open_orders = 0 "
            f"AND {UNCHANGED} AND NOT ({protected_sql}) "
            "QUALIFY row_number() OVER (PARTITION BY owner_rep_id ORDER BY "
            f"{_EXCESS_ORDER_SQL[cap.excess_order]}) "
            "<= (?::BIGINT[])[list_position(?::VARCHAR[], owner_rep_id)]",
            [owners, *protected_params, [over[rep] for rep in owners], owners],
        )
        rule_id = f"caps.private.{cap.tier}"
        if not con.execute("SELECT count(*) FROM hs_trimmed").fetchall()[0][0]:
            continue
        ledger.observer.notice(PrivateCapTrimmed(cap.tier))
        _send_excess(ledger, cap, rule_id)


def _send_excess(ledger: RunLedger, cap: PrivateCap, rule_id: str) -> None:
    """Decide where each customer of ``hs_trimmed`` goes, target by target."""
    con = ledger.con
    con.execute("CREATE OR REPLACE TEMP TABLE hs_trim_left AS "
                "SELECT *, CAST(NULL AS VARCHAR) AS note FROM hs_trimmed")
    for number, target in enumerate(cap.excess_to, start=1):
        match_sql, match_params = "TRUE", []
        if target.when is not None:
            expression, match_params = ledger.evaluation.where(excess_point(cap.tier, number))
            match_sql = (f"customer_id IN (SELECT customer_id FROM {ledger.facts_table} "
                         f"WHERE {expression})")
        con.execute("CREATE OR REPLACE TEMP TABLE hs_trim_target AS "
                    f"SELECT * FROM hs_trim_left WHERE {match_sql}", match_params)
        if not con.execute("SELECT count(*) FROM hs_trim_target").fetchall()[0][0]:
            continue
        matched = f"it matches excess_to target {number}, so " if target.when else ""
        if target.tier is None:
            pool_sql, pool_params = ledger.pool_sql(target.pool)
            _insert(ledger, cap, rule_id, "hs_trim_target f", f"? || 'it goes to ' || {pool_sql}",
                    [matched, *pool_params], pool_sql, pool_params)
            con.execute("DELETE FROM hs_trim_left "
                        "WHERE customer_id IN (SELECT customer_id FROM hs_trim_target)")
        else:
            receivers = _receivers(ledger, target.tier, rule_id)
            given = pa_table(receivers)
            with registered(con, "hs_trim_given", given):
                _insert(ledger, cap, rule_id,
                        "hs_trim_target f JOIN hs_trim_given g USING (customer_id)",
                        "? || 'it goes to ' || g.to_rep_id || ' (' || ? || ')'",
                        [matched, target.tier], "NULL", [], to_rep_sql="g.to_rep_id")
                con.execute("DELETE FROM hs_trim_left "
                            "WHERE customer_id IN (SELECT customer_id FROM hs_trim_given)")
            if target.when is not None or len(cap.excess_to) > 1:
                # Why a customer that matched this target went elsewhere.
                con.execute(
                    "UPDATE hs_trim_left SET note = coalesce(note, ?) "
                    "WHERE customer_id IN (SELECT customer_id FROM hs_trim_target)",
                    [(f"it matches excess_to target {number}, but" if target.when
                      else f"excess_to target {number}:")
                     + f" no salesperson of {target.tier} has room"],
                )
            if not receivers:
                continue
        if target.when is not None:
            ledger.observer.notice(ExcessTargetUsed(cap.tier, number))
    # Customers no target took: the pool of their region.
    pool_sql, pool_params = ledger.pool_sql(PoolTarget())
    _insert(ledger, cap, rule_id, "hs_trim_left f",
            f"'it goes to ' || {pool_sql}", pool_params,
            pool_sql, pool_params)


def _insert(ledger: RunLedger, cap: PrivateCap, rule_id: str, source: str, where_sql: str,
            where_params: list[Any], pool_sql: str, pool_params: list[Any],
            to_rep_sql: str = "NULL") -> None:
    """The trims of the customers of ``source`` (a table ``f`` of trimmed
    customers, maybe joined), each with its reason ending in ``where_sql``
    (where it goes), to the salesperson ``to_rep_sql`` or the pool ``pool_sql``."""
    ledger.insert_batch(
        "SELECT f.customer_id, 'trim', ?, f.owner_rep_id || ' holds more than "
        "the ' || ? || ' cap of ' || ? || ' private customers; ' || f.name "
        f"|| ' is among the ' || ? || '; ' || coalesce(f.note || '; ', '') || {where_sql}, "
        f"f.owner_rep_id, {to_rep_sql}, NULL, {pool_sql}, f.name, NULL, NULL, NULL, NULL "
        f"FROM {source} ORDER BY f.customer_id",
        [rule_id, cap.tier, str(cap.max), cap.excess_order.replace("_", " "), *where_params,
         *pool_params],
    )


def pa_table(receivers: dict[str, str]) -> Any:
    """``receivers`` (customer id -> salesperson id) as an Arrow table."""
    import pyarrow as pa

    return pa.table({"customer_id": pa.array(list(receivers), pa.string()),
                     "to_rep_id": pa.array(list(receivers.values()), pa.string())})


def _receivers(ledger: RunLedger, tier: str, rule_id: str) -> dict[str, str]:
    """The salesperson of ``tier`` each customer of ``hs_trim_target`` goes to,
    for those someone has room for (least loaded first)."""
    allocation = Allocation(
        id=rule_id, tiers=(tier,), strategy="least_loaded",
        region_fallback="any_region",
    )

    def to_request(row: dict[str, Any]) -> AssignRequest:
        return AssignRequest(
            customer_id=row["customer_id"],
            pool_id=row["pool_id"],
            region=row["region"],
            cooldown_reps=ledger.cooldowns.reps(row["customer_id"]),
            exclude_reps=frozenset({row["owner_rep_id"]}),
            reason="trim",
        )

    result, _ = allocate_table(
        ledger,
        "SELECT customer_id, '*trim*' AS pool_id, owner_rep_id, region FROM hs_trim_target",
        [], allocation, to_request,
    )
    return {a.customer_id: a.rep_id for a in result.assignments}
