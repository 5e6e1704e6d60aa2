"""The console app: screens as modes, one status source, at most one run, one audit store.

The app owns what outlives a screen: the inventory, the SSH pool (shared by the status source
and the engine), the status worker, the run worker and the audit store, all in one
:class:`~console.tui.state.ConsoleState` it hands to every screen (attributes down). Screens
are views: they read that state, subscribe to its signals, and ask for things by posting
messages (``RunRequested``, ``RunStartRequested``, ``ExportRequested``,
``StatusPokeRequested``) that the handlers here act on (messages up). The app touches no
private Textual attribute and no screen imports this module.
Workers are named and grouped, and their failures are handled in one place
(``on_worker_state_changed``). Nothing here talks SSH: the engine and the collector do.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import time
from collections.abc import Callable, Iterable
from functools import partial
from pathlib import Path
from typing import Any

from rich.text import Text
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.reactive import reactive
from textual.screen import Screen
from textual.theme import Theme
from textual.worker import Worker, WorkerState

from console.audit.approvals import approve
from console.audit.database import is_store_url
from console.audit.fallback import FallbackStore
from console.audit.model import Event as AuditEvent
from console.audit.store import AuditStore
from console.engine.headless import lease_length
from console.engine.prepare import prepare
from console.errors import DrError, InputError
from console.model.inventory import Inventory, load_inventory
from console.notify.targets import command_line_targets, environment_urls
from console.ssh.pool import SshPool
from console.ssh.transport import Transport
from console.status.collector import StatusSnapshot
from console.tui.messages import (
    ApproveRequested,
    ExportRequested,
    ReplayRequested,
    RunChanged,
    RunRequested,
    RunStartRequested,
    StatusArrived,
    StatusPokeRequested,
)
from console.tui.palette import Palette
from console.tui.replay import Replay
from console.tui.screens.approvals import ApprovalsScreen
from console.tui.screens.audit import AuditScreen
from console.tui.screens.board import BoardScreen
from console.tui.screens.confirm import ConfirmScreen
from console.tui.screens.export import ExportRequest, ExportScreen
from console.tui.screens.inventory import InventoryScreen
from console.tui.screens.message import MessageScreen
from console.tui.screens.playbooks import PlaybooksScreen, find_playbooks
from console.tui.screens.replay import ReplayScreen
from console.tui.screens.run import RunScreen
from console.tui.session import RunSession
from console.tui.state import ConsoleState, TuiConfig
from console.tui.status_source import SourceFactory, StatusSource, live_source
from console.tui.theme import NIGHT


class DrConsoleApp(App[int]):
    """drconsole's TUI."""

    CSS_PATH = "app.tcss"
    TITLE = "drconsole"
    DEFAULT_MODE = "board"
    BINDINGS = [
        Binding("1", "show('board')", "Board"),
        Binding("2", "show('playbooks')", "Playbooks"),
        Binding("3", "show('run')", "Run"),
        Binding("4", "show('audit')", "Audit"),
        Binding("5", "show('approvals')", "Approvals", show=False),  # palette: "Open approvals"
        Binding("q", "quit_console", "Quit"),
    ]

    mode: reactive[str] = reactive("drill")
    """``drill`` or ``incident``: the banner on every screen, and the mode of new runs."""

    def __init__(
        self,
        config: TuiConfig,
        inventory: Inventory,
        *,
        source_factory: SourceFactory | None = None,
        clock: Callable[[], float] = time.time,
        audit: AuditStore | None = None,
    ) -> None:
        super().__init__()
        self.config = config
        self.state = ConsoleState(self, config, inventory, clock=clock, audit=self._open_audit)
        """What every screen reads (and subscribes to)."""
        self.session: RunSession | None = None
        """The current (or last) run."""
        self._source_factory = source_factory or live_source(config.refresh, config.probe_timeout)
        self._source: StatusSource | None = None
        self._transport: Transport | None = None
        self._audit = audit
        self._quitting = False
        self._run_mode = False
        self.set_reactive(DrConsoleApp.mode, config.mode)
        self.add_mode("board", partial(BoardScreen, self.state))
        self.add_mode("playbooks", partial(PlaybooksScreen, self.state))
        self.add_mode("audit", partial(AuditScreen, self.state))
        self.add_mode("approvals", partial(ApprovalsScreen, self.state))

    # -- the state, as tests and tools read it ---------------------------------------------

    @property
    def inventory(self) -> Inventory:
        """The estate on screen."""
        return self.state.inventory

    @property
    def snapshot(self) -> StatusSnapshot | None:
        """The newest status snapshot."""
        return self.state.snapshot

    # -- lifetime --------------------------------------------------------------------------

    def on_mount(self) -> None:
        self.register_theme(NIGHT)
        self.theme = NIGHT.name
        self.state.palette = Palette.from_theme(self)
        self.theme_changed_signal.subscribe(self, self._theme_changed)
        self.start_status()
        self.set_interval(1.0, self._tick, name="clock")
        if self.config.read_only:
            self.sub_title = "READ-ONLY observer"
            self.notify(
                "read-only: you are an observer; the board, runs and the audit log are yours "
                "to watch, every action is the operator's",
                timeout=10,
            )

    def refused_read_only(self, what: str) -> bool:
        """In an observer's console, say that ``what`` is the operator's, and return True."""
        if not self.config.read_only:
            return False
        self.notify(f"read-only: an observer cannot {what}", severity="warning", timeout=5)
        return True

    async def on_unmount(self) -> None:
        if self._transport is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._transport.close(), 10)
        if self._audit is not None:
            self._audit.close()

    def _theme_changed(self, _theme: Theme) -> None:
        """Cell and log colours follow the theme."""
        self.state.palette = Palette.from_theme(self)
        self.state.palette_changed.publish(self.state.palette)

    @property
    def transport(self) -> Transport:
        """The SSH pool, opened on first use (strict host-key checking, never accepts new)."""
        if self._transport is None:
            self._transport = SshPool(on_reconnect=self._reconnected)
        return self._transport

    def _reconnected(self, host: str, reason: str) -> None:
        self.notify(f"{host}: connection dropped and re-opened ({reason})", severity="warning")

    @property
    def audit(self) -> AuditStore:
        """The audit store, opened on first use."""
        return self._open_audit()

    def _open_audit(self) -> AuditStore:
        if self._audit is None:
            fallback = self.config.audit_fallback
            if fallback is not None and is_store_url(self.config.audit_path):
                self._audit = FallbackStore(
                    self.config.audit_path, fallback, on_switch=self._store_switched
                )
            else:
                self._audit = AuditStore(self.config.audit_path)
        return self._audit

    def _store_switched(self, message: str) -> None:
        """The team store was lost and the local fallback took over: say it where the run is
        watched (its output, which the audit log's ``notice`` also holds) and as a warning."""
        if self.session is not None:
            self.session.say(f"» warning: {message}")
        self.notify(message, severity="warning", timeout=30)

    # -- status ----------------------------------------------------------------------------

    def start_status(self) -> None:
        """Start (or restart) polling the current inventory."""
        self._source = self._source_factory(self.inventory, lambda: self.transport)
        source = self._source
        self.run_worker(
            source.run(lambda snap: self._deliver(source, snap)),
            name="status",
            group="status",
            exclusive=True,
            exit_on_error=False,
        )

    def _deliver(self, source: StatusSource, snapshot: StatusSnapshot) -> None:
        if source is self._source:
            self.post_message(StatusArrived(snapshot))

    def poke_status(self) -> None:
        """Probe every member now."""
        if self._source is not None:
            self._source.poke()

    def on_status_poke_requested(self, _message: StatusPokeRequested) -> None:
        """A screen asked to probe now."""
        self.poke_status()

    def on_status_arrived(self, message: StatusArrived) -> None:
        """Keep the newest snapshot and tell the screens that subscribed."""
        self.state.snapshot = message.snapshot
        self.state.history.record(message.snapshot.members)
        self.state.status_changed.publish(message.snapshot)

    def _tick(self) -> None:
        self.state.ticked.publish(self.state.clock())

    # -- navigation ------------------------------------------------------------------------

    def action_show(self, mode: str) -> None:
        """Switch screens (the run screen only when there is a run)."""
        if mode == "run" and not self._run_mode:
            self.notify("no run yet: pick a playbook (2) and press enter", timeout=3)
            return
        self.switch_mode(mode)

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        """The command palette: run a playbook, switch inventory or mode, open a screen."""
        for entry in find_playbooks(self.config.playbooks_dir):
            if entry.playbook is None:
                continue
            pb = entry.playbook
            yield SystemCommand(
                f"Run playbook: {pb.name}",
                f"{pb.title} ({pb.kind})",
                partial(self._run_from_palette, entry.path),
            )
        other = "incident" if self.mode == "drill" else "drill"
        yield SystemCommand(
            f"Switch mode to {other.upper()}",
            f"the banner and the next run say {other.upper()}",
            lambda: self.set_mode(other),
        )
        yield SystemCommand("Switch inventory", "open another inventory file", self.ask_inventory)
        yield SystemCommand("Open audit log", "runs, timelines, verify, resume", self._show_audit)
        yield SystemCommand(
            "Open approvals (5)",
            "steps of any console's runs that wait for your approval (two-person rule)",
            lambda: self.switch_mode("approvals"),
        )
        yield SystemCommand("Open status board", "every site, live", self._open_board)
        yield SystemCommand("Open playbooks", "list and plan preview", self._open_playbooks)
        yield from super().get_system_commands(screen)

    def _run_from_palette(self, path: Path) -> None:
        self.open_run(path, {})

    def _show_audit(self) -> None:
        self.switch_mode("audit")

    def _open_board(self) -> None:
        self.switch_mode("board")

    def _open_playbooks(self) -> None:
        self.switch_mode("playbooks")

    def set_mode(self, mode: str) -> None:
        """Switch between DRILL and INCIDENT (refused while a run is going)."""
        if self.session is not None and self.session.running:
            self.notify(
                f"a run is going in {self.session.mode.upper()} mode; the mode changes after it",
                severity="warning",
            )
            return
        self.mode = mode
        self.notify(
            f"mode is now {mode.upper()}",
            severity="warning" if mode == "incident" else "information",
        )

    def watch_mode(self, mode: str) -> None:
        """Tell every screen (a run keeps the mode it started in)."""
        self.state.mode = mode
        self.state.mode_changed.publish(mode)

    def ask_inventory(self) -> None:
        """Pick another inventory file."""
        found = sorted(Path("inventory").glob("*.yaml")) if Path("inventory").is_dir() else []

        def chosen(inventory: Inventory | None) -> None:
            if inventory is not None:
                self.switch_inventory(inventory)

        self.push_screen(InventoryScreen(self.state.inventory_path, found), chosen)

    def switch_inventory(self, inventory: Inventory) -> None:
        """Show another estate (refused while a run is going)."""
        if self.session is not None and self.session.running:
            self.notify("a run is going; switch the inventory after it", severity="warning")
            return
        self.state.inventory = inventory
        self.state.inventory_path = Path(inventory.path)
        self.state.snapshot = None
        self.state.history.clear()
        self.start_status()
        self.state.inventory_changed.publish(inventory)
        self.notify(f"inventory {inventory.name} ({inventory.path})")

    # -- runs ------------------------------------------------------------------------------

    def on_run_requested(self, message: RunRequested) -> None:
        """A screen asked for a run screen."""
        self.open_run(
            message.playbook_path,
            message.overrides,
            resume=message.resume,
            inventory_path=message.inventory_path,
        )

    def on_run_start_requested(self, message: RunStartRequested) -> None:
        """The operator confirmed the start on the run screen."""
        self.start_run(message.session)

    def on_export_requested(self, message: ExportRequested) -> None:
        """A screen asked to export a report."""
        self.export_report(message.run_id)

    def on_approve_requested(self, message: ApproveRequested) -> None:
        """A screen asked to approve a waiting step as this console's operator."""
        if self.refused_read_only("approve a step"):
            return
        try:
            _event, request = approve(
                self.audit, message.run_id, message.step_id, operator=self.config.operator
            )
        except DrError as exc:
            self.notify(f"not approved: {exc}", severity="error", timeout=10)
        else:
            more = f"{request.missing} more needed" if request.missing else "the run goes on"
            self.notify(
                f"approved {request.step_id} of run {request.run_id} as {self.config.operator} "
                f"({len(request.approvers)} of {request.needed}; {more})",
                timeout=8,
            )
        if isinstance(self.screen, ApprovalsScreen):
            self.screen.action_reload()

    def on_replay_requested(self, message: ReplayRequested) -> None:
        """A screen asked to replay a recorded run (read from the log; no host is contacted)."""
        try:
            replay = Replay.load(self.audit, message.run_id)
        except (KeyError, DrError) as exc:
            self.push_screen(MessageScreen("This run cannot be replayed", str(exc)))
            return
        run_id = replay.record.run_id
        follow = None
        if replay.record.status == "running":  # in progress (here or in another console)

            def follow(after: int) -> list[AuditEvent]:
                return self.audit.events(run_id, after_seq=after)

        self.push_screen(ReplayScreen(replay, palette=self.state.palette, follow=follow))

    def open_run(
        self,
        playbook_path: Path,
        overrides: dict[str, str],
        *,
        resume: str | None = None,
        inventory_path: Path | None = None,
    ) -> RunSession | None:
        """Prepare a run of ``playbook_path`` and show its run screen (nothing runs yet).

        Bad input (a playbook that does not fit the inventory, a missing parameter, a run that
        cannot be resumed) is shown in a dialog, located. An observer's console opens none.
        """
        if self.refused_read_only("open a run"):
            return None
        if self.session is not None and self.session.running:
            self.notify("a run is going; it must end before another starts", severity="warning")
            self.switch_mode("run")
            return None
        try:
            prepared = prepare(
                playbook_path,
                inventory_path or self.state.inventory_path,
                [f"{k}={v}" for k, v in overrides.items()],
                audit=self.audit if resume else None,
                resume=resume,
            )
        except InputError as exc:
            self.push_screen(MessageScreen("This run cannot be prepared", str(exc)))
            return None
        except DrError as exc:
            self.push_screen(MessageScreen("This run cannot be prepared", str(exc)))
            return None
        session = RunSession(
            prepared=prepared,
            mode=self.mode,
            operator=self.config.operator,
            audit=self.audit,
            transport=self.transport,
            changed=self._run_changed,
            probe_timeout=self.config.probe_timeout,
            notify=self.config.notify,
            notify_timeout=self.config.notify_timeout,
            lease_ttl=self.config.lease_ttl,
        )
        self.session = session
        if self.current_mode == "run":
            self.switch_mode("playbooks")
        if self._run_mode:
            self.remove_mode("run")
        self.add_mode("run", partial(RunScreen, session, self.state))
        self._run_mode = True
        self.switch_mode("run")
        return session

    def _run_changed(self) -> None:
        self.post_message(RunChanged())

    def start_run(self, session: RunSession) -> bool:
        """Start the engine (after the operator confirmed), unless another run holds a lock.

        Returns:
            True when the run was started.
        """
        if self.refused_read_only("start a run"):
            return False
        for service in session.playbook.services_touched():
            if service not in session.inventory.services:
                continue
            holder = self.audit.lock_holder(service)
            if holder is not None and holder.run_id != session.resume_of:
                self.push_screen(
                    MessageScreen(
                        "Locked by another run",
                        f"{holder.describe()}\n\nNothing was changed. Wait for that run to end, "
                        "or, if its process is gone, break the stale lock from a shell with "
                        "drconsole run --break-lock (it is recorded).",
                    )
                )
                return False
        self.run_worker(
            session.run(),
            name=f"run {session.playbook.name}",
            group="engine",
            exclusive=True,
            exit_on_error=False,
        )
        return True

    def on_run_changed(self, _message: RunChanged) -> None:
        """The run has news: the run screen draws it; a question pulls the operator there."""
        session = self.session
        if session is None:
            return
        if session.pending is not None and self.current_mode != "run":
            q = session.pending.question
            self.notify(f"the run waits for you: {q.kind} {q.step_id}", severity="warning")
            self.switch_mode("run")
            return
        self.state.run_changed.publish(None)

    def export_report(self, run_id: str) -> None:
        """Ask for a format and a path, then write the run's report."""
        if self.refused_read_only("write a report file"):
            return
        try:
            from console.report import (  # noqa: PLC0415 (written by another engineer; may be absent)
                export_report,
            )
        except ImportError:
            self.notify(
                "reports are not available yet in this build (console.report.export_report)",
                severity="warning",
                timeout=6,
            )
            return

        def chosen(request: ExportRequest | None) -> None:
            if request is None:
                return
            try:
                request.path.parent.mkdir(parents=True, exist_ok=True)
                written = export_report(self.audit, run_id, request.fmt, request.path)
            except (DrError, OSError, ValueError) as exc:
                self.push_screen(MessageScreen("The report could not be written", str(exc)))
                return
            self.notify(f"report written: {written}", timeout=8)

        self.push_screen(ExportScreen(run_id, self.config.reports_dir), chosen)

    # -- workers ---------------------------------------------------------------------------

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """Every worker's failure lands here: said plainly, and the status poller restarts."""
        worker = event.worker
        if event.state == WorkerState.ERROR:
            error = worker.error
            self.log.error(f"worker {worker.name} failed: {error!r}")
            if worker.group == "status":
                self.notify(f"status polling failed ({error}); restarting", severity="error")
                self.set_timer(2.0, self.start_status)
            elif worker.group == "engine":
                self.push_screen(
                    MessageScreen("The run stopped on an internal error", Text(repr(error)))
                )
            else:
                self.notify(f"{worker.name}: {error}", severity="error")
        if worker.group == "engine" and event.state in (
            WorkerState.SUCCESS,
            WorkerState.ERROR,
            WorkerState.CANCELLED,
        ):
            if self.session is not None:
                self.post_message(RunChanged())
            if self._quitting:
                self.exit(0)

    def action_quit_console(self) -> None:
        """Quit; a run in progress is stopped (recorded as interrupted, resumable) if you say
        so."""
        session = self.session
        if session is None or not session.running:
            self.exit(0)
            return

        def answered(yes: bool | None) -> None:
            if not yes:
                return
            self._quitting = True
            self.workers.cancel_group(self, "engine")

        self.push_screen(
            ConfirmScreen(
                "Quit while the run is going?",
                f"{session.playbook.name} (run {session.run_id}) is running.\nQuitting stops "
                "the command in flight; the audit log records where the run stopped and it "
                "can be resumed from the audit screen.",
                yes="Quit and stop the run",
                no="Stay",
            ),
            answered,
        )


