"""Claim checks: may a salesperson take a high-seas customer by choice?"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

from highseas import codes
from highseas.errors import InvalidInputError
from highseas.nightly import facts as derive
from highseas.nightly.events import NO_OBSERVER, ClaimRefused, RunObserver
from highseas.nightly.reasons import ClaimRefusal, RefusalKind, render_refusal
from highseas.ruleset.model import Ruleset
from highseas.store.db import transaction
from highseas.suggestions import did_you_mean

if TYPE_CHECKING:
    import duckdb


@dataclass(frozen=True)
class ClaimVerdict:
    rep_id: str
    customer_id: str
    allowed: bool
    reasons: tuple[str, ...] = field(default_factory=tuple)
    pool_id: str | None = None
    #: The reasons, typed (``reasons`` are their sentences).
    refusals: tuple[ClaimRefusal, ...] = field(default_factory=tuple)

    def sentence(self) -> str:
        if self.allowed:
            return f"allowed: {self.rep_id} may claim {self.customer_id}"
        return f"refused: {'; '.join(self.reasons)}"


@dataclass
class _Customer:
    owner: str | None
    pool_id: str | None
    region: str | None  # as the facts derive it; None before the customer exists


class ClaimChecks:
    """The inputs of claim checks on one day, read once: the salespeople's
    tiers and counters, and the owner, pool, region and cooldowns of the
    customers asked about. :meth:`verdict` decides a claim from them and
    :meth:`granted` counts an allowed claim, so that a batch of claims (the
    replay's claims back) is decided in order as one claim after the other
    would be, without reading every salesperson's load again for each.
    :func:`check_claim` is one claim through this class."""

    def __init__(self, con: duckdb.DuckDBPyConnection, ruleset: Ruleset, as_of: date,
                 customer_ids: Sequence[str], rep_ids: Sequence[str] | None = None,
                 observer: RunObserver = NO_OBSERVER) -> None:
        company = ruleset.company.id
        #: Told each reason a claim is refused (highseas.nightly.events).
        self.observer = observer
        self.ruleset = ruleset
        self.as_of = as_of
        self.reps: dict[str, derive.RepFacts] = {
            rep.rep_id: rep for rep in derive.rep_facts(con, ruleset, as_of, company, only=rep_ids)
        }
        wanted = sorted(set(customer_ids))
        rows = con.execute(
            "SELECT customer_id, owner_rep_id, pool_id, created_at < ? FROM customers "
            "WHERE company_id = ? AND customer_id IN (SELECT unnest(?::VARCHAR[]))",
            [as_of + timedelta(days=1), company, wanted],
        ).fetchall()
        # A customer created after the as-of day has no facts yet, so no region.
        regions = derive.customer_regions(con, ruleset, company, wanted)
        self.customers: dict[str, _Customer] = {
            cid: _Customer(owner, pool, regions.get(cid) if created else None)
            for cid, owner, pool, created in rows
        }
        self.cooling = derive.cooldowns(con, ruleset, as_of, company, customers=wanted)

    @classmethod
    def of(cls, ruleset: Ruleset, as_of: date, reps: Sequence[derive.RepFacts],
           customers: dict[str, tuple[str | None, str | None, str | None]],
           cooling: dict[str, dict[str, date]]) -> ClaimChecks:
        """The checks of one day from inputs already at hand (the replay's
        own state): the salespeople, each customer's (owner, recorded pool,
        region or None before it exists) and the cooldowns in force."""
        checks = cls.__new__(cls)
        checks.observer = NO_OBSERVER
        checks.ruleset = ruleset
        checks.as_of = as_of
        checks.reps = {rep.rep_id: rep for rep in reps}
        checks.customers = {cid: _Customer(owner, pool, region)
                            for cid, (owner, pool, region) in customers.items()}
        checks.cooling = cooling
        return checks

    def verdict(self, rep_id: str, customer_id: str) -> ClaimVerdict:
        """Every reason the claim would be refused now (none: allowed).
        Raises HS520/HS521 for a salesperson or customer not loaded."""
        rep = self._rep(rep_id)
        customer = self._customer(customer_id)
        refusals = list(self._refusals(rep, customer, customer_id))
        for refusal in refusals:
            self.observer.notice(ClaimRefused(refusal))
        return ClaimVerdict(rep_id, customer_id, not refusals,
                            tuple(render_refusal(r) for r in refusals), customer.pool_id,
                            tuple(refusals))

    def allowed(self, rep_id: str, customer_id: str) -> bool:
        """Whether :meth:`verdict` would allow the claim (nobody is told of
        a refusal; a replay that only counts claims asks this)."""
        rep = self._rep(rep_id)
        refusals = self._refusals(rep, self._customer(customer_id), customer_id)
        return next(refusals, None) is None

    def _rep(self, rep_id: str) -> derive.RepFacts:
        rep = self.reps.get(rep_id)
        if rep is None:
            raise InvalidInputError(
                f"no salesperson {rep_id!r} in company {self.ruleset.company.id}",
                code=codes.UNKNOWN_SALESPERSON,
                hint=did_you_mean(rep_id, list(self.reps)) or "check the rep id",
            )
        return rep

    def _customer(self, customer_id: str) -> _Customer:
        customer = self.customers.get(customer_id)
        if customer is None:
            raise InvalidInputError(
                f"no customer {customer_id!r} in company {self.ruleset.company.id}",
                code=codes.UNKNOWN_CUSTOMER,
            )
        return customer

    def _refusals(self, rep: derive.RepFacts, customer: _Customer,
                  customer_id: str) -> Iterator[ClaimRefusal]:
        """The reasons to refuse ``rep`` the customer, in the order told."""
        ruleset = self.ruleset
        rep_id = rep.rep_id
        if customer.owner is not None:
            yield ClaimRefusal(RefusalKind.NOT_IN_HIGH_SEAS, rep_id, customer_id,
                               owner=customer.owner)
        if not rep.active:
            yield ClaimRefusal(RefusalKind.INACTIVE, rep_id, customer_id)
        claim_cap = next((c for c in ruleset.caps.claims if c.tier == rep.tier), None)
        if claim_cap is not None:
            for label, used, cap in (
                ("day", rep.claims_today, claim_cap.per_day),
                ("week", rep.claims_week, claim_cap.per_week),
                ("month", rep.claims_month, claim_cap.per_month),
            ):
                if cap is not None and used >= cap:
                    yield ClaimRefusal(
                        RefusalKind.CLAIM_CAP, rep_id, customer_id, tier=rep.tier,
                        period=label, used=used, limit=cap,
                    )
        private_cap = next((c for c in ruleset.caps.private if c.tier == rep.tier), None)
        if private_cap is not None and rep.private_count >= private_cap.max:
            yield ClaimRefusal(
                RefusalKind.PRIVATE_CAP, rep_id, customer_id, tier=rep.tier,
                used=rep.private_count, limit=private_cap.max,
            )
        until = self.cooling.get(customer_id, {}).get(rep_id)
        if until is not None and until > self.as_of:
            yield ClaimRefusal(RefusalKind.COOLDOWN, rep_id, customer_id,
                               tier=rep.tier, until=until)
        region = customer.region
        if region is not None and rep.regions and region not in rep.regions:
            yield ClaimRefusal(RefusalKind.REGION, rep_id, customer_id,
                               region=region, covers=tuple(rep.regions))

    def granted(self, verdict: ClaimVerdict) -> None:
        """Count an allowed claim recorded on the as-of day: the customer is
        the salesperson's, who holds one more and has claimed one more today
        (as :func:`highseas.nightly.facts.rep_facts` would count it)."""
        rep = self.reps[verdict.rep_id]
        self.reps[verdict.rep_id] = replace(
            rep, private_count=rep.private_count + 1, claims_today=rep.claims_today + 1,
            claims_week=rep.claims_week + 1, claims_month=rep.claims_month + 1,
            assigned_last_30d=rep.assigned_last_30d + 1,
        )
        self.customers[verdict.customer_id].owner = verdict.rep_id
        self.customers[verdict.customer_id].pool_id = None


def check_claim(
    con: duckdb.DuckDBPyConnection, ruleset: Ruleset, as_of: date, rep_id: str, customer_id: str,
    *, observer: RunObserver = NO_OBSERVER,
) -> ClaimVerdict:
    """Every reason a claim would be refused (none: allowed); ``observer`` is
    told each of them."""
    checks = ClaimChecks(con, ruleset, as_of, [customer_id], [rep_id], observer)
    if rep_id not in checks.reps:  # unknown: every salesperson, for the did-you-mean
        checks = ClaimChecks(con, ruleset, as_of, [customer_id], observer=observer)
    return checks.verdict(rep_id, customer_id)


def record_claim(
    con: duckdb.DuckDBPyConnection,
    ruleset: Ruleset,
    as_of: date,
    verdict: ClaimVerdict,
    *,
    timestamp: datetime | None = None,
) -> None:
    """Write an allowed claim: the new owner and its audit event, in one
    transaction. ``timestamp`` (default: now) is the event's time; tests and
    the simulator pass a time on the as-of day."""
    record_claims(con, ruleset, as_of, [(verdict, timestamp)])


def record_claims(
    con: duckdb.DuckDBPyConnection,
    ruleset: Ruleset,
    as_of: date,
    claims: Sequence[tuple[ClaimVerdict, datetime | None]],
) -> None:
    """Write allowed claims of different customers (each with its event time,
    None: now) in one transaction: all or none (HS523 when a customer is no
    longer in the high seas)."""
    if not claims:
        return
    for verdict, _ in claims:
        if not verdict.allowed:
            raise InvalidInputError("cannot record a refused claim", code=codes.REFUSED_CLAIM)
    customers = [verdict.customer_id for verdict, _ in claims]
    if len(set(customers)) != len(customers):
        raise InvalidInputError("one claim per customer", code=codes.REFUSED_CLAIM)
    company = ruleset.company.id
    now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    reps = [verdict.rep_id for verdict, _ in claims]
    pools = [verdict.pool_id for verdict, _ in claims]
    times = [timestamp or now for _, timestamp in claims]
    with transaction(con):
        updated = {row[0] for row in con.execute(
            "UPDATE customers SET owner_rep_id = v.rep_id, pool_id = NULL, owned_since = ? "
            "FROM (SELECT unnest(?::VARCHAR[]) AS customer_id, unnest(?::VARCHAR[]) AS rep_id) v "
            "WHERE customers.company_id = ? AND customers.customer_id = v.customer_id "
            "AND customers.owner_rep_id IS NULL RETURNING customers.customer_id",
            [as_of, customers, reps, company],
        ).fetchall()}
        taken = [c for c in customers if c not in updated]
        if taken:
            raise InvalidInputError(f"{taken[0]} was taken in the meantime",
                                    code=codes.CLAIMED_MEANWHILE)
        con.execute(
            """
            INSERT INTO ownership_events (company_id, event_id, run_id, customer_id,
                from_rep_id, to_rep_id, from_pool_id, to_pool_id, action, rule_id,
                ruleset_hash, reason, "at", as_of)
            SELECT ?, 'claim-' || ? || '-' || rep_id || '-' || customer_id
                      -- a second claim of the customer by them that day (released
                      -- in between) is numbered: event ids are unique
                      || CASE WHEN earlier = 0 THEN '' ELSE '#' || (earlier + 1) END,
                   NULL, customer_id,
                   NULL, rep_id, pool_id, NULL, 'claim', 'claim', ?,
                   rep_id || ' claimed ' || customer_id || ' from '
                       || coalesce(pool_id, 'the high seas'),
                   "at", ?
            FROM (SELECT v.*, (SELECT count(*) FROM ownership_events e
                               WHERE e.company_id = ? AND e.action = 'claim' AND e.as_of = ?
                                 AND e.to_rep_id = v.rep_id
                                 AND e.customer_id = v.customer_id) AS earlier
                  FROM (SELECT unnest(?::VARCHAR[]) AS customer_id,
                               unnest(?::VARCHAR[]) AS rep_id,
                               unnest(?::VARCHAR[]) AS pool_id,
                               unnest(?::TIMESTAMP[]) AS "at") v)
            ORDER BY customer_id
            """,
            [company, as_of.isoformat(), ruleset.content_hash, as_of, company, as_of,
             customers, reps, pools, times],
        )


def claim_holding(con: duckdb.DuckDBPyConnection, company_id: str, rep_id: str,
                  customer_id: str) -> str | None:
    """The event of the claim by which ``rep_id`` holds ``customer_id`` now, or
    None (the customer is not ``rep_id``'s, or came to them otherwise): what an
    interrupted ``claim --apply`` looks up to say whether it was recorded."""
    rows = con.execute(
        "SELECT e.event_id FROM customers c JOIN ownership_events e "
        "ON e.company_id = c.company_id AND e.customer_id = c.customer_id "
        "AND e.action = 'claim' AND e.to_rep_id = c.owner_rep_id "
        "AND CAST(e.as_of AS TIMESTAMP) = c.owned_since "
        "WHERE c.company_id = ? AND c.customer_id = ? AND c.owner_rep_id = ? "
        'ORDER BY e."at" DESC, e.event_id DESC LIMIT 1',
        [company_id, customer_id, rep_id],
    ).fetchall()
    return str(rows[0][0]) if rows else None
