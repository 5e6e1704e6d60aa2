"""A table of members whose cells are updated in place, by row and column key.

A board of 1,000 members changes about 4,000 cells a second (lag, bytes, trend, age). The
documented ``DataTable.update_cell`` costs ~15 µs a call, most of it its own ``refresh()``;
this table writes one batch of changed cells and refreshes once, and skips cells whose text
did not change. Rows are added once and never cleared on a tick, so the cursor and the scroll
position stay where the operator left them (a table cleared on every tick would throw the
operator back to the top).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from rich.text import Text
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey, RowKey

from console.tui.board_model import Column


class MemberTable(DataTable[Text]):
    """Rows keyed ``service/host``, columns keyed by :class:`Column` keys."""

    DEFAULT_CSS = """
    MemberTable {
        height: auto;
        max-height: 100%;
        scrollbar-size-horizontal: 0;
    }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(
            id=id,
            classes=classes,
            cursor_type="row",
            zebra_stripes=False,
            show_cursor=False,
        )
        self._shown: dict[tuple[str, str], tuple[object, ...]] = {}
        self._columns_shown: tuple[Column, ...] = ()

    def on_focus(self) -> None:
        """The cursor shows only in the table that has the focus."""
        self.show_cursor = True

    def on_blur(self) -> None:
        """Hide the cursor when another table has the focus."""
        self.show_cursor = False

    def set_columns(self, cols: tuple[Column, ...]) -> bool:
        """Lay out the columns (only when they change: a resize across the wide breakpoint).

        Returns:
            True when the table was rebuilt (rows must be added again).
        """
        if cols == self._columns_shown:
            return False
        self.clear(columns=True)
        self._shown.clear()
        for col in cols:
            self.add_column(col.label, width=col.width, key=col.key)
        self._columns_shown = cols
        return True

    def ensure_rows(self, rows: Iterable[tuple[str, Mapping[str, Text]]]) -> None:
        """Add the rows that are missing (in the given order)."""
        keys = [c.key for c in self._columns_shown]
        for key, cells in rows:
            if RowKey(key) in self.rows:
                continue
            self.add_row(*(cells.get(k, Text("")) for k in keys), key=key)
            for k in keys:
                self._shown[(key, k)] = _fingerprint(cells.get(k, Text("")))

    def apply(self, updates: Iterable[tuple[str, Mapping[str, Text]]]) -> int:
        """Write the cells whose content changed; one refresh for the whole batch.

        Args:
            updates: (row key, {column key: cell}) for rows that exist.

        Returns:
            How many cells changed.
        """
        changed = 0
        data = getattr(self, "_data", None)
        for key, cells in updates:
            row_key = RowKey(key)
            if row_key not in self.rows:
                continue
            for col, value in cells.items():
                if col not in self.columns:
                    continue
                fingerprint = _fingerprint(value)
                if self._shown.get((key, col)) == fingerprint:
                    continue
                self._shown[(key, col)] = fingerprint
                changed += 1
                if data is not None:
                    data[row_key][ColumnKey(col)] = value
                else:  # pragma: no cover - a future DataTable without _data
                    self.update_cell(row_key, col, value)
        if changed and data is not None:
            self._update_count += 1
            self.refresh()
        return changed


def _fingerprint(text: Text) -> tuple[object, ...]:
    """What a cell looks like: its text and its base style (the board's cells style spans
    only where the text differs too, e.g. the ⇄ of a diverged role)."""
    return (text.plain, text.style, len(text.spans))
