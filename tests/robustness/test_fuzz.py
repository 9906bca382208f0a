"""Property-based hardening (hypothesis):

* random bytes and random YAML-ish or mutated documents never crash
  ``highseas validate``: only clean diagnostics and exit 0, 1 or 2;
* random *valid* rulesets (mutations of the three examples: durations, caps,
  protections, strategies, conditions) compile and run two nights on random
  facts keeping every invariant of the nightly run (tests/support/nightly.py
  ``checked_night``, shared with tests/nightly/test_properties.py).
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import tempfile
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from highseas.cli import main
from highseas.ruleset.loader import ruleset_from_document
from highseas.ruleset.model import Ruleset
from highseas.ruleset.yaml_loader import load_yaml_text
from tests.support.nightly import Facts, check_candidate_filter, checked_night
from tests.support.robustness import snapshot

ROOT = Path(__file__).resolve().parents[2]
# Read with highseas' own YAML loader (YAML 1.2 scalars: NO is Norway, not false).
EXAMPLES = {name: load_yaml_text((ROOT / "rulesets" / f"{name}.yaml").read_bytes()).data
            for name in ("regional-trading", "quick-order", "large-project")}
OUTPUT_LINE = re.compile(r"^(\S.*?: (error|warning) HS\d{3} .+|\d+ files? checked: .+)$")
FUZZ = settings(max_examples=60, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _validate_bytes(data: bytes) -> tuple[int, str]:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzz.yaml"
        path.write_bytes(data)
        result = CliRunner().invoke(main, ["validate", str(path)])
    assert result.exception is None or isinstance(result.exception, SystemExit), \
        repr(result.exception)
    output = result.output
    assert "Traceback" not in output and "HS999" not in output, output
    for line in output.splitlines():
        assert OUTPUT_LINE.match(line), line
    return result.exit_code, output


@FUZZ
@given(st.binary(max_size=3000))
def test_random_bytes_never_crash_validate(data: bytes) -> None:
    code, output = _validate_bytes(data)
    assert code in (0, 1, 2), output
    if code == 0:  # only a real ruleset is valid
        assert isinstance(yaml.safe_load(data), dict)


TOKENS = ["version: 1\n", "company:\n", "  id: acme\n", "  timezone: Europe/Berlin\n",
          "tiers:\n", "  - id: new\n", "    tenure: {less_than: 1y}\n", "pools:\n",
          "release_rules:\n", "    when:\n", "      idle_for: 90d\n", "- ", ": ", "  ", "\n",
          "[", "]", "{", "}", ",", "&a ", "*a", "!!python/object:os.system ", "!!binary ",
          "'", '"', "\t", "#", "? ", "---\n", "...\n", "|\n", ">\n", "<<: ", "~", "-3d", "0d",
          "1e400", "99999999999999999999", "\x00", "\x07", "\ufeff", "深圳", "😀", "\r\n",
          "%YAML 1.2\n", "@", "`", "null", "true", "yes", "0x1F", ".inf", "2026-02-29"]


@FUZZ
@given(st.lists(st.sampled_from(TOKENS), max_size=80).map("".join))
def test_yaml_ish_text_never_crashes_validate(text: str) -> None:
    code, output = _validate_bytes(text.encode("utf-8"))
    assert code in (0, 1, 2), output


JUNK = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True),
    st.text(max_size=20),
    st.sampled_from(["0d", "-3d", "14 days", "1.5y", "all", "by_region",
                     "'; DROP TABLE customers; --", "深圳市华强电子有限公司"]),
    st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=5), st.integers(),
                                                         max_size=2),
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _paths(value, (*prefix, index))
    return found


def _set(document: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    target = document
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    return document


@FUZZ
@given(st.sampled_from(sorted(EXAMPLES)), st.data())
def test_mutated_examples_never_crash_validate(name: str, data: st.DataObject) -> None:
    document = copy.deepcopy(EXAMPLES[name])
    for _ in range(data.draw(st.integers(1, 3))):
        paths = _paths(document)
        path = data.draw(st.sampled_from(paths))
        document = _set(document, path, data.draw(JUNK))
        if not isinstance(document, dict | list):
            break
    text = yaml.safe_dump(document, allow_unicode=True, sort_keys=False)
    code, output = _validate_bytes(text.encode("utf-8"))
    assert code in (0, 1), output


# --- random valid rulesets on random facts ---------------------------------------------

DURATIONS = st.sampled_from(["1d", "7d", "14d", "30d", "45d", "2mo", "90d", "6mo", "1y", "2y"])


@st.composite
def valid_rulesets(draw: st.DrawFn) -> Ruleset:
    """An example ruleset with random durations, caps, strategies and conditions."""
    name = draw(st.sampled_from(sorted(EXAMPLES)))
    doc = copy.deepcopy(EXAMPLES[name])
    for rule in doc.get("release_rules", []):
        when = rule["when"]
        time_keys = ("idle_for", "no_order_for", "owned_for", "created_before")
        leaves = [when] + [c for c in when.get("all", []) + when.get("any", [])
                           if isinstance(c, dict)]
        for leaf in leaves:
            for key in time_keys:
                if key in leaf:
                    leaf[key] = draw(DURATIONS)
        if draw(st.booleans()):
            rule.pop("unless", None)
        if draw(st.booleans()):
            rule["unless"] = draw(st.sampled_from([
                {"has_open_order": True},
                {"tags": {"any": ["vip", "key-account", "'; DROP TABLE customers; --"]}},
                {"stage": {"in": ["contract", "深圳"]}},
                {"not": {"never_contacted": True}},
            ]))
        rule.pop("remind_before", None)
        if draw(st.booleans()):
            rule["remind_before"] = draw(st.sampled_from([["1d"], ["7d", "1d"], ["30d"]]))
    caps = doc.setdefault("caps", {})
    for cap in caps.get("private", []):
        cap["max"] = draw(st.integers(0, 6))
        cap["excess_order"] = draw(st.sampled_from(
            ["least_recently_followed_up", "oldest_owned", "newest_owned", "lowest_level"]))
        cap.pop("protect", None)
        protect = draw(st.sampled_from([None, {"tags": {"any": ["vip"]}},
                                        {"stage": {"in": ["contract", "深圳"]}}]))
        if protect is not None:
            cap["protect"] = protect
        excess = cap.get("excess_to")
        if excess is not None and draw(st.booleans()):
            # version 1.1: a first target with a condition, then the cap's own
            doc["version"] = "1.1"
            first = draw(st.sampled_from([{"to_pool": "by_region"}, dict(excess)]))
            when = draw(st.sampled_from([{"tags": {"any": ["vip"]}},
                                         {"stage": {"in": ["contract", "lead"]}}]))
            cap["excess_to"] = [{"when": when, **first}, excess]
    for cap in caps.get("claims", []):
        for key in ("per_day", "per_week", "per_month"):
            cap.pop(key, None)
        cap["per_day"] = draw(st.integers(0, 5))
    if draw(st.booleans()):
        caps["cooldown"] = draw(st.sampled_from(["1d", "7d", "30d"]))
    for allocation in doc.get("allocation", []):
        strategy = draw(st.sampled_from(["round_robin", "least_loaded", "weighted", "capacity"]))
        allocation["strategy"] = strategy
        for key in ("weights", "capacity_per_30d"):
            allocation.pop(key, None)
        if strategy == "weighted":
            allocation["weights"] = {"tiers": {t: draw(st.integers(1, 3))
                                               for t in allocation["tiers"]}}
        if strategy == "capacity":
            allocation["capacity_per_30d"] = draw(st.integers(1, 40))
        allocation["max_per_rep_per_run"] = draw(st.integers(1, 4))
    for relay in doc.get("activation_relay", []):
        relay["rounds"] = draw(st.integers(1, 4))
        relay["contact_window"] = draw(st.sampled_from(["1d", "3d", "7d"]))
    digest = hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()
    ruleset, diagnostics = ruleset_from_document(doc, {}, f"{name}.yaml", digest)
    assume(ruleset is not None and not any(d.is_error for d in diagnostics))
    assert ruleset is not None
    return ruleset


AS_OF = date(2026, 6, 1)


@st.composite
def facts_for(draw: st.DrawFn, ruleset: Ruleset) -> Facts:
    facts = Facts(ruleset.company.id)
    countries = sorted({c for r in ruleset.regions for c in r.countries}) + ["ZZ"]
    region_ids = [r.id for r in ruleset.regions]
    tiers_by_attribute = [t.id for t in ruleset.tiers if getattr(t, "attribute", None)]
    reps = []
    for i in range(draw(st.integers(1, 5))):
        reps.append({
            "rep_id": f"r{i}",
            "hired_on": (AS_OF - timedelta(days=draw(st.sampled_from([10, 100, 300, 500, 1000,
                                                                      3000])))).isoformat(),
            "regions": draw(st.lists(st.sampled_from(region_ids), max_size=2, unique=True))
            if region_ids else [],
            "tier": draw(st.sampled_from([None, None, *tiers_by_attribute])),
            "weight": draw(st.integers(1, 3)),
            "active": draw(st.integers(0, 5)) > 0,
            **draw(st.sampled_from([{}, {}, {"away_from": (AS_OF - timedelta(days=3)).isoformat(),
                                             "away_until": (AS_OF + timedelta(days=3)).isoformat()},
                                    {"away_from": (AS_OF + timedelta(days=5)).isoformat()}])),
        })
    facts.reps(reps)
    owners = [r["rep_id"] for r in reps] + [None, None]  # many in the high seas
    customers, activities, orders = [], [], []
    for i in range(draw(st.integers(0, 24))):
        owner = draw(st.sampled_from(owners))
        created = AS_OF - timedelta(days=draw(st.integers(1, 1200)))
        customers.append({
            "customer_id": f"c{i:02d}", "owner": owner,
            "country": draw(st.sampled_from([*countries, None])),
            "source": draw(st.sampled_from(["alibaba", "website", "trade-show"])),
            "stage": draw(st.sampled_from(["lead", "contract", "negotiation", "深圳"])),
            "tags": draw(st.sampled_from([[], ["vip"], ["'; DROP TABLE customers; --"]])),
            "level": draw(st.integers(1, 5)),
            "created_at": created.isoformat(),
            "owned_since": (created + timedelta(days=draw(st.integers(0, 60)))).isoformat(),
            "pool_id": None if owner else draw(st.sampled_from([p.id for p in ruleset.pools])),
        })
        for _ in range(draw(st.integers(0, 2))):
            at = created + timedelta(days=draw(st.integers(0, (AS_OF - created).days)))
            activities.append({"customer_id": f"c{i:02d}", "rep_id": draw(st.sampled_from(owners)),
                               "at": f"{at} 09:00"})
        if draw(st.integers(0, 4)) == 0:
            orders.append({"customer_id": f"c{i:02d}", "placed_at": created.isoformat(),
                           "status": draw(st.sampled_from(["open", "won", "lost"]))})
    facts.customers(customers).activities(activities).orders(orders)
    return facts


RANDOM_RULESETS = 15


@settings(max_examples=RANDOM_RULESETS, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.filter_too_much])
@given(st.data())
def test_random_valid_rulesets_run_on_random_facts_keeping_the_invariants(
        data: st.DataObject) -> None:
    """Two nights of a random valid ruleset on random facts; the second sees
    the first's cooldowns, relays in progress (some contacted in between),
    claim counters and rotation. Every invariant of the nightly run holds on
    both (nightly.checked_night), and the SQL candidate filter agrees
    with durable-rules on every customer."""
    ruleset = data.draw(valid_rulesets())
    facts = data.draw(facts_for(ruleset))
    day = AS_OF + timedelta(days=data.draw(st.integers(0, 6)))
    check_candidate_filter(facts.con, ruleset, day)
    first = checked_night(facts.con, ruleset, day)
    facts.activities({"customer_id": d.customer_id, "rep_id": d.to_rep_id,
                      "at": f"{day + timedelta(days=1)} 09:00"}
                     for d in first.by_action("relay") if data.draw(st.booleans()))
    checked_night(facts.con, ruleset, day + timedelta(days=data.draw(st.integers(1, 40))))


# --- random facts files through `highseas load` -------------------------------------------

@pytest.fixture(scope="module")
def small_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small fixture company in a database."""
    from highseas.store.db import init_db
    from highseas.store.loader import load_file

    path = tmp_path_factory.mktemp("fuzz-facts") / "small.db"
    init_db(path)
    for table in ("reps", "customers", "activities", "orders"):
        load_file(path, table, ROOT / "fixtures" / "small" / f"{table}.csv", "small-co")
    return path


