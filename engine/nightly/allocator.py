"""The allocation loop and its strategies: who gets each request.

:class:`Allocator` places requests one at a time in allocation order. Speed:
salespeople are indexed by region once per call; round robin finds the next
eligible salesperson with a "next alive" union-find over each region's
rep-id-ordered list (:class:`RepList`), the other strategies with a lazy heap
per rotation (:class:`HeapRotation`), so a request costs O(log reps) plus the
salespeople it really has to skip for that customer (cooldown, relay
exclusions), never a scan of every salesperson.
"""

from __future__ import annotations

import heapq
import json
import math
from bisect import bisect_left, bisect_right, insort
from collections.abc import Callable, Mapping, Sequence
from fractions import Fraction
from functools import lru_cache

from highseas.nightly.allocation_types import (
    SKIP_LIMIT,
    Assignment,
    AssignRequest,
    RepSnapshot,
    Skip,
    UnplacedRequest,
    load_skip_reason,
    rotation_key,
    static_skip_reason,
)
from highseas.nightly.reasons import (
    IN_COOLDOWN,
    NOT_IN_TIERS,
    SKIPPED,
    WEIGHT_ZERO,
    WRONG_REGION,
    SkipReason,
    excluded,
)
from highseas.ruleset.model import Allocation, Region

#: Reuse the explanation of an unassigned customer for the next ones in the same
#: situation (tests switch it off to check it changes nothing).
_CACHE_UNASSIGNED = True


def _weight_of(rep: RepSnapshot, rep_w: Mapping[str, int], tier_w: Mapping[str, int]) -> int:
    if rep.rep_id in rep_w:
        return rep_w[rep.rep_id]
    if rep.tier is not None and rep.tier in tier_w:
        return tier_w[rep.tier]
    if rep.weight is not None:
        return rep.weight
    return 1



# --------------------------------------------------------------------------
# Candidate lists: salespeople in eligible tiers covering one region (or all)
# --------------------------------------------------------------------------


class RepList:
    """Eligible-tier salespeople covering a region, in rep-id order, with a
    "next alive position" union-find (``nxt[p] == p`` iff alive)."""

    __slots__ = ("region", "idx", "ids", "nxt", "n")

    def __init__(self, region: str | None, idx: list[int], ids: list[str]) -> None:
        self.region = region
        self.idx = idx
        self.ids = ids
        self.n = len(idx)
        self.nxt = list(range(self.n + 1))

    def find(self, j: int) -> int:
        """Smallest alive position >= j (``n`` if none)."""
        nxt = self.nxt
        root = j
        while nxt[root] != root:
            root = nxt[root]
        while nxt[j] != root:
            nxt[j], j = root, nxt[j]
        return root

    def kill(self, pos: int) -> None:
        self.nxt[pos] = pos + 1


class HeapRotation:
    """A rotation of least_loaded / capacity / weighted: a lazy heap of
    ``(key, rep_id, index)`` and the dead ones sorted the same way (for the
    skip explanations)."""

    __slots__ = ("replist", "heap", "dead", "passes", "strides", "scale", "vt", "key")

    def __init__(self, replist: RepList, key: Callable[[int], int]) -> None:
        self.replist = replist
        self.heap: list[tuple[int, str, int]] = []
        self.dead: list[tuple[int, str, int]] = []
        self.passes: dict[int, int] = {}
        self.strides: dict[int, int] = {}
        self.scale = 1
        self.vt = 0
        self.key = key


@lru_cache(maxsize=1024)
def _region_set(regions: tuple[str, ...]) -> frozenset[str]:
    """A salesperson's regions as a set (salespeople share a few region lists)."""
    return frozenset(regions)


@lru_cache(maxsize=1024)
def _region_list(regions: tuple[str, ...]) -> tuple[str, ...]:
    """A salesperson's regions, each once, in order."""
    return tuple(sorted(set(regions)))


# --------------------------------------------------------------------------
# The allocator
# --------------------------------------------------------------------------


