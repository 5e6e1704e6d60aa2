"""The replay screen: a recorded run played back from the audit log, at 1x, 10x or step by step.

The run screen's widgets (steps, objectives, log, decision bar, mode banner) driven by a
:class:`~console.tui.replay.Replay` instead of an engine, with the replication panel showing
the samples the run recorded, aged against the replay clock. The screen has no transport and
no session: nothing it does can reach a host. Every key is a ``Binding``.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer, Static

from console import events as ev
from console.audit.model import Event as StoredEvent
from console.tui.format import fmt_age, fmt_clock, fmt_seconds, health_label, step_label
from console.tui.palette import DEFAULT_PALETTE, Palette
from console.tui.replay import Replay
from console.tui.widgets.banner import ModeBanner
from console.tui.widgets.output_log import OutputLog
from console.tui.widgets.run_panels import DecisionBar, RtoClock
from console.tui.widgets.step_list import StepList

TICK = 0.1
"""Seconds between clock ticks while playing."""
FOLLOW_EVERY = 1.0
"""Seconds between reads of a run in progress."""

Follow = Callable[[int], list[StoredEvent]]
"""The run's events after a sequence number (``AuditStore.events(run_id, after_seq=n)``)."""
SPEEDS = (1.0, 10.0)
"""The speeds ``f`` cycles through."""


