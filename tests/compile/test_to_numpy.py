"""Property: the numpy back end decides as the IR's Python evaluator does, row
by row (NULLs, NaN and tags included), for one day and for many days, and
finds the first day a condition holds as a day-by-day scan does."""

from __future__ import annotations

import math
from datetime import date, timedelta

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from highseas import codes
from highseas.compile import ir
from highseas.compile.to_numpy import NEVER, DayConditions, FactColumns, evaluate
from highseas.errors import EngineError
from highseas.ruleset import model
from tests.compile.test_ir_equivalence import CONDITIONS, FIELDS, LEAVES, ROW
from tests.support.ir import AS_OF, d, one_rule

#: The facts table as the nightly run writes it: day numbers as integers
#: (``cf_signed`` as an Arrow date, ``stage`` dictionary-encoded, to read those too).
SCHEMA = pa.schema([
    ("customer_id", pa.string()),
    ("last_touch_day", pa.int32()),
    ("last_order_touch_day", pa.int32()),
    ("owned_since_day", pa.int32()),
    ("created_day", pa.int32()),
    ("contacted", pa.bool_()),
    ("open_orders", pa.int64()),
    ("last_won_day", pa.int32()),
    ("stage_since_day", pa.int32()),
    ("country", pa.string()),
    ("stage", pa.dictionary(pa.int32(), pa.string())),
    ("level", pa.int64()),
    ("tags", pa.list_(pa.string())),
    ("cf_score", pa.float64()),
    ("cf_flag", pa.bool_()),
    ("cf_signed", pa.date32()),
    ("cf_note", pa.large_string()),
])
#: Days lowered for the multi-day properties; the first day is drawn so that
#: the thresholds of every duration (1d .. 1y) cross the rows' day numbers.
DAYS = 130
FIRST_DAYS = st.dates(min_value=AS_OF - timedelta(days=500), max_value=AS_OF - timedelta(days=DAYS))
ROWS = st.lists(ROW, min_size=1, max_size=20)
SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _ruleset(condition: model.Condition) -> model.Ruleset:
    return one_rule(condition, custom_fields=FIELDS)


def _table(rows: list[dict[str, object]]) -> pa.Table:
    return pa.Table.from_pylist(
        [dict(row, customer_id=f"C{k}") for k, row in enumerate(rows)], schema=SCHEMA)


def _normalized(rows: list[dict[str, object]], types: dict[str, ir.ColumnType]
                ) -> list[dict[str, object]]:
    return [ir.normalize_fact(row, types) for row in rows]


def _brute_first(truth: list[bool], start: int) -> int:
    return next((day for day in range(start, len(truth)) if truth[day]), NEVER)


@SETTINGS
@given(condition=CONDITIONS, rows=ROWS)
def test_evaluate_equals_holds_on_every_row(
    condition: model.Condition, rows: list[dict[str, object]]
) -> None:
    ruleset = _ruleset(condition)
    types = ir.column_types(ruleset)
    node = ir.lower(condition, AS_OF, ruleset)
    columns = FactColumns.from_arrow(_table(rows), types)
    facts = _normalized(rows, types)
    expected = [ir.holds(node, fact) for fact in facts]
    assert evaluate(node, columns).tolist() == expected
    # the negation normal form brings IS NULL leaves; it decides the same
    assert evaluate(ir.to_nnf(node), columns).tolist() == expected
    assert evaluate(ir.Neg(node), columns).tolist() == [not e for e in expected]
    for position, fact in enumerate(facts):
        tags = fact["tags"]
        assert isinstance(tags, tuple)
        assert columns.row(position) == dict(fact, tags=tuple(sorted(set(tags))))


