"""Jinja2 templates in playbooks, compiled at load time and safe for the shell.

Every ``{{ }}`` in a ``run:`` command is escaped automatically for the shell context it
lands in (``console.model.shellctx``: a bare word is shell-quoted, a value inside double quotes
has ``\\ $ ` "`` escaped, inside single quotes ``'`` is escaped), the shell's equivalent of
context-aware HTML auto-escaping. So a ``--var`` value is always data and can never become a
command, even where the playbook author forgot ``| quote`` or wrote ``"{{ x }}"``. ``quote``
returns a value marked as already quoted, so it is not quoted twice. The one way to splice
text unescaped is ``| raw``, and a playbook may apply it only to values that come from the
inventory (``target``, ``vars``, ``service``, ``services``, ``inventory``); the loader checks
that statically, so no parameter can reach it.

Undefined names are errors twice over: at load time (names no context will ever provide) and
at render time (``StrictUndefined``).
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import jinja2
import jinja2.meta
from jinja2 import nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment

from console.errors import InputError, Location
from console.model.shellctx import (
    SLOT_CLOSE,
    SLOT_OPEN,
    Quoted,
    Raw,
    ShellContextError,
    splice,
)
from console.model.yamlsrc import TextOrigin

CONTEXT_NAMES = frozenset(
    {
        "mode",
        "run_id",
        "operator",
        "playbook",
        "service",
        "services",
        "inventory",
        "vars",
        "target",
        "step",
        "steps",
        "sites",
        "hosts",
    }
)
"""Names the engine provides to every template besides the playbook's parameters."""

TRUSTED_ROOTS = frozenset({"target", "vars", "service", "services", "inventory", "sites", "hosts"})
"""Names whose values come from the inventory, the only ones ``| raw`` accepts."""


_SLOTS: ContextVar[list[str] | None] = ContextVar("drconsole_shell_slots", default=None)


def shell_quote(value: object) -> Quoted:
    """The ``quote`` filter: one shell word, whatever ``value`` holds."""
    if isinstance(value, Quoted | Raw):
        return Quoted(value)
    return Quoted(shlex.quote(_text(value)))


def _raw(value: object) -> Raw:
    return Raw(_text(value))


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _finalize_shell(value: object) -> object:
    """Park each value in a slot; ``Template.render`` escapes it for where it lands."""
    slots = _SLOTS.get()
    if isinstance(value, jinja2.Undefined):
        str(value)  # StrictUndefined raises here, inside the render, with its message
    if slots is None:  # rendered outside Template.render: quote as a bare word
        return shell_quote(value)
    slots.append(value if isinstance(value, Quoted | Raw) else _text(value))
    return f"{SLOT_OPEN}{len(slots) - 1}{SLOT_CLOSE}"


def _make_env(shell: bool) -> jinja2.Environment:
    env = ImmutableSandboxedEnvironment(
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=False,
        finalize=_finalize_shell if shell else None,
    )
    env.filters["quote"] = shell_quote
    env.filters["raw"] = _raw
    return env


SHELL_ENV = _make_env(shell=True)
"""For ``run:`` commands: every substitution is shell-quoted."""
TEXT_ENV = _make_env(shell=False)
"""For titles, selectors, manual instructions and wait conditions: plain text."""


class RenderError(Exception):
    """A template failed at render time (an undefined name, a bad filter argument)."""


@dataclass(frozen=True)
class Template:
    """A compiled template with the place its source came from."""

    source: str
    loc: Location
    shell: bool
    compiled: jinja2.Template
    names: frozenset[str]
    """The free names it uses (parameters and context names)."""
    origin: TextOrigin | None = field(default=None, compare=False)
    """Where its text is written in the file, to point at a word inside it."""
    words: frozenset[str] | None = field(default=None, compare=False)
    """Every attribute name it reads (``x.attr``) and every string constant in it (``x['k']``,
    ``map(attribute='k')``): what the engine checks to tell whether a template can depend on
    the observed status. None: not known (treat as anything)."""

    def where(self, offset: int) -> Location:
        """The file location of character ``offset`` of the source (the start when unknown)."""
        return locate_text(self.source, self.loc, self.origin, offset)

    def find(self, pattern: str) -> Location:
        """Where the first match of the regular expression ``pattern`` is (else the start)."""
        return find_text(self.source, self.loc, self.origin, pattern)

    @property
    def is_static(self) -> bool:
        """True when it contains no Jinja syntax at all."""
        return "{{" not in self.source and "{%" not in self.source and "{#" not in self.source

    def render(self, context: Mapping[str, Any]) -> str:
        """Render with ``context``.

        Raises:
            RenderError: an undefined name or another template failure, with the location.
        """
        token = _SLOTS.set([]) if self.shell else None
        try:
            text = self.compiled.render(context)
            if token is None:
                return text
            slots = _SLOTS.get() or []
            if SLOT_OPEN in self.source or SLOT_CLOSE in self.source:
                raise RenderError(f"{self.loc}: control characters \\x1e/\\x1f in a command")
            return splice(text, slots)
        except ShellContextError as exc:
            raise RenderError(f"{self.loc}: {exc}") from None
        except jinja2.UndefinedError as exc:
            raise RenderError(f"{self.loc}: {exc.message}") from None
        except jinja2.TemplateError as exc:
            raise RenderError(f"{self.loc}: {exc}") from None
        except (TypeError, ValueError, KeyError, AttributeError) as exc:
            raise RenderError(f"{self.loc}: {exc}") from None
        finally:
            if token is not None:
                _SLOTS.reset(token)


