"""``highseas advise``: the idle period recommended from recorded history."""

from __future__ import annotations

import html
import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from highseas.errors import InvalidInputError
from highseas.simulate import advise
from highseas.simulate.advice import distribution

ROOT = Path(__file__).resolve().parents[2]
CYCLE = 45  # days from the last touch to the order, for most customers


def _insert(con: Any, target: str, rows: list[list[Any]]) -> None:
    """Bulk insert through an Arrow table (row-by-row inserts are slow)."""
    import pyarrow as pa

    columns = {f"c{i}": [row[i] for row in rows] for i in range(len(rows[0]))}
    con.register("hs_test_rows", pa.table(columns))
    con.execute(f"INSERT INTO {target} SELECT * FROM hs_test_rows")
    con.unregister("hs_test_rows")


def _history(path: Path, company: str = "acme", customers: int = 200,
             cycle: int = CYCLE) -> Path:
    """Each customer: created and contacted on day 0, followed up every 10
    days for a while, then ordering ``cycle - (i % 10)`` days after the last
    touch (so 10% take exactly ``cycle`` days, none longer)."""
    from highseas.store.db import init_db, open_db

    init_db(path)
    start = datetime(2025, 1, 6, 10, 0)
    people, acts, orders = [], [], []
    for i in range(customers):
        created = start + timedelta(days=i)
        customer = f"c{i:04d}"
        people.append([company, customer, f"Customer {i}", created, created, "r1"])
        touches = [created + timedelta(days=10 * k) for k in range(i % 4 + 1)]
        acts += [[company, f"a{i}-{n}", customer, "r1", "call", at] for n, at in enumerate(touches)]
        placed = touches[-1] + timedelta(days=cycle - (i % 10), hours=3)
        # importers record the win itself as an activity at the order's moment:
        # it is the order, not a touch before it
        acts.append([company, f"w{i}", customer, "r1", "won", placed])
        orders.append([company, f"o{i}", customer, placed, 100, "won"])
        # a lost deal is not a sale: it must not move the recommendation
        orders.append([company, f"x{i}", customer, placed + timedelta(days=400), 5, "lost"])
    with open_db(path) as con:
        con.execute("INSERT INTO reps (company_id, rep_id, name, hired_on) VALUES "
                    "(?, 'r1', 'R One', DATE '2020-01-01')", [company])
        _insert(con, "customers (company_id, customer_id, name, created_at, owned_since, "
                "owner_rep_id)", people)
        _insert(con, "activities", acts)
        _insert(con, "orders (company_id, order_id, customer_id, placed_at, amount, status)",
                orders)
    return path


def test_recovers_a_known_conversion_cycle_within_a_day(tmp_path: Path) -> None:
    advice = advise(_history(tmp_path / "h.duckdb"))
    assert advice.recommended_days is not None
    assert abs(advice.recommended_days - CYCLE) <= 1
    assert advice.orders == 200 and advice.customers_with_orders == 200
    assert advice.share_released(CYCLE) <= 0.05
    assert advice.share_released(CYCLE - 2) > 0.05
    assert advice.touch_to_order.percentiles["p50"] == CYCLE - 5
    assert advice.touch_to_order.maximum == CYCLE


@pytest.mark.parametrize("cycle", [14, 90])
def test_other_cycles_and_a_looser_target(tmp_path: Path, cycle: int) -> None:
    db = _history(tmp_path / f"h{cycle}.duckdb", cycle=cycle)
    assert abs(advise(db).recommended_days - cycle) <= 1  # type: ignore[operator]
    # allowing 25% of orders to be released recommends a shorter period
    looser = advise(db, max_share=0.25).recommended_days
    assert looser is not None and looser < cycle - 1


def test_current_rules_are_compared(tmp_path: Path) -> None:
    import yaml

    document = yaml.safe_load((ROOT / "rulesets" / "quick-order.yaml").read_text())
    document["company"]["id"] = "acme"
    ruleset = tmp_path / "acme.yaml"
    ruleset.write_text(yaml.safe_dump(document, sort_keys=False))
    advice = advise(_history(tmp_path / "h.duckdb"), ruleset)
    days, share = advice.current["idle-14d"]
    assert days == 14 and share == 1.0  # every order waited longer than two weeks
    assert "current rule idle-14d" in advice.format_text()


