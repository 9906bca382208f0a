"""Shared helpers for the simulator tests: a small generated company."""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
QUICK_ORDER = ROOT / "rulesets" / "quick-order.yaml"
#: The generated world ends here; replays run over its last days.
AS_OF = date(2026, 6, 30)


def generated_db(folder: Path, customers: int = 120, reps: int = 10, seed: int = 5) -> Path:
    """A quick-order company from the deterministic fixture generator."""
    from highseas.store.fixtures import generate

    path = folder / "facts.duckdb"
    generate(path, "quick-order", customers, reps, seed, AS_OF)
    return path


def file_digest(path: Path) -> str:
    """sha256 of a file and of its write-ahead log, if any."""
    digest = hashlib.sha256(path.read_bytes())
    wal = path.with_name(path.name + ".wal")
    if wal.exists():
        digest.update(wal.read_bytes())
    return digest.hexdigest()
