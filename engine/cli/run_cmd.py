"""``highseas compile | run | explain | claim | demo``: the nightly run's commands."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import click

from highseas import api
from highseas.cli.interrupts import on_interrupt

EXISTING_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


class DateType(click.ParamType):
    """An ISO date (YYYY-MM-DD)."""

    name = "DATE"

    def convert(self, value: object, param: click.Parameter | None,
                ctx: click.Context | None) -> date:
        if isinstance(value, date):
            day = value
        else:
            try:
                day = date.fromisoformat(str(value))
            except ValueError:
                self.fail(f"{value!r} is not a date; write it as YYYY-MM-DD", param, ctx)
        if not api.MIN_AS_OF <= day <= api.MAX_AS_OF:
            self.fail(
                f"{day.isoformat()} is out of range: as-of dates lie between "
                f"{api.MIN_AS_OF.isoformat()} and {api.MAX_AS_OF.isoformat()}",
                param,
                ctx,
            )
        return day


DATE = DateType()
as_of_option = click.option(
    "--as-of", type=DATE, default=None,
    help="The date to run for (default: today in the company's time zone).",
)
ruleset_option = click.option(
    "--ruleset", "-r", "ruleset_path", type=EXISTING_FILE, required=True,
    help="The company's ruleset (YAML).",
)
db_option = click.option(
    "--db", "db_path", type=click.Path(dir_okay=False, path_type=Path), required=True,
    help="The DuckDB facts database.",
)


@click.command("compile")
@click.argument("ruleset_path", type=EXISTING_FILE)
@as_of_option
def compile_(ruleset_path: Path, as_of: date | None) -> None:
    """Print the durable-rules definition RULESET compiles to (for an as-of date:
    duration thresholds become dates)."""
    definition = api.compile_definition(ruleset_path, as_of)
    click.echo(json.dumps(definition, indent=2, ensure_ascii=False))


@click.command("run")
@ruleset_option
@db_option
@as_of_option
@click.option("--apply", "do_apply", is_flag=True,
              help="Write the plan (ownership, audit trail, notifications) in one transaction.")
@click.option("--force", is_flag=True,
              help="Apply despite the guards (stale facts, a future date, too many changes) "
                   "or a date earlier than the last applied run; recorded in the run.")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the decisions to plan.json, plan.jsonl, plan.csv or plan.parquet.")
@click.option("--include-unassigned", is_flag=True,
              help="Also write the customers left in their pool, with the reason each "
                   "allocation gave.")
def run(ruleset_path: Path, db_path: Path, as_of: date | None, do_apply: bool, force: bool,
        output: Path | None, include_unassigned: bool) -> None:
    """Plan the nightly run (and with --apply, apply it) and print a summary."""
    if output is not None:
        api.check_plan_path(output)
    if do_apply:
        # An applied date is not planned again: a fresh plan (and plan file)
        # would look like changes that will never be made.
        done = api.applied_run(ruleset_path, db_path, as_of)
        if done is not None:
            click.echo(_already_applied(done))
            return
        on_interrupt(click.get_current_context(),
                     lambda: _apply_interrupted(ruleset_path, db_path, as_of))
    try:
        result = api.run(ruleset_path, db_path, as_of, apply=do_apply, force=force)
    except api.TooManyChangesError as refused:  # the plan is shown; nothing was applied
        click.echo(api.format_summary(refused.plan))
        click.echo("refused by the ruleset's guards: nothing was applied "
                   "(check the plan; --force applies it anyway)")
        raise
    if result.applied is not None and not result.applied.applied:
        click.echo(result.applied.message)  # applied meanwhile by another process
        return
    click.echo(api.format_summary(result.plan))
    if output is not None:
        api.write_plan(result.plan, output, include_unassigned=include_unassigned)
        click.echo(f"decisions written to {output}")
    if result.applied is not None:
        click.echo(result.applied.message if not result.applied.applied else
                   f"applied run {result.applied.run_id}: {result.applied.ownership_changes} "
                   f"ownership changes, {result.applied.notifications} reminders")
    elif not do_apply:
        click.echo("plan only: nothing was written (use --apply to apply it)")


def _already_applied(done: api.AppliedRun) -> str:
    return (f"a run for {done.as_of.isoformat()} was already applied (run {done.run_id}); "
            "nothing to do")


def _apply_interrupted(ruleset_path: Path, db_path: Path, as_of: date | None) -> str:
    """What an interrupted ``run --apply`` wrote, as the database says."""
    done = api.applied_run(ruleset_path, db_path, as_of)
    if done is None:
        return "interrupted: nothing was written (the run was not applied)"
    return _run_applied(done)


def _run_applied(done: api.AppliedRun) -> str:
    return (f"interrupted after the run was applied (run {done.run_id}): the database holds "
            f"the whole run for {done.as_of.isoformat()}")


@click.command("explain")
@ruleset_option
@db_option
@click.argument("customer_id")
@as_of_option
def explain(ruleset_path: Path, db_path: Path, customer_id: str, as_of: date | None) -> None:
    """Why CUSTOMER_ID is (or is not) released, reminded, trimmed or assigned."""
    explanation = api.explain(ruleset_path, db_path, customer_id, as_of)
    click.echo(explanation.format_text())


@click.command("claim")
@ruleset_option
@db_option
@click.option("--rep", "rep_id", required=True, help="The salesperson who wants to claim.")
@click.option("--customer", "customer_id", required=True, help="The high-seas customer.")
@as_of_option
@click.option("--apply", "do_apply", is_flag=True, help="Record the claim when allowed.")
def claim(ruleset_path: Path, db_path: Path, rep_id: str, customer_id: str,
          as_of: date | None, do_apply: bool) -> None:
    """May REP claim CUSTOMER? Prints allowed or refused with every reason;
    exit 1 when refused."""
    if do_apply:
        on_interrupt(click.get_current_context(),
                     lambda: _claim_interrupted(ruleset_path, db_path, rep_id, customer_id))
    verdict = api.claim(ruleset_path, db_path, rep_id, customer_id, as_of, apply=do_apply)
    click.echo(verdict.sentence())
    if verdict.allowed and do_apply:
        click.echo(f"claim recorded: {customer_id} now belongs to {rep_id}")
    if not verdict.allowed:
        raise SystemExit(1)


def _claim_interrupted(ruleset_path: Path, db_path: Path, rep_id: str, customer_id: str) -> str:
    """What an interrupted ``claim --apply`` wrote, as the database says."""
    event_id = api.claim_recorded(ruleset_path, db_path, rep_id, customer_id)
    if event_id is None:
        return "interrupted: nothing was written (the claim was not recorded)"
    return (f"interrupted after the claim was recorded (event {event_id}): "
            f"{customer_id} belongs to {rep_id}")


@click.command("demo")
@click.option("--db", "db_path", type=click.Path(dir_okay=False, path_type=Path),
              default=Path("demo/regional-trading.duckdb"), show_default=True,
              help="Where the demo database lives (created from the fixture generator if absent).")
@click.option("--apply", "do_apply", is_flag=True, help="Also apply the plan to the demo database.")
def demo(db_path: Path, do_apply: bool) -> None:
    """Create the demo database if absent and run the nightly job on it with
    rulesets/regional-trading.yaml, printing the summary."""
    existed = db_path.exists()
    on_interrupt(click.get_current_context(),
                 lambda: _demo_interrupted(db_path, existed, do_apply))
    result = api.run_demo(db_path, apply=do_apply)
    click.echo(f"demo database: {db_path} (as of {result.plan.as_of.isoformat()})")
    click.echo(api.format_summary(result.plan))
    if result.applied is not None:
        click.echo(result.applied.message)


def _demo_interrupted(db_path: Path, existed: bool, do_apply: bool) -> str:
    """What an interrupted ``demo`` wrote: the database (created whole, or not
    at all) and, with ``--apply``, the run, as the database says."""
    if not db_path.exists():
        return "interrupted: nothing was written (the demo database was not created)"
    done = api.demo_applied_run(db_path) if do_apply else None
    if done is not None:
        return _run_applied(done)
    not_applied = " (the run was not applied)" if do_apply else ""
    if existed:
        return "interrupted: nothing was written" + not_applied
    return f"interrupted after the demo database {db_path} was created" + not_applied
