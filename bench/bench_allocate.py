"""Speed of highseas.nightly.allocation: 100k requests x 2,000 salespeople per strategy.

Run: python bench/bench_allocate.py  (prints seconds per strategy)
"""

from __future__ import annotations

import random
import time
from dataclasses import replace

from highseas.nightly.allocation import AssignRequest, RepSnapshot, allocate
from highseas.ruleset.model import Allocation, Region

REGIONS = [f"r{k}" for k in range(8)]


def make(
    n_reps: int, n_requests: int, seed: int = 1
) -> tuple[list[RepSnapshot], list[AssignRequest]]:
    rng = random.Random(seed)
    reps = [
        RepSnapshot(
            rep_id=f"rep{k:05d}",
            tier=rng.choice(["new", "new", "veteran"]),
            regions=(rng.choice(REGIONS),),
            active=rng.random() > 0.02,
            away=rng.random() < 0.05,
            private_count=rng.randint(0, 250),
            private_cap=300,
            claims_today=0, claims_week=rng.randint(0, 10), claims_month=rng.randint(0, 30),
            claim_cap_day=None, claim_cap_week=None, claim_cap_month=None,
            assigned_last_30d=rng.randint(0, 50),
            weight=rng.choice([None, 1, 2, 3]),
        )
        for k in range(n_reps)
    ]
    ids = [r.rep_id for r in reps]
    requests = [
        AssignRequest(
            customer_id=f"c{k:07d}",
            pool_id=rng.choice(["p1", "p2"]),
            region=rng.choice(REGIONS + [None]),
            cooldown_reps=frozenset(rng.sample(ids, 2)) if rng.random() < 0.1 else frozenset(),
        )
        for k in range(n_requests)
    ]
    return reps, requests


def main() -> None:
    reps, requests = make(2000, 100_000)
    regions = [Region(id=r, fallbacks=(REGIONS[(k + 1) % 8],)) for k, r in enumerate(REGIONS)]
    for strategy in ("round_robin", "weighted", "least_loaded", "capacity"):
        allocation = Allocation(
            id="a", tiers=("new",), strategy=strategy,  # type: ignore[arg-type]
            capacity=3000, max_per_rep_per_run=200,
        )
        t0 = time.perf_counter()
        result = allocate(requests, reps, allocation, regions, {})
        elapsed = time.perf_counter() - t0
        print(f"{strategy:13s} {elapsed:6.2f} s  assigned {len(result.assignments):6d}  "
              f"unassigned {len(result.unassigned):6d}")
    # Worst cases for the skip explanations: most salespeople fill up during the
    # run (tight per-run limit), and customers of a region nobody covers stay.
    for strategy in ("round_robin", "least_loaded"):
        allocation = Allocation(
            id="a", tiers=("new",), strategy=strategy,  # type: ignore[arg-type]
            max_per_rep_per_run=20,
        )
        t0 = time.perf_counter()
        result = allocate(requests, reps, allocation, regions, {})
        elapsed = time.perf_counter() - t0
        print(f"{strategy:13s} {elapsed:6.2f} s  tight limit: assigned "
              f"{len(result.assignments):6d}  unassigned {len(result.unassigned):6d}")
    nowhere = [replace(q, region="nowhere") for q in requests]
    allocation = Allocation(id="a", tiers=("new",), region_fallback="stay")
    t0 = time.perf_counter()
    result = allocate(nowhere, reps, allocation, regions, {})
    elapsed = time.perf_counter() - t0
    print(f"{'stay':13s} {elapsed:6.2f} s  region nobody covers: unassigned "
          f"{len(result.unassigned):6d}")


if __name__ == "__main__":
    main()
