"""The run mode as a banner nobody can miss: a full-width bar under the header.

DRILL and INCIDENT look different in shape, word and colour, so an operator who practises
never mistakes the drill console for the incident one, and vice versa.
"""

from __future__ import annotations

from textual.reactive import reactive
from textual.widgets import Static

TEXT = {
    "drill": "▌ DRILL ▐  planned practice — steps still change real systems",
    "incident": "█ INCIDENT █  REAL OUTAGE — every step changes production",
}
"""Banner text per mode."""


class ModeBanner(Static):
    """Shows the app's mode; the classes ``-drill`` / ``-incident`` carry the colours."""

    DEFAULT_CSS = """
    ModeBanner {
        height: 1;
        width: 100%;
        text-style: bold;
        content-align: center middle;
    }
    ModeBanner.-drill { background: $warning; color: $background; }
    ModeBanner.-incident { background: $error; color: $text; text-style: bold reverse; }
    """

    mode: reactive[str] = reactive("drill")
    """``drill`` or ``incident``."""

    def watch_mode(self, mode: str) -> None:
        """Restyle for the mode."""
        self.set_class(mode == "drill", "-drill")
        self.set_class(mode == "incident", "-incident")
        self.update(TEXT.get(mode, mode.upper()))