def main(args: argparse.Namespace) -> int:
    """``drconsole`` / ``drconsole tui``: returns the exit code.

    Raises:
        InputError: the inventory is missing or invalid, or an option is out of range
            (the CLI prints it, located, and exits 2).
    """
    lease_ttl = lease_length(args)
    inventory_path = Path(args.inventory)
    if not inventory_path.exists():
        raise InputError(
            f"{inventory_path}: no such inventory file; start the lab with "
            "`drconsole lab up` (it writes inventory/lab.yaml) or pass -i PATH"
        )
    inventory = load_inventory(inventory_path)
    refresh = float(getattr(args, "refresh", 2.0))
    if not refresh > 0:
        raise InputError(f"--refresh {refresh:g}: must be more than 0 seconds")
    config = TuiConfig(
        inventory_path=inventory_path,
        playbooks_dir=Path(getattr(args, "playbooks", "playbooks")),
        audit_path=args.audit if isinstance(args.audit, str) else Path(args.audit),
        operator=str(args.operator),
        mode=str(getattr(args, "mode", "drill") or "drill"),
        refresh=refresh,
        notify=command_line_targets([*(getattr(args, "notify", None) or ()), *environment_urls()]),
        read_only=bool(getattr(args, "read_only", False)),
        notify_timeout=float(getattr(args, "notify_timeout", None) or 5.0),
        audit_fallback=(
            Path(args.audit_fallback).expanduser()
            if getattr(args, "audit_fallback", None)
            else None
        ),
        lease_ttl=lease_ttl,
    )
    app = DrConsoleApp(config, inventory)
    app.run()
    return app.return_code or 0
