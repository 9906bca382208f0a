"""``highseas advise``: an idle period recommended from the recorded history.

Only facts are read (customers, activities, orders); no ruleset is needed.

* Follow-up gaps: days between consecutive recorded activities of a customer.
* Last touch -> order: days from the last activity before an order (or the
  customer's creation, when nothing was recorded before it) to the order.
* The release curve: an order "would have been released" under an idle
  period of P days when, before it was placed, the customer went more than P
  days without a recorded touch (counting from its creation): a rule
  ``idle_for: Pd`` would have returned it to the high seas before the sale.
  The recommended idle period is the smallest P for which at most
  ``max_share`` (5% by default) of the orders would have been released.

Eventual orders are the orders with status ``won`` by default (``open`` and
``lost`` ones are deals in progress or lost; ``statuses`` changes it). An
activity recorded at the very moment of the order (importers record the
win itself as an activity) is the order, not a touch before it.

The figures ignore a rule's exemptions (``unless``) and every condition of
its ``when`` but ``idle_for``: each eventual order counts as releasable, so a
rule with exemptions releases at most the share shown. The text and
advice.html say so (:data:`IGNORES`, :data:`METHOD`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from highseas import codes
from highseas.errors import InvalidInputError
from highseas.ruleset.diff import describe_condition
from highseas.ruleset.model import IdleFor, Ruleset
from highseas.suggestions import did_you_mean

if TYPE_CHECKING:
    import duckdb

PERCENTILES = (0.5, 0.75, 0.9, 0.95, 0.99)

#: What every figure of the advice leaves out, said under them.
IGNORES = ("exemptions are not applied: each eventual order counts as releasable, whatever "
           "a rule's unless (an open order, a tag, a stage) or its other when conditions say; "
           "a rule with exemptions releases at most the share shown")

#: How the advice is computed, in a paragraph (advice.html; {statuses} and
#: {max_share} are filled in).
METHOD = (
    "The advice reads only the recorded history: customers, activities and orders. An "
    "eventual order is an order with status {statuses}. For each, it finds the longest "
    "silence before it: the most days between two consecutive recorded touches of the "
    "customer, counting from the customer's creation and up to the order (an activity "
    "recorded at the very moment of the order is the order itself, not a touch before it). "
    "A rule 'idle_for: P' would have returned the customer to the high seas before the sale "
    "exactly when that silence is longer than P days. The curve gives, for every P, the "
    "share of eventual orders whose silence is longer; the recommended idle period is the "
    "smallest P at which that share is at most {max_share}. The figures ignore a rule's "
    "exemptions (unless: an open order, a key-account tag, a stage) and every condition of "
    "its when but idle_for: each order counts as releasable, so a rule with exemptions "
    "releases at most the share shown, and fewer where its exemptions cover the customers "
    "who go quiet before they buy. Reminders and claims back are not modelled either: a "
    "customer released, then claimed back by its salesperson before the sale, still counts "
    "as released."
)


@dataclass(frozen=True)
class Distribution:
    """Summary of a list of day counts."""

    count: int
    mean: float | None
    percentiles: dict[str, int | None]
    maximum: int | None

    def to_dict(self) -> dict[str, Any]:
        return {"count": self.count, "mean": self.mean, **self.percentiles,
                "max": self.maximum}


@dataclass(frozen=True)
class Advice:
    """What the history says about the idle period."""

    company_id: str
    max_share: float
    orders: int
    customers_with_orders: int
    follow_up_gaps: Distribution
    touch_to_order: Distribution
    #: (idle period in days, share of orders that would have been released)
    curve: tuple[tuple[int, float], ...]
    recommended_days: int | None
    #: release rule id -> (its idle period in days, share of orders it would release)
    current: dict[str, tuple[int, float]] = field(default_factory=dict)
    #: Orders left out: placed before their customer was created (a data quirk).
    left_out: int = 0
    #: release rule id -> what its share in ``current`` leaves out (its
    #: ``unless``, the rest of its ``when``), in the ruleset's words.
    ignored: dict[str, str] = field(default_factory=dict)
    #: The order statuses counted as eventual orders.
    statuses: tuple[str, ...] = ("won",)

    def share_released(self, days: int) -> float:
        """Share of orders released under an idle period of ``days``."""
        for period, share in self.curve:
            if period >= days:
                return share
        return 0.0

    def format_text(self) -> str:
        lines = [f"advice for {self.company_id}: {self.orders} orders of "
                 f"{self.customers_with_orders} customers"
                 + (f" ({self.left_out} placed before their customer was created left out)"
                    if self.left_out else "")]
        for title, dist in (("gaps between follow-ups", self.follow_up_gaps),
                            ("last touch -> order", self.touch_to_order)):
            p = dist.percentiles
            lines.append(
                f"  {title} (days, n={dist.count}): median {p['p50']}, p75 {p['p75']}, "
                f"p90 {p['p90']}, p95 {p['p95']}, p99 {p['p99']}, max {dist.maximum}")
        if self.recommended_days is None:
            lines.append("  no recommendation: no orders in the history")
        else:
            share = self.share_released(self.recommended_days)
            lines.append(
                f"  recommended idle period: {self.recommended_days}d "
                f"(releases {share:.1%} of eventual orders; target at most "
                f"{self.max_share:.0%})")
            for days in (14, 30, 60, 90, 180, 365):
                lines.append(f"    idle_for {days}d would release "
                             f"{self.share_released(days):.1%} of orders")
        for rule_id, (days, share) in sorted(self.current.items()):
            lines.append(f"  current rule {rule_id} (idle_for {days}d) would release "
                         f"{share:.1%} of orders"
                         + (f", ignoring {self.ignored[rule_id]}" if rule_id in self.ignored
                            else ""))
        if self.orders:
            lines.append(f"  {IGNORES}")
        return "\n".join(lines)

    def method(self) -> str:
        """How the advice is computed, in a paragraph."""
        statuses = " or ".join(repr(s) for s in self.statuses)
        return METHOD.format(statuses=statuses, max_share=f"{self.max_share:.0%}")


def _percentile(sorted_values: list[int], q: float) -> int | None:
    """Nearest-rank percentile."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(q * len(sorted_values)))
    return sorted_values[rank - 1]


