"""``highseas run-all``: every company's nightly run on a Dask cluster."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

import click

from highseas import fleet
from highseas.cli.run_cmd import as_of_option


@click.command("run-all")
@click.option("--rulesets", "rulesets_dir", required=True,
              type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Folder of rulesets: one <company>.yaml per company.")
@click.option("--facts", "facts_path", required=True,
              type=click.Path(exists=True, path_type=Path),
              help="Folder of facts databases, one <company>.duckdb per company (or one "
                   "database holding every company: planning only).")
@as_of_option
@click.option("--apply", "do_apply", is_flag=True,
              help="Apply each company's plan (one transaction per company).")
@click.option("--scheduler", default="local", show_default=True, metavar="ADDRESS",
              help="'local' (worker processes on this machine) or the address of a "
                   "running Dask scheduler, tcp://HOST:PORT.")
@click.option("--workers", type=click.IntRange(min=1), default=None, metavar="N",
              help="Local worker processes (default: one per CPU).")
@click.option("--only", multiple=True, metavar="ID",
              help="Run only this company (repeatable).")
@click.option("--exclude", multiple=True, metavar="ID",
              help="Leave this company out (repeatable).")
@click.option("--summary", "summary_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Write one row per company to FILE: summary.parquet or summary.jsonl.")
def run_all(rulesets_dir: Path, facts_path: Path, as_of: date | None, do_apply: bool,
            scheduler: str, workers: int | None, only: tuple[str, ...],
            exclude: tuple[str, ...], summary_path: Path | None) -> None:
    """Plan (and with --apply, apply) the nightly run of every company in
    --rulesets on a Dask cluster, one task per company, as 'highseas run' does.

    Prints the companies that failed or were retried, then the totals. Exit 0
    when every company was planned, applied or already applied; 1 when one
    failed or was skipped by a guard; 2 for bad input or an unreachable
    scheduler.
    """
    if summary_path is not None:
        fleet.check_summary_path(summary_path)
    companies = fleet.discover(rulesets_dir, facts_path, apply=do_apply, only=only,
                               exclude=exclude)
    options = fleet.RunOptions(as_of=as_of, apply=do_apply)
    if sys.stderr.isatty():
        with click.progressbar(length=len(companies), label="companies",
                               file=sys.stderr) as bar:
            result = fleet.run_all(companies, options, scheduler=scheduler, workers=workers,
                                   on_done=lambda _: bar.update(1))
    else:
        result = fleet.run_all(companies, options, scheduler=scheduler, workers=workers)
    for outcome in result.outcomes:
        if not outcome.ok or outcome.attempt > 1:
            click.echo(outcome.line())
    click.echo(result.totals_line())
    if summary_path is not None:
        fleet.write_summary(result, summary_path)
        click.echo(f"summary written to {summary_path}")
    if result.exit_code:
        raise SystemExit(result.exit_code)
