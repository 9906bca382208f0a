"""Docs that cannot drift: every CLI command, subcommand and option is in docs/cli.md."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest

from highseas.cli import COMMANDS, main

DOC = (Path(__file__).resolve().parents[2] / "docs" / "cli.md").read_text(encoding="utf-8")


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