@settings(SETTINGS, max_examples=300)
@given(condition=LEAVES, rows=st.lists(ROW, min_size=1, max_size=40))
def test_each_leaf_equals_holds_and_its_negation_too(
    condition: model.Condition, rows: list[dict[str, object]]
) -> None:
    ruleset = _ruleset(condition)
    types = ir.column_types(ruleset)
    node = ir.lower(condition, AS_OF, ruleset)
    columns = FactColumns.from_arrow(_table(rows), types)
    for tree in (node, ir.to_nnf(node, negate=True)):
        assert evaluate(tree, columns).tolist() == [
            ir.holds(tree, fact) for fact in _normalized(rows, types)], tree


@SETTINGS
@given(condition=CONDITIONS, rows=ROWS, first=FIRST_DAYS, data=st.data())
def test_day_conditions_decide_each_row_on_its_own_day_and_find_the_first(
    condition: model.Condition, rows: list[dict[str, object]], first: date, data: st.DataObject
) -> None:
    ruleset = _ruleset(condition)
    types = ir.column_types(ruleset)
    conditions = DayConditions.lower(condition, first, DAYS, ruleset)
    assert conditions.days == DAYS and conditions.first_date == first
    columns = FactColumns.from_arrow(_table(rows), types)
    facts = _normalized(rows, types)
    truth = [[ir.holds(node, fact) for node in conditions.nodes] for fact in facts]

    days = data.draw(st.lists(st.integers(0, DAYS - 1), min_size=len(rows), max_size=len(rows)))
    assert conditions.holds(columns, np.array(days)).tolist() == [
        truth[row][day] for row, day in enumerate(days)]

    starts = data.draw(st.lists(st.integers(0, DAYS + 3), min_size=len(rows),
                                max_size=len(rows)))
    found = conditions.first_day(columns, np.array(starts))
    assert found.dtype == np.int64
    assert found.tolist() == [_brute_first(truth[row], start)
                              for row, start in enumerate(starts)]
    assert conditions.first_day(columns, 0).tolist() == [_brute_first(t, 0) for t in truth]


@SETTINGS
@given(condition=CONDITIONS, rows=st.lists(ROW, min_size=2, max_size=15), data=st.data())
def test_take_and_set_keep_evaluation_equal_to_holds(
    condition: model.Condition, rows: list[dict[str, object]], data: st.DataObject
) -> None:
    ruleset = _ruleset(condition)
    types = ir.column_types(ruleset)
    node = ir.lower(condition, AS_OF, ruleset)
    columns = FactColumns.from_arrow(_table(rows), types)
    positions = data.draw(st.lists(st.integers(0, len(rows) - 1), max_size=10))
    subset = columns.take(positions)
    before = [ir.holds(node, ir.normalize_fact(rows[p], types)) for p in positions]
    assert evaluate(node, subset).tolist() == before

    targets = data.draw(st.lists(st.integers(0, len(rows) - 1), min_size=1, max_size=5,
                                 unique=True))
    news = data.draw(st.lists(ROW, min_size=len(targets), max_size=len(targets)))
    for column in data.draw(st.permutations(sorted(types))):
        columns.set(column, targets, [new.get(column) for new in news])
    for target, new in zip(targets, news, strict=True):
        rows[target] = new
    assert evaluate(node, columns).tolist() == [
        ir.holds(node, fact) for fact in _normalized(rows, types)]
    assert evaluate(node, subset).tolist() == before  # a taken copy stays as it was


