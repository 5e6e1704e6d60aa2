"""Read YAML into a tree that remembers where every value came from.

PyYAML's loaders forget positions, keep the last of two duplicate keys without a word, and
expand aliases without limit. An operator's typo must come back as ``file:line:col``, and a
hostile file must not eat the machine, so this module composes the node graph itself (safe
tags only, no object construction) and converts it into :class:`Node` values that carry
their marks. Limits: file size, node count after alias expansion, nesting depth.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from console.errors import InputError, Location

MAX_FILE_BYTES = 4 * 1024 * 1024
"""Inventories and playbooks are hand-written; anything larger is refused unread."""
MAX_NODES = 200_000
"""Cap on values after alias expansion (a "billion laughs" file stops here, fast)."""
MAX_DEPTH = 64
"""Cap on nesting depth."""

_SAFE_SCALAR_TAGS = {
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
}
_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"

_Loader: type[Any] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True, slots=True)
class Node:
    """One YAML value with its place in the file.

    ``value`` is a ``str``, ``int``, ``float``, ``bool`` or ``None`` for scalars, a
    ``dict[str, Node]`` for mappings (keys in file order) and a ``list[Node]`` for sequences.
    """

    value: Any
    loc: Location
    key_locs: dict[str, Location] = field(default_factory=dict)
    """For mappings: where each key is written (errors about a key point at the key)."""
    block: bool = False
    """For scalars: written as a ``|`` or ``>`` block, whose text starts on the next line."""
    raw: str | None = None
    """For scalars: the text as written (``on``, ``0755``, ``1e3`` stay what they say)."""

    @property
    def is_map(self) -> bool:
        """True for a mapping."""
        return isinstance(self.value, dict)

    @property
    def is_seq(self) -> bool:
        """True for a sequence."""
        return isinstance(self.value, list)

    def items(self) -> Iterator[tuple[str, Node]]:
        """Key and value pairs of a mapping, in file order."""
        assert isinstance(self.value, dict)
        return iter(self.value.items())

    def key_loc(self, key: str) -> Location:
        """Where ``key`` is written in this mapping (the mapping itself if unknown)."""
        return self.key_locs.get(key, self.loc)

    def plain(self) -> Any:
        """The value as plain Python data, marks dropped."""
        if isinstance(self.value, dict):
            return {k: v.plain() for k, v in self.value.items()}
        if isinstance(self.value, list):
            return [v.plain() for v in self.value]
        return self.value


@dataclass(frozen=True, slots=True)
class Source:
    """A loaded file: its root node, its raw text and the digest of its bytes."""

    path: str
    root: Node
    text: str
    digest: str
    """``sha256:<hex>`` of the file's bytes, as reports and the audit log record it."""


@dataclass(frozen=True, slots=True)
class TextOrigin:
    """Where each line of a scalar's text is written, verbatim, in its file.

    A message about a word inside a value (the ``north`` of ``site:north``, the ``stop_cmd`` of
    ``{{ target.vars.stop_cmd }}``) should point at that word, not at the start of the value.
    That is only possible where the value's text appears in the file as it is (a plain or a
    quoted scalar on one line without escapes, a literal ``|`` block); elsewhere there is no
    origin and messages point at the value.
    """

    path: str
    """The file."""
    starts: tuple[tuple[int, int], ...]
    """For each line of the value: the 1-based (line, column) where it starts in the file."""

    def locate(self, text: str, offset: int) -> Location | None:
        """The file location of character ``offset`` of ``text`` (the value), if known."""
        if not 0 <= offset <= len(text):
            return None
        index = text.count("\n", 0, offset)
        if index >= len(self.starts):
            return None
        line, col = self.starts[index]
        return Location(self.path, line, col + offset - (text.rfind("\n", 0, offset) + 1))


def text_origin(source: Source, node: Node) -> TextOrigin | None:
    """The origin of a string scalar's text, when the file holds it verbatim (else None)."""
    value = node.value
    if not isinstance(value, str) or not value:
        return None
    lines = source.text.splitlines()
    parts = value.split("\n")
    if not node.block:
        if len(parts) != 1 or node.loc.line > len(lines):
            return None
        line = lines[node.loc.line - 1]
        for start in (node.loc.col - 1, node.loc.col):  # plain, then after the quote
            if line[start : start + len(value)] == value:
                return TextOrigin(source.path, ((node.loc.line, start + 1),))
        return None
    starts: list[tuple[int, int]] = []
    for i, part in enumerate(parts):
        index = node.loc.line + i  # a block's text starts on the line after its indicator
        if not part:
            starts.append((index + 1, 1))
            continue
        if index >= len(lines) or not lines[index].endswith(part):
            return None
        starts.append((index + 1, len(lines[index]) - len(part) + 1))
    return TextOrigin(source.path, tuple(starts))


def _loc(path: str, mark: Any) -> Location:
    return Location(path, mark.line + 1, mark.column + 1)


def _decode(path: str, data: bytes) -> str:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = data[: exc.start]
        line = before.count(b"\n") + 1
        col = exc.start - (before.rfind(b"\n") + 1) + 1
        raise InputError(
            f"not UTF-8: byte 0x{data[exc.start]:02x} cannot be decoded", Location(path, line, col)
        ) from None
    if text.startswith("\ufeff"):
        text = text[1:]
    return text


