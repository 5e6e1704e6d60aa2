"""Abort the run: asks why, and offers the playbook's rollback.

"Keep running" is the default and Escape keeps running; aborting needs a reason (it goes to
the audit log), and the rollback is offered only when the playbook has one.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static


@dataclass(frozen=True)
class AbortChoice:
    """The operator's abort."""

    reason: str
    rollback: bool


class AbortScreen(ModalScreen[AbortChoice | None]):
    """Returns the choice, or None to keep running."""

    BINDINGS = [Binding("escape", "keep", "Keep running")]

    def __init__(self, what: str, *, has_rollback: bool, rollback_steps: list[str]) -> None:
        super().__init__(classes="dialog-screen")
        self.what = what
        self.has_rollback = has_rollback
        self.rollback_steps = rollback_steps

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog") as box:
            box.border_title = "Abort the run?"
            body = f"{self.what}\nThe command in flight is stopped (SIGTERM, then SIGKILL)."
            if self.has_rollback:
                body += f"\nRollback steps: {', '.join(self.rollback_steps)}."
            else:
                body += "\nThis playbook has no rollback steps."
            yield Static(body, classes="dialog-body")
            yield Input(placeholder="why (recorded in the audit log)", id="reason")
            yield Static("", id="reason-error", classes="dialog-error")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Keep running [esc]", id="keep", variant="primary")
                yield Button("Abort", id="abort", variant="error")
                if self.has_rollback:
                    yield Button("Abort and roll back", id="rollback", variant="error")

    def on_mount(self) -> None:
        self.query_one("#reason", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Enter in the reason moves to the buttons (Keep running first)."""
        event.stop()
        self.query_one("#keep", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        """Keep running, abort, or abort with the rollback."""
        event.stop()
        if event.button.id == "keep":
            self.dismiss(None)
            return
        reason = self.query_one("#reason", Input).value.strip()
        if not reason:
            self.query_one("#reason-error", Static).update("say why first: it is recorded")
            self.query_one("#reason", Input).focus()
            return
        self.dismiss(AbortChoice(reason, rollback=event.button.id == "rollback"))

    def action_keep(self) -> None:
        """Escape: keep running."""
        self.dismiss(None)
