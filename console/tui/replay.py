"""Drill replay: a recorded run played back from its audit log, for the post-mortem and for
training. Pure state, no widgets and no IO after loading: the replay screen
(``console.tui.screens.replay``) draws it, a clock moves it.

A :class:`Replay` holds the run's events in order, each with its offset from the run's first
event, and folds them up to a position: step states, the run log's lines (the same lines the
live run screen showed, from ``console.tui.runlog``), the recorded replication samples, the
RTO marks, the outcome. :meth:`Replay.advance` moves by replay seconds (the screen calls it
with wall-clock seconds times the speed, 1x or 10x); :meth:`Replay.next_step` jumps to the next
step boundary; :meth:`Replay.restart` goes back to the start. Nothing here talks to a host:
the replay has no transport at all, only the events.

Interrupted and failed runs replay like any other: the log simply ends where the run did
(an interrupted run has no ``run_finished``; its step in flight stays "running" until the end
of the log, then shows "unknown", as resume would call it).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from console import events as ev
from console.audit.model import Event as StoredEvent
from console.audit.model import RunRecord
from console.tui.runlog import SYSTEM, event_lines, output_lines

KEEP_LINES = 5000
"""Log lines a replay keeps (the live run screen keeps as many)."""


@dataclass(frozen=True)
class ReplayEvent:
    """One recorded event and when it happened in the run."""

    offset: float
    """Seconds after the run's first event."""
    event: ev.Recorded
    """The event as decoded from the log."""
    operator: str
    """Who was operating when it was recorded."""


@dataclass(frozen=True)
class Sample:
    """A recorded replication sample and when it was taken."""

    offset: float
    sample: ev.ProbeSample


