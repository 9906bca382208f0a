"""Claim checks: may a salesperson take a high-seas customer by choice?"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

from engine import derive
from engine.errors import InvalidInputError
from engine.model import Ruleset
from engine.suggestions import did_you_mean

if TYPE_CHECKING:
    import duckdb


@dataclass(frozen=True)
class ClaimVerdict:
    rep_id: str
    customer_id: str
    allowed: bool
    reasons: tuple[str, ...] = field(default_factory=tuple)
    pool_id: str | None = None

    def sentence(self) -> str:
        if self.allowed:
            return f"allowed: {self.rep_id} may claim {self.customer_id}"
        return f"refused: {'; '.join(self.reasons)}"


def check_claim(
    con: duckdb.DuckDBPyConnection, ruleset: Ruleset, as_of: date, rep_id: str, customer_id: str
) -> ClaimVerdict:
    """Every reason a claim would be refused (none: allowed)."""
    company = ruleset.company.id
    found = derive.rep_facts(con, ruleset, as_of, company, only=[rep_id])
    if not found:
        reps = [rep.rep_id for rep in derive.rep_facts(con, ruleset, as_of, company)]
        raise InvalidInputError(
            f"no salesperson {rep_id!r} in company {company}",
            code="HS520",
            hint=did_you_mean(rep_id, reps) or "check the rep id",
        )
    rep = found[0]
    row = con.execute(
        "SELECT owner_rep_id, pool_id, created_at < ? FROM customers "
        "WHERE company_id = ? AND customer_id = ?",
        [as_of + timedelta(days=1), company, customer_id],
    ).fetchall()
    if not row:
        raise InvalidInputError(
            f"no customer {customer_id!r} in company {company}", code="HS521"
        )
    owner, pool_id, created = row[0]
    # The region as the facts derive it; a customer created after the as-of
    # day has no facts yet, so no region.
    region = (derive.customer_regions(con, ruleset, company, [customer_id]).get(customer_id)
              if created else None)
    reasons: list[str] = []
    if owner is not None:
        who = "you already own it" if owner == rep_id else f"owned by {owner}"
        reasons.append(f"{customer_id} is not in the high seas ({who})")
    if not rep.active:
        reasons.append(f"{rep_id} is not active")
    claim_cap = next((c for c in ruleset.caps.claims if c.tier == rep.tier), None)
    if claim_cap is not None:
        for label, used, cap in (
            ("day", rep.claims_today, claim_cap.per_day),
            ("week", rep.claims_week, claim_cap.per_week),
            ("month", rep.claims_month, claim_cap.per_month),
        ):
            if cap is not None and used >= cap:
                reasons.append(
                    f"claim cap for the {rep.tier} tier reached this {label} ({used}/{cap})"
                )
    private_cap = next((c for c in ruleset.caps.private if c.tier == rep.tier), None)
    if private_cap is not None and rep.private_count >= private_cap.max:
        reasons.append(
            f"private cap reached ({rep.private_count}/{private_cap.max} for {rep.tier})"
        )
    until = derive.cooldowns(con, ruleset, as_of, company, customers=[customer_id]).get(
        customer_id, {}).get(rep_id)
    if until is not None and until > as_of:
        reasons.append(f"in cooldown for {customer_id} until {until.isoformat()}")
    if region is not None and rep.regions and region not in rep.regions:
        reasons.append(
            f"region not allowed: {customer_id} is in {region}, {rep_id} covers "
            f"{', '.join(rep.regions)}"
        )
    return ClaimVerdict(rep_id, customer_id, not reasons, tuple(reasons), pool_id)


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
    from engine.store.db import transaction

    if not verdict.allowed:
        raise InvalidInputError("cannot record a refused claim", code="HS522")
    company = ruleset.company.id
    now = timestamp or datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    event_id = f"claim-{as_of.isoformat()}-{verdict.rep_id}-{verdict.customer_id}"
    with transaction(con):
        updated = con.execute(
            "UPDATE customers SET owner_rep_id = ?, pool_id = NULL, owned_since = ? "
            "WHERE company_id = ? AND customer_id = ? AND owner_rep_id IS NULL RETURNING 1",
            [verdict.rep_id, as_of, company, verdict.customer_id],
        ).fetchall()
        if not updated:
            raise InvalidInputError(
                f"{verdict.customer_id} was taken in the meantime", code="HS523"
            )
        con.execute(
            """
            INSERT INTO ownership_events (company_id, event_id, run_id, customer_id,
                from_rep_id, to_rep_id, from_pool_id, to_pool_id, action, rule_id,
                ruleset_hash, reason, "at", as_of)
            VALUES (?, ?, NULL, ?, NULL, ?, ?, NULL, 'claim', 'claim', ?, ?, ?, ?)
            """,
            [company, event_id, verdict.customer_id, verdict.rep_id, verdict.pool_id,
             ruleset.content_hash, f"{verdict.rep_id} claimed {verdict.customer_id} from "
             f"{verdict.pool_id}", now, as_of],
        )
