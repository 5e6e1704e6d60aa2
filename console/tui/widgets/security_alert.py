"""A refused host key, said as what it is: a security event, in red, above everything else.

The probes turn a refused key into an UNKNOWN member with an error; the board lifts it out of
the table into this alert, because "unknown" undersells "someone may be in the middle".
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from console.tui.board_model import SecurityAlert


class SecurityAlerts(Static):
    """Hidden while there is nothing to say."""

    DEFAULT_CSS = """
    SecurityAlerts {
        display: none;
        height: auto;
        background: $error;
        color: $text;
        padding: 0 1;
        text-style: bold;
    }
    SecurityAlerts.-shown { display: block; }
    """

    def show_alerts(self, alerts: list[SecurityAlert]) -> None:
        """Show (or hide) the alerts."""
        self.set_class(bool(alerts), "-shown")
        if not alerts:
            self.update("")
            return
        text = Text()
        for i, alert in enumerate(alerts):
            if i:
                text.append("\n")
            text.append(f"SECURITY: host key refused for {alert.host}. ")
            text.append(alert.message, style="not bold")
        text.append(
            "\nThe console will not talk to this host until its key is checked out of band "
            "and added to the inventory's known_hosts.",
            style="not bold italic",
        )
        self.update(text)
