"""Set a playbook's parameters before a run (the TUI's ``--var``).

Values are data, never shell code: the engine quotes every one where it lands in a command.
Secret parameters are typed hidden. Values are checked by the playbook's own rules
(``bind_params``) when the plan is rendered and again when the run is prepared.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label

from console.model.playbook import Playbook


class ParamsScreen(ModalScreen[dict[str, str] | None]):
    """Returns the values the operator set (only those that differ from the defaults)."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, playbook: Playbook, current: dict[str, str]) -> None:
        super().__init__(classes="dialog-screen")
        self.playbook = playbook
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog") as box:
            box.border_title = f"Parameters of {self.playbook.name}"
            if not self.playbook.params:
                yield Label("this playbook has no parameters")
            for name, param in self.playbook.params.items():
                about = f" — {param.description}" if param.description else ""
                yield Label(f"{name}{about}")
                yield Input(
                    value=self.current.get(name, param.default or ""),
                    placeholder="(required)" if param.default is None else param.default,
                    password=param.secret,
                    id=f"param-{name}",
                )
            with Horizontal(classes="dialog-buttons"):
                yield Button("Cancel [esc]", id="cancel", variant="primary")
                yield Button("Use these values", id="ok", variant="warning")

    def _values(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for name, param in self.playbook.params.items():
            value = self.query_one(f"#param-{name}", Input).value
            if value != (param.default or "") or name in self.current:
                out[name] = value
        return out

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Enter accepts the values."""
        event.stop()
        self.dismiss(self._values())

    def on_button_pressed(self, event: Button.Pressed) -> None:
        """Accept or cancel."""
        event.stop()
        self.dismiss(self._values() if event.button.id == "ok" else None)

    def action_cancel(self) -> None:
        """Escape: keep the old values."""
        self.dismiss(None)
