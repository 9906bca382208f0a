"""Safe YAML loading with a line and column for every JSON path.

Used for rulesets and for any other YAML highseas reads (test files, ...).
The loader is deliberately stricter than PyYAML's ``safe_load``:

* only plain data: mappings, sequences, strings, numbers, booleans, null.
  Any other tag (``!!python/...``, ``!!binary``, ``!!set``, custom ``!tags``)
  is an error (HS109);
* scalars resolve as in YAML 1.2: only ``true``/``false`` are booleans (so a
  country ``NO`` stays the string ``"NO"``) and dates stay strings;
* a key that appears twice in one mapping is an error (HS102), instead of
  PyYAML silently keeping the last one;
* aliases are bounded (HS110): at most :data:`MAX_ALIASES` aliases and
  :data:`MAX_NODES` nodes after expansion, so an alias bomb fails fast;
* nesting is bounded (HS110) at :data:`MAX_DEPTH` levels;
* files over :data:`MAX_BYTES` (1 MiB), non-UTF-8 bytes, NUL and other
  control characters, tab characters, several documents in one file, and a
  top level that is not a mapping are each reported with their own code.

Positions are 1-based ``(line, column)``. For a mapping member the position
is the key's (where a reader looks for it); for a sequence item, the item's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from highseas import codes
from highseas.errors import Diagnostic, InvalidInputError

#: Largest file accepted, in bytes.
MAX_BYTES = 1024 * 1024
#: Most aliases (``*name``) accepted in one file.
MAX_ALIASES = 100
#: Most nodes accepted after expanding aliases.
MAX_NODES = 200_000
#: Deepest nesting of mappings and lists accepted (PyYAML's own limit, or
#: Python's recursion limit, would otherwise decide, differently per build).
MAX_DEPTH = 200
_NESTING_HINT = "a ruleset needs a few levels; look for unclosed or repeated brackets"

_TAG = "tag:yaml.org,2002:"
_PLAIN_TAGS = {
    _TAG + "str",
    _TAG + "int",
    _TAG + "float",
    _TAG + "bool",
    _TAG + "null",
    _TAG + "seq",
    _TAG + "map",
    _TAG + "merge",
}
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*$")


def join_key(path: str, key: str) -> str:
    """The JSON path of member ``key`` of the mapping at ``path``."""
    if _IDENTIFIER.match(key):
        return f"{path}.{key}"
    escaped = key.replace("\\", "\\\\").replace("'", "\\'")
    return f"{path}['{escaped}']"


def join_index(path: str, index: int) -> str:
    """The JSON path of item ``index`` of the sequence at ``path``."""
    return f"{path}[{index}]"


def path_of(parts: list[str | int] | tuple[str | int, ...]) -> str:
    """``["a", 0, "b"]`` -> ``$.a[0].b``."""
    path = "$"
    for part in parts:
        path = join_index(path, part) if isinstance(part, int) else join_key(path, str(part))
    return path


@dataclass(frozen=True)
class LoadedYaml:
    """A parsed YAML document: plain Python data and where each part is."""

    data: Any
    positions: dict[str, tuple[int, int]] = field(default_factory=dict)
    file: str = ""
    text: str = ""

    def position(self, json_path: str) -> tuple[int, int]:
        """Line and column of ``json_path`` or of its nearest known ancestor."""
        return nearest_position(self.positions, json_path)


def nearest_position(positions: dict[str, tuple[int, int]], json_path: str) -> tuple[int, int]:
    """Position of ``json_path``, falling back to its closest ancestor."""
    path = json_path
    while path:
        if path in positions:
            return positions[path]
        cut = max(path.rfind("."), path.rfind("["))
        if cut <= 0:
            break
        path = path[:cut]
    return positions.get("$", (1, 1))


# --------------------------------------------------------------------------
# A resolver with YAML 1.2 core-schema scalars
# --------------------------------------------------------------------------


class _Resolver(yaml.resolver.BaseResolver):
    pass


_Resolver.add_implicit_resolver(
    _TAG + "bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_Resolver.add_implicit_resolver(
    _TAG + "int",
    re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$"),
    list("-+0123456789"),
)
_Resolver.add_implicit_resolver(
    _TAG + "float",
    re.compile(
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-+0123456789."),
)
_Resolver.add_implicit_resolver(
    _TAG + "null", re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""]
)
_Resolver.add_implicit_resolver(_TAG + "merge", re.compile(r"^(?:<<)$"), ["<"])


class _Composing:
    """Composes nodes only (our own walker turns them into data), counting aliases."""

    alias_count = 0
    depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node:
        if self.depth >= MAX_DEPTH:
            raise self._problem_here(
                f"the document is nested more than {MAX_DEPTH} levels deep",
                _NESTING_HINT,
            )
        if self.check_event(yaml.events.AliasEvent):  # type: ignore[attr-defined]
            self.alias_count += 1
            if self.alias_count > MAX_ALIASES:
                raise self._problem_here(
                    f"more than {MAX_ALIASES} aliases in one file",
                    "aliases are bounded so that an alias bomb cannot exhaust memory; "
                    "write the values out",
                )
        self.depth += 1
        try:
            return super().compose_node(parent, index)  # type: ignore[misc,no-any-return]
        finally:
            self.depth -= 1

    def _problem_here(self, message: str, hint: str) -> _LoadProblem:
        """An HS110 at the next event's position."""
        event = self.peek_event()  # type: ignore[attr-defined]
        return _LoadProblem(codes.TOO_COMPLEX, message, event.start_mark.line + 1,
                            event.start_mark.column + 1, hint)


