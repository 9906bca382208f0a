"""The safe YAML loader: positions, strictness, and a clear error for every
kind of bad input."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from highseas.errors import InvalidInputError
from highseas.ruleset import yaml_loader
from highseas.ruleset.yaml_loader import (
    MAX_ALIASES,
    MAX_BYTES,
    MAX_DEPTH,
    join_key,
    load_yaml_file,
    load_yaml_text,
    path_of,
)


def _error(text: str | bytes) -> tuple[str, int, int]:
    with pytest.raises(InvalidInputError) as caught:
        load_yaml_text(text, file="x.yaml")
    (diagnostic,) = caught.value.diagnostics
    assert diagnostic.file == "x.yaml"
    assert diagnostic.message
    return diagnostic.code, diagnostic.line, diagnostic.column


def test_positions_per_json_path() -> None:
    loaded = load_yaml_text("a:\n  b: [1, 2]\n  c:\n    - d: x\n      e: y\n")
    assert loaded.data == {"a": {"b": [1, 2], "c": [{"d": "x", "e": "y"}]}}
    assert loaded.positions["$"] == (1, 1)
    assert loaded.positions["$.a"] == (1, 1)
    assert loaded.positions["$.a.b"] == (2, 3)
    assert loaded.positions["$.a.b[1]"] == (2, 10)
    assert loaded.positions["$.a.c[0]"] == (4, 7)
    assert loaded.positions["$.a.c[0].e"] == (5, 7)
    assert loaded.position("$.a.c[0].e.missing") == (5, 7)


def test_json_paths_quote_unusual_keys() -> None:
    assert join_key("$", "key-account") == "$.key-account"
    assert join_key("$", "not in") == "$['not in']"
    assert path_of(["a", 0, "b c"]) == "$.a[0]['b c']"


def test_yaml_12_scalars() -> None:
    data = load_yaml_text(
        "c: [NO, yes, off, 2024-01-01, 0x1f, 1.5, ~, true, False, '1']\n"
    ).data
    assert data["c"] == ["NO", "yes", "off", "2024-01-01", 31, 1.5, None, True, False, "1"]


def test_merge_keys_are_supported() -> None:
    loaded = load_yaml_text("x: &x {p: 1, q: 1}\ny:\n  <<: *x\n  q: 2\n")
    assert loaded.data["y"] == {"p": 1, "q": 2}
    assert loaded.positions["$.y.q"] == (4, 3)


def test_utf8_bom_is_accepted() -> None:
    assert load_yaml_text("\ufeffa: 1\n".encode()).data == {"a": 1}


@pytest.mark.parametrize(
    ("text", "code", "line", "column"),
    [
        ("a: 1\nb: [\n", "HS101", 3, 1),
        ("a: 1\nb: 2\na: 3\n", "HS102", 3, 1),
        (b"a: caf\xe9\n", "HS104", 1, 7),
        ("\ufeffa: 1".encode("utf-16"), "HS104", 1, 1),
        ("a: 1\nb: x\x00\n", "HS105", 2, 5),
        ("a: 1\nb: \x07\n", "HS105", 2, 4),
        ("a:\n\tb: 1\n", "HS106", 2, 1),
        ("a: 1\n---\nb: 2\n", "HS107", 2, 1),
        ("", "HS108", 1, 1),
        ("# only a comment\n", "HS108", 1, 1),
        ("- a\n- b\n", "HS108", 1, 1),
        ("just text\n", "HS108", 1, 1),
        ("a: !!python/object/apply:os.system [ls]\n", "HS109", 1, 4),
        ("a: !custom x\n", "HS109", 1, 4),
        ("a: !!binary aGk=\n", "HS109", 1, 4),
        ("a: !!set {x}\n", "HS109", 1, 4),
        ("a: &r\n  - *r\n", "HS110", 1, 4),
        ("? [k]\n: v\n", "HS111", 1, 3),
        ("a: !!int zz\n", "HS101", 1, 4),
    ],
)
def test_each_bad_input_has_its_code(text: str | bytes, code: str, line: int, column: int) -> None:
    assert _error(text) == (code, line, column)


def test_size_limit() -> None:
    big = "a: '" + "x" * MAX_BYTES + "'\n"
    assert _error(big)[0] == "HS103"
    assert _error(big.encode())[0] == "HS103"


def test_size_limit_of_files_reads_at_most_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_bytes(b"a: 1\n" + b"#" * (2 * MAX_BYTES))
    with pytest.raises(InvalidInputError) as caught:
        load_yaml_file(path)
    assert caught.value.first.code == "HS103"


def test_alias_count_is_bounded() -> None:
    text = "a: &a 1\nb: [" + ", ".join(["*a"] * (MAX_ALIASES + 1)) + "]\n"
    assert _error(text)[0] == "HS110"


@pytest.mark.parametrize("parser", ["libyaml", "python"])
@pytest.mark.parametrize("opening", ["[", "{a: "])
def test_deep_nesting_is_hs110_on_its_line_with_either_parser(
    parser: str, opening: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PyYAML's libyaml build (6.0.4 and later) stops deep nesting itself,
    the pure-Python one at MAX_DEPTH: both report HS110 on the line."""
    if parser == "python":
        monkeypatch.setattr(yaml_loader, "_PARSER", yaml_loader._Loader)
    elif not yaml_loader.yaml.__with_libyaml__:
        pytest.fail("PyYAML was built without libyaml: the fast parser is missing")
    closing = "]" if opening == "[" else "}"
    text = "version: 1\ncompany: " + opening * 5000 + "x" + closing * 5000 + "\n"
    code, line, _ = _error(text)
    assert (code, line) == ("HS110", 2)
    shallow = "a: " + opening * (MAX_DEPTH // 2) + "x" + closing * (MAX_DEPTH // 2) + "\n"
    monkeypatch.setattr(yaml_loader, "_PARSER", yaml_loader._Loader)
    assert load_yaml_text(shallow).data["a"] is not None


def test_alias_bomb_fails_fast() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    code, _, _ = _error("\n".join(lines) + "\n")
    assert code == "HS110"


def test_missing_file_is_an_io_error(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError) as caught:
        load_yaml_file(tmp_path / "nope.yaml")
    assert caught.value.first.code == "HS001"
    with pytest.raises(InvalidInputError) as caught:
        load_yaml_file(tmp_path)
    assert caught.value.first.code == "HS002"


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab:-[]{}&*!#'\"\n\t ,?|>~0.%@`\x00")), max_size=60))
def test_arbitrary_text_never_crashes(text: str) -> None:
    try:
        loaded = load_yaml_text(text)
    except InvalidInputError as error:
        assert all(d.code.startswith("HS1") and d.line >= 1 for d in error.diagnostics)
    else:
        assert isinstance(loaded.data, dict)
