"""``highseas db``, ``load``, ``fixtures`` and ``import``: the facts store commands.

Thin wrappers over :mod:`highseas.api`; errors are HighseasError subclasses
that the command group turns into messages and exit codes.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import click

from highseas import api
from highseas.cli.interrupts import on_interrupt

_DB = click.Path(dir_okay=False, path_type=Path)
_DIR = click.Path(file_okay=False, path_type=Path)


@click.group()
def db() -> None:
    """Create and inspect facts databases (DuckDB files)."""


@db.command("init")
@click.argument("db_path", metavar="DB", type=_DB)
def init(db_path: Path) -> None:
    """Create the database DB, or upgrade an older one to this schema."""
    ctx = click.get_current_context()
    # Interrupted while the file is read, nothing is written yet.
    on_interrupt(ctx, lambda: f"interrupted: nothing was written ({db_path} is as before)")
    before = api.store_state(db_path) if db_path.is_file() else None
    on_interrupt(ctx, lambda: _init_interrupted(db_path, before))
    version = api.init_database(db_path)
    click.echo(f"{db_path}: highseas database, schema version {version}")


def _init_interrupted(db_path: Path, before: api.StoreState | None) -> str:
    """What an interrupted ``db init`` wrote: the schema is created or
    upgraded in one transaction."""
    now = api.store_state(db_path)
    if now is None:
        return f"interrupted: nothing was written ({db_path} was not created)"
    if before is not None and now.schema_version == before.schema_version:
        return (f"interrupted: nothing was written ({db_path} is at schema version "
                f"{now.schema_version}, as before)")
    if now.schema_version == 0:
        return (f"interrupted: {db_path} was created but holds no schema yet; "
                "run db init again")
    done = "created" if before is None else "upgraded"
    return f"interrupted after {db_path} was {done}: schema version {now.schema_version}"


@db.command("info")
@click.argument("db_path", metavar="DB", type=_DB)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def info(db_path: Path, as_json: bool) -> None:
    """Show the schema version, row counts and date ranges per company.

    A date range is a fact table's oldest and newest timestamp, with when a
    load or import last wrote it."""
    found = api.db_info(db_path)
    if as_json:
        click.echo(json.dumps(found.to_dict(), indent=2))
        return
    click.echo(f"{db_path}: schema version {found.schema_version}")
    for company, counts in found.companies.items():
        shown = ", ".join(f"{k} {v}" for k, v in counts.items() if v)
        click.echo(f"  {company}: {shown}")
        for table, dates in found.date_ranges.get(company, {}).items():
            if dates["newest"] is None:
                continue
            loaded = (f", last loaded {dates['last_load_at']}" if dates["last_load_at"]
                      else ", no load recorded")
            click.echo(f"    {table}: {dates['oldest']} .. {dates['newest']}{loaded}")


@click.command("load")
@click.argument("db_path", metavar="DB", type=_DB)
@click.argument("table")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--company", help="Company id of the rows (default: the only one in DB).")
@click.option(
    "--rejects",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write rejected rows here (CSV: row, column, value, code, reason).",
)
@click.option("--skip-bad-rows", is_flag=True, help="Load the good rows; still report the bad.")
def load(
    db_path: Path,
    table: str,
    file: Path,
    company: str | None,
    rejects: Path | None,
    skip_bad_rows: bool,
) -> None:
    """Check every row of FILE (CSV, Parquet or JSON) and append it to TABLE.

    TABLE is reps, customers, activities, orders or stage_changes. Any bad row
    fails the whole load (exit 1, nothing written) unless --skip-bad-rows.
    """
    load_id = api.new_load_id()
    on_interrupt(click.get_current_context(), lambda: _load_interrupted(db_path, file, load_id))
    report = api.load_facts(db_path, table, file, company, rejects=rejects,
                            skip_bad_rows=skip_bad_rows, load_id=load_id)
    for diagnostic in report.diagnostics():
        click.echo(diagnostic.format_text().replace(": error ", ": warning ", 1), err=True)
    click.echo(report.summary())


def _rows(count: int) -> str:
    return f"{count} row{'' if count == 1 else 's'}"


def _load_interrupted(db_path: Path, file: Path, load_id: str) -> str:
    """What an interrupted ``load`` wrote, as the database says: all of the
    file's rows (a recorded load) or none."""
    done = api.recorded_load(db_path, load_id)
    if done is None:
        return (f"interrupted: nothing was written (no row of {file} was loaded; "
                "the load can be run again)")
    [(table, count)] = done.row_counts.items()
    return (f"interrupted after the load was written (load {done.load_id}): {table} holds "
            f"the {_rows(count)} loaded from {file}; do not load it again")


@click.group()
def fixtures() -> None:
    """Generate realistic fake companies for tests, demos and benchmarks."""


