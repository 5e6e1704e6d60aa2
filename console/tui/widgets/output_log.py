"""The run's live log: bounded, host-prefixed, stderr marked, cheap at 10,000 lines a second.

A ``Log`` keeps plain strings and renders only the lines on screen, so a burst of output
costs a list append, not a Rich render per line. Colour is added at render time by a
highlighter that reads the marks ``runlog`` puts in each line (``!`` for stderr, ``»`` for the
console's own lines), so the meaning does not depend on the colour.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.highlighter import Highlighter
from rich.text import Text
from textual.widgets import Log

from console.tui.palette import DEFAULT_PALETTE, Palette
from console.tui.runlog import STDERR_MARK, SYSTEM

MAX_LINES = 2000
"""Lines the widget keeps (older ones scroll away; the audit log has them all)."""


class RunLogHighlighter(Highlighter):
    """Colours a log line by its marks."""

    def __init__(self, palette: Palette, host_width: int) -> None:
        self.palette = palette
        self.host_width = host_width

    def highlight(self, text: Text) -> None:
        """Style ``text`` in place."""
        plain = text.plain
        p = self.palette
        if plain.startswith(SYSTEM):
            body = plain[len(SYSTEM) :]
            if body.startswith(("✗", "error", "SECURITY", "rollback FAILED")) or "SECURITY" in body:
                text.stylize(p.crit)
            elif body.startswith(("✓", "gate", "run succeeded")):
                text.stylize(p.ok if "✗" not in body[:12] else p.crit)
            elif body.startswith(("decision", "warning", "↷", "note", "■")):
                text.stylize(p.warn)
            elif body.startswith(("step ", "rollback ", "run ")):
                text.stylize(p.accent)
            else:
                text.stylize(p.accent.replace("bold ", ""))
            return
        w = self.host_width
        text.stylize(p.muted, 0, w + 3)
        if plain[w : w + len(STDERR_MARK)] == STDERR_MARK:
            text.stylize(p.crit, w)


class OutputLog(Log):
    """The run's log lines (see ``console.tui.runlog``)."""

    DEFAULT_CSS = """
    OutputLog {
        height: 1fr;
        scrollbar-size-horizontal: 0;
        border: round $primary 60%;
        border-title-style: bold;
    }
    """

    def __init__(self, host_width: int, *, id: str | None = None) -> None:
        super().__init__(highlight=True, max_lines=MAX_LINES, auto_scroll=True, id=id)
        self.highlighter = RunLogHighlighter(DEFAULT_PALETTE, host_width)
        self.shown_total = 0
        """How many of the session's lines this widget has taken (shown or skipped)."""
        self.skipped = 0
        """Lines that arrived faster than they could be shown and were left to the audit."""

    def set_palette(self, palette: Palette) -> None:
        """Follow the theme."""
        assert isinstance(self.highlighter, RunLogHighlighter)
        self.highlighter.palette = palette
        self._render_line_cache.clear()
        self.refresh()

    def take(self, lines: Sequence[str], total: int) -> None:
        """Show the session's new lines.

        Args:
            lines: The session's newest lines (a bounded window).
            total: How many lines the session ever had.
        """
        new = total - self.shown_total
        if new <= 0:
            return
        self.shown_total = total
        # follow the end unless the operator is reading further up in a focused log
        follow = not self.has_focus or self.is_vertical_scroll_end
        if new > len(lines) or new > MAX_LINES:
            keep = min(len(lines), MAX_LINES - 1)
            dropped = new - keep
            self.skipped += dropped
            tail = list(lines)[-keep:] if keep else []
            self.write_lines(
                [f"{SYSTEM}… {dropped} line(s) not shown here (the audit log has them)", *tail],
                scroll_end=follow,
            )
        else:
            self.write_lines(list(lines)[-new:], scroll_end=follow)
        if follow:
            # Log only follows when it was at the end already; written while its screen was
            # hidden (a dialog, another screen) it may not have been: go to the end anyway,
            # now and once the new size is laid out.
            self.scroll_end(animate=False, immediate=True, x_axis=False)
            self.call_after_refresh(self.scroll_end, animate=False, x_axis=False)
