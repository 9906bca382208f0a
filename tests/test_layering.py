"""The packages of highseas import only the packages below them.

The layers (drawn in engine/__init__.py)::

    cli -> fleet -> api -> testing, simulate -> nightly -> compile -> ruleset
    cli, api -> validate -> testfile -> ruleset; testing -> testfile
    store: below nightly, testing and simulate
    every package -> errors, codes, suggestions

Every import counts: at module top, inside functions, under
``TYPE_CHECKING``, and module names given to ``importlib`` as text. The
module graph has no cycle, and the packages with a facade (testing, simulate,
fleet) are entered only through it from outside.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ENGINE = Path(__file__).resolve().parents[1] / "engine"

#: Imported by everything; they import only each other.
FOUNDATION = frozenset({"errors", "codes", "suggestions"})

#: package (or top-level module) -> the packages it may import, besides itself
#: and the foundation.
MAY_IMPORT: dict[str, frozenset[str]] = {
    "": frozenset(),  # highseas/__init__.py
    "errors": frozenset(),
    "codes": frozenset(),
    "suggestions": frozenset(),
    "ruleset": frozenset(),
    "testfile": frozenset({"ruleset"}),
    "validate": frozenset({"testfile", "ruleset"}),
    "store": frozenset(),
    "compile": frozenset({"ruleset"}),
    "nightly": frozenset({"compile", "ruleset", "store"}),
    "testing": frozenset({"testfile", "nightly", "compile", "ruleset", "store"}),
    "simulate": frozenset({"nightly", "compile", "ruleset", "store"}),
    "api": frozenset({"validate", "testing", "testfile", "simulate", "nightly", "compile",
                      "ruleset", "store"}),
    "fleet": frozenset({"api"}),
    "cli": frozenset({"api", "validate", "testing", "simulate", "fleet"}),
    "__main__": frozenset({"cli"}),
}

#: Packages whose __init__ is their public face: other packages import the
#: package itself, never its modules.
FACADES = frozenset({"testfile", "testing", "simulate", "fleet"})

#: Data folders installed as packages (importlib.resources), not code.
DATA_PACKAGES = frozenset({"rulesets", "schemas"})

#: Known violations being removed, as (importing module, imported module).
#: Keep it empty: an entry here is a debt to pay, not a rule.
ALLOWED_VIOLATIONS: frozenset[tuple[str, str]] = frozenset()

_MODULE_TEXT = re.compile(r"^highseas(?:\.[A-Za-z_]\w*)+(?::[A-Za-z_]\w*)?$")


@dataclass(frozen=True)
class Import:
    """One import of a highseas module by another."""

    importer: str
    imported: str
    file: Path
    line: int

    def __str__(self) -> str:
        return f"{self.file.relative_to(ENGINE.parent)}:{self.line}: {self.imported}"


def _module_name(path: Path) -> str:
    parts = ["highseas", *path.relative_to(ENGINE).with_suffix("").parts]
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_data(name: str) -> bool:
    """Whether module ``name`` lies in a data folder installed as a package."""
    parts = name.split(".")
    return len(parts) > 1 and parts[1] in DATA_PACKAGES


MODULES: dict[str, Path] = {name: path for path in sorted(ENGINE.rglob("*.py"))
                            if not _is_data(name := _module_name(path))}
PACKAGES = frozenset(name for name, path in MODULES.items() if path.name == "__init__.py")


def _resolve(module: str, name: str) -> str:
    """``from module import name``: the submodule when ``name`` is one."""
    candidate = f"{module}.{name}"
    return candidate if candidate in MODULES else module


def _imports_of(module: str, path: Path) -> Iterator[Import]:
    package = module if module in PACKAGES else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        found: list[str] = []
        if isinstance(node, ast.Import):
            found = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from . import x / from .mod import y
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            found = [_resolve(base, alias.name) for alias in node.names]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            if _MODULE_TEXT.match(node.value):  # importlib.import_module("highseas...")
                found = [node.value.partition(":")[0]]
        for name in found:
            if name == "highseas" or name.startswith("highseas."):
                yield Import(module, name, path, getattr(node, "lineno", 0))


IMPORTS: list[Import] = [imp for name, path in MODULES.items() for imp in _imports_of(name, path)]


def layer(module: str) -> str:
    """The package (or top-level module) ``module`` belongs to."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def violation(imp: Import) -> str | None:
    """Why ``imp`` breaks the layering, or None."""
    source, target = layer(imp.importer), layer(imp.imported)
    if target in DATA_PACKAGES or source == target:
        return None
    if source not in MAY_IMPORT:
        return f"package highseas.{source} has no place in the layers (add it to MAY_IMPORT)"
    allowed = MAY_IMPORT[source] | FOUNDATION
    if target not in allowed:
        return f"highseas.{source} may not import highseas.{target or '(root)'}"
    if target in FACADES and imp.imported != f"highseas.{target}":
        return f"import the facade highseas.{target}, not {imp.imported}"
    return None


