"""The status board, the console's home: every site's members, live.

It reads the app's :class:`~console.tui.state.ConsoleState` and hears about new snapshots,
the clock, the theme, the mode and inventory switches through its signals; it formats them
with ``console.tui.board_model`` and writes only the cells that changed, by key. A row exists for
every member from the start (from the inventory), so a dark host never makes rows vanish:
its row turns DOWN and its site says how long ago it was last seen.
"""

from __future__ import annotations

import time

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Log, Static

from console.audit.commits import PendingCommit, pending_commits
from console.audit.verification import Verification, newest_verified_runs, verifications
from console.errors import DrError
from console.model.inventory import Inventory
from console.status.collector import StatusSnapshot
from console.status.freshness import shown_health
from console.tui.board_commits import commits_text
from console.tui.board_model import (
    STATIC_COLUMNS,
    WIDE_MIN_WIDTH,
    Column,
    MemberState,
    RowRef,
    columns,
    member_cells,
    member_states,
    primaries,
    row_stamp,
    security_alerts,
    site_headline,
    site_rows,
    status_changes,
    topology_text,
    verdict_line,
)
from console.tui.board_window import window_text
from console.tui.format import fmt_age, health_label
from console.tui.messages import StatusPokeRequested
from console.tui.state import ConsoleState
from console.tui.widgets.banner import ModeBanner
from console.tui.widgets.header import ConsoleHeader
from console.tui.widgets.security_alert import SecurityAlerts
from console.tui.widgets.site_panel import SitePanel

ROW_MARGIN = 10
"""Rows above and below the screen that are kept up to date too (smooth scrolling)."""

MAX_CHANGES_PER_REFRESH = 40
"""Lines the changes log takes from one snapshot (a site going dark at 1,000 members is
one headline, not 500 lines)."""
COMMITS_EVERY = 2.0
"""Seconds between reads of the runs awaiting a commit (any console's, on the store)."""
VERIFIED_EVERY = 30.0
"""Seconds between reads of the last verified restores (the runs table)."""