class _Loader(
    _Composing,
    yaml.reader.Reader,
    yaml.scanner.Scanner,
    yaml.parser.Parser,
    yaml.composer.Composer,
    yaml.constructor.SafeConstructor,
    _Resolver,
):
    """Pure-Python parsing (used when PyYAML was built without libyaml)."""

    def __init__(self, stream: str) -> None:
        yaml.reader.Reader.__init__(self, stream)
        yaml.scanner.Scanner.__init__(self)
        yaml.parser.Parser.__init__(self)
        yaml.composer.Composer.__init__(self)
        yaml.constructor.SafeConstructor.__init__(self)
        _Resolver.__init__(self)


if yaml.__with_libyaml__:
    from yaml._yaml import CParser

    class _CLoader(  # type: ignore[misc]
        _Composing,
        CParser,
        yaml.composer.Composer,
        yaml.constructor.SafeConstructor,
        _Resolver,
    ):
        """libyaml scans and parses (about ten times faster); Python composes."""

        def __init__(self, stream: str) -> None:
            CParser.__init__(self, stream)
            yaml.composer.Composer.__init__(self)
            yaml.constructor.SafeConstructor.__init__(self)
            _Resolver.__init__(self)

    _PARSER: type = _CLoader
else:  # pragma: no cover - depends on how PyYAML was built
    _PARSER = _Loader


