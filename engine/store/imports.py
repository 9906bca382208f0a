"""Importers of public CRM data sets into the facts store.

* ``crm-sales-opportunities`` (Maven Analytics): each opportunity becomes a
  customer in its sales agent's private sea.
* ``olist-marketing-funnel`` (Olist, Kaggle): each marketing-qualified lead
  becomes a customer; won ones are owned by their sales rep.

Both read the CSVs with DuckDB, map them in set-based SQL inside one
transaction, and return an :class:`ImportReport` whose ``quirks`` list every
oddity of the source that was kept or mapped (never silently dropped).
The mappings are documented in docs/data-model.md.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from highseas import codes
from highseas.errors import InvalidInputError, is_duckdb_interrupt
from highseas.store.countries import NAME_TO_CODE
from highseas.store.db import PathLike, init_db, open_db, scalar, transaction
from highseas.store.freshness import record_import
from highseas.store.loader import check_company_id

if TYPE_CHECKING:
    import duckdb

CRM_COMPANY = "crm-sales-opportunities"
OLIST_COMPANY = "olist-marketing-funnel"

#: Files and the columns each importer needs.
CRM_FILES: dict[str, tuple[str, ...]] = {
    "sales_pipeline.csv": (
        "opportunity_id", "sales_agent", "product", "account", "deal_stage",
        "engage_date", "close_date", "close_value",
    ),
    "sales_teams.csv": ("sales_agent", "manager", "regional_office"),
    "accounts.csv": (
        "account", "sector", "year_established", "revenue", "employees",
        "office_location", "subsidiary_of",
    ),
    "products.csv": ("product", "series", "sales_price"),
}  # fmt: skip
OLIST_FILES: dict[str, tuple[str, ...]] = {
    "olist_marketing_qualified_leads_dataset.csv": (
        "mql_id", "first_contact_date", "landing_page_id", "origin",
    ),
    "olist_closed_deals_dataset.csv": (
        "mql_id", "seller_id", "sdr_id", "sr_id", "won_date", "business_segment",
        "lead_type", "business_type", "declared_monthly_revenue",
    ),
}  # fmt: skip
OLIST_SELLERS = "olist_sellers_dataset.csv"

#: Misspellings known in the CRM data set: kept as they are, reported.
_KNOWN_MISSPELLINGS = {"technolgy": "technology", "philipines": "philippines"}

_TABLES = (
    "activities", "orders", "stage_changes", "customers", "reps", "ownership_events", "runs",
    "notifications", "rotation_state", "relay_state",
)  # fmt: skip


@dataclass
class ImportReport:
    """What an import wrote, and what it noticed about the source."""

    source: str
    directory: str
    company_id: str
    counts: dict[str, int] = field(default_factory=dict)
    quirks: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def lines(self) -> list[str]:
        """A human report: counts, then one line per quirk."""
        out = [
            f"imported {self.source} from {self.directory} as company {self.company_id} "
            f"in {self.seconds:.2f}s",
            "  " + ", ".join(f"{k}: {v}" for k, v in self.counts.items()),
        ]
        if self.quirks:
            out.append(f"quirks of the source ({len(self.quirks)}), kept visible:")
            out.extend(f"  - {q}" for q in self.quirks)
        return out


def _lit(text: str) -> str:
    """A SQL string literal, for this module's constants and for ids already
    checked against the id pattern (company and pool ids); never for paths
    or file contents."""
    return "'" + text.replace("'", "''") + "'"


def _read(con: duckdb.DuckDBPyConnection, name: str, path: Path, columns: tuple[str, ...]) -> None:
    """Read CSV ``path`` (all text, blanks as NULL) into temp table ``name``."""
    import duckdb

    try:
        con.execute(
            f"CREATE TEMP TABLE {name} AS SELECT * FROM read_csv($path, "
            "all_varchar = true, header = true)",
            {"path": str(path)},
        )
    except duckdb.Error as error:
        if is_duckdb_interrupt(error):  # Ctrl-C while DuckDB reads: not a bad file
            raise KeyboardInterrupt from None
        raise InvalidInputError(
            f"cannot read {path}: {str(error).splitlines()[0]}",
            code=codes.IMPORT_CSV_UNREADABLE,
            file=str(path),
        ) from None
    present = {str(r[0]) for r in con.execute(f"DESCRIBE {name}").fetchall()}
    missing = [c for c in columns if c not in present]
    if missing:
        raise InvalidInputError(
            f"{path.name} lacks column(s) {', '.join(missing)}",
            code=codes.IMPORT_COLUMN_MISSING,
            file=str(path),
            hint="is this the right data set folder?",
        )
    sets = ", ".join(f'"{c}" = NULLIF(trim("{c}"), \'\')' for c in sorted(present))
    con.execute(f"UPDATE {name} SET {sets}")


def _check_dir(directory: PathLike, files: dict[str, tuple[str, ...]]) -> Path:
    folder = Path(directory)
    if not folder.is_dir():
        raise InvalidInputError(
            f"no such folder: {folder}", code=codes.IMPORT_SOURCE_MISSING, file=str(folder)
        )
    missing = [f for f in files if not (folder / f).is_file()]
    if missing:
        raise InvalidInputError(
            f"{folder} lacks {', '.join(missing)}",
            code=codes.IMPORT_SOURCE_MISSING,
            file=str(folder),
            hint=f"expected files: {', '.join(files)}",
        )
    return folder


def _prepare(
    con: duckdb.DuckDBPyConnection, db_path: PathLike, company: str, replace: bool
) -> None:
    existing = int(scalar(con, "SELECT count(*) FROM customers WHERE company_id = ?", [company]))
    existing += int(scalar(con, "SELECT count(*) FROM reps WHERE company_id = ?", [company]))
    if existing and not replace:
        raise InvalidInputError(
            f"{db_path} already holds data of company {company!r}",
            code=codes.IMPORT_COMPANY_PRESENT,
            hint="use a new file, another --company, or --replace",
        )
    for table in _TABLES:
        con.execute(f"DELETE FROM {table} WHERE company_id = ?", [company])


def _counts(con: duckdb.DuckDBPyConnection, company: str) -> dict[str, int]:
    counts = {
        t: int(scalar(con, f"SELECT count(*) FROM {t} WHERE company_id = ?", [company]))
        for t in ("reps", "customers", "activities", "orders")
    }
    counts["regions"] = int(
        scalar(
            con,
            "SELECT count(DISTINCT r) FROM (SELECT unnest(regions) AS r FROM reps "
            "WHERE company_id = ?)",
            [company],
        )
    )
    return counts


def import_crm_sales_opportunities(
    db_path: PathLike,
    directory: PathLike,
    company_id: str = CRM_COMPANY,
    *,
    replace: bool = False,
    load_id: str | None = None,
) -> ImportReport:
    """Import the Maven Analytics CRM sales opportunities files in ``directory``.

    Agents become reps (region = regional office, lowercased; team = manager),
    opportunities become customers in their agent's private sea, engage and
    close dates become activities, deals become orders placed at the engage
    date (Won: won with close_value, closed at the close date; Lost: lost, 0,
    closed at the close date; Engaging: open, no amount). The stage history:
    ``engaging`` from the engage date, ``won`` / ``lost`` from the close date.
    Prospecting opportunities are in stage ``prospecting`` and get no
    activity (never contacted). The import is recorded under ``load_id``
    (default: a new id; see highseas.store.freshness.find_load).
    """
    check_company_id(company_id)
    started = time.perf_counter()
    folder = _check_dir(directory, CRM_FILES)
    init_db(db_path)
    report = ImportReport(CRM_COMPANY, str(folder), company_id)
    c = _lit(company_id)
    names = ", ".join(f"({_lit(k)}, {_lit(v)})" for k, v in NAME_TO_CODE.items())
    fixes = ", ".join(f"({_lit(k)}, {_lit(v)})" for k, v in _KNOWN_MISSPELLINGS.items())
    with open_db(db_path) as con:
        with transaction(con):
            _prepare(con, db_path, company_id, replace)
            for file, columns in CRM_FILES.items():
                _read(con, "_" + file.removesuffix(".csv"), folder / file, columns)
            con.execute(f"CREATE TEMP TABLE _names AS SELECT * FROM (VALUES {names}) t(n, code)")
            con.execute(f"CREATE TEMP TABLE _fixes AS SELECT * FROM (VALUES {fixes}) t(bad, good)")
            report.quirks.extend(_crm_checks(con))
            con.execute(_CRM_SQL.format(c=c))
            con.execute(_CRM_INSERT.format(c=c))
            report.counts = _counts(con, company_id)
            record_import(con, company_id, str(folder), load_id)
    report.seconds = time.perf_counter() - started
    return report


def _crm_checks(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The CRM data set's quirks, measured (empty findings are not reported)."""
    quirks: list[str] = []

    def rows(sql: str) -> list[tuple[object, ...]]:
        return [tuple(r) for r in con.execute(sql).fetchall()]

    dup = scalar(con, "SELECT count(*) - count(DISTINCT opportunity_id) FROM _sales_pipeline")
    if dup:
        raise InvalidInputError(
            f"sales_pipeline.csv repeats {dup} opportunity_id(s)", code=codes.IMPORT_IDS_REPEATED
        )
    for stage, n in rows(
        "SELECT deal_stage, count(*) FROM _sales_pipeline WHERE account IS NULL "
        "GROUP BY 1 ORDER BY 1"
    ):
        quirks.append(
            f"{n} {stage} opportunities have a blank account: imported with name "
            "'(no account) <opportunity_id>' and no country"
        )
    for product, n, match in rows(
        "SELECT p.product, count(*), any_value(k.product) FROM _sales_pipeline p "
        "LEFT JOIN _products k ON replace(k.product, ' ', '') = replace(p.product, ' ', '') "
        "WHERE p.product NOT IN (SELECT product FROM _products) GROUP BY 1 ORDER BY 1"
    ):
        how = f"matched to {match!r} ignoring spaces" if match else "no list price"
        quirks.append(
            f"product {product!r} ({n} opportunities) is not in products.csv: {how}; "
            "attributes.product keeps the source spelling"
        )
    for bad, good, where, n in rows(
        "SELECT bad, good, 'sector', count(*) FROM _accounts JOIN _fixes "
        "ON lower(sector) = bad GROUP BY ALL UNION ALL "
        "SELECT bad, good, 'office_location', count(*) FROM _accounts JOIN _fixes "
        "ON lower(office_location) = bad GROUP BY ALL ORDER BY 1"
    ):
        effect = (
            "kept in attributes, country mapped by the corrected name"
            if where == "office_location"
            else "kept as it is in attributes.sector"
        )
        quirks.append(
            f"accounts.{where} {bad!r} ({n} accounts) is a misspelling of {good!r}: {effect}"
        )
    unmapped = rows(
        "SELECT DISTINCT office_location FROM _accounts WHERE office_location IS NOT NULL "
        "AND lower(coalesce((SELECT good FROM _fixes WHERE bad = lower(office_location)), "
        "office_location)) NOT IN (SELECT n FROM _names) ORDER BY 1"
    )
    if unmapped:
        quirks.append(
            "office locations with no ISO code (country left blank): "
            + ", ".join(str(r[0]) for r in unmapped)
        )
    idle = rows(
        "SELECT sales_agent FROM _sales_teams WHERE sales_agent NOT IN "
        "(SELECT sales_agent FROM _sales_pipeline) ORDER BY 1"
    )
    if idle:
        quirks.append(
            f"{len(idle)} agents have no opportunities ({', '.join(str(r[0]) for r in idle)}): "
            "imported as reps hired on the data set's last date"
        )
    strangers = rows(
        "SELECT DISTINCT sales_agent FROM _sales_pipeline WHERE sales_agent NOT IN "
        "(SELECT sales_agent FROM _sales_teams) ORDER BY 1"
    )
    if strangers:
        quirks.append(
            "agents in sales_pipeline.csv but not in sales_teams.csv (imported without "
            "region or team): " + ", ".join(str(r[0]) for r in strangers)
        )
    no_date = scalar(con, "SELECT count(*) FROM _sales_pipeline WHERE engage_date IS NULL")
    if no_date:
        first = scalar(con, "SELECT min(engage_date) FROM _sales_pipeline")
        quirks.append(
            f"{no_date} opportunities have no engage date (never contacted): created_at is "
            f"unknown and set to the data set's first date, {first}"
        )
    unknown_accounts = scalar(
        con,
        "SELECT count(DISTINCT account) FROM _sales_pipeline WHERE account IS NOT NULL "
        "AND account NOT IN (SELECT account FROM _accounts)",
    )
    if unknown_accounts:
        quirks.append(f"{unknown_accounts} accounts in the pipeline are not in accounts.csv")
    shared = scalar(
        con,
        "SELECT count(*) FROM (SELECT account FROM _sales_pipeline WHERE account IS NOT NULL "
        "GROUP BY 1 HAVING count(DISTINCT sales_agent) > 1)",
    )
    if shared:
        quirks.append(
            f"{shared} accounts have opportunities with several agents: the account is an "
            "attribute of each opportunity-customer, not an owner key"
        )
    return quirks


