"""The fleet: ``highseas run-all``, every company's nightly run as one task on
a Dask distributed cluster.

- :mod:`highseas.fleet.companies` finds the companies (a ruleset file plus its
  facts database) and applies ``--only`` / ``--exclude``.
- :mod:`highseas.fleet.task` is what a worker runs for one company: the
  nightly run through :func:`highseas.api.run`, turned into a
  :class:`~highseas.fleet.outcome.Outcome` (never an exception for a
  company's own fault).
- :mod:`highseas.fleet.outcome` holds the statuses and the single mapping of
  error codes to "skipped by guard".
- :mod:`highseas.fleet.cluster` starts or connects to the cluster and fans
  the tasks out, with retries for workers that die.
- :mod:`highseas.fleet.summary` writes the summary (Parquet and JSON lines).

Layering: the fleet sits above the API (``cli -> fleet -> api -> ...``). It
may import :mod:`highseas.api`, :mod:`highseas.errors` and
:mod:`highseas.codes`, never the stages below the API directly, and never the
CLI. ``dask`` and ``distributed`` are imported only inside
:mod:`highseas.fleet.cluster` (and lazily there), so that importing the
package, or the CLI, does not import them.
"""

from highseas.fleet.cluster import LOCAL, run_all
from highseas.fleet.companies import CompanyRef, discover
from highseas.fleet.outcome import GUARD_CODES, Outcome, Status
from highseas.fleet.summary import FleetResult, check_summary_path, write_summary
from highseas.fleet.task import (
    AppliedCheck,
    RunOptions,
    applied_companies,
    run_company,
    run_in_process,
)

__all__ = [
    "GUARD_CODES",
    "LOCAL",
    "AppliedCheck",
    "CompanyRef",
    "FleetResult",
    "Outcome",
    "RunOptions",
    "Status",
    "applied_companies",
    "check_summary_path",
    "discover",
    "run_all",
    "run_company",
    "run_in_process",
    "write_summary",
]