@fixtures.command("generate")
@click.option(
    "--archetype",
    required=True,
    type=click.Choice(["quick-order", "large-project", "regional-trading"]),
    help="The kind of company (also its company id).",
)
@click.option("--customers", type=click.IntRange(min=1), required=True)
@click.option("--reps", type=click.IntRange(min=1), required=True)
@click.option("--seed", type=click.IntRange(0, 2**31 - 1), default=1, show_default=True)
@click.option("--db", "db_path", type=_DB, required=True, help="Database file to write.")
@click.option(
    "--as-of",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="The day the generated world ends (default 2026-06-30).",
)
@click.option("--replace", is_flag=True, help="Replace the company's data if present.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def generate(
    archetype: str,
    customers: int,
    reps: int,
    seed: int,
    db_path: Path,
    as_of: datetime | None,
    replace: bool,
    as_json: bool,
) -> None:
    """Generate one company into --db: same arguments, same content."""
    ctx = click.get_current_context()
    # Interrupted while the file is read, nothing is written yet.
    on_interrupt(ctx, lambda: (f"interrupted: nothing was written (the data of company "
                               f"{archetype} in {db_path} is as before)"))
    before = api.store_state(db_path, archetype) if db_path.is_file() else None
    on_interrupt(ctx, lambda: _generate_interrupted(db_path, archetype, before))
    summary = api.generate_fixtures(db_path, archetype, customers, reps, seed,
                                    as_of.date() if as_of else None, replace=replace)
    if as_json:
        click.echo(json.dumps(summary, indent=2))
    else:
        click.echo(", ".join(f"{k}: {v}" for k, v in summary.items()))


def _generate_interrupted(db_path: Path, company: str, before: api.StoreState | None) -> str:
    """What an interrupted ``fixtures generate`` wrote: the company's rows are
    written (or replaced) in one transaction, after the schema."""
    now = api.store_state(db_path, company)
    if now is None:
        return f"interrupted: nothing was written ({db_path} was not created)"
    if before is not None and now == before:
        return (f"interrupted: nothing was written (the data of company {company} in "
                f"{db_path} is as before)")
    if now.customers == 0 and now.reps == 0:
        return (f"interrupted: nothing was generated ({db_path} was created and holds no "
                f"data of company {company})")
    return (f"interrupted after the fixtures were written: company {company} in {db_path} "
            f"holds {now.customers} customers and {now.reps} salespeople")


@click.group("import")
def import_() -> None:
    """Import public CRM data sets into a facts database."""


def _print_import(report: api.ImportReport) -> None:
    for line in report.lines():
        click.echo(line)


def _import_load_id(db_path: Path, directory: Path, company: str) -> str:
    """A new id for this import, and a report of what it wrote should it be
    interrupted."""
    load_id = api.new_load_id()
    existed = db_path.exists()
    on_interrupt(click.get_current_context(),
                 lambda: _import_interrupted(db_path, directory, company, load_id, existed))
    return load_id


def _import_interrupted(db_path: Path, directory: Path, company: str, load_id: str,
                        existed: bool) -> str:
    """What an interrupted import wrote, as the database says: the whole
    company (a recorded import) or nothing."""
    done = api.recorded_load(db_path, load_id)
    if done is None:
        if not existed and db_path.exists():
            return (f"interrupted: nothing was imported ({db_path} was created and holds "
                    "no data; the import can be run again)")
        return (f"interrupted: nothing was written (the data of company {company} is as "
                "before; the import can be run again)")
    counts = ", ".join(f"{table} {count}" for table, count in done.row_counts.items())
    return (f"interrupted after the import was written (load {done.load_id}): company "
            f"{done.company_id} holds the data of {directory}: {counts}")


@import_.command("crm-sales-opportunities")
@click.argument("directory", metavar="DIR", type=_DIR)
@click.option("--db", "db_path", type=_DB, required=True, help="Database file to write.")
@click.option("--company", default="crm-sales-opportunities", show_default=True)
@click.option("--replace", is_flag=True, help="Replace the company's data if present.")
def crm_sales_opportunities(directory: Path, db_path: Path, company: str, replace: bool) -> None:
    """Import the Maven Analytics CRM sales opportunities CSVs in DIR."""
    load_id = _import_load_id(db_path, directory, company)
    _print_import(api.import_crm_sales_opportunities(db_path, directory, company,
                                                     replace=replace, load_id=load_id))


@import_.command("olist-marketing-funnel")
@click.argument("directory", metavar="DIR", type=_DIR)
@click.option("--db", "db_path", type=_DB, required=True, help="Database file to write.")
@click.option("--company", default="olist-marketing-funnel", show_default=True)
@click.option("--replace", is_flag=True, help="Replace the company's data if present.")
@click.option("--pool", default="default", show_default=True, help="Pool of unconverted leads.")
def olist_marketing_funnel(
    directory: Path, db_path: Path, company: str, replace: bool, pool: str
) -> None:
    """Import the Olist marketing funnel CSVs in DIR."""
    load_id = _import_load_id(db_path, directory, company)
    _print_import(api.import_olist_marketing_funnel(db_path, directory, company,
                                                    replace=replace, pool_id=pool,
                                                    load_id=load_id))