# Staging: one row per rep and per opportunity, with everything derived.
_CRM_SQL = """
CREATE TEMP TABLE _reps_all AS
SELECT agent, lower(regexp_replace(trim(agent), '[^A-Za-z0-9]+', '-', 'g')) AS rep_id,
       t.manager, lower(t.regional_office) AS region,
       coalesce((SELECT CAST(min(CAST(engage_date AS DATE)) AS DATE) FROM _sales_pipeline p
                 WHERE p.sales_agent = agent),
                (SELECT max(greatest(CAST(engage_date AS DATE),
                                     coalesce(CAST(close_date AS DATE), DATE '1900-01-01')))
                 FROM _sales_pipeline)) AS hired_on
FROM (SELECT sales_agent AS agent FROM _sales_teams
      UNION SELECT sales_agent FROM _sales_pipeline) a
LEFT JOIN _sales_teams t ON t.sales_agent = a.agent;

CREATE TEMP TABLE _opps AS
SELECT p.*, r.rep_id, a.sector, a.office_location, a.subsidiary_of, k.series,
       k.product AS list_product, CAST(k.sales_price AS DECIMAL(18, 2)) AS list_price,
       coalesce(CAST(p.engage_date AS TIMESTAMP),
                (SELECT CAST(min(CAST(engage_date AS DATE)) AS TIMESTAMP)
                 FROM _sales_pipeline)) AS created,
       (SELECT code FROM _names WHERE n = lower(coalesce(
            (SELECT good FROM _fixes WHERE bad = lower(a.office_location)),
            a.office_location))) AS country
FROM _sales_pipeline p
JOIN _reps_all r ON r.agent = p.sales_agent
LEFT JOIN _accounts a ON a.account = p.account
LEFT JOIN _products k ON replace(k.product, ' ', '') = replace(p.product, ' ', '');
"""

