"""Shared configuration of the test suite.

The tests mirror the package: ``tests/ruleset/``, ``tests/compile/``,
``tests/nightly/``, ``tests/testing/``, ``tests/simulate/``, ``tests/store/``,
plus ``tests/robustness/`` (bad inputs, crashes, fuzzing, hostile data, time),
``tests/docs/`` (docs that cannot drift), ``tests/bench/`` and
``tests/snapshots/`` (what users see, byte for byte). Builders shared by
several folders live in :mod:`tests.support`; the data-driven corpora
(``ruleset_cases/``, ``facts_cases/``, ``engine_cases/``, ``bad_inputs/``)
sit beside them.
"""
