"""A dialog that tells, with one button: a lock held by another run, a security error, a run
that could not start. Nothing to decide, so nothing can be decided by accident."""

from __future__ import annotations

from rich.console import RenderableType
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static


class MessageScreen(ModalScreen[None]):
    """Shows a message until the operator closes it."""

    BINDINGS = [Binding("escape,enter", "close", "Close")]

    def __init__(self, title: str, body: RenderableType, *, alarm: bool = True) -> None:
        super().__init__(classes="dialog-screen")
        self.title_text = title
        self.body = body
        self.alarm = alarm

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog -alarm" if self.alarm else "dialog") as box:
            box.border_title = self.title_text
            yield Static(self.body, classes="dialog-body")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Close [enter]", id="close", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#close", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        """Close."""
        event.stop()
        self.dismiss(None)

    def action_close(self) -> None:
        """Close."""
        self.dismiss(None)
