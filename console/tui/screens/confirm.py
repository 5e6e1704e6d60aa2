"""The yes/no dialog every system-changing action passes, so a stray Enter never changes a
system.

"No" is the default: it has the focus, Enter on it says no, Escape says no. Only an explicit
"y" or a click on the yes button says yes.
"""

from __future__ import annotations

from rich.console import RenderableType
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static


class ConfirmScreen(ModalScreen[bool]):
    """Ask one question; dismiss with True only on an explicit yes."""

    BINDINGS = [
        Binding("escape", "answer(False)", "No"),
        Binding("n", "answer(False)", "No"),
        Binding("y", "answer(True)", "Yes"),
        Binding("left,right,tab", "focus_next", "Move", show=False),
    ]

    def __init__(
        self,
        title: str,
        body: RenderableType,
        *,
        yes: str = "Yes, do it",
        no: str = "No",
        danger: bool = True,
    ) -> None:
        super().__init__(classes="dialog-screen")
        self.title_text = title
        self.body = body
        self.yes_label = yes
        self.no_label = no
        self.danger = danger

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog") as box:
            box.border_title = self.title_text
            yield Static(self.body, classes="dialog-body")
            with Horizontal(classes="dialog-buttons"):
                yield Button(f"{self.no_label} [n]", id="no", variant="primary")
                yield Button(
                    f"{self.yes_label} [y]", id="yes", variant="error" if self.danger else "warning"
                )

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        """Yes only from the yes button."""
        event.stop()
        self.dismiss(event.button.id == "yes")

    def action_answer(self, yes: bool) -> None:
        """Keyboard answer."""
        self.dismiss(yes)

    def action_focus_next(self) -> None:
        """Move between the two buttons."""
        self.focus_next()
