"""Version 1.1 ``activation_relay[].lapsed_cooldown``: a salesperson whose
relay round lapsed (no contact before the deadline) is not given the customer
back, by rotation or by a claim, within the relay's ``lapsed_cooldown``.

A round lapsed when the relay passed the customer from its holder to the next
round, or to the relay's pool after the last round: an ownership event of the
relay whose ``from_rep_id`` received the customer in an earlier round of it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from highseas.ruleset.model import Ruleset

if TYPE_CHECKING:
    import duckdb


def lapsed_relay_cooldowns(
    con: duckdb.DuckDBPyConnection,
    ruleset: Ruleset,
    as_of: date,
    company_id: str,
    customers: Sequence[str] | None = None,
) -> dict[str, dict[str, date]]:
    """customer_id -> {rep_id: cooldown end (exclusive)} for holders whose
    relay round lapsed within their relay's ``lapsed_cooldown``."""
    result: dict[str, dict[str, date]] = {}
    for relay in ruleset.relays:
        cooldown = relay.lapsed_cooldown
        if cooldown is None:
            continue
        since = cooldown.subtract_from(as_of) - timedelta(days=4)
        only = ""
        params: list[Any] = [company_id, relay.id, since, as_of]
        if customers is not None:
            only = "AND e.customer_id IN (SELECT unnest(?::VARCHAR[]))"
            params.append(list(customers))
        rows = con.execute(
            f"""
            SELECT e.customer_id, e.from_rep_id, max(e.as_of) FROM ownership_events e
            WHERE e.company_id = ? AND e.rule_id = ? AND e.action IN ('relay', 'release')
              AND e.from_rep_id IS NOT NULL AND e.as_of > ? AND e.as_of <= ? {only}
              AND EXISTS (SELECT 1 FROM ownership_events p
                          WHERE p.company_id = e.company_id AND p.customer_id = e.customer_id
                            AND p.rule_id = e.rule_id AND p.action = 'relay'
                            AND p.to_rep_id = e.from_rep_id AND p.as_of < e.as_of)
            GROUP BY 1, 2
            """,
            params,
        ).fetchall()
        for customer_id, rep_id, lapsed_on in rows:
            until = cooldown.add_to(lapsed_on)
            if until > as_of:
                ends = result.setdefault(customer_id, {})
                ends[rep_id] = max(until, ends.get(rep_id, until))
    return result


def merge_cooldowns(
    into: dict[str, dict[str, date]], more: dict[str, dict[str, date]]
) -> dict[str, dict[str, date]]:
    """``into`` with every end of ``more`` added (the later end wins)."""
    for customer_id, ends in more.items():
        target = into.setdefault(customer_id, {})
        for rep_id, until in ends.items():
            target[rep_id] = max(until, target.get(rep_id, until))
    return into