def test_the_scan_sees_imports_of_every_kind(tmp_path: Path) -> None:
    """Top-level, in-function, TYPE_CHECKING and importlib-by-text imports are found."""
    sample = tmp_path / "sample.py"
    sample.write_text(
        "from typing import TYPE_CHECKING\n"
        "from highseas import codes\n"
        "if TYPE_CHECKING:\n"
        "    from highseas.nightly.plan import Plan\n"
        "def f():\n"
        "    import highseas.store.db\n"
        "    return importlib.import_module('highseas.testing')\n",
        encoding="utf-8",
    )
    found = {imp.imported for imp in _imports_of("highseas.ruleset.sample", sample)}
    assert found == {"highseas.codes", "highseas.nightly.plan", "highseas.store.db",
                     "highseas.testing"}
    assert violation(Import("highseas.ruleset.x", "highseas.testing", sample, 1)) is not None
    assert violation(Import("highseas.cli.x", "highseas.simulate.replay", sample, 1)) is not None
    assert violation(Import("highseas.cli.x", "highseas.simulate", sample, 1)) is None


def test_every_package_has_a_place_in_the_layers() -> None:
    unknown = sorted({layer(name) for name in MODULES} - MAY_IMPORT.keys())
    assert not unknown, f"add {unknown} to MAY_IMPORT (and to engine/__init__.py)"


def test_packages_import_only_the_layers_below() -> None:
    problems = [f"{imp}  ({why})" for imp in IMPORTS
                if (why := violation(imp)) and (imp.importer, imp.imported)
                not in ALLOWED_VIOLATIONS]
    assert not problems, "imports against the layering:\n" + "\n".join(problems)


def test_the_cli_uses_only_the_facades() -> None:
    entered = {imp.imported for imp in IMPORTS
               if layer(imp.importer) == "cli" and layer(imp.imported) != "cli"}
    assert entered <= {"highseas.api", "highseas.validate", "highseas.testing", "highseas.simulate",
                       "highseas.fleet", "highseas.errors", "highseas.codes",
                       "highseas.suggestions", "highseas.rulesets"}, sorted(entered)


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(edges.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_modules_import_each_other_without_cycles() -> None:
    edges: dict[str, set[str]] = {}
    for imp in IMPORTS:
        if imp.imported != imp.importer and imp.imported in MODULES:
            edges.setdefault(imp.importer, set()).add(imp.imported)
    cycles = _cycles(edges)
    assert not cycles, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in cycles)


@pytest.mark.parametrize("package", sorted(p for p in PACKAGES if p.count(".") == 1))
def test_each_package_says_what_it_holds_and_may_import(package: str) -> None:
    doc = ast.get_docstring(ast.parse(MODULES[package].read_text(encoding="utf-8"))) or ""
    assert "import" in doc.lower(), f"{package}'s docstring says nothing of its imports"
    modules = {name.rpartition(".")[2] for name in MODULES
               if name.rpartition(".")[0] == package}
    missing = sorted(m for m in modules
                     if f"``{m}``" not in doc and f"{package}.{m}" not in doc)
    assert not missing, f"{package}'s docstring does not list {missing}"