class Replay:
    """A run's recorded events and the state they fold to at the current position."""

    def __init__(self, record: RunRecord, events: list[StoredEvent]) -> None:
        self.record = record
        """The run as the runs table holds it (status, playbook, operator...)."""
        first = events[0].payload.ts if events else 0.0
        self.events = [ReplayEvent(e.payload.ts - first, e.payload, e.operator) for e in events]
        """Every event of the run, in order."""
        self.started_at = first
        """Wall-clock time of the run's first event."""
        self.duration = self.events[-1].offset if self.events else 0.0
        """Seconds from the first event to the last."""
        plan = next((e.event for e in self.events if isinstance(e.event, ev.RunPlanned)), None)
        main = [p.id for p in plan.steps] if plan else []
        self.confirm_steps = (
            frozenset(p.id for p in (*plan.steps, *plan.rollback) if p.confirm)
            if plan
            else frozenset()
        )
        """Steps that ask for a confirmation before they run (from the recorded plan)."""
        rollback = [p.id for p in plan.rollback] if plan else []
        for e in self.events:  # a log without run_plan (older runs): the steps it started
            if isinstance(e.event, ev.StepStarted) and e.event.step_id:
                sid = e.event.step_id
                if sid not in main and sid not in rollback:
                    (rollback if e.event.rollback else main).append(sid)
        self.steps: list[tuple[str, bool]] = [(s, False) for s in main] + [
            (s, True) for s in rollback
        ]
        """(step id, is a rollback step), as the step list shows them."""
        self.step_numbers = {sid: i + 1 for i, sid in enumerate(main)}
        self.host_width = min(16, max((len(e.event.host or "") for e in self.events), default=4))
        self.last_seq = events[-1].seq if events else 0
        """The newest event's sequence number (``extend`` reads on from there)."""
        self.live = False
        """The run is still going: the log does not end where it ends now (``extend``)."""
        self.restart()

    @classmethod
    def load(cls, store: object, run_id: str) -> Replay:
        """Read a run from an audit store (``AuditStore``: ``get_run`` and ``events``).

        Raises:
            KeyError: no such run.
        """
        record = store.get_run(run_id)  # type: ignore[attr-defined]
        if record is None:
            raise KeyError(run_id)
        return cls(record, list(store.events(run_id)))  # type: ignore[attr-defined]

    def extend(self, events: list[StoredEvent]) -> int:
        """Append events the run recorded since (a run in progress, followed live); how many.

        The step list is the recorded plan's, so it does not change; the duration grows.
        """
        new = [e for e in events if e.seq > self.last_seq]
        for e in new:
            self.events.append(ReplayEvent(e.payload.ts - self.started_at, e.payload, e.operator))
        if new:
            self.last_seq = new[-1].seq
            self.duration = self.events[-1].offset
        return len(new)

    # -- position --------------------------------------------------------------------------

    def restart(self) -> None:
        """Back to before the first event."""
        self.position = 0
        """How many events are applied."""
        self.clock = 0.0
        """Replay time: seconds after the run's first event."""
        self.statuses: dict[str, str] = {sid: "pending" for sid, _ in self.steps}
        self.lines: deque[str] = deque(maxlen=KEEP_LINES)
        self.lines_total = 0
        self.samples: dict[tuple[str, str], Sample] = {}
        """The newest recorded sample per (service, site)."""
        self.step_info: dict[str, ev.StepStarted] = {}
        self.current_step: str | None = None
        self.rto_start: float | None = None
        self.rto_end: float | None = None
        self.canary_acked = 0
        self.measurement: ev.Measurement | None = None
        self.finished: ev.RunFinished | None = None
        self.waiting: str | None = None
        """What a person was being asked when the log reached this point (None: nothing)."""
        self.mode = "drill"
        self.title = self.record.playbook_title or self.record.playbook_name
        self.objectives: dict[str, float | None] = {"rto": None, "rpo": None}

    @property
    def at_end(self) -> bool:
        """Every event is applied."""
        return self.position >= len(self.events)

    def apply_next(self) -> ReplayEvent | None:
        """Apply one more event; the event, or None at the end."""
        if self.at_end:
            return None
        item = self.events[self.position]
        self.position += 1
        self.clock = max(self.clock, item.offset)
        self._apply(item)
        if self.at_end and not (self.live and self.finished is None):
            self._ended()
        return item

    def advance(self, seconds: float) -> int:
        """Move the replay clock by ``seconds``; applies the events now due; how many."""
        self.clock = min(self.duration, self.clock + max(0.0, seconds))
        n = 0
        while not self.at_end and self.events[self.position].offset <= self.clock:
            self.apply_next()
            n += 1
        return n

    def next_step(self) -> int:
        """Apply events up to and including the next step boundary (a step starting or
        ending, a decision, the run's end); how many were applied."""
        n = 0
        while (item := self.apply_next()) is not None:
            n += 1
            if isinstance(
                item.event, ev.StepStarted | ev.StepFinished | ev.Decision | ev.RunFinished
            ):
                break
        return n

    def seek(self, offset: float) -> None:
        """Jump to ``offset`` seconds into the run (back or forward)."""
        if offset < self.clock:
            self.restart()
        self.advance(offset - self.clock)

    # -- what views show -------------------------------------------------------------------

    def status_of(self, step_id: str) -> str:
        """The step's status at this point of the replay (as the run screen words it)."""
        status = self.statuses.get(step_id, "pending")
        if status == "pending" and self.at_end and not (self.live and self.finished is None):
            return "not run"
        if self.waiting is not None and step_id == self.current_step and status == "running":
            return "waiting"
        return status

    def rto_elapsed(self) -> float | None:
        """The outage measured so far (None before its start mark)."""
        if self.rto_start is None:
            return None
        return (self.rto_end if self.rto_end is not None else self.clock) - self.rto_start

    def run_word(self) -> str:
        """Where the run stands at this point: ``running``, or how it ended."""
        if self.finished is not None:
            return str(self.finished.outcome)
        if self.at_end and not self.live:
            return str(self.record.status)
        return "running"

    # -- folding ---------------------------------------------------------------------------

    def _add(self, lines: list[str]) -> None:
        self.lines.extend(lines)
        self.lines_total += len(lines)

    def _apply(self, item: ReplayEvent) -> None:
        e = item.event
        if isinstance(e, ev.RunCreated):
            self.mode = e.mode
            self.title = e.playbook.title or e.playbook.name
            self.objectives = {"rto": e.rto_objective, "rpo": e.rpo_objective}
            self._add(
                [
                    f"{SYSTEM}run {self.record.run_id} started: {self.title} ({e.playbook.name}), "
                    f"{e.mode.upper()} mode, operator {item.operator}"
                ]
            )
            return
        if isinstance(e, ev.RunResumed):
            self._add([f"{SYSTEM}run resumed (it was {e.previous_status}) by {item.operator}"])
            return
        if isinstance(e, ev.UnknownEvent):
            self._add([f"{SYSTEM}({e.stored_kind})"])
            return
        if isinstance(e, ev.OutputLines):
            self._add(output_lines(e, self.host_width))
        else:
            self._add(event_lines(e, self.step_numbers, len(self.step_numbers)))
        sid = e.step_id
        match e:
            case ev.StepStarted():
                if sid:
                    self.statuses[sid] = "running"
                    self.step_info[sid] = e
                    self.current_step = sid
                    self.waiting = "confirmation" if sid in self.confirm_steps else None
                    if e.step_kind == ev.StepKind.MANUAL:
                        self.waiting = "the manual step to be done"
            case ev.CommandIntent():
                self.waiting = None
            case ev.Decision():
                self.waiting = None
                if sid and e.action == ev.DecisionAction.CONTINUE:
                    self.statuses[sid] = "continued"
            case ev.StepFinished():
                if sid:
                    word = str(e.outcome)
                    if self.statuses.get(sid) == "continued":
                        word = "continued"
                    self.statuses[sid] = "not run" if word == "stopped" else word
                    self.waiting = None
            case ev.ProbeSample():
                self.samples[(e.service, e.site)] = Sample(item.offset, e)
            case ev.RtoMark():
                if e.mark == ev.RtoEdge.START:
                    self.rto_start = item.offset
                else:
                    self.rto_end = item.offset
            case ev.CanaryWrite():
                if e.ok:
                    self.canary_acked += 1
            case ev.Measurement():
                self.measurement = e
            case ev.RunFinished():
                self.finished = e
                self.waiting = None
            case _:
                pass

    def _ended(self) -> None:
        """The log ends here: a step still running was in flight when the log stopped."""
        self.waiting = None if self.finished is not None else self.waiting
        if self.finished is None:
            for sid, status in self.statuses.items():
                if status == "running":
                    self.statuses[sid] = "unknown"
            self._add([f"{SYSTEM}the log ends here: the run is {self.record.status}"])
