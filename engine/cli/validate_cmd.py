"""``highseas validate`` and ``highseas schema``: thin wrappers over
:mod:`highseas.validate`, the light facade that checks rulesets and test
files without loading the engine, so validating one file starts fast.
"""

from __future__ import annotations

import click

from highseas import validate as checks


@click.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=str))
@click.option("--format", "fmt", type=click.Choice(["text", "json", "github", "sarif"]),
              default="text", show_default=True, help="Output format.")
@click.option("--strict", is_flag=True, help="Warnings fail too (exit 1).")
@click.pass_context
def validate(ctx: click.Context, paths: tuple[str, ...], fmt: str, strict: bool) -> None:
    """Check rulesets (files or folders of *.yaml / *.yml) and report every problem.

    With no PATHS, check the rulesets and test files of the project
    configuration (highseas.toml or [tool.highseas] in pyproject.toml, found
    from the current directory upward), with its strictness.

    Exit code 0: valid; 1: invalid rulesets (or warnings with --strict);
    2: a path that does not exist or cannot be read.
    """
    if not paths:
        config = checks.find_config()
        if config is None:
            raise click.UsageError(
                "give the rulesets to check, or a project configuration "
                "(highseas.toml or [tool.highseas] in pyproject.toml, see docs/cli.md)"
            )
        paths = tuple(str(p) for p in checks.configured_paths(config))
        strict = strict or config.strict
    report = checks.validate(paths, strict=strict)
    output = checks.format_validation(report, fmt)
    if output:
        click.echo(output)
    ctx.exit(report.exit_code)


@click.command()
def schema() -> None:
    """Print the JSON Schema of rulesets (draft 2020-12)."""
    click.echo(checks.ruleset_schema_text(), nl=False)
