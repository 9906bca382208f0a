"""Day-by-day replay of recorded history under one ruleset, on a copy.

The replay never opens the company's database for writing: it copies the
file (and its write-ahead log, if any) into a scratch folder and works on
the copy. For each day from ``start`` to ``end`` it

1. turns the recorded activities of that day by a salesperson who lost the
   customer *in this simulation* into a claim back (when the rules allow it:
   :func:`highseas.nightly.claims.check_claim`) or a lost touch (when they do not, or
   when someone else owns the customer now);
2. plans the nightly run for that day with :func:`highseas.nightly.planner.plan` and
   writes it with :func:`highseas.nightly.apply.apply_plan` in ``simulate`` mode, at the
   end of the simulated day.

The planner counts only facts recorded up to the end of its as-of day
(:mod:`highseas.nightly.facts`), so the activities and orders of later days, already
in the copied tables, become visible day by day. Assumptions are documented
in docs/simulation.md.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from highseas import codes
from highseas.errors import InvalidInputError
from highseas.nightly import facts as derive
from highseas.nightly.apply import apply_plan
from highseas.nightly.claims import ClaimChecks, ClaimVerdict, check_claim, record_claims
from highseas.nightly.plan import ACTIONS
from highseas.nightly.planner import plan as make_plan
from highseas.ruleset.durations import Duration, DurationError
from highseas.ruleset.model import Ruleset
from highseas.simulate.replay_facts import IncrementalFacts
from highseas.store.db import transaction

if TYPE_CHECKING:
    import duckdb

    from highseas.nightly.plan import Plan

#: The decisions the replay log keeps (reminders are only counted).
EVENT_ACTIONS = tuple(action for action in ACTIONS if action != "remind")
#: The time of day the simulated nightly run writes its events.
RUN_TIME = time(23, 59, 59)

#: One event row the metrics read (every decision but reminders, which are
#: counted per day, plus claims back and lost touches): (day, action, customer_id, rule_id,
#: from_rep_id, to_rep_id, from_pool_id, to_pool_id, relay_round).
EVENT_COLUMNS = ("day", "action", "customer_id", "rule_id", "from_rep_id", "to_rep_id",
                 "from_pool_id", "to_pool_id", "relay_round")


@dataclass
class DayState:
    """What one simulated day did, and the pools after it."""

    day: date
    counts: dict[str, int]
    high_seas: int
    private: int
    pools: dict[str, int]
    claims_back: int = 0
    lost_touches: int = 0
    invented_contacts: int = 0
    seconds: float = 0.0


@dataclass(frozen=True)
class ContactModel:
    """The optional behaviour model (off by default: no contacts are invented).

    A salesperson who receives a customer in the simulation (assignment,
    relay round, trim to a tier) contacts it ``after_days`` days later, if
    they still own it then, for a deterministic ``share`` of such customers
    (chosen by a hash of customer and salesperson, the same in every
    scenario). The contact is written to the copy's activities with kind
    ``simulated``.
    """

    after_days: int
    share: float = 1.0

    def __post_init__(self) -> None:
        if self.after_days < 0:
            raise InvalidInputError("the contact delay must be 0 days or more",
                                    code=codes.INVALID_CONTACT_AFTER, file="<command line>")
        if not 0 <= self.share <= 1:
            raise InvalidInputError(f"contact share {self.share} must be between 0 and 1",
                                    code=codes.INVALID_CONTACT_AFTER, file="<command line>")

    @classmethod
    def parse(cls, after: str, share: float = 1.0) -> ContactModel:
        """``after`` is a duration such as ``3d`` or ``1w``."""
        try:
            duration = Duration.parse(after)
        except DurationError as problem:
            raise InvalidInputError(f"--contact-after: {problem}", code=codes.INVALID_CONTACT_AFTER,
                                    file="<command line>") from None
        return cls(duration.approx_days(), share)

    def picks(self, customer_id: str, rep_id: str) -> bool:
        import hashlib

        if self.share >= 1:
            return True
        digest = hashlib.sha256(f"{customer_id}|{rep_id}".encode()).digest()
        return int.from_bytes(digest[:8], "big") / 2**64 < self.share

    def describe(self) -> str:
        return (f"new owners contact {self.share:.0%} of the customers they receive "
                f"{self.after_days} day(s) later")


def _invent_contacts(con: duckdb.DuckDBPyConnection, company: str, day: date,
                     pending: dict[tuple[str, str], date]) -> int:
    """Write the modelled contacts due on ``day`` whose salesperson still owns the customer."""
    due = sorted(key for key, when in pending.items() if when == day)
    if not due:
        return 0
    for key in due:
        del pending[key]
    owners = dict(con.execute(
        "SELECT customer_id, owner_rep_id FROM customers WHERE company_id = ? "
        "AND customer_id IN (SELECT unnest(?::VARCHAR[]))", [company, [c for c, _ in due]],
    ).fetchall())
    rows = [(company, f"simulated-{day.isoformat()}-{c}-{r}", c, r, "simulated",
             datetime.combine(day, time(12, 0))) for c, r in due if owners.get(c) == r]
    if rows:
        con.executemany("INSERT INTO activities (company_id, activity_id, customer_id, rep_id, "
                        "kind, \"at\") VALUES (?, ?, ?, ?, ?, ?)", rows)
    return len(rows)


@dataclass
class ReplayLog:
    """Everything one scenario's replay recorded, for the metrics."""

    days: list[DayState] = field(default_factory=list)
    events: list[tuple[Any, ...]] = field(default_factory=list)
    plans: list[Plan] = field(default_factory=list)


