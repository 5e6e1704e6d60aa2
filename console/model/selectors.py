"""Host selectors: ``service:orders-db and role:primary and site:{{ from_site }}``.

A selector is a conjunction of terms. Each term is ``key:value`` with key one of ``host``,
``site``, ``tag``, ``service``, ``role``, or a bare host name. Values may be templates; they
are rendered when the step starts, and the terms are matched then against the inventory and
the *observed* roles (``role:`` is the one term that depends on live state).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from console.errors import InputError, Location
from console.model.templates import Template, compile_template

KEYS = ("host", "site", "tag", "service", "role")
ROLES = ("primary", "replica")

_AND = re.compile(r"\s+and\s+|\s+and$|^and\s+")
_TEMPLATE = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.S)


@dataclass(frozen=True)
class Term:
    """One ``key:value`` condition."""

    key: str
    """``host``, ``site``, ``tag``, ``service`` or ``role``."""
    value: Template
    """The value, possibly a template."""


@dataclass(frozen=True)
class Selector:
    """A parsed selector: every term must hold for a host to be selected."""

    source: str
    loc: Location
    terms: tuple[Term, ...]

    def render(self, context: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
        """The terms with their values rendered: ``(("service", "orders-db"), ...)``."""
        return tuple((t.key, t.value.render(context).strip()) for t in self.terms)

    def static_terms(self) -> Iterable[Term]:
        """Terms whose value is fixed text (checkable against an inventory at load time)."""
        return (t for t in self.terms if t.value.is_static)


def _split(source: str) -> list[str]:
    # Split on " and " outside template braces: mask the templates first.
    masked = _TEMPLATE.sub(lambda m: "x" * len(m.group(0)), source)
    parts: list[str] = []
    start = 0
    for m in _AND.finditer(masked):
        parts.append(source[start : m.start()])
        start = m.end()
    parts.append(source[start:])
    return [p.strip() for p in parts]


def parse_selector(source: str, loc: Location, params: Iterable[str]) -> Selector:
    """Parse a selector string.

    Raises:
        InputError: an empty term, an unknown key, a bad role, or a template problem; located.
    """
    params = tuple(params)
    if not source.strip():
        raise InputError("empty host selector", loc)
    terms: list[Term] = []
    for part in _split(source):
        if not part:
            raise InputError(f"empty term in selector {source!r} ('and' at an end?)", loc)
        masked = _TEMPLATE.sub(lambda m: "x" * len(m.group(0)), part)
        if ":" in masked:
            key, value = part.split(":", 1)
            key = key.strip()
            value = value.strip()
            if key not in KEYS:
                raise InputError(
                    f"unknown selector key {key!r} in {source!r}: use {', '.join(KEYS)}", loc
                )
        else:
            key, value = "host", part
        if not value:
            raise InputError(f"selector term {part!r} has no value", loc)
        if " " in _TEMPLATE.sub("x", value):
            raise InputError(
                f"selector term {part!r} has a space in its value; join terms with 'and'", loc
            )
        template = compile_template(value, loc, shell=False, params=params)
        if key == "role" and template.is_static and value not in ROLES:
            raise InputError(f"role must be primary or replica, not {value!r}", loc)
        terms.append(Term(key, template))
    return Selector(source, loc, tuple(terms))
