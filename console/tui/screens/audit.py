"""The audit log: runs with their chain verification, a run's timeline, verify, resume, export.

Reading and verifying run in a thread worker (the store is thread-safe), so a long log never
freezes the screen. The timeline is the same wording as ``drconsole audit show``
(``console.audit.render``), in a ``Log`` that renders only the lines on screen.
"""

from __future__ import annotations

import re
from pathlib import Path

from rich.highlighter import Highlighter
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Log, Static

from console.audit.live import in_progress
from console.audit.model import RunRecord, VerifyResult
from console.audit.render import STATUS_STYLES, format_duration, format_started, run_header
from console.audit.render import timeline_rows as audit_timeline_rows
from console.errors import DrError
from console.tui.messages import ExportRequested, ReplayRequested, RunRequested
from console.tui.palette import Palette
from console.tui.screens.message import MessageScreen
from console.tui.state import ConsoleState
from console.tui.widgets.banner import ModeBanner
from console.tui.widgets.header import ConsoleHeader

RESUMABLE = ("interrupted", "stopped", "failed", "aborted")
"""Run statuses the engine can resume."""

LIVE_EVERY = 2.0
"""Seconds between two reads of the runs in progress (never more often than once a second)."""

_KIND = re.compile(r"\b(decision|note|step_finished|gate_result|run_finished|rollback_\w+)\b")


class TimelineHighlighter(Highlighter):
    """Colours the kinds an auditor looks for first: decisions, notes, failures."""

    def __init__(self, palette: Palette) -> None:
        self.palette = palette

    def highlight(self, text: Text) -> None:
        """Style ``text`` in place."""
        plain = text.plain
        p = self.palette
        match = _KIND.search(plain)
        if match is None:
            return
        kind = match.group(1)
        if kind in ("decision", "note"):
            text.stylize(p.warn)
        elif "FAILED" in plain or " failed" in plain or "aborted" in plain:
            text.stylize(p.crit)
        elif kind == "run_finished" and "succeeded" in plain:
            text.stylize(p.ok)
        else:
            text.stylize("bold", match.start(), match.end())


