"""Fanning the companies out on a Dask distributed cluster.

One task per company (:func:`highseas.fleet.task.run_company`); only the
company's id and paths travel to the workers. ``scheduler="local"`` starts a
:class:`distributed.LocalCluster` of worker processes on 127.0.0.1 for the
run; an address (``tcp://HOST:PORT``) connects to a running scheduler.

Retries: a worker that dies while running a company (killed, out of memory,
its machine gone) makes the scheduler run the task again on another worker
(up to ``distributed.scheduler.allowed-failures`` times); a task that raises
an unexpected error is run again up to ``retries`` times. A company's own
faults are outcomes, not errors, so they are never retried. The attempt
number of each company is read from the scheduler at the end of the run.

``dask`` and ``distributed`` are imported here, inside the functions only.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from highseas import codes
from highseas.errors import InvalidInputError
from highseas.fleet.companies import CompanyRef
from highseas.fleet.outcome import Outcome, Status
from highseas.fleet.summary import FleetResult
from highseas.fleet.task import BeforeRun, RunOptions, run_company, warm_up

LOCAL = "local"
#: How long to try to reach a scheduler before giving up (seconds).
CONNECT_TIMEOUT_S = 10.0
#: Runs again of a task that raised an unexpected error.
DEFAULT_RETRIES = 2

OnDone = Callable[[Outcome], None]


def run_all(
    companies: Sequence[CompanyRef],
    options: RunOptions,
    *,
    scheduler: str = LOCAL,
    workers: int | None = None,
    retries: int = DEFAULT_RETRIES,
    on_done: OnDone | None = None,
    before_run: BeforeRun | None = None,
    connect_timeout: float | None = None,
) -> FleetResult:
    """Run every company on the cluster; one outcome per company, sorted.

    ``workers`` is the number of local worker processes (default: one per
    CPU; ignored with a scheduler address). ``on_done`` is called with each
    outcome as it arrives (a progress bar). ``before_run`` is a test-only
    hook called in the worker before each company runs. ``connect_timeout``
    defaults to :data:`CONNECT_TIMEOUT_S`.
    """
    timeout = CONNECT_TIMEOUT_S if connect_timeout is None else connect_timeout
    with _client(scheduler, workers, timeout) as client:
        client.run(warm_up)  # imports on every worker, outside the timed run
        started = time.perf_counter()
        outcomes = _fan_out(client, companies, options, retries, on_done, before_run)
        wall = time.perf_counter() - started
        worker_count = len(client.scheduler_info(n_workers=-1)["workers"])
    return FleetResult(tuple(sorted(outcomes, key=lambda o: o.company)), wall, worker_count)


@contextmanager
def _client(scheduler: str, workers: int | None, timeout: float) -> Iterator[Any]:
    """A connected :class:`distributed.Client`: to a fresh local cluster, or to
    the scheduler at ``scheduler``. Dask's own warnings stay inside, and its
    log says errors only (a restarted worker shows in the summary)."""
    if scheduler != LOCAL and "://" not in scheduler:
        raise InvalidInputError(
            f"--scheduler {scheduler!r} is neither 'local' nor an address",
            code=codes.SCHEDULER_UNREACHABLE,
            hint="write it as tcp://HOST:PORT",
        )
    with _errors_only_log():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cluster, client = _connect(scheduler, workers, timeout)
        try:
            yield client
        finally:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                client.close()
                if cluster is not None:
                    cluster.close()


def _connect(scheduler: str, workers: int | None, timeout: float) -> tuple[Any, Any]:
    """(the local cluster or None, a client connected to it or to ``scheduler``)."""
    from distributed import Client, LocalCluster

    if scheduler == LOCAL:
        cluster = LocalCluster(
            n_workers=workers or os.cpu_count() or 1, threads_per_worker=1,
            processes=True, host="127.0.0.1", dashboard_address=None,
        )
        return cluster, Client(cluster)
    try:
        return None, Client(scheduler, timeout=timeout)
    except (OSError, TimeoutError) as error:
        raise InvalidInputError(
            f"cannot reach the Dask scheduler at {scheduler}: {error}",
            code=codes.SCHEDULER_UNREACHABLE,
            hint="start one with 'dask scheduler' and its workers with "
                 "'dask worker ADDRESS', or use --scheduler local",
        ) from None


@contextmanager
def _errors_only_log() -> Iterator[None]:
    log = logging.getLogger("distributed")
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        log.setLevel(level)


def _fan_out(client: Any, companies: Sequence[CompanyRef], options: RunOptions, retries: int,
             on_done: OnDone | None, before_run: BeforeRun | None) -> list[Outcome]:
    from distributed import as_completed

    token = uuid.uuid4().hex[:8]
    futures = {
        client.submit(run_company, company, options, before_run,
                      key=f"highseas-run-all-{token}-{company.id}", retries=retries,
                      pure=False): company
        for company in companies
    }
    outcomes: dict[str, Outcome] = {}
    for future in as_completed(futures):
        company = futures[future]
        outcome = _outcome_of(future, company)
        outcomes[future.key] = outcome
        if on_done is not None:
            on_done(outcome)
    attempts = _attempts(client, list(outcomes), retries)
    result = [o.with_attempt(attempts.get(key, 1)) for key, o in outcomes.items()]
    client.cancel(list(futures))
    return result


def _outcome_of(future: Any, company: CompanyRef) -> Outcome:
    """The task's outcome, or a ``failed`` one for a task that raised or lost
    its workers."""
    if future.status == "finished":
        outcome: Outcome = future.result()
        return outcome
    error = future.exception()
    if type(error).__name__ == "KilledWorker":
        return Outcome(company.id, Status.FAILED, error_code=codes.WORKER_LOST,
                       error_message=f"every worker that ran it died: {error}")
    return Outcome(company.id, Status.FAILED, error_code=codes.INTERNAL_ERROR,
                   error_message=f"{type(error).__name__}: {error}")


def _attempts(client: Any, keys: list[str], retries: int) -> dict[str, int]:
    """How many times the scheduler ran each task: once, plus once per worker
    that died running it, plus once per retry after an error."""

    def read(keys: list[str], dask_scheduler: Any = None) -> dict[str, tuple[int, int]]:
        tasks = dask_scheduler.tasks
        return {key: (tasks[key].suspicious, tasks[key].retries) for key in keys if key in tasks}

    state: dict[str, tuple[int, int]] = client.run_on_scheduler(read, keys)
    return {key: 1 + suspicious + max(0, retries - left)
            for key, (suspicious, left) in state.items()}
