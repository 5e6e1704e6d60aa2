"""Notification targets: apprise URLs, checked where they are written and masked for display.

A URL is checked with apprise itself (a scheme apprise does not know, or a URL its service
refuses to parse, is an error at the place it is written), so ``validate`` refuses exactly
what a run would. Only the masked form (``NotifyTarget.shown``) is ever printed or recorded:
apprise's own privacy form, without the query string (where some services carry tokens).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from console.errors import InputError, Location
from console.model.reader import MapView, Problems, describe

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")

NOTIFY_ENV = "DRCONSOLE_NOTIFY"
"""Notification URLs, one per line, that ``drconsole tui`` adds to ``--notify`` (how
``drconsole serve`` hands its ``--notify`` to the consoles it starts, out of ``ps``)."""


@dataclass(frozen=True)
class NotifyTarget:
    """One place notifications go."""

    url: str = ""
    """The apprise URL as written (may hold a secret: never print it)."""
    shown: str = ""
    """The URL with its secrets masked, for messages and the audit log."""
    loc: Location | None = None
    """Where it is written (None for ``--notify``)."""


def mask_url(url: str) -> str:
    """``url`` with its secrets masked as apprise masks them, and no query string.

    A URL apprise cannot read is reduced to its scheme (``nope://****``): nothing after the
    scheme is shown, since we cannot tell which part of it is a secret.
    """
    plugin = _instantiate(url)
    scheme = _SCHEME.match(url)
    if plugin is None:
        return f"{scheme.group(1)}://****" if scheme else "****"
    shown = str(plugin.url(privacy=True))
    return shown.split("?", 1)[0].rstrip("/") or "****"


def check_url(url: str) -> str | None:
    """Why ``url`` is not a notification URL apprise can send to, or None when it is."""
    if not url.strip():
        return "an empty notification URL"
    scheme = _SCHEME.match(url)
    if scheme is None:
        return (
            f"{mask_url(url)!r} is not an apprise URL (SCHEME://...): e.g. "
            "json://host:port/path, slack://..., mailto://..."
        )
    if _instantiate(url) is None:
        name = scheme.group(1).lower()
        if name not in _schemes():
            return f"unknown notification scheme {name!r} (apprise does not know it)"
        return f"{mask_url(url)!r}: apprise cannot read this {name}:// URL (see its wiki)"
    return None


def make_target(url: str, loc: Location | None) -> NotifyTarget:
    """A checked target.

    Raises:
        InputError: apprise cannot send to ``url`` (located when ``loc`` is given).
    """
    problem = check_url(url)
    if problem is not None:
        raise InputError(f"{loc}: {problem}" if loc is not None else f"--notify: {problem}")
    return NotifyTarget(url=url, shown=mask_url(url), loc=loc)


def environment_urls() -> list[str]:
    """The URLs of :data:`NOTIFY_ENV` (none when unset)."""
    return [u.strip() for u in os.environ.get(NOTIFY_ENV, "").splitlines() if u.strip()]


def command_line_targets(urls: Iterable[str]) -> tuple[NotifyTarget, ...]:
    """The ``--notify URL`` targets, checked.

    Raises:
        InputError: the first URL apprise cannot send to (one line, exit 2).
    """
    return tuple(make_target(u, None) for u in urls)


def _instantiate(url: str) -> Any:
    # imported here: loading an inventory with no notify: must not pay for apprise
    import apprise  # noqa: PLC0415

    try:
        plugin = apprise.Apprise.instantiate(url, suppress_exceptions=True)
    except Exception:  # a plugin's parser may raise anything for a bad URL
        return None
    return plugin if plugin else None


def _schemes() -> frozenset[str]:
    import apprise  # noqa: PLC0415

    out: set[str] = set()
    for details in apprise.Apprise().details().get("schemas", []):
        for key in ("protocols", "secure_protocols"):
            value = details.get(key) or ()
            out.update([value] if isinstance(value, str) else value)
    return frozenset(s.lower() for s in out)


def read_targets(top: MapView, key: str, problems: Problems) -> tuple[NotifyTarget, ...]:
    """The ``notify:`` of an inventory (one URL or a list of them), each checked where it is
    written; every problem goes to ``problems``."""
    node = top.get(key)
    if node is None or node.value is None:
        return ()
    items = [node] if isinstance(node.value, str) else top.seq(key)
    out: list[NotifyTarget] = []
    for item in items:
        if not isinstance(item.value, str):
            problems.add(
                f"items of {key!r} in {top.what} must be apprise URLs (strings), "
                f"not {describe(item.value)}",
                item.loc,
            )
            continue
        problem = check_url(item.value)
        if problem is not None:
            problems.add(problem, item.loc)
            continue
        out.append(NotifyTarget(url=item.value, shown=mask_url(item.value), loc=item.loc))
    return tuple(out)