CUSTOMER_COLUMNS = ["customer_id", "name", "country", "region", "source", "stage", "tags",
                    "level", "attributes", "created_at", "owner_rep_id", "pool_id",
                    "owned_since"]
CELLS = st.one_of(
    st.sampled_from(["", " ", "C001", "R01", "R99", "DE", "de", "UK", "2026-01-31",
                     "2026-02-29", "2024-02-29 23:59:59", "2999-01-01", "0", "-1", "1.5",
                     "99999999999999999999", "true", "[a, b", "a;b|c", '{"credit_score": 1}',
                     "{x}", "'; DROP TABLE customers; --", "深圳市华强电子有限公司", "😀",
                     '"', '""', ",", "\n", "\r\n", "\t", "NULL", "\\N"]),
    st.text(max_size=12),
)


def _csv_text(header: list[str], rows: list[list[str]]) -> str:
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


@settings(max_examples=20, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_random_customer_files_load_cleanly_or_change_nothing(
        small_template: Path, data: st.DataObject) -> None:
    import shutil

    header = data.draw(st.lists(st.sampled_from([*CUSTOMER_COLUMNS, "notes"]), min_size=1,
                                max_size=14, unique=True))
    if data.draw(st.booleans()):  # mostly files with the required columns
        header = [c for c in ("customer_id", "name", "created_at") if c not in header] + header
    rows = data.draw(st.lists(st.lists(CELLS, min_size=len(header), max_size=len(header)),
                              max_size=6))
    raw = data.draw(st.sampled_from(["csv", "csv", "bytes"]))
    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "facts.db"
        shutil.copy(small_template, db)
        path = Path(folder) / "customers.csv"
        if raw == "bytes":
            path.write_bytes(data.draw(st.binary(max_size=300)))
        else:
            path.write_text(_csv_text(header, rows), encoding="utf-8")
        before = snapshot(db)
        result = CliRunner().invoke(main, ["load", str(db), "customers", str(path),
                                           "--company", "small-co"])
        assert result.exception is None or isinstance(result.exception, SystemExit), \
            repr(result.exception)
        assert "Traceback" not in result.output and "HS999" not in result.output, result.output
        assert result.exit_code in (0, 1, 2), result.output
        after = snapshot(db)
        if result.exit_code == 0:
            if raw == "csv":
                assert len(after["customers"]) == len(before["customers"]) + len(rows)
            assert {k: v for k, v in after.items() if k != "customers"} == \
                {k: v for k, v in before.items() if k != "customers"}
        else:
            assert re.search(r"error HS4\d\d ", result.output), result.output
            assert after == before

