"""Asks for a line of text that must not be empty: a skip reason, a note.

The text goes to the audit log with the operator's name, so an empty answer is refused and
Escape cancels (nothing is recorded).
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static


class ReasonScreen(ModalScreen[str | None]):
    """Returns the text, or None when cancelled."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str, prompt: str, *, ok: str = "Record") -> None:
        super().__init__(classes="dialog-screen")
        self.title_text = title
        self.prompt = prompt
        self.ok_label = ok

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog") as box:
            box.border_title = self.title_text
            yield Static(self.prompt, classes="dialog-body")
            yield Input(placeholder="type here, Enter to record", id="reason")
            yield Static("", id="reason-error", classes="dialog-error")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Cancel [esc]", id="cancel", variant="primary")
                yield Button(f"{self.ok_label} [enter]", id="ok", variant="warning")

    def on_mount(self) -> None:
        self.query_one("#reason", Input).focus()

    def _submit(self) -> None:
        text = self.query_one("#reason", Input).value.strip()
        if not text:
            self.query_one("#reason-error", Static).update("a reason is required")
            self.query_one("#reason", Input).focus()
            return
        self.dismiss(text)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Enter records the text."""
        event.stop()
        self._submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        """Record or cancel."""
        event.stop()
        if event.button.id == "ok":
            self._submit()
        else:
            self.dismiss(None)

    def action_cancel(self) -> None:
        """Escape: nothing is recorded."""
        self.dismiss(None)
