"""``highseas run-all``: every company's nightly run on a Dask cluster."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

import click

from highseas import fleet
from highseas.cli.interrupts import on_interrupt
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
    if do_apply:
        on_interrupt(click.get_current_context(),
                     lambda: _run_all_interrupted(companies, as_of, scheduler))
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


#: Companies named in an interrupt message (the count says how many there are).
NAMED = 5


def _names(ids: tuple[str, ...]) -> str:
    shown = ", ".join(ids[:NAMED])
    return shown + (f" and {len(ids) - NAMED} more" if len(ids) > NAMED else "")


def _run_all_interrupted(companies: list[fleet.CompanyRef], as_of: date | None,
                         scheduler: str) -> str:
    """What an interrupted ``run-all --apply`` left: each company's run is one
    transaction, so a company is applied for its date or not at all."""
    check = fleet.applied_companies(companies, as_of)
    parts = [f"{len(check.applied)} of {len(companies)} companies hold an applied run for "
             f"their date" + (f" ({_names(check.applied)})" if check.applied else "")]
    if check.not_applied:
        parts.append(f"{len(check.not_applied)} not applied ({_names(check.not_applied)})")
    if check.unknown:
        parts.append(f"{len(check.unknown)} could not be checked ({_names(check.unknown)})")
    remote = ("; tasks already running on the cluster's workers may still finish"
              if scheduler != fleet.LOCAL else "")
    return (f"interrupted: {'; '.join(parts)}{remote}. Run run-all again: the applied "
            "companies are reported as already applied")
