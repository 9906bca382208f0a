"""The engine does not depend on the caller's warning filters: the warnings
durable-rules itself raises (``datetime.utcfromtimestamp`` on Python 3.12+)
are contained where durable-rules is called, and nothing else is hidden."""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from highseas.compile import durable as durable_eval
from highseas.compile.decision_points import compile_ruleset
from highseas.ruleset import model
from tests.support.ir import AS_OF, TODAY, d, fact, one_rule

ROOT = Path(__file__).resolve().parents[2]


def test_a_strict_interpreter_runs_the_engine() -> None:
    # -W error turns every warning into an exception, as a CRM's strict test
    # suite does: the consultants' tests must still pass, with no HS515.
    done = subprocess.run(
        [sys.executable, "-W", "error", "-m", "highseas", "test",
         "rulesets/quick-order.tests.yaml"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    output = done.stdout + done.stderr
    assert "HS515" not in output
    assert done.returncode == 0, output
    assert " 0 failed, 0 invalid" in output


def test_evaluate_under_an_error_filter() -> None:
    compiled = compile_ruleset(one_rule(model.IdleFor(d("30d"))), AS_OF)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        verdicts = durable_eval.decide(
            compiled, [fact(1, last_touch_day=TODAY - 40), fact(2, last_touch_day=TODAY - 3)]
        )
    assert verdicts["release:r"] == {1}


def test_the_host_contains_the_warning_for_direct_calls_too() -> None:
    host = durable_eval.host()
    host.set_rulesets({"t_strict_direct": {
        "any": {"all": [{"m": {"$eq": {"e": 1}}}], "run": "miss"}}})
    collector = durable_eval._Collector()
    durable_eval._COLLECTORS["strict"] = collector
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            host.post("t_strict_direct", {"sid": "strict", "id": 7, "e": 1})
    finally:
        del durable_eval._COLLECTORS["strict"]
    assert collector.misses == {7}


def test_other_warnings_still_reach_the_caller() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with durable_eval._durable_warnings_contained():
            with pytest.raises(DeprecationWarning):
                warnings.warn("something else is deprecated", DeprecationWarning, stacklevel=1)
            with pytest.raises(DeprecationWarning):
                # The same message, raised by this module rather than durable-rules.
                warnings.warn(
                    "datetime.datetime.utcfromtimestamp() is deprecated", DeprecationWarning,
                    stacklevel=1,
                )
