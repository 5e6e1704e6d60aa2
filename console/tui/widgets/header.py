"""The line at the top of every screen: where we are (the inventory), which screen, and the
time. The time is UTC and local, because incident channels speak UTC and people don't. The
inventory and the clock come from the console's state, handed down by the screen."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.reactive import reactive
from textual.widgets import Static

if TYPE_CHECKING:
    from console.tui.state import ConsoleState


class ConsoleHeader(Horizontal):
    """``drconsole · <screen>`` on the left, the inventory in the middle, the clock right."""

    DEFAULT_CSS = """
    ConsoleHeader {
        height: 1;
        dock: top;
        background: $panel;
        color: $foreground;
    }
    ConsoleHeader > #hdr-title { width: auto; padding: 0 1; text-style: bold; }
    ConsoleHeader > #hdr-inventory { width: 1fr; padding: 0 1; color: $text-muted; }
    ConsoleHeader > #hdr-clock { width: auto; padding: 0 1; }
    """

    screen_title: reactive[str] = reactive("")
    """The current screen's name."""
    inventory_text: reactive[str] = reactive("")
    """The inventory's name and path."""

    def __init__(self, screen_title: str, state: ConsoleState | None = None) -> None:
        super().__init__()
        self.set_reactive(ConsoleHeader.screen_title, screen_title)
        self._state = state

    def compose(self) -> ComposeResult:
        yield Static(id="hdr-title")
        yield Static(id="hdr-inventory")
        yield Static(id="hdr-clock")

    def _title(self, screen: str) -> str:
        state = self._state
        read_only = state is not None and state.config.read_only
        return f"drconsole · {screen}" + (" · READ-ONLY (observer)" if read_only else "")

    def on_mount(self) -> None:
        self.query_one("#hdr-title", Static).update(self._title(self.screen_title))
        self.tick()
        self.set_interval(1.0, self.tick, name="header clock")

    def watch_screen_title(self, value: str) -> None:
        """Show the screen name."""
        for title in self.query("#hdr-title").results(Static):
            title.update(self._title(value))

    def watch_inventory_text(self, value: str) -> None:
        """Show the inventory."""
        for label in self.query("#hdr-inventory").results(Static):
            label.update(value)

    def tick(self) -> None:
        """Redraw the clock (and the inventory, which may have been switched)."""
        state = self._state
        now = state.clock() if state is not None else time.time()
        utc = time.strftime("%H:%M:%S", time.gmtime(now))
        self.query_one("#hdr-clock", Static).update(f"{utc} UTC")
        if state is not None:
            self.inventory_text = state.describe_inventory()
