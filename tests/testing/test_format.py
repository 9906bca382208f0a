"""The test file format: schema, line numbers, did-you-mean, references, CSV."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from highseas.errors import InvalidInputError
from highseas.testfile import (
    load_test_file,
    validate_test_file,
)
from highseas.testfile import (
    tests_schema as the_schema,
)

RULESET = Path(__file__).resolve().parents[2] / "rulesets" / "regional-trading.yaml"

HEADER = f"""\
version: 1
ruleset: {RULESET}
background:
  reps:
    - {{id: alice, hired_on: 2019-03-01, regions: [emea]}}
    - {{id: nina, hired_on: 2025-01-06, regions: [emea]}}
cases:
"""


def write_tests(tmp_path: Path, cases: str, header: str = HEADER) -> Path:
    path = tmp_path / "x.tests.yaml"
    path.write_text(header + textwrap.indent(textwrap.dedent(cases), "  "), encoding="utf-8")
    return path


def codes(path: Path) -> list[tuple[str, int, str]]:
    return [(d.code, d.line, d.message) for d in validate_test_file(path)]


def test_schema_is_draft_2020_12_with_closed_objects() -> None:
    from jsonschema import Draft202012Validator

    schema = the_schema()
    Draft202012Validator.check_schema(schema)
    assert schema["$id"].endswith("ruleset-tests.schema.json")

    def walk(node: object, where: str) -> None:
        if isinstance(node, dict):
            if node.get("type") == "object" and "properties" in node:
                assert node.get("additionalProperties") is False, where
                for key, sub in node["properties"].items():
                    assert "description" in sub or "$ref" in sub, f"{where}.{key}"
            for key, sub in node.items():
                walk(sub, f"{where}.{key}")
        elif isinstance(node, list):
            for index, sub in enumerate(node):
                walk(sub, f"{where}[{index}]")

    walk(schema, "$")


def test_valid_file_loads(tmp_path: Path) -> None:
    path = write_tests(tmp_path, """\
        - name: one
          customers:
            - {id: c1, country: DE, created_at: 2025-01-01, owner: alice,
               attributes: {credit_score: 40}}
          activities:
            - {customer: c1, rep: alice, at: "2025-03-01 10:00"}
          as_of: 2025-05-30
          expect:
            released: [{customer: c1, rule: no-follow-up-90d, pool: emea-pool}]
            none: {assigned: [c1]}
    """)
    loaded = load_test_file(path)
    (case,) = loaded.cases
    assert case.name == "one" and len(case.reps) == 2
    assert case.customers[0].values["owner_rep_id"] == "alice"
    assert case.days[0].expect is not None and case.days[0].expect.match == "exact"
    assert loaded.ruleset.company.id == "regional-trading"


def test_unknown_key_has_line_and_did_you_mean(tmp_path: Path) -> None:
    path = write_tests(tmp_path, """\
        - name: one
          customers:
            - {id: c1, country: DE, created_at: 2025-01-01, ownr: alice}
          as_of: 2025-05-30
    """)
    ((code, line, message),) = codes(path)
    assert (code, line) == ("HS201", 10)
    assert "'ownr'" in message
    (diagnostic,) = validate_test_file(path)
    assert diagnostic.hint == "did you mean 'owner'?"


def test_references_rules_pools_and_dates_are_checked(tmp_path: Path) -> None:
    path = write_tests(tmp_path, """\
        - name: one
          customers:
            - {id: c1, country: DE, created_at: 2025-01-01, owner: alicia}
          activities:
            - {customer: c9, rep: alice, at: 2025-02-30}
          as_of: 2025-05-30
          claims:
            - {rep: nina, customer: c1, allowed: true, reason: cap}
          expect:
            released: [{customer: c1, rule: no-follow-up, pool: emea}]
            trimmed: [{customer: c1, rule: caps.private.new}]
        - name: one
          days:
            - {as_of: 2025-06-02}
            - {as_of: 2025-06-01}
    """)
    found = validate_test_file(path)
    by_code = {(d.code, d.line): d for d in found}
    assert by_code[("HS604", 10)].hint == "did you mean 'alice'?"  # owner
    assert ("HS604", 12) in by_code  # unknown customer c9
    assert ("HS603", 12) in by_code  # 30 February
    assert ("HS608", 15) in by_code  # reason on an allowed claim
    assert by_code[("HS606", 17)].hint == "did you mean 'no-follow-up-90d'?"
    assert ("HS607", 17) in by_code  # unknown pool
    assert "caps.private.veteran" in by_code[("HS606", 18)].hint
    assert ("HS602", 19) in by_code  # name used twice
    assert ("HS609", 22) in by_code  # days out of order
    assert all(d.file == str(path) for d in found)


def test_as_of_and_days_do_not_go_together(tmp_path: Path) -> None:
    path = write_tests(tmp_path, """\
        - name: both
          as_of: 2025-05-30
          days: [{as_of: 2025-05-31}]
        - name: neither
    """)
    found = codes(path)
    assert [c for c, _, _ in found] == ["HS202"]  # schema first: 'neither' has no day
    path = write_tests(tmp_path, """\
        - name: both
          as_of: 2025-05-30
          days: [{as_of: 2025-05-31}]
    """)
    assert [c for c, _, _ in codes(path)] == ["HS608"]


def test_missing_or_invalid_ruleset(tmp_path: Path) -> None:
    path = tmp_path / "lonely.tests.yaml"
    path.write_text("version: 1\ncases:\n  - {name: a, as_of: 2025-01-01}\n", encoding="utf-8")
    ((code, _, message),) = codes(path)
    assert code == "HS601" and "lonely.yaml" in message
    (tmp_path / "lonely.yaml").write_text("version: 1\n", encoding="utf-8")
    ((code, _, message),) = codes(path)
    assert code == "HS601" and "invalid" in message
    with pytest.raises(InvalidInputError):
        load_test_file(path)


def test_csv_tables_with_aliases_custom_fields_and_row_errors(tmp_path: Path) -> None:
    (tmp_path / "customers.csv").write_text(
        "customer_id,name,country,created_at,owner_rep_id,credit_score,tags\n"
        "c1,Acme,DE,2025-01-01,alice,85,a;b\n"
        "c2,Beta,Germany,2025-01-01,alice,,\n"
        "c3,Gamma,DE,2025-13-01,bob,,\n",
        encoding="utf-8",
    )
    path = write_tests(tmp_path, """\
        - name: one
          customers: {csv: customers.csv}
          as_of: 2025-05-30
    """)
    found = validate_test_file(path)
    csv_file = str(tmp_path / "customers.csv")
    assert [(d.code, d.file, d.line) for d in found] == [
        ("HS611", csv_file, 3),  # Germany is not a country code
        ("HS603", csv_file, 4),  # month 13
        ("HS604", csv_file, 4),  # unknown salesperson bob
    ]
    assert found[0].message.startswith("row 2, column country:")
    (tmp_path / "customers.csv").write_text(
        "customer_id,name,country,created_at,owner_rep_id,credit_score,tags\n"
        "c1,Acme,DE,2025-01-01,alice,85,a;b\n", encoding="utf-8")
    (case,) = load_test_file(path).cases
    values = case.customers[0].values
    assert values["attributes"] == {"credit_score": 85}
    assert values["tags"] == ["a", "b"]


def test_unknown_csv_column_and_missing_file(tmp_path: Path) -> None:
    (tmp_path / "reps.csv").write_text("id,hired,regions\nzed,2020-01-01,emea\n",
                                       encoding="utf-8")
    path = write_tests(tmp_path, """\
        - name: one
          reps: {csv: reps.csv}
          orders: {csv: nowhere.csv}
          as_of: 2025-05-30
    """)
    found = validate_test_file(path)
    assert [(d.code, d.line) for d in found] == [("HS610", 10), ("HS612", 1), ("HS612", 1)]
    assert "nowhere.csv" in found[0].message
    assert found[1].hint == "did you mean 'hired_on'?"
    assert found[2].message == "missing column(s) 'hired_on'"


def test_python_case_mapping(tmp_path: Path) -> None:
    from datetime import date

    from highseas import testing
    from highseas.ruleset.loader import load_ruleset

    ruleset = load_ruleset(RULESET)
    case = testing.case_from_dict(ruleset, {
        "name": "python",
        "reps": [{"id": "alice", "hired_on": date(2019, 3, 1), "regions": ["emea"]}],
        "customers": [{"id": "c1", "country": "DE", "created_at": date(2025, 1, 1),
                       "owner": "alice"}],
        "as_of": date(2025, 5, 30),
        "expect": {"released": [{"customer": "c1", "rule": "no-follow-up-90d"}]},
    })
    assert testing.assert_case(case).passed
    with pytest.raises(InvalidInputError):
        testing.case_from_dict(ruleset, {"name": "bad", "as_of": "2025-01-01",
                                         "expect": {"released": ["nobody"]}})


def test_validate_command_checks_test_files(tmp_path: Path) -> None:
    from highseas import api

    path = write_tests(tmp_path, """\
        - name: one
          as_of: 2025-05-30
          expect: {released: [ghost]}
    """)
    report = api.validate([str(path)])
    text = json.dumps([d.to_dict() for f in report.files for d in f.diagnostics])
    assert "HS604" in text and "ghost" in text