def day_range(start: date, end: date) -> list[date]:
    """Every day from ``start`` to ``end`` inclusive (HS705 if reversed)."""
    if end < start:
        raise InvalidInputError(
            f"--to {end.isoformat()} is before --from {start.isoformat()}",
            code=codes.DATES_REVERSED,
            file="<command line>", hint="give the first day with --from and the last with --to",
        )
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def measured_from(start: date, end: date, warm_up: str | None) -> date:
    """The first day the metrics count: ``start``, or ``start`` plus the
    warm-up (a duration such as ``30d``: the days before are replayed but not
    counted). HS712 when ``warm_up`` is not a duration or leaves no day of
    ``start``..``end`` to count."""
    if warm_up is None:
        return start
    try:
        duration = Duration.parse(warm_up)
    except DurationError as problem:
        raise InvalidInputError(f"--warm-up: {problem}", code=codes.INVALID_WARM_UP,
                                file="<command line>",
                                hint="give a duration, e.g. --warm-up 30d") from None
    first = duration.add_to(start)
    if first > end:
        days = (end - start).days + 1
        raise InvalidInputError(
            f"--warm-up {warm_up} leaves no day to count: the replay from "
            f"{start.isoformat()} to {end.isoformat()} has {days} day(s), all of them warm-up",
            code=codes.INVALID_WARM_UP, file="<command line>",
            hint="start the replay earlier with --from, or give a shorter warm-up")
    return first


def copy_database(source: Path, folder: Path, name: str) -> Path:
    """Copy the database file (and its WAL) into ``folder``; the original is only read."""
    if not source.exists():
        raise InvalidInputError(f"database {source} does not exist", code=codes.DATABASE_MISSING,
                                file=str(source), hint="create it with: highseas db init DB")
    target = folder / f"{name}.duckdb"
    shutil.copyfile(source, target)
    wal = source.with_name(source.name + ".wal")
    if wal.exists():
        shutil.copyfile(wal, target.with_name(target.name + ".wal"))
    return target


def _run_timestamp(day: date) -> datetime:
    return datetime.combine(day, RUN_TIME)


#: Tests set this to check every claim-back verdict against check_claim.
VERIFY_CLAIMS = False


