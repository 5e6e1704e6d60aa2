"""Context-aware escaping of values spliced into shell commands.

Quoting a value with ``shlex.quote`` is only safe where the shell reads a bare word. Inside
double quotes the single quotes it adds are literal and ``$(...)`` runs; inside single quotes
they close the quoting. So the renderer first marks where each value goes, then this module
reads the command as the shell will (quotes, backslashes, ``$(...)``, backticks, ``${...}``,
arithmetic, comments, here-documents) and escapes each value for the context it lands in:

- a bare word: ``shlex.quote``;
- inside double quotes: a backslash before ``\\ $ ` "``;
- inside single quotes: each ``'`` becomes ``'\\''``;
- anywhere the shell would evaluate or re-read the text in ways we do not escape for
  (backticks, ``${...}``, ``$((...))``, a here-document, a comment): only values made of plain
  characters (letters, digits, ``@%+=:,./_-``) are allowed; anything else is refused.

The result: a value is always data, whatever characters it holds and wherever the playbook
author put it.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence

SLOT_OPEN = "\x1e"
SLOT_CLOSE = "\x1f"
_SLOT = re.compile("\x1e(\\d+)\x1f")
_PLAIN = re.compile(r"[\w@%+=:,./-]*", re.ASCII)
_HEREDOC = re.compile(r"<<(-?)\s*(['\"]?)([A-Za-z_][A-Za-z0-9_]*)\2")

CMD = "bare word"
DQ = "double quotes"
SQ = "single quotes"
RESTRICTED = ("backticks", "${...}", "$((...))", "a here-document", "a comment")


class ShellContextError(ValueError):
    """A value landed where it cannot be escaped safely."""


class Quoted(str):
    """A value already quoted as one shell word (the ``quote`` filter's output)."""

    __slots__ = ()


class Raw(str):
    """Trusted shell text from the inventory (the ``raw`` filter's output): spliced as is."""

    __slots__ = ()


def is_plain(value: str) -> bool:
    """True when ``value`` holds only characters no shell context treats specially."""
    return _PLAIN.fullmatch(value) is not None


def escape_for(context: str, value: str) -> str:
    """``value`` escaped for ``context``.

    Raises:
        ShellContextError: the context is restricted and the value is not plain.
    """
    if context == CMD:
        return shlex.quote(value)
    if context == DQ:
        return re.sub(r'([\\$`"])', r"\\\1", value)
    if context == SQ:
        return value.replace("'", "'\\''")
    if is_plain(value):
        return value
    raise ShellContextError(
        f"a value with special characters ({value[:40]!r}) cannot be placed inside {context}; "
        "move it out (it is quoted for you where it stands as a bare word)"
    )


def _contexts(text: str) -> dict[int, str]:
    """The shell context at each slot, keyed by slot number."""
    found: dict[int, str] = {}
    stack: list[str] = ["cmd"]
    paren_depth: list[int] = [0]
    heredocs: list[tuple[str, bool]] = []
    i = 0
    n = len(text)
    word_start = True
    while i < n:
        top = stack[-1]
        m = _SLOT.match(text, i)
        if m:
            found[int(m.group(1))] = _name(top)
            i = m.end()
            word_start = False
            continue
        c = text[i]
        if top == "heredoc":
            end = text.find("\n", i)
            line = text[i : end if end >= 0 else n]
            delim, _ = heredocs[0]
            if line.strip("\t") == delim:
                heredocs.pop(0)
                stack.pop()
                i = end + 1 if end >= 0 else n
                if heredocs:
                    stack.append("heredoc")
                continue
            # slots on this line are inside the here-document
            for sm in _SLOT.finditer(line):
                found[int(sm.group(1))] = "a here-document"
            i = end + 1 if end >= 0 else n
            continue
        if top == "comment":
            if c == "\n":
                stack.pop()
                word_start = True
            i += 1
            continue
        if top == "sq":
            if c == "'":
                stack.pop()
            i += 1
            continue
        if c == "\\":
            i += 2
            word_start = False
            continue
        if top == "dq":
            if c == '"':
                stack.pop()
                i += 1
                continue
        elif c == "'":
            stack.append("sq")
            i += 1
            word_start = False
            continue
        elif c == '"':
            stack.append("dq")
            i += 1
            word_start = False
            continue
        if text.startswith("$((", i):
            stack.append("arith")
            paren_depth.append(0)
            i += 3
            continue
        if text.startswith("$(", i):
            stack.append("sub")
            paren_depth.append(0)
            i += 2
            word_start = True
            continue
        if text.startswith("${", i):
            stack.append("brace")
            i += 2
            continue
        if c == "`":
            if top == "bt":
                stack.pop()
            else:
                stack.append("bt")
            i += 1
            continue
        if top == "brace":
            if c == "}":
                stack.pop()
            i += 1
            continue
        if top in ("sub", "arith"):
            if c == "(":
                paren_depth[-1] += 1
            elif c == ")":
                if paren_depth[-1] == 0:
                    stack.pop()
                    paren_depth.pop()
                    if top == "arith" and text.startswith(")", i + 1):
                        i += 1
                    i += 1
                    continue
                paren_depth[-1] -= 1
        if top in ("cmd", "sub", "bt"):
            if c == "#" and word_start:
                stack.append("comment")
                i += 1
                continue
            hd = _HEREDOC.match(text, i)
            if hd:
                heredocs.append((hd.group(3), bool(hd.group(2))))
                i = hd.end()
                continue
            if c == "\n" and heredocs and stack[-1] != "heredoc":
                stack.append("heredoc")
                i += 1
                continue
        word_start = c in " \t\n;&|()"
        i += 1
    return found


def _name(state: str) -> str:
    return {
        "cmd": CMD,
        "sub": CMD,
        "dq": DQ,
        "sq": SQ,
        "bt": "backticks",
        "brace": "${...}",
        "arith": "$((...))",
        "comment": "a comment",
        "heredoc": "a here-document",
    }[state]


def splice(text: str, values: Sequence[str]) -> str:
    """Replace each slot of ``text`` with its value escaped for where it stands.

    Args:
        text: The rendered command with ``\\x1eN\\x1f`` slots.
        values: Each slot's value: a :class:`Raw` goes in as is; a :class:`Quoted` goes in as
            is where it stands as a bare word; anything else is escaped for its context.

    Raises:
        ShellContextError: a value cannot be escaped where it stands.
    """
    contexts = _contexts(text)

    def replace(m: re.Match[str]) -> str:
        index = int(m.group(1))
        value = values[index]
        context = contexts.get(index, CMD)
        if isinstance(value, Raw) or (isinstance(value, Quoted) and context == CMD):
            return str(value)
        return escape_for(context, str(value))

    return _SLOT.sub(replace, text)
