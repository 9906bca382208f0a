"""The fixture generator: determinism, realistic shapes, valid facts, demo db."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest

from highseas.errors import InvalidInputError
from highseas.store.db import open_db
from highseas.store.demo import DEMO_CUSTOMERS, DEMO_REPS, ensure_demo_db
from highseas.store.fixtures import (
    ARCHETYPES,
    DEFAULT_AS_OF,
    REGIONAL_TRADING_REGIONS,
    generate,
)
from highseas.store.loader import load_file

ROOT = Path(__file__).resolve().parents[2]
TABLES = ("reps", "customers", "activities", "orders")


@pytest.fixture(scope="module")
def worlds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One generated database per archetype (small)."""
    out: dict[str, Path] = {}
    for archetype in ARCHETYPES:
        path = tmp_path_factory.mktemp(archetype) / "gen.db"
        generate(path, archetype, customers=1500, reps=40, seed=11)
        out[archetype] = path
    return out


def _q(path: Path, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with open_db(path, read_only=True) as con:
        return [tuple(r) for r in con.execute(sql, list(params)).fetchall()]


def _digest(path: Path) -> dict[str, tuple[int, str]]:
    """Row count and an order-independent content hash per fact table."""
    out = {}
    for table in TABLES:
        count, digest = _q(
            path,
            f"SELECT count(*), md5(string_agg(md5(CAST(t AS VARCHAR)), ',' "
            f"ORDER BY md5(CAST(t AS VARCHAR)))) FROM {table} t",
        )[0]
        out[table] = (int(count), str(digest))
    return out


@pytest.mark.parametrize("archetype", sorted(ARCHETYPES))
def test_same_seed_same_content(worlds: dict[str, Path], tmp_path: Path, archetype: str) -> None:
    first = worlds[archetype]
    again, other = tmp_path / "again.db", tmp_path / "other.db"
    generate(again, archetype, customers=1500, reps=40, seed=11)
    generate(other, archetype, customers=1500, reps=40, seed=12)
    assert _digest(first) == _digest(again)
    assert _digest(first)["customers"] != _digest(other)["customers"]
    # physical order is deterministic too
    order = "SELECT customer_id FROM customers"
    assert _q(first, order) == _q(again, order)


@pytest.mark.parametrize("archetype", sorted(ARCHETYPES))
def test_regions_and_pools_match_the_rulesets(archetype: str) -> None:
    """Countries per region and pool ids are those of rulesets/<archetype>.yaml."""
    from highseas.ruleset.yaml_loader import load_yaml_file  # YAML 1.2: NO is Norway

    doc = load_yaml_file(ROOT / "rulesets" / f"{archetype}.yaml").data
    arch = ARCHETYPES[archetype]
    assert doc["company"]["id"] == archetype
    from_yaml = {r["id"]: tuple(r.get("countries", [])) for r in doc["regions"]}
    assert from_yaml == arch.regions
    if arch.region_code:
        region, code, _ = arch.region_code
        assert code in next(r for r in doc["regions"] if r["id"] == region)["codes"]
    pools = {p["id"] for p in doc["pools"]}
    assert set(arch.pools.values()) | {arch.default_pool} <= pools
    default = next(p["id"] for p in doc["pools"] if p.get("default"))
    assert default == arch.default_pool


def test_counts_and_company(worlds: dict[str, Path]) -> None:
    for archetype, path in worlds.items():
        rows = _q(path, "SELECT company_id, count(*) FROM customers GROUP BY 1")
        assert rows == [(archetype, 1500)]
        assert _q(path, "SELECT count(*) FROM reps") == [(40,)]
        # nothing after the end of the world
        latest = _q(
            path,
            'SELECT max(m) FROM (SELECT max("at") m FROM activities UNION ALL '
            "SELECT max(placed_at) FROM orders UNION ALL SELECT max(created_at) FROM customers "
            "UNION ALL SELECT max(owned_since) FROM customers)",
        )[0][0]
        assert latest < datetime.combine(DEFAULT_AS_OF, datetime.min.time())


def test_dormant_alibaba_leads(worlds: dict[str, Path]) -> None:
    share = _q(
        worlds["regional-trading"],
        "SELECT avg(CASE WHEN NOT EXISTS (SELECT 1 FROM activities a "
        "WHERE a.customer_id = c.customer_id) THEN 1 ELSE 0 END) "
        "FROM customers c WHERE source = 'alibaba'",
    )[0][0]
    assert 0.6 <= share <= 0.8


def test_heavy_tailed_ownership(worlds: dict[str, Path]) -> None:
    path = worlds["regional-trading"]
    loads = [
        int(r[1])
        for r in _q(
            path,
            "SELECT r.rep_id, count(c.customer_id) FROM reps r LEFT JOIN customers c "
            "ON c.owner_rep_id = r.rep_id GROUP BY 1 ORDER BY 2 DESC",
        )
    ]
    top = sum(loads[: len(loads) // 10])
    assert top >= 0.3 * sum(loads)  # top 10% of reps hold at least 30%
    new_avg, vet_avg = _q(
        path,
        "SELECT avg(n) FILTER (WHERE hired_on > DATE '2025-06-30'), "
        "avg(n) FILTER (WHERE hired_on <= DATE '2025-06-30') FROM "
        "(SELECT r.rep_id, r.hired_on, count(c.customer_id) AS n FROM reps r "
        "LEFT JOIN customers c ON c.owner_rep_id = r.rep_id GROUP BY ALL)",
    )[0]
    assert vet_avg > 3 * new_avg
    # the biggest hoarders follow up a smaller share of their customers lately
    share = _q(
        path,
        "WITH o AS (SELECT c.owner_rep_id AS rep, c.customer_id, "
        "EXISTS (SELECT 1 FROM activities a WHERE a.customer_id = c.customer_id "
        "AND a.rep_id = c.owner_rep_id AND a.\"at\" >= TIMESTAMP '2026-04-01') AS recent "
        "FROM customers c WHERE owner_rep_id IS NOT NULL), "
        "l AS (SELECT rep, count(*) AS n, avg(recent::INT) AS followed FROM o GROUP BY 1) "
        "SELECT avg(followed) FILTER (WHERE n >= (SELECT quantile_cont(n, 0.9) FROM l)), "
        "avg(followed) FILTER (WHERE n <= (SELECT quantile_cont(n, 0.5) FROM l)) FROM l",
    )[0]
    assert share[0] < share[1]


def test_history_spans_two_years_and_reps_come_and_go(worlds: dict[str, Path]) -> None:
    for path in worlds.values():
        first, last = _q(path, 'SELECT min("at"), max("at") FROM activities')[0]
        assert (last - first).days > 2 * 365
        left, away = _q(
            path,
            "SELECT count(*) FILTER (WHERE NOT active), count(*) FILTER "
            "(WHERE away_from <= DATE '2026-06-30' AND away_until >= DATE '2026-06-30') FROM reps",
        )[0]
        assert left >= 1 and away >= 1
        orphaned = _q(
            path,
            "SELECT count(*) FROM customers c JOIN reps r ON r.rep_id = c.owner_rep_id "
            "WHERE NOT r.active",
        )[0][0]
        assert orphaned > 0  # owners who left still own customers


def _median_cycle(path: Path) -> float:
    return float(
        _q(
            path,
            "SELECT median(datediff('day', f, o)) FROM (SELECT c.customer_id, "
            '(SELECT min("at") FROM activities a WHERE a.customer_id = c.customer_id) f, '
            "(SELECT min(placed_at) FROM orders o WHERE o.customer_id = c.customer_id) o "
            "FROM customers c) WHERE o IS NOT NULL",
        )[0][0]
    )


def test_conversion_cycles(worlds: dict[str, Path]) -> None:
    quick = _median_cycle(worlds["quick-order"])
    large = _median_cycle(worlds["large-project"])
    assert 7 <= quick <= 42
    assert 90 <= large <= 730
    statuses = {r[0] for r in _q(worlds["quick-order"], "SELECT DISTINCT status FROM orders")}
    assert statuses == {"open", "won", "lost"}


def test_regional_shapes(worlds: dict[str, Path]) -> None:
    path = worlds["regional-trading"]
    tiers = _q(path, "SELECT count(*) FROM reps WHERE tier = 'key-account'")[0][0]
    assert tiers >= 1
    pools = {r[0] for r in _q(path, "SELECT DISTINCT pool_id FROM customers")}
    assert {"emea-pool", "americas-pool", "apac-pool", "global-pool", None} == pools
    scored = _q(
        path,
        "SELECT count(*), min(CAST(attributes->>'credit_score' AS INTEGER)), "
        "max(CAST(attributes->>'credit_score' AS INTEGER)) FROM customers "
        "WHERE attributes IS NOT NULL",
    )[0]
    assert scored[0] > 0 and 0 <= scored[1] <= scored[2] <= 100
    # reps mostly own customers of their own region
    own_region = _q(
        path,
        "SELECT avg(CASE WHEN list_contains(r.regions, c.geo) THEN 1 ELSE 0 END) FROM "
        "(SELECT owner_rep_id, CASE "
        + " ".join(
            f"WHEN country IN ({', '.join(repr(x) for x in cs)}) THEN '{rid}'"
            for rid, cs in REGIONAL_TRADING_REGIONS.items()
        )
        + " END AS geo FROM customers WHERE owner_rep_id IS NOT NULL) c "
        "JOIN reps r ON r.rep_id = c.owner_rep_id WHERE c.geo IS NOT NULL",
    )[0][0]
    assert own_region > 0.8


def test_generated_facts_pass_the_loader(worlds: dict[str, Path], tmp_path: Path) -> None:
    """Export each table to CSV and load it into a fresh file: no rejects."""
    source = worlds["regional-trading"]
    target = tmp_path / "copy.db"
    from highseas.store.db import init_db

    init_db(target)
    with duckdb.connect(str(source), read_only=True) as con:
        for table in TABLES:
            con.execute(
                f"COPY (SELECT * EXCLUDE (company_id) FROM {table}) TO "
                f"'{tmp_path / table}.csv' (HEADER, DATEFORMAT '%Y-%m-%d')"
            )
    for table in TABLES:
        report = load_file(
            target, table, tmp_path / f"{table}.csv", "copy", now=datetime(2026, 6, 30)
        )
        assert report.ok, report.rejects[:3]
    assert _digest(target)["activities"][0] == _digest(source)["activities"][0]


def test_refuses_existing_company_unless_replace(tmp_path: Path) -> None:
    """Also the extremes: one customer and one rep; the largest seed."""
    path = tmp_path / "g.db"
    assert generate(path, "quick-order", 1, 1, seed=0)["customers"] == 1
    with pytest.raises(InvalidInputError) as caught:
        generate(path, "quick-order", 50, 3, seed=1)
    assert caught.value.first.code == "HS462"
    summary = generate(path, "quick-order", 60, 4, seed=2, replace=True)
    assert summary["customers"] == 60 and summary["reps"] == 4
    summary = generate(path, "large-project", 20, 2, seed=2**31 - 1)  # same file
    assert (summary["customers"], summary["reps"]) == (20, 2)
    assert len(_q(path, "SELECT DISTINCT company_id FROM customers")) == 2


@pytest.mark.parametrize(
    ("archetype", "customers", "reps", "seed", "code"),
    [("wholesale", 10, 1, 1, "HS460"), ("quick-order", 0, 1, 1, "HS461"),
     ("quick-order", 10, 1, -1, "HS461")],
)  # fmt: skip
def test_bad_arguments(
    tmp_path: Path, archetype: str, customers: int, reps: int, seed: int, code: str
) -> None:
    with pytest.raises(InvalidInputError) as caught:
        generate(tmp_path / "x.db", archetype, customers, reps, seed)
    assert caught.value.first.code == code


def test_as_of_moves_the_world(tmp_path: Path) -> None:
    path = tmp_path / "g.db"
    generate(path, "quick-order", 200, 5, seed=3, as_of=date(2020, 1, 31))
    latest = _q(path, 'SELECT max("at") FROM activities')[0][0]
    assert latest < datetime(2020, 1, 31)


def test_demo_db_created_once(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "demo.db"
    assert ensure_demo_db(path) == path
    counts = _q(path, "SELECT (SELECT count(*) FROM customers), (SELECT count(*) FROM reps)")
    assert counts == [(DEMO_CUSTOMERS, DEMO_REPS)]
    stamp = path.stat().st_mtime_ns
    ensure_demo_db(path)
    assert path.stat().st_mtime_ns == stamp
    assert [p.name for p in path.parent.iterdir()] == ["demo.db"]
