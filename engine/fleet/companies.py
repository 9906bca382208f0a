"""The companies of a fleet run: a ruleset file plus its facts database.

A company is ``RULESETS/<id>.yaml`` (or ``.yml``; test files
``*.tests.yaml`` are not rulesets) and, with ``--facts`` a folder,
``FACTS/<id>.duckdb``: one database file per company, so that no two tasks
ever write one file (DuckDB allows one writer per file). With ``--facts`` a
single database file, every ruleset reads its own company from it: planning
only.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from highseas import codes
from highseas.errors import InvalidInputError

RULESET_SUFFIXES = (".yaml", ".yml")
FACTS_SUFFIX = ".duckdb"


@dataclass(frozen=True)
class CompanyRef:
    """What a worker needs to run one company: its id and two paths (only
    paths travel to the workers, never data)."""

    id: str
    ruleset: str
    facts: str


def _is_ruleset(path: Path) -> bool:
    return (path.is_file() and path.suffix in RULESET_SUFFIXES
            and not path.name.endswith((".tests.yaml", ".tests.yml")))


def discover(
    rulesets: Path,
    facts: Path,
    *,
    apply: bool = False,
    only: Sequence[str] = (),
    exclude: Sequence[str] = (),
) -> list[CompanyRef]:
    """The companies under ``rulesets`` (sorted by id), their facts in
    ``facts`` (a folder of ``<id>.duckdb``, or one database for planning),
    narrowed by ``only`` and ``exclude``.

    Raises (exit 2) for a missing folder, a folder without rulesets, ``only``
    or ``exclude`` naming an unknown company, or ``apply`` with one shared
    database. A company whose facts file is missing is kept: its task fails
    alone with HS400.
    """
    if not rulesets.is_dir():
        raise InvalidInputError(f"rulesets folder {rulesets} does not exist",
                                code=codes.PATH_NOT_FOUND, file=str(rulesets))
    if not facts.exists():
        raise InvalidInputError(f"facts {facts} does not exist", code=codes.PATH_NOT_FOUND,
                                file=str(facts))
    shared = not facts.is_dir()
    if shared and apply:
        raise InvalidInputError(
            f"--apply needs one database file per company, but --facts {facts} is one file",
            code=codes.SHARED_FACTS_APPLY,
            file=str(facts),
            hint="DuckDB allows one writer per file; pass a folder of <company>.duckdb files "
                 "(a single database is accepted for planning only)",
        )
    found = {path.stem: path for path in sorted(rulesets.iterdir()) if _is_ruleset(path)}
    if not found:
        raise InvalidInputError(f"{rulesets} holds no ruleset files (*.yaml, *.yml)",
                                code=codes.NO_YAML_FILES, file=str(rulesets))
    _check_named(only, found, "--only")
    _check_named(exclude, found, "--exclude")
    chosen = [name for name in sorted(found)
              if (not only or name in only) and name not in exclude]
    return [
        CompanyRef(name, str(found[name].resolve()),
                   str(facts.resolve() if shared else (facts / f"{name}{FACTS_SUFFIX}").resolve()))
        for name in chosen
    ]


def _check_named(names: Sequence[str], found: dict[str, Path], option: str) -> None:
    unknown = [name for name in names if name not in found]
    if not unknown:
        return
    close = difflib.get_close_matches(unknown[0], list(found), n=1)
    raise InvalidInputError(
        f"{option} names no company of the rulesets folder: {', '.join(unknown)}",
        code=codes.UNKNOWN_FLEET_COMPANY,
        hint=f"did you mean {close[0]!r}?" if close else
             "a company is named after its ruleset file, without .yaml",
    )
