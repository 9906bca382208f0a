"""A pure-DuckDB reference of the nightly plan for ``rulesets/regional-trading.yaml``.

The same relay round 1, release, trim and round-robin decisions the engine
makes (docs/nightly-run.md, docs/allocation.md), written by hand as
set-based DuckDB SQL, with no durable-rules, no IR and no per-customer Python.
The benchmark runs it in the same process on the same data as the engine and
reports engine time / reference time.

How round robin becomes SQL: with no per-customer exclusion, a rotation whose
salespeople (in rep-id order, starting after the remembered pointer) can
still receive ``cap_r`` customers serves the customers in the order of the
*slots* ``(round t, position of r)`` for ``t < cap_r`` (a salesperson reaching
a cap is skipped for every later customer, so it takes part in exactly
``cap_r`` rounds). Customer number ``i`` of the rotation gets slot ``i``: one
window query. A customer who may not receive from the slot's salesperson (the
current owner in a relay, or a salesperson in cooldown) breaks the closed form
from that customer on, so the driver accepts the prefix before the first such
conflict, places that customer alone (one small query) and re-solves the rest:
the loop runs once per conflict, which is rare (the generated data has a
handful at 1M customers).

Deliberate simplifications (the comparison is restricted accordingly):

* Relays in progress (``relay_state`` rows) are not modelled: the reference
  refuses a database that has any (generated fixtures have none), and
  compares relay round 1 (``relay`` decisions), releases, trims and assigns.
* Reminders are not produced (not part of the comparison).
* Facts are read as of the day as the engine reads them (an order open on
  the day, the stage of the latest change by then, salespeople who had not
  left), but ownership changes dated after the day are not undone: the
  reference refuses a database that has any (generated fixtures have none).
* A pool's customers must all share one resolved region (or have none), and
  every salesperson covers at most one region: true for the generator's data,
  checked, and what keeps the fallback order of round robin a closed form.
* Trims to the receiving tier (least loaded, region first) are placed by a
  loop bounded by the receiving tier's remaining capacity (zero in generated
  data, where the relay uses all of the new salespeople's daily claims).
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from highseas.ruleset.model import Ruleset

if TYPE_CHECKING:
    import duckdb

#: The actions both the engine and the reference produce.
COMPARED_ACTIONS = ("relay", "release", "trim", "assign")

#: One compared decision: (customer, action, rule, from rep, to rep, from pool, to pool).
DecisionKey = tuple[str, str, str, str | None, str | None, str | None, str | None]

_RECEIVING = "('claim', 'assign', 'trim', 'relay')"


class ReferenceUnsupported(ValueError):
    """The data or ruleset is outside what the reference implements."""


@dataclass
class ReferenceResult:
    """The reference's decisions, its timings and how many conflicts it re-solved."""

    decisions: list[DecisionKey]
    seconds: float
    cpu_seconds: float
    steps: dict[str, float] = field(default_factory=dict)
    conflicts: int = 0


def _expect(condition: bool, what: str) -> None:
    if not condition:
        raise ReferenceUnsupported(what)


def _check_ruleset(ruleset: Ruleset) -> None:
    """The reference hard-codes regional-trading's rules: refuse anything else."""
    _expect([r.id for r in ruleset.release_rules] == ["no-follow-up-90d", "no-order-1y"],
            "release rules differ from regional-trading.yaml")
    _expect([r.id for r in ruleset.relays] == ["alibaba-dormant"], "relays differ")
    _expect([a.id for a in ruleset.allocations] == ["daily-new-rotation"], "allocations differ")
    _expect([(c.tier, c.excess_order, c.excess_to_tier, c.protect) for c in ruleset.caps.private]
            == [("veteran", "least_recently_followed_up", "new", None)], "private caps differ")
    alloc = ruleset.allocations[0]
    _expect(alloc.strategy == "round_robin" and alloc.region_fallback == "fallbacks"
            and alloc.tiers == ("new",) and not alloc.weekdays, "allocation differs")
    _expect(ruleset.relays[0].tiers == ("new",), "relay tiers differ")


