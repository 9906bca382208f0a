"""The ``highseas`` command line: a thin layer over :mod:`highseas.api`.

Exit codes (documented in docs/cli.md):

* 0 - success, everything valid / all tests passed
* 1 - rule or test failures: invalid rulesets, failing cases, rejected rows
* 2 - invalid input or usage: missing files, bad options, unreadable data
* 3 - internal error (a bug in highseas; please report it)
* 130 - interrupted (Ctrl-C); the message says what was written
* 141 - standard output was closed early (``highseas run ... | head``): the
  output stops quietly, as when a process is ended by SIGPIPE

Errors become messages in one place: :class:`HighseasGroup.invoke`. A message
names its file (``FILE:LINE:COL: error HS...``) when it has one, and starts
with ``error HS...`` when it has none. A command that writes leaves a
report (:mod:`highseas.cli.interrupts`) that says, after a Ctrl-C, what the
database holds (it looks rather than assumes: the interrupt may come just
after the commit).
Subcommands live in sibling modules and are imported only when used
(:data:`COMMANDS`), so ``highseas validate`` never imports duckdb,
durable-rules, pyarrow or matplotlib. Modules:

* ``validate_cmd`` - ``validate``, ``schema``
* ``facts_cmd`` - ``db``, ``load``, ``fixtures``, ``import``
* ``run_cmd`` - ``compile``, ``run``, ``explain``, ``claim``, ``demo``
* ``runs_cmd`` - ``runs``, ``revert``
* ``diff_cmd`` - ``diff``
* ``test_cmd`` - ``test``, ``init``
* ``simulate_cmd`` - ``simulate``, ``advise``
* ``fleet_cmd`` - ``run-all``
* ``outbox_cmd`` - ``outbox``
* ``interrupts`` - what an interrupted command says it wrote

May import only the facades ``highseas.api``, ``highseas.testing``,
``highseas.simulate`` and ``highseas.fleet``, plus ``highseas.errors``,
``highseas.codes`` and ``highseas.suggestions`` (and click).
"""

from __future__ import annotations

import errno
import gc
import importlib
import os
import sys
from typing import Any

import click

from highseas import codes
from highseas.cli.interrupts import interrupted_message
from highseas.errors import Diagnostic, HighseasError, is_duckdb_interrupt, one_line
from highseas.suggestions import did_you_mean

#: command name -> "module:attribute" of the click command.
COMMANDS: dict[str, str] = {
    "validate": "highseas.cli.validate_cmd:validate",
    "schema": "highseas.cli.validate_cmd:schema",
    "db": "highseas.cli.facts_cmd:db",
    "load": "highseas.cli.facts_cmd:load",
    "fixtures": "highseas.cli.facts_cmd:fixtures",
    "import": "highseas.cli.facts_cmd:import_",
    "compile": "highseas.cli.run_cmd:compile_",
    "diff": "highseas.cli.diff_cmd:diff",
    "run": "highseas.cli.run_cmd:run",
    "run-all": "highseas.cli.fleet_cmd:run_all",
    "explain": "highseas.cli.run_cmd:explain",
    "claim": "highseas.cli.run_cmd:claim",
    "demo": "highseas.cli.run_cmd:demo",
    "outbox": "highseas.cli.outbox_cmd:outbox",
    "runs": "highseas.cli.runs_cmd:runs",
    "revert": "highseas.cli.runs_cmd:revert",
    "test": "highseas.cli.test_cmd:test",
    "init": "highseas.cli.test_cmd:init",
    "simulate": "highseas.cli.simulate_cmd:simulate",
    "advise": "highseas.cli.simulate_cmd:advise",
}

EXIT_OK = codes.EXIT_OK
EXIT_FAILURES = codes.EXIT_FAILURE
EXIT_USAGE = codes.EXIT_USAGE
EXIT_INTERNAL = codes.EXIT_INTERNAL
EXIT_INTERRUPTED = 130  # Ctrl-C (128 + SIGINT), as shells report it
EXIT_CLOSED_OUTPUT = 141  # stdout closed by its reader (128 + SIGPIPE), as shells report it

#: Stand-ins for a file some diagnostics carry when they have none.
_NO_FILE = ("", "<input>", "<command line>")


