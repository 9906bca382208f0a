"""Rule verdicts for the planner: SQL candidate filter + durable-rules.

For every decision point of the compiled ruleset, the SQL expression
generated from the same intermediate representation selects the customers
whose facts make it true, and durable-rules decides every distinct fact
pattern among them (customers with equal values in the columns a condition
reads get equal verdicts, so each pattern is sent once). The two must agree:
a pattern durable-rules does not match is an engine bug and stops the run
(HS525) rather than silently trusting one side. That the filter misses no
customer durable-rules would match is proved by property tests
(tests/nightly/test_properties.py, tests/compile/test_ir*.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from highseas import codes
from highseas.compile import durable, ir, trace
from highseas.compile import to_sql as sql_form
from highseas.compile.decision_points import (
    CompiledRuleset,
    DecisionPoint,
    compile_ruleset,
    release_condition,
)
from highseas.errors import EngineError
from highseas.ruleset.durations import Duration
from highseas.ruleset.model import ReleaseRule, Ruleset

if TYPE_CHECKING:
    from concurrent.futures import Future

    import duckdb


@dataclass
class Evaluation:
    """The verdicts of one run. Each decision point's verdict is its SQL
    filter over the facts table (confirmed by durable-rules pattern by
    pattern); :meth:`where` gives it to the planner to select in SQL, and
    :meth:`matched` fetches the matching keys."""

    ruleset: Ruleset
    compiled: CompiledRuleset
    con: duckdb.DuckDBPyConnection
    facts_table: str
    filters: Mapping[str, tuple[str, list[object]]]
    customer_count: int
    _matched: dict[str, frozenset[int]] = field(default_factory=dict, repr=False)
    _later: dict[tuple[str, date], ir.Node] = field(default_factory=dict, repr=False)
    _columns: dict[str, tuple[str, ...]] = field(default_factory=dict, repr=False)
    _reason_nodes: dict[str, tuple[ir.Leaf | ir.IsNull | ir.Const, ...]] = field(
        default_factory=dict, repr=False
    )
    _words: dict[tuple[int, object], str | None] = field(default_factory=dict, repr=False)
    _pending: Future[None] | None = field(default=None, repr=False)

    def confirm(self) -> None:
        """Wait for durable-rules to confirm the verdicts (when they were
        confirmed in the background); raises its EngineError if it disagreed."""
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()

    def where(self, name: str) -> tuple[str, list[object]]:
        """The SQL condition (on the facts table's columns) and its parameters
        that hold exactly for the customers matching point ``name``."""
        if name not in self.filters:
            self.compiled.point(name)  # raises with a did-you-mean
        expression, params = self.filters[name]
        return expression, list(params)

    def matched(self, name: str) -> frozenset[int]:
        """Keys ``k`` of the customers for which point ``name`` holds."""
        keys = self._matched.get(name)
        if keys is None:
            expression, params = self.where(name)
            keys = frozenset(
                int(k) for (k,) in self.con.execute(
                    f"SELECT k FROM {self.facts_table} WHERE {expression}", params
                ).fetchall()
            )
            self._matched[name] = keys
        return keys

    def holds(self, name: str, key: int) -> bool:
        """Whether point ``name`` holds for the customer with key ``key``."""
        expression, params = self.where(name)
        return bool(self.con.execute(
            f"SELECT count(*) FROM {self.facts_table} WHERE k = ? AND ({expression})",
            [key, *params],
        ).fetchall()[0][0])

    def columns(self, name: str) -> tuple[str, ...]:
        """The fact columns point ``name`` reads (all its caller must fetch)."""
        columns = self._columns.get(name)
        if columns is None:
            columns = tuple(sorted(ir.columns_of(self.compiled.point(name).condition)))
            self._columns[name] = columns
        return columns

    def rule_columns(self, rule: ReleaseRule) -> tuple[str, ...]:
        """The fact columns a release rule reads on any day (its release and
        reminder points): what reasons and release dates need."""
        names = [f"release:{rule.id}"] + [f"remind:{rule.id}:{o}" for o in rule.remind_before]
        return tuple(sorted({c for name in names for c in self.columns(name)}))

    def _normalize_columns(
        self, columns: tuple[str, ...], row: Mapping[str, Any]
    ) -> dict[str, object]:
        return ir.normalize_fact(row, {c: self.compiled.columns[c] for c in columns})

    def describe(self, name: str, row: Mapping[str, Any]) -> str:
        """The conditions that made point ``name`` hold for ``row`` (raw facts
        values), as a sentence: ``rule <subject>: <the passed leaves>`` in the
        words of :func:`highseas.compile.trace.explain`. Each leaf is worded once per
        distinct value of its column, so describing many customers costs a
        few dictionary lookups each."""
        nodes = self._reason_nodes.get(name)
        if nodes is None:
            nodes = tuple(trace.reason_nodes(self.compiled.point(name).condition))
            self._reason_nodes[name] = nodes
        parts: list[str] = []
        for node in nodes:
            raw = None if isinstance(node, ir.Const) else row.get(node.column)
            key = (id(node), _hashable(raw))
            if key not in self._words:
                self._words[key] = self._word(node, raw)
            words = self._words[key]
            if words is not None:
                parts.append(words)
        subject = f"rule {self.compiled.point(name).subject}"
        return f"{subject}: " + "; ".join(parts) if parts else subject

    def _word(self, node: ir.Leaf | ir.IsNull | ir.Const, raw: object) -> str | None:
        """What a reason says for ``node`` on the raw fact value ``raw`` (its
        explanation without the verdict), None when it does not hold."""
        fact: dict[str, object] = {}
        if not isinstance(node, ir.Const):
            ctype = self.compiled.columns[node.column]
            fact = ir.normalize_fact({node.column: raw}, {node.column: ctype})
        explanation = trace.explain(node, fact)
        return explanation.text.rsplit(":", 1)[0] if explanation.passed else None

    def release_date(
        self, rule: ReleaseRule, row: Mapping[str, Any], offset: Duration
    ) -> date | None:
        """The first day within ``offset`` after the as-of date on which ``rule``
        would release the customer if nothing changes (None if none): the
        Python form of :meth:`release_day_sql`, which the planner uses (the
        two are tested equal)."""
        fact = self._normalize_columns(self.rule_columns(rule), row)
        for day, node in self._release_conditions(rule, offset):
            if ir.holds(node, fact):
                return day
        return None

    def _release_conditions(
        self, rule: ReleaseRule, offset: Duration
    ) -> list[tuple[date, ir.Node]]:
        """``rule``'s release condition as of each day after the as-of date up
        to the end of ``offset`` (compiled once per rule and day)."""
        as_of = self.compiled.as_of
        last = offset.add_to(as_of)
        out: list[tuple[date, ir.Node]] = []
        day = as_of + timedelta(days=1)
        while day <= last:
            key = (rule.id, day)
            node = self._later.get(key)
            if node is None:
                node = release_condition(rule, day, self.ruleset)
                self._later[key] = node
            out.append((day, node))
            day += timedelta(days=1)
        return out

    def release_day_sql(self, rule: ReleaseRule, offset: Duration) -> tuple[str, list[object]]:
        """SQL for :meth:`release_date` on a facts row: the number of days
        after the as-of date (1 ... the end of ``offset``) of the first day
        ``rule`` would release the customer, or NULL. Generated from the same
        IR, one condition per day, so it equals the Python evaluation."""
        branches: list[str] = []
        params: list[object] = []
        for day, node in self._release_conditions(rule, offset):
            sql, day_params = sql_form.to_sql(node, self.compiled.allowed_columns)
            branches.append(f"WHEN ({sql}) THEN {(day - self.compiled.as_of).days}")
            params.extend(day_params)
        if not branches:
            return "NULL::INTEGER", []
        return f"CASE {' '.join(branches)} END", params



def _hashable(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def _patterns(
    con: duckdb.DuckDBPyConnection,
    compiled: CompiledRuleset,
    point: DecisionPoint,
    facts_table: str,
    expression: str,
    params: list[object],
) -> list[dict[str, object]]:
    """One fact pattern (values of the columns ``point`` reads) per class of
    the customers the SQL filter selected for it, each with a key ``k``.

    Every leaf of a condition compares one column with a constant, so
    customers on whom every leaf (and every column's NULL test) agrees get
    equal verdicts from any correct evaluator: the verdict is a function of
    the leaves. Each class is represented by the values of its lowest-key
    customer, and by the same values with one column moved to the smallest
    or the largest value it takes in the class (the class's edges, where an
    off-by-one would show). durable-rules decides those patterns: dozens per
    point instead of one per distinct combination of values (dates make
    those run into the hundreds of thousands)."""
    columns = sorted(ir.columns_of(point.condition))
    if not columns:
        return []
    allowed = compiled.allowed_columns
    keys: list[str] = [f"({sql_form.quote_identifier(c, allowed)} IS NULL)" for c in columns]
    key_params: list[object] = []
    seen: set[ir.Leaf | ir.IsNull] = set()
    for leaf in ir.leaves(point.condition):
        if leaf in seen:
            continue
        seen.add(leaf)
        leaf_sql, leaf_params = sql_form.to_sql(leaf, allowed)
        keys.append(leaf_sql)
        key_params.extend(leaf_params)
    # Per class: its lowest-key customer's values (NULLs kept), and each
    # column's smallest and largest value in the class (its edges, where an
    # off-by-one would show).
    quoted = [sql_form.quote_identifier(c, allowed) for c in columns]
    edges = "".join(f", min({q}), max({q})" for q in quoted)
    values = "".join(f", arg_min_null({q}, k)" for q in quoted)
    width = len(columns)
    classes = sorted(con.execute(
        f"SELECT min(k){edges}{values} FROM {facts_table} WHERE {expression} "
        f"GROUP BY {', '.join(keys)}",
        [*params, *key_params],
    ).fetchall(), key=lambda row: int(row[0]))
    lowest = {int(row[0]): row[1 + 2 * width:] for row in classes}
    # The lowest-key customer's values, then the same with one column moved
    # to an edge of its class: still in the class (a leaf reads one column,
    # and the edge value's leaves agree with the customer's), so its verdict
    # must be the class's.
    patterns: list[tuple[object, ...]] = []
    sent: set[tuple[object, ...]] = set()
    for row in classes:
        base = lowest[int(row[0])]
        candidates = [tuple(base)]
        for index in range(len(columns)):
            for edge in row[1 + 2 * index: 3 + 2 * index]:
                if edge is not None:
                    candidates.append((*base[:index], edge, *base[index + 1:]))
        for candidate in candidates:
            key = tuple(_hashable(value) for value in candidate)
            if key not in sent:
                sent.add(key)
                patterns.append(candidate)
    return [dict(zip(columns, row, strict=True), k=index) for index, row in enumerate(patterns)]


def _confirm_with_durable(
    compiled: CompiledRuleset, work: list[tuple[DecisionPoint, list[dict[str, object]]]]
) -> None:
    """Have durable-rules decide the fact patterns :func:`_patterns` chose
    for each point (a few per class of customers on whom every leaf agrees);
    any pattern it does not match stops the run."""
    for point, facts in work:
        columns = sorted(ir.columns_of(point.condition))
        single = replace(
            compiled,
            points=(point,),
            columns={c: compiled.columns[c] for c in columns},
        )
        matched = durable.decide(single, facts)[point.name]
        if len(matched) != len(facts):
            missing = next(f for f in facts if f["k"] not in matched)
            raise EngineError(
                f"decision point {point.name}: durable-rules and the SQL candidate filter "
                f"disagree on the facts {missing}",
                code=codes.CANDIDATE_FILTER_DISAGREES,
                hint="this is a bug in highseas; no decision was taken",
            )


def evaluate_ruleset(
    con: duckdb.DuckDBPyConnection,
    ruleset: Ruleset,
    as_of: date,
    facts_table: str,
    *,
    background: bool = False,
) -> Evaluation:
    """Compile ``ruleset`` for ``as_of`` and decide every point for every
    customer in ``facts_table`` (see highseas.nightly.facts).

    With ``background``, durable-rules confirms the SQL verdicts on a worker
    thread while the caller goes on (DuckDB runs its queries without holding
    the interpreter); the caller must call :meth:`Evaluation.confirm` before
    using any decision."""

    compiled = compile_ruleset(ruleset, as_of)
    total = int(con.execute(f"SELECT count(*) FROM {facts_table}").fetchall()[0][0])
    filters: dict[str, tuple[str, list[object]]] = {}
    work: list[tuple[DecisionPoint, list[dict[str, object]]]] = []
    for point in compiled.points:
        expression, params = compiled.sql(point.name)
        facts = _patterns(con, compiled, point, facts_table, expression, params)
        if facts:
            work.append((point, facts))
        filters[point.name] = (expression, list(params))
    evaluation = Evaluation(ruleset, compiled, con, facts_table, filters, total)
    if background:
        from concurrent.futures import ThreadPoolExecutor

        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="highseas-durable")
        evaluation._pending = executor.submit(_confirm_with_durable, compiled, work)
        executor.shutdown(wait=False)
    else:
        _confirm_with_durable(compiled, work)
    return evaluation