def distribution(values: list[int]) -> Distribution:
    xs = sorted(values)
    return Distribution(
        count=len(xs),
        mean=round(sum(xs) / len(xs), 2) if xs else None,
        percentiles={f"p{round(q * 100)}": _percentile(xs, q) for q in PERCENTILES},
        maximum=xs[-1] if xs else None,
    )


def _company(con: duckdb.DuckDBPyConnection, company_id: str | None) -> str:
    companies = [r[0] for r in con.execute(
        "SELECT company_id FROM customers UNION SELECT company_id FROM orders ORDER BY 1"
    ).fetchall()]
    if company_id is not None:
        if company_id not in companies:
            raise InvalidInputError(f"no company {company_id!r} in the database",
                                    code=codes.ADVISE_COMPANY,
                                    hint=did_you_mean(company_id, companies) or
                                    "companies: " + ", ".join(companies))
        return company_id
    if len(companies) != 1:
        raise InvalidInputError(
            "the database holds " + (f"{len(companies)} companies" if companies else
                                     "no customers"),
            code=codes.ADVISE_COMPANY, hint="name one with --company" if companies else
            "load or import facts first")
    return str(companies[0])


def advise_from_connection(
    con: duckdb.DuckDBPyConnection,
    *,
    company_id: str | None = None,
    max_share: float = 0.05,
    ruleset: Ruleset | None = None,
    statuses: Sequence[str] = ("won",),
) -> Advice:
    """Compute the :class:`Advice` from an open database (read only)."""
    if not statuses:
        raise InvalidInputError(
            "give at least one order status to count", code=codes.ADVISE_SETTINGS
        )
    if not 0 <= max_share < 1:
        raise InvalidInputError(f"--max-share {max_share} must be at least 0 and below 1",
                                code=codes.ADVISE_SETTINGS)
    company = ruleset.company.id if ruleset is not None and company_id is None else company_id
    company = _company(con, company)
    gaps = [int(r[0]) for r in con.execute(
        """
        SELECT date_diff('day', "at"::DATE, next_at::DATE) FROM (
            SELECT "at", lead("at") OVER (PARTITION BY customer_id ORDER BY "at") AS next_at
            FROM activities WHERE company_id = ?)
        WHERE next_at IS NOT NULL
        """,
        [company],
    ).fetchall()]
    rows = con.execute(
        """
        WITH touches AS (
            SELECT customer_id, created_at AS t, true AS created
            FROM customers WHERE company_id = $1
            UNION ALL
            SELECT customer_id, "at", false FROM activities WHERE company_id = $1
        ),
        ords AS (
            SELECT row_number() OVER (ORDER BY customer_id, placed_at) AS oid, customer_id,
                   placed_at
            FROM orders WHERE company_id = $1 AND status IN (SELECT unnest($2::VARCHAR[]))
        ),
        before AS (
            SELECT o.oid, o.customer_id, o.placed_at, t.t,
                   lead(t.t) OVER (PARTITION BY o.oid ORDER BY t.t) AS next_t
            FROM ords o JOIN touches t
              ON t.customer_id = o.customer_id
             AND (t.t < o.placed_at OR (t.created AND t.t <= o.placed_at))
        )
        SELECT oid,
               max(date_diff('day', t::DATE, coalesce(next_t, placed_at)::DATE)) AS max_gap,
               date_diff('day', max(t)::DATE, any_value(placed_at)::DATE) AS last_gap,
               any_value(customer_id) AS customer_id
        FROM before
        GROUP BY oid
        """,
        [company, list(statuses)],
    ).fetchall()
    max_gaps = sorted(int(r[1]) for r in rows)
    last_gaps = [int(r[2]) for r in rows]
    customers = len({r[3] for r in rows})
    curve: list[tuple[int, float]] = []
    recommended: int | None = None
    if max_gaps:
        n = len(max_gaps)
        top = max(max_gaps[-1], 1)
        index = 0
        # share released at P: orders whose longest silence exceeds P days
        for period in range(1, top + 1):
            while index < n and max_gaps[index] <= period:
                index += 1
            share = (n - index) / n
            curve.append((period, round(share, 6)))
            if recommended is None and share <= max_share:
                recommended = period
    current: dict[str, tuple[int, float]] = {}
    ignored: dict[str, str] = {}
    if ruleset is not None and max_gaps:
        for rule in ruleset.release_rules:
            for leaf in _leaves(rule.when):
                if isinstance(leaf, IdleFor):
                    days = leaf.duration.approx_days()
                    share = sum(1 for g in max_gaps if g > days) / len(max_gaps)
                    current[rule.id] = (days, round(share, 6))
            if rule.id in current:
                left_out = []
                if rule.unless is not None:
                    left_out.append(f"its exemptions (unless {describe_condition(rule.unless)})")
                if not isinstance(rule.when, IdleFor):
                    left_out.append(f"the rest of its when ({describe_condition(rule.when)})")
                if left_out:
                    ignored[rule.id] = " and ".join(left_out)
    total = con.execute(
        "SELECT count(*) FROM orders WHERE company_id = ? "
        "AND status IN (SELECT unnest(?::VARCHAR[]))", [company, list(statuses)],
    ).fetchall()[0][0]
    return Advice(company, max_share, len(rows), customers, distribution(gaps),
                  distribution(last_gaps), tuple(curve), recommended, current,
                  left_out=int(total) - len(rows), ignored=ignored, statuses=tuple(statuses))


def _leaves(condition: Any) -> list[Any]:
    items = getattr(condition, "items", None)
    if items is not None:
        return [leaf for item in items for leaf in _leaves(item)]
    inner = getattr(condition, "item", None)
    if inner is not None:
        return []  # an idle_for under "not" does not release
    return [condition]


def curve_rows(advice: Advice) -> list[dict[str, Any]]:
    return [{"idle_days": d, "share_of_orders_released": s} for d, s in advice.curve]