def message_of(diagnostic: Diagnostic) -> str:
    """``FILE:LINE:COL: error HS123 message (hint)``, or without a location
    (``error HS123 ...``) when the diagnostic names no file."""
    text = diagnostic.format_text()
    if diagnostic.file in _NO_FILE and not diagnostic.line and not diagnostic.row:
        prefix = f"{diagnostic.location()}: "
        if text.startswith(prefix):
            return one_line(text[len(prefix):])
    return text


def report_error(error: HighseasError) -> None:
    """Print every diagnostic of ``error`` to stderr, one per line."""
    for diagnostic in error.diagnostics:
        click.echo(message_of(diagnostic), err=True)


def _quiet_closed_output() -> None:
    """The reader of stdout went away: send what is left to /dev/null, so
    that flushing at exit raises nothing either."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass  # stdout has no file descriptor (a test runner's buffer)
    finally:
        os.close(devnull)


def _is_corrupt_database(error: BaseException) -> bool:
    """DuckDB's error for a damaged file (checked by name: the CLI module does not
    import duckdb, so that ``highseas validate`` starts fast)."""
    return type(error).__module__.startswith(("duckdb", "_duckdb")) and (
        "Corrupt database file" in str(error) or "checksum" in str(error)
    )


class HighseasGroup(click.Group):
    """Loads subcommands lazily and maps errors to messages and exit codes."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(name for name in COMMANDS if self._load(name) is not None)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return self._load(cmd_name)

    def _load(self, name: str) -> click.Command | None:
        target = COMMANDS.get(name)
        if target is None:
            return None
        module_name, _, attribute = target.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as error:
            if error.name == module_name:
                return None  # its module is absent: an unknown command
            raise
        command = getattr(module, attribute, None)
        return command if isinstance(command, click.Command) else None

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name = args[0] if args else ""
        if name and not name.startswith("-") and self.get_command(ctx, name) is None:
            hint = did_you_mean(name, self.list_commands(ctx))
            raise click.UsageError(f"No such command {name!r}.{(' ' + hint) if hint else ''}")
        return super().resolve_command(ctx, args)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except HighseasError as error:
            report_error(error)
            ctx.exit(error.exit_code)
        except KeyboardInterrupt:
            pass  # reported below
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except OSError as error:
            if error.errno == errno.EPIPE:  # `highseas ... | head`: end quietly
                _quiet_closed_output()
                ctx.exit(EXIT_CLOSED_OUTPUT)
            where = f" {error.filename}" if getattr(error, "filename", None) else ""
            click.echo(
                f"error {codes.PATH_UNREADABLE} cannot access{where}: {error.strerror or error}",
                err=True,
            )
            ctx.exit(codes.exit_code(codes.PATH_UNREADABLE))
        except Exception as error:  # a bug: say so briefly, full trace only on request
            if not _interrupted(error):  # (Ctrl-C inside a DuckDB query: below)
                _report_bug(ctx, error)
        # Interrupted. Reported outside the handlers, once the command's frames
        # (and the connections they hold) are gone: the report may open the
        # database to see what was written.
        gc.collect()
        click.echo(interrupted_message(ctx), err=True)
        ctx.exit(EXIT_INTERRUPTED)


def _interrupted(error: BaseException) -> bool:
    """Ctrl-C, also when a clean-up it interrupted failed in turn and raised
    its own error (DuckDB's "current transaction is aborted" in a ``finally``)."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, KeyboardInterrupt) or is_duckdb_interrupt(current):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


def _report_bug(ctx: click.Context, error: Exception) -> None:
    """An exception nobody raised on purpose: a damaged database, or a bug."""
    if os.environ.get("HIGHSEAS_DEBUG"):
        raise error
    if _is_corrupt_database(error):
        click.echo(
            f"error {codes.DATABASE_DAMAGED} the database file is damaged: "
            f"{str(error).splitlines()[0]} "
            "(restore it from a backup; nothing was written)",
            err=True,
        )
        ctx.exit(codes.exit_code(codes.DATABASE_DAMAGED))
    click.echo(
        f"internal error {codes.INTERNAL_ERROR} {type(error).__name__}: {error} "
        "(this is a bug in highseas; rerun with HIGHSEAS_DEBUG=1 for the traceback)",
        err=True,
    )
    ctx.exit(codes.exit_code(codes.INTERNAL_ERROR))


@click.group(cls=HighseasGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="highseas", prog_name="highseas")
def main() -> None:
    """highseas: declarative rules for a sales team's customer pools."""


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
