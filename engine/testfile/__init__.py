"""Consultants' test files: the format, loaded and checked, without running anything.

A test file (``<name>.tests.yaml`` beside ``<name>.yaml``) holds cases of
facts, days and expected decisions (docs/testing.md). This package turns it
into typed cases and reports every problem at its line; running the cases
is :mod:`highseas.testing`'s work. ``highseas validate`` checks test files
through this package alone, so it never loads the engine. Modules:

* ``format`` - discovering, loading and checking test files (HS6xx)
* ``cases`` - the typed form of cases: rows, days, expectations, claims
* ``schema`` - the test file JSON Schema, reported at YAML lines
* ``fact_rows`` - facts rows of a case, inline or from CSV, typed and located
* ``references`` - checks of a case against itself and its ruleset

This module is the package's public facade. May import ``highseas.ruleset``
and the foundation (errors, codes, suggestions) only.
"""

from __future__ import annotations

from highseas.testfile.cases import (
    ACTION_CATEGORIES,
    CATEGORY_ACTIONS,
    ENTRY_FIELDS,
    Case,
    ClaimCheck,
    Day,
    Entry,
    Expectation,
    Row,
    TestFile,
)
from highseas.testfile.format import (
    TEST_SUFFIXES,
    check_case_mapping,
    default_ruleset_path,
    is_test_file,
    load_test_file,
    load_test_file_with_diagnostics,
    validate_test_file,
)
from highseas.testfile.schema import schema_text, tests_schema

__all__ = [
    "ACTION_CATEGORIES", "CATEGORY_ACTIONS", "ENTRY_FIELDS", "TEST_SUFFIXES", "Case",
    "ClaimCheck", "Day", "Entry", "Expectation", "Row", "TestFile", "check_case_mapping",
    "default_ruleset_path", "is_test_file", "load_test_file", "load_test_file_with_diagnostics",
    "schema_text", "tests_schema", "validate_test_file",
]
