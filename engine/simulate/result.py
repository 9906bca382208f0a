"""What a simulation returns: :class:`SimulationResult`, and its text table.

Shared by the facade (``highseas.simulate``), which builds it, and the
report writers (``highseas.simulate.report``), which render it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from highseas.errors import Diagnostic
from highseas.simulate.metrics import Row, side_by_side, to_arrow
from highseas.simulate.provenance import Provenance

if TYPE_CHECKING:
    import pyarrow as pa


@dataclass
class SimulationResult:
    """The metric tables of every scenario, and how the run went."""

    company_id: str
    start: date
    end: date
    scenarios: tuple[str, ...]
    overrides: dict[str, tuple[str, ...]]
    tables: dict[str, list[Row]]
    warnings: tuple[Diagnostic, ...] = ()
    seconds: float = 0.0
    files: tuple[Path, ...] = field(default_factory=tuple)
    #: The behaviour model in words ("" when off: no contacts invented).
    behaviour: str = ""
    #: The first day the metrics count (after a warm-up; None: ``start``).
    measured_from: date | None = None
    #: Scenarios whose ruleset is the baseline's (a sweep through its value):
    #: their figures are the baseline's.
    same_as_baseline: tuple[str, ...] = ()
    #: What produced the simulation (the report opens with it).
    provenance: Provenance | None = None
    #: Wall seconds of each replayed day per scenario replayed (a scenario
    #: equal to another is not replayed again); not in any output file.
    day_seconds: dict[str, tuple[float, ...]] = field(default_factory=dict)

    @property
    def days(self) -> int:
        """Days replayed, a warm-up included."""
        return (self.end - self.start).days + 1

    @property
    def first_counted(self) -> date:
        """The first day the metrics count."""
        return self.measured_from or self.start

    @property
    def warm_up_days(self) -> int:
        """Days replayed before the metrics count (0 without a warm-up)."""
        return (self.first_counted - self.start).days

    def table(self, name: str) -> pa.Table:
        """Metric table ``name`` as a ``pyarrow.Table`` (``.to_pandas()``, ``.to_pylist()``)."""
        if name == "comparison":
            return to_arrow(self.side_by_side())
        return to_arrow(self.tables[name], name)

    def value(self, scenario: str, metric: str) -> object:
        """One summary value, e.g. ``value("baseline", "customers_released")``."""
        for row in self.tables["summary"]:
            if row["scenario"] == scenario and row["metric"] == metric:
                return row["value"]
        raise KeyError((scenario, metric))

    def side_by_side(self) -> list[Row]:
        return side_by_side(self.tables["summary"], self.scenarios)

    def format_text(self) -> str:
        warm_up = ""
        if self.warm_up_days:
            warm_up = (f", the first {self.warm_up_days} a warm-up: metrics from "
                       f"{self.first_counted}")
        head = (f"simulation of {self.company_id} from {self.start} to {self.end} "
                f"({self.days} days{warm_up}, {len(self.scenarios)} scenario(s), "
                f"{self.seconds:.1f} s)")
        return head + "\n" + format_side_by_side(self.side_by_side(), self.scenarios,
                                                 self.same_as_baseline)


#: How a scenario whose ruleset is the baseline's is marked.
SAME_AS_BASELINE = "(= baseline)"


def format_value(value: Any) -> str:
    """A metric value as the tables show it ("-" when missing)."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1000 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def format_diff(value: Any) -> str:
    """A difference against the baseline, signed when positive ("" when missing)."""
    if value is None:
        return ""
    if isinstance(value, int | float) and value > 0:
        return "+" + format_value(value)
    return format_value(value)


def format_side_by_side(rows: Sequence[Row], scenarios: Sequence[str],
                        same_as_baseline: Sequence[str] = ()) -> str:
    """The baseline and each scenario, with differences, as aligned text.

    Scenario names can be long: columns are numbered and named underneath,
    those ``same_as_baseline`` marked so."""
    headers = ["metric", "baseline"]
    for index, _name in enumerate(scenarios[1:], start=1):
        headers += [f"[{index}]", "diff"]
    body = []
    for row in rows:
        line = [row["label"], format_value(row.get(scenarios[0]))]
        for name in scenarios[1:]:
            line += [format_value(row.get(name)), format_diff(row.get(f"{name} diff"))]
        body.append(line)
    widths = [max(len(r[i]) for r in [headers, *body]) for i in range(len(headers))]
    out = ["  ".join(h.ljust(w) if i == 0 else h.rjust(w)
                     for i, (h, w) in enumerate(zip(headers, widths, strict=True)))]
    out.append("  ".join("-" * w for w in widths))
    for line in body:
        out.append("  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                             for i, (c, w) in enumerate(zip(line, widths, strict=True))))
    for index, name in enumerate(scenarios[1:], start=1):
        mark = f" {SAME_AS_BASELINE}" if name in same_as_baseline else ""
        out.append(f"[{index}] {name}{mark}")
    return "\n".join(out)
