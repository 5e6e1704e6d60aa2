"""The playbooks: the list, and for the selected one its plan against the live topology.

The plan is ``console.engine.plan.make_plan`` over the newest status snapshot, redone whenever
the console's state says a snapshot arrived, so the preflight gates read as a live checklist
("the primary is at east" turns red the moment it is not) and every step shows the hosts its
selector picks now and the command it would send, secrets masked. Nothing here runs anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static
from textual.widgets.data_table import ColumnKey

from console.engine.plan import Plan, make_plan
from console.errors import InputError
from console.model.checks import bind_params, check_against
from console.model.playbook import Playbook, load_playbook
from console.status.collector import StatusSnapshot
from console.tui.format import fmt_objective
from console.tui.messages import RunRequested
from console.tui.screens.params import ParamsScreen
from console.tui.state import ConsoleState
from console.tui.widgets.banner import ModeBanner
from console.tui.widgets.header import ConsoleHeader


@dataclass
class PlaybookEntry:
    """A playbook file as the list shows it."""

    path: Path
    playbook: Playbook | None
    error: str | None
    overrides: dict[str, str] = field(default_factory=dict)
    """Parameter values the operator set here (``--var``)."""


def find_playbooks(directory: Path) -> list[PlaybookEntry]:
    """Every ``*.yaml`` / ``*.yml`` in ``directory``, loaded (a bad file is listed with its
    error, never skipped)."""
    if not directory.is_dir():
        return []
    entries = []
    for path in sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")]):
        try:
            entries.append(PlaybookEntry(path, load_playbook(path), None))
        except InputError as exc:
            entries.append(PlaybookEntry(path, None, str(exc)))
    return entries


class PlaybooksScreen(Screen[None]):
    """List and plan preview."""

    BINDINGS = [
        Binding("enter", "open_run", "Open run", priority=True),
        Binding("v", "set_params", "Parameters"),
        Binding("l", "reload", "Reload files"),
    ]

    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (140, "-wide")]

    def __init__(self, state: ConsoleState) -> None:
        self.ready = False
        """Composed and mounted: live updates may be applied."""
        super().__init__(id="playbooks")
        self.state = state
        """The console's state (the app writes it; this screen reads it)."""
        self.entries: list[PlaybookEntry] = []
        self.plan: Plan | None = None
        """The plan shown (for tests and screenshots)."""

    def compose(self) -> ComposeResult:
        yield ConsoleHeader("playbooks", self.state)
        yield ModeBanner(id="banner")
        with Vertical(id="pb-body"):
            yield DataTable[Text](id="pb-list", cursor_type="row", zebra_stripes=False)
            with VerticalScroll(id="pb-plan"):
                yield Static(id="pb-about")
                yield Static(id="pb-gates")
                yield Static(id="pb-steps")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#banner", ModeBanner).mode = self.state.mode
        table = self.query_one("#pb-list", DataTable)
        table.border_title = f"playbooks in {self.state.config.playbooks_dir}"
        self.query_one("#pb-gates", Static).border_title = "preflight (live)"
        self.query_one("#pb-steps", Static).border_title = "plan (rendered now, runs nothing)"
        self.ready = True
        state = self.state
        state.status_changed.subscribe(self, self.on_status, immediate=True)
        state.inventory_changed.subscribe(self, lambda _i: self.show_plan(), immediate=True)
        state.mode_changed.subscribe(self, self.on_mode_changed, immediate=True)
        self.action_reload()

    def action_reload(self) -> None:
        """Read the playbook files again (the cursor stays on the same file)."""
        table = self.query_one("#pb-list", DataTable)
        keep = {e.path: e.overrides for e in self.entries}
        current = self.selected()
        self.entries = find_playbooks(self.state.config.playbooks_dir)
        table.clear(columns=True)
        self._add_columns(table)
        for entry in self.entries:
            entry.overrides = keep.get(entry.path, {})
            pb = entry.playbook
            if pb is None:
                table.add_row(
                    Text(entry.path.stem),
                    Text("✗ invalid", style=self.state.palette.crit),
                    Text(""),
                    Text(""),
                    Text(entry.error or "", no_wrap=True, overflow="ellipsis"),
                    key=str(entry.path),
                )
                continue
            objectives = f"{fmt_objective(pb.objectives.rto)}/{fmt_objective(pb.objectives.rpo)}"
            table.add_row(
                Text(pb.name),
                Text(pb.kind),
                Text(pb.service or "—"),
                Text(objectives),
                Text(pb.title, no_wrap=True, overflow="ellipsis"),
                key=str(entry.path),
            )
        if current is not None:
            for i, entry in enumerate(self.entries):
                if entry.path == current.path:
                    table.move_cursor(row=i, animate=False)
        if not self.entries:
            self.query_one("#pb-about", Static).update(
                f"no playbooks in {self.state.config.playbooks_dir} (start with -p DIR)"
            )
        self.show_plan()

    def _add_columns(self, table: DataTable[Text]) -> None:
        table.add_column("name", key="name")
        table.add_column("kind", key="kind")
        table.add_column("service", key="service")
        table.add_column("RTO/RPO", key="objectives")
        table.add_column("title", key="title", width=self._title_width())

    def _title_width(self) -> int:
        """What is left of the list's width for the title column."""
        width = self.size.width or 80
        if width >= 140:
            width = int(width * 0.45)
        pbs = [e.playbook for e in self.entries if e.playbook is not None]
        used = sum(
            max([len(label), *(len(v) for v in values)]) + 2
            for label, values in (
                ("name", [e.path.stem for e in self.entries] + [p.name for p in pbs]),
                ("kind", [p.kind for p in pbs] + ["✗ invalid"]),
                ("service", [p.service or "—" for p in pbs]),
                ("RTO/RPO", ["10m/none"]),
            )
        )
        return max(12, width - used - 2 - 2 - 1)

    def on_resize(self) -> None:
        """Fit the title column to the new width."""
        if not self.ready:
            return
        table = self.query_one("#pb-list", DataTable)
        column = table.columns.get(ColumnKey("title"))
        if column is not None and column.width != self._title_width():
            self.action_reload()

    def select(self, name: str) -> bool:
        """Move the cursor to the playbook called ``name`` (its name or file stem)."""
        table = self.query_one("#pb-list", DataTable)
        for i, entry in enumerate(self.entries):
            if (entry.playbook and entry.playbook.name == name) or entry.path.stem == name:
                table.move_cursor(row=i, animate=False)
                self.show_plan()
                return True
        return False

    def selected(self) -> PlaybookEntry | None:
        """The playbook under the cursor."""
        table = self.query_one("#pb-list", DataTable)
        if not self.entries or table.cursor_row is None:
            return None
        row = table.cursor_row
        return self.entries[row] if 0 <= row < len(self.entries) else None

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        """The plan follows the cursor."""
        self.show_plan()

    def on_status(self, snapshot: StatusSnapshot | None) -> None:
        """A new snapshot: the gates and targets may have changed."""
        self.show_plan()

    def show_plan(self) -> None:
        """Render the selected playbook against the newest snapshot."""
        st = self.state
        p = st.palette
        about = self.query_one("#pb-about", Static)
        gates = self.query_one("#pb-gates", Static)
        steps = self.query_one("#pb-steps", Static)
        entry = self.selected()
        self.plan = None
        if entry is None:
            gates.update("")
            steps.update("")
            return
        if entry.playbook is None:
            about.update(Text(f"{entry.path}\n{entry.error}", style=p.crit))
            gates.update("")
            steps.update("")
            return
        pb = entry.playbook
        head = Text(pb.title, style="bold")
        head.append(f"\n{entry.path} · {pb.kind} · service {pb.service or '—'}", style=p.muted)
        try:
            params = bind_params(pb, entry.overrides)
            problems = check_against(pb, st.inventory, params)
        except InputError as exc:
            head.append(f"\n{exc}", style=p.crit)
            about.update(head)
            gates.update("")
            steps.update("")
            return
        shown = ", ".join(
            f"{k}={'****' if k in pb.secret_params else v}" for k, v in params.items()
        )
        head.append(f"\nparameters: {shown or 'none'}  (v to change)", style=p.accent)
        for problem in problems:
            head.append(f"\n✗ {problem}", style=p.crit)
        about.update(head)
        snapshot = st.snapshot or StatusSnapshot(st.clock(), ())
        plan = make_plan(
            inventory=st.inventory,
            playbook=pb,
            params=params,
            mode=st.mode,
            operator=st.config.operator,
            snapshot=snapshot,
        )
        self.plan = plan
        gates.update(_gates_text(plan, st.snapshot is None, p.ok, p.crit, p.muted))
        steps.update(_steps_text(plan, p.warn, p.crit, p.muted, p.accent))

    def action_open_run(self) -> None:
        """Open the run screen for the selected playbook (nothing runs until it is started)."""
        entry = self.selected()
        if entry is None or entry.playbook is None:
            self.notify("pick a valid playbook first", severity="warning")
            return
        self.post_message(RunRequested(entry.path, entry.overrides))

    def action_set_params(self) -> None:
        """Edit the selected playbook's parameters."""
        entry = self.selected()
        if entry is None or entry.playbook is None:
            return
        pb = entry.playbook

        def done(values: dict[str, str] | None) -> None:
            if values is not None:
                entry.overrides = values
                self.show_plan()

        self.app.push_screen(ParamsScreen(pb, entry.overrides), done)

    def on_mode_changed(self, mode: str) -> None:
        """The app's mode changed."""
        self.query_one("#banner", ModeBanner).mode = mode
        self.show_plan()


