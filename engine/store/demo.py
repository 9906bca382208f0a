"""The demo database: generated on first use, never committed."""

from __future__ import annotations

import os
from pathlib import Path

from highseas.store.db import PathLike
from highseas.store.fixtures import DEFAULT_AS_OF, generate

#: The demo company: the regional-trading archetype at a size that runs in a blink.
DEMO_ARCHETYPE = "regional-trading"
DEMO_CUSTOMERS = 2000
DEMO_REPS = 40
DEMO_SEED = 7


def ensure_demo_db(path: PathLike) -> Path:
    """Return ``path``, first generating the demo database there if absent.

    Generated into a temporary file next to it and renamed into place, so an
    interrupted or concurrent first use never leaves a half-written database.
    """
    target = Path(path)
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        temp.unlink(missing_ok=True)
        generate(temp, DEMO_ARCHETYPE, DEMO_CUSTOMERS, DEMO_REPS, DEMO_SEED, DEFAULT_AS_OF)
        os.replace(temp, target)
    finally:
        temp.unlink(missing_ok=True)
        Path(str(temp) + ".wal").unlink(missing_ok=True)
    return target
