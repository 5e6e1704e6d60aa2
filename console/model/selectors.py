"""Host selectors: ``service:orders-db and role:primary and site:{{ from_site }}``.

A selector is a conjunction of terms. Each term is ``key:value`` with key one of ``host``,
``site``, ``tag``, ``service``, ``role``, or a bare host name; ``and`` is the only word that
joins terms (there is no ``or`` and no ``not``: a step that needs either of two hosts names
them by a tag or a site). Values may be templates; they are rendered when the step starts, and
the terms are matched then against the inventory and the *observed* roles (``role:`` is the one
term that depends on live state). Each term remembers where its value is written, so a message
about ``site:north`` points at ``north``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from console.errors import InputError, Location
from console.model.enums import SELECTOR_KEYS, SELECTOR_ROLES
from console.model.reader import suggest
from console.model.templates import Template, compile_template, locate_text
from console.model.yamlsrc import TextOrigin

KEYS = SELECTOR_KEYS
ROLES = SELECTOR_ROLES

_AND = re.compile(r"\s+and\s+|\s+and$|^and\s+")
_TEMPLATE = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.S)
_WORDS = {"or", "not", "AND", "OR", "NOT", "&&", "||", "&", "|", ","}
"""Words people try between terms; only ``and`` joins them."""


@dataclass(frozen=True)
class Term:
    """One ``key:value`` condition."""

    key: str
    """``host``, ``site``, ``tag``, ``service`` or ``role``."""
    value: Template
    """The value, possibly a template (located where the value is written)."""

    @property
    def loc(self) -> Location:
        """Where the value is written."""
        return self.value.loc


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


def _mask(text: str) -> str:
    return _TEMPLATE.sub(lambda m: "x" * len(m.group(0)), text)


def _split(source: str) -> list[tuple[int, str]]:
    """The terms with their offsets; split on `` and `` outside template braces."""
    masked = _mask(source)
    parts: list[tuple[int, str]] = []
    start = 0
    for m in _AND.finditer(masked):
        parts.append((start, source[start : m.start()]))
        start = m.end()
    parts.append((start, source[start:]))
    out = []
    for offset, part in parts:
        stripped = part.lstrip()
        out.append((offset + len(part) - len(stripped), stripped.rstrip()))
    return out


def parse_selector(
    source: str, loc: Location, params: Iterable[str], origin: TextOrigin | None = None
) -> Selector:
    """Parse a selector string.

    Args:
        source: the selector as written.
        loc: where it is written.
        params: the playbook's parameter names.
        origin: where its text is in the file, so that messages point at the offending word.

    Raises:
        InputError: an empty term, an unknown key or word, a bad role, or a template problem;
            located at the offending word when the file holds the selector verbatim.
    """
    params = tuple(params)

    def at(offset: int) -> Location:
        return locate_text(source, loc, origin, offset)

    if not source.strip():
        raise InputError("empty host selector", loc)
    terms: list[Term] = []
    for offset, part in _split(source):
        if not part:
            raise InputError(f"empty term in selector {source!r} ('and' at an end?)", at(offset))
        masked = _mask(part)
        for word in re.finditer(r"\S+", masked):
            if word.group(0) in _WORDS:
                raise InputError(
                    f"{part[word.start() : word.end()]!r} in selector {source!r}: terms are "
                    "joined with 'and' only (no 'or', 'not' or commas)",
                    at(offset + word.start()),
                )
        value_offset = offset
        if ":" in masked:
            colon = masked.index(":")
            key, value = part[:colon].strip(), part[colon + 1 :]
            value_offset = offset + colon + 1 + len(value) - len(value.lstrip())
            value = value.strip()
            if key not in KEYS:
                raise InputError(
                    f"unknown selector key {key!r} in {source!r}: use one of "
                    f"{', '.join(KEYS)}{suggest(key, KEYS)}",
                    at(offset),
                )
        else:
            key, value = "host", part
        if not value:
            raise InputError(f"selector term {part!r} has no value", at(offset))
        if " " in _TEMPLATE.sub("x", value):
            raise InputError(
                f"selector term {part!r} has a space in its value; join terms with 'and'",
                at(value_offset),
            )
        value_loc = at(value_offset)
        template = compile_template(
            value,
            value_loc,
            shell=False,
            params=params,
            origin=_shifted(origin, source, value_offset),
        )
        if key == "role" and template.is_static and value not in ROLES:
            raise InputError(
                f"role in a selector must be one of {', '.join(ROLES)}, not {value!r}"
                f"{suggest(value, ROLES)}",
                value_loc,
            )
        terms.append(Term(key, template))
    return Selector(source, loc, tuple(terms))


def _shifted(origin: TextOrigin | None, source: str, offset: int) -> TextOrigin | None:
    """The origin of ``source[offset:]`` (a term on the selector's line)."""
    if origin is None or "\n" in source:
        return None
    start = origin.locate(source, offset)
    return TextOrigin(start.path, ((start.line, start.col),)) if start is not None else None