@SETTINGS
@given(condition=CONDITIONS, rows=st.lists(ROW, min_size=2, max_size=15), data=st.data())
def test_put_writes_the_rows_set_writes(
    condition: model.Condition, rows: list[dict[str, object]], data: st.DataObject
) -> None:
    """A day's changed facts read column-wise from Arrow land as the same
    values, new strings and tags included, as writing them value by value."""
    ruleset = _ruleset(condition)
    types = ir.column_types(ruleset)
    node = ir.lower(condition, AS_OF, ruleset)
    by_value = FactColumns.from_arrow(_table(rows), types)
    by_arrow = FactColumns.from_arrow(_table(rows), types)
    targets = data.draw(st.lists(st.integers(0, len(rows) - 1), min_size=1, max_size=5,
                                 unique=True))
    news = data.draw(st.lists(ROW, min_size=len(targets), max_size=len(targets)))
    for column in sorted(types):
        by_value.set(column, targets, [new.get(column) for new in news])
    by_arrow.put(targets, FactColumns.from_arrow(_table(news), types))
    assert [by_arrow.row(i) for i in range(len(rows))] == [
        by_value.row(i) for i in range(len(rows))]
    assert evaluate(node, by_arrow).tolist() == evaluate(node, by_value).tolist()


def test_set_days_writes_day_numbers_and_nulls() -> None:
    types: dict[str, ir.ColumnType] = {"last_touch_day": "date", "open_orders": "integer"}
    columns = FactColumns.from_arrow(
        pa.table({"last_touch_day": [10, 20, 30], "open_orders": [0, 0, 0]}), types)
    columns.set_days("last_touch_day", [2, 0], np.array([700_000, 5]), np.array([False, True]))
    assert [columns.row(i)["last_touch_day"] for i in range(3)] == [
        None, 20, 700_000]
    with pytest.raises(EngineError) as caught:
        columns.set_days("open_orders", [0], np.array([1]), np.array([False]))
    assert caught.value.first.code == codes.COMPILER_INVARIANT
    with pytest.raises(EngineError) as caught:
        columns.set_days("last_touch_day", [0], np.array([0]), np.array([False]))
    assert caught.value.first.code == codes.FACT_VALUE_TYPE


@pytest.mark.parametrize("condition", [
    model.IdleFor(d("1mo")),
    model.AnyOf((model.OwnedFor(d("1y")), model.WonWithin(d("6mo")))),
    model.AllOf((model.Not(model.CreatedBefore(d("1mo"))), model.InStageFor(d("2w")))),
], ids=["1mo", "1y-or-won-6mo", "not-created-1mo-and-2w"])
def test_first_day_across_month_ends_and_a_leap_day(condition: model.Condition) -> None:
    """Every day number of a window around 29 February 2024, in every time
    column: calendar thresholds stand still or jump at month ends."""
    first = date(2024, 2, 10)
    ruleset = _ruleset(condition)
    types = ir.column_types(ruleset)
    conditions = DayConditions.lower(condition, first, 140, ruleset)
    window = range(date(2022, 12, 1).toordinal(), date(2024, 7, 1).toordinal(), 3)
    rows: list[dict[str, object]] = [
        {"contacted": True, "open_orders": 0, "tags": [],
         **{column: day for column, ctype in ir.CONDITION_FIELDS.items() if ctype == "date"}}
        for day in window
    ]
    rows.append({"contacted": True, "open_orders": 0, "tags": []})  # every date NULL
    columns = FactColumns.from_arrow(_table(rows), types)
    facts = _normalized(rows, types)
    starts = np.arange(len(rows)) % 150
    found = conditions.first_day(columns, starts)
    for row, fact in enumerate(facts):
        truth = [ir.holds(node, fact) for node in conditions.nodes]
        assert found[row] == _brute_first(truth, int(starts[row])), fact


