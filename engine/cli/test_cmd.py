"""``highseas test`` and ``highseas init``: expected-outcome tests of rulesets.

Exit codes of ``test``: 0 every selected case passed (and coverage is at
least ``--min-coverage``); 1 some case failed or coverage is too low; 2 an
invalid test file, case data the engine refused, or no test files; 3 an
engine error. Reference: docs/testing.md.
"""

from __future__ import annotations

import json
import re
from importlib.resources import files
from pathlib import Path

import click

from highseas import api, codes, testing
from highseas.errors import Diagnostic, InvalidInputError

ARCHETYPES = ("quick-order", "large-project", "regional-trading")
_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
#: Where init puts the JSON Schemas, relative to the scaffolded files: the
#: ``$schema`` modeline of each file points there, so editor completion works
#: without a network (the schemas' ``$id`` URLs are names, not addresses).
_SCHEMA_DIR = "schemas"
_SCHEMA_FILES = ("ruleset.schema.json", "ruleset-tests.schema.json")
#: CSV files a template test file reads (copied beside it).
_CSV_REF = re.compile(r"\bcsv:\s*['\"]?([A-Za-z0-9_.\-]+\.csv)")


def _default_paths() -> list[Path]:
    rulesets = Path("rulesets")
    return [rulesets if rulesets.is_dir() else Path(".")]


def _configured(paths: tuple[Path, ...], min_coverage: float | None
                ) -> tuple[list[Path], float | None]:
    """The paths to test and the minimum coverage: as given, or from the
    project configuration (highseas.toml or [tool.highseas]) when no path
    is given, or ./rulesets (the current directory) without one."""
    if paths:
        return list(paths), min_coverage
    config = testing.find_config()
    if config is None:
        return _default_paths(), min_coverage
    files = config.test_files()
    if not files:
        raise InvalidInputError(
            f"the test globs of {config.source} match no test file: "
            f"{', '.join(config.tests)}", code=codes.NO_TEST_FILES, file=str(config.source),
            hint="name test files *.tests.yaml, or fix the tests globs")
    return list(files), min_coverage if min_coverage is not None else config.min_coverage


@click.command("test")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("-k", "patterns", multiple=True, metavar="PATTERN",
              help="Run only cases whose name (or file::name) contains PATTERN "
              "(case-insensitive; *, ? and [] make it a glob). Repeat for several.")