def _gates_text(plan: Plan, waiting: bool, ok: str, bad: str, muted: str) -> Text:
    text = Text()
    if not plan.gates:
        text.append("no preflight gates", style=muted)
    for i, gate in enumerate(plan.gates):
        if i:
            text.append("\n")
        if gate.ok is True:
            text.append(f"✓ {gate.title}", style=ok)
        elif gate.ok is False:
            text.append(f"✗ {gate.title}", style=bad)
            first = gate.detail.splitlines()[0] if gate.detail else ""
            if first:
                text.append(f" — {first}", style=muted)
        else:
            text.append(f"· {gate.title} — {gate.detail}", style=muted)
    if waiting:
        text.append("\n(waiting for the first status samples)", style=muted)
    return text


def _steps_text(plan: Plan, warn: str, bad: str, muted: str, accent: str) -> Text:
    text = Text()
    number = 0
    for i, step in enumerate(plan.steps):
        if i:
            text.append("\n")
        if step.rollback:
            label = "↺"
        else:
            number += 1
            label = f"{number}."
        text.append(f"{label} {step.id} ", style="bold")
        text.append(f"[{step.kind}]", style=muted)
        if step.confirm:
            text.append(" confirm", style=warn)
        if step.rto:
            text.append(f" rto:{step.rto}", style=accent)
        if step.rollback:
            text.append(" rollback", style=bad)
        text.append(f" {step.title}")
        if step.targets:
            text.append(f"\n   on {', '.join(step.targets)}", style=muted)
        if step.problem:
            text.append(f"\n   ✗ cannot render now: {step.problem}", style=bad)
        if step.wait:
            text.append(f"\n   waits {step.wait}", style=muted)
        if step.instructions:
            text.append(f"\n   manual: {step.instructions}", style=warn)
        for host, command in step.commands:
            text.append(f"\n   {host} $ ", style=muted)
            text.append(command)
    return text