def _claim_backs(con: duckdb.DuckDBPyConnection, ruleset: Ruleset, day: date,
                 sim_runs: set[str], log: ReplayLog) -> tuple[int, int]:
    """Recorded touches of ``day`` by salespeople who lost the customer in this
    simulation: a claim back when allowed, else a lost touch.

    The touches are decided in time order as claims, one after the other
    (:class:`highseas.nightly.claims.ClaimChecks`: the day's loads are read once and
    each allowed claim counts for the next), and the claims are written
    together before the day's run."""
    if not sim_runs:
        return 0, 0
    company = ruleset.company.id
    # The day's touches first (a few hundred), then the events of those
    # customers only: the events table grows with every simulated run.
    rows = con.execute(
        """
        WITH touches AS (
            SELECT customer_id, rep_id, min("at") AS first_at FROM activities
            WHERE company_id = ? AND "at" >= ? AND "at" < ? AND rep_id IS NOT NULL
            GROUP BY 1, 2
        )
        SELECT t.customer_id, t.rep_id, t.first_at FROM touches t
        WHERE (t.customer_id, t.rep_id) IN (
            SELECT e.customer_id, e.from_rep_id FROM ownership_events e
            WHERE e.company_id = ? AND e.as_of < ?
              AND e.customer_id IN (SELECT customer_id FROM touches)
              AND e.run_id IN (SELECT unnest(?::VARCHAR[])))
        ORDER BY t.first_at, 1, 2
        """,
        [company, day, day + timedelta(days=1), company, day, sorted(sim_runs)],
    ).fetchall()
    if not rows:
        return 0, 0
    checks = ClaimChecks(con, ruleset, day, sorted({row[0] for row in rows}))
    claims: list[tuple[ClaimVerdict, datetime]] = []
    claimed = lost = 0
    for customer_id, rep_id, first_at in rows:
        customer = checks.customers.get(customer_id)
        if customer is None:
            continue  # an activity of no stored customer: nothing to claim
        owner, pool = customer.owner, customer.pool_id
        if owner == rep_id:
            continue  # already back with them (an earlier touch the same day)
        if owner is None and rep_id in checks.reps:
            # (a salesperson not hired yet on this day cannot claim: a lost touch)
            verdict = checks.verdict(rep_id, customer_id)
            if VERIFY_CLAIMS:
                record_claims(con, ruleset, day, claims)
                claims.clear()
                expected = check_claim(con, ruleset, day, rep_id, customer_id)
                if expected != verdict:
                    raise AssertionError(f"batched claim check {verdict} != {expected}")
            if verdict.allowed:
                # Stamped with the touch's time, so that the claim counts
                # against the day's claim caps.
                claims.append((verdict, first_at))
                checks.granted(verdict)
                claimed += 1
                log.events.append((day, "claim_back", customer_id, "claim", None, rep_id,
                                   pool, None, None))
                continue
        lost += 1
        log.events.append((day, "lost_touch", customer_id, None, rep_id, owner, pool, None,
                           None))
    record_claims(con, ruleset, day, claims)
    return claimed, lost


def _pool_sizes(con: duckdb.DuckDBPyConnection, company: str, day: date
                ) -> tuple[int, int, dict[str, int]]:
    rows = con.execute(
        """
        SELECT owner_rep_id IS NULL AS high_seas, coalesce(pool_id, ''), count(*)
        FROM customers WHERE company_id = ? AND created_at < ?
        GROUP BY 1, 2
        """,
        [company, day + timedelta(days=1)],
    ).fetchall()
    high_seas = private = 0
    pools: dict[str, int] = {}
    for is_high_seas, pool, count in rows:
        if is_high_seas:
            high_seas += int(count)
            pools[pool or "(none)"] = pools.get(pool or "(none)", 0) + int(count)
        else:
            private += int(count)
    return high_seas, private, pools


def replay(
    con: duckdb.DuckDBPyConnection,
    ruleset: Ruleset,
    days: list[date],
    *,
    claim_back: bool = True,
    contact: ContactModel | None = None,
    keep_plans: bool = False,
    progress: Callable[[int], None] | None = None,
) -> ReplayLog:
    """Replay ``days`` on the open copy ``con`` under ``ruleset``.

    ``claim_back``: touches by a salesperson who lost the customer claim it
    back when the rules allow (else they are lost touches). ``contact``: the
    optional behaviour model inventing new owners' contacts. ``keep_plans``:
    keep each day's whole plan in the log, unassigned customers listed with
    their reasons (otherwise they are only counted)."""
    import time as clock

    company = ruleset.company.id
    log = ReplayLog()
    facts = IncrementalFacts()
    sim_runs: set[str] = set()
    pending: dict[tuple[str, str], date] = {}
    for day in days:
        started = clock.perf_counter()
        claimed = lost = 0
        invented = _invent_contacts(con, company, day, pending) if contact else 0
        if claim_back:
            claimed, lost = _claim_backs(con, ruleset, day, sim_runs, log)
        # The unassigned customers are only counted, each once (the metrics
        # need no reasons), unless the plans are kept for inspection.
        the_plan = make_plan(con, ruleset, day, facts=facts.refresh, unassigned_rows=keep_plans)
        result = apply_plan(con, the_plan, mode="simulate", timestamp=_run_timestamp(day))
        sim_runs.add(result.run_id)
        # The day's decisions but reminders (counted per day; the metrics need
        # no reminder rows), read column by column.
        changes = the_plan.decision_records().where("action", EVENT_ACTIONS).table.to_pydict()
        for action, customer_id, rule_id, from_rep, to_rep, from_pool, to_pool, round_ in zip(
            changes["action"], changes["customer_id"], changes["rule_id"],
            changes["from_rep_id"], changes["to_rep_id"], changes["from_pool_id"],
            changes["to_pool_id"], changes["relay_round"], strict=True,
        ):
            if (contact is not None and to_rep and action in ("assign", "relay", "trim")
                    and contact.picks(customer_id, to_rep)):
                pending[(customer_id, to_rep)] = day + timedelta(days=max(1, contact.after_days))
            log.events.append((day, action, customer_id, rule_id, from_rep, to_rep,
                               from_pool, to_pool, round_))
        high_seas, private, pools = _pool_sizes(con, company, day)
        log.days.append(DayState(day, the_plan.counts(), high_seas, private, pools, claimed,
                                 lost, invented, clock.perf_counter() - started))
        if keep_plans:
            log.plans.append(the_plan)
        if progress is not None:
            progress(1)
    return log


