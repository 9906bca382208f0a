"""The IR: lowering, null and type semantics, NNF, SQL, explanations."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import duckdb
import pytest

from highseas.compile import ir, trace
from highseas.compile import to_sql as sql_form
from highseas.errors import EngineError
from highseas.ruleset import model
from tests.support.ir import AS_OF, TODAY, d, fact, one_rule

SCORE = model.CustomField("score", "number")
SIGNED = model.CustomField("signed", "date")
VIP = model.CustomField("vip", "boolean")
SEATS = model.CustomField("seats", "integer")
CUSTOM = (SCORE, SIGNED, VIP, SEATS)
RULESET = one_rule(model.IdleFor(d("1d")), custom_fields=CUSTOM)
COLUMNS = ir.column_types(RULESET)


def lower(condition: model.Condition, as_of: date = AS_OF) -> ir.Node:
    return ir.lower(condition, as_of, RULESET)


def holds(condition: model.Condition, **columns: object) -> bool:
    node = lower(condition)
    return ir.holds(node, ir.normalize_fact(fact(1, **columns), COLUMNS))


# -- lowering ---------------------------------------------------------------


def test_time_conditions_resolve_thresholds_as_day_numbers() -> None:
    leaf = lower(model.IdleFor(d("90d")))
    assert isinstance(leaf, ir.Leaf)
    assert (leaf.column, leaf.op, leaf.value) == ("last_touch_day", "<=", TODAY - 90)
    assert leaf.as_of_day == TODAY and leaf.duration == "90 days"
    assert holds(model.IdleFor(d("90d")), last_touch_day=TODAY - 90)
    assert not holds(model.IdleFor(d("90d")), last_touch_day=TODAY - 89)


def test_month_thresholds_are_calendar_months_clamped() -> None:
    leaf = ir.lower(model.OwnedFor(d("1mo")), date(2024, 3, 31), RULESET)
    assert isinstance(leaf, ir.Leaf)
    assert leaf.value == date(2024, 2, 29).toordinal()


def test_every_time_kind_reads_its_column() -> None:
    pairs = {
        model.IdleFor: "last_touch_day",
        model.NoOrderFor: "last_order_touch_day",
        model.OwnedFor: "owned_since_day",
        model.CreatedBefore: "created_day",
    }
    for kind, column in pairs.items():
        node = lower(kind(d("2w")))
        assert isinstance(node, ir.Leaf) and node.column == column
        assert node.value == TODAY - 14


def test_never_contacted_and_open_orders() -> None:
    assert holds(model.NeverContacted(True), contacted=False)
    assert not holds(model.NeverContacted(True), contacted=True)
    assert holds(model.NeverContacted(False), contacted=True)
    assert holds(model.HasOpenOrder(True), open_orders=2)
    assert not holds(model.HasOpenOrder(True), open_orders=0)
    assert holds(model.HasOpenOrder(False), open_orders=0)


# -- null semantics -----------------------------------------------------------


@pytest.mark.parametrize("op", ["=", "!=", "<", "<=", ">", ">="])
def test_null_makes_every_comparison_false_and_its_negation_true(op: str) -> None:
    compare = model.Compare("score", op, 5.0)  # type: ignore[arg-type]
    assert not holds(compare, cf_score=None)
    assert not holds(compare)  # missing column
    assert holds(model.Not(compare), cf_score=None)


@pytest.mark.parametrize("op", ["in", "not in"])
def test_null_makes_in_and_not_in_false(op: str) -> None:
    compare = model.Compare("country", op, ("DE", "FR"))  # type: ignore[arg-type]
    assert not holds(compare, country=None)
    assert holds(model.Not(compare), country=None)
    assert holds(compare, country="DE") == (op == "in")


def test_idle_for_without_owner_is_false() -> None:
    assert not holds(model.IdleFor(d("1d")), last_touch_day=None)
    assert holds(model.Not(model.IdleFor(d("1d"))), last_touch_day=None)


def test_tags_any_all_none_and_empty_lists() -> None:
    tags = ("vip", "gold")
    assert holds(model.TagsMatch("any", tags), tags=["gold"])
    assert not holds(model.TagsMatch("all", tags), tags=["gold"])
    assert holds(model.TagsMatch("all", tags), tags=["gold", "x", "vip"])
    assert holds(model.TagsMatch("none", tags), tags=["x"])
    assert holds(model.TagsMatch("none", tags), tags=[])
    assert not holds(model.TagsMatch("any", tags), tags=[])
    assert not holds(model.TagsMatch("all", tags), tags=[])


# -- type semantics -----------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("level", "10"),  # durable-rules: '10' is not > 5 - never compile it
        ("level", True),  # durable-rules: true == 1 - never compile it
        ("level", 1.5),
        ("country", 5),
        ("score", "5"),
        ("vip", 1),
        ("signed", "2024-01-01"),
    ],
)
def test_values_of_another_type_are_refused(field: str, value: object) -> None:
    with pytest.raises(EngineError) as caught:
        lower(model.Compare(field, ">" if field != "vip" else "=", value))  # type: ignore[arg-type]
    assert caught.value.first.code == "HS502"


def test_unknown_field_and_ordering_on_booleans_are_refused() -> None:
    with pytest.raises(EngineError) as caught:
        lower(model.Compare("nope", "=", "x"))
    assert caught.value.first.code == "HS501"
    with pytest.raises(EngineError) as caught:
        lower(model.Compare("vip", "<", True))
    assert caught.value.first.code == "HS503"


def test_nul_characters_are_refused() -> None:
    with pytest.raises(EngineError):
        lower(model.Compare("country", "=", "D\x00E"))


def test_facts_of_another_type_are_refused() -> None:
    with pytest.raises(EngineError) as caught:
        ir.normalize_fact(fact(1, level="10"), COLUMNS)
    assert caught.value.first.code == "HS544"
    with pytest.raises(EngineError):
        ir.normalize_fact(fact(1, contacted=1), COLUMNS)
    with pytest.raises(EngineError):
        ir.normalize_fact(fact(1, contacted=None), COLUMNS)


def test_dates_decimals_and_nan_are_normalized() -> None:
    row = ir.normalize_fact(
        fact(1, cf_signed=date(2024, 1, 2), cf_score=Decimal("2.5"), level=Decimal(3)),
        COLUMNS,
    )
    assert row["cf_signed"] == date(2024, 1, 2).toordinal()
    assert row["cf_score"] == 2.5 and row["level"] == 3
    assert ir.normalize_fact(fact(1, cf_score=float("nan")), COLUMNS)["cf_score"] is None


def test_custom_date_compare_uses_day_numbers() -> None:
    compare = model.Compare("signed", "<", date(2024, 1, 1))
    assert holds(compare, cf_signed=date(2023, 12, 31))
    assert holds(compare, cf_signed=date(2023, 12, 31).toordinal())
    assert not holds(compare, cf_signed=date(2024, 1, 1))


# -- NNF -----------------------------------------------------------------------


def test_nnf_has_no_negation_and_adds_null_branches() -> None:
    node = lower(model.Not(model.AllOf((model.Compare("level", ">", 3),
                                        model.HasOpenOrder(True)))))
    nnf = ir.to_nnf(node)
    assert not any(isinstance(n, ir.Neg) for n in _walk(nnf))
    assert isinstance(nnf, ir.Or)
    # level is nullable: "level IS NULL OR level <= 3"; open_orders is NOT NULL.
    assert ir.IsNull("level", True) in _walk(nnf)
    assert not any(isinstance(n, ir.IsNull) and n.column == "open_orders" for n in _walk(nnf))


def _walk(node: ir.Node) -> list[ir.Node]:
    out = [node]
    if isinstance(node, ir.And | ir.Or):
        for item in node.items:
            out.extend(_walk(item))
    elif isinstance(node, ir.Neg):
        out.extend(_walk(node.item))
    return out


def test_constants_fold() -> None:
    assert ir.to_nnf(ir.And(())) == ir.Const(True)
    assert ir.to_nnf(ir.Or(())) == ir.Const(False)
    assert ir.to_nnf(ir.Neg(ir.Or(()))) == ir.Const(True)


# -- SQL -----------------------------------------------------------------------


def test_sql_binds_every_value_and_quotes_columns() -> None:
    nasty = "x'); DROP TABLE facts; --"
    node = lower(model.Compare("country", "=", nasty))
    text, params = sql_form.to_sql(node, COLUMNS)
    assert nasty not in text and params == [nasty]
    assert '"country"' in text
    with pytest.raises(EngineError):
        sql_form.quote_identifier("k; DROP", COLUMNS)


def test_sql_agrees_with_python_on_nulls() -> None:
    con = duckdb.connect()
    try:
        con.execute("CREATE TABLE f (k INTEGER, level INTEGER, tags VARCHAR[], cf_score DOUBLE)")
        con.execute("INSERT INTO f VALUES (1, NULL, [], NULL), (2, 5, ['a'], 'NaN'), "
                    "(3, 7, ['b'], 9.5)")
        conditions = [
            model.Compare("level", "!=", 5),
            model.Not(model.Compare("level", "!=", 5)),
            model.Compare("score", ">", 1.0),
            model.Not(model.Compare("score", ">", 1.0)),
            model.TagsMatch("none", ("a",)),
            model.Compare("level", "not in", (5,)),
        ]
        rows = [
            fact(1, level=None, tags=[], cf_score=None),
            fact(2, level=5, tags=["a"], cf_score=float("nan")),
            fact(3, level=7, tags=["b"], cf_score=9.5),
        ]
        for condition in conditions:
            node = lower(condition)
            text, params = sql_form.to_sql(node, COLUMNS)
            got = {k for (k,) in con.execute(f"SELECT k FROM f WHERE {text}", params).fetchall()}
            expected = {
                r["k"] for r in rows if ir.holds(node, ir.normalize_fact(r, COLUMNS))
            }
            assert got == expected, condition
    finally:
        con.close()


# -- explanations ----------------------------------------------------------------


def test_explain_idle_for_in_days() -> None:
    node = lower(model.IdleFor(d("90d")))
    explanation = trace.explain(node, ir.normalize_fact(fact(1, last_touch_day=TODAY - 95),
                                                     COLUMNS))
    assert explanation.passed and explanation.actual == 95 and explanation.threshold == 90
    assert explanation.text.startswith("idle for 95 days >= 90 days")
    assert explanation.text.endswith(": yes")


def test_explain_tree_shows_the_failing_leaf() -> None:
    node = lower(model.AllOf((model.IdleFor(d("3mo")), model.Not(model.HasOpenOrder(True)))))
    row = ir.normalize_fact(fact(1, last_touch_day=TODAY - 200, open_orders=1), COLUMNS)
    explanation = trace.explain(node, row)
    assert not explanation.passed
    leaves = list(explanation.leaves())
    assert [leaf.passed for leaf in leaves] == [True, True]
    assert "3 months before 2026-11-23" in leaves[0].text
    assert leaves[1].text == "has an open order (open orders: 1): yes"
    assert explanation.lines()[0] == "all of: no"
    assert "not: no" in "\n".join(explanation.lines())


def test_explain_unknown_owner() -> None:
    node = lower(model.IdleFor(d("90d")))
    explanation = trace.explain(node, ir.normalize_fact(fact(1), COLUMNS))
    assert not explanation.passed and explanation.actual is None
    assert "no owner" in explanation.text


def test_explain_never_contacted_and_compare_texts() -> None:
    never = lower(model.NeverContacted(True))
    text = trace.explain(never, ir.normalize_fact(fact(1, contacted=True), COLUMNS)).text
    assert text == "never contacted (contacted: yes): no"
    signed = lower(model.Compare("signed", "<", date(2024, 1, 1)))
    explanation = trace.explain(signed, ir.normalize_fact(fact(1, cf_signed=date(2023, 5, 1)),
                                                      COLUMNS))
    assert explanation.text == "signed < 2024-01-01 (actual: 2023-05-01): yes"
    assert explanation.actual == date(2023, 5, 1) and explanation.threshold == date(2024, 1, 1)
    country = lower(model.Compare("country", "in", ("DE", "FR")))
    explanation = trace.explain(country, ir.normalize_fact(fact(1), COLUMNS))
    assert explanation.text == "country in ['DE', 'FR'] (actual: NULL): no"
