"""Test-only hooks run inside the Dask workers (imported there by name)."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from highseas.fleet import CompanyRef


@dataclass(frozen=True)
class KillInsideApply:
    """Kills the worker process running ``company`` once, inside the apply's
    transaction: after every row of the run is written, before COMMIT. The
    marker file records the worker and what the open transaction held; its
    presence lets the next attempt run normally."""

    company: str
    marker: str

    def __call__(self, company: CompanyRef) -> None:
        if company.id != self.company or Path(self.marker).exists():
            return
        import highseas.nightly.apply as apply_module

        committing = apply_module.transaction
        marker = Path(self.marker)

        @contextmanager
        def dying(con: Any) -> Iterator[Any]:
            with committing(con) as tx:
                yield tx
                if tx.open:  # every row of the run written, COMMIT not yet run
                    from distributed import get_worker

                    held = {
                        "worker": get_worker().address,
                        "runs": con.execute("SELECT count(*) FROM runs WHERE company_id = ?",
                                            [company.id]).fetchone()[0],
                        "events": con.execute(
                            "SELECT count(*) FROM ownership_events WHERE company_id = ?",
                            [company.id]).fetchone()[0],
                    }
                    marker.write_text(json.dumps(held), encoding="utf-8")
                    os.kill(os.getpid(), signal.SIGKILL)

        apply_module.transaction = dying  # type: ignore[assignment]
