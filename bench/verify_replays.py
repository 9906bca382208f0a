"""The incremental replay against the nightly path on a year of history.

``simulate --verify`` (both replay paths from the same copy, stopping at
the first difference) over 365 days of

- each example ruleset (``rulesets/*.yaml``) on its generated fixture, with
  an idle-period sweep, and
- the two imported public data sets (``../shared/data``, when present) with
  their rulesets in ``fixtures/``, over the last year of their data.

Run::

    python bench/verify_replays.py                 # everything
    python bench/verify_replays.py --customers 500 --only quick-order

Prints one line per run (equal, or the first difference) and its time
(both paths); exits 1 at a difference. Results are appended as JSON lines to
``bench/results/verify_replays.jsonl``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data"
#: Each example ruleset and a sweep its reminders allow.
EXAMPLES = {"quick-order": "idle-period=30d", "large-project": "idle-period=1y",
            "regional-trading": "idle-period=30d"}


def _simulate(ruleset: Path, db: Path, start: date, end: date, **options: object) -> float:
    from highseas.simulate import simulate

    started = time.perf_counter()
    simulate(ruleset, db, start, end, jobs=1, **options)  # type: ignore[arg-type]
    return time.perf_counter() - started


def _span(db: Path, company: str) -> tuple[date, date]:
    import duckdb

    with duckdb.connect(str(db), read_only=True) as con:
        first, last = con.execute(
            'SELECT min(CAST("at" AS DATE)), max(CAST("at" AS DATE)) FROM activities '
            "WHERE company_id = ?", [company]).fetchall()[0]
    return first, last


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=1000)
    parser.add_argument("--reps", type=int, default=30)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--only", action="append", default=None,
                        help="an example archetype, crm or olist (repeatable)")
    args = parser.parse_args()

    from highseas.errors import ReplayDivergedError
    from highseas.store.fixtures import DEFAULT_AS_OF, generate
    from highseas.store.imports import (
        import_crm_sales_opportunities,
        import_olist_marketing_funnel,
    )

    runs: list[tuple[str, Path, Path, date, date, list[str]]] = []
    with tempfile.TemporaryDirectory(prefix="highseas-verify-") as folder:
        for name, sweep in EXAMPLES.items():
            if args.only and name not in args.only:
                continue
            db = Path(folder) / f"{name}.duckdb"
            generate(db, name, args.customers, args.reps, seed=1)
            end = DEFAULT_AS_OF
            runs.append((name, ROOT / "rulesets" / f"{name}.yaml", db,
                         end - timedelta(days=args.days - 1), end,
                         [sweep]))
        for name, importer, source, company in (
            ("crm", import_crm_sales_opportunities, SHARED / "crm-sales-opportunities",
             "crm-sales-opportunities"),
            ("olist", import_olist_marketing_funnel, SHARED / "olist-marketing-funnel",
             "olist-marketing-funnel"),
        ):
            if args.only and name not in args.only:
                continue
            if not source.exists():
                print(f"{name}: {source} is missing, not run")
                continue
            db = Path(folder) / f"{name}.duckdb"
            importer(db, source)  # type: ignore[operator]
            _, last = _span(db, company)
            runs.append((name, ROOT / "fixtures" / f"{company}.ruleset.yaml", db,
                         last - timedelta(days=args.days - 1), last, []))
        failed = False
        results = ROOT / "bench" / "results" / "verify_replays.jsonl"
        results.parent.mkdir(parents=True, exist_ok=True)
        for name, ruleset, db, start, end, sweeps in runs:
            try:
                verified = _simulate(ruleset, db, start, end, sweeps=sweeps, verify=True)
                outcome = "equal"
            except ReplayDivergedError as error:
                verified, outcome, failed = float("nan"), str(error), True
            line = {"run": name, "from": start.isoformat(), "to": end.isoformat(),
                    "sweeps": sweeps, "outcome": outcome, "verify_s": round(verified, 2)}
            print(json.dumps(line))
            with results.open("a") as out:
                out.write(json.dumps(line) + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
