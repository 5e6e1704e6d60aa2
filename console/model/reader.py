"""Typed, located access to a YAML mapping, collecting every problem instead of stopping.

The inventory and playbook loaders describe what each mapping may hold; this module does the
checking (unknown keys with a "did you mean", wrong types, bad durations) and records each
problem with its place, so ``validate`` can report all of a file's problems in one pass.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any

from console.errors import InputError, Location
from console.model.durations import DurationError, parse_duration
from console.model.yamlsrc import Node


class Problems:
    """The problems found so far in one load."""

    def __init__(self) -> None:
        self.errors: list[InputError] = []

    def add(self, message: str, loc: Location) -> None:
        """Record one located problem."""
        self.errors.append(InputError(message, loc))

    def __bool__(self) -> bool:
        return bool(self.errors)


_TYPE_WORDS = {
    dict: "a mapping",
    list: "a list",
    str: "a string",
    int: "an integer",
    float: "a number",
    bool: "true or false",
    type(None): "nothing",
}


def describe(value: Any) -> str:
    """Name a value's YAML type for a message ("a list", "an integer")."""
    return _TYPE_WORDS.get(type(value), type(value).__name__)


def suggest(word: str, choices: Iterable[str]) -> str:
    """``" (did you mean 'x'?)"`` when ``word`` is close to one of ``choices``."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


class MapView:
    """Reads one mapping node under a fixed set of allowed keys."""

    def __init__(
        self,
        node: Node,
        what: str,
        allowed: Iterable[str],
        problems: Problems,
        required: Iterable[str] = (),
    ) -> None:
        self.node = node
        self.what = what
        self.problems = problems
        self.ok = node.is_map
        allowed = tuple(allowed)
        if not self.ok:
            problems.add(f"{what} must be a mapping, not {describe(node.value)}", node.loc)
            return
        for key, _ in node.items():
            if key not in allowed:
                problems.add(
                    f"unknown key {key!r} in {what}{suggest(key, allowed)}", node.key_loc(key)
                )
        for key in required:
            if key not in node.value:
                problems.add(f"{what} needs {key!r}", node.loc)

    @property
    def loc(self) -> Location:
        """Where the mapping starts."""
        return self.node.loc

    def has(self, key: str) -> bool:
        """True when ``key`` is present."""
        return self.ok and key in self.node.value

    def get(self, key: str) -> Node | None:
        """The raw node for ``key``, or None."""
        if not self.ok:
            return None
        result: Node | None = self.node.value.get(key)
        return result

    def _typed(self, key: str, types: tuple[type, ...], word: str) -> Any:
        n = self.get(key)
        if n is None or n.value is None:
            return None
        if isinstance(n.value, bool) and bool not in types:
            self.problems.add(f"{key!r} in {self.what} must be {word}, not {n.value}", n.loc)
            return None
        if not isinstance(n.value, types):
            self.problems.add(
                f"{key!r} in {self.what} must be {word}, not {describe(n.value)}", n.loc
            )
            return None
        return n.value

    def text(self, key: str, default: str | None = None) -> str | None:
        """A string value; a plain scalar is taken as written (``0755``, ``on``, ``1.10``)."""
        n = self.get(key)
        if n is not None and n.raw is not None and not isinstance(n.value, str):
            return n.raw if n.value is not None else default
        value = self._typed(key, (str,), "a string")
        return default if value is None else value

    def integer(
        self,
        key: str,
        default: int | None = None,
        minimum: int | None = None,
        maximum: int | None = None,
    ) -> int | None:
        """An integer value, optionally with bounds."""
        value = self._typed(key, (int,), "an integer")
        if value is None:
            return default
        n = self.get(key)
        assert n is not None
        if minimum is not None and maximum is not None and not minimum <= value <= maximum:
            self.problems.add(
                f"{key!r} in {self.what} must be from {minimum} to {maximum}, not {value}", n.loc
            )
            return default
        if minimum is not None and value < minimum:
            self.problems.add(f"{key!r} in {self.what} must be at least {minimum}", n.loc)
            return default
        return int(value)

    def flag(self, key: str, default: bool = False) -> bool:
        """A boolean value."""
        value = self._typed(key, (bool,), "true or false")
        return default if value is None else bool(value)

    def duration(self, key: str, default: float | None = None) -> float | None:
        """A duration in seconds."""
        n = self.get(key)
        if n is None or n.value is None:
            return default
        if isinstance(n.value, list | dict):
            shape = "a list" if isinstance(n.value, list) else "a mapping"
            self.problems.add(
                f"{key!r} in {self.what}: expected a duration like 500ms, 5s, 2m, 1h, got {shape}",
                n.loc,
            )
            return default
        try:
            return parse_duration(n.value)
        except DurationError as exc:
            self.problems.add(f"{key!r} in {self.what}: {exc}", n.loc)
            return default

    def choice(self, key: str, choices: Iterable[str], default: str | None = None) -> str | None:
        """A string that must be one of ``choices``."""
        choices = tuple(choices)
        value = self.text(key)
        if value is None:
            return default
        if value not in choices:
            n = self.get(key)
            assert n is not None
            self.problems.add(
                f"{key!r} in {self.what} must be one of {', '.join(choices)}, not {value!r}"
                f"{suggest(value, choices)}",
                n.loc,
            )
            return default
        return value

    def str_list(self, key: str) -> tuple[str, ...]:
        """A list of strings (a single string is accepted as a list of one)."""
        n = self.get(key)
        if n is None or n.value is None:
            return ()
        if isinstance(n.value, str):
            return (n.value,)
        if not n.is_seq:
            self.problems.add(
                f"{key!r} in {self.what} must be a list, not {describe(n.value)}", n.loc
            )
            return ()
        out = []
        for item in n.value:
            if item.raw is not None and item.value is not None:
                out.append(item.raw if not isinstance(item.value, str) else item.value)
                continue
            self.problems.add(
                f"items of {key!r} in {self.what} must be strings, not {describe(item.value)}",
                item.loc,
            )
        return tuple(out)

    def scalar_map(self, key: str) -> dict[str, str]:
        """A mapping of names to scalar values (``vars:``), values turned into text."""
        n = self.get(key)
        if n is None or n.value is None:
            return {}
        if not n.is_map:
            self.problems.add(
                f"{key!r} in {self.what} must be a mapping, not {describe(n.value)}", n.loc
            )
            return {}
        out: dict[str, str] = {}
        for k, v in n.items():
            if isinstance(v.value, dict | list) or v.value is None:
                self.problems.add(
                    f"{key}.{k} in {self.what} must be a string or a number, "
                    f"not {describe(v.value)}",
                    v.loc,
                )
                continue
            out[k] = v.value if isinstance(v.value, str) else (v.raw or str(v.value))
        return out

    def map_items(self, key: str) -> list[tuple[str, Node, Location]]:
        """The entries of a nested mapping as (name, node, where the name is written)."""
        n = self.get(key)
        if n is None or n.value is None:
            return []
        if not n.is_map:
            self.problems.add(
                f"{key!r} in {self.what} must be a mapping, not {describe(n.value)}", n.loc
            )
            return []
        return [(k, v, n.key_loc(k)) for k, v in n.items()]

    def seq(self, key: str) -> list[Node]:
        """The items of a nested list."""
        n = self.get(key)
        if n is None or n.value is None:
            return []
        if not n.is_seq:
            self.problems.add(
                f"{key!r} in {self.what} must be a list, not {describe(n.value)}", n.loc
            )
            return []
        return list(n.value)
