"""Property: for random conditions and random facts (NULLs included), the
durable-rules verdicts == the IR's Python evaluator == the IR's SQL
expression evaluated by DuckDB on the same rows."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import date

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from highseas.compile import durable as durable_eval
from highseas.compile import ir
from highseas.compile import to_durable as durable_form
from highseas.compile.decision_points import compile_ruleset
from highseas.nightly.verdicts import Evaluation
from highseas.ruleset import model
from tests.support.ir import AS_OF, TODAY, d, make_ruleset, one_rule

FIELDS = (
    model.CustomField("score", "number"),
    model.CustomField("flag", "boolean"),
    model.CustomField("signed", "date"),
    model.CustomField("note", "string"),
)
EXAMPLES = int(os.environ.get("HIGHSEAS_EQUIVALENCE_EXAMPLES", "120"))

STRINGS = st.sampled_from(["", "DE", "FR", "de", "a\"b", "x'y", "ü", "€", "😀", "10", "9", "Z"])
INTS = st.integers(min_value=-3, max_value=12)
FLOATS = st.sampled_from([-1.5, 0.0, 0.1, 2.0, 2.5, 10.0, 1e9])
DATES = st.dates(min_value=date(2023, 1, 1), max_value=date(2027, 1, 1))
TAGS = st.sampled_from(["vip", "gold", "ä", "x y"])
DURATIONS = st.sampled_from(["1d", "30d", "90d", "2w", "1mo", "6mo", "1y"])
OPS = st.sampled_from(["=", "!=", "<", "<=", ">", ">="])
SET_OPS = st.sampled_from(["in", "not in"])


def _compare(field: str, values: st.SearchStrategy[object]) -> st.SearchStrategy[model.Condition]:
    single = st.builds(model.Compare, st.just(field), OPS, values)
    many = st.builds(model.Compare, st.just(field), SET_OPS,
                     st.lists(values, min_size=0, max_size=4).map(tuple))
    return single | many


LEAVES: st.SearchStrategy[model.Condition] = st.one_of(
    st.builds(model.IdleFor, DURATIONS.map(d)),
    st.builds(model.NoOrderFor, DURATIONS.map(d)),
    st.builds(model.OwnedFor, DURATIONS.map(d)),
    st.builds(model.CreatedBefore, DURATIONS.map(d)),
    st.builds(model.NeverContacted, st.booleans()),
    st.builds(model.HasOpenOrder, st.booleans()),
    st.builds(model.WonWithin, DURATIONS.map(d)),
    st.builds(model.LastWonBefore, DURATIONS.map(d)),
    st.builds(model.InStageFor, DURATIONS.map(d)),
    _compare("stage", STRINGS),
    _compare("level", INTS),
    _compare("country", STRINGS),
    _compare("score", FLOATS),
    _compare("signed", DATES),
    _compare("note", STRINGS),
    st.builds(model.Compare, st.just("flag"), st.sampled_from(["=", "!=", "in", "not in"]),
              st.booleans()).map(
        lambda c: model.Compare(c.field, c.op, (c.value,) if "in" in c.op else c.value)),
    st.builds(model.TagsMatch, st.sampled_from(["any", "all", "none"]),
              st.lists(TAGS, min_size=1, max_size=3).map(tuple)),
)

CONDITIONS = st.recursive(
    LEAVES,
    lambda inner: st.one_of(
        st.lists(inner, min_size=1, max_size=3).map(lambda xs: model.AllOf(tuple(xs))),
        st.lists(inner, min_size=1, max_size=3).map(lambda xs: model.AnyOf(tuple(xs))),
        inner.map(model.Not),
    ),
    max_leaves=8,
)


def _maybe(values: st.SearchStrategy[object]) -> st.SearchStrategy[object]:
    return st.none() | values


DAYS = st.integers(min_value=TODAY - 800, max_value=TODAY)
ROW = st.fixed_dictionaries({
    "last_touch_day": _maybe(DAYS),
    "last_order_touch_day": _maybe(DAYS),
    "owned_since_day": _maybe(DAYS),
    "created_day": _maybe(DAYS),
    "contacted": st.booleans(),
    "open_orders": st.integers(min_value=0, max_value=3),
    "last_won_day": _maybe(DAYS),
    "stage_since_day": _maybe(DAYS),
    "country": _maybe(STRINGS),
    "stage": _maybe(STRINGS),
    "level": _maybe(INTS),
    "tags": st.lists(TAGS, max_size=3),
    "cf_score": _maybe(FLOATS | st.just(float("nan"))),
    "cf_flag": _maybe(st.booleans()),
    "cf_signed": _maybe(DATES),
    "cf_note": _maybe(STRINGS),
})

DDL = """CREATE TABLE facts (k BIGINT, last_touch_day INTEGER, last_order_touch_day INTEGER,
owned_since_day INTEGER, created_day INTEGER, contacted BOOLEAN, open_orders INTEGER,
last_won_day INTEGER, stage_since_day INTEGER, country VARCHAR, stage VARCHAR,
level INTEGER, tags VARCHAR[], cf_score DOUBLE, cf_flag BOOLEAN, cf_signed INTEGER,
cf_note VARCHAR)"""
ORDER = ("k", "last_touch_day", "last_order_touch_day", "owned_since_day", "created_day",
         "contacted", "open_orders", "last_won_day", "stage_since_day", "country", "stage",
         "level", "tags", "cf_score", "cf_flag", "cf_signed", "cf_note")


@pytest.fixture(scope="module")
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect()
    connection.execute(DDL)
    yield connection
    connection.close()


@settings(max_examples=EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(condition=CONDITIONS, rows=st.lists(ROW, min_size=1, max_size=25))
def test_durable_python_and_sql_agree(
    con: duckdb.DuckDBPyConnection, condition: model.Condition, rows: list[dict[str, object]]
) -> None:
    facts = [dict(row, k=k) for k, row in enumerate(rows)]
    ruleset = one_rule(condition, custom_fields=FIELDS)
    compiled = compile_ruleset(ruleset, AS_OF)
    durable = durable_eval.decide(compiled, facts)["release:r"]
    python = frozenset(f["k"] for f in facts if compiled.matches("release:r", f))
    con.execute("DELETE FROM facts")
    con.executemany(
        f"INSERT INTO facts VALUES ({', '.join('?' for _ in ORDER)})",
        [[_sql_value(f.get(c)) for c in ORDER] for f in facts],
    )
    text, params = compiled.sql("release:r")
    sql = frozenset(k for (k,) in con.execute(f"SELECT k FROM facts WHERE {text}",
                                               params).fetchall())
    # one Evaluation for all rows, so its memoised words are shared as in a run
    evaluation = Evaluation(ruleset, compiled, con, "facts", {}, 0)
    subject = f"rule {compiled.point('release:r').subject}"
    for row in facts:  # the explainer agrees with the evaluator, leaf by leaf
        normalized = compiled.normalize(row)
        explanation = compiled.explain("release:r", row)
        # a reason lists the passed leaves' words, as the explainer words them
        words = [leaf.text.rsplit(":", 1)[0] for leaf in explanation.leaves() if leaf.passed]
        assert evaluation.describe("release:r", row) == (
            f"{subject}: " + "; ".join(words) if words else subject)
        assert explanation.passed == (row["k"] in python)
        node_leaves = list(ir.leaves(compiled.point("release:r").condition))
        for node, leaf in zip(node_leaves, explanation.leaves(), strict=True):
            assert isinstance(node, ir.Leaf)
            assert leaf.passed == ir.holds(node, normalized)
    assert durable == python, durable_form.to_durable(compiled.point("release:r").condition,
                                            compiled.properties)
    assert sql == python, text


def _sql_value(value: object) -> object:
    return value.toordinal() if isinstance(value, date) else value


@settings(max_examples=max(EXAMPLES // 3, 10), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(when=CONDITIONS, unless=st.none() | CONDITIONS, protect=CONDITIONS,
       rows=st.lists(ROW, min_size=1, max_size=15))
def test_every_decision_point_agrees(
    when: model.Condition,
    unless: model.Condition | None,
    protect: model.Condition,
    rows: list[dict[str, object]],
) -> None:
    ruleset = make_ruleset(
        release_rules=(model.ReleaseRule("r", when=when, unless=unless,
                                         remind_before=(d("7d"), d("1mo"))),),
        relays=(model.ActivationRelay("relay", when=when, contact_window=d("7d"),
                                      rounds=2, tiers=("new",)),),
        protects=(("veteran", protect),),
        custom_fields=FIELDS,
    )
    facts = [dict(row, k=k) for k, row in enumerate(rows)]
    compiled = compile_ruleset(ruleset, AS_OF)
    verdicts = durable_eval.decide(compiled, facts)
    assert set(verdicts) == set(compiled.names)
    for name in compiled.names:
        assert verdicts[name] == {f["k"] for f in facts if compiled.matches(name, f)}, name
    release = verdicts["release:r"]
    if unless is not None:
        assert not release & verdicts["exempt:r"]


@settings(max_examples=max(EXAMPLES // 3, 10), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(when=CONDITIONS, unless=st.none() | CONDITIONS, rows=st.lists(ROW, min_size=1, max_size=15))
def test_release_day_in_sql_equals_the_python_release_date(
    con: duckdb.DuckDBPyConnection,
    when: model.Condition,
    unless: model.Condition | None,
    rows: list[dict[str, object]],
) -> None:
    """Reminders read a customer's release day from SQL generated per day from
    the IR; it equals the day-by-day Python evaluation."""
    rule = model.ReleaseRule("r", when=when, unless=unless, remind_before=(d("7d"), d("1mo")))
    ruleset = make_ruleset(release_rules=(rule,), custom_fields=FIELDS)
    compiled = compile_ruleset(ruleset, AS_OF)
    evaluation = Evaluation(ruleset, compiled, con, "facts", {}, 0)
    facts = [dict(row, k=k) for k, row in enumerate(rows)]
    con.execute("DELETE FROM facts")
    con.executemany(
        f"INSERT INTO facts VALUES ({', '.join('?' for _ in ORDER)})",
        [[_sql_value(f.get(c)) for c in ORDER] for f in facts],
    )
    for offset in rule.remind_before:
        sql, params = evaluation.release_day_sql(rule, offset)
        in_sql = dict(con.execute(f"SELECT k, {sql} FROM facts", params).fetchall())
        for fact in facts:
            day = evaluation.release_date(rule, fact, offset)
            assert in_sql[fact["k"]] == (None if day is None else (day - AS_OF).days), fact
