"""What waits for you: steps of runs on this store (any console's) that need your approval.

The two-person rule (``approve: N`` on a step): a run waits at such a step until enough
distinct operators approved it. This screen lists the waiting steps this console's operator
may approve (not their own runs, not a request they approved already), read from the store
in a thread worker every two seconds (never faster than once a second, never overlapping),
and updates the table by key. ``a`` approves the selected step after a yes/no dialog whose
default is No; the approval itself is the app's (``ApproveRequested``), which records it and
says what came of it. The steps of this operator's own runs that wait for others are listed
under the table, so the one who waits sees who is still missing.
"""

from __future__ import annotations

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.coordinate import Coordinate
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from console.audit.approvals import PendingApproval, pending_approvals
from console.audit.model import parse_ts
from console.errors import DrError
from console.model.durations import format_duration
from console.tui.messages import ApproveRequested
from console.tui.screens.confirm import ConfirmScreen
from console.tui.state import ConsoleState
from console.tui.widgets.banner import ModeBanner
from console.tui.widgets.header import ConsoleHeader

REFRESH = 2.0
"""Seconds between two reads of the store."""

COLUMNS = (
    ("run", "run"),
    ("step", "step"),
    ("title", "what it will do"),
    ("mode", "mode"),
    ("by", "run by"),
    ("approved", "approved"),
    ("waiting", "waiting"),
)

WAITING_WIDTH = len("59m59s ago")
"""The waiting column's width from the start: its text grows as the step waits (a cell that
outgrows its column widens it; this keeps it from shifting at every minute)."""

RUN_ID_SHOWN = 12
"""Characters of a run id in the table (``drconsole approve`` takes the prefix too)."""