_CRM_INSERT = """
INSERT INTO reps (company_id, rep_id, name, hired_on, tier, regions, team, active)
SELECT {c}, rep_id, agent, hired_on, NULL,
       CASE WHEN region IS NULL THEN CAST([] AS VARCHAR[]) ELSE [region] END, manager, TRUE
FROM _reps_all ORDER BY rep_id;

INSERT INTO customers (company_id, customer_id, name, country, region, source, stage, tags,
                       level, attributes, created_at, owner_rep_id, pool_id, owned_since)
SELECT {c}, opportunity_id, coalesce(account, '(no account) ' || opportunity_id), country, NULL,
       NULL, CASE WHEN engage_date IS NULL THEN 'prospecting' ELSE 'engaging' END,
       CAST([] AS VARCHAR[]), NULL,
       json_object('account', account, 'product', product, 'series', series,
                   'list_price', list_price, 'sector', sector,
                   'office_location', office_location, 'subsidiary_of', subsidiary_of,
                   'deal_stage', deal_stage),
       created, rep_id, NULL, created
FROM _opps ORDER BY opportunity_id;

INSERT INTO activities (company_id, activity_id, customer_id, rep_id, kind, "at")
SELECT {c}, opportunity_id || '-engage', opportunity_id, rep_id, 'engage',
       CAST(engage_date AS TIMESTAMP)
FROM _opps WHERE engage_date IS NOT NULL
UNION ALL
SELECT {c}, opportunity_id || '-close', opportunity_id, rep_id, 'close',
       CAST(close_date AS TIMESTAMP)
FROM _opps WHERE close_date IS NOT NULL
ORDER BY 3, 6, 2;

INSERT INTO orders (company_id, order_id, customer_id, rep_id, placed_at, amount, status,
                    closed_at)
SELECT {c}, opportunity_id, opportunity_id, rep_id,
       CAST(coalesce(engage_date, close_date) AS TIMESTAMP),
       CASE WHEN deal_stage = 'Engaging' THEN NULL
            ELSE CAST(close_value AS DECIMAL(18, 2)) END,
       CASE deal_stage WHEN 'Won' THEN 'won' WHEN 'Lost' THEN 'lost' ELSE 'open' END,
       CASE WHEN deal_stage IN ('Won', 'Lost') THEN CAST(close_date AS TIMESTAMP) END
FROM _opps WHERE deal_stage IN ('Won', 'Lost', 'Engaging')
ORDER BY opportunity_id;

INSERT INTO stage_changes (company_id, customer_id, stage, "at")
SELECT {c}, opportunity_id, lower(deal_stage), CAST(close_date AS TIMESTAMP)
FROM _opps WHERE deal_stage IN ('Won', 'Lost') AND close_date IS NOT NULL
ORDER BY opportunity_id;
"""


