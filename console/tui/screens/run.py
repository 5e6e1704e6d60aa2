"""The guided run: steps with their states, the current step, live output, the RTO clock, the
playbook's services, and the keys that drive the engine.

This screen is a view of a :class:`~console.tui.session.RunSession`; the engine runs in an
app-level worker, so leaving the screen never stops the run. It hears about the run through the
console state's ``run_changed`` signal and asks the app to start or export by message. Every
question of the engine opens a dialog whose default is "No" / "decide later"; closing it leaves
the question open in the decision bar, and the keys (all ``Binding``s) answer it there too.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.coordinate import Coordinate
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from console.engine.decider import Question
from console.engine.plan import Plan, PlannedStep, make_plan
from console.events import QuestionKind
from console.status.collector import StatusSnapshot
from console.tui.messages import ExportRequested, RunStartRequested
from console.tui.screens.abort import AbortChoice, AbortScreen
from console.tui.screens.confirm import ConfirmScreen
from console.tui.screens.message import MessageScreen
from console.tui.screens.reason import ReasonScreen
from console.tui.screens.run_dialogs import (
    confirm_dialog,
    decision_line,
    failure_dialog,
    start_dialog,
    title_line,
    unknown_dialog,
)
from console.tui.session import PendingQuestion, RunSession, SessionError
from console.tui.state import ConsoleState
from console.tui.widgets.banner import ModeBanner
from console.tui.widgets.header import ConsoleHeader
from console.tui.widgets.output_log import OutputLog
from console.tui.widgets.run_panels import DecisionBar, ReplicationPanel, RtoClock, StepDetail
from console.tui.widgets.step_list import StepList


class RunScreen(Screen[None]):
    """One run, guided."""

    BINDINGS = [
        Binding("r", "run_next", "Run/confirm next"),
        Binding("s", "skip", "Skip…"),
        Binding("t", "retry", "Retry"),
        Binding("a", "abort", "Abort…"),
        Binding("n", "note", "Note…"),
        Binding("p", "pause", "Pause/go on"),
        Binding("e", "export", "Export report"),
        Binding("c", "commit", "Commit…"),  # listed only while the run awaits a commit
    ]

    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-medium"), (150, "-wide")]

    def __init__(self, session: RunSession, state: ConsoleState) -> None:
        self.ready = False
        """Composed and mounted: live updates may be applied."""
        super().__init__()
        self.session = session
        self.state = state
        """The console's state (the app writes it; this screen reads it)."""
        self.plan: Plan | None = None
        self._asked_serial = 0
        self._focus: str | None = None
        self._follow = True
        self._ended_shown = False
        self._security_shown = 0
        self._keys_state: tuple[object, ...] = ()

    # -- layout ----------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        s = self.session
        steps = [(st.id, False) for st in s.playbook.steps]
        steps += [(st.id, True) for st in s.playbook.rollback]
        yield ConsoleHeader("run", self.state)
        yield ModeBanner(id="banner")
        yield Static(id="run-title")
        yield DecisionBar(id="decision")
        with Horizontal(id="run-body"):
            with Vertical(id="run-left"):
                yield StepList(steps, id="steps")
                yield RtoClock(id="rto")
                yield ReplicationPanel(id="replication")
            with Vertical(id="run-right"):
                yield StepDetail(id="detail")
                yield OutputLog(s.host_width, id="output")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#banner", ModeBanner).mode = self.session.mode
        self.query_one("#steps", StepList).border_title = "steps"
        self.query_one("#rto", RtoClock).border_title = "objectives"
        self.query_one("#replication", ReplicationPanel).border_title = "replication (live)"
        self.query_one("#output", OutputLog).border_title = "output"
        self.apply_palette()
        self.make_plan(self.state.snapshot)
        self.ready = True
        state = self.state
        state.status_changed.subscribe(self, self.on_status, immediate=True)
        state.palette_changed.subscribe(self, lambda _p: self.apply_palette(), immediate=True)
        state.run_changed.subscribe(self, lambda _n: self.refresh_from_session(), immediate=True)
        self._show_replication(self.state.snapshot)
        self.refresh_from_session()
        self.set_interval(1.0, self._tick, name="run clock")

    def apply_palette(self) -> None:
        """Follow the app's theme."""
        palette = self.state.palette
        self.query_one("#steps", StepList).palette = palette
        self.query_one("#rto", RtoClock).palette = palette
        self.query_one("#detail", StepDetail).palette = palette
        self.query_one("#replication", ReplicationPanel).palette = palette
        self.query_one("#output", OutputLog).set_palette(palette)

    def make_plan(self, snapshot: StatusSnapshot | None) -> None:
        """Render the steps that have not started against ``snapshot`` (for the detail)."""
        s = self.session
        st = self.state
        self.plan = make_plan(
            inventory=s.inventory,
            playbook=s.playbook,
            params=s.prepared.params,
            mode=s.mode,
            operator=s.operator,
            snapshot=snapshot or StatusSnapshot(st.clock(), ()),
        )

    # -- drawing ---------------------------------------------------------------------------

    def on_status(self, snapshot: StatusSnapshot | None) -> None:
        """A new status snapshot: the replication panel, and the plan of pending steps."""
        if not self.session.started:
            self.make_plan(snapshot)
            self._show_detail()
        self._show_replication(snapshot)

    def on_screen_resume(self) -> None:
        """Back on this screen: catch up, and ask what is waiting."""
        self.refresh_from_session()

    def _tick(self) -> None:
        self._show_rto()
        self._show_replication(self.state.snapshot)

    def refresh_from_session(self) -> None:
        """Draw everything new in the session; open the dialog of a new question."""
        if not self.ready:
            return
        s = self.session
        steps = self.query_one("#steps", StepList)
        statuses = {st.id: s.status_of(st.id) for st in s.playbook.all_steps()}
        steps.show(statuses)
        focus = s.focus_step()
        if focus != self._focus:
            self._focus = focus
            if self._follow:
                steps.point_at(focus)
        self.query_one("#output", OutputLog).take(s.lines, s.lines_total)
        self._show_title()
        self._show_decision()
        self._show_rto()
        self._show_detail()
        # the Footer rebuilds its keys on refresh_bindings: only when what they depend on
        # changed (not on every burst of output)
        keys_state = (
            s.pending.serial if s.pending else 0,
            s.running,
            s.finished,
            s.engine.paused,
            s.awaiting_commit,
        )
        if keys_state != self._keys_state:
            self._keys_state = keys_state
            self.refresh_bindings()
        pending = s.pending
        if pending is not None and pending.serial > self._asked_serial and self._is_active():
            self._asked_serial = pending.serial
            self._ask(pending)
        if s.security and len(s.security) > self._security_shown and self._is_active():
            self._security_shown = len(s.security)
            if pending is None or pending.question.kind != QuestionKind.FAILURE:
                self.app.push_screen(
                    MessageScreen("SECURITY: host key refused", "\n".join(s.security))
                )
        if s.finished and not self._ended_shown:
            self._ended_shown = True
            self._ended()

    def _is_active(self) -> bool:
        return self.app.screen is self

    def _show_title(self) -> None:
        self.query_one("#run-title", Static).update(title_line(self.session, self.state.palette))

    def _show_decision(self) -> None:
        self.query_one("#decision", DecisionBar).say(*decision_line(self.session))

    def _show_rto(self) -> None:
        s = self.session
        pb = s.playbook
        result = s.result
        start_step = next((st.id for st in pb.steps if st.rto == "start"), None)
        self.query_one("#rto", RtoClock).show(
            elapsed=s.rto_elapsed(self.state.clock()),
            ended=s.engine.rto_end is not None,
            objective=pb.objectives.rto,
            start_step=start_step,
            rpo_seconds=result.rpo_seconds if result else None,
            rpo_writes=result.rpo_writes if result else None,
            rpo_objective=pb.objectives.rpo,
            canary_acked=s.canary_acked,
            canary_enabled=pb.canary is not None,
        )

    def _show_replication(self, snapshot: StatusSnapshot | None) -> None:
        s = self.session
        self.query_one("#replication", ReplicationPanel).show(
            s.inventory, s.playbook.services_touched(), snapshot, self.state.clock()
        )

    def _show_detail(self) -> None:
        s = self.session
        table = self.query_one("#steps", StepList)
        step_id: str | None = None
        if table.row_count and table.cursor_row is not None:
            step_id = str(
                table.coordinate_to_cell_key(Coordinate(table.cursor_row, 0)).row_key.value
            )
        step_id = step_id or self._focus
        if step_id is None:
            return
        step = s.playbook.step(step_id)
        number = (
            f"{s.step_numbers[step_id]}/{len(s.step_numbers)}"
            if step_id in s.step_numbers
            else "rollback"
        )
        status = s.status_of(step_id)
        planned = self._planned(step_id)
        reason = s.engine.states[step_id].reason
        if s.pending is not None and s.pending.question.step_id == step_id:
            reason = s.pending.question.reason or reason
        self.query_one("#detail", StepDetail).show(
            step,
            number,
            status,
            s.step_info.get(step_id),
            planned,
            s.wait_info.get(step_id),
            reason,
        )

    def _planned(self, step_id: str) -> PlannedStep | None:
        if self.plan is None:
            return None
        return next((p for p in self.plan.steps if p.id == step_id), None)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        """Inspect any step; the cursor follows the run again when it is on the focus step."""
        self._follow = event.row_key.value == self._focus
        self._show_detail()

    # -- questions -------------------------------------------------------------------------

    def _ask(self, pending: PendingQuestion) -> None:
        q = pending.question
        if q.kind in (QuestionKind.CONFIRM, QuestionKind.MANUAL):
            self._ask_confirm(q)
        elif q.kind == QuestionKind.FAILURE:
            self._ask_failure(q)
        else:
            self._ask_unknown(q)

    def _still(self, question: Question) -> bool:
        pending = self.session.pending
        return pending is not None and pending.question is question

    def _ask_confirm(self, q: Question) -> None:
        screen = confirm_dialog(q)

        def answered(yes: bool | None) -> None:
            if yes and self._still(q):
                self._act(self.session.confirm)

        self.app.push_screen(screen, answered)

    def _ask_failure(self, q: Question) -> None:
        def picked(action: str | None) -> None:
            if action is None or not self._still(q):
                return
            if action == "retry":
                self.action_retry()
            elif action == "skip":
                self.action_skip()
            elif action == "continue":
                self._ask_reason(
                    f"Continue after {q.step_id}",
                    "Why go on with this step failed? (recorded)",
                    self.session.continue_after_failure,
                )
            else:
                self.action_abort()

        self.app.push_screen(failure_dialog(q), picked)

    def _ask_unknown(self, q: Question) -> None:
        def picked(action: str | None) -> None:
            if action is None or not self._still(q):
                return
            if action == "rerun":
                self._confirm_then(f"Run {q.step_id} again?", q.title, self.session.confirm)
            elif action == "skip":
                self.action_skip()
            else:
                self.action_abort()

        self.app.push_screen(unknown_dialog(q), picked)

    # -- helpers ---------------------------------------------------------------------------

    def _act(self, fn: object, *args: object) -> None:
        """Run a session action; a refusal becomes a notice, never a crash."""
        try:
            fn(*args)  # type: ignore[operator]
        except SessionError as exc:
            self.notify(str(exc), severity="warning")
        self.refresh_from_session()

    def _ask_reason(self, title: str, prompt: str, then: object, ok: str = "Record") -> None:
        def got(text: str | None) -> None:
            if text:
                self._act(then, text)

        self.app.push_screen(ReasonScreen(title, prompt, ok=ok), got)

    def _confirm_then(self, title: str, body: str, then: object) -> None:
        def answered(yes: bool | None) -> None:
            if yes:
                self._act(then)

        self.app.push_screen(ConfirmScreen(title, body, yes="Yes", no="No"), answered)

    def _ended(self) -> None:
        s = self.session
        if s.lock_message is not None:
            self.app.push_screen(
                MessageScreen(
                    "Locked by another run",
                    f"{s.lock_message}\n\nNothing was changed. Wait for that run to end, or, "
                    "if its process is gone, break the stale lock from a shell with "
                    "drconsole run --break-lock (it is recorded).",
                )
            )
        elif s.error is not None:
            self.app.push_screen(MessageScreen("The run could not start", s.error))
        elif s.result is not None:
            severity = "information" if s.result.outcome == "succeeded" else "warning"
            self.notify(
                f"{s.playbook.name}: {s.result.outcome} — {s.result.summary}",
                severity=severity,  # type: ignore[arg-type]
                timeout=8,
            )

    # -- actions ---------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Dim the keys that do nothing now (they stay listed, so the operator learns them)."""
        s = self.session
        pending = s.pending
        if action == "retry":
            return (
                True
                if pending is not None and pending.question.kind == QuestionKind.FAILURE
                else None
            )
        if action == "export":
            return True if s.finished and s.run_id else None
        if action in ("abort", "pause", "note"):
            return True if s.running else None
        if action == "skip":
            return True if pending is not None or (s.running and s.engine.paused) else None
        if action == "commit":
            return True if s.awaiting_commit else False  # noqa: SIM210 - False hides the key
        return True

    def action_run_next(self) -> None:
        """Start the run, answer the open question, or (paused) run exactly the next step."""
        s = self.session
        if not s.started:
            self._confirm_start()
        elif s.pending is not None:
            self._ask(s.pending)
        elif s.running and s.engine.paused:
            self._act(s.run_next_step)
            self.notify("running the next step, then pausing again", timeout=3)
        elif s.running:
            self.notify("the run is going; p pauses it before the next step", timeout=3)
        else:
            self.notify("this run has ended; open a new one from the playbooks (2)", timeout=4)

    def _confirm_start(self) -> None:
        s = self.session

        def answered(yes: bool | None) -> None:
            if yes and not s.started:
                self.post_message(RunStartRequested(s))

        self.app.push_screen(start_dialog(s), answered)

    def action_skip(self) -> None:
        """Skip the step that waits for you (or, paused, the next one); asks why."""
        s = self.session
        if s.pending is not None:
            target = s.pending.question.step_id
        elif s.running and s.engine.paused and s.next_step():
            target = s.next_step() or ""
        else:
            self.notify(
                "skip applies to a step that waits for you; p pauses before the next step",
                severity="warning",
            )
            return
        self._ask_reason(
            f"Skip {target}",
            f"Why skip {target}? The reason is recorded in the audit log with your name.",
            s.skip,
            ok="Skip it",
        )

    def action_retry(self) -> None:
        """Run the failed step again (asks first)."""
        s = self.session
        pending = s.pending
        if pending is None or pending.question.kind != QuestionKind.FAILURE:
            self.notify("retry applies to a failed step that waits for you", severity="warning")
            return
        q = pending.question
        self._confirm_then(
            f"Run {q.step_id} again?",
            f"{q.title}\non {', '.join(q.targets) or 'its hosts'}",
            s.retry,
        )

    def action_abort(self) -> None:
        """Abort the run; offers the rollback."""
        s = self.session
        if not s.running:
            self.notify("the run is not running", severity="warning")
            return
        rollback = [st.id for st in s.playbook.rollback]

        def chosen(choice: AbortChoice | None) -> None:
            if choice is not None:
                self._act(lambda: s.abort(choice.reason, rollback=choice.rollback))

        self.app.push_screen(
            AbortScreen(
                f"Abort {s.playbook.name} (run {s.run_id})?",
                has_rollback=bool(rollback),
                rollback_steps=rollback,
            ),
            chosen,
        )

    def action_commit(self) -> None:
        """Commit the run's new state (after a yes/no dialog whose default is No)."""
        s = self.session
        if not s.awaiting_commit:
            self.notify("the run is not awaiting a commit", severity="warning")
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self._act(s.commit)

        self.app.push_screen(
            ConfirmScreen(
                "Commit the new state?",
                "The run ends committed: its rollback will not run. Recorded with your name.",
                yes="Yes, commit",
            ),
            answered,
        )

    def action_note(self) -> None:
        """Add a note to the run (recorded with your name)."""
        s = self.session
        if not s.running:
            self.notify("notes are recorded in a running run", severity="warning")
            return
        self._ask_reason(
            "Add a note",
            "The note is recorded in the audit log with your name.",
            s.add_note,
            ok="Add note",
        )

    def action_pause(self) -> None:
        """Pause before the next step (the running step finishes), or go on."""
        s = self.session
        try:
            paused = s.toggle_pause()
        except SessionError as exc:
            self.notify(str(exc), severity="warning")
            return
        self.notify(
            "pausing before the next step (the running one finishes)" if paused else "going on",
            timeout=3,
        )
        self.refresh_from_session()

    def action_export(self) -> None:
        """Export the finished run's report."""
        s = self.session
        if not s.finished or not s.run_id:
            self.notify("the report is for a finished run", severity="warning")
            return
        self.post_message(ExportRequested(s.run_id))