def test_an_all_null_or_missing_column_and_nan_are_null() -> None:
    types: dict[str, ir.ColumnType] = {"cf_score": "number", "cf_note": "string",
                                        "cf_gone": "date", "tags": "tags"}
    table = pa.table({"cf_score": pa.array([math.nan, None, 2.0]),
                      "cf_note": pa.nulls(3), "tags": pa.array([None, [], ["a"]],
                                                               pa.list_(pa.string()))})
    columns = FactColumns.from_arrow(table, types)
    assert [columns.row(i) for i in range(3)] == [
        {"cf_score": None, "cf_note": None, "cf_gone": None, "tags": ()},
        {"cf_score": None, "cf_note": None, "cf_gone": None, "tags": ()},
        {"cf_score": 2.0, "cf_note": None, "cf_gone": None, "tags": ("a",)},
    ]
    score = ir.Leaf("cf_score", "!=", 1.0, "number")
    assert evaluate(score, columns).tolist() == [False, False, True]
    assert evaluate(ir.IsNull("tags"), columns).tolist() == [True, True, False]
    assert evaluate(ir.Leaf("cf_gone", "not in", (), "date"), columns).tolist() == [False] * 3
    nobody = ("a", "zz")  # no row has "zz"
    assert evaluate(ir.Leaf("tags", "all", nobody, "tags"), columns).tolist() == [False] * 3
    assert evaluate(ir.Leaf("tags", "any", nobody, "tags"), columns).tolist() == [0, 0, 1]
    assert evaluate(ir.Leaf("tags", "none", nobody, "tags"), columns).tolist() == [1, 1, 0]
    assert evaluate(ir.Leaf("tags", "all", (), "tags"), columns).tolist() == [True] * 3


def test_broken_facts_and_leaves_are_refused() -> None:
    types: dict[str, ir.ColumnType] = {"contacted": "boolean", "cf_note": "string"}
    with pytest.raises(EngineError) as caught:
        FactColumns.from_arrow(pa.table({"contacted": [True, None]}), types)
    assert caught.value.first.code == codes.FACT_VALUE_TYPE
    with pytest.raises(EngineError) as caught:
        FactColumns.from_arrow(pa.table({"contacted": [True], "cf_note": ["a\x00"]}), types)
    assert caught.value.first.code == codes.FACT_VALUE_TYPE
    with pytest.raises(EngineError) as caught:
        FactColumns.from_arrow(pa.table({"contacted": [1]}), types)
    assert caught.value.first.code == codes.FACT_VALUE_TYPE
    columns = FactColumns.from_arrow(pa.table({"contacted": [True]}), types)
    with pytest.raises(EngineError) as caught:
        columns.set("contacted", [0], [None])
    assert caught.value.first.code == codes.FACT_VALUE_TYPE
    with pytest.raises(EngineError) as caught:
        evaluate(ir.Leaf("level", "=", 1, "integer"), columns)
    assert caught.value.first.code == codes.UNKNOWN_FIELD
    with pytest.raises(EngineError) as caught:
        evaluate(ir.Leaf("cf_note", "=", 1, "string"), columns)
    assert caught.value.first.code == codes.WRONG_VALUE_TYPE


def test_days_of_another_structure_or_order_are_refused() -> None:
    ruleset = _ruleset(model.IdleFor(d("30d")))
    idle = [ir.lower(model.IdleFor(d("30d")), AS_OF + timedelta(days=i), ruleset)
            for i in range(3)]
    other = ir.lower(model.OwnedFor(d("30d")), AS_OF + timedelta(days=1), ruleset)
    for nodes in ([idle[0], other], [idle[0], ir.And((idle[1],))], idle[::-1]):
        with pytest.raises(EngineError) as caught:
            DayConditions(AS_OF, nodes)
        assert caught.value.first.code == codes.UNSUPPORTED_OPERATOR
    with pytest.raises(EngineError) as caught:  # lowered for other days
        DayConditions(AS_OF + timedelta(days=1), idle)
    assert caught.value.first.code == codes.UNSUPPORTED_OPERATOR


def test_no_day_lowered_holds_on_no_day() -> None:
    columns = FactColumns.from_arrow(_table([{"contacted": True, "open_orders": 0, "tags": []}]),
                                     ir.column_types(_ruleset(model.IdleFor(d("1d")))))
    empty = DayConditions(AS_OF, [])
    assert empty.days == 0
    assert empty.first_day(columns, [0]).tolist() == [NEVER]
    with pytest.raises(EngineError):
        empty.holds(columns, [0])