def import_olist_marketing_funnel(
    db_path: PathLike,
    directory: PathLike,
    company_id: str = OLIST_COMPANY,
    *,
    replace: bool = False,
    pool_id: str = "default",
    load_id: str | None = None,
) -> ImportReport:
    """Import the Olist marketing funnel files in ``directory``.

    Every MQL becomes a customer (country BR, created at its first contact,
    source = origin). Won leads are owned by their sales rep (sr_id) from the
    won date and get a won order (no amount: the data set has no deal value)
    placed and closed on that date; the stage is ``lead`` from the first
    contact and ``won`` from the won date. The others sit in the high seas in
    pool ``pool_id``. SDRs and SRs become
    reps; first contact and win become activities. The import is recorded
    under ``load_id`` (default: a new id; see highseas.store.freshness.find_load).
    """
    check_company_id(company_id)
    check_company_id(pool_id, kind="pool")
    started = time.perf_counter()
    folder = _check_dir(directory, OLIST_FILES)
    init_db(db_path)
    report = ImportReport(OLIST_COMPANY, str(folder), company_id)
    c = _lit(company_id)
    with open_db(db_path) as con:
        with transaction(con):
            _prepare(con, db_path, company_id, replace)
            _read(
                con,
                "_mql",
                folder / "olist_marketing_qualified_leads_dataset.csv",
                OLIST_FILES["olist_marketing_qualified_leads_dataset.csv"],
            )
            _read(
                con,
                "_won",
                folder / "olist_closed_deals_dataset.csv",
                OLIST_FILES["olist_closed_deals_dataset.csv"],
            )
            sellers = folder / OLIST_SELLERS
            if sellers.is_file():
                _read(con, "_sellers", sellers, ("seller_id", "seller_state"))
            else:
                con.execute("CREATE TEMP TABLE _sellers (seller_id VARCHAR, seller_state VARCHAR)")
            report.quirks.extend(_olist_checks(con, sellers.is_file()))
            con.execute(_OLIST_SQL.format(c=c, pool=_lit(pool_id)))
            report.counts = _counts(con, company_id)
            record_import(con, company_id, str(folder), load_id)
    report.seconds = time.perf_counter() - started
    return report


