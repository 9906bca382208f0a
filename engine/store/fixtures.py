"""The deterministic fixture generator: realistic fake companies in SQL.

Everything is set-based DuckDB SQL. Randomness is a pure integer hash of
(seed, entity index, salt) written in SQL arithmetic (:data:`_RND_MACRO`), so
the same arguments give the same rows on any machine and DuckDB version, and
1M customers with ~10M activities take seconds. Nothing reads the clock: the
world ends at ``as_of`` (default :data:`DEFAULT_AS_OF`).

Shapes (see fixtures/README.md): heavy-tailed ownership (veterans hoard
customers they do not follow up, new hires own few), per-rep follow-up
habits, dormant never-contacted leads (60-80% of Alibaba leads in the
regional archetype), activity histories over more than two years, orders
with the archetype's conversion cycle, reps on leave and reps who left but
still own customers.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from highseas import codes
from highseas.errors import InvalidInputError
from highseas.store.db import PathLike, init_db, open_db, scalar, transaction

if TYPE_CHECKING:
    import duckdb

#: The world of every generated file ends here unless ``as_of`` is given.
DEFAULT_AS_OF = date(2026, 6, 30)

#: Regions of each archetype, as in rulesets/<archetype>.yaml (countries per region).
REGIONAL_TRADING_REGIONS: dict[str, tuple[str, ...]] = {
    "emea": ("DE", "FR", "GB", "IT", "ES", "NL", "PL", "AE", "SA", "ZA", "NG", "EG", "TR"),
    "americas": ("US", "CA", "MX", "BR", "AR", "CL", "CO", "PE"),
    "apac": ("CN", "JP", "KR", "IN", "AU", "NZ", "SG", "MY", "TH", "VN", "ID", "PH"),
}
QUICK_ORDER_REGIONS: dict[str, tuple[str, ...]] = {
    "dach": ("DE", "AT", "CH"),
    "rest-of-eu": ("FR", "IT", "ES", "NL", "BE", "PL", "CZ", "DK", "SE"),
}
LARGE_PROJECT_REGIONS: dict[str, tuple[str, ...]] = {
    "europe": (
        "DE", "CH", "AT", "FR", "IT", "NL", "BE", "NO", "SE", "DK", "FI", "GB", "IE", "ES",
        "PT", "PL",
    ),
    "middle-east": ("AE", "SA", "QA", "KW", "OM", "BH"),
    "other": (),  # only the explicit region code ROW
}  # fmt: skip

_FIRST = (
    "Ana Ben Chen Dana Eli Fatima Gus Hana Ivan Jia Kofi Lena Marco Nina Omar Priya "
    "Quinn Rosa Sami Tara Umar Vera Wei Xin Yara Zoe Aiko Bruno Carla Dev"
).split()
_LAST = (
    "Abe Bauer Costa Diaz Evans Fischer Garcia Huang Ito Jensen Khan Li Moreau Nakamura "
    "Okafor Petrov Quispe Rossi Silva Tanaka Uddin Vargas Wang Xu Yilmaz Zhang"
).split()
_ADJ = (
    "Blue Golden Pacific Northern Bright Global Silver Eastern Prime Royal Swift Green "
    "Grand Coastal Summit United Red Atlas Nova Delta"
).split()
_NOUN = (
    "Harbor Trading Imports Logistics Textiles Machinery Electronics Foods Components "
    "Supply Industries Tools Packaging Furniture Lighting Metals Plastics Ceramics Motors Retail"
).split()
_SUFFIX = "Ltd GmbH LLC SA Co. Inc. BV Pty S.r.l. Sp.z.o.o.".split()


@dataclass(frozen=True)
class Archetype:
    """The knobs of one kind of company."""

    name: str
    regions: dict[str, tuple[str, ...]]  # region id -> countries
    region_weights: tuple[tuple[str, float], ...]  # share of reps and customers
    region_code: tuple[str, str, float] | None  # (region, code, share): code, no country
    unmapped: tuple[str, ...]  # countries no region covers (3% of customers)
    pools: dict[str, str]  # region -> pool of its high-seas customers
    sources: tuple[tuple[str, float], ...]  # cumulative-free weights
    dormant_share: dict[str, float]  # per source: share never contacted
    high_seas_share: float  # of contacted customers, share currently in a pool
    dormant_high_seas_share: float  # of dormant customers
    habit_days: tuple[float, float]  # per-rep mean follow-up interval range
    conversion: float  # share of contacted customers with orders
    cycle_days: tuple[int, int]  # first contact -> first order
    repeat_max: int  # most orders per customer
    repeat_gap_days: int  # mean gap between repeat orders
    amount: tuple[float, float]  # order amount range (log-uniform)
    kinds: tuple[tuple[str, float], ...]
    max_activities: int  # most activities per customer
    key_account_share: float  # share of veterans with explicit tier key-account
    stages: tuple[tuple[str, float], ...]  # stages of contacted customers without orders
    attributes: str  # SQL for customers.attributes (sees idx, won_orders, has_orders)
    default_pool: str


ARCHETYPES: dict[str, Archetype] = {
    "regional-trading": Archetype(
        name="regional-trading",
        regions=REGIONAL_TRADING_REGIONS,
        region_weights=(("emea", 0.4), ("americas", 0.3), ("apac", 0.3)),
        region_code=("apac", "APAC", 0.01),
        unmapped=("KE", "NO", "UA", "PK", "KZ"),
        pools={"emea": "emea-pool", "americas": "americas-pool", "apac": "apac-pool"},
        sources=(("alibaba", 0.70), ("website", 0.14), ("trade-show", 0.09), ("referral", 0.07)),
        dormant_share={"alibaba": 0.72, "website": 0.10, "trade-show": 0.05, "referral": 0.03},
        high_seas_share=0.12,
        dormant_high_seas_share=0.35,
        habit_days=(5, 60),
        conversion=0.30,
        cycle_days=(30, 240),
        repeat_max=5,
        repeat_gap_days=90,
        amount=(2_000, 80_000),
        kinds=(("email", 40), ("call", 25), ("message", 10), ("quote", 15), ("meeting", 10)),
        max_activities=60,
        key_account_share=0.08,
        stages=(("lead", 0.45), ("qualified", 0.35), ("negotiation", 0.2)),
        attributes="CASE WHEN rnd(idx, 0, 81) < 0.6 THEN json_object('credit_score', "
        "CAST(floor(rnd(idx, 0, 82) * 101) AS INTEGER)) END",
        default_pool="global-pool",
    ),
    "quick-order": Archetype(
        name="quick-order",
        regions=QUICK_ORDER_REGIONS,
        region_weights=(("dach", 0.45), ("rest-of-eu", 0.55)),
        region_code=None,
        unmapped=("GB", "US", "NO", "TR"),
        pools={},
        sources=(("website", 0.45), ("marketplace", 0.25), ("alibaba", 0.20), ("referral", 0.10)),
        dormant_share={"website": 0.15, "marketplace": 0.10, "alibaba": 0.40, "referral": 0.05},
        high_seas_share=0.15,
        dormant_high_seas_share=0.40,
        habit_days=(4, 30),
        conversion=0.45,
        cycle_days=(7, 42),
        repeat_max=15,
        repeat_gap_days=30,
        amount=(50, 3_000),
        kinds=(("call", 40), ("email", 30), ("quote", 20), ("message", 10)),
        max_activities=30,
        key_account_share=0.0,
        stages=(("lead", 0.3), ("prospect", 0.2), ("qualified", 0.3), ("negotiation", 0.2)),
        attributes="json_object('reorder_customer', coalesce(won_orders, 0) > 1, 'last_campaign', "
        "CASE WHEN rnd(idx, 0, 81) < 0.4 THEN CAST(DATE '2025-01-06' + CAST(floor("
        "rnd(idx, 0, 82) * 52) AS INTEGER) * 7 AS VARCHAR) END)",
        default_pool="main-pool",
    ),
    "large-project": Archetype(
        name="large-project",
        regions=LARGE_PROJECT_REGIONS,
        region_weights=(("europe", 0.7), ("middle-east", 0.2), ("other", 0.1)),
        region_code=("other", "ROW", 0.1),
        unmapped=("US", "CN", "BR", "IN", "ZA"),
        pools={"europe": "europe-pool", "middle-east": "middle-east-pool"},
        sources=(("referral", 0.35), ("tender", 0.25), ("trade-show", 0.20), ("website", 0.20)),
        dormant_share={"referral": 0.05, "tender": 0.15, "trade-show": 0.20, "website": 0.30},
        high_seas_share=0.10,
        dormant_high_seas_share=0.30,
        habit_days=(14, 90),
        conversion=0.15,
        cycle_days=(90, 730),
        repeat_max=2,
        repeat_gap_days=365,
        amount=(50_000, 3_000_000),
        kinds=(("meeting", 30), ("call", 25), ("email", 25), ("quote", 10), ("visit", 10)),
        max_activities=40,
        key_account_share=0.05,
        stages=(("lead", 0.3), ("qualified", 0.3), ("tender", 0.2), ("negotiation", 0.2)),
        attributes="json_object('project_value', CASE WHEN rnd(idx, 0, 81) < 0.7 THEN "
        "round(exp(ln(50000) + rnd(idx, 0, 82) * ln(100)), -3) END, 'segment', "
        "['energy', 'infrastructure', 'industry', 'transport', 'defence']"
        "[1 + CAST(floor(rnd(idx, 0, 83) * 5) AS INTEGER)])",
        default_pool="world-pool",
    ),
}

_P = 2147483647  # 2^31 - 1

#: rnd(a, b, salt) -> DOUBLE in [0, 1): an integer hash in plain SQL arithmetic
#: (multiply mod 2^31-1 and xor-shift rounds); products stay below 2^63.
_RND_MACRO = f"""
CREATE OR REPLACE TEMP MACRO _hs_m(x, k) AS ((x * k + 12345) % {_P});
CREATE OR REPLACE TEMP MACRO _hs_x(x, s) AS (xor(x, x >> s));
CREATE OR REPLACE TEMP MACRO rnd(a, b, salt) AS (
    _hs_m(_hs_x(_hs_m(_hs_x(_hs_m(
        (CAST(a AS BIGINT) % 1000000007) * 1000003 + CAST(b AS BIGINT) * 7919
        + CAST(salt AS BIGINT) * 104729 + CAST(getvariable('hs_seed') AS BIGINT) * 15485863 % {_P},
    48271), 11), 69621), 13), 16807) / {float(_P)}
);
"""


def _list_sql(items: tuple[str, ...] | list[str]) -> str:
    return "[" + ", ".join("'" + s.replace("'", "''") + "'" for s in items) + "]"


def _weighted_case(pairs: tuple[tuple[str, float], ...], u: str) -> str:
    """CASE picking a label from ``pairs`` (weights) by the uniform ``u``."""
    total = sum(w for _, w in pairs)
    parts, acc = [], 0.0
    for label, weight in pairs[:-1]:
        acc += weight / total
        parts.append(f"WHEN {u} < {acc:.6f} THEN '{label}'")
    return f"CASE {' '.join(parts)} ELSE '{pairs[-1][0]}' END"


def _pool_sql(arch: Archetype, region: str) -> str:
    """The pool of a high-seas customer whose geographic region is ``region``."""
    cases = " ".join(f"WHEN '{r}' THEN '{p}'" for r, p in arch.pools.items())
    if not cases:
        return f"'{arch.default_pool}'"
    return f"CASE {region} {cases} ELSE '{arch.default_pool}' END"


def _build(con: duckdb.DuckDBPyConnection, arch: Archetype, n: int, m: int, as_of: date) -> None:
    """Create temp tables _g_reps, _g_cust and temp views _g_act, _g_ord."""
    end = f"TIMESTAMP '{as_of.isoformat()} 00:00:00'"
    width_r = max(4, len(str(m)))
    width_c = max(7, len(str(n)))
    lo, hi = arch.habit_days
    region_pick = _weighted_case(arch.region_weights, "rnd(idx, 0, 11)")

    # --- reps ---------------------------------------------------------------
    con.execute(
        f"""
        CREATE TEMP TABLE _g_reps0 AS
        SELECT idx,
               'R' || lpad(CAST(idx AS VARCHAR), {width_r}, '0') AS rep_id,
               {_list_sql(_FIRST)}[1 + CAST(floor(rnd(idx, 0, 1) * {len(_FIRST)}) AS INTEGER)]
                 || ' ' ||
               {_list_sql(_LAST)}[1 + CAST(floor(rnd(idx, 0, 2) * {len(_LAST)}) AS INTEGER)]
                 AS name,
               idx > 3 AND rnd(idx, 0, 3) < 0.3 AS is_new,  -- R1..R3 are veterans
               rnd(idx, 0, 4) AS u_tenure,
               {region_pick} AS region,
               rnd(idx, 0, 5) < 0.07 AND idx > 3 AS has_left,
               rnd(idx, 0, 6) < 0.06 AS on_leave,
               rnd(idx, 0, 7) AS u_habit,
               rnd(idx, 0, 8) AS u_weight,
               rnd(idx, 0, 9) AS u_ka
        FROM range(1, {m} + 1) t(idx)
        """
    )
    con.execute(
        f"""
        CREATE TEMP TABLE _g_reps AS
        SELECT *,
               CASE WHEN has_left THEN least({end}, greatest(
                    CAST(hired_on AS TIMESTAMP) + INTERVAL 30 DAY,
                    {end} - to_days(CAST(10 + floor(rnd(idx, 0, 12) * 400) AS INTEGER))))
                    WHEN on_leave THEN {end} - to_days(CAST(floor(rnd(idx, 0, 13) * 20)
                                                       AS INTEGER))
                    ELSE {end} END AS works_until,
               -- veterans hoard: heavy-tailed weight; new hires own few
               CASE WHEN is_new THEN 0.15 + 0.5 * u_weight
                    ELSE least(40.0, pow(1.0 - 0.97 * u_weight, -1.3)) END AS w,
               -- follow-up habit: mean days between follow-ups
               {lo} + ({hi} - {lo}) * pow(u_habit, 1.5) AS habit
        FROM (
            SELECT *,
                   CAST({end} AS DATE) - CAST(CASE WHEN is_new
                        THEN 15 + floor(u_tenure * 345)
                        ELSE 365 + floor(pow(u_tenure, 1.5) * 3650) END AS INTEGER) AS hired_on
            FROM _g_reps0)
        """
    )
    # ownership pick tables: cumulative weights per region key (and 'all')
    region_key = "region"
    con.execute(
        f"""
        CREATE TEMP TABLE _g_pick AS
        WITH keyed AS (
            SELECT {region_key} AS key, rep_id, w, hired_on, works_until FROM _g_reps
            UNION ALL
            SELECT '*all*', rep_id, w, hired_on, works_until FROM _g_reps
        )
        SELECT key, rep_id, hired_on, works_until,
               coalesce(sum(w) OVER (PARTITION BY key ORDER BY rep_id
                    ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0)
                 / sum(w) OVER (PARTITION BY key) AS cum_lo
        FROM keyed
        """
    )

    # --- customers ----------------------------------------------------------
    src_pick = _weighted_case(arch.sources, "rnd(idx, 0, 21)")
    dormant_case = " ".join(f"WHEN '{s}' THEN {share}" for s, share in arch.dormant_share.items())
    unmapped = 0.03 if arch.unmapped else 0.0
    code_region, code, code_share = arch.region_code or ("", "", 0.0)
    by_region = " ".join(
        f"WHEN '{r}' THEN {_list_sql(cs)}[1 + CAST(floor(rnd(idx, 0, 23) * {len(cs)}) AS INTEGER)]"
        for r, cs in arch.regions.items()
        if cs
    )
    country_sql = f"""CASE
        WHEN u_geo < {unmapped} THEN {_list_sql(arch.unmapped or ("",))}[
            1 + CAST(floor(rnd(idx, 0, 23) * {len(arch.unmapped)}) AS INTEGER)]
        WHEN u_geo < {unmapped + code_share} THEN NULL
        ELSE CASE region_g {by_region} END END"""
    # customers of a region without countries (large-project "other") get the code
    weights = tuple((r, w) for r, w in arch.region_weights if arch.regions[r])
    region_g = _weighted_case(weights, "rnd(idx, 0, 22)")
    explicit_region = (
        f"CASE WHEN u_geo >= {unmapped} AND u_geo < {unmapped + code_share} THEN '{code}' END"
    )
    cust_region = (
        f"CASE WHEN u_geo < {unmapped} THEN NULL WHEN u_geo < {unmapped + code_share} "
        f"THEN '{code_region}' ELSE region_g END"
    )
    con.execute(
        f"""
        CREATE TEMP TABLE _g_cust0 AS
        SELECT idx, customer_id, name, source, country, region, geo_region, dormant,
               created_at,
               CASE WHEN dormant THEN u_pool < {arch.dormant_high_seas_share}
                    ELSE u_pool < {arch.high_seas_share} END AS in_pool,
               CASE WHEN geo_region IS NOT NULL AND rnd(idx, 0, 26) < 0.9
                         AND geo_region IN (SELECT key FROM _g_pick)
                    THEN geo_region ELSE '*all*' END AS pick_key,
               rnd(idx, 0, 27) AS u_owner
        FROM (
            SELECT idx, customer_id, name, source, {country_sql} AS country,
                   {explicit_region} AS region, {cust_region} AS geo_region,
                   rnd(idx, 0, 24) < (CASE source {dormant_case} ELSE 0 END) AS dormant,
                   created_at, u_pool
            FROM (
                SELECT idx,
                       'C' || lpad(CAST(idx AS VARCHAR), {width_c}, '0') AS customer_id,
                       {_list_sql(_ADJ)}[1 + CAST(floor(rnd(idx, 0, 31) * {len(_ADJ)})
                            AS INTEGER)] || ' ' ||
                       {_list_sql(_NOUN)}[1 + CAST(floor(rnd(idx, 0, 32) * {len(_NOUN)})
                            AS INTEGER)] || ' ' ||
                       {_list_sql(_SUFFIX)}[1 + CAST(floor(rnd(idx, 0, 33) * {len(_SUFFIX)})
                            AS INTEGER)] AS name,
                       {src_pick} AS source,
                       rnd(idx, 0, 25) AS u_geo,
                       {region_g} AS region_g,
                       rnd(idx, 0, 28) AS u_pool,
                       -- more recent leads than old ones; spans about three years
                       {end} - to_seconds(CAST(floor(pow(rnd(idx, 0, 29), 1.4) * 1100 * 86400)
                            + 3600 AS BIGINT)) AS created_at
                FROM range(1, {n} + 1) t(idx)))
        """
    )
    # owner by weighted pick (ASOF join on the cumulative weights)
    con.execute(
        """
        CREATE TEMP TABLE _g_cust1 AS
        SELECT c.*,
               CASE WHEN c.in_pool THEN NULL ELSE p.rep_id END AS owner_rep_id,
               p.rep_id AS picked_rep, p.hired_on AS owner_hired, p.works_until
        FROM _g_cust0 c ASOF JOIN _g_pick p ON c.pick_key = p.key AND c.u_owner >= p.cum_lo
        """
    )
    con.execute(
        """
        CREATE TEMP TABLE _g_cust2 AS
        SELECT c.*,
               r.habit AS habit_base,
               r.habit * pow(least(4.0, greatest(1.0, l.load / l.median_load)), 0.8) AS habit_eff,
               -- ownership starts after creation and hiring, before the owner stopped
               CASE WHEN owner_rep_id IS NULL THEN NULL
                    ELSE greatest(created_at, CAST(owner_hired AS TIMESTAMP) + INTERVAL 9 HOUR)
                         + to_seconds(CAST(floor(rnd(c.idx, 0, 41) * greatest(0,
                              epoch(c.works_until) - epoch(greatest(created_at,
                                  CAST(owner_hired AS TIMESTAMP))))) * 0.7 AS BIGINT))
               END AS owned_since
        FROM _g_cust1 c
        JOIN _g_reps r ON r.rep_id = c.picked_rep
        JOIN (SELECT picked_rep, count(*) AS load,
                     median(count(*)) OVER () AS median_load
              FROM _g_cust1 GROUP BY picked_rep) l USING (picked_rep)
        """
    )
    # contact history window per customer
    con.execute(
        f"""
        CREATE TEMP TABLE _g_cust AS
        SELECT *,
               CASE WHEN NOT dormant THEN
                    least(1 + CAST(floor(epoch(last_at - first_at) / 86400.0 / habit_base
                                         * (0.5 + rnd(idx, 0, 51))) AS INTEGER),
                          {arch.max_activities})
                    ELSE 0 END AS n_act,
               NOT dormant AND rnd(idx, 0, 52) < {arch.conversion} AS has_orders
        FROM (
            SELECT *,
                   greatest(first_at, hist_end - to_seconds(CAST(floor(
                       -ln(1.0 - 0.999 * rnd(idx, 0, 53)) * habit_eff * 86400) AS BIGINT)))
                     AS last_at
            FROM (
                SELECT *,
                       least(created_at + to_seconds(CAST(floor(rnd(idx, 0, 54) * 14 * 86400)
                             AS BIGINT)), {end} - INTERVAL 1 HOUR) AS first_at,
                       CASE WHEN owner_rep_id IS NOT NULL THEN works_until
                            -- released to the pool some time ago
                            ELSE greatest(created_at, {end} - to_days(CAST(30 + floor(
                                rnd(idx, 0, 55) * 400) AS INTEGER))) END AS hist_end
                FROM _g_cust2))
        """
    )

    # --- activities -----------------------------------------------------------
    kind_pick = _weighted_case(arch.kinds, "rnd(idx, j, 62)")
    con.execute(
        f"""
        CREATE TEMP VIEW _g_act AS
        SELECT idx, j, customer_id || '-A' || CAST(j AS VARCHAR) AS activity_id, customer_id,
               CASE WHEN owner_rep_id IS NOT NULL AND "at" >= owned_since THEN owner_rep_id
                    ELSE 'R' || lpad(CAST(1 + CAST(floor(rnd(idx, j, 61) * {m}) AS INTEGER)
                         AS VARCHAR), {width_r}, '0') END AS rep_id,
               {kind_pick} AS kind, "at"
        FROM (
            SELECT idx, customer_id, owner_rep_id, owned_since, j,
                   CASE WHEN j = 0 THEN first_at WHEN j = n_act - 1 THEN last_at
                        ELSE first_at + to_seconds(CAST(floor(rnd(idx, j, 63)
                             * epoch(last_at - first_at)) AS BIGINT)) END AS "at"
            FROM (SELECT *, unnest(range(n_act)) AS j FROM _g_cust WHERE n_act > 0))
        """
    )

    # --- orders -----------------------------------------------------------------
    c_lo, c_hi = arch.cycle_days
    a_lo, a_hi = arch.amount
    con.execute(
        f"""
        CREATE TEMP VIEW _g_ord AS
        SELECT idx, j, customer_id || '-O' || CAST(j AS VARCHAR) AS order_id, customer_id,
               CASE WHEN owner_rep_id IS NOT NULL AND placed_at >= owned_since THEN owner_rep_id
                    ELSE 'R' || lpad(CAST(1 + CAST(floor(rnd(idx, j, 71) * {m}) AS INTEGER)
                         AS VARCHAR), {width_r}, '0') END AS rep_id,
               placed_at,
               CAST(round({a_lo} * exp(rnd(idx, j, 72) * {math.log(a_hi / a_lo)}), 2)
                    AS DECIMAL(18, 2)) AS amount,
               CASE WHEN still_open THEN 'open'
                    WHEN rnd(idx, j, 74) < 0.15 THEN 'lost'
                    ELSE 'won' END AS status,
               CASE WHEN NOT still_open THEN close_at END AS closed_at
        FROM (
            SELECT *,
                   -- a recent deal may never close; any other closes within
                   -- the archetype's shortest cycle, unless that is after the end
                   (placed_at > {end} - to_days({min(c_hi, 180)}) AND rnd(idx, j, 73) < 0.35)
                     OR close_at >= {end} AS still_open
            FROM (
                SELECT *,
                       placed_at + to_seconds(CAST(3600 + floor(rnd(idx, j, 78) * {c_lo}
                            * 86400) AS BIGINT)) AS close_at
                FROM (
                    SELECT idx, customer_id, owner_rep_id, owned_since, j,
                           first_at + to_days(CAST({c_lo} + floor(rnd(idx, 0, 75)
                                * ({c_hi} - {c_lo})) AS INTEGER))
                             + to_days(CAST(j * {arch.repeat_gap_days} * (0.5 + rnd(idx, j, 76))
                                AS INTEGER)) AS placed_at
                    FROM (SELECT *, unnest(range(1 + CAST(floor(rnd(idx, 0, 77)
                                                                * {arch.repeat_max})
                                                           AS INTEGER))) AS j
                          FROM _g_cust WHERE has_orders))
                WHERE placed_at < {end}))
        """
    )

    # --- stages -------------------------------------------------------------------
    # Every customer comes in as a lead; contacted ones move on to their
    # current stage between their first and last contact (a contract by way
    # of negotiation).
    con.execute(
        f"""
        CREATE TEMP TABLE _g_stage AS
        SELECT customer_id, idx, stage, first_at,
               first_at + to_seconds(CAST(floor(rnd(idx, 0, 88)
                    * epoch(least(last_at, {end} - INTERVAL 1 HOUR) - first_at)) AS BIGINT))
                 AS reached_at
        FROM (
            SELECT customer_id, idx, first_at, last_at,
                   CASE WHEN dormant THEN 'lead'
                        WHEN has_orders THEN CASE WHEN rnd(idx, 0, 83) < 0.75 THEN 'contract'
                                                  ELSE 'negotiation' END
                        ELSE {_weighted_case(arch.stages, "rnd(idx, 0, 84)")} END AS stage
            FROM _g_cust)
        WHERE stage <> 'lead'
        """
    )


def generate(
    db_path: PathLike,
    archetype: str,
    customers: int,
    reps: int,
    seed: int,
    as_of: date = DEFAULT_AS_OF,
    *,
    replace: bool = False,
) -> dict[str, Any]:
    """Generate one company (company_id = ``archetype``) into ``db_path``.

    Creates the database if needed. Refuses if the company already has rows,
    unless ``replace`` (then its rows in every table are deleted first).
    Returns a summary: counts per table, shape figures and seconds taken.
    """
    arch = ARCHETYPES.get(archetype)
    if arch is None:
        raise InvalidInputError(
            f"unknown archetype {archetype!r}",
            code=codes.UNKNOWN_ARCHETYPE,
            hint=f"archetypes: {', '.join(ARCHETYPES)}",
        )
    if customers < 1 or reps < 1:
        raise InvalidInputError(
            "--customers and --reps must be at least 1", code=codes.FIXTURE_BAD_COUNTS
        )
    if not 0 <= seed < 2**31:
        raise InvalidInputError(
            "--seed must be between 0 and 2^31-1", code=codes.FIXTURE_BAD_COUNTS
        )
    started = time.perf_counter()
    init_db(db_path)
    company = arch.name
    with open_db(db_path) as con:
        existing = scalar(
            con, "SELECT count(*) FROM customers WHERE company_id = ?", [company]
        ) + scalar(con, "SELECT count(*) FROM reps WHERE company_id = ?", [company])
        if existing and not replace:
            raise InvalidInputError(
                f"{db_path} already holds data of company {company!r}",
                code=codes.FIXTURE_COMPANY_PRESENT,
                hint="use a new file, or --replace to regenerate it",
            )
        with transaction(con):
            if existing:
                for table in (
                    "activities",
                    "orders",
                    "stage_changes",
                    "customers",
                    "reps",
                    "ownership_events",
                    "runs",
                    "notifications",
                    "rotation_state",
                    "relay_state",
                ):
                    con.execute(f"DELETE FROM {table} WHERE company_id = ?", [company])
            con.execute(f"SET VARIABLE hs_seed = {int(seed)}")
            con.execute(_RND_MACRO)
            _build(con, arch, customers, reps, as_of)
            _insert(con, arch, company)
            summary = _summary(con, arch, company, customers, reps, seed, as_of)
    summary["seconds"] = round(time.perf_counter() - started, 2)
    return summary


def _insert(con: duckdb.DuckDBPyConnection, arch: Archetype, company: str) -> None:
    c = "'" + company.replace("'", "''") + "'"
    team = "'team-' || region"
    tier = (
        f"CASE WHEN NOT is_new AND (u_ka < {arch.key_account_share} OR idx = 3) "
        "THEN 'key-account' END"
        if arch.key_account_share
        else "NULL"
    )
    con.execute(
        f"""
        INSERT INTO reps (company_id, rep_id, name, hired_on, tier, regions, team, active,
                          left_on, away_from, away_until, weight)
        SELECT {c}, rep_id, name, hired_on, {tier},
               CASE WHEN region IS NULL THEN CAST([] AS VARCHAR[]) ELSE [region] END,
               {team}, NOT has_left, CASE WHEN has_left THEN CAST(works_until AS DATE) END,
               CASE WHEN on_leave AND NOT has_left THEN CAST(works_until AS DATE) END,
               CASE WHEN on_leave AND NOT has_left THEN CAST(works_until AS DATE)
                    + CAST(5 + floor(rnd(idx, 0, 14) * 40) AS INTEGER) END,
               NULL
        FROM _g_reps ORDER BY rep_id
        """
    )
    con.execute(
        f"""
        INSERT INTO customers (company_id, customer_id, name, country, region, source, stage,
                               tags, level, attributes, created_at, owner_rep_id, pool_id,
                               owned_since)
        SELECT {c}, customer_id, name, country, region, source, 'lead',
               CASE WHEN has_orders AND r.tier = 'key-account' THEN ['key-account']
                    WHEN has_orders AND rnd(idx, 0, 85) < 0.03 THEN ['key-account']
                    WHEN rnd(idx, 0, 86) < 0.02 THEN ['vip']
                    ELSE CAST([] AS VARCHAR[]) END,
               1 + CAST(floor(rnd(idx, 0, 87) * 5) AS INTEGER),
               {arch.attributes},
               created_at, owner_rep_id,
               CASE WHEN owner_rep_id IS NULL THEN {_pool_sql(arch, "geo_region")} END,
               owned_since
        FROM _g_cust LEFT JOIN (SELECT rep_id, {tier} AS tier FROM _g_reps) r
             ON r.rep_id = _g_cust.owner_rep_id
        LEFT JOIN (SELECT customer_id, count(*) FILTER (WHERE status = 'won') AS won_orders
                   FROM _g_ord GROUP BY 1) w USING (customer_id)
        ORDER BY customer_id
        """
    )
    con.execute(
        f"""INSERT INTO activities (company_id, activity_id, customer_id, rep_id, kind, "at")
        SELECT {c}, activity_id, customer_id, rep_id, kind, "at" FROM _g_act
        ORDER BY idx, "at", j"""
    )
    con.execute(
        f"""INSERT INTO orders (company_id, order_id, customer_id, rep_id, placed_at, amount,
                                status, closed_at)
        SELECT {c}, order_id, customer_id, rep_id, placed_at, amount, status, closed_at
        FROM _g_ord ORDER BY idx, placed_at, j"""
    )
    con.execute(
        f"""INSERT INTO stage_changes (company_id, customer_id, stage, "at")
        SELECT {c}, customer_id, stage, "at" FROM (
            -- a contract a second after its negotiation at the latest
            SELECT customer_id, idx, stage,
                   reached_at + CASE WHEN stage = 'contract' THEN INTERVAL 1 SECOND
                                     ELSE INTERVAL 0 SECOND END AS "at"
            FROM _g_stage
            UNION ALL
            SELECT customer_id, idx, 'negotiation', first_at + (reached_at - first_at) / 2
            FROM _g_stage WHERE stage = 'contract')
        ORDER BY idx, "at"
        """
    )


def _summary(
    con: duckdb.DuckDBPyConnection,
    arch: Archetype,
    company: str,
    customers: int,
    reps: int,
    seed: int,
    as_of: date,
) -> dict[str, Any]:
    def q(sql: str) -> Any:
        return scalar(con, sql, [company])

    summary: dict[str, Any] = {
        "archetype": arch.name,
        "company_id": company,
        "seed": seed,
        "as_of": as_of.isoformat(),
        "reps": q("SELECT count(*) FROM reps WHERE company_id = ?"),
        "customers": q("SELECT count(*) FROM customers WHERE company_id = ?"),
        "activities": q("SELECT count(*) FROM activities WHERE company_id = ?"),
        "orders": q("SELECT count(*) FROM orders WHERE company_id = ?"),
        "high_seas": q(
            "SELECT count(*) FROM customers WHERE company_id = ? AND owner_rep_id IS NULL"
        ),
        "never_contacted": q(
            "SELECT count(*) FROM customers c WHERE company_id = ? AND NOT EXISTS ("
            "SELECT 1 FROM activities a WHERE a.company_id = c.company_id "
            "AND a.customer_id = c.customer_id)"
        ),
        "reps_left": q("SELECT count(*) FROM reps WHERE company_id = ? AND NOT active"),
        "reps_on_leave": q(
            "SELECT count(*) FROM reps WHERE company_id = ? AND away_from IS NOT NULL"
        ),
    }
    return summary
