"""Rich styles for cell and log content, taken from the app's theme variables.

Widget styles live in ``app.tcss``; the text inside a table cell or a log line is a Rich
``Text`` whose colours cannot name ``$error``. This module reads the active theme's variables
once (and again when the theme changes) so that cell colours follow the theme too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class _Themed(Protocol):
    @property
    def theme_variables(self) -> dict[str, str]: ...


@dataclass(frozen=True)
class Palette:
    """The styles the TUI's content uses, by meaning."""

    ok: str
    """Healthy, succeeded."""
    warn: str
    """Degraded, needs attention, waiting for the operator."""
    crit: str
    """Broken, failed, critical."""
    down: str
    """Unreachable (dark)."""
    unknown: str
    """Not known (never the same as ok)."""
    accent: str
    """Headings, system lines."""
    muted: str
    """Secondary text, stale values."""

    @classmethod
    def from_theme(cls, app: _Themed) -> Palette:
        """The palette of ``app``'s current theme (falls back to ANSI names)."""
        v = app.theme_variables
        success = v.get("success", "green")
        warning = v.get("warning", "yellow")
        error = v.get("error", "red")
        accent = v.get("accent", "cyan")
        secondary = v.get("secondary", "magenta")
        muted = v.get("foreground-muted", "grey50")
        return cls(
            ok=_opaque(success),
            warn=_opaque(warning),
            crit=f"bold {_opaque(error)}",
            down=f"bold {_opaque(error)}",
            unknown=f"bold {_opaque(secondary)}",
            accent=f"bold {_opaque(accent)}",
            muted=_opaque(muted),
        )

    def health(self, health: str) -> str:
        """The style of a health value."""
        return {
            "ok": self.ok,
            "warn": self.warn,
            "crit": self.crit,
            "down": self.down,
            "unknown": self.unknown,
        }.get(health, self.unknown)

    def step(self, status: str) -> str:
        """The style of a step status."""
        return {
            "ok": self.ok,
            "running": self.accent,
            "waiting": f"bold {self.warn}",
            "failed": self.crit,
            "aborted": self.crit,
            "unknown": self.unknown,
            "skipped": self.warn,
            "continued": self.warn,
            "pending": self.muted,
            "not run": self.muted,
        }.get(status, "")


def _opaque(colour: str) -> str:
    """Theme variables may carry alpha (``#E0E0E099``, ``auto 60%``); Rich wants a plain
    colour."""
    word = colour.split(maxsplit=1)[0] if colour else ""
    if word.startswith("#") and len(word) == 9:
        return word[:7]
    if not word or word == "auto":
        return "grey50"
    return word


DEFAULT_PALETTE = Palette(
    ok="green",
    warn="yellow",
    crit="bold red",
    down="bold red",
    unknown="bold magenta",
    accent="bold cyan",
    muted="grey50",
)
"""Used before the app has a theme (tests of pure formatting)."""