def later_runs(con: duckdb.DuckDBPyConnection, company: str, start: date) -> int:
    """Ownership changes the database already records on or after ``start``."""
    rows = con.execute(
        "SELECT count(*) FROM ownership_events WHERE company_id = ? AND as_of >= ?",
        [company, start],
    ).fetchall()
    return int(rows[0][0])


def rewind(con: duckdb.DuckDBPyConnection, ruleset: Ruleset, start: date) -> int:
    """Undo, on the copy, every ownership change recorded on or after ``start``
    (runs applied and claims made), so that the replay starts from the
    ownership of that morning. Returns how many changes were undone.

    Per customer, the first change on or after ``start`` says who held it
    before: its ``from_rep_id`` (or, in the high seas, its ``from_pool_id``;
    the pool of the customer's region when the event names none). The owner's
    ``owned_since`` becomes the day of the last earlier change that gave them
    the customer, else the stored value if it is older than ``start``, else
    the customer's creation. The runs, reminders, relays started and rotation
    pointers of those days are removed too (a relay or rotation position
    from before ``start`` that a later run changed cannot be restored: relays
    end and rotations restart from the first salesperson).
    """
    company = ruleset.company.id
    undone = later_runs(con, company, start)
    if not undone:
        return 0
    rows = con.execute(
        """
        WITH later AS (
            SELECT customer_id, from_rep_id, from_pool_id,
                   row_number() OVER (PARTITION BY customer_id
                                      ORDER BY as_of, "at", event_id) AS n
            FROM ownership_events WHERE company_id = ? AND as_of >= ?
        )
        SELECT l.customer_id, l.from_rep_id, l.from_pool_id, c.owned_since, c.owner_rep_id,
               c.created_at,
               (SELECT max(e.as_of) FROM ownership_events e
                 WHERE e.company_id = ? AND e.customer_id = l.customer_id
                   AND e.to_rep_id = l.from_rep_id AND e.as_of < ?) AS gained_on
        FROM later l JOIN customers c ON c.company_id = ? AND c.customer_id = l.customer_id
        WHERE l.n = 1
        ORDER BY 1
        """,
        [company, start, company, start, company],
    ).fetchall()
    facts = derive.materialize_customer_facts(con, ruleset, start, company)
    regions = dict(con.execute(f"SELECT customer_id, region FROM {facts}").fetchall())
    restored = []
    for customer_id, owner, pool, owned_since, current, created, gained_on in rows:
        if owner is None:
            since = None
            pool = pool or derive.pool_of_region(ruleset, regions.get(customer_id))
        else:
            pool = None
            if gained_on is not None:
                since = datetime.combine(gained_on, time())
            elif current == owner and owned_since is not None and owned_since.date() < start:
                since = owned_since
            else:
                since = created
        restored.append((customer_id, owner, pool, since))
    with transaction(con):
        con.executemany(
            "UPDATE customers SET owner_rep_id = ?, pool_id = ?, owned_since = ? "
            "WHERE company_id = ? AND customer_id = ?",
            [(owner, pool, since, company, cid) for cid, owner, pool, since in restored],
        )
        for sql in (
            "DELETE FROM ownership_events WHERE company_id = ? AND as_of >= ?",
            "DELETE FROM notifications WHERE company_id = ? AND as_of >= ?",
            "DELETE FROM runs WHERE company_id = ? AND as_of >= ?",
            "DELETE FROM relay_state WHERE company_id = ? AND started_on >= ?",
            "DELETE FROM rotation_state WHERE company_id = ? AND updated_as_of >= ?",
        ):
            con.execute(sql, [company, start])
    return undone