def locate_text(text: str, loc: Location, origin: TextOrigin | None, offset: int) -> Location:
    """The file location of character ``offset`` of ``text`` written at ``loc``."""
    if origin is not None:
        found = origin.locate(text, offset)
        if found is not None:
            return found
    return loc


def find_text(text: str, loc: Location, origin: TextOrigin | None, pattern: str) -> Location:
    """Where the first match of ``pattern`` in ``text`` is written (else ``loc``)."""
    m = re.search(pattern, text)
    return locate_text(text, loc, origin, m.start()) if m else loc


def _inner_loc(loc: Location, lineno: int | None, block: bool) -> Location:
    if not lineno:
        return loc
    if block:
        return Location(loc.path, loc.line + lineno, 1)
    if lineno == 1:
        return loc
    return Location(loc.path, loc.line + lineno - 1, 1)


def _root_name(node: nodes.Node) -> str | None:
    while isinstance(node, nodes.Getattr | nodes.Getitem):
        node = node.node
    return node.name if isinstance(node, nodes.Name) else None


def _check_raw(ast: nodes.Template) -> str | None:
    for flt in ast.find_all(nodes.Filter):
        if flt.name != "raw":
            continue
        root = _root_name(flt.node) if flt.node is not None else None
        if root not in TRUSTED_ROOTS:
            return (
                "'| raw' may only be applied to inventory values "
                f"({', '.join(sorted(TRUSTED_ROOTS))}); parameters are always quoted"
            )
    return None


def compile_template(
    source: str,
    loc: Location,
    *,
    shell: bool,
    params: Iterable[str],
    block: bool = False,
    origin: TextOrigin | None = None,
) -> Template:
    """Compile ``source``; check its syntax, its names and its use of ``raw``.

    Args:
        source: the template text as written in the file.
        loc: where the text starts.
        shell: True for commands (auto-quoting), False for plain text.
        params: the playbook's parameter names, allowed as free names.
        block: the text is a YAML block scalar (its first line is the line after ``loc``).
        origin: where the text is written in the file (messages then point at the word).

    Raises:
        InputError: a syntax error, an undefined name, or ``raw`` on a parameter; located.
    """
    env = SHELL_ENV if shell else TEXT_ENV
    try:
        ast = env.parse(source)
    except jinja2.TemplateSyntaxError as exc:
        raise InputError(
            f"template syntax error: {exc.message}", _inner_loc(loc, exc.lineno, block)
        ) from None
    names = frozenset(jinja2.meta.find_undeclared_variables(ast))
    allowed = CONTEXT_NAMES | frozenset(params)
    unknown = sorted(names - allowed)
    if unknown:
        params_list = ", ".join(sorted(params)) or "none"
        raise InputError(
            f"template uses undefined name {unknown[0]!r} (parameters: {params_list})",
            find_text(source, loc, origin, rf"\b{re.escape(unknown[0])}\b"),
        )
    problem = _check_raw(ast)
    if problem:
        raise InputError(problem, find_text(source, loc, origin, r"\|\s*raw\b"))
    try:
        compiled = env.from_string(source)
    except jinja2.TemplateSyntaxError as exc:  # pragma: no cover - parse caught it
        raise InputError(
            f"template syntax error: {exc.message}", _inner_loc(loc, exc.lineno, block)
        ) from None
    words = frozenset(n.attr for n in ast.find_all(nodes.Getattr)) | frozenset(
        n.value for n in ast.find_all(nodes.Const) if isinstance(n.value, str)
    )
    return Template(source, loc, shell, compiled, names, origin, words)
