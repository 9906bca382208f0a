"""Docs that cannot drift: every CLI command, subcommand and option is in docs/cli.md."""

from __future__ import annotations

import os
import re
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from highseas.cli import COMMANDS, main

DOC_PATH = Path(__file__).resolve().parents[2] / "docs" / "cli.md"
DOC = DOC_PATH.read_text(encoding="utf-8")


def command_paths() -> list[tuple[str, click.Command]]:
    ctx = click.Context(main)
    found: list[tuple[str, click.Command]] = []
    for name in main.list_commands(ctx):
        command = main.get_command(ctx, name)
        assert command is not None
        found.append((name, command))
        if isinstance(command, click.Group):
            sub_ctx = click.Context(command, parent=ctx)
            for sub in command.list_commands(sub_ctx):
                sub_command = command.get_command(sub_ctx, sub)
                assert sub_command is not None
                found.append((f"{name} {sub}", sub_command))
    return found


def section(path: str) -> str:
    match = re.search(rf"^### `highseas {re.escape(path)}`$(.*?)(?=^### |\Z)", DOC, re.M | re.S)
    assert match, f"docs/cli.md has no section '### `highseas {path}`'"
    return match.group(1)


def test_every_registered_command_loads() -> None:
    ctx = click.Context(main)
    assert sorted(main.list_commands(ctx)) == sorted(COMMANDS)


@pytest.mark.parametrize(("path", "command"), command_paths(), ids=lambda v: str(v))
def test_every_command_and_option_is_documented(path: str, command: click.Command) -> None:
    text = section(path)
    for param in command.params:
        if isinstance(param, click.Option):
            for opt in param.opts:
                if opt.startswith("--"):
                    assert opt in text, f"{opt} of 'highseas {path}' is not in docs/cli.md"


#: The width the help texts in docs/cli.md are rendered at.
HELP_WIDTH = 78
RECORD = os.environ.get("HIGHSEAS_RECORD") == "1"
_HELP_BLOCK = re.compile(r"(```text\n)(.*?)(```)", re.S)


def help_text(path: str) -> str:
    """What ``highseas PATH --help`` prints on a terminal of HELP_WIDTH columns."""
    result = CliRunner().invoke(main, [*path.split(), "--help"], prog_name="highseas",
                                terminal_width=HELP_WIDTH)
    assert result.exit_code == 0, result.output
    return result.output


def test_each_section_shows_the_commands_own_help() -> None:
    """The help block of every command's section is exactly what the command
    prints (re-record with HIGHSEAS_RECORD=1 after changing an option)."""
    doc = DOC
    stale = []
    for path, _ in command_paths():
        text = section(path)
        block = _HELP_BLOCK.search(text)
        assert block, f"the section of 'highseas {path}' has no help block"
        shown = help_text(path)
        if block.group(2) != shown:
            stale.append(path)
            fresh = text[:block.start(2)] + shown + text[block.end(2):]
            doc = doc.replace(text, fresh, 1)
    if RECORD and stale:
        DOC_PATH.write_text(doc, encoding="utf-8")
    assert not stale, (f"docs/cli.md shows an old --help of: {', '.join(stale)} "
                       "(re-record with HIGHSEAS_RECORD=1)")
