"""What became of one company in a fleet run: its status and the summary row.

The statuses, and the one place that says which error codes mean "refused by
a guard rail" (:data:`GUARD_CODES`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from highseas import codes
from highseas.errors import HighseasError


class Status(StrEnum):
    """The status of a company in the summary."""

    APPLIED = "applied"
    PLANNED = "planned"
    ALREADY_APPLIED = "already applied"
    FAILED = "failed"
    SKIPPED_BY_GUARD = "skipped by guard"


#: Statuses that make ``highseas run-all`` exit 1.
PROBLEM_STATUSES = frozenset({Status.FAILED, Status.SKIPPED_BY_GUARD})

#: The error codes that mean a guard rail of the nightly apply refused the run
#: (docs/reliability.md): such a company is reported as ``skipped by guard``
#: instead of ``failed``. This set is the only place that maps codes to that
#: status: a new guard registers its code in :mod:`highseas.codes` and adds it
#: here.
GUARD_CODES: frozenset[str] = frozenset({
    codes.FACTS_TOO_OLD,
    codes.AS_OF_AFTER_TODAY,
    codes.TOO_MANY_CHANGES,
})


@dataclass(frozen=True)
class Outcome:
    """One company's row of the summary.

    ``counts`` are the plan's counts per action (empty when no plan was
    made); ``plan_sha256`` is the SHA-256 of the plan file ``highseas run
    --output plan.json`` writes for the same ruleset, facts and date.
    ``attempt`` is 1 unless the task was run again (a worker died, or an
    unexpected error was retried).
    """

    company: str
    status: Status
    as_of: str = ""
    counts: dict[str, int] = field(default_factory=dict)
    duration_s: float = 0.0
    worker: str = ""
    attempt: int = 1
    error_code: str = ""
    error_message: str = ""
    run_id: str = ""
    plan_sha256: str = ""

    @property
    def ok(self) -> bool:
        return self.status not in PROBLEM_STATUSES

    def with_attempt(self, attempt: int) -> Outcome:
        return replace(self, attempt=attempt)

    def to_row(self, actions: tuple[str, ...]) -> dict[str, Any]:
        """The summary row, one ``count_<action>`` column per action in ``actions``."""
        row: dict[str, Any] = {
            "company": self.company,
            "as_of": self.as_of,
            "status": self.status.value,
        }
        row.update({f"count_{action}": self.counts.get(action, 0) for action in actions})
        row.update({
            "duration_s": round(self.duration_s, 4),
            "worker": self.worker,
            "attempt": self.attempt,
            "error_code": self.error_code,
            "error_message": self.error_message,
            "run_id": self.run_id,
            "plan_sha256": self.plan_sha256,
        })
        return row

    def line(self) -> str:
        """One line for the terminal: ``company: status [code message]``."""
        text = f"{self.company}: {self.status.value}"
        if self.error_code:
            text += f" {self.error_code} {self.error_message}"
        if self.attempt > 1:
            text += f" (attempt {self.attempt})"
        return text


def failure(company: str, error: HighseasError, *, as_of: str = "", duration_s: float = 0.0,
            worker: str = "") -> Outcome:
    """The outcome of a company stopped by ``error``: ``skipped by guard`` when
    its code is in :data:`GUARD_CODES`, else ``failed``; the code and message
    are those of its first error diagnostic."""
    errors = [d for d in error.diagnostics if d.is_error] or list(error.diagnostics)
    first = errors[0]
    message = first.format_text().split(f" {first.code} ", 1)[-1]
    if first.file:
        message = f"{first.location()}: {message}"
    if len(errors) > 1:
        message += f" (and {len(errors) - 1} more)"
    status = Status.SKIPPED_BY_GUARD if first.code in GUARD_CODES else Status.FAILED
    return Outcome(company, status, as_of=as_of, duration_s=duration_s, worker=worker,
                   error_code=first.code, error_message=message)
