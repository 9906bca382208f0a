"""``highseas diff``: what a change to a ruleset changes, for review."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import click

from highseas import api, codes
from highseas.cli.run_cmd import DATE


@click.command("diff")
@click.argument("old")
@click.argument("new")
@click.option("--db", "db_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="A facts database: also compare tonight's plan per customer.")
@click.option("--as-of", type=DATE, default=None,
              help="The date to plan for (default: today in the company's time zone).")
@click.option("--format", "fmt", type=click.Choice(api.DIFF_FORMATS), default="text",
              show_default=True, help="text, json, or markdown to paste into a pull request.")
@click.option("--limit", type=click.IntRange(min=0), default=200, show_default=True,
              help="Customers listed in text and markdown (json lists them all).")
def diff(old: str, new: str, db_path: Path | None, as_of: date | None, fmt: str,
         limit: int) -> None:
    """Compare the rulesets OLD and NEW: rules, conditions, caps, pools,
    allocations, relays, tiers and regions added, removed or changed (with
    their lines); with --db, each customer whose decision tonight differs.
    OLD or NEW may be a git revision of a file: HEAD:rulesets/acme.yaml.
    Exit 0: no difference; 1: differences; 2: bad input."""
    if as_of is not None and db_path is None:
        raise click.UsageError("--as-of needs --db (the plan compares facts)")
    difference = api.diff(old, new, db_path, as_of)
    click.echo(difference.format(fmt, None if fmt == "json" else limit))
    if not difference.identical:
        click.get_current_context().exit(codes.EXIT_FAILURE)
