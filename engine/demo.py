"""``highseas demo``: the nightly job on generated demo data."""

from __future__ import annotations

from importlib.resources import as_file, files
from pathlib import Path

from highseas.api import RunResult, load_ruleset, run

DEMO_ARCHETYPE = "regional-trading"


def demo_ruleset_path() -> Path:
    """The bundled regional-trading example ruleset (inside the package)."""
    resource = files("highseas.rulesets").joinpath(f"{DEMO_ARCHETYPE}.yaml")
    with as_file(resource) as path:
        return Path(path)


def run_demo(db_path: Path, *, apply: bool = False) -> RunResult:
    """Create the demo database if absent and run the regional-trading ruleset
    on it as of the generator's anchor date."""
    from highseas.store.demo import ensure_demo_db
    from highseas.store.fixtures import DEFAULT_AS_OF

    db_path.parent.mkdir(parents=True, exist_ok=True)
    ensure_demo_db(db_path)
    ruleset = load_ruleset(demo_ruleset_path())
    return run(ruleset, db_path, DEFAULT_AS_OF, apply=apply)