def _values(rows: Sequence[tuple[Any, ...]], names: str) -> str:
    """An inline VALUES table (the strings are ruleset ids and ISO codes)."""
    def lit(v: Any) -> str:
        return "NULL" if v is None else "'" + str(v).replace("'", "''") + "'"

    if not rows:
        cols = ", ".join(f"NULL::VARCHAR AS {n.strip()}" for n in names.split(","))
        return f"(SELECT {cols} WHERE false)"
    body = ", ".join("(" + ", ".join(lit(v) for v in row) + ")" for row in rows)
    return f"(SELECT * FROM (VALUES {body}) AS t({names}))"


class _Reference:
    def __init__(self, con: duckdb.DuckDBPyConnection, ruleset: Ruleset, as_of: date,
                 company_id: str) -> None:
        self.con = con
        self.rs = ruleset
        self.as_of = as_of
        self.company = company_id
        self.conflicts = 0
        self.steps: dict[str, float] = {}
        self.decisions: list[DecisionKey] = []
        region_rows: list[tuple[str, str, str]] = []
        for region in ruleset.regions:
            region_rows += [("country", c, region.id) for c in region.countries]
            region_rows += [("code", c, region.id) for c in (*region.codes, region.id)]
        self.region_map = _values(region_rows, "kind, key, region_id")
        default = ruleset.default_pool.id
        pool_rows = []
        for region in ruleset.regions:
            pool = next((p.id for p in ruleset.pools if region.id in p.regions), None)
            pool = pool or next((p.id for p in ruleset.pools if p.all_regions and not p.default),
                                default)
            pool_rows.append((region.id, pool))
        self.pool_map = _values(pool_rows, "region_id, pool_id")
        self.default_pool = default
        self.fallbacks = {r.id: r.fallbacks for r in ruleset.regions}
        self.rotation: dict[tuple[str, str], str | None] = {}

    def q(self, sql: str, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        return self.con.execute(sql, _used(sql, params)).fetchall()

    def x(self, sql: str, params: dict[str, Any] | None = None) -> None:
        self.con.execute(sql, _used(sql, params))

    # ------------------------------------------------------------------
    def facts(self) -> None:
        """Customer facts as of the date, and the salespeople with their capacities."""
        rs, as_of = self.rs, self.as_of
        p = {"co": self.company, "end": as_of + timedelta(days=1), "asof": as_of,
             "dflt": self.default_pool}
        _expect(self.q("SELECT count(*) FROM ownership_events WHERE company_id = $co "
                       "AND as_of > $asof", p)[0][0] == 0,
                "ownership changes after the day (held as before them by the engine) are "
                "not modelled by the reference")
        self.x(f"""
        CREATE OR REPLACE TEMP TABLE ref_facts AS
        WITH cust AS (SELECT * FROM customers WHERE company_id = $co AND created_at < $end),
        ot AS (SELECT a.customer_id, max(a."at") AS last_at
               FROM activities a JOIN cust c ON c.customer_id = a.customer_id
               WHERE a.company_id = $co AND a."at" < $end
                 AND (a.rep_id = c.owner_rep_id OR a.rep_id IS NULL)
                 AND a."at" >= c.owned_since GROUP BY 1),
        anyt AS (SELECT DISTINCT customer_id FROM activities
                 WHERE company_id = $co AND "at" < $end),
        od AS (SELECT customer_id, max(placed_at) AS last_at,
                      -- open on the day: not won or lost by its end (no closed_at:
                      -- closed when placed)
                      count(*) FILTER (WHERE status = 'open'
                                          OR coalesce(closed_at, placed_at) >= $end)
                        AS open_orders
               FROM orders WHERE company_id = $co AND placed_at < $end GROUP BY 1),
        sd AS (SELECT customer_id, arg_max(stage, "at") AS stage FROM stage_changes
               WHERE company_id = $co AND "at" < $end GROUP BY 1),
        base AS (
            SELECT c.customer_id, c.owner_rep_id, c.source, coalesce(sd.stage, c.stage) AS stage,
                   coalesce(c.tags, []::VARCHAR[]) AS tags, c.pool_id AS raw_pool,
                   c.created_at::DATE AS created_day, c.owned_since::DATE AS owned_day,
                   greatest(c.owned_since, coalesce(ot.last_at, c.owned_since))::DATE
                     AS last_touch,
                   greatest(c.owned_since, coalesce(od.last_at, c.owned_since))::DATE
                     AS last_order_touch,
                   anyt.customer_id IS NOT NULL AS contacted,
                   coalesce(od.open_orders, 0) AS open_orders,
                   coalesce(rc.region_id, rk.region_id) AS region,
                   TRY_CAST(json_extract_string(c.attributes, '$.credit_score') AS BIGINT)
                     AS credit_score
            FROM cust c
            LEFT JOIN ot ON ot.customer_id = c.customer_id
            LEFT JOIN anyt ON anyt.customer_id = c.customer_id
            LEFT JOIN od ON od.customer_id = c.customer_id
            LEFT JOIN sd ON sd.customer_id = c.customer_id
            LEFT JOIN {self.region_map} rc ON rc.kind = 'code' AND rc.key = c.region
            LEFT JOIN {self.region_map} rk ON rk.kind = 'country' AND rk.key = upper(c.country))
        SELECT b.*, coalesce(pm.pool_id, $dflt) AS region_pool,
               CASE WHEN b.owner_rep_id IS NULL THEN coalesce(b.raw_pool, pm.pool_id, $dflt)
               END AS pool_id
        FROM base b LEFT JOIN {self.pool_map} pm ON pm.region_id = b.region
        """, p)
        tiers = {t.id: t for t in rs.tiers}
        veteran_from = tiers["new"].tenure_less_than
        _expect(veteran_from is not None and tiers["veteran"].tenure_at_least == veteran_from
                and tiers["key-account"].attribute == "key-account", "tiers differ")
        assert veteran_from is not None
        claim = {c.tier: c for c in rs.caps.claims}["new"]
        caps = [f"{cap} - {col}" for cap, col in ((claim.per_day, "today"),
                (claim.per_week, "week"), (claim.per_month, "month")) if cap is not None]
        left = "greatest(0, least(" + ", ".join(caps) + "))" if caps else "1000000000"
        week_start = as_of - timedelta(days=as_of.weekday())
        self.x(f"""
        CREATE OR REPLACE TEMP TABLE ref_reps AS
        WITH owned AS (SELECT owner_rep_id AS rep_id, count(*) AS n FROM customers
                       WHERE company_id = $co AND owner_rep_id IS NOT NULL
                         AND created_at < $end GROUP BY 1),
        recv AS (SELECT to_rep_id AS rep_id,
                        count(*) FILTER (WHERE as_of = $asof) AS today,
                        count(*) FILTER (WHERE as_of >= $week AND as_of <= $asof) AS week,
                        count(*) FILTER (WHERE as_of >= $month AND as_of <= $asof) AS month
                 FROM ownership_events WHERE company_id = $co AND to_rep_id IS NOT NULL
                   AND action IN {_RECEIVING} GROUP BY 1),
        r AS (
            SELECT r.rep_id,
                   CASE WHEN r.tier = 'key-account' THEN 'key-account'
                        WHEN r.hired_on <= $vet THEN 'veteran' ELSE 'new' END AS tier,
                   len(r.regions) AS n_regions,
                   coalesce(rc.region_id, rk.region_id) AS region,
                   coalesce(r.left_on > $asof, r.active) AND NOT coalesce(r.away_from <= $asof AND
                        (r.away_until IS NULL OR r.away_until >= $asof), false) AS available,
                   coalesce(o.n, 0) AS private,
                   coalesce(x.today, 0) AS today, coalesce(x.week, 0) AS week,
                   coalesce(x.month, 0) AS month
            FROM reps r
            LEFT JOIN owned o ON o.rep_id = r.rep_id
            LEFT JOIN recv x ON x.rep_id = r.rep_id
            LEFT JOIN {self.region_map} rc ON rc.kind = 'code' AND rc.key = r.regions[1]
            LEFT JOIN {self.region_map} rk ON rk.kind = 'country' AND rk.key = r.regions[1]
            WHERE r.company_id = $co AND r.hired_on <= $asof)
        SELECT *, CASE WHEN tier = 'new' AND available THEN {left} ELSE 0 END AS "left",
               0 AS run
        FROM r
        """, {"co": self.company, "asof": as_of, "end": as_of + timedelta(days=1),
              "week": week_start,
              "month": as_of.replace(day=1), "vet": veteran_from.latest_start(as_of)})
        _expect(self.q("SELECT count(*) FROM ref_reps WHERE n_regions > 1")[0][0] == 0,
                "a salesperson covers several regions")
        cooldown = rs.caps.cooldown
        lost_after = cooldown.latest_start(as_of) if cooldown else as_of
        self.x("""
        CREATE OR REPLACE TEMP TABLE ref_cooldown AS
        SELECT DISTINCT customer_id, from_rep_id AS rep_id FROM ownership_events
        WHERE company_id = $co AND from_rep_id IS NOT NULL AND as_of > $after
          AND as_of <= $asof AND coalesce(to_rep_id, '') <> from_rep_id
        """, {"co": self.company, "after": lost_after, "asof": as_of})
        self.rotation = {
            (a, k): r for a, k, r in self.q(
                "SELECT allocation_id, pool_id, last_rep_id FROM rotation_state "
                "WHERE company_id = $co", {"co": self.company})
        }

    # ------------------------------------------------------------------
    def round_robin(self, requests: str, alloc_id: str, plan_of: Any,
                    per_run: int | None) -> str:
        """Assign the requests table (customer_id, pool, region, seq) by round robin.

        ``plan_of(region)`` lists the regions searched in order (None: every
        salesperson). Returns the name of a table (customer_id, rep_id).
        Capacities in ``ref_reps`` are updated.
        """
        out = f"ref_rr_{alloc_id.replace('-', '_')}"
        self.x(f"CREATE OR REPLACE TEMP TABLE {out} (customer_id VARCHAR, rep_id VARCHAR)")
        self.x("UPDATE ref_reps SET run = 0")
        cap = '"left"' if per_run is None else f'least("left", {per_run} - run)'
        pools = self.q(f"SELECT pool, count(DISTINCT region), count(*) FILTER (WHERE region "
                       f"IS NULL), any_value(region) FROM {requests} GROUP BY 1 ORDER BY 1")
        for pool, n_regions, n_null, region in pools:
            _expect(n_regions == 0 or (n_regions == 1 and n_null == 0),
                    f"pool {pool} mixes customers of several regions")
            plan: list[str | None] = plan_of(region)
            cursor = 0
            while True:
                total = self.q(f"SELECT coalesce(sum({cap}), 0) FROM ref_reps")[0][0]
                if total <= 0:
                    break
                # closed form for the customers from `cursor` on, phase by phase
                self.x("CREATE OR REPLACE TEMP TABLE ref_chunk (seq BIGINT, customer_id VARCHAR, "
                       "rep_id VARCHAR, phase INTEGER)")
                start = cursor
                for phase, target in enumerate(plan):
                    key = pool if target is None else f"{pool}@{target}"
                    pointer = self.rotation.get((alloc_id, key))
                    region_filter = "" if target is None else "AND region = $region"
                    self.x(f"""
                    INSERT INTO ref_chunk
                    WITH r AS (
                        SELECT rep_id, {cap} AS c,
                               row_number() OVER (ORDER BY ($ptr IS NOT NULL AND
                                   rep_id <= $ptr), rep_id) AS pos
                        FROM ref_reps WHERE {cap} > 0 {region_filter}
                          AND rep_id NOT IN (SELECT rep_id FROM ref_chunk)),
                    slots AS (
                        SELECT rep_id, row_number() OVER (ORDER BY t, pos) - 1 AS slot
                        FROM (SELECT rep_id, pos, unnest(range(c)) AS t FROM r))
                    SELECT q.seq, q.customer_id, s.rep_id, $phase
                    FROM {requests} q JOIN slots s ON q.seq - $start = s.slot
                    WHERE q.pool = $pool
                    """, {"ptr": pointer, "region": target, "phase": phase, "start": start,
                          "pool": pool})
                    start = self.q("SELECT coalesce(max(seq) + 1, $s) FROM ref_chunk",
                                   {"s": start})[0][0]
                first_conflict = self.q(f"""
                    SELECT min(k.seq) FROM ref_chunk k JOIN {requests} q USING (customer_id)
                    WHERE k.rep_id = q.owner_rep_id OR EXISTS (SELECT 1 FROM ref_cooldown d
                        WHERE d.customer_id = k.customer_id AND d.rep_id = k.rep_id)""")[0][0]
                limit = first_conflict if first_conflict is not None else 1 << 62
                self._commit_chunk(out, alloc_id, pool, plan, limit)
                if first_conflict is None:
                    break
                self.conflicts += 1
                self._place_one(out, requests, alloc_id, pool, plan, first_conflict, cap)
                cursor = first_conflict + 1
        return out

    def _commit_chunk(self, out: str, alloc_id: str, pool: str, plan: list[str | None],
                      limit: int) -> None:
        self.x(f"INSERT INTO {out} SELECT customer_id, rep_id FROM ref_chunk WHERE seq < $l",
               {"l": limit})
        self.x("""UPDATE ref_reps SET "left" = "left" - n, run = run + n, private = private + n
                  FROM (SELECT rep_id AS rid, count(*) AS n FROM ref_chunk WHERE seq < $l
                        GROUP BY 1) c WHERE rep_id = c.rid""", {"l": limit})
        for phase, rep in self.q("SELECT phase, arg_max(rep_id, seq) FROM ref_chunk "
                                 "WHERE seq < $l GROUP BY 1", {"l": limit}):
            target = plan[phase]
            self.rotation[(alloc_id, pool if target is None else f"{pool}@{target}")] = rep

    def _place_one(self, out: str, requests: str, alloc_id: str, pool: str,
                   plan: list[str | None], seq: int, cap: str) -> None:
        """Place the customer at ``seq`` alone: the first eligible, not excluded
        salesperson after the pointer, phase by phase."""
        customer, owner = self.q(f"SELECT customer_id, owner_rep_id FROM {requests} "
                                 "WHERE pool = $p AND seq = $s", {"p": pool, "s": seq})[0]
        for target in plan:
            key = pool if target is None else f"{pool}@{target}"
            pointer = self.rotation.get((alloc_id, key))
            region_filter = "" if target is None else "AND region = $region"
            rows = self.q(f"""
                SELECT rep_id FROM ref_reps WHERE {cap} > 0 {region_filter}
                  AND rep_id IS DISTINCT FROM $owner
                  AND rep_id NOT IN (SELECT rep_id FROM ref_cooldown WHERE customer_id = $c)
                ORDER BY ($ptr IS NOT NULL AND rep_id <= $ptr), rep_id LIMIT 1""",
                {"region": target, "owner": owner, "c": customer, "ptr": pointer})
            if rows:
                rep = rows[0][0]
                self.x(f"INSERT INTO {out} VALUES ($c, $r)", {"c": customer, "r": rep})
                self.x('UPDATE ref_reps SET "left" = "left" - 1, run = run + 1, '
                       "private = private + 1 WHERE rep_id = $r", {"r": rep})
                self.rotation[(alloc_id, key)] = rep
                return

    # ------------------------------------------------------------------
    def relay(self) -> None:
        """Relay round 1 for dormant Alibaba leads (round robin, any region)."""
        relay = self.rs.relays[0]
        created_by = self.as_of - timedelta(days=30)
        _expect(self.q("SELECT count(*) FROM relay_state WHERE company_id = $co",
                       {"co": self.company})[0][0] == 0,
                "relays in progress are not modelled by the reference")
        self.x("""
        CREATE OR REPLACE TEMP TABLE ref_relay_req AS
        SELECT customer_id, owner_rep_id, region,
               coalesce(pool_id, region_pool) AS pool,
               row_number() OVER (PARTITION BY coalesce(pool_id, region_pool)
                                  ORDER BY customer_id) - 1 AS seq
        FROM ref_facts
        WHERE source = 'alibaba' AND NOT contacted AND created_day <= $created_by
          AND customer_id NOT IN (SELECT customer_id FROM ownership_events
                                  WHERE company_id = $co AND rule_id = $relay)
        """, {"created_by": created_by, "co": self.company, "relay": relay.id})
        out = self.round_robin("ref_relay_req", relay.id,
                               lambda region: [None] if region is None else [region, None],
                               relay.max_per_rep_per_run)
        self.x(f"""
        CREATE OR REPLACE TEMP TABLE ref_changed AS
        SELECT o.customer_id, 'relay' AS action, '{relay.id}' AS rule_id,
               q.owner_rep_id AS from_rep, o.rep_id AS to_rep,
               NULL::VARCHAR AS from_pool, NULL::VARCHAR AS to_pool
        FROM {out} o JOIN ref_relay_req q USING (customer_id)
        """)
        self.x("""UPDATE ref_reps SET private = private - n FROM (
                    SELECT from_rep AS rid, count(*) AS n FROM ref_changed
                    WHERE from_rep IS NOT NULL GROUP BY 1) c WHERE rep_id = c.rid""")

    def releases(self) -> None:
        """no-follow-up-90d, then no-order-1y, for owned customers not in a relay."""
        idle = self.as_of - timedelta(days=90)
        year = self.rs.release_rules[1]
        one_year = _duration_of(year.when)
        y = one_year.latest_start(self.as_of)
        self.x("""
        INSERT INTO ref_changed
        SELECT customer_id, 'release',
               CASE WHEN r1 THEN 'no-follow-up-90d' ELSE 'no-order-1y' END,
               owner_rep_id, NULL, NULL, region_pool
        FROM (
            SELECT *,
                   last_touch <= $idle AND NOT (open_orders > 0
                        OR list_contains(tags, 'key-account')
                        OR coalesce(stage IN ('contract'), false)) AS r1,
                   last_order_touch <= $y AND owned_day <= $y
                     AND coalesce(stage NOT IN ('contract', 'negotiation'), false)
                     AND NOT (open_orders > 0 OR coalesce(credit_score >= 80, false)) AS r2
            FROM ref_facts
            WHERE owner_rep_id IS NOT NULL
              AND customer_id NOT IN (SELECT customer_id FROM ref_changed))
        WHERE r1 OR r2
        """, {"idle": idle, "y": y})
        self.x("""UPDATE ref_reps SET private = private - n FROM (
                    SELECT from_rep AS rid, count(*) AS n FROM ref_changed
                    WHERE action = 'release' GROUP BY 1) c WHERE rep_id = c.rid""")

    def trims(self) -> None:
        """Veterans above the cap lose their least recently followed-up customers."""
        cap = self.rs.caps.private[0]
        self.x("""
        CREATE OR REPLACE TEMP TABLE ref_trim AS
        SELECT f.customer_id, f.owner_rep_id, f.region, f.region_pool, f.last_touch
        FROM (
            SELECT f.*, row_number() OVER (PARTITION BY f.owner_rep_id
                   ORDER BY f.last_touch ASC NULLS FIRST, f.customer_id) AS n,
                   r.private - $max AS over
            FROM ref_facts f JOIN ref_reps r ON r.rep_id = f.owner_rep_id
            WHERE r.tier = $tier AND r.private > $max AND f.open_orders = 0
              AND f.customer_id NOT IN (SELECT customer_id FROM ref_changed)) f
        WHERE n <= over
        """, {"max": cap.max, "tier": cap.tier})
        rule = f"caps.private.{cap.tier}"
        capacity = self.q('SELECT coalesce(sum("left"), 0) FROM ref_reps')[0][0]
        placed: dict[str, str] = {}
        if capacity > 0:
            placed = self._least_loaded_trims()
        self.x("CREATE OR REPLACE TEMP TABLE ref_trim_to (customer_id VARCHAR, rep_id VARCHAR)")
        if placed:
            self.con.executemany("INSERT INTO ref_trim_to VALUES (?, ?)", list(placed.items()))
        self.x(f"""
        INSERT INTO ref_changed
        SELECT t.customer_id, 'trim', '{rule}', t.owner_rep_id, p.rep_id, NULL,
               CASE WHEN p.rep_id IS NULL THEN t.region_pool END
        FROM ref_trim t LEFT JOIN ref_trim_to p USING (customer_id)
        """)
        self.x("""UPDATE ref_reps SET private = private - n FROM (
                    SELECT from_rep AS rid, count(*) AS n FROM ref_changed
                    WHERE action = 'trim' GROUP BY 1) c WHERE rep_id = c.rid""")

    def _least_loaded_trims(self) -> dict[str, str]:
        """Least loaded among the receiving tier, region first then any region;
        runs only while the tier can still receive (bounded by its capacity)."""
        reps = {rid: [region, private, left] for rid, region, private, left in self.q(
            'SELECT rep_id, region, private, "left" FROM ref_reps WHERE "left" > 0')}
        cool: dict[str, set[str]] = {}
        for cid, rid in self.q("SELECT customer_id, rep_id FROM ref_cooldown"):
            cool.setdefault(cid, set()).add(rid)
        placed: dict[str, str] = {}
        for cid, owner, region in self.q(
                "SELECT customer_id, owner_rep_id, region FROM ref_trim ORDER BY customer_id"):
            if not reps:
                break
            for target in ([region, None] if region is not None else [None]):
                best = min(((v[1], rid) for rid, v in reps.items()
                            if (target is None or v[0] == target) and rid != owner
                            and rid not in cool.get(cid, ())), default=None)
                if best is not None:
                    rid = best[1]
                    placed[cid] = rid
                    reps[rid][1] += 1
                    reps[rid][2] -= 1
                    if reps[rid][2] <= 0:
                        del reps[rid]
                    break
        if placed:
            self.con.executemany(
                'UPDATE ref_reps SET "left" = "left" - 1, private = private + 1 '
                "WHERE rep_id = ?", [[r] for r in placed.values()])
        return placed

    def allocations(self) -> None:
        """daily-new-rotation: high-seas customers at the start of the run."""
        alloc = self.rs.allocations[0]
        pools = list(alloc.pools) or [p.id for p in self.rs.pools]
        self.x(f"""
        CREATE OR REPLACE TEMP TABLE ref_alloc_req AS
        SELECT customer_id, NULL::VARCHAR AS owner_rep_id, region, pool_id AS pool,
               row_number() OVER (PARTITION BY pool_id ORDER BY customer_id) - 1 AS seq
        FROM ref_facts
        WHERE owner_rep_id IS NULL AND pool_id IN {_values([(p,) for p in pools], "p")}
          AND customer_id NOT IN (SELECT customer_id FROM ref_changed)
        """)
        out = self.round_robin(
            "ref_alloc_req", alloc.id,
            lambda region: [None] if region is None else [region, *self.fallbacks.get(region, ())],
            alloc.max_per_rep_per_run)
        self.x(f"""
        INSERT INTO ref_changed
        SELECT o.customer_id, 'assign', '{alloc.id}', NULL, o.rep_id, q.pool, NULL
        FROM {out} o JOIN ref_alloc_req q USING (customer_id)
        """)

    def run(self) -> ReferenceResult:
        started, cpu = time.perf_counter(), time.process_time()
        for name, step in (("facts", self.facts), ("relay", self.relay),
                           ("releases", self.releases), ("trims", self.trims),
                           ("allocations", self.allocations)):
            t = time.perf_counter()
            step()
            self.steps[name] = time.perf_counter() - t
        rows = self.q("SELECT * FROM ref_changed ORDER BY action, customer_id")
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        return ReferenceResult([tuple(r) for r in rows],  # type: ignore[misc]
                               seconds, cpu, self.steps, self.conflicts)


def _used(sql: str, params: dict[str, Any] | None) -> dict[str, Any]:
    """The named parameters ``sql`` refers to (DuckDB refuses unused ones)."""
    used = set(re.findall(r"\$([a-z_]+)", sql))
    return {k: v for k, v in (params or {}).items() if k in used}


def _duration_of(condition: Any) -> Any:
    """The duration of no-order-1y's ``no_order_for`` (the first timed leaf)."""
    from highseas.ruleset import model

    stack = [condition]
    while stack:
        node = stack.pop(0)
        if isinstance(node, model.NoOrderFor):
            return node.duration
        stack.extend(getattr(node, "items", ()))
    raise ReferenceUnsupported("no-order-1y has no no_order_for condition")


def reference_plan(con: duckdb.DuckDBPyConnection, ruleset: Ruleset, as_of: date,
                   company_id: str | None = None) -> ReferenceResult:
    """Run the reference for ``as_of`` on ``con`` (writes temp tables only)."""
    _check_ruleset(ruleset)
    return _Reference(con, ruleset, as_of, company_id or ruleset.company.id).run()


def engine_keys(decisions: Sequence[Any]) -> list[DecisionKey]:
    """The engine's compared decisions as sorted keys."""
    keys = [(d.customer_id, d.action, d.rule_id, d.from_rep_id, d.to_rep_id,
             d.from_pool_id, d.to_pool_id) for d in decisions if d.action in COMPARED_ACTIONS]
    return sorted(keys, key=lambda k: (k[1], k[0]))


def compare(engine: Sequence[DecisionKey], reference: Sequence[DecisionKey]
            ) -> tuple[list[DecisionKey], list[DecisionKey]]:
    """(decisions only the engine made, decisions only the reference made)."""
    e, r = set(engine), set(reference)
    return (sorted(e - r, key=lambda k: (k[1], k[0])), sorted(r - e, key=lambda k: (k[1], k[0])))