class AuditScreen(Screen[None]):
    """Runs, timeline, verification."""

    BINDINGS = [
        Binding("v", "verify", "Verify run"),
        Binding("V", "verify_all", "Verify all"),
        Binding("u", "resume", "Resume run…"),
        Binding("e", "export", "Export report…"),
        Binding("p", "replay", "Replay run"),
        Binding("l", "reload", "Reload"),
    ]

    def __init__(self, state: ConsoleState) -> None:
        self.ready = False
        """Composed and mounted: live updates may be applied."""
        super().__init__(id="audit")
        self.state = state
        """The console's state (the app writes it; this screen reads it)."""
        self.records: list[RunRecord] = []
        self.verified: dict[str, VerifyResult] = {}
        """Chain verification per run id (filled in the background)."""
        self.shown_run: str | None = None
        """The run whose timeline is shown."""

    def compose(self) -> ComposeResult:
        yield ConsoleHeader("audit log", self.state)
        yield ModeBanner(id="banner")
        with Vertical(id="audit-body"):
            yield Static(id="audit-live")
            yield DataTable(id="audit-runs", cursor_type="row", zebra_stripes=False)
            yield Static(id="audit-header")
            yield Log(id="audit-timeline", highlight=True)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#banner", ModeBanner).mode = self.state.mode
        table = self.query_one("#audit-runs", DataTable)
        table.border_title = f"runs in {self.state.config.audit_path}"
        for key, label in (
            ("run", "run"),
            ("playbook", "playbook"),
            ("mode", "mode"),
            ("operator", "operator"),
            ("started", "started (UTC)"),
            ("duration", "took"),
            ("status", "outcome"),
            ("chain", "chain"),
        ):
            table.add_column(label, key=key)
        timeline = self.query_one("#audit-timeline", Log)
        timeline.border_title = "timeline"
        timeline.highlighter = TimelineHighlighter(self.state.palette)
        live = self.query_one("#audit-live", Static)
        live.border_title = "in progress now (any console on this store)"
        live.display = False
        self.set_interval(LIVE_EVERY, self._read_live, name="runs in progress")
        self._read_live()
        self.ready = True
        self.state.mode_changed.subscribe(self, self.on_mode_changed, immediate=True)
        self.action_reload()

    def on_screen_resume(self) -> None:
        """New runs may have been recorded while away."""
        self.action_reload()

    @work(thread=True, group="audit-live", exclusive=True, exit_on_error=False)
    def _read_live(self) -> None:
        """Who runs what now (``console.audit.live``), read in a thread."""
        try:
            found = in_progress(self.state.audit)
        except DrError:
            return
        self.app.call_from_thread(self._show_live, [r.describe() for r in found])

    def _show_live(self, lines: list[str]) -> None:
        live = self.query_one("#audit-live", Static)
        live.display = bool(lines)
        if lines:
            live.update(Text("\n".join(lines)))

    def action_reload(self) -> None:
        """Read the runs again (newest first) and verify their chains in the background."""
        table = self.query_one("#audit-runs", DataTable)
        previous = self.selected()
        try:
            self.records = self.state.audit.runs(limit=500)
        except DrError as exc:
            self.notify(f"cannot read the audit log: {exc}", severity="error")
            return
        p = self.state.palette
        table.clear()
        for r in self.records:
            table.add_row(
                Text(r.run_id),
                Text(r.playbook_name),
                Text(r.mode.upper(), style=p.crit if r.mode == "incident" else ""),
                Text(r.operator),
                Text(format_started(r.started_at)),
                Text(format_duration(r.duration_seconds)),
                Text(r.status, style=STATUS_STYLES.get(r.status, "")),
                self._chain_cell(r.run_id),
                key=r.run_id,
            )
        if previous is not None:
            for i, r in enumerate(self.records):
                if r.run_id == previous.run_id:
                    table.move_cursor(row=i, animate=False)
        if not self.records:
            self.query_one("#audit-header", Static).update(
                f"no runs recorded in {self.state.config.audit_path} yet"
            )
        self._verify_all_runs([r.run_id for r in self.records if r.run_id not in self.verified])
        self.show_timeline()

    def _chain_cell(self, run_id: str) -> Text:
        p = self.state.palette
        result = self.verified.get(run_id)
        if result is None:
            return Text("… checking", style=p.muted)
        if result.ok:
            return Text("✓ verified", style=p.ok)
        return Text("✗ BROKEN", style=p.crit)

    @work(thread=True, group="audit-verify", exclusive=True, exit_on_error=False)
    def _verify_all_runs(self, run_ids: list[str]) -> None:
        for run_id in run_ids:
            result = self.state.audit.verify(run_id)
            self.app.call_from_thread(self._verified, run_id, result)

    def _verified(self, run_id: str, result: VerifyResult) -> None:
        self.verified[run_id] = result
        table = self.query_one("#audit-runs", DataTable)
        if run_id in {r.run_id for r in self.records}:
            table.update_cell(run_id, "chain", self._chain_cell(run_id))
        if run_id == self.shown_run:
            self._show_header()

    def selected(self) -> RunRecord | None:
        """The run under the cursor."""
        table = self.query_one("#audit-runs", DataTable)
        row = table.cursor_row
        if not self.records or row is None or not 0 <= row < len(self.records):
            return None
        return self.records[row]

    def select(self, run_id: str) -> bool:
        """Move the cursor to a run."""
        for i, r in enumerate(self.records):
            if r.run_id == run_id:
                self.query_one("#audit-runs", DataTable).move_cursor(row=i, animate=False)
                self.show_timeline()
                return True
        return False

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        """The timeline follows the cursor."""
        self.show_timeline()

    def show_timeline(self) -> None:
        """Load the selected run's timeline (in a thread)."""
        run = self.selected()
        if run is None or run.run_id == self.shown_run:
            return
        self.shown_run = run.run_id
        self._show_header()
        self._load_timeline(run)

    def _show_header(self) -> None:
        run = next((r for r in self.records if r.run_id == self.shown_run), None)
        if run is None:
            return
        text = run_header(run)
        result = self.verified.get(run.run_id)
        p = self.state.palette
        if result is None:
            text.append("\nchain: checking…", style=p.muted)
        elif result.ok:
            text.append(
                f"\nchain: ✓ verified, {result.events_checked} events, final hash "
                f"{result.final_hash[:16]}…",
                style=p.ok,
            )
        else:
            text.append(f"\nchain: ✗ BROKEN: {result.reason}", style=p.crit)
        if run.status in RESUMABLE:
            text.append("  (u: resume this run)", style=p.accent)
        self.query_one("#audit-header", Static).update(text)

    @work(thread=True, group="audit-timeline", exclusive=True, exit_on_error=False)
    def _load_timeline(self, run: RunRecord) -> None:
        events = self.state.audit.events(run.run_id)
        lines = [row.plain for row in audit_timeline_rows(events, run.started_at)]
        self.app.call_from_thread(self._timeline_loaded, run.run_id, lines)

    def _timeline_loaded(self, run_id: str, lines: list[str]) -> None:
        if run_id != self.shown_run:
            return
        timeline = self.query_one("#audit-timeline", Log)
        timeline.clear()
        timeline.write_lines(lines, scroll_end=False)
        timeline.scroll_home(animate=False)

    def action_verify(self) -> None:
        """Recompute the chain of the selected run and say what it found."""
        run = self.selected()
        if run is None:
            return
        result = self.state.audit.verify(run.run_id)
        self._verified(run.run_id, result)
        self._say(result, f"run {run.run_id}")

    def action_verify_all(self) -> None:
        """Recompute the whole database's chain."""
        self._say(self.state.audit.verify(None), "the whole audit log")

    def _say(self, result: VerifyResult, what: str) -> None:
        if result.ok:
            body = (
                f"✓ {what}: chain intact, {result.events_checked} events checked.\n"
                f"final hash {result.final_hash}"
            )
            self.app.push_screen(MessageScreen("Audit chain verified", body, alarm=False))
        else:
            self.app.push_screen(
                MessageScreen("AUDIT CHAIN BROKEN", f"✗ {what}: {result.reason}", alarm=True)
            )

    def action_resume(self) -> None:
        """Resume the selected interrupted or stopped run (opens its run screen)."""
        run = self.selected()
        if run is None:
            return
        if run.status not in RESUMABLE:
            self.notify(
                f"run {run.run_id} is {run.status}: only {', '.join(RESUMABLE)} runs resume",
                severity="warning",
            )
            return
        self.post_message(
            RunRequested(
                Path(run.playbook_path),
                {},
                resume=run.run_id,
                inventory_path=Path(run.inventory_path),
            )
        )

    def action_export(self) -> None:
        """Export the selected run's report."""
        run = self.selected()
        if run is not None:
            self.post_message(ExportRequested(run.run_id))

    def action_replay(self) -> None:
        """Play the selected run back from its log (nothing is sent to any host)."""
        run = self.selected()
        if run is not None:
            self.post_message(ReplayRequested(run.run_id))

    def on_mode_changed(self, mode: str) -> None:
        """The app's mode changed."""
        self.query_one("#banner", ModeBanner).mode = mode
