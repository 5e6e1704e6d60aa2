"""Export a finished run's report: pick a format and a path.

The report itself is made by ``console.report.export_report`` (the report engine); this dialog
only asks where and in what shape.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, RadioButton, RadioSet

FORMATS = ("md", "html", "json", "junit")
"""The report formats, in the order offered."""

EXTENSIONS = {"md": "md", "html": "html", "json": "json", "junit": "xml"}
"""File extension per format."""


@dataclass(frozen=True)
class ExportRequest:
    """What to export, and where."""

    fmt: str
    path: Path


class ExportScreen(ModalScreen[ExportRequest | None]):
    """Returns the request, or None."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, run_id: str, directory: Path) -> None:
        super().__init__(classes="dialog-screen")
        self.run_id = run_id
        self.directory = directory

    def _default_path(self, fmt: str) -> str:
        return str(self.directory / f"drill-{self.run_id}.{EXTENSIONS[fmt]}")

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog") as box:
            box.border_title = f"Export the report of run {self.run_id}"
            yield Label("format")
            with RadioSet(id="export-format"):
                for i, fmt in enumerate(FORMATS):
                    yield RadioButton(fmt, value=i == 0, id=f"fmt-{fmt}")
            yield Label("file")
            yield Input(value=self._default_path("md"), id="export-path")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Cancel [esc]", id="cancel", variant="primary")
                yield Button("Export", id="export", variant="warning")

    def on_mount(self) -> None:
        self.query_one("#export-path", Input).focus()

    def _format(self) -> str:
        pressed = self.query_one("#export-format", RadioSet).pressed_button
        return (pressed.id or "fmt-md").removeprefix("fmt-") if pressed else "md"

    def on_radio_set_changed(self, event: RadioSet.Changed) -> None:
        """Follow the format in the file's extension (if the name is still the default)."""
        path = self.query_one("#export-path", Input)
        if any(path.value == self._default_path(f) for f in FORMATS):
            path.value = self._default_path(self._format())

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Enter exports."""
        event.stop()
        self._done()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        """Export or cancel."""
        event.stop()
        if event.button.id == "export":
            self._done()
        else:
            self.dismiss(None)

    def _done(self) -> None:
        value = self.query_one("#export-path", Input).value.strip()
        if value:
            self.dismiss(ExportRequest(self._format(), Path(value).expanduser()))

    def action_cancel(self) -> None:
        """Escape."""
        self.dismiss(None)
