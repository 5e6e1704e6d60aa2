"""Switch the console to another inventory file (the board, plans and runs follow).

A bad file is reported here, located (``file:line:col: message``), and the console keeps the
inventory it had: switching never leaves the operator with nothing on screen.
"""

from __future__ import annotations

from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, OptionList, Static

from console.errors import InputError
from console.model.inventory import Inventory, load_inventory


class InventoryScreen(ModalScreen[Inventory | None]):
    """Returns the loaded inventory, or None."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, current: Path, candidates: list[Path]) -> None:
        super().__init__(classes="dialog-screen")
        self.current = current
        self.candidates = candidates

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog") as box:
            box.border_title = "Switch inventory"
            if self.candidates:
                yield Label("inventories found")
                yield OptionList(*[str(p) for p in self.candidates], id="inv-found")
            yield Label("file")
            yield Input(value=str(self.current), id="inv-path")
            yield Static("", id="inv-error", classes="dialog-error")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Cancel [esc]", id="cancel", variant="primary")
                yield Button("Open", id="open", variant="warning")

    def on_mount(self) -> None:
        self.query_one("#inv-path", Input).focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        """Take a found file."""
        self.query_one("#inv-path", Input).value = str(event.option.prompt)
        self._open()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Enter opens."""
        event.stop()
        self._open()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        """Open or cancel."""
        event.stop()
        if event.button.id == "open":
            self._open()
        else:
            self.dismiss(None)

    def _open(self) -> None:
        path = Path(self.query_one("#inv-path", Input).value.strip()).expanduser()
        try:
            inventory = load_inventory(path)
        except InputError as exc:
            self.query_one("#inv-error", Static).update(str(exc))
            return
        self.dismiss(inventory)

    def action_cancel(self) -> None:
        """Escape: keep the current inventory."""
        self.dismiss(None)
