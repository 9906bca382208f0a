"""``highseas runs list | show`` and ``highseas revert``: the applied runs."""

from __future__ import annotations

import json
from pathlib import Path

import click

from highseas import api
from highseas.cli.interrupts import on_interrupt

_DB = click.Path(dir_okay=False, path_type=Path)
db_option = click.option("--db", "db_path", type=_DB, required=True,
                         help="The DuckDB facts database.")
company_option = click.option("--company", default=None,
                              help="Only this company's runs (default: every company).")


@click.group("runs")
def runs() -> None:
    """List the runs a database records, and show one."""


@runs.command("list")
@db_option
@company_option
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True,
              help="Show at most this many runs, newest first.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines, one per run.")
def list_(db_path: Path, company: str | None, limit: int, as_json: bool) -> None:
    """List the runs, newest first.

    Applied runs (reverted ones say so), reverts and simulated days, with
    what each changed and the guards it overrode."""
    found = api.runs(db_path, company, limit)
    if as_json:
        for record in found:
            click.echo(json.dumps(record.to_dict(), sort_keys=True))
        return
    if not found:
        click.echo("no runs recorded")
    for record in found:
        click.echo(record.line())


@runs.command("show")
@click.argument("run_id")
@db_option
@company_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def show(run_id: str, db_path: Path, company: str | None, as_json: bool) -> None:
    """Show one run and whether it can be reverted.

    Its counts, the guards it overrode, the events and reminders it wrote,
    and the revert that undid it or that it is."""
    details = api.run_details(db_path, run_id, company)
    if as_json:
        click.echo(json.dumps(details.to_dict(), indent=2, sort_keys=True))
    else:
        click.echo(details.format_text())


@click.command("revert")
@click.argument("run_ids", metavar="RUN_ID...", nargs=-1, required=True)
@db_option
@click.option("--company", default=None, help="The company of the runs (when ids repeat).")
def revert(run_ids: tuple[str, ...], db_path: Path, company: str | None) -> None:
    """Undo the latest applied run (or the latest N, all named) exactly:
    owners, pools, claim counters, cooldowns, relays and rotation as before it;
    its pending reminders cancelled. Recorded as a run of mode revert."""
    on_interrupt(click.get_current_context(),
                 lambda: _revert_interrupted(db_path, run_ids, company))
    for result in api.revert(db_path, run_ids, company):
        click.echo(result.sentence())


def _revert_interrupted(db_path: Path, run_ids: tuple[str, ...], company: str | None) -> str:
    """What an interrupted ``revert`` wrote, as the database says: the runs
    are reverted together or not at all."""
    found = api.reverted_by(db_path, run_ids, company)
    if all(found.values()):
        done = "; ".join(f"run {run_id} is reverted (recorded as run {by})"
                         for run_id, by in found.items())
        return f"interrupted after the revert was written: {done}"
    left = [run_id for run_id, by in found.items() if by is None]
    text = (f"run {left[0]} is not reverted" if len(left) == 1 else
            f"runs {', '.join(left)} are not reverted")
    text += "".join(f"; run {run_id} was already reverted (by run {by})"
                    for run_id, by in found.items() if by is not None)
    return f"interrupted: nothing was written ({text})"