class _Converter:
    """Turns a composed node graph into :class:`Node` values, enforcing the limits."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.count = 0
        self.constructor = yaml.SafeLoader("")
        self.active: set[int] = set()

    def convert(self, node: yaml.Node, depth: int = 0) -> Node:
        loc = _loc(self.path, node.start_mark)
        self.count += 1
        if self.count > MAX_NODES:
            raise InputError(
                f"too many values (over {MAX_NODES:,} after expanding aliases); "
                "refusing what looks like an alias bomb",
                loc,
            )
        if depth > MAX_DEPTH:
            raise InputError(f"nested deeper than {MAX_DEPTH} levels", loc)
        if isinstance(node, yaml.ScalarNode):
            return self._scalar(node, loc)
        if id(node) in self.active:
            raise InputError("recursive alias: a value contains itself", loc)
        self.active.add(id(node))
        try:
            if isinstance(node, yaml.MappingNode):
                return self._mapping(node, loc, depth)
            if isinstance(node, yaml.SequenceNode):
                if node.tag != _SEQ_TAG:
                    raise InputError(
                        f"tag {_short_tag(node.tag)} is not allowed (only plain YAML)", loc
                    )
                return Node([self.convert(n, depth + 1) for n in node.value], loc)
        finally:
            self.active.discard(id(node))
        raise InputError("unsupported YAML node", loc)  # pragma: no cover - yaml has 3 kinds

    def _scalar(self, node: yaml.ScalarNode, loc: Location) -> Node:
        if node.tag == _TIMESTAMP_TAG:
            # Dates are never meaningful in our files; keep the text the user wrote.
            return Node(node.value, loc, raw=node.value)
        if node.tag not in _SAFE_SCALAR_TAGS:
            raise InputError(f"tag {_short_tag(node.tag)} is not allowed (only plain YAML)", loc)
        try:
            value = self.constructor.construct_object(node, deep=True)
        except yaml.YAMLError as exc:
            raise InputError(f"bad value: {exc}", loc) from None
        return Node(value, loc, block=node.style in ("|", ">"), raw=node.value)

    def _mapping(self, node: yaml.MappingNode, loc: Location, depth: int) -> Node:
        if node.tag != _MAP_TAG:
            raise InputError(f"tag {_short_tag(node.tag)} is not allowed (only plain YAML)", loc)
        out: dict[str, Node] = {}
        key_locs: dict[str, Location] = {}
        for key_node, value_node in node.value:
            kloc = _loc(self.path, key_node.start_mark)
            if not isinstance(key_node, yaml.ScalarNode):
                raise InputError("a key must be a plain word, not a list or a mapping", kloc)
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise InputError("merge keys (<<) are not supported: write the keys out", kloc)
            # Keys are always text: YAML 1.1 would read a key `on:` as the boolean true.
            self._scalar(key_node, kloc)  # refuses unsafe tags on keys too
            key = str(key_node.value)
            if not key:
                raise InputError("empty key", kloc)
            if key in out:
                first = key_locs[key]
                raise InputError(
                    f"duplicate key {key!r} (first at line {first.line}, column {first.col})",
                    kloc,
                )
            key_locs[key] = kloc
            out[key] = self.convert(value_node, depth + 1)
        return Node(out, loc, key_locs)


def _short_tag(tag: str) -> str:
    return tag.replace("tag:yaml.org,2002:", "!!")


def parse_text(path: str, text: str) -> Node:
    """Parse YAML text into a located :class:`Node` tree.

    Raises:
        InputError: on any problem, located; never a YAML or Python exception.
    """
    try:
        composed = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = _loc(path, mark) if mark is not None else Location(path, 1, 1)
        problem = exc.problem or exc.context or "invalid YAML"
        raise InputError(f"not valid YAML: {problem}", where) from None
    except yaml.YAMLError as exc:
        raise InputError(f"not valid YAML: {exc}", Location(path, 1, 1)) from None
    except RecursionError:
        raise InputError(f"nested deeper than {MAX_DEPTH} levels", Location(path, 1, 1)) from None
    if composed is None:
        raise InputError("the file is empty", Location(path, 1, 1))
    return _Converter(path).convert(composed)


def load_file(path: Path | str) -> Source:
    """Read, size-check, decode and parse one YAML file.

    Raises:
        InputError: the file is missing, too large, not UTF-8 or not valid YAML.
    """
    name = str(path)
    p = Path(path)
    try:
        size = p.stat().st_size
        if size > MAX_FILE_BYTES:
            raise InputError(
                f"file is {size / 1048576:.1f} MiB; inventories and playbooks are limited to "
                f"{MAX_FILE_BYTES // 1048576} MiB",
                Location(name, 1, 1),
            )
        data = p.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{name}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{name}: is a directory") from None
    except OSError as exc:
        raise InputError(f"{name}: cannot read: {exc.strerror}") from None
    text = _decode(name, data)
    root = parse_text(name, text)
    return Source(name, root, text, "sha256:" + hashlib.sha256(data).hexdigest())
