"""A 2-process Dask cluster on 127.0.0.1, started once for the fleet tests."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest


@contextmanager
def connected(address: str) -> Iterator[Any]:
    """A ``distributed.Client`` of the cluster at ``address``; Dask's own
    warnings at connect and close stay inside."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from distributed import Client

        client = Client(address)
    try:
        yield client
    finally:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            client.close()


@pytest.fixture(scope="package")
def cluster() -> Iterator[Any]:
    """``LocalCluster`` of 2 worker processes, 1 thread each, loopback only,
    no dashboard. Dask's own warnings at start and stop stay inside."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from distributed import LocalCluster

        local = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                             host="127.0.0.1", dashboard_address=None)
    try:
        yield local
    finally:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            local.close()


@pytest.fixture()
def scheduler(cluster: Any) -> str:
    """The cluster's address, once both workers are up (a test may kill one)."""
    with connected(cluster.scheduler_address) as client:
        client.wait_for_workers(2, timeout=60)
    return str(cluster.scheduler_address)