def _olist_checks(con: duckdb.DuckDBPyConnection, has_sellers: bool) -> list[str]:
    quirks: list[str] = []

    def q(sql: str) -> int:
        return int(scalar(con, sql) or 0)

    if q("SELECT count(*) - count(DISTINCT mql_id) FROM _mql"):
        raise InvalidInputError(
            "the MQL file repeats mql_id values", code=codes.IMPORT_IDS_REPEATED
        )
    if q("SELECT count(*) - count(DISTINCT mql_id) FROM _won"):
        raise InvalidInputError(
            "the closed deals file repeats mql_id values", code=codes.IMPORT_IDS_REPEATED
        )
    orphans = q("SELECT count(*) FROM _won WHERE mql_id NOT IN (SELECT mql_id FROM _mql)")
    if orphans:
        quirks.append(f"{orphans} closed deals have no MQL row: not imported")
    blank_origin = q("SELECT count(*) FROM _mql WHERE origin IS NULL")
    if blank_origin:
        quirks.append(f"{blank_origin} leads have a blank origin: source left blank")
    early = q(
        "SELECT count(*) FROM _won w JOIN _mql m USING (mql_id) "
        "WHERE CAST(won_date AS TIMESTAMP) < CAST(first_contact_date AS TIMESTAMP)"
    )
    if early:
        quirks.append(
            f"{early} deals were won before their first contact date: kept as they are "
            "(owned_since before created_at); their stage becomes won at the first contact"
        )
    both = q(
        "SELECT count(*) FROM (SELECT DISTINCT sdr_id FROM _won WHERE sdr_id IS NOT NULL "
        "INTERSECT SELECT DISTINCT sr_id FROM _won WHERE sr_id IS NOT NULL)"
    )
    if both:
        quirks.append(f"{both} rep ids act both as SDR and as SR: one rep each")
    no_sr = q("SELECT count(*) FROM _won WHERE sr_id IS NULL")
    if no_sr:
        quirks.append(f"{no_sr} won deals have no sales rep: left in the high seas")
    zero = q(
        "SELECT count(*) FROM _won WHERE coalesce(try_cast(declared_monthly_revenue "
        "AS DOUBLE), 0) = 0"
    )
    quirks.append(
        f"deal value does not exist: won orders have no amount; declared_monthly_revenue is "
        f"0 or blank for {zero} deals and kept in attributes"
    )
    quirks.append(
        "reps have no names, teams, regions or hiring dates: named by role and id prefix, "
        "hired_on = the first date they appear in the data"
    )
    if has_sellers:
        located = q(
            "SELECT count(*) FROM _won w JOIN _sellers s USING (seller_id) "
            "WHERE s.seller_state IS NOT NULL"
        )
        total = q("SELECT count(*) FROM _won")
        quirks.append(
            f"seller_state (customer region) known for {located} of {total} won leads "
            "(olist_sellers_dataset.csv); unconverted leads have no region"
        )
    else:
        quirks.append(f"{OLIST_SELLERS} absent: no customer has a region")
    return quirks