class BoardScreen(Screen[None]):
    """Site panels, the topology per service, the verdict, and the selected member's detail."""

    BINDINGS = [
        Binding("r", "refresh_now", "Probe now"),
        Binding("w", "toggle_wide", "Wide/narrow"),
    ]

    VERTICAL_BREAKPOINTS = [(0, "-short"), (32, "-tall")]

    def __init__(self, state: ConsoleState) -> None:
        self.ready = False
        """Composed and mounted: live updates may be applied."""
        super().__init__(id="board")
        self.state = state
        """The console's state (the app writes it; this screen reads it)."""
        self._inventory: Inventory | None = None
        self._cols: tuple[Column, ...] = ()
        self._rows: dict[str, list[RowRef]] = {}
        self._sampled: dict[str, tuple[float, bool]] = {}
        self._force_wide: bool | None = None
        self._states: dict[tuple[str, str], MemberState] = {}
        self._primaries: dict[str, str | None] = {}
        self._selected: str | None = None
        self._verifications: list[Verification] = []
        self._verified: dict[str, float] | None = None
        """Service -> when its restore was last verified, for the window panel (None: the log
        was not read yet)."""
        self._commits: list[PendingCommit] = []

    # -- layout ----------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield ConsoleHeader("status board", self.state)
        yield ModeBanner(id="banner")
        yield SecurityAlerts(id="security")
        yield Static(id="commits")
        yield Static(id="verdict")
        with VerticalScroll(id="board-scroll"):
            yield Static(id="topology")
            yield Static(id="verification")
            yield Static(id="windows")
            for site in self.state.inventory.sites:
                yield SitePanel(site)
        yield Log(id="changes", max_lines=500)
        yield Static(id="member-detail")
        yield Footer()

    def on_mount(self) -> None:
        topology = self.query_one("#topology", Static)
        topology.border_title = "topology"
        windows = self.query_one("#windows", Static)
        windows.border_title = "recoverable window"
        windows.display = False
        commits = self.query_one("#commits", Static)
        commits.border_title = "awaiting commit"
        commits.display = False
        self.set_interval(COMMITS_EVERY, self.read_commits, name="runs awaiting a commit")
        self.query_one("#changes", Log).border_title = "changes (UTC)"
        self.query_one("#banner", ModeBanner).mode = self.state.mode
        self.ready = True
        self.watch(self.query_one("#board-scroll"), "scroll_y", self._scrolled, init=False)
        state = self.state
        state.status_changed.subscribe(self, self.on_status, immediate=True)
        state.ticked.subscribe(self, self.tick, immediate=True)
        state.palette_changed.subscribe(self, lambda _p: self.rebuild(), immediate=True)
        state.inventory_changed.subscribe(self, lambda _i: self.rebuild(), immediate=True)
        state.mode_changed.subscribe(self, self.on_mode_changed, immediate=True)
        state.inventory_changed.subscribe(
            self, lambda _i: self.read_verifications(), immediate=True
        )
        self.read_verifications()
        self.set_interval(VERIFIED_EVERY, self.read_verifications, name="last verified restores")
        self.rebuild()

    def read_commits(self) -> None:
        """Read which runs on the store await a commit (in a thread; one read at a time)."""
        self._read_commits()

    @work(thread=True, group="board-commits", exclusive=True, exit_on_error=False)
    def _read_commits(self) -> None:
        try:
            found = pending_commits(self.state.audit)
        except DrError:
            return
        self.app.call_from_thread(self._got_commits, found)

    def _got_commits(self, found: list[PendingCommit]) -> None:
        self._commits = found
        self._show_commits(self.state.clock())

    def _show_commits(self, now: float) -> None:
        panel = self.query_one("#commits", Static)
        panel.display = bool(self._commits)
        if self._commits:
            panel.update(commits_text(self._commits, now, self.state.palette))

    def read_verifications(self) -> None:
        """Read the last verified restore of each service from the audit log: for the
        restore-verification panel (services with ``verify_every``; hidden when none asks for
        one) and the recoverable window panel's "verified" column."""
        inventory = self.state.inventory
        panel = self.query_one("#verification", Static)
        due = any(s.verify_every for s in inventory.services.values())
        snapshot = self.state.snapshot
        shown = snapshot is not None and bool(snapshot.windows)
        if not due and not shown and not any(s.backup for s in inventory.services.values()):
            panel.display = False
            return
        try:
            records = self.state.audit.runs()
        except DrError:
            records = []
        runs = newest_verified_runs(records, inventory.services, inventory.name)
        self._verified = {
            name: r.finished.timestamp() for name, r in runs.items() if r.finished is not None
        }
        if snapshot is not None and shown:
            self._show_windows(snapshot, self.state.clock())
        if not due:
            panel.display = False
            return
        self._verifications = verifications(inventory, records)
        panel.display = True
        self._show_verifications()

    def _show_verifications(self) -> None:
        p = self.state.palette
        now = self.state.clock()
        panel = self.query_one("#verification", Static)
        text = Text()
        due = [v for v in self._verifications if v.overdue(now)]
        for i, v in enumerate(self._verifications):
            if i:
                text.append("\n")
            if v.overdue(now):
                text.append("▲ WARN ", style=p.warn)
                text.append(v.describe(now), style=p.warn)
            else:
                text.append("✓ ok   ", style=p.ok)
                text.append(v.describe(now))
        panel.border_title = "restore verification" + (f": {len(due)} WARN" if due else "")
        panel.set_class(bool(due), "-warn")
        panel.update(text)

    def rebuild(self) -> None:
        """(Re)lay out every site table for the current inventory and width."""
        st = self.state
        inventory = st.inventory
        if inventory is not self._inventory:
            self._inventory = inventory
            self._sampled.clear()
            self._states.clear()
            self._primaries.clear()
            self._rows = {site: site_rows(inventory, site) for site in inventory.sites}
        self._cols = columns(inventory, self._wide(), self.size.width or 80)
        now = st.clock()
        snapshot = st.snapshot
        for panel in self.query(SitePanel):
            refs = self._rows.get(panel.site, [])
            rebuilt = panel.table.set_columns(self._cols)
            if rebuilt:
                self._sampled.clear()
            panel.table.ensure_rows((ref.key, self._cells(ref, snapshot, now)) for ref in refs)
            panel.table.display = bool(refs)
            panel.show_headline(site_headline(inventory, panel.site, snapshot, st.history, now))
        self.on_status(snapshot)

    def _wide(self) -> bool:
        if self._force_wide is not None:
            return self._force_wide
        return (self.size.width or 80) >= WIDE_MIN_WIDTH

    def on_resize(self) -> None:
        """Re-lay out when the width crosses the breakpoint (never on a tick)."""
        if self._inventory is None:
            return
        if columns(self._inventory, self._wide(), self.size.width or 80) != self._cols:
            self.rebuild()

    def _cells(
        self,
        ref: RowRef,
        snapshot: StatusSnapshot | None,
        now: float,
        cols: tuple[Column, ...] | None = None,
    ) -> dict[str, Text]:
        st = self.state
        status = snapshot.get(ref.service, ref.host) if snapshot else None
        return member_cells(
            st.inventory, ref, status, st.history, now, st.palette, cols or self._cols
        )

    @property
    def _live_cols(self) -> tuple[Column, ...]:
        """The columns a new sample can change (member, service and kind never do)."""
        return tuple(c for c in self._cols if c.key not in STATIC_COLUMNS)

    # -- live data -------------------------------------------------------------------------

    def on_status(self, snapshot: StatusSnapshot | None) -> None:
        """Apply a snapshot: the visible members' cells, headlines, topology, verdict."""
        st = self.state
        inventory = st.inventory
        if self._inventory is not inventory:
            self.rebuild()
            return
        now = st.clock()
        with self.app.batch_update():
            self._refresh_rows(snapshot, now)
            for panel in self.query(SitePanel):
                panel.show_headline(site_headline(inventory, panel.site, snapshot, st.history, now))
            self._show_topology(snapshot)
            self._show_windows(snapshot, now)
            self._log_changes(snapshot, now)
            self.query_one("#verdict", Static).update(
                verdict_line(inventory, snapshot, st.palette, now)
            )
            self.query_one("#security", SecurityAlerts).show_alerts(security_alerts(snapshot))
            self._show_detail()

    def _visible(self) -> dict[str, range]:
        """Per site, the row indexes on screen (with a margin): the rows worth drawing now."""
        scroll = self.query_one("#board-scroll", VerticalScroll)
        top = scroll.scroll_y - ROW_MARGIN
        bottom = scroll.scroll_y + max(scroll.size.height, 24) + ROW_MARGIN
        out: dict[str, range] = {}
        for panel in self.query(SitePanel):
            # panel border and the table's header line above the first row
            base = panel.virtual_region.y + panel.table.virtual_region.y + 2
            first = max(0, int(top - base))
            out[panel.site] = range(first, max(first, int(bottom - base)))
        return out

    def _refresh_rows(self, snapshot: StatusSnapshot | None, now: float) -> None:
        """Bring the rows on screen up to date: cells of members with a new sample, and
        every visible age. Rows off screen wait until they scroll into view, so a refresh
        costs what the operator sees, not the size of the estate."""
        live = self._live_cols
        age = self._age_col
        st = self.state
        visible = self._visible()
        for panel in self.query(SitePanel):
            refs = self._rows.get(panel.site, [])
            window = visible.get(panel.site, range(0))
            updates = []
            for ref in refs[window.start : window.stop]:
                status = snapshot.get(ref.service, ref.host) if snapshot else None
                stamp = row_stamp(st.inventory, status, now)
                if self._sampled.get(ref.key) != stamp:
                    self._sampled[ref.key] = stamp
                    updates.append((ref.key, self._cells(ref, snapshot, now, live)))
                elif status is not None and age:
                    cells = member_cells(
                        st.inventory, ref, status, st.history, now, st.palette, age
                    )
                    updates.append((ref.key, {"age": cells["age"]}))
            if updates:
                panel.table.apply(updates)

    def _scrolled(self) -> None:
        """Rows scrolled into view are drawn from the newest snapshot."""
        st = self.state
        with self.app.batch_update():
            self._refresh_rows(st.snapshot, st.clock())

    def tick(self, now: float) -> None:
        """The clock moved: ages and "last seen" change even when no sample arrives."""
        if self._commits:
            self._show_commits(now)
        st = self.state
        snapshot = st.snapshot
        if snapshot is None:
            return
        with self.app.batch_update():
            self._refresh_rows(snapshot, now)
            for panel in self.query(SitePanel):
                panel.show_headline(
                    site_headline(st.inventory, panel.site, snapshot, st.history, now)
                )
            # a sample turning stale changes these with no new sample
            self._show_topology(snapshot)
            self._log_changes(snapshot, now)
            self.query_one("#verdict", Static).update(
                verdict_line(st.inventory, snapshot, st.palette, now)
            )

    def _log_changes(self, snapshot: StatusSnapshot | None, now: float) -> None:
        if snapshot is None or not snapshot.members:
            return
        stamp = time.strftime("%H:%M:%S", time.gmtime(now))
        lines = status_changes(self.state.inventory, self._states, self._primaries, snapshot, now)
        # members sampled for the first time are remembered, never dropped
        self._states.update(member_states(snapshot, self.state.inventory, now))
        self._primaries.update(primaries(snapshot))
        if len(lines) > MAX_CHANGES_PER_REFRESH:
            more = len(lines) - MAX_CHANGES_PER_REFRESH
            lines = [*lines[:MAX_CHANGES_PER_REFRESH], f"… and {more} more change(s)"]
        if lines:
            self.query_one("#changes", Log).write_lines([f"{stamp}  {line}" for line in lines])

    @property
    def _age_col(self) -> tuple[Column, ...]:
        return tuple(c for c in self._cols if c.key == "age")

    def _show_topology(self, snapshot: StatusSnapshot | None) -> None:
        st = self.state
        self.query_one("#topology", Static).update(
            topology_text(st.inventory, snapshot, st.palette, st.clock())
        )

    def _show_windows(self, snapshot: StatusSnapshot | None, now: float) -> None:
        """The recoverable window panel (hidden until a source has collected windows)."""
        panel = self.query_one("#windows", Static)
        found = snapshot.windows if snapshot is not None else {}
        panel.display = bool(found)
        if found and self._verified is None:
            self.read_verifications()  # the first windows: read the log once now, then every 30 s
        if found:
            panel.update(window_text(found, self.state.palette, now, self._verified))

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        """The detail line follows the cursor."""
        self._selected = str(event.row_key.value)
        self._show_detail()

    def _show_detail(self) -> None:
        key = self._selected
        detail = self.query_one("#member-detail", Static)
        st = self.state
        if not key or "/" not in key:
            detail.update(
                Text("↑↓ select a member · press 2 for playbooks, 4 for audit, ctrl+p for commands")
            )
            return
        service, host = key.split("/", 1)
        snapshot = st.snapshot
        status = snapshot.get(service, host) if snapshot else None
        text = Text(f"{service}/{host}: ", style="bold")
        if status is None:
            text.append("no sample yet", style=st.palette.muted)
        else:
            health = shown_health(st.inventory, status, st.clock())
            text.append(health_label(health), style=st.palette.health(health))
            reasons = list(status.health.reasons)
            if status.health.divergence:
                reasons.insert(0, status.health.divergence)
            summary = "; ".join(reasons) if reasons else "all checks pass"
            text.append(f" {summary}")
            seen = st.history.member_seen.get((service, host))
            if status.role in ("down", "unknown") and seen is not None:
                text.append(f" (last seen {fmt_age(st.clock() - seen)})", style=st.palette.muted)
        detail.update(text)

    # -- actions ---------------------------------------------------------------------------

    def action_refresh_now(self) -> None:
        """Probe every member now."""
        self.post_message(StatusPokeRequested())
        self.notify("probing every member now", timeout=2)

    def action_toggle_wide(self) -> None:
        """Switch between the narrow and the wide column set."""
        self._force_wide = not self._wide()
        self.rebuild()

    def on_mode_changed(self, mode: str) -> None:
        """The app's mode changed: restyle the banner."""
        self.query_one("#banner", ModeBanner).mode = mode
