"""Step 4 of the nightly run: private caps.

Salespeople above their tier's cap lose the excess, chosen in SQL in the
cap's excess order (never a customer with an open order, a protected one, or
one already changed in this run); each trimmed customer goes to a salesperson
of the cap's ``excess_to_tier`` with room, else to the cap's pool.
"""

from __future__ import annotations

from typing import Any

from highseas.nightly.allocation import AssignRequest
from highseas.nightly.chunks import allocate_table
from highseas.nightly.events import PrivateCapTrimmed
from highseas.nightly.ledger import UNCHANGED, RunLedger
from highseas.ruleset.model import Allocation
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
    import pyarrow as pa

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
        receivers = _receivers(ledger, cap.excess_to_tier, rule_id) if cap.excess_to_tier else {}
        pool_sql, pool_params = ledger.pool_sql(cap.excess_to_pool)
        given = pa.table({"customer_id": pa.array(list(receivers), pa.string()),
                          "to_rep_id": pa.array(list(receivers.values()), pa.string())})
        # Each trimmed customer goes to the salesperson chosen for it, if any,
        # else to the pool.
        with registered(con, "hs_trim_given", given):
            ledger.insert_batch(
                "SELECT f.customer_id, 'trim', ?, f.owner_rep_id || ' holds more than "
                "the ' || ? || ' cap of ' || ? || ' private customers; ' || f.name "
                "|| ' is among the ' || ? || '; it goes to ' "
                f"|| coalesce(g.to_rep_id || ' (' || ? || ')', {pool_sql}), "
                "f.owner_rep_id, g.to_rep_id, NULL, "
                f"CASE WHEN g.to_rep_id IS NULL THEN {pool_sql} END, f.name, "
                "NULL, NULL, NULL, NULL "
                "FROM hs_trimmed f LEFT JOIN hs_trim_given g USING (customer_id) "
                "ORDER BY f.customer_id",
                [rule_id, cap.tier, str(cap.max), cap.excess_order.replace("_", " "),
                 cap.excess_to_tier, *pool_params, *pool_params],
            )


def _receivers(ledger: RunLedger, tier: str, rule_id: str) -> dict[str, str]:
    """The salesperson of ``tier`` (the cap's ``excess_to_tier``) each trimmed
    customer goes to, for those someone has room for (least loaded first)."""
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
        "SELECT customer_id, '*trim*' AS pool_id, owner_rep_id, region FROM hs_trimmed",
        [], allocation, to_request,
    )
    return {a.customer_id: a.rep_id for a in result.assignments}
