"""What an interrupted command says it wrote.

A command that writes leaves a report in the click context with
:func:`on_interrupt`; :class:`highseas.cli.HighseasGroup` prints it after a
Ctrl-C, once every connection of the command is closed. The report looks in
the database rather than assume: the interrupt may come just after a commit.
"""

from __future__ import annotations

from collections.abc import Callable

import click

#: ``ctx.meta`` key of a command's interrupt report.
ON_INTERRUPT = "on_interrupt"
NOTHING_WRITTEN = "interrupted: nothing was written"


def on_interrupt(ctx: click.Context, report: Callable[[], str]) -> None:
    """Have an interrupt of this command print ``report()``."""
    ctx.meta[ON_INTERRUPT] = report


def interrupted_message(ctx: click.Context) -> str:
    """The command's report, or that nothing was written when it left none
    (a command that does not write)."""
    report: Callable[[], str] | None = ctx.meta.get(ON_INTERRUPT)
    if report is None:
        return NOTHING_WRITTEN
    try:
        return report()
    except (Exception, KeyboardInterrupt) as error:  # the database cannot say
        return f"interrupted: could not check what was written ({type(error).__name__})"
