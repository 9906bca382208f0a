"""Rule verdicts for the planner: SQL candidate filter + durable-rules.

For every decision point of the compiled ruleset, the SQL expression
generated from the same intermediate representation selects the customers
whose facts make it true. Those candidates (the union over all points) are
sent through durable-rules, which gives the verdicts the planner acts on. The
two must agree: a difference is an engine bug and stops the run (HS525)
rather than silently trusting one side.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from engine import ir
from engine.compiler import CompiledRuleset, compile_ruleset, release_condition
from engine.durations import Duration
from engine.errors import EngineError
from engine.model import ReleaseRule, Ruleset

if TYPE_CHECKING:
    import duckdb


@dataclass
class Evaluation:
    """The verdicts of one run: decision point name -> fact keys that matched."""

    ruleset: Ruleset
    compiled: CompiledRuleset
    verdicts: Mapping[str, frozenset[int]]
    customer_count: int
    candidate_count: int
    _later: dict[tuple[str, date], ir.Node] = field(default_factory=dict, repr=False)

    def matched(self, name: str) -> frozenset[int]:
        """Keys ``k`` of the customers for which point ``name`` holds."""
        if name not in self.verdicts:
            self.compiled.point(name)  # raises with a did-you-mean
        return self.verdicts[name]

    def describe(self, name: str, row: Mapping[str, Any]) -> str:
        """The conditions that made point ``name`` hold for ``row``, as a sentence."""
        explanation = self.compiled.explain(name, row)
        parts = [leaf.text.rsplit(":", 1)[0] for leaf in explanation.leaves() if leaf.passed]
        point = self.compiled.point(name)
        subject = f"rule {point.subject}"
        return f"{subject}: " + "; ".join(parts) if parts else subject

    def release_date(
        self, rule: ReleaseRule, row: Mapping[str, Any], offset: Duration
    ) -> date | None:
        """The first day within ``offset`` after the as-of date on which ``rule``
        would release the customer if nothing changes (None if none)."""
        as_of = self.compiled.as_of
        fact = self.compiled.normalize(row)
        last = offset.add_to(as_of)
        day = as_of + timedelta(days=1)
        while day <= last:
            key = (rule.id, day)
            node = self._later.get(key)
            if node is None:
                node = release_condition(rule, day, self.ruleset)
                self._later[key] = node
            if ir.evaluate(node, fact):
                return day
            day += timedelta(days=1)
        return None


def evaluate_ruleset(
    con: duckdb.DuckDBPyConnection, ruleset: Ruleset, as_of: date, facts_table: str
) -> Evaluation:
    """Compile ``ruleset`` for ``as_of`` and decide every point for every
    customer in ``facts_table`` (see engine.derive)."""
    from engine import derive
    from engine.durable_eval import evaluate

    compiled = compile_ruleset(ruleset, as_of)
    total = int(con.execute(f"SELECT count(*) FROM {facts_table}").fetchall()[0][0])
    sql_verdicts: dict[str, frozenset[int]] = {}
    for point in compiled.points:
        expression, params = compiled.sql(point.name)
        keys = con.execute(
            f"SELECT k FROM {facts_table} WHERE {expression}", params
        ).fetchall()
        sql_verdicts[point.name] = frozenset(int(k) for (k,) in keys)
    # durable-rules decides each point for that point's SQL candidates only: a
    # customer the filter leaves out cannot match (tests prove the filter exact).
    candidates: set[int] = set()
    for keys in sql_verdicts.values():
        candidates |= keys
    rows_by_key = {
        row["k"]: row
        for row in (
            derive.fetch_fact_rows(
                con, facts_table, "k IN (SELECT unnest(?::BIGINT[]))", [sorted(candidates)]
            )
            if candidates
            else []
        )
    }
    verdicts: dict[str, frozenset[int]] = {}
    for point in compiled.points:
        keys = sql_verdicts[point.name]
        if not keys:
            verdicts[point.name] = frozenset()
            continue
        single = replace(compiled, points=(point,))
        verdicts[point.name] = evaluate(single, [rows_by_key[k] for k in sorted(keys)])[
            point.name
        ]
    for name, keys in sql_verdicts.items():
        if verdicts[name] != keys:
            differ = sorted(verdicts[name] ^ keys)[:5]
            raise EngineError(
                f"decision point {name}: durable-rules and the SQL candidate filter disagree "
                f"on {len(verdicts[name] ^ keys)} customers (keys {differ})",
                code="HS525",
                hint="this is a bug in highseas; no decision was taken",
            )
    return Evaluation(ruleset, compiled, verdicts, total, len(candidates))
