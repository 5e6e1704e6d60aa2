"""The run's steps, each with a symbol and a word for its state (never colour alone)."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import DataTable

from console.tui.format import STEP_LABEL
from console.tui.palette import DEFAULT_PALETTE, Palette


class StepList(DataTable[Text]):
    """One row per step (rollback steps after a rule), updated in place by step id."""

    DEFAULT_CSS = """
    StepList {
        height: 1fr;
        scrollbar-size-horizontal: 0;
        border: round $primary 60%;
        border-title-style: bold;
    }
    """

    def __init__(self, steps: list[tuple[str, bool]], *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", show_header=False, zebra_stripes=False)
        self._steps = steps
        self._shown: dict[str, str] = {}
        self.palette: Palette = DEFAULT_PALETTE

    def on_mount(self) -> None:
        self.add_column("state", key="state", width=9)
        self.add_column("step", key="step")
        number = 0
        for step_id, rollback in self._steps:
            if rollback:
                label = Text(f"↺ {step_id}")
            else:
                number += 1
                label = Text(f"{number} {step_id}")
            self.add_row(self._state_cell("pending"), label, key=step_id)
            self._shown[step_id] = "pending"

    def _state_cell(self, status: str) -> Text:
        symbol, word = STEP_LABEL.get(status, ("?", status))
        return Text(f"{symbol} {word}", style=self.palette.step(status))

    def show(self, statuses: dict[str, str]) -> None:
        """Update the states that changed."""
        for step_id, status in statuses.items():
            if self._shown.get(step_id) == status:
                continue
            self._shown[step_id] = status
            self.update_cell(step_id, "state", self._state_cell(status))

    def point_at(self, step_id: str | None) -> None:
        """Move the cursor to a step."""
        if step_id is None:
            return
        try:
            index = self.get_row_index(step_id)
        except KeyError:  # a step id the table does not have: leave the cursor
            return
        if self.cursor_row != index:
            self.move_cursor(row=index, animate=False)