_OLIST_SQL = """
CREATE TEMP TABLE _leads AS
SELECT m.mql_id, CAST(m.first_contact_date AS TIMESTAMP) AS first_contact, m.origin,
       m.landing_page_id, w.seller_id, w.sdr_id, w.sr_id,
       CAST(w.won_date AS TIMESTAMP) AS won_at, w.business_segment, w.lead_type,
       w.business_type, try_cast(w.declared_monthly_revenue AS DOUBLE) AS declared_revenue,
       (SELECT any_value(seller_state) FROM _sellers s WHERE s.seller_id = w.seller_id) AS state
FROM _mql m LEFT JOIN _won w USING (mql_id);

CREATE TEMP TABLE _olist_reps AS
SELECT rep_id, CAST(min(since) AS DATE) AS hired_on, bool_or(is_sr) AS is_sr,
       bool_or(NOT is_sr) AS is_sdr
FROM (SELECT sr_id AS rep_id, first_contact AS since, TRUE AS is_sr FROM _leads
      WHERE sr_id IS NOT NULL
      UNION ALL
      SELECT sdr_id, first_contact, FALSE FROM _leads WHERE sdr_id IS NOT NULL)
GROUP BY rep_id;

INSERT INTO reps (company_id, rep_id, name, hired_on, tier, regions, team, active)
SELECT {c}, rep_id,
       CASE WHEN is_sr AND is_sdr THEN 'SR/SDR ' WHEN is_sr THEN 'SR ' ELSE 'SDR ' END
         || left(rep_id, 8),
       hired_on, NULL, CAST([] AS VARCHAR[]), NULL, TRUE
FROM _olist_reps ORDER BY rep_id;

INSERT INTO customers (company_id, customer_id, name, country, region, source, stage, tags,
                       level, attributes, created_at, owner_rep_id, pool_id, owned_since)
SELECT {c}, mql_id, 'Lead ' || left(mql_id, 8), 'BR', state, origin,
       'lead', CAST([] AS VARCHAR[]), NULL,
       json_object('landing_page_id', landing_page_id, 'seller_id', seller_id,
                   'sdr_id', sdr_id, 'business_segment', business_segment,
                   'lead_type', lead_type, 'business_type', business_type,
                   'declared_monthly_revenue', declared_revenue),
       first_contact, sr_id, CASE WHEN sr_id IS NULL THEN {pool} END,
       CASE WHEN sr_id IS NOT NULL THEN won_at END
FROM _leads ORDER BY mql_id;

INSERT INTO activities (company_id, activity_id, customer_id, rep_id, kind, "at")
SELECT {c}, mql_id || '-first-contact', mql_id, sdr_id, 'first_contact', first_contact
FROM _leads
UNION ALL
SELECT {c}, mql_id || '-won', mql_id, sr_id, 'won', won_at FROM _leads WHERE won_at IS NOT NULL
ORDER BY 3, 6, 2;

INSERT INTO orders (company_id, order_id, customer_id, rep_id, placed_at, amount, status,
                    closed_at)
SELECT {c}, mql_id, mql_id, sr_id, won_at, NULL, 'won', won_at
FROM _leads WHERE won_at IS NOT NULL ORDER BY mql_id;

-- a deal won before its first contact changes the stage when the lead came in
INSERT INTO stage_changes (company_id, customer_id, stage, "at")
SELECT {c}, mql_id, 'won', greatest(won_at, first_contact)
FROM _leads WHERE won_at IS NOT NULL ORDER BY mql_id;
"""
