"""A question with several answers (a failed step, a step whose outcome is unknown).

The first button, "decide later", has the focus and is what Escape means: the run keeps
waiting, the decision bar keeps asking, and nothing happens by accident.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.console import RenderableType
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static


@dataclass(frozen=True)
class Choice:
    """One answer: its key, its button label and what it returns."""

    key: str
    label: str
    action: str
    variant: str = "warning"


class ChoiceScreen(ModalScreen[str | None]):
    """Returns the chosen action, or None (decide later)."""

    BINDINGS = [Binding("escape", "later", "Decide later")]

    def __init__(
        self, title: str, body: RenderableType, choices: list[Choice], *, alarm: bool = False
    ) -> None:
        super().__init__(classes="dialog-screen")
        self.title_text = title
        self.body = body
        self.choices = choices
        self.alarm = alarm

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog -alarm" if self.alarm else "dialog") as box:
            box.border_title = self.title_text
            yield Static(self.body, classes="dialog-body")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Decide later [esc]", id="later", variant="primary")
                for choice in self.choices:
                    yield Button(
                        f"{choice.label} [{choice.key}]",
                        id=f"choice-{choice.action}",
                        variant=choice.variant,  # type: ignore[arg-type]
                    )

    def on_mount(self) -> None:
        for choice in self.choices:
            self._bindings.bind(choice.key, f"pick('{choice.action}')", choice.label)
        self.query_one("#later", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        """The chosen answer."""
        event.stop()
        button = event.button.id or ""
        self.dismiss(button.removeprefix("choice-") if button.startswith("choice-") else None)

    def action_pick(self, action: str) -> None:
        """Keyboard answer."""
        self.dismiss(action)

    def action_later(self) -> None:
        """Escape: decide later."""
        self.dismiss(None)
