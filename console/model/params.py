"""Playbook parameters: the values an operator may set with ``--var NAME=VALUE``.

A parameter has an optional default, optional ``choices`` and ``pattern`` that every value must
satisfy (the default included, checked at load time), and may be ``secret`` (masked wherever it
would be shown or recorded). Binding the values of one run is ``console.model.checks``'s job.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from console.errors import Location
from console.model.fields import PlaybookReader
from console.model.reader import MapView
from console.model.templates import CONTEXT_NAMES
from console.model.yamlsrc import Node

_PARAM = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
PARAM_KEYS = ("default", "secret", "description", "choices", "pattern")


@dataclass(frozen=True)
class Param:
    """A playbook parameter; ``--var NAME=VALUE`` overrides its default."""

    name: str
    default: str | None
    secret: bool
    """Masked as ``****`` wherever it would be shown or recorded."""
    description: str | None
    choices: tuple[str, ...]
    pattern: str | None
    """A regular expression the whole value must match."""
    loc: Location
    """Where the parameter is declared (its name)."""
    default_loc: Location | None = None
    """Where the default value is written."""
    choice_locs: tuple[Location, ...] = ()
    """Where each choice is written (same order as ``choices``)."""

    def check(self, value: str) -> str | None:
        """Why ``value`` is not acceptable, or None."""
        if self.choices and value not in self.choices:
            return f"{self.name} must be one of {', '.join(self.choices)}, not {value!r}"
        if self.pattern and not re.fullmatch(self.pattern, value):
            shown = "****" if self.secret else repr(value)
            return f"{self.name}={shown} does not match {self.pattern!r}"
        return None


def build_params(reader: PlaybookReader, top: MapView) -> dict[str, Param]:
    """The ``params:`` mapping; each default is checked against its choices and pattern."""
    params: dict[str, Param] = {}
    for pname, pnode, ploc in top.map_items("params"):
        if not _PARAM.match(pname):
            reader.add(f"parameter name {pname!r} must be a Python-style identifier", ploc)
            continue
        if pname in CONTEXT_NAMES:
            reader.add(f"parameter name {pname!r} is reserved (it names engine context)", ploc)
            continue
        pv = MapView(
            pnode if pnode.value is not None else Node({}, pnode.loc),
            f"parameter {pname!r}",
            PARAM_KEYS,
            reader.problems,
        )
        if not pv.ok:
            continue
        pattern = pv.text("pattern")
        if pattern is not None:
            try:
                re.compile(pattern)
            except re.error as exc:
                reader.add(f"pattern of {pname!r} is not a valid regular expression: {exc}", ploc)
                pattern = None
        param = Param(
            name=pname,
            default=pv.text("default"),
            secret=pv.flag("secret"),
            description=pv.text("description"),
            choices=pv.str_list("choices"),
            pattern=pattern,
            loc=ploc,
            default_loc=_loc(pv.get("default")),
            choice_locs=tuple(n.loc for n in _items(pv.get("choices")) if n is not None),
        )
        if param.default is not None and (why := param.check(param.default)):
            reader.add(f"default of {why}", param.default_loc or ploc)
        if param.pattern and param.choices:
            for item, choice in zip(_items(pv.get("choices")), param.choices, strict=False):
                if not re.fullmatch(param.pattern, choice):
                    reader.add(
                        f"choice {choice!r} of {pname!r} does not match its pattern "
                        f"{param.pattern!r}",
                        item.loc if item is not None else ploc,
                    )
        params[pname] = param
    return params


def _loc(node: Node | None) -> Location | None:
    return node.loc if node is not None else None


def _items(node: Node | None) -> list[Node | None]:
    if node is None or not node.is_seq:
        return [node]
    return list(node.value)
