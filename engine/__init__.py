"""highseas: declarative, testable rules for a sales team's customer pools.

Packages, each importing only those below it (tests/test_layering.py checks
every import, including those inside functions and under TYPE_CHECKING)::

    cli -> fleet -> api -> testing, simulate -> nightly -> compile -> ruleset
    cli, api -> validate -> testfile -> ruleset;  testing -> testfile
    store: below nightly, testing and simulate (imports no other package)
    every package -> errors, codes, suggestions

* ``highseas.cli`` - the ``highseas`` command; uses only the facades
  ``highseas.api``, ``highseas.validate``, ``highseas.testing``,
  ``highseas.simulate`` and ``highseas.fleet``
* ``highseas.fleet`` - every company's nightly run on a cluster (``run-all``)
* ``highseas.api`` - the Python API: what the CLI is a thin layer over
* ``highseas.validate`` - checking rulesets and test files without the engine
  (``highseas validate`` starts fast)
* ``highseas.testing`` - consultants' expected-outcome tests of rulesets
* ``highseas.testfile`` - the test file format, loaded and checked
* ``highseas.simulate`` - what-if replays of recorded history, idle-period advice
* ``highseas.nightly`` - the nightly run: facts, verdicts, plan, apply, claims
* ``highseas.compile`` - conditions to decision points, SQL and durable-rules
* ``highseas.ruleset`` - YAML rulesets to a checked, typed model
* ``highseas.store`` - the DuckDB facts store (below nightly, testing, simulate)
* ``highseas.errors``, ``highseas.codes``, ``highseas.suggestions`` - diagnostics,
  the registry of their codes, did-you-mean hints

testing and simulate do not import each other. duckdb, durable-rules,
pyarrow and matplotlib are imported inside the functions that use them, so
``highseas validate`` loads none of them.
"""

import sys

if not (3, 11) <= sys.version_info[:2] <= (3, 13):
    raise RuntimeError(
        "highseas runs on Python 3.11, 3.12 and 3.13, not "
        f"{sys.version_info[0]}.{sys.version_info[1]} (docs/python-versions.md)"
    )
