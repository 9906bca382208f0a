"""``highseas outbox``: the changes the CRM has not fetched yet."""

from __future__ import annotations

import json
from pathlib import Path

import click

from highseas import api
from highseas.cli.interrupts import on_interrupt


@click.command("outbox")
@click.option("--db", "db_path", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="The DuckDB facts database.")
@click.option("--company", default=None,
              help="Whose outbox (default: the only company in the database).")
@click.option("--since", "since", default="0", show_default=True, metavar="CURSOR",
              help="The seq of the last change the CRM processed (0: from the beginning).")
@click.option("--limit", type=click.IntRange(min=1), default=None,
              help="At most this many changes (the rest comes with the next fetch).")
@click.option("--format", "fmt", type=click.Choice(["jsonl", "json"]), default="jsonl",
              show_default=True,
              help="jsonl: one change per line, the next cursor on stderr; json: one object "
                   "with the changes and the next cursor.")
def outbox(db_path: Path, company: str | None, since: str, limit: int | None,
           fmt: str) -> None:
    """Print the ownership changes and reminders after CURSOR, each with its
    seq: store the seq of the last change processed and pass it as --since
    next time. A fetch repeated with the same cursor returns the same changes."""
    on_interrupt(click.get_current_context(), lambda: (
        f"interrupted: the cursor is still {since}; fetch again with --since {since}"))
    batch = api.outbox(db_path, since, company, limit=limit)
    if fmt == "json":
        click.echo(json.dumps(batch.to_dict(), indent=2, ensure_ascii=False))
    else:
        for change in batch.changes:
            click.echo(json.dumps(change, ensure_ascii=False, separators=(",", ":")))
    more = f"; more after it: fetch again with --since {batch.cursor}" if batch.more else ""
    click.echo(f"{len(batch.changes)} changes after {batch.since}; next cursor: "
               f"{batch.cursor}{more}", err=True)