class ApprovalsScreen(Screen[None]):
    """The steps waiting for this operator's approval."""

    BINDINGS = [
        Binding("a", "approve", "Approve…"),
        Binding("l", "reload", "Reload"),
    ]

    def __init__(self, state: ConsoleState) -> None:
        super().__init__(id="approvals")
        self.state = state
        """The console's state (the app writes it; this screen reads it)."""
        self.waiting: list[PendingApproval] = []
        """What waits for this operator, oldest request first (as last read)."""
        self.mine: list[PendingApproval] = []
        """This operator's own runs' steps that wait for others."""

    @property
    def operator(self) -> str:
        """Who this console approves as."""
        return self.state.config.operator

    def compose(self) -> ComposeResult:
        yield ConsoleHeader("approvals", self.state)
        yield ModeBanner(id="banner")
        with Vertical(id="approvals-body"):
            yield DataTable(id="approvals-table", cursor_type="row", zebra_stripes=False)
            yield Static(id="approvals-note")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#banner", ModeBanner).mode = self.state.mode
        table = self.query_one("#approvals-table", DataTable)
        table.border_title = f"waiting for {self.operator}"
        for key, label in COLUMNS:
            table.add_column(label, key=key, width=WAITING_WIDTH if key == "waiting" else None)
        self.state.mode_changed.subscribe(self, self.on_mode_changed, immediate=True)
        self.set_interval(REFRESH, self.action_reload, name="approvals-refresh")
        self.action_reload()

    def on_screen_resume(self) -> None:
        """Something may have started waiting while away."""
        self.action_reload()

    def action_reload(self) -> None:
        """Read what waits (in a thread; one read at a time)."""
        self._read()

    @work(thread=True, group="approvals-read", exclusive=True, exit_on_error=False)
    def _read(self) -> None:
        try:
            found = pending_approvals(self.state.audit)
        except DrError as exc:
            self.app.call_from_thread(self._failed, str(exc))
            return
        self.app.call_from_thread(self._show, found)

    def _failed(self, reason: str) -> None:
        self.query_one("#approvals-note", Static).update(
            Text(f"cannot read the audit store: {reason}", style=self.state.palette.crit)
        )

    def _show(self, found: list[PendingApproval]) -> None:
        """Update the table by key (the cursor stays on its run)."""
        me = self.operator
        self.waiting = [p for p in found if p.waits_for(me)]
        self.mine = [p for p in found if p.run_operator == me and p.missing > 0]
        table = self.query_one("#approvals-table", DataTable)
        keys = {_key(p) for p in self.waiting}
        with self.app.batch_update():
            for row_key in list(table.rows):
                if row_key.value not in keys:
                    table.remove_row(row_key)
            present = {k.value for k in table.rows}
            for p in self.waiting:
                cells = self._cells(p)
                if _key(p) in present:
                    for (column, _label), cell in zip(COLUMNS, cells, strict=True):
                        table.update_cell(_key(p), column, cell, update_width=True)
                else:
                    table.add_row(*cells, key=_key(p))
        self._note()

    def _cells(self, p: PendingApproval) -> list[Text]:
        pal = self.state.palette
        return [
            Text(p.run_id[:RUN_ID_SHOWN] + "…"),
            Text(p.step_id, style="bold"),
            Text(f"{p.title} ({p.playbook})"),
            Text(p.mode.upper(), style=pal.crit if p.mode == "incident" else ""),
            Text(p.run_operator),
            Text(f"{len(p.approvers)} of {p.needed}", style=pal.warn),
            Text(self._age(p.requested_at)),
        ]

    def _age(self, ts: str) -> str:
        try:
            seconds = max(0.0, self.state.clock() - parse_ts(ts).timestamp())
        except ValueError:
            return "?"
        whole = round(seconds)
        return f"{whole}s ago" if whole < 60 else f"{format_duration(whole)} ago"

    def _note(self) -> None:
        pal = self.state.palette
        text = Text()
        if not self.waiting:
            text.append(f"nothing waits for approval by {self.operator}", style=pal.muted)
        else:
            text.append(
                f"{len(self.waiting)} step(s) wait for you: a approves the selected one "
                "(its run acts once enough people approved)",
                style=pal.accent,
            )
            chosen = self.selected() or self.waiting[0]
            text.append(
                f"\n{chosen.run_id} {chosen.step_id}: approved so far by "
                f"{', '.join(chosen.approvers)}; {chosen.missing} more needed"
            )
        for p in self.mine:
            text.append(
                f"\nyour run {p.run_id} waits at {p.step_id}: {len(p.approvers)} of {p.needed} "
                f"approved ({', '.join(p.approvers)}); another operator approves it",
                style=pal.warn,
            )
        self.query_one("#approvals-note", Static).update(text)

    def selected(self) -> PendingApproval | None:
        """The waiting step under the cursor."""
        table = self.query_one("#approvals-table", DataTable)
        row = table.cursor_row
        if not self.waiting or row is None or not 0 <= row < table.row_count:
            return None
        key = table.coordinate_to_cell_key(Coordinate(row, 0)).row_key.value
        return next((p for p in self.waiting if _key(p) == key), None)

    def action_approve(self) -> None:
        """Ask, then have the app record the approval of the selected step."""
        p = self.selected()
        if p is None:
            self.notify("nothing selected to approve", severity="warning")
            return
        body = Text()
        body.append(f"Approve step {p.step_id} of run {p.run_id}?\n\n", style="bold")
        body.append(f"{p.title}\n", style="bold")
        body.append(f"playbook {p.playbook}, {p.mode} mode, run by {p.run_operator}\n")
        body.append(f"approved so far: {', '.join(p.approvers)} ({len(p.approvers)} of ")
        body.append(f"{p.needed})\n\nYour approval is recorded as {self.operator}.")

        def answered(yes: bool | None) -> None:
            if yes:
                self.post_message(ApproveRequested(p.run_id, p.step_id))

        self.app.push_screen(
            ConfirmScreen("Two-person rule", body, yes="Yes, approve"), callback=answered
        )

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        """The note follows the cursor."""
        self._note()

    def on_mode_changed(self, mode: str) -> None:
        """The app's mode changed."""
        self.query_one("#banner", ModeBanner).mode = mode


def _key(p: PendingApproval) -> str:
    return f"{p.run_id}/{p.step_id}"
