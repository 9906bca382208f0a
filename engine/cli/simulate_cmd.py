"""``highseas simulate`` and ``highseas advise``: what-if replays and the
idle-period recommendation (docs/simulation.md)."""

from __future__ import annotations

import shlex
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import click

from highseas import simulate as simulation
from highseas.cli.run_cmd import DATE, EXISTING_FILE


@contextmanager
def _progress(total: int) -> Iterator[Callable[[int], None] | None]:
    """A click progress bar on a terminal; nothing otherwise."""
    if not sys.stdout.isatty() or total < 2:
        yield None
        return
    with click.progressbar(length=total, label="simulating", show_eta=True) as bar:
        yield bar.update


def _command_line(ctx: click.Context) -> str:
    """The command as the report shows it: every option given, by its long
    name, in the order of --help (the same command for the same options)."""
    words = ["highseas", ctx.info_name or "simulate"]
    for param in ctx.command.params:
        if not isinstance(param, click.Option) or param.name is None:
            continue
        value = ctx.params.get(param.name)
        name = max((o for o in param.opts if o.startswith("--")), key=len)
        if param.is_flag:
            if value:
                words.append(name)
            continue
        if value is None or value == () or value == param.default:
            continue
        for item in value if param.multiple else (value,):
            words += [name, str(item)]
    return shlex.join(words)


@click.command("simulate")
@click.option("--ruleset", "-r", "ruleset_path", type=EXISTING_FILE, required=True,
              help="The company's ruleset (YAML): the baseline.")
@click.option("--db", "db_path", type=click.Path(dir_okay=False, path_type=Path),
              required=True, help="The facts database (only read: the replay works on a copy).")
@click.option("--from", "start", type=DATE, required=True, help="First day to replay.")
@click.option("--to", "end", type=DATE, required=True, help="Last day to replay (inclusive).")
@click.option("--set", "sets", multiple=True, metavar="PATH=VALUE",
              help="Override a ruleset value, e.g. caps.private.veteran.max=200 (repeatable).")
@click.option("--idle-period", metavar="DURATION",
              help="Set the idle period of every release rule, e.g. 60d.")
@click.option("--sweep", "sweeps", multiple=True, metavar="PATH=V1,V2,...",
              help="One scenario per value, e.g. idle-period=30d,60d,90d,180d.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              help="Write CSV and Parquet per metric, PNG charts and report.html here.")
@click.option("--no-claim-back", is_flag=True,
              help="Count touches by a salesperson who lost the customer as lost touches "
              "only, never as claims back.")
@click.option("--contact-after", metavar="DURATION", default=None,
              help="Behaviour model (off by default): salespeople contact the customers they "
              "receive this long afterwards, e.g. 3d.")
@click.option("--contact-share", type=click.FloatRange(0, 1), default=1.0, show_default=True,
              help="With --contact-after: the share of received customers they contact.")
@click.option("--jobs", type=click.IntRange(min=1), default=None,
              help="Scenarios run at once in worker processes (default: one per CPU for "
              "long runs).")
@click.option("--warm-up", metavar="DURATION", default=None,
              help="Replay the first days (e.g. 30d) without counting them in any metric, "
              "so the starting backlog does not dominate.")
@click.option("--replay-path", type=click.Choice(["auto", "incremental", "nightly"]),
              default="auto", show_default=True,
              help="auto: the incremental replay where it can replay the ruleset, else the "
              "nightly run's own planner, day by day.")
@click.option("--verify", is_flag=True,
              help="Also replay on the nightly path and stop at the first difference "
              "(exit 1); as slow as the nightly path.")
@click.option("--verify-every", type=click.IntRange(min=1), default=None, metavar="K",
              help="Plan every K-th day on the nightly path, on the incremental replay's "
              "state, and stop at the first difference (exit 1).")
def simulate(ruleset_path: Path, db_path: Path, start: date, end: date, sets: tuple[str, ...],
             idle_period: str | None, sweeps: tuple[str, ...], out: Path | None,
             no_claim_back: bool, contact_after: str | None, contact_share: float,
             jobs: int | None, warm_up: str | None, replay_path: str, verify: bool,
             verify_every: int | None) -> None:
    """Replay the recorded history from --from to --to under the ruleset as
    written (the baseline) and under each scenario, and compare them."""
    days = len(simulation.day_range(start, end))
    scenarios = simulation.plan_scenarios(ruleset_path, sets=sets, idle_period=idle_period,
                                          sweeps=sweeps)
    with _progress(days * len(scenarios)) as progress:
        result = simulation.simulate(
            ruleset_path, db_path, start, end, sets=sets, idle_period=idle_period,
            sweeps=sweeps, out=out, claim_back=not no_claim_back, contact_after=contact_after,
            contact_share=contact_share, progress=progress, jobs=jobs, warm_up=warm_up,
            replay_path=replay_path, verify=verify, verify_every=verify_every or 0,
            command=_command_line(click.get_current_context()))
    if result.behaviour:
        click.echo(f"behaviour model: {result.behaviour}")
    for warning in result.warnings:
        click.echo(warning.format_text(), err=True)
    click.echo(result.format_text())
    if out is not None:
        click.echo(f"wrote {len(result.files)} files to {out} (open {out / 'report.html'})")


@click.command("advise")
@click.option("--db", "db_path", type=click.Path(dir_okay=False, path_type=Path),
              required=True, help="The facts database (opened read-only).")
@click.option("--ruleset", "-r", "ruleset_path", type=EXISTING_FILE, default=None,
              help="Also show what the ruleset's current idle periods would release.")
@click.option("--company", "company_id", default=None,
              help="The company, when the database holds several.")
@click.option("--max-share", type=click.FloatRange(0, 1, max_open=True), default=0.05,
              show_default=True,
              help="Largest share of eventual orders the idle period may release.")
@click.option("--status", "statuses", multiple=True, default=("won",), show_default=True,
              help="Order statuses that count as eventual orders (repeatable).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              help="Write the curve (CSV, Parquet, PNG) and advice.html here.")
def advise(db_path: Path, ruleset_path: Path | None, company_id: str | None, max_share: float,
           statuses: tuple[str, ...], out: Path | None) -> None:
    """Recommend an idle period from the recorded history: gaps between
    follow-ups, last touch to order, and the release curve."""
    advice = simulation.advise(db_path, ruleset_path, company_id=company_id,
                               max_share=max_share, statuses=statuses, out=out)
    click.echo(advice.format_text())
    if out is not None:
        click.echo(f"wrote the curve and advice.html to {out}")