class Allocator:
    """One allocation call's state: the salespeople's counters as parallel
    lists, their candidate lists and rotations, and the caches of
    explanations.

    Longer than the other classes on purpose: it is the inner loop of every
    nightly run (100k customers place through :meth:`place`), and its
    strategies share the counter arrays and the death bookkeeping that keeps
    candidate lists and heaps in step; splitting it would add a call and an
    attribute hop per salesperson examined."""

    def __init__(
        self,
        reps: Sequence[RepSnapshot],
        allocation: Allocation,
        regions: Sequence[Region],
        positions: Mapping[str, str | None],
        explain: bool = True,
    ) -> None:
        #: False: who is skipped and why is not wanted (a plan that only
        #: counts the customers it leaves unassigned), so a customer whose
        #: regions had nobody eligible before its own exclusions is left
        #: unassigned at once (exclusions only remove salespeople).
        self.explain = explain
        self.allocation = allocation
        self.strategy = allocation.strategy
        self.fallback = allocation.region_fallback
        self.fallbacks = {r.id: r.fallbacks for r in regions}
        self.positions: dict[str, str | None] = dict(positions)
        ordered = sorted(reps, key=lambda r: r.rep_id)
        self.reps = ordered
        n = len(ordered)
        self.ids = [r.rep_id for r in ordered]
        self.private = [r.private_count for r in ordered]
        self.day = [r.claims_today for r in ordered]
        self.week = [r.claims_week for r in ordered]
        self.month = [r.claims_month for r in ordered]
        self.last30 = [r.assigned_last_30d for r in ordered]
        self.run = [r.given_this_run for r in ordered]
        self.region_sets = [_region_set(r.regions) for r in ordered]
        rep_w = dict(allocation.rep_weights)
        tier_w = dict(allocation.tier_weights)
        self.weights = [_weight_of(r, rep_w, tier_w) for r in ordered]
        self.alive = [False] * n
        self.death: list[Skip | None] = [None] * n
        # Lists per region (and the all-regions list), eligible tiers only.
        tiers = set(allocation.tiers)
        in_tier = [r.tier is not None and r.tier in tiers for r in ordered]
        by_region: dict[str, list[int]] = {}
        all_idx: list[int] = []
        self.off_tier: dict[str | None, list[str]] = {}
        for i, rep in enumerate(ordered):
            if not in_tier[i]:
                for region in _region_list(rep.regions):
                    bucket = self.off_tier.setdefault(region, [])
                    if len(bucket) < SKIP_LIMIT:
                        bucket.append(rep.rep_id)
                bucket = self.off_tier.setdefault(None, [])
                if len(bucket) < SKIP_LIMIT:
                    bucket.append(rep.rep_id)
                continue
            all_idx.append(i)
            for region in _region_list(rep.regions):
                by_region.setdefault(region, []).append(i)
        self.lists: dict[str | None, RepList] = {
            region: RepList(region, idx, [self.ids[i] for i in idx])
            for region, idx in sorted(by_region.items())
        }
        self.all_list = RepList(None, all_idx, [self.ids[i] for i in all_idx])
        self.lists[None] = self.all_list
        self.memberships: list[list[tuple[RepList, int]]] = [[] for _ in range(n)]
        for replist in self.lists.values():
            for pos, i in enumerate(replist.idx):
                self.memberships[i].append((replist, pos))
        self.heap_rotations: dict[str, HeapRotation] = {}
        self.rotation_cache: dict[tuple[str, str | None], HeapRotation] = {}
        self.notes: dict[tuple[str | None, str | None, bool], str] = {}
        self.label = self.strategy.replace("_", " ")
        #: salesperson -> the heap rotations holding them (built on demand)
        self.rep_rotations: dict[int, list[HeapRotation]] = {}
        self.deaths = 0  # bumped on every death, for caches
        self.wrong_region_cache: dict[tuple[str, ...], tuple[int, list[int]]] = {}
        self.unassigned_cache: dict[
            tuple[str, str | None], tuple[int, str, tuple[Skip, ...], int]
        ] = {}
        for i in all_idx:
            reason = static_skip_reason(ordered[i], allocation)
            if reason is None and self.strategy == "weighted" and self.weights[i] == 0:
                reason = WEIGHT_ZERO
            if reason is None:
                reason = self._dynamic_reason(i)
            if reason is None:
                self.alive[i] = True
            else:
                self._kill(i, reason)

    # -- eligibility --------------------------------------------------------
    def _dynamic_reason(self, i: int) -> SkipReason | None:
        return load_skip_reason(
            self.reps[i], self.allocation, private=self.private[i], day=self.day[i],
            week=self.week[i], month=self.month[i], last30=self.last30[i], given=self.run[i],
        )

    def _kill(self, i: int, reason: SkipReason) -> None:
        self.alive[i] = False
        self.death[i] = (self.ids[i], reason)
        for replist, pos in self.memberships[i]:
            replist.kill(pos)
        for rotation in self.rep_rotations.get(i, ()):
            insort(rotation.dead, (rotation.key(i), self.ids[i], i))
        self.deaths += 1

    def _assign(self, i: int) -> None:
        self.run[i] += 1
        self.private[i] += 1
        self.day[i] += 1
        self.week[i] += 1
        self.month[i] += 1
        self.last30[i] += 1
        reason = self._dynamic_reason(i)
        if reason is not None:
            self._kill(i, reason)

    @staticmethod
    def _excluded(rep_id: str, request: AssignRequest) -> SkipReason | None:
        if rep_id in request.exclude_reps:
            return excluded(request.exclude_reason)
        if rep_id in request.cooldown_reps:
            return IN_COOLDOWN
        return None

    # -- round robin -----------------------------------------------------------
    def _pick_round_robin(
        self, replist: RepList, key: str, request: AssignRequest, skips: list[Skip]
    ) -> tuple[int | None, int]:
        """The first eligible rep after the pointer (wrapping); returns the
        rep index (or None) and how many skipped reps were left unlisted."""
        n = replist.n
        if n == 0:
            return None, 0
        pointer = self.positions.get(key)
        start = bisect_right(replist.ids, pointer) if pointer is not None else 0
        if start >= n:
            start = 0
        j = replist.find(start)
        if j == n:
            j = replist.find(0)
        chosen: int | None = None
        if j != n:
            first = j
            excl = request.exclude_reps or request.cooldown_reps
            while True:
                if not excl or self._excluded(replist.ids[j], request) is None:
                    chosen = j
                    break
                j = replist.find(j + 1)
                if j == n:
                    j = replist.find(0)
                if j == first:
                    break
        distance = n if chosen is None else (chosen - start) % n
        listed = 0
        pos = start
        while listed < distance and listed < SKIP_LIMIT:
            i = replist.idx[pos]
            death = self.death[i]
            if death is not None:
                skips.append(death)
            else:
                skips.append((self.ids[i], self._excluded(self.ids[i], request) or SKIPPED))
            listed += 1
            pos += 1
            if pos == n:
                pos = 0
        if chosen is None:
            return None, distance - listed
        i = replist.idx[chosen]
        self.positions[key] = self.ids[i]
        return i, distance - listed

    # -- heap strategies -----------------------------------------------------------
    def _rotation(self, replist: RepList, pool_id: str) -> HeapRotation:
        rotation = self.rotation_cache.get((pool_id, replist.region))
        if rotation is not None:
            return rotation
        weighted = self.strategy == "weighted"
        key = rotation_key(pool_id, replist.region, weighted)
        if self.strategy == "least_loaded":
            private = self.private
            rotation = HeapRotation(replist, private.__getitem__)
        elif self.strategy == "capacity":
            last30 = self.last30
            rotation = HeapRotation(replist, last30.__getitem__)
        else:
            # Stride scheduling in exact integers: pass values are multiples of
            # 1 / scale, scale = lcm of the weights and of the stored lags'
            # denominators, so a stored state is read back exactly.
            weights = self.weights
            lags = _load_lags(self.positions.get(key))
            members = [i for i in replist.idx if weights[i] > 0]
            scale = math.lcm(
                1,
                *{weights[i] for i in members},
                *{lags[self.ids[i]].denominator for i in members if self.ids[i] in lags},
            )
            passes: dict[int, int] = dict.fromkeys(replist.idx, 0)
            strides: dict[int, int] = dict.fromkeys(replist.idx, 0)
            for i in members:
                strides[i] = scale // weights[i]
                lag = lags.get(self.ids[i])
                value = int(lag * scale) if lag is not None else 0
                passes[i] = max(value, -strides[i])

            def finish(i: int) -> int:
                return passes[i] + strides[i]

            rotation = HeapRotation(replist, finish)
            rotation.passes = passes
            rotation.strides = strides
            rotation.scale = scale
        for i in replist.idx:
            entry = (rotation.key(i), self.ids[i], i)
            (rotation.heap if self.alive[i] else rotation.dead).append(entry)
            self.rep_rotations.setdefault(i, []).append(rotation)
        heapq.heapify(rotation.heap)
        rotation.dead.sort()
        self.heap_rotations[key] = rotation
        self.rotation_cache[(pool_id, replist.region)] = rotation
        return rotation

    def _pick_heap(
        self, rotation: HeapRotation, request: AssignRequest, skips: list[Skip]
    ) -> tuple[int | None, int]:
        heap = rotation.heap
        keyf = rotation.key
        alive = self.alive
        aside: list[tuple[int, str, int]] = []
        chosen: tuple[int, str, int] | None = None
        check = bool(request.exclude_reps or request.cooldown_reps)
        while heap:
            entry = heap[0]
            i = entry[2]
            if not alive[i]:
                heapq.heappop(heap)
                continue
            current = keyf(i)
            if entry[0] != current:
                heapq.heapreplace(heap, (current, entry[1], i))
                continue
            if check and self._excluded(entry[1], request) is not None:
                aside.append(heapq.heappop(heap))
                continue
            chosen = heapq.heappop(heap)  # re-pushed with its new key after the assignment
            break
        for entry in aside:
            heapq.heappush(heap, entry)
        dead = rotation.dead
        ahead = len(dead) if chosen is None else bisect_left(dead, chosen)
        if ahead or aside:
            passed = dead[: min(ahead, SKIP_LIMIT)]
            if aside:
                passed = sorted(passed + aside)[:SKIP_LIMIT]
            for _key, rep_id, i in passed:
                death = self.death[i]
                skips.append(death if death is not None else
                             (rep_id, self._excluded(rep_id, request) or SKIPPED))
            omitted = ahead + len(aside) - len(passed)
        else:
            omitted = 0
        if chosen is None:
            return None, omitted
        i = chosen[2]
        if self.strategy == "weighted":
            rotation.passes[i] = chosen[0]
            rotation.vt = chosen[0]
        return i, omitted

    # -- wrong region explanations -----------------------------------------------
    def _wrong_region(self, searched: tuple[str, ...], request: AssignRequest) -> list[int]:
        cached = self.wrong_region_cache.get(searched)
        if cached is not None and cached[0] == self.deaths:
            found = cached[1]
        else:
            found = []
            wanted = set(searched)
            replist = self.all_list
            j = replist.find(0)
            steps = 0
            while j < replist.n and len(found) < SKIP_LIMIT and steps < 20 * SKIP_LIMIT:
                i = replist.idx[j]
                if not (self.region_sets[i] & wanted):
                    found.append(i)
                j = replist.find(j + 1)
                steps += 1
            self.wrong_region_cache[searched] = (self.deaths, found)
        return [i for i in found if self._excluded(self.ids[i], request) is None]

    def _note(self, home: str | None, region: str | None, fallback: bool) -> str:
        key = (home, region, fallback)
        note = self.notes.get(key)
        if note is None:
            label = self.label
            if region is None:
                note = (
                    f"{label}, any region (no eligible salesperson in {home})"
                    if home is not None
                    else f"{label} among all regions (customer has no region)"
                )
            elif fallback:
                note = f"{label}, fallback from {home} to {region}"
            else:
                note = f"{label} in {region}"
            self.notes[key] = note
        return note

    # -- one request ------------------------------------------------------------
    def place(
        self, request: AssignRequest
    ) -> tuple[Assignment | None, UnplacedRequest | None, Sequence[Skip], int]:
        """Assign one customer, or explain why not."""
        # A customer without exclusions whose regions had nobody eligible gets
        # the same explanation as the previous such customer of the pool and
        # region until somebody else's situation changes (a death): nobody can
        # become eligible again within a run, and pointers of empty rotations
        # do not move.
        cache_key = None
        plain = not request.cooldown_reps and not request.exclude_reps
        if _CACHE_UNASSIGNED and (plain or not self.explain):
            hit = self.unassigned_cache.get((request.pool_id, request.region))
            if hit is not None and hit[0] == self.deaths:
                return None, UnplacedRequest(request.customer_id, hit[1], request.pool_id,
                                        request.reason), hit[2], hit[3]
            if plain:
                cache_key = (request.pool_id, request.region)
        skips: list[Skip] = []
        omitted = 0
        served = self.allocation.pools
        if served and request.pool_id not in served:
            reason = (
                f"pool {request.pool_id} is not served by allocation {self.allocation.id}"
            )
            return None, UnplacedRequest(request.customer_id, reason, request.pool_id,
                                    request.reason), skips, 0
        home = request.region
        plan: list[str | None]
        if home is None:
            plan = [None]
        elif self.fallback == "fallbacks":
            plan = [home, *self.fallbacks.get(home, ())]
        elif self.fallback == "any_region":
            plan = [home, None]
        else:
            plan = [home]
        tried: list[str] = []
        marked = 0
        for step, region in enumerate(plan):
            if region is not None and region in tried:
                continue
            if step == 1:
                marked = len(skips)
            replist = self.lists.get(region)
            rotation = None
            if replist is None or replist.n == 0:
                i, more = None, 0
            elif self.strategy == "round_robin":
                i, more = self._pick_round_robin(
                    replist, rotation_key(request.pool_id, region), request, skips
                )
            else:
                rotation = self._rotation(replist, request.pool_id)
                i, more = self._pick_heap(rotation, request, skips)
            omitted += more
            if i is not None:
                self._assign(i)
                if rotation is not None and self.alive[i]:
                    heapq.heappush(rotation.heap, (rotation.key(i), self.ids[i], i))
                note = self._note(home, region, step > 0)
                if step > 0 and len(skips) > marked:
                    skips = _first_per_rep(skips)
                assignment = Assignment(
                    request.customer_id, self.ids[i], request.pool_id, region, note,
                    request.reason,
                )
                return assignment, None, skips, omitted
            if region is not None:
                tried.append(region)
        # Nobody: explain with off-tier reps of the home region and eligible reps
        # elsewhere.
        if not self.explain:
            skips, omitted = [], 0
        elif len(plan) > 1:
            skips = _first_per_rep(skips)
        if self.explain:
            for rep_id in self.off_tier.get(home, ()):
                skips.append((rep_id, NOT_IN_TIERS))
        if self.explain and home is not None and None not in plan:
            for i in self._wrong_region(tuple(tried), request):
                skips.append((self.ids[i], WRONG_REGION))
        if home is None:
            reason = "no eligible salesperson (the customer has no region)"
        elif self.fallback == "stay":
            reason = (
                f"no eligible salesperson in {home}; region fallback is stay, "
                "so the customer stays in the pool"
            )
        elif self.fallback == "any_region":
            reason = f"no eligible salesperson in {home} nor in any other region"
        elif len(plan) > 1:
            reason = (
                f"no eligible salesperson in {home} nor in its fallback regions "
                + ", ".join(str(r) for r in plan[1:])
            )
        else:
            reason = f"no eligible salesperson in {home}, which has no fallback region"
        frozen = tuple(skips)
        if cache_key is not None:
            self.unassigned_cache[cache_key] = (self.deaths, reason, frozen, omitted)
        return None, UnplacedRequest(request.customer_id, reason, request.pool_id,
                                request.reason), frozen, omitted

    def final_positions(self) -> dict[str, str | None]:
        for key, rotation in self.heap_rotations.items():
            if self.strategy != "weighted":
                continue
            lags: dict[str, str] = {}
            for i in rotation.replist.idx:
                if self.weights[i] <= 0:
                    continue
                lag = max(rotation.passes[i] - rotation.vt, -rotation.strides[i])
                if lag:
                    lags[self.ids[i]] = str(Fraction(lag, rotation.scale))
            self.positions[key] = json.dumps(
                {"v": 1, "lag": lags}, sort_keys=True, separators=(",", ":")
            )
        return dict(sorted(self.positions.items()))


def _first_per_rep(skips: list[Skip]) -> list[Skip]:
    """Each salesperson once (the first reason), when several lists were tried."""
    seen: set[str] = set()
    unique = []
    for item in skips:
        if item[0] not in seen:
            seen.add(item[0])
            unique.append(item)
    return unique


def _load_lags(value: str | None) -> dict[str, Fraction]:
    """Parse weighted state; anything unreadable starts the rotation afresh."""
    if not value:
        return {}
    try:
        data = json.loads(value)
        lags = data["lag"] if isinstance(data, dict) and data.get("v") == 1 else {}
        return {str(k): Fraction(str(v)) for k, v in lags.items()}
    except (ValueError, TypeError, KeyError, ZeroDivisionError, AttributeError):
        return {}