def test_the_advice_says_plainly_that_it_ignores_exemptions(tmp_path: Path) -> None:
    """quick-order's idle rule exempts open orders and key accounts: the
    figure counts every order, and says so beside it and under the curve."""
    import yaml

    from highseas.simulate.advice import IGNORES

    document = yaml.safe_load((ROOT / "rulesets" / "quick-order.yaml").read_text())
    document["company"]["id"] = "acme"
    ruleset = tmp_path / "acme.yaml"
    ruleset.write_text(yaml.safe_dump(document, sort_keys=False))
    out = tmp_path / "advice"
    advice = advise(_history(tmp_path / "h.duckdb"), ruleset, out=out)
    line = next(line for line in advice.format_text().splitlines()
                if "current rule idle-14d" in line)
    assert line.endswith("of orders, ignoring its exemptions (unless any(has_open_order: "
                         "true, tags any [key-account, vip], reorder_customer = true))")
    assert advice.format_text().splitlines()[-1] == f"  {IGNORES}"
    assert "exemptions are not applied" in IGNORES
    page = (out / "advice.html").read_text(encoding="utf-8")
    method = re.search(r'<h2>How this advice is computed</h2><p id="method">(.*?)</p>', page)
    assert method is not None
    paragraph = html.unescape(method.group(1))
    for words in ("longest silence", "'won'", "at most 5%", "ignore a rule's exemptions",
                  "idle_for: P"):
        assert words in paragraph, words


def test_outputs_and_cli(tmp_path: Path) -> None:
    from highseas.cli import main

    db = _history(tmp_path / "h.duckdb")
    out = tmp_path / "advice"
    outcome = CliRunner().invoke(main, ["advise", "--db", str(db), "--out", str(out)])
    assert outcome.exit_code == 0, outcome.output
    assert f"recommended idle period: {CYCLE}d" in outcome.output
    assert (out / "advise_curve.png").stat().st_size > 10_000
    assert (out / "advise_curve.parquet").read_bytes()[:4] == b"PAR1"
    assert "recommended idle period" in (out / "advice.html").read_text()


def test_several_companies_need_a_choice(tmp_path: Path) -> None:
    db = _history(tmp_path / "h.duckdb")
    from highseas.store.db import open_db

    with open_db(db) as con:
        con.execute("INSERT INTO customers (company_id, customer_id, name, created_at) "
                    "VALUES ('other', 'c1', 'x', TIMESTAMP '2025-01-01')")
    with pytest.raises(InvalidInputError) as caught:
        advise(db)
    assert caught.value.first.code == "HS710"
    assert advise(db, company_id="acme").recommended_days == CYCLE
    with pytest.raises(InvalidInputError) as caught:
        advise(db, company_id="acm")
    assert "did you mean 'acme'?" in caught.value.first.hint


def test_order_statuses_to_count(tmp_path: Path) -> None:
    db = _history(tmp_path / "h.duckdb")
    lost = advise(db, statuses=["lost"])
    assert lost.orders == 200
    assert lost.recommended_days is not None and lost.recommended_days > CYCLE + 300


def test_no_orders_gives_no_recommendation(tmp_path: Path) -> None:
    from highseas.store.db import init_db, open_db

    db = tmp_path / "empty.duckdb"
    init_db(db)
    with open_db(db) as con:
        con.execute("INSERT INTO customers (company_id, customer_id, name, created_at) "
                    "VALUES ('acme', 'c1', 'x', TIMESTAMP '2025-01-01')")
    advice = advise(db)
    assert advice.recommended_days is None and advice.orders == 0
    assert "no recommendation" in advice.format_text()


def test_distribution_percentiles() -> None:
    dist = distribution(list(range(1, 101)))
    assert dist.percentiles == {"p50": 50, "p75": 75, "p90": 90, "p95": 95, "p99": 99}
    assert dist.maximum == 100 and dist.count == 100
    assert distribution([]).mean is None
