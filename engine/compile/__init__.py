"""The compiler: ruleset conditions to decision points, SQL and durable-rules.

Modules:

* ``ir`` - the intermediate representation of conditions, the single source of truth,
  with its Python evaluator
* ``to_durable`` - the IR as durable-rules condition JSON (what decides)
* ``to_sql`` - the IR as a DuckDB expression with bound parameters (the pre-filter)
* ``to_numpy`` - the IR over columns of facts with numpy, and the first day a
  condition holds (the simulator's incremental replay; imported where used)
* ``trace`` - why a condition holds or not for one customer (the explainer)
* ``decision_points`` - a ruleset, as of a date, compiled into named decision points
* ``durable`` - evaluating decision points in durable-rules (imported where used)
* ``compat`` - loading durable-rules' extension module on newer Pythons

May import ``highseas.ruleset``, ``highseas.errors``, ``highseas.codes`` and
``highseas.suggestions``; never the nightly run or anything above it.
"""
