"""YAML text to plain Python data, safely, remembering where every value stood.

Specs are data from strangers, so this reader is stricter than ``yaml.safe_load``:

- YAML 1.2 core scalars: ``1e-3`` is a number, ``no``/``on`` are strings, only ``true``/``false``
  are booleans;
- anchors and aliases are refused (an alias bomb loads fast and explodes when walked), as are
  explicit tags (``!!python/object``, ``!!binary``, ...), merge keys and nesting deeper than
  :data:`MAX_DEPTH`;
- a duplicate key is an error naming both lines, never a silent overwrite;
- one document per file.
"""

from __future__ import annotations

import re
from typing import Any

import yaml
from yaml.events import AliasEvent, CollectionStartEvent, ScalarEvent
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

from ..errors import Location, SpecError

__all__ = ["load", "SourceMap", "MAX_DEPTH", "MAX_BYTES"]

MAX_DEPTH = 32
MAX_BYTES = 10_000_000

_STR = "tag:yaml.org,2002:str"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_BOOL = "tag:yaml.org,2002:bool"
_NULL = "tag:yaml.org,2002:null"
_SEQ = "tag:yaml.org,2002:seq"
_MAP = "tag:yaml.org,2002:map"

Path = tuple[Any, ...]


class SourceMap:
    """Where each value (and each mapping key) of a loaded document stood in its file."""

    def __init__(self, file: str | None, text: str = "") -> None:
        self.file = file
        self.lines = text.splitlines()
        self._values: dict[Path, Location] = {}
        self._keys: dict[Path, Location] = {}

    def within(self, path: Path, value: str, offset: int) -> Location:
        """Location of character ``offset`` of the one-line text ``value`` stored at ``path``
        (plain or quoted on its line); the value's own location when that cannot be told."""
        loc = self.value(path)
        if loc.line is None or loc.column is None or "\n" in value or not 0 < loc.line <= len(self.lines):
            return loc
        rest = self.lines[loc.line - 1][loc.column - 1:]
        shift = 0 if rest.startswith(value) else 1 if rest[:1] in "'\"" and rest[1:].startswith(value) else None
        return loc if shift is None else Location(loc.file, loc.line, loc.column + shift + offset)

    def value(self, path: Path) -> Location:
        """Location of the value at ``path``, or of its nearest ancestor that has one."""
        return self._find(self._values, tuple(path))

    def key(self, path: Path) -> Location:
        """Location of the key that names ``path`` (falls back to the value's location)."""
        path = tuple(path)
        return self._keys.get(path) or self.value(path)

    def overlaid(self, origins: dict[Path, str]) -> SourceMap:
        """A copy that locates each path of ``origins``, and everything under it, at its origin (a
        command-line option or a keyword that replaced the value) rather than in the file."""
        out = SourceMap(self.file)
        out.lines = self.lines
        for mine, theirs in ((out._values, self._values), (out._keys, self._keys)):
            mine.update({p: loc for p, loc in theirs.items() if not any(p[:len(o)] == o for o in origins)})
            mine.update({tuple(o): Location(origin) for o, origin in origins.items()})
        return out

    def _find(self, table: dict[Path, Location], path: Path) -> Location:
        while path not in table and path:
            path = path[:-1]
        return table.get(path, Location(self.file))

    def _mark(self, node: yaml.Node) -> Location:
        return Location(self.file, node.start_mark.line + 1, node.start_mark.column + 1)


class _Loader(yaml.SafeLoader):
    """SafeLoader composing nodes only, with YAML 1.2 core-schema resolution and hard limits."""

    yaml_implicit_resolvers: dict = {}

    def __init__(self, stream: str, file: str | None) -> None:
        super().__init__(stream)
        self._file = file
        self._depth = 0

    def compose_node(self, parent, index):  # noqa: D401 - PyYAML hook
        event = self.peek_event()
        if isinstance(event, AliasEvent):
            raise _error(self._file, event, "YAML aliases (*name) are not allowed in specs; write the value out")
        if isinstance(event, (ScalarEvent, CollectionStartEvent)) and event.anchor is not None:
            raise _error(self._file, event, "YAML anchors (&name) are not allowed in specs; write the value out")
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise _error(self._file, event, f"nesting deeper than {MAX_DEPTH} levels")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _add(tag: str, pattern: str, first: str) -> None:
    _Loader.add_implicit_resolver(tag, re.compile(pattern, re.X), list(first))


