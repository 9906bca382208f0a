"""The result of a fleet run and its summary files (Parquet, JSON lines)."""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from highseas import codes
from highseas.errors import InvalidInputError
from highseas.fleet.outcome import Outcome, Status

SUMMARY_SUFFIXES = (".parquet", ".jsonl")


@dataclass(frozen=True)
class FleetResult:
    """Every company's outcome (sorted by company), the wall time of the run
    and the number of workers it ran on."""

    outcomes: tuple[Outcome, ...]
    wall_s: float
    workers: int

    @property
    def exit_code(self) -> int:
        """0 when every company was applied, planned or already applied; 1 when
        one failed or was refused by a guard."""
        return codes.EXIT_OK if all(o.ok for o in self.outcomes) else codes.EXIT_FAILURE

    def by_status(self) -> dict[Status, int]:
        counted = Counter(o.status for o in self.outcomes)
        return {status: counted[status] for status in Status if counted[status]}

    def totals_line(self) -> str:
        """``50 companies in 12.3 s on 2 workers: 48 applied, 2 failed``."""
        parts = ", ".join(f"{n} {status.value}" for status, n in self.by_status().items())
        workers = f"{self.workers} worker{'s' if self.workers != 1 else ''}"
        return (f"{len(self.outcomes)} companies in {self.wall_s:.1f} s on {workers}: "
                f"{parts or 'nothing to do'}")

    def actions(self) -> tuple[str, ...]:
        """The count columns of the summary: every action any plan counted, in
        the plans' own order."""
        seen: dict[str, None] = {}
        for outcome in self.outcomes:
            seen.update(dict.fromkeys(outcome.counts))
        return tuple(seen)

    def rows(self) -> list[dict[str, Any]]:
        actions = self.actions()
        return [o.to_row(actions) for o in self.outcomes]


def check_summary_path(path: Path) -> str:
    """The suffix of ``path`` (.parquet or .jsonl); refused otherwise, before
    anything runs."""
    suffix = path.suffix.lower()
    if suffix not in SUMMARY_SUFFIXES:
        raise InvalidInputError(
            f"cannot write a summary to {path}: unknown suffix {path.suffix or '(none)'}",
            code=codes.SUMMARY_SUFFIX,
            file=str(path),
            hint="name it summary.parquet or summary.jsonl",
        )
    return suffix


def write_summary(result: FleetResult, path: Path) -> None:
    """Write one row per company to ``path`` (Parquet or JSON lines, by its
    suffix); written to a temporary file first, then renamed."""
    suffix = check_summary_path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        if suffix == ".parquet":
            _write_parquet(result.rows(), result.actions(), tmp)
        else:
            _write_jsonl(result.rows(), tmp)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def _write_jsonl(rows: Sequence[dict[str, Any]], path: Path) -> None:
    with open(path, "w", encoding="utf-8", newline="\n") as out:
        for row in rows:
            out.write(json.dumps({**row, "as_of": row["as_of"] or None}, ensure_ascii=False))
            out.write("\n")


def _write_parquet(rows: Sequence[dict[str, Any]], actions: tuple[str, ...], path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    fields = [pa.field("company", pa.string()), pa.field("as_of", pa.date32()),
              pa.field("status", pa.string())]
    fields += [pa.field(f"count_{action}", pa.int64()) for action in actions]
    fields += [pa.field("duration_s", pa.float64()), pa.field("worker", pa.string()),
               pa.field("attempt", pa.int32()), pa.field("error_code", pa.string()),
               pa.field("error_message", pa.string()), pa.field("run_id", pa.string()),
               pa.field("plan_sha256", pa.string())]
    schema = pa.schema(fields)
    columns = {
        f.name: [
            (date.fromisoformat(r["as_of"]) if r["as_of"] else None) if f.name == "as_of"
            else r[f.name]
            for r in rows
        ]
        for f in schema
    }
    pq.write_table(pa.Table.from_pydict(columns, schema=schema), path)
