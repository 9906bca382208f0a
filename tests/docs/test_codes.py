"""The registry of diagnostic codes, the code that emits them and the code
tables in docs/ agree.

* every code the engine names (``codes.NAME`` or, in modules not yet moved
  to the registry, an ``"HSnnn"`` literal) is registered and not retired;
* every registered code is in a code table of its doc, with a description
  that carries its title's words; a retired code's row says "retired" and
  names its successor;
* no doc documents a code the registry does not know;
* an error class raised with a code exits with that code's exit code.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from highseas import codes, errors

ROOT = Path(__file__).resolve().parents[2]
ENGINE = ROOT / "engine"
DOCS = ROOT / "docs"

#: A row of a code table: ``| HS123 | description |`` (the code may be in
#: backticks and followed by "(warning)").
ROW = re.compile(r"^\|\s*`?(HS\d{3})`?(\s*\(warning\))?\s*\|\s*(.*?)\s*\|", re.M)

#: Words a title may use that a doc row need not repeat.
FILLER = frozenset(
    "a an the of or and in to is are be it its on for by with as at from than that this "
    "no not does do has have one two more other any every".split()
)


def doc_rows() -> Iterator[tuple[str, str, str]]:
    """(doc, code, description) of every code-table row in docs/."""
    for path in sorted(DOCS.glob("*.md")):
        doc = f"docs/{path.name}"
        for match in ROW.finditer(path.read_text(encoding="utf-8")):
            yield doc, match.group(1), match.group(3) + (match.group(2) or "")


def stem(word: str) -> str:
    """``caps`` -> ``cap``, ``applies`` -> ``apply``: enough for titles."""
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith("s") and not word.endswith("ss") and len(word) > 3:
        return word[:-1]
    return word


def words(text: str) -> set[str]:
    return {stem(w) for w in re.findall(r"[a-z0-9_]+", text.lower().replace("`", ""))}


def engine_sources() -> Iterator[tuple[Path, str]]:
    for path in sorted(ENGINE.rglob("*.py")):
        yield path, path.read_text(encoding="utf-8")


def code_names(tree: ast.AST) -> Iterator[str]:
    """The NAME of every ``codes.NAME`` in a module."""
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                and node.value.id == "codes"):
            yield node.attr


def test_the_registry_is_consistent() -> None:
    assert codes.REGISTRY, "no codes registered"
    for code in codes.REGISTRY.values():
        assert re.fullmatch(r"HS\d{3}", code.id), code
        assert code.title and code.title == code.title.strip(), code
        assert code.exit_code in (0, 1, 2, 3), code
        assert (ROOT / code.doc).is_file(), code
        if code.retired:
            successor = codes.REGISTRY[code.replaced_by]
            assert not successor.retired, code
    named = {value for name, value in vars(codes).items()
             if name.isupper() and isinstance(value, str) and value.startswith("HS")}
    assert named == {c.id for c in codes.active()}, "every active code has one name"


def test_every_code_the_engine_names_is_registered() -> None:
    unknown: list[str] = []
    for path, source in engine_sources():
        if path.name == "codes.py":
            continue
        where = path.relative_to(ROOT)
        for name in code_names(ast.parse(source)):
            if not hasattr(codes, name):
                unknown.append(f"{where}: codes.{name}")
        for literal in re.findall(r"""["'](HS\d{3})["']""", source):
            entry = codes.REGISTRY.get(literal)
            if entry is None or entry.retired:
                unknown.append(f"{where}: {literal}")
    assert unknown == []


def test_every_registered_code_is_documented_in_its_doc() -> None:
    rows: dict[tuple[str, str], str] = {(doc, code): text for doc, code, text in doc_rows()}
    problems: list[str] = []
    for code in codes.REGISTRY.values():
        text = rows.get((code.doc, code.id))
        if text is None:
            problems.append(f"{code.id} is not in a code table of {code.doc}")
        elif code.retired:
            if "retired" not in text or code.replaced_by not in text:
                problems.append(f"{code.id}: the row must say retired, and name "
                                f"{code.replaced_by}")
        else:
            missing = words(code.title) - FILLER - words(text)
            if missing:
                problems.append(f"{code.id} {code.title!r}: {code.doc} does not say "
                                f"{sorted(missing)} ({text!r})")
    assert problems == []


def test_no_doc_documents_an_unregistered_code() -> None:
    unknown = [f"{doc}: {code}" for doc, code, _ in doc_rows() if code not in codes.REGISTRY]
    assert unknown == []


def test_a_code_documented_twice_means_the_same_thing() -> None:
    problems = []
    for doc, code, text in doc_rows():
        entry = codes.REGISTRY[code]
        if doc != entry.doc and not entry.retired:
            missing = words(entry.title) - FILLER - words(text)
            if missing:
                problems.append(f"{doc}: {code} does not say {sorted(missing)}")
    assert problems == []


def test_the_cli_reference_names_every_doc_with_codes() -> None:
    cli = (DOCS / "cli.md").read_text(encoding="utf-8")
    for doc in {c.doc for c in codes.REGISTRY.values()} - {"docs/cli.md"}:
        assert f"]({doc.removeprefix('docs/')})" in cli, doc


def _raised_codes() -> Iterator[tuple[str, str, str]]:
    """(where, error class, code) of every ``SomeError(..., code=codes.NAME)``."""
    classes = {name for name, value in vars(errors).items()
               if isinstance(value, type) and issubclass(value, errors.HighseasError)}
    for path, source in engine_sources():
        for node in ast.walk(ast.parse(source)):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                    and node.func.id in classes):
                continue
            for keyword in node.keywords:
                value = keyword.value
                if (keyword.arg == "code" and isinstance(value, ast.Attribute)
                        and isinstance(value.value, ast.Name) and value.value.id == "codes"):
                    where = f"{path.relative_to(ROOT)}:{node.lineno}"
                    yield where, node.func.id, getattr(codes, value.attr)


def test_raise_sites_are_found() -> None:
    found = list(_raised_codes())
    assert len(found) > 50
    assert {cls for _, cls, _ in found} >= {"InvalidInputError", "EngineError", "BusyError"}


@pytest.mark.parametrize("where,error_class,code", list(_raised_codes()))
def test_an_error_exits_with_its_codes_exit_code(where: str, error_class: str, code: str) -> None:
    expected = getattr(errors, error_class).exit_code
    assert codes.exit_code(code) == expected, f"{where}: {code} raised as {error_class}"
