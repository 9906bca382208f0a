"""The guards of ``highseas run --apply`` (docs/reliability.md).

Before planning, :func:`check_facts` refuses (exit 2) facts older than the
ruleset's ``guards.max_facts_age`` on the as-of date (HS516; the facts' date
is defined in highseas.store.freshness) and an as-of date after today in the
company's time zone (HS517). After planning, :func:`check_plan` refuses
(exit 1, the plan is still shown) a run that moves more than
``guards.max_release_share`` of the owned customers from their salesperson
to a pool, or makes more than ``guards.max_ownership_changes`` ownership
changes (HS518). A company's first applied run is let through the blast
radius limits: the first night releases the backlog the rules find. ``--force``
overrides every guard; the run row records what was overridden, and why.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from highseas import codes
from highseas.errors import Diagnostic, InvalidInputError, RejectedDataError
from highseas.nightly.apply import last_applied
from highseas.nightly.plan import Plan
from highseas.ruleset.model import Ruleset
from highseas.store.db import registered
from highseas.store.freshness import freshness

if TYPE_CHECKING:
    import duckdb

#: The ``overrides`` of a run let through by ``--force``, and of a first run.
BY_FORCE = "--force"
BY_FIRST_RUN = "first run"


@dataclass(frozen=True)
class GuardFinding:
    """One guard a run would break."""

    code: str
    message: str
    hint: str
    file: str = ""
    json_path: str = ""

    def diagnostic(self) -> Diagnostic:
        return Diagnostic(code=self.code, message=self.message, file=self.file,
                          json_path=self.json_path, hint=self.hint)


class TooManyChangesError(RejectedDataError):
    """The plan breaks a blast-radius guard: nothing was applied (exit 1).
    ``plan`` is the plan that was refused, for the caller to show."""

    def __init__(self, findings: list[GuardFinding], plan: Plan) -> None:
        super().__init__([f.diagnostic() for f in findings])
        self.plan = plan


def facts_findings(con: duckdb.DuckDBPyConnection, ruleset: Ruleset, as_of: date,
                   today: date, source: str = "") -> list[GuardFinding]:
    """The freshness guards ``as_of`` breaks (``today``: in the company's zone)."""
    found = []
    zone = ruleset.company.timezone
    if as_of > today:
        found.append(GuardFinding(
            codes.AS_OF_AFTER_TODAY,
            f"the as-of date {as_of.isoformat()} is after today ({today.isoformat()} in "
            f"{zone}): applying it would release customers on facts not yet known, and "
            "refuse the real nightly runs until then",
            "run it without --apply to preview it; --force applies it anyway",
            file=source,
        ))
    fresh = freshness(con, ruleset.company.id)
    newest = fresh.facts_date
    allowance = ruleset.guards.max_facts_age
    if newest is not None and allowance.add_to(newest) < as_of:
        found.append(GuardFinding(
            codes.FACTS_TOO_OLD,
            f"the facts are {(as_of - newest).days} days old on {as_of.isoformat()}: "
            f"{fresh.describe()}, and guards.max_facts_age allows {allowance}",
            "load the latest facts first (highseas load), or run for the day they reach "
            f"with --as-of {newest.isoformat()}; --force applies it anyway",
            file=source,
        ))
    return found


def check_facts(con: duckdb.DuckDBPyConnection, ruleset: Ruleset, as_of: date, today: date,
                *, force: bool = False, source: str = "") -> list[GuardFinding]:
    """Refuse (exit 2) what :func:`facts_findings` finds, unless ``force``;
    returns the findings ``force`` overrode."""
    found = facts_findings(con, ruleset, as_of, today, source)
    if found and not force:
        raise InvalidInputError([f.diagnostic() for f in found])
    return found


def _share(part: int, whole: int) -> str:
    return f"{part / whole:.0%}" if whole else "all"


def plan_findings(con: duckdb.DuckDBPyConnection, ruleset: Ruleset,
                  plan: Plan) -> list[GuardFinding]:
    """The blast-radius guards ``plan`` breaks, against the customers as they
    are before it is applied."""
    owned, customers = con.execute(
        "SELECT count(*) FILTER (WHERE owner_rep_id IS NOT NULL), count(*) FROM customers "
        "WHERE company_id = ?",
        [plan.company_id],
    ).fetchall()[0]
    changes = plan.ownership_changes()
    released = 0
    if len(changes):
        # Counted by DuckDB on the plan's columns: a distinct count of half a
        # million ids takes it 50 ms, and Arrow's single thread ten times that.
        columns = changes.table.select(["customer_id", "from_rep_id", "to_rep_id"])
        with registered(con, "hs_guarded_changes", columns):
            released = int(con.execute(
                "SELECT count(DISTINCT customer_id) FROM hs_guarded_changes "
                "WHERE from_rep_id IS NOT NULL AND to_rep_id IS NULL").fetchall()[0][0])
    guards = ruleset.guards
    found = []
    where = ruleset.source_file
    if owned and released > guards.max_release_share * owned:
        found.append(GuardFinding(
            codes.TOO_MANY_CHANGES,
            f"the run would release {released} of the {owned} owned customers "
            f"({_share(released, owned)}) to a pool; guards.max_release_share allows "
            f"{guards.max_release_share:.0%}",
            "check the release rules (a typo such as idle_for: 9d for 90d?); --force applies "
            "it anyway",
            file=where, json_path="$.guards.max_release_share",
        ))
    limit = guards.changes_limit(int(customers))
    if len(changes) > limit:
        set_by = ("guards.max_ownership_changes allows" if guards.max_ownership_changes
                  is not None else "the default guard allows")
        found.append(GuardFinding(
            codes.TOO_MANY_CHANGES,
            f"the run would make {len(changes)} ownership changes among {customers} "
            f"customers; {set_by} {limit}",
            "check the rules, caps and allocations; --force applies it anyway",
            file=where, json_path="$.guards.max_ownership_changes",
        ))
    return found


def check_plan(con: duckdb.DuckDBPyConnection, ruleset: Ruleset, plan: Plan, *,
               force: bool = False) -> tuple[list[GuardFinding], str]:
    """Refuse (:class:`TooManyChangesError`, exit 1) a plan over a blast-radius
    limit, unless ``force`` or the company's first applied run; returns the
    findings overridden and by what (:data:`BY_FORCE`, :data:`BY_FIRST_RUN`)."""
    found = plan_findings(con, ruleset, plan)
    if not found:
        return [], ""
    if force:
        return found, BY_FORCE
    if last_applied(con, plan.company_id) is None:
        return found, BY_FIRST_RUN
    raise TooManyChangesError(found, plan)


def overrides_text(by: str, findings: list[GuardFinding]) -> str:
    """The ``overrides`` column of a run: by what, and every finding overridden."""
    if not findings:
        return ""
    return f"{by}: " + "; ".join(f"{f.code} {f.message}" for f in findings)
