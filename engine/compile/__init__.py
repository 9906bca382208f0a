"""The compiler: ruleset conditions to decision points, SQL and durable-rules.

Modules:

* ``ir`` - the intermediate representation of conditions, the single source of truth
* ``decision_points`` - a ruleset, as of a date, compiled into named decision points
* ``durable`` - evaluating decision points in durable-rules (imported where used)
* ``compat`` - loading durable-rules' extension module on newer Pythons

May import ``highseas.ruleset``, ``highseas.errors``, ``highseas.codes`` and
``highseas.suggestions``; never the nightly run or anything above it.
"""