_add(_BOOL, r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF")
_add(_NULL, r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""])
_add(_INT, r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$", "-+0123456789")
_add(
    _FLOAT,
    r"""^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?
        |[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$""",
    "-+0123456789.",
)


def _error(file: str | None, event_or_node: Any, message: str) -> SpecError:
    mark = event_or_node.start_mark
    return SpecError(message, location=Location(file, mark.line + 1, mark.column + 1))


def load(text: str, file: str | None = None) -> tuple[Any, SourceMap]:
    """Parse one YAML document into plain data and a :class:`SourceMap` of its locations.

    Raises :class:`SpecError` (with file, line and column) for malformed YAML and for every
    construct refused above.
    """
    if len(text) > MAX_BYTES:
        raise SpecError(f"file is larger than {MAX_BYTES} bytes", location=Location(file))
    try:
        loader = _Loader(text, file)
    except yaml.reader.ReaderError as exc:  # raised while the text is scanned for non-printable characters
        before = text[:exc.position]
        loc = Location(file, before.count("\n") + 1, exc.position - (before.rfind("\n") + 1) + 1)
        char = chr(exc.character) if isinstance(exc.character, int) else exc.character
        raise SpecError(f"control character {char!r} is not allowed in YAML", location=loc) from None
    try:
        node = loader.get_single_node()
    except SpecError:
        raise
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        loc = Location(file, mark.line + 1, mark.column + 1) if mark else Location(file)
        problem = exc.problem or "invalid YAML"
        if "expected a single document" in str(exc.context) or "but found another document" in str(problem):
            problem = "a spec file holds one YAML document; found another ('---')"
        raise SpecError(problem, location=loc) from None
    except yaml.YAMLError as exc:
        raise SpecError(f"invalid YAML: {exc}", location=Location(file)) from None
    finally:
        loader.dispose()
    source = SourceMap(file, text)
    if node is None:
        return None, source
    return _convert(node, (), source), source


def _convert(node: yaml.Node, path: Path, source: SourceMap) -> Any:
    source._values[path] = source._mark(node)
    if isinstance(node, ScalarNode):
        return _scalar(node, source)
    if isinstance(node, SequenceNode):
        if node.tag != _SEQ:
            raise SpecError(f"YAML tag {node.tag!r} is not allowed", location=source._mark(node))
        return [_convert(item, path + (i,), source) for i, item in enumerate(node.value)]
    if isinstance(node, MappingNode):
        if node.tag != _MAP:
            raise SpecError(f"YAML tag {node.tag!r} is not allowed", location=source._mark(node))
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                raise SpecError("keys must be plain names", location=source._mark(key_node))
            key = key_node.value
            if key_node.tag != _STR and not key_node.tag.startswith("tag:yaml.org,2002:"):
                raise SpecError(f"YAML tag {key_node.tag!r} is not allowed", location=source._mark(key_node))
            if key in out:
                first = source._keys[path + (key,)]
                dotted = ".".join(str(p) for p in path + (key,))
                raise SpecError(
                    f"duplicate key {key!r} (first at line {first.line}, again at line {key_node.start_mark.line + 1})",
                    field=dotted,
                    location=source._mark(key_node),
                )
            source._keys[path + (key,)] = source._mark(key_node)
            out[key] = _convert(value_node, path + (key,), source)
        return out
    raise SpecError("unsupported YAML node", location=source._mark(node))  # pragma: no cover


def _scalar(node: ScalarNode, source: SourceMap) -> Any:
    tag, text = node.tag, node.value
    if tag == _STR:
        return text
    if tag == _NULL:
        return None
    if tag == _BOOL:
        return text.lower() == "true"
    if tag == _INT:
        if text.startswith(("0o", "0x")):
            return int(text, 0)
        if len(text.lstrip("+-")) > 4300:  # int() itself refuses longer decimal strings
            raise SpecError("integer literal too long", location=source._mark(node))
        return int(text)
    if tag == _FLOAT:
        low = text.lower()
        if low.endswith(".inf"):
            return float("-inf") if low.startswith("-") else float("inf")
        if low == ".nan":
            return float("nan")
        return float(text)
    raise SpecError(f"YAML tag {tag!r} is not allowed in specs", location=source._mark(node))
