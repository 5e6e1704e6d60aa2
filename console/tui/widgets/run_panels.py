"""The small panels of the run screen: the RTO clock, the decision bar, the step detail and
the compact replication panel. Each is a ``Static`` that formats values it is handed."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.widgets import Static

from console import events as ev
from console.engine.plan import PlannedStep
from console.model.inventory import Inventory
from console.model.playbook import Step
from console.status.collector import StatusSnapshot
from console.status.freshness import not_answering, shown_health
from console.tui.format import (
    fmt_age,
    fmt_bytes_compact,
    fmt_clock,
    fmt_objective,
    fmt_seconds,
    health_label,
    step_label,
)
from console.tui.palette import DEFAULT_PALETTE, Palette


class RtoClock(Static):
    """The measured outage against the objective, and the data loss once known."""

    DEFAULT_CSS = """
    RtoClock {
        height: auto;
        border: round $primary 60%;
        border-title-style: bold;
        padding: 0 1;
    }
    RtoClock.-over { border: heavy $error; }
    """

    palette: Palette = DEFAULT_PALETTE

    def show(
        self,
        *,
        elapsed: float | None,
        ended: bool,
        objective: float | None,
        start_step: str | None,
        rpo_seconds: float | None,
        rpo_writes: int | None,
        rpo_objective: float | None,
        canary_acked: int,
        canary_enabled: bool,
    ) -> None:
        """Redraw."""
        p = self.palette
        text = Text()
        over = elapsed is not None and objective is not None and elapsed > objective
        text.append("RTO ", style="bold")
        if elapsed is None:
            text.append("--:--", style="bold")
            where = f" starts at {start_step}" if start_step else " not measured"
            text.append(where, style=p.muted)
        else:
            text.append(fmt_clock(elapsed), style=p.crit if over else "bold")
            if ended:
                text.append(f" ({fmt_seconds(elapsed)})", style=p.muted)
        text.append(f" / {fmt_objective(objective)}")
        if elapsed is not None and objective is not None:
            if over:
                text.append(" ✗ over", style=p.crit)
            elif ended:
                text.append(" ✓ met", style=p.ok)
        text.append("\nRPO ", style="bold")
        if rpo_seconds is None:
            if canary_enabled:
                text.append(f"measured at the end · canary {canary_acked} acked", style=p.muted)
            else:
                text.append("not measured (no canary)", style=p.muted)
        else:
            lost = f", {rpo_writes} write(s) lost" if rpo_writes is not None else ""
            met = rpo_objective is None or rpo_seconds <= rpo_objective
            text.append(f"{fmt_seconds(rpo_seconds)}{lost}", style=p.ok if met else p.crit)
            text.append(f" / {fmt_objective(rpo_objective)}")
        self.set_class(over, "-over")
        self.update(text)


class DecisionBar(Static):
    """What the run waits for, and the keys that answer it."""

    DEFAULT_CSS = """
    DecisionBar {
        height: auto;
        padding: 0 1;
        background: $panel;
    }
    DecisionBar.-ask { background: $warning; color: $background; text-style: bold; }
    DecisionBar.-failed { background: $error; color: $text; text-style: bold; }
    DecisionBar.-done { background: $success 40%; }
    """

    _said: tuple[str, str] = ("", "")

    def say(self, text: str, level: str = "") -> None:
        """Show ``text``; ``level`` is ``ask``, ``failed``, ``done`` or empty."""
        if (text, level) == self._said:
            return
        self._said = (text, level)
        for cls in ("ask", "failed", "done"):
            self.set_class(level == cls, f"-{cls}")
        self.update(Text(text))


class StepDetail(Static):
    """The step under the cursor: title, description, targets, commands, wait progress."""

    DEFAULT_CSS = """
    StepDetail {
        height: auto;
        max-height: 45%;
        border: round $primary 60%;
        border-title-style: bold;
        padding: 0 1;
        overflow-y: auto;
    }
    """

    palette: Palette = DEFAULT_PALETTE

    def show(
        self,
        step: Step,
        number: str,
        status: str,
        started: ev.StepStarted | None,
        planned: PlannedStep | None,
        waiting: ev.WaitProgress | None,
        reason: str | None,
        max_commands: int = 4,
    ) -> None:
        """Redraw for one step (as started, or as planned when it has not started)."""
        p = self.palette
        flags = [step.kind]
        if step.confirm:
            flags.append("confirm")
        if step.rto:
            flags.append(f"rto:{step.rto}")
        if step.kind == "run":
            flags.append(f"on failure {step.on_failure}")
        self.border_title = f"{number} {step.id}"
        self.border_subtitle = step_label(status)
        text = Text()
        title = started.title if started else (planned.title if planned else step.title.source)
        text.append(title, style="bold")
        text.append(f"   [{' · '.join(flags)}]", style=p.muted)
        description = started.description if started else None
        if description:
            text.append(f"\n{description}", style=p.muted)
        targets = started.targets if started else (planned.targets if planned else ())
        if targets:
            text.append("\non ", style=p.muted)
            text.append(", ".join(targets), style="bold")
        elif planned is not None and planned.problem and started is None:
            text.append(f"\ncannot be rendered now: {planned.problem}", style=p.warn)
        instructions = (
            started.instructions if started else (planned.instructions if planned else None)
        )
        if instructions:
            text.append("\nmanual: ", style=p.warn)
            text.append(instructions)
        commands: Sequence[tuple[str, str]] = ()
        if started is not None and started.commands:
            commands = tuple(started.commands.items())
        elif planned is not None:
            commands = planned.commands
        for host, command in commands[:max_commands]:
            text.append(f"\n{host} $ ", style=p.muted)
            text.append(command)
        if len(commands) > max_commands:
            text.append(f"\n… and {len(commands) - max_commands} more host(s)", style=p.muted)
        if planned is not None and planned.wait and not commands:
            text.append(f"\nwaits {planned.wait}", style=p.muted)
        if waiting is not None and status in ("running", "waiting"):
            mark = "✓" if waiting.satisfied else "…"
            text.append(
                f"\n{mark} {fmt_seconds(waiting.elapsed)} of {fmt_seconds(waiting.timeout)}: "
                f"{waiting.detail.splitlines()[0] if waiting.detail else ''}",
                style=p.ok if waiting.satisfied else p.accent,
            )
        if reason and status in ("failed", "skipped", "aborted", "unknown", "continued", "waiting"):
            text.append(f"\n{reason}", style=p.crit if status == "failed" else p.warn)
        self.update(text)


class ReplicationPanel(Static):
    """The playbook's services, live: one line per member, with its age."""

    DEFAULT_CSS = """
    ReplicationPanel {
        height: auto;
        border: round $primary 60%;
        border-title-style: bold;
        padding: 0 1;
    }
    """

    palette: Palette = DEFAULT_PALETTE

    def show(
        self,
        inventory: Inventory,
        services: Sequence[str],
        snapshot: StatusSnapshot | None,
        now: float,
    ) -> None:
        """Redraw from the newest snapshot."""
        p = self.palette
        text = Text()
        first = True
        for name in services:
            if name not in inventory.services:
                continue
            if not first:
                text.append("\n")
            first = False
            text.append(name, style="bold")
            topo = snapshot.topologies.get(name) if snapshot else None
            if topo is not None and topo.split_brain:
                text.append("  SPLIT BRAIN", style=p.crit)
            elif topo is not None and topo.primary is None:
                text.append("  NO PRIMARY", style=p.crit)
            for host in inventory.services[name].members:
                m = snapshot.get(name, host) if snapshot else None
                site = inventory.hosts[host].site
                text.append(f"\n {site} ")
                if m is None:
                    text.append("? no sample yet", style=p.muted)
                    continue
                health = shown_health(inventory, m, now)
                stale = health == "stale"
                role = m.role + ("⇄" if m.health.diverged else "")
                text.append(f"{role} ", style=p.muted if stale else "")
                text.append(health_label(health), style=p.health(health))
                if m.role == "replica":
                    # a stale lag is the last value, dimmed beside its age, not a current one
                    lag = Text(f" {fmt_seconds(m.sample.lag_seconds)}")
                    if m.sample.lag_bytes:
                        lag.append(f" {fmt_bytes_compact(m.sample.lag_bytes)}")
                    if stale:
                        lag.stylize(p.muted)
                    text.append_text(lag)
                age = fmt_age(m.sample.age(now))
                text.append(
                    f" {not_answering(m.sample.age(now))}" if stale else f" {age}",
                    style=p.unknown if stale else p.muted,
                )
        if first:
            text.append("no replicated service in this playbook", style=p.muted)
        self.update(text)