class _LoadProblem(Exception):
    def __init__(self, code: str, message: str, line: int, column: int, hint: str = "",
                 json_path: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.line = line
        self.column = column
        self.hint = hint
        self.json_path = json_path


def _pos(node: Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


class _Walker:
    """Turns composed nodes into plain data, recording positions."""

    def __init__(self, loader: _Loader) -> None:
        self.loader = loader
        self.positions: dict[str, tuple[int, int]] = {}
        self.nodes = 0
        self.stack: set[int] = set()

    def walk(self, node: Node, path: str, position: tuple[int, int]) -> Any:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise _LoadProblem(
                codes.TOO_COMPLEX,
                f"the document expands to more than {MAX_NODES} values",
                *_pos(node),
                "aliases are bounded so that an alias bomb cannot exhaust memory",
                path,
            )
        self.positions.setdefault(path, position)
        if node.tag not in _PLAIN_TAGS:
            raise _LoadProblem(
                codes.TAG_NOT_ALLOWED,
                f"tag {node.tag!r} is not allowed",
                *_pos(node),
                "rulesets hold plain data only: mappings, lists, text, numbers, "
                "true/false and null; remove the tag",
                path,
            )
        if id(node) in self.stack:
            raise _LoadProblem(
                codes.TOO_COMPLEX, "an alias refers to the value that contains it", *_pos(node),
                "recursive aliases are not allowed", path,
            )
        if isinstance(node, ScalarNode):
            return self._scalar(node, path)
        self.stack.add(id(node))
        try:
            if isinstance(node, SequenceNode):
                return [
                    self.walk(item, join_index(path, i), _pos(item))
                    for i, item in enumerate(node.value)
                ]
            assert isinstance(node, MappingNode)
            return self._mapping(node, path)
        finally:
            self.stack.discard(id(node))

    def _scalar(self, node: ScalarNode, path: str) -> Any:
        if node.tag == _TAG + "merge":
            raise _LoadProblem(codes.YAML_SYNTAX,
                               "'<<' is only allowed as a key", *_pos(node), "", path)
        try:
            return self.loader.construct_object(node, deep=True)
        except (ValueError, yaml.YAMLError) as error:
            raise _LoadProblem(
                codes.YAML_SYNTAX,
                f"{node.value!r} is not a valid {node.tag.rsplit(':', 1)[-1]}: {error}",
                *_pos(node), "", path,
            ) from None

    def _mapping(self, node: MappingNode, path: str) -> dict[str, Any]:
        result: dict[str, Any] = {}
        seen: dict[str, tuple[int, int]] = {}
        merges: list[Node] = []
        for key_node, value_node in node.value:
            if key_node.tag == _TAG + "merge":
                if isinstance(value_node, SequenceNode):
                    merges.extend(value_node.value)
                else:
                    merges.append(value_node)
                continue
            if not isinstance(key_node, ScalarNode) or key_node.tag not in (
                _TAG + "str", _TAG + "int", _TAG + "bool", _TAG + "float", _TAG + "null",
            ):
                raise _LoadProblem(
                    codes.KEY_NOT_TEXT, "a key must be plain text, not a list or mapping",
                    *_pos(key_node), "write keys as plain words followed by ':'", path,
                )
            key = key_node.value
            if key_node.tag != _TAG + "str" and not key:
                raise _LoadProblem(codes.KEY_NOT_TEXT, "empty key", *_pos(key_node),
                                   "write a key before the ':'", path)
            if key in seen:
                line, column = seen[key]
                raise _LoadProblem(
                    codes.DUPLICATE_KEY,
                    f"duplicate key {key!r} (first at line {line}, column {column})",
                    *_pos(key_node),
                    "YAML keeps only the last value of a repeated key; remove or rename one",
                    join_key(path, key),
                )
            seen[key] = _pos(key_node)
            child = join_key(path, key)
            result[key] = self.walk(value_node, child, _pos(key_node))
        for merged in merges:
            if not isinstance(merged, MappingNode):
                raise _LoadProblem(
                    codes.YAML_SYNTAX, "'<<' merges only mappings", *_pos(merged), "", path
                )
            value = self.walk(merged, path, _pos(merged))
            for key, item in value.items():
                if key not in result:
                    result[key] = item
        return result


def _check_expanded_size(root: Node) -> None:
    """Fail fast when aliases would expand the document beyond :data:`MAX_NODES`.

    Sizes are memoised per node, so this is linear in the unexpanded file.
    Recursive aliases are left to the walker, which reports them precisely.
    """
    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(node: Node) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in active:
            return 1
        active.add(key)
        total = 1
        if isinstance(node, SequenceNode):
            total += sum(size(item) for item in node.value)
        elif isinstance(node, MappingNode):
            total += sum(size(k) + size(v) for k, v in node.value)
        active.discard(key)
        sizes[key] = total
        if total > MAX_NODES:
            raise _LoadProblem(
                codes.TOO_COMPLEX,
                f"the document expands to more than {MAX_NODES} values", *_pos(node),
                "aliases are bounded so that an alias bomb cannot exhaust memory",
            )
        return total

    size(root)


def _line_col(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    start = text.rfind("\n", 0, offset) + 1
    return line, offset - start + 1


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _check_text(text: str) -> None:
    match = _CONTROL.search(text)
    if match:
        char = match.group(0)
        what = "a NUL byte" if char == "\x00" else f"control character {char!r}"
        raise _LoadProblem(
            codes.CONTROL_CHARACTER, f"the file contains {what}", *_line_col(text, match.start()),
            "is this a binary file? YAML text may not contain control characters",
        )
    tab = text.find("\t")
    if tab >= 0:
        raise _LoadProblem(
            codes.TAB_CHARACTER, "tab character", *_line_col(text, tab),
            "YAML indentation must use spaces; replace tabs with spaces "
            "(inside a double-quoted string write \\t)",
        )


def _decode(raw: bytes) -> str:
    if len(raw) > MAX_BYTES:
        raise _LoadProblem(
            codes.FILE_TOO_LARGE, f"the file is larger than the limit of {MAX_BYTES} bytes (1 MiB)",
            1, 1, "split it or remove unused parts; a ruleset is normally a few kilobytes",
        )
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise _LoadProblem(
            codes.NOT_UTF8, "the file is UTF-16, not UTF-8", 1, 1, "save the file as UTF-8"
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        prefix = raw[: error.start].decode("utf-8", "replace")
        line, column = _line_col(prefix, len(prefix))
        raise _LoadProblem(
            codes.NOT_UTF8, f"the file is not valid UTF-8 (byte 0x{raw[error.start]:02x})",
            line, column, "save the file as UTF-8",
        ) from None
    return text.removeprefix("\ufeff")


def _compose(text: str) -> Node | None:
    loader = _PARSER(text)
    try:
        loader.get_event()  # stream start
        if loader.check_event(yaml.events.StreamEndEvent):
            return None
        node = loader.compose_document()
        if not loader.check_event(yaml.events.StreamEndEvent):
            event = loader.peek_event()
            raise _LoadProblem(
                codes.SEVERAL_DOCUMENTS, "the file holds more than one YAML document",
                event.start_mark.line + 1, event.start_mark.column + 1,
                "a file holds one document: remove the '---' separator and what follows, "
                "or split the file",
            )
        return node  # type: ignore[no-any-return]
    finally:
        loader.dispose()


def load_yaml_text(text: str | bytes, file: str = "") -> LoadedYaml:
    """Parse one YAML document; raise :class:`InvalidInputError` with a Diagnostic."""
    try:
        if isinstance(text, bytes):
            text = _decode(text)
        elif len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
            raise _LoadProblem(
                codes.FILE_TOO_LARGE,
                f"the text is over the limit of {MAX_BYTES} bytes (1 MiB)", 1, 1
            )
        _check_text(text)
        try:
            node = _compose(text)
        except yaml.MarkedYAMLError as error:
            mark = error.problem_mark or error.context_mark
            line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
            problem = error.problem or str(error)
            if "nesting depth" in problem:  # libyaml's own bound (PyYAML 6.0.4 and later)
                raise _LoadProblem(
                    codes.TOO_COMPLEX, "the document is nested too deeply", line, column,
                    _NESTING_HINT,
                ) from None
            hint = "check the indentation and the quotes on this line and the one before"
            if error.context and error.context_mark is not None:
                hint = (f"{error.context} that starts at line {error.context_mark.line + 1}; "
                        + hint)
            raise _LoadProblem(codes.YAML_SYNTAX, f"YAML syntax error: {problem}", line, column,
                               hint) from None
        except yaml.YAMLError as error:
            raise _LoadProblem(codes.YAML_SYNTAX, f"YAML syntax error: {error}", 1, 1) from None
        if node is None:
            raise _LoadProblem(
                codes.NOT_A_MAPPING,
                "the file is empty", 1, 1, "a ruleset is a mapping of keys such as "
                "'version:' and 'company:'",
            )
        if not isinstance(node, MappingNode):
            kind = "a list" if isinstance(node, SequenceNode) else "a single value"
            raise _LoadProblem(
                codes.NOT_A_MAPPING, f"the top level is {kind}, not a mapping of keys", *_pos(node),
                "start the file with 'key: value' lines",
            )
        _check_expanded_size(node)
        walker = _Walker(_Loader(""))
        data = walker.walk(node, "$", _pos(node))
        walker.positions["$"] = (1, 1)
        return LoadedYaml(data=data, positions=walker.positions, file=file, text=text)
    except _LoadProblem as problem:
        raise InvalidInputError(
            Diagnostic(
                code=problem.code,
                message=problem.message,
                file=file,
                line=problem.line,
                column=problem.column,
                json_path=problem.json_path or "$",
                hint=problem.hint,
            )
        ) from None
    except RecursionError:
        raise InvalidInputError(
            Diagnostic(code=codes.TOO_COMPLEX,
                       message="the document is nested too deeply", file=file,
                       line=1, column=1, json_path="$")
        ) from None


def read_bytes(path: str | Path) -> bytes:
    """Read a file, bounded by :data:`MAX_BYTES`; raise InvalidInputError on I/O errors."""
    file = str(path)
    try:
        with open(path, "rb") as handle:
            raw = handle.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise InvalidInputError(
            Diagnostic(code=codes.PATH_NOT_FOUND, message="no such file", file=file,
                       hint="check the path")
        ) from None
    except IsADirectoryError:
        raise InvalidInputError(
            Diagnostic(code=codes.PATH_UNREADABLE, message="is a directory, not a file", file=file)
        ) from None
    except OSError as error:
        raise InvalidInputError(
            Diagnostic(code=codes.PATH_UNREADABLE,
                       message=f"cannot read: {error.strerror or error}", file=file)
        ) from None
    return raw


def load_yaml_file(path: str | Path) -> LoadedYaml:
    """Read and parse a YAML file (see :func:`load_yaml_text`)."""
    return load_yaml_text(read_bytes(path), file=str(path))
