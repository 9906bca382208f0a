"""Importers: the CRM sample in fixtures/, synthetic Olist rows, and both real
data sets in ../shared/data when that folder exists (the test says so)."""

from __future__ import annotations

import csv
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from highseas.errors import InvalidInputError
from highseas.store.db import open_db
from highseas.store.imports import (
    CRM_COMPANY,
    OLIST_COMPANY,
    import_crm_sales_opportunities,
    import_olist_marketing_funnel,
)

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "fixtures" / "crm-sales-opportunities-sample"
SHARED = ROOT.parent / "shared" / "data"


def _q(path: Path, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with open_db(path, read_only=True) as con:
        return [tuple(r) for r in con.execute(sql, list(params)).fetchall()]


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _check_crm(db: Path, folder: Path) -> None:
    """Compare the imported company with counts taken by the csv module."""
    pipeline = _rows(folder / "sales_pipeline.csv")
    teams = _rows(folder / "sales_teams.csv")
    count = {
        t: _q(db, f"SELECT count(*) FROM {t} WHERE company_id = ?", CRM_COMPANY)[0][0]
        for t in ("reps", "customers", "activities", "orders")
    }
    assert count["customers"] == len(pipeline)
    assert count["reps"] == len({r["sales_agent"] for r in teams + pipeline})
    assert count["activities"] == sum(
        bool(r["engage_date"]) + bool(r["close_date"]) for r in pipeline
    )
    assert count["orders"] == sum(r["deal_stage"] != "Prospecting" for r in pipeline)
    regions = _q(db, "SELECT DISTINCT unnest(regions) FROM reps ORDER BY 1")
    assert [r[0] for r in regions] == sorted({r["regional_office"].lower() for r in teams})
    won = sum(Decimal(r["close_value"]) for r in pipeline if r["deal_stage"] == "Won")
    assert _q(db, "SELECT sum(amount) FROM orders WHERE status = 'won'")[0][0] == won
    never = _q(
        db,
        "SELECT count(*) FROM customers c WHERE NOT EXISTS (SELECT 1 FROM activities a "
        "WHERE a.customer_id = c.customer_id)",
    )[0][0]
    assert never == sum(not r["engage_date"] for r in pipeline)
    # every opportunity sits in its agent's private sea
    assert _q(db, "SELECT count(*) FROM customers WHERE owner_rep_id IS NULL") == [(0,)]
    # Lost deals are lost orders worth what the file says (0), Engaging ones open
    by_status = dict(_q(db, "SELECT status, count(*) FROM orders GROUP BY 1"))
    assert by_status.get("lost", 0) == sum(r["deal_stage"] == "Lost" for r in pipeline)
    assert by_status.get("open", 0) == sum(r["deal_stage"] == "Engaging" for r in pipeline)
    lost_values = {Decimal(r["close_value"]) for r in pipeline if r["deal_stage"] == "Lost"}
    stored = {row[0] for row in _q(db, "SELECT amount FROM orders WHERE status = 'lost'")}
    assert stored == lost_values
    assert _q(db, "SELECT count(*) FROM orders WHERE status = 'open' AND amount IS NOT NULL"
              ) == [(0,)]
    # dated: placed when engaged, closed (won / lost) on the close date; the
    # stage is engaging from the engage date, then won / lost from the close date
    by_id = {r["opportunity_id"]: r for r in pipeline}
    for order_id, placed, closed, status in _q(
        db, "SELECT order_id, CAST(placed_at AS DATE)::VARCHAR, "
            "CAST(closed_at AS DATE)::VARCHAR, status FROM orders"
    ):
        source = by_id[order_id]
        assert placed == source["engage_date"]
        assert closed == (source["close_date"] or None)
        assert (closed is None) == (status == "open")
    changes = _q(db, "SELECT customer_id, stage, CAST(\"at\" AS DATE)::VARCHAR "
                     "FROM stage_changes")
    assert sorted(changes) == sorted(
        (r["opportunity_id"], r["deal_stage"].lower(), r["close_date"])
        for r in pipeline if r["deal_stage"] in ("Won", "Lost")
    )
    first = dict(_q(db, "SELECT customer_id, stage FROM customers"))
    assert all(first[r["opportunity_id"]] == ("engaging" if r["engage_date"] else "prospecting")
               for r in pipeline)


def test_crm_sample(tmp_path: Path) -> None:
    db = tmp_path / "crm.db"
    report = import_crm_sales_opportunities(db, SAMPLE)
    _check_crm(db, SAMPLE)
    text = "\n".join(report.lines())
    assert "blank account" in text and "'GTXPro'" in text and "technolgy" in text
    assert report.counts["regions"] == 3
    # GTXPro found its list price despite the spelling
    prices = _q(
        db,
        "SELECT DISTINCT attributes->>'list_price' FROM customers "
        "WHERE attributes->>'product' = 'GTXPro'",
    )
    assert [float(p[0]) for p in prices] == [4821.0]
    with pytest.raises(InvalidInputError) as caught:
        import_crm_sales_opportunities(db, SAMPLE)
    assert caught.value.first.code == "HS453"
    import_crm_sales_opportunities(db, SAMPLE, replace=True)
    _check_crm(db, SAMPLE)


def test_crm_real_data_counts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = SHARED / "crm-sales-opportunities"
    if not folder.is_dir():
        with capsys.disabled():
            print(f"\nNOTE: {folder} not found: the CRM importer was checked on the sample only")
        return
    db = tmp_path / "crm.db"
    report = import_crm_sales_opportunities(db, folder)
    assert report.counts["customers"] == 8800
    assert report.counts["reps"] == 35
    assert report.counts["regions"] == 3
    stages = dict(_q(db, "SELECT coalesce(s.stage, c.stage), count(*) FROM customers c "
                         "LEFT JOIN stage_changes s USING (customer_id) GROUP BY 1"))
    assert stages == {"won": 4238, "lost": 2473, "engaging": 1589, "prospecting": 500}
    _check_crm(db, folder)
    text = "\n".join(report.lines())
    assert "1088 Engaging opportunities have a blank account" in text
    assert "337 Prospecting opportunities have a blank account" in text


_MQL_HEADER = "mql_id,first_contact_date,landing_page_id,origin\n"
_WON_HEADER = (
    "mql_id,seller_id,sdr_id,sr_id,won_date,business_segment,lead_type,"
    "lead_behaviour_profile,has_company,has_gtin,average_stock,business_type,"
    "declared_product_catalog_size,declared_monthly_revenue\n"
)


def _olist_synthetic(folder: Path, sellers: bool = True) -> None:
    folder.mkdir()
    (folder / "olist_marketing_qualified_leads_dataset.csv").write_text(
        _MQL_HEADER
        + "m1,2018-01-10,lp1,organic_search\n"
        + "m2,2018-01-11,lp2,\n"
        + "m3,2018-02-01,lp1,paid_search\n"
        + "m4,2018-03-05,lp3,social\n"
    )
    (folder / "olist_closed_deals_dataset.csv").write_text(
        _WON_HEADER
        + "m1,s1,sdrA,srX,2018-01-30 10:15:00,pet,online_medium,cat,,,,reseller,,0.0\n"
        + "m3,s3,srX,srY,2018-01-30 08:00:00,toys,industry,eagle,,,,manufacturer,,5000.0\n"
    )
    if sellers:
        (folder / "olist_sellers_dataset.csv").write_text(
            "seller_id,seller_zip_code_prefix,seller_city,seller_state\ns1,4195,sao paulo,SP\n"
        )


def test_olist_synthetic(tmp_path: Path) -> None:
    folder = tmp_path / "olist"
    _olist_synthetic(folder)
    db = tmp_path / "olist.db"
    report = import_olist_marketing_funnel(db, folder)
    assert report.counts == {
        "reps": 3,  # sdrA, srX (both roles), srY
        "customers": 4,
        "activities": 6,
        "orders": 2,
        "regions": 0,
    }
    rows = {
        r[0]: r[1:]
        for r in _q(
            db,
            "SELECT customer_id, owner_rep_id, pool_id, region, source, stage, "
            "CAST(owned_since AS VARCHAR) FROM customers",
        )
    }
    assert rows["m1"] == ("srX", None, "SP", "organic_search", "lead", "2018-01-30 10:15:00")
    # the stage history: won from the won date (m3, won before its first
    # contact, from its first contact); the won orders closed when placed
    assert _q(db, "SELECT customer_id, stage, CAST(\"at\" AS VARCHAR) FROM stage_changes "
                  "ORDER BY 1") == [("m1", "won", "2018-01-30 10:15:00"),
                                    ("m3", "won", "2018-02-01 00:00:00")]
    assert _q(db, "SELECT count(*) FROM orders WHERE closed_at = placed_at") == [(2,)]
    assert rows["m2"] == (None, "default", None, None, "lead", None)
    assert rows["m3"][0] == "srY"
    attributes = dict(_q(db, "SELECT customer_id, attributes->>'business_segment' "
                             "FROM customers"))
    assert attributes["m1"] == "pet"  # the closed deal's business segment
    assert attributes["m2"] is None  # never closed: no segment
    names = dict(_q(db, "SELECT rep_id, name FROM reps"))
    assert names["srX"].startswith("SR/SDR") and names["sdrA"].startswith("SDR ")
    text = "\n".join(report.lines())
    assert "1 leads have a blank origin" in text
    assert "won before their first contact" in text  # m3
    assert "1 rep ids act both as SDR and as SR" in text
    assert "known for 1 of 2 won leads" in text


def test_olist_without_sellers_file(tmp_path: Path) -> None:
    folder = tmp_path / "olist"
    _olist_synthetic(folder, sellers=False)
    report = import_olist_marketing_funnel(tmp_path / "o.db", folder, company_id="olist-2")
    assert report.company_id == "olist-2"
    assert any("absent" in q for q in report.quirks)


def test_olist_real_data_counts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = SHARED / "olist-marketing-funnel"
    if not folder.is_dir():
        with capsys.disabled():
            print(f"\nNOTE: {folder} not found: the Olist importer was checked on synthetic rows")
        return
    db = tmp_path / "olist.db"
    report = import_olist_marketing_funnel(db, folder)
    assert report.counts["customers"] == 8000
    assert report.counts["orders"] == 842
    assert report.counts["reps"] == 32 + 22 - 13
    owned = _q(db, "SELECT count(*) FROM customers WHERE owner_rep_id IS NOT NULL")[0][0]
    assert owned == 842
    assert _q(db, "SELECT count(*) FROM customers WHERE company_id = ?", OLIST_COMPANY) == [(8000,)]


def test_import_errors(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError) as caught:
        import_crm_sales_opportunities(tmp_path / "x.db", tmp_path / "nowhere")
    assert caught.value.first.code == "HS450"
    folder = tmp_path / "olist"
    _olist_synthetic(folder)
    (folder / "olist_closed_deals_dataset.csv").unlink()
    with pytest.raises(InvalidInputError) as caught:
        import_olist_marketing_funnel(tmp_path / "x.db", folder)
    assert caught.value.first.code == "HS450"
    (folder / "olist_closed_deals_dataset.csv").write_text("mql_id,won_date\nm1,2018-01-01\n")
    with pytest.raises(InvalidInputError) as caught:
        import_olist_marketing_funnel(tmp_path / "x.db", folder)
    assert caught.value.first.code == "HS452"
    assert "seller_id" in caught.value.first.message


def test_failed_reimport_leaves_the_company_as_it_was(tmp_path: Path) -> None:
    """--replace deletes and rewrites in one transaction: a bad source rolls back."""
    db = tmp_path / "crm.db"
    import_crm_sales_opportunities(db, SAMPLE)
    before = _q(db, "SELECT count(*), max(customer_id) FROM customers")
    broken = tmp_path / "broken"
    shutil.copytree(SAMPLE, broken)
    pipeline = broken / "sales_pipeline.csv"
    lines = pipeline.read_text(encoding="utf-8").splitlines(keepends=True)
    pipeline.write_text("".join(lines + lines[1:3]), encoding="utf-8")  # repeat two ids
    with pytest.raises(InvalidInputError) as caught:
        import_crm_sales_opportunities(db, broken, replace=True)
    assert caught.value.first.code == "HS454"
    assert _q(db, "SELECT count(*), max(customer_id) FROM customers") == before


def test_import_refuses_a_company_id_no_ruleset_could_name(tmp_path: Path) -> None:
    db = tmp_path / "crm.db"
    with pytest.raises(InvalidInputError) as caught:
        import_crm_sales_opportunities(db, SAMPLE, company_id="ACME'; DROP TABLE reps; --")
    assert caught.value.first.code == "HS406"
    assert not db.exists()  # refused before anything was created
    with pytest.raises(InvalidInputError) as caught:
        import_olist_marketing_funnel(db, tmp_path, pool_id="Leads'); --")
    assert caught.value.first.code == "HS406" and "pool id" in caught.value.first.message
    assert not db.exists()


def test_import_reads_a_folder_whose_name_holds_quotes(tmp_path: Path) -> None:
    folder = tmp_path / "it's \"crm\"; DROP TABLE reps"
    shutil.copytree(SAMPLE, folder)
    db = tmp_path / "crm.db"
    import_crm_sales_opportunities(db, folder)
    _check_crm(db, SAMPLE)



def test_an_interrupted_read_is_an_interrupt_not_an_unreadable_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """DuckDB answers Ctrl-C during a query with its InterruptException (older
    versions, or an interrupt from another thread), a ``duckdb.Error``: the
    import rolls back and raises KeyboardInterrupt, not HS451."""
    import duckdb

    from highseas.store import imports

    db = tmp_path / "crm.db"
    import_crm_sales_opportunities(db, SAMPLE)
    before = _q(db, "SELECT count(*), max(customer_id) FROM customers")
    opened = imports.open_db

    class Interrupted:
        def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
            self.con = con

        def execute(self, sql: str, *args: Any) -> Any:
            if "read_csv" in sql:
                raise duckdb.InterruptException("INTERRUPT Error: Interrupted!")
            return self.con.execute(sql, *args)

    @contextmanager
    def interrupting(path: Path) -> Iterator[Interrupted]:
        with opened(path) as con:
            yield Interrupted(con)

    monkeypatch.setattr(imports, "open_db", interrupting)
    with pytest.raises(KeyboardInterrupt):
        import_crm_sales_opportunities(db, SAMPLE, replace=True)
    assert _q(db, "SELECT count(*), max(customer_id) FROM customers") == before