class ReplayScreen(Screen[None]):
    """One recorded run, played back."""

    DEFAULT_CSS = """
    ReplayScreen #replay-title { height: 1; padding: 0 1; }
    ReplayScreen #replay-body { height: 1fr; }
    ReplayScreen #replay-left { width: 44; }
    ReplayScreen #replay-right { width: 1fr; }
    ReplayScreen #replay-samples {
        height: auto;
        max-height: 14;
        border: round $primary 60%;
        border-title-style: bold;
        padding: 0 1;
    }
    ReplayScreen #replay-detail {
        height: auto;
        max-height: 40%;
        border: round $primary 60%;
        border-title-style: bold;
        padding: 0 1;
    }
    """

    BINDINGS = [
        Binding("space", "play", "Play/pause"),
        Binding("f", "speed", "Speed 1x/10x"),
        Binding("n", "next_step", "Next step"),
        Binding("b", "restart", "From the start"),
        Binding("e", "end", "To the end"),
        Binding("l", "live", "Live"),
        Binding("escape", "close", "Close"),
    ]

    def __init__(
        self,
        replay: Replay,
        *,
        palette: Palette = DEFAULT_PALETTE,
        follow: Follow | None = None,
    ) -> None:
        """
        Args:
            replay: The recorded run.
            palette: The app's colours.
            follow: For a run still in progress: reads its newer events; the screen then
                starts live (at the newest event, following the log as it grows) until a key
                moves it back in time (``l`` goes live again).
        """
        super().__init__()
        self.replay = replay
        self.palette = palette
        self.follow = follow
        self.following = follow is not None
        """At the newest event, taking new ones as they are recorded."""
        replay.live = follow is not None
        self.playing = False
        """The clock runs."""
        self.speed = SPEEDS[0]
        self._last_tick: float | None = None

    def compose(self) -> ComposeResult:
        r = self.replay
        yield ModeBanner(id="replay-banner")
        yield Static(id="replay-title")
        yield DecisionBar(id="replay-bar")
        with Horizontal(id="replay-body"):
            with Vertical(id="replay-left"):
                yield StepList(r.steps, id="replay-steps")
                yield RtoClock(id="replay-rto")
                yield Static(id="replay-samples")
            with Vertical(id="replay-right"):
                yield Static(id="replay-detail")
                yield OutputLog(r.host_width, id="replay-output")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#replay-steps", StepList).border_title = "steps"
        self.query_one("#replay-rto", RtoClock).border_title = "objectives"
        self.query_one("#replay-samples", Static).border_title = "replication (recorded)"
        self.query_one("#replay-output", OutputLog).border_title = "output (recorded)"
        self.query_one("#replay-steps", StepList).palette = self.palette
        self.query_one("#replay-rto", RtoClock).palette = self.palette
        self.query_one("#replay-output", OutputLog).set_palette(self.palette)
        self.set_interval(TICK, self._tick, name="replay clock")
        if self.follow is not None:
            self.set_interval(FOLLOW_EVERY, self._read_on, name="replay follows the log")
            self._to_end()
        self.redraw()

    def _read_on(self) -> None:
        """Take the events the run recorded since (a run in progress)."""
        if self.follow is None:
            return
        self.replay.extend(self.follow(self.replay.last_seq))
        if self.following:
            self._to_end()
        if any(isinstance(e.event, ev.RunFinished) for e in self.replay.events[-1:]):
            self.replay.live = False
        self.redraw()

    def _to_end(self) -> None:
        self.replay.advance(self.replay.duration)
        while self.replay.apply_next() is not None:
            pass

    # -- the clock -------------------------------------------------------------------------

    def _tick(self) -> None:
        now = time.monotonic()
        last, self._last_tick = self._last_tick, now
        if not self.playing or last is None:
            return
        self.replay.advance((now - last) * self.speed)
        if self.replay.at_end:
            self.playing = False
        self.redraw()  # the clock moved even when no event was due

    # -- drawing ---------------------------------------------------------------------------

    def redraw(self) -> None:
        """Draw the replay's state at its position."""
        r = self.replay
        self.query_one("#replay-banner", ModeBanner).mode = r.mode
        self.query_one("#replay-title", Static).update(self._title())
        self.query_one("#replay-bar", DecisionBar).say(*self._bar())
        steps = self.query_one("#replay-steps", StepList)
        steps.show({sid: r.status_of(sid) for sid, _ in r.steps})
        steps.point_at(r.current_step)
        log = self.query_one("#replay-output", OutputLog)
        if r.lines_total < log.shown_total:  # restarted: the log starts again too
            log.clear()
            log.shown_total = 0
        log.take(r.lines, r.lines_total)
        self._show_rto()
        self._show_samples()
        self._show_detail()

    def _title(self) -> Text:
        r = self.replay
        p = self.palette
        text = Text()
        text.append("REPLAY ", style=p.accent)
        text.append(f"{r.title}", style="bold")
        text.append(f"  run {r.record.run_id} · {r.record.operator} · ", style=p.muted)
        word = r.run_word()
        style = {"succeeded": p.ok, "running": p.accent}.get(word, p.crit)
        text.append(word.upper(), style=style)
        return text

    def _bar(self) -> tuple[str, str]:
        r = self.replay
        where = (
            f"{fmt_clock(r.clock)} of {fmt_clock(r.duration)} · event {r.position}/"
            f"{len(r.events)} · {self.speed:g}x"
        )
        state = "playing" if self.playing else ("end of the log" if r.at_end else "paused")
        if self.following and r.live:
            state = "LIVE, following the run's audit log"
        line = f"replay {state} · {where} · nothing is sent to any host"
        live = r.live and r.finished is None
        if r.waiting and (live or not r.at_end):
            word = "waits" if live and r.at_end else "waited"
            return f"{line} · the run {word} for {r.waiting}", "ask"
        if r.at_end and not live:
            return line, "done" if r.run_word() == "succeeded" else "failed"
        return line, ""

    def _show_rto(self) -> None:
        r = self.replay
        start_step = None
        result = r.finished
        self.query_one("#replay-rto", RtoClock).show(
            elapsed=r.rto_elapsed(),
            ended=r.rto_end is not None,
            objective=r.objectives.get("rto"),
            start_step=start_step,
            rpo_seconds=result.rpo_seconds if result else None,
            rpo_writes=result.rpo_writes if result else None,
            rpo_objective=r.objectives.get("rpo"),
            canary_acked=r.canary_acked,
            canary_enabled=r.canary_acked > 0,
        )

    def _show_samples(self) -> None:
        r = self.replay
        p = self.palette
        text = Text()
        if not r.samples:
            text.append("no sample recorded yet", style=p.muted)
        service = None
        for (svc, site), s in sorted(r.samples.items()):
            if svc != service:
                if service is not None:
                    text.append("\n")
                text.append(svc, style="bold")
                service = svc
            m = s.sample
            text.append(f"\n {site} {m.role} ")
            text.append(health_label(m.health), style=p.health(m.health))
            if m.role == "replica":
                text.append(f" {fmt_seconds(m.lag_seconds)}")
            text.append(f" {fmt_age(r.clock - s.offset)}", style=p.muted)
        self.query_one("#replay-samples", Static).update(text)

    def _show_detail(self) -> None:
        r = self.replay
        p = self.palette
        detail = self.query_one("#replay-detail", Static)
        sid = r.current_step
        if sid is None:
            detail.border_title = "step"
            detail.update(Text("the run has not started a step yet", style=p.muted))
            return
        info = r.step_info.get(sid)
        number = r.step_numbers.get(sid)
        detail.border_title = f"{number}/{len(r.step_numbers)} {sid}" if number else sid
        detail.border_subtitle = step_label(r.status_of(sid))
        text = Text()
        if info is not None:
            text.append(info.title, style="bold")
            text.append(f"   [{info.step_kind}]", style=p.muted)
            if info.targets:
                text.append("\non ", style=p.muted)
                text.append(", ".join(info.targets), style="bold")
            if info.instructions:
                text.append("\nmanual: ", style=p.warn)
                text.append(info.instructions)
            for host, command in list(info.commands.items())[:4]:
                text.append(f"\n{host} $ ", style=p.muted)
                text.append(command)
        detail.update(text)

    # -- keys ------------------------------------------------------------------------------

    def action_live(self) -> None:
        """Back to the newest event of a run in progress, following it."""
        if self.follow is None or not self.replay.live:
            self.notify("this run has ended: there is nothing live to follow", timeout=3)
            return
        self.following = True
        self.playing = False
        self._to_end()
        self.redraw()

    def action_play(self) -> None:
        """Play or pause (at the end, play starts again from the start)."""
        self.following = False
        if self.replay.at_end and not self.playing:
            self.replay.restart()
        self.playing = not self.playing
        self._last_tick = time.monotonic()
        self.redraw()

    def action_speed(self) -> None:
        """1x, then 10x, then 1x again."""
        self.speed = SPEEDS[(SPEEDS.index(self.speed) + 1) % len(SPEEDS)]
        self.redraw()

    def action_next_step(self) -> None:
        """Pause, and go to the next step boundary."""
        self.following = False
        self.playing = False
        self.replay.next_step()
        self.redraw()

    def action_restart(self) -> None:
        """Back to the start (paused)."""
        self.following = False
        self.playing = False
        self.replay.restart()
        self.redraw()

    def action_end(self) -> None:
        """Straight to the end of the log."""
        self.playing = False
        self._to_end()
        self.redraw()

    def action_close(self) -> None:
        """Leave the replay."""
        self.dismiss(None)