@click.option("--junit-xml", "junit_path", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Also write a JUnit XML report to FILE (for CI).")
@click.option("--min-coverage", type=click.FloatRange(0, 100), default=None, metavar="PCT",
              help="Fail (exit 1) when a ruleset's rule coverage is below PCT percent.")
@click.option("-v", "--verbose", is_flag=True, help="Also print each case's description.")
@click.option("--format", "fmt", type=click.Choice(testing.TEST_FORMATS), default="text",
              show_default=True,
              help="text; github (annotations at the failing expectation's line); json.")
@click.option("--update", is_flag=True,
              help="Rewrite the expectations of the failing cases to what the engine "
              "decides (comments and layout kept), print the diff, then run the tests.")
@click.pass_context
def test(ctx: click.Context, paths: tuple[Path, ...], patterns: tuple[str, ...],
         junit_path: Path | None, min_coverage: float | None, verbose: bool,
         fmt: str, update: bool) -> None:
    """Run the expected-outcome tests (*.tests.yaml) under PATHS (default: the
    project configuration's tests, or ./rulesets, or the current directory),
    one line per case, a diff for each failure, then rule coverage per ruleset.

    Exit 0 all passed, 1 failures or coverage below --min-coverage, 2 invalid
    test files or data, 3 engine error. Format: docs/testing.md."""
    targets, min_coverage = _configured(paths, min_coverage)
    if update:
        _update(targets, patterns)

    def on_file(result: testing.FileResult) -> None:
        for line in testing.format_file(result, verbose=verbose):
            click.echo(line)

    session = testing.run_paths(targets, patterns,
                                min_coverage=min_coverage,
                                on_file=on_file if fmt == "text" else None)
    if fmt != "text":
        click.echo(testing.format_report(session, fmt))
        if junit_path is not None:
            _write_junit(session, junit_path)
        ctx.exit(session.exit_code)
    for diagnostic in session.diagnostics:
        click.echo(diagnostic.format_text(), err=True)
    for coverage in session.coverage:
        for line in testing.format_coverage(coverage, min_coverage, session.files):
            click.echo(line)
    click.echo(testing.summary_line(session))
    if junit_path is not None:
        _write_junit(session, junit_path)
    if session.below_coverage and session.exit_code == 1:
        names = ", ".join(f"{c.ruleset_id} {c.percent:.1f}%" for c in session.below_coverage)
        click.echo(
            f"error {codes.COVERAGE_TOO_LOW} rule coverage below {min_coverage:g}%: {names}",
            err=True,
        )
    ctx.exit(session.exit_code)


def _update(paths: list[Path], patterns: tuple[str, ...]) -> None:
    """Rewrite every failing expectation; refuses (writing nothing) when any
    test file is invalid."""
    found, problems = testing.discover(paths)
    if problems:
        raise InvalidInputError(problems)
    refused = [d for path in found
               for d in testing.load_test_file_with_diagnostics(path)[1] if d.is_error]
    if refused:
        raise InvalidInputError(refused + [Diagnostic(
            code=codes.UPDATE_INVALID_FILE,
            message="--update rewrites only valid test files: nothing was written",
            hint="fix the errors above, then run --update again")])
    for path in found:
        done = testing.update_file(path, patterns)
        if done.diff:
            click.echo(done.diff, nl=False)
        for name in done.updated:
            click.echo(f"updated: {done.path}: {name}")
        for name, why in done.left:
            click.echo(f"not updated: {done.path}: {name}: {why}")


def _write_junit(session: testing.SessionResult, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(testing.junit_xml(session), encoding="utf-8")


# --------------------------------------------------------------------------
# init
# --------------------------------------------------------------------------


def _template(name: str) -> str:
    resource = files("highseas.rulesets").joinpath(name)
    if not resource.is_file():
        raise InvalidInputError(
            f"the template {name} is not in this installation of highseas",
            code=codes.TEMPLATE_MISSING,
            hint="reinstall highseas, or pick another --archetype",
        )
    return resource.read_text(encoding="utf-8")


def _set_company(text: str, company: str, name: str) -> str:
    """Replace the id and name of the ``company:`` block of a ruleset text."""
    lines = text.splitlines(keepends=True)
    inside = done_id = done_name = False
    for index, line in enumerate(lines):
        if line.startswith("company:"):
            inside = True
            continue
        if inside and line.strip() and not line[0].isspace() and not line.startswith("#"):
            break
        if not inside:
            continue
        match = re.match(r"^(\s+)(id|name):(\s*)(.*?)(\s*)$", line)
        if match is None:
            continue
        indent, key, space, _, _ = match.groups()
        if key == "id" and not done_id:
            lines[index] = f"{indent}id:{space or ' '}{company}\n"
            done_id = True
        elif key == "name" and not done_name:
            quoted = '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
            lines[index] = f"{indent}name:{space or ' '}{quoted}\n"
            done_name = True
    if not done_id:
        raise InvalidInputError(
            "the template has no company id to replace", code=codes.TEMPLATE_MISSING
        )
    return "".join(lines)


def _name_company(text: str, archetype: str, company: str) -> str:
    """"the quick-order ruleset" -> "the acme ruleset (quick-order archetype)";
    a parenthesis right after it is merged in, "the acme ruleset (quick-order
    archetype; two-week release, small caps)" (a colon would end a YAML
    plain scalar)."""
    def named(match: re.Match[str]) -> str:
        detail = match.group(1)
        return (f"the {company} ruleset ({archetype} archetype"
                + (f"; {detail})" if detail else ")"))

    return re.sub(rf"the {re.escape(archetype)} ruleset(?: \(([^()\n]*)\))?", named, text)


def _schema_modeline(text: str) -> str:
    """Point the editor's ``$schema`` comment at the schemas init writes."""
    return re.sub(r"(\$schema=)\S*/schemas/", r"\g<1>" + _SCHEMA_DIR + "/", text, count=1)


def _schema_texts() -> dict[str, str]:
    """The JSON Schemas of rulesets and of test files, by file name."""
    return {
        _SCHEMA_FILES[0]: api.ruleset_schema_text(),
        _SCHEMA_FILES[1]: json.dumps(testing.tests_schema(), indent=2, ensure_ascii=False) + "\n",
    }


def _refused(planned: dict[Path, str], always: tuple[Path, ...]) -> list[Path]:
    """Files init would overwrite: the ruleset and test file when present, a
    shared file (CSV, schema) when it holds anything else than init writes."""
    return [path for path, text in planned.items() if path.exists() and (
        path in always or not path.is_file()
        or path.read_text(encoding="utf-8", errors="replace") != text)]


@click.command("init")
@click.option("--archetype", type=click.Choice(ARCHETYPES), required=True,
              help="The kind of company the starting ruleset is made for.")
@click.option("--company", "company", required=True, metavar="ID",
              help="The company id (lower-case letters, digits, '-' and '_').")
@click.option("--name", "company_name", default=None,
              help="The company's display name (default: the id).")
@click.option("--force", is_flag=True,
              help="Overwrite existing files (without it nothing is overwritten).")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
def init(archetype: str, company: str, company_name: str | None, force: bool,
         directory: Path) -> None:
    """Scaffold a company in DIRECTORY: a commented ruleset (ID.yaml), a test
    file with passing cases (ID.tests.yaml) and the CSV files it reads, ready
    to edit, and the JSON Schemas in DIRECTORY/schemas for editor completion.
    Refuses, writing nothing, when a file would be overwritten (a CSV or a
    schema with the same content is left as is) unless --force."""
    if not _ID.match(company):
        raise InvalidInputError(
            f"{company!r} is not a valid company id", code=codes.INIT_INVALID_COMPANY,
            hint="use lower-case letters, digits, '-' and '_' (at most 64 characters), "
            "e.g. acme-trading",
        )
    ruleset_file = directory / f"{company}.yaml"
    tests_file = directory / f"{company}.tests.yaml"
    ruleset_text = _schema_modeline(
        _set_company(_template(f"{archetype}.yaml"), company, company_name or company))
    tests_text = _schema_modeline(_template(f"{archetype}.tests.yaml"))
    tests_text = re.sub(r"(?m)^ruleset:.*$", f"ruleset: {company}.yaml", tests_text, count=1)
    tests_text = tests_text.replace(f"rulesets/{archetype}.tests.yaml",
                                    str(directory / f"{company}.tests.yaml"))
    tests_text = _name_company(tests_text, archetype, company)
    planned = {ruleset_file: ruleset_text, tests_file: tests_text}
    planned.update({directory / name: _template(name) for name in _CSV_REF.findall(tests_text)})
    planned.update({directory / _SCHEMA_DIR / name: text
                    for name, text in _schema_texts().items()})
    refused = _refused(planned, (ruleset_file, tests_file))
    if refused and not force:
        raise InvalidInputError([
            Diagnostic(code=codes.INIT_FILE_EXISTS, message="already exists; nothing was written",
                       file=str(p), hint="choose another directory or pass --force")
            for p in refused
        ])
    for path, text in planned.items():
        if path.is_file() and path not in refused:
            continue  # a shared file already as init writes it
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    click.echo(f"created {ruleset_file} (the {archetype} ruleset for {company})")
    click.echo(f"created {tests_file} (cases that pass; edit them with the rules)")
    click.echo(f"the editor schemas are in {directory / _SCHEMA_DIR}")
    click.echo(f"next: highseas validate {directory} && highseas test {directory}")
