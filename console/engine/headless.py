"""``drconsole run`` and ``drconsole plan``: the engine from a shell, cron or CI.

Human output is one line per step with its status and duration, host-prefixed output lines,
and a summary with the objectives next to the measured RTO and RPO; ``--json`` prints one JSON
object per event instead. Ctrl-C (or SIGTERM) stops the running command on the host, records
where the run stopped, and exits 130.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any, TextIO, assert_never

from rich.console import Console
from rich.markup import escape

from console import events as ev
from console.audit.database import is_store_url
from console.audit.fallback import FallbackStore
from console.audit.leases import DEFAULT_TTL
from console.audit.store import AuditStore
from console.engine.decider import HeadlessDecider
from console.engine.plan import Plan, make_plan
from console.engine.prepare import Prepared, prepare
from console.engine.runner import Engine, RunConfig, RunResult
from console.errors import ExitCode, InputError
from console.model.durations import DurationError, format_duration, parse_duration
from console.notify.run import RunNotifications
from console.notify.sender import DEFAULT_TIMEOUT
from console.notify.targets import NotifyTarget, command_line_targets
from console.ssh.pool import SshPool
from console.status.collector import StatusCollector

_ICONS = {
    "ok": ("✓", "green"),
    "failed": ("✗", "red"),
    "skipped": ("↷", "yellow"),
    "unknown": ("?", "magenta"),
    "aborted": ("■", "red"),
}


class HumanPrinter:
    """Readable progress on a terminal (or a CI log)."""

    def __init__(self, out: TextIO | None = None) -> None:
        self.console = Console(file=out or sys.stdout, highlight=False, soft_wrap=True)
        self.run_started = time.monotonic()
        self.total_steps = 0
        self.step_no: dict[str, int] = {}
        self.run_id: str | None = None

    def __call__(self, event: ev.Event) -> None:
        c = self.console
        e = ev.as_emitted(event)
        match e:
            case ev.RunStarted():
                self.run_id = e.run_id
                self.total_steps = len(e.steps)
                self.step_no = {sid: i + 1 for i, sid in enumerate(e.steps)}
                word = "resumed" if e.resumed else "started"
                c.print(f"run {e.run_id}")
                c.print(
                    f"[bold]{escape(e.title)}[/] ({e.playbook}) {word} in "
                    f"[bold]{e.mode.upper()}[/] mode by {escape(e.operator)}"
                )
            case ev.GateResult():
                mark = "[green]✓[/]" if e.ok else "[red]✗[/]"
                c.print(f"  gate {e.index} {mark} {escape(e.gate)}")
                if not e.ok:
                    for line in e.detail.splitlines():
                        c.print(f"      {escape(line)}")
            case ev.StepStarted():
                n = self.step_no.get(e.step_id or "", 0)
                where = f" on {', '.join(e.targets)}" if e.targets else ""
                label = "rollback" if e.rollback else f"step {n}/{self.total_steps}"
                again = f" (attempt {e.attempt})" if e.attempt > 1 else ""
                c.print(f"[bold]{label} {e.step_id}[/]{again}: {escape(e.title)}{where}")
                if e.instructions:
                    c.print(f"  [cyan]manual:[/] {escape(e.instructions)}")
            case ev.CommandIntent():
                first = e.command.strip().splitlines()[0] if e.command.strip() else ""
                more = " …" if len(e.command.strip().splitlines()) > 1 else ""
                c.print(f"  [dim]{e.host} $ {escape(first[:160])}{more}[/]")
            case ev.OutputLines():
                style = "red" if e.stream == "stderr" else ""
                for line in e.lines:
                    text = f"  {e.host} | {escape(line)}"
                    c.print(f"[{style}]{text}[/]" if style else text)
            case ev.CommandFinished(ok=False, poll=True):
                c.print(f"  [dim]{e.host}: {e.verdict} ({escape(e.reason or '')})[/]")
            case ev.CommandFinished(ok=False):
                c.print(f"  [red]{e.host}: {escape(e.reason or 'failed')}[/]")
            case ev.Decision():
                who = "auto" if e.auto else e.by
                why = f": {escape(e.reason)}" if e.reason else ""
                c.print(f"  [yellow]decision[/] {e.action} ({escape(who)}){why}")
            case ev.StepFinished():
                icon, colour = _ICONS.get(e.outcome, ("·", "white"))
                why = f" — {escape(e.reason)}" if e.reason else ""
                c.print(
                    f"  [{colour}]{icon} {e.step_id} {e.outcome}[/] "
                    f"{format_duration(e.duration or 0.0)}{why}"
                )
            case ev.RtoMark():
                c.print(f"  [magenta]RTO clock {e.mark}[/]")
            case ev.NotificationFailed():
                c.print(
                    f"  [yellow]warning:[/] notification to {escape(e.target)} not delivered "
                    f"({escape(e.subject)}): {escape(e.reason)}"
                )
            case ev.Notice():
                colour = {"warning": "yellow", "error": "red"}.get(e.level, "cyan")
                c.print(f"  [{colour}]{e.level}:[/] {escape(e.message)}")
            case ev.HostKeyAccepted():
                c.print(
                    f"  [yellow]accepted new host key of {e.host}: {e.key_type} {e.fingerprint}[/]"
                )
            case ev.CanaryWrite(ok=False) if e.n % 5 == 1:
                c.print(f"  [dim]canary {e.n} not acknowledged: {escape(e.error or '')}[/]")
            case ev.CanaryCheck():
                if e.error:
                    c.print(f"  [red]canary check failed: {escape(e.error)}[/]")
                else:
                    c.print(
                        f"  canary: {e.acknowledged} acknowledged, {e.present} present on "
                        f"{e.host}, {e.rpo_writes} lost"
                    )
            case ev.RollbackStarted():
                c.print(f"[bold red]rollback[/]: {escape(e.reason)}")
            case ev.NoteAdded():
                c.print(f"  [cyan]note ({escape(e.by)}):[/] {escape(e.text)}")
            case ev.ApprovalRequested():
                c.print(
                    f"  [yellow]waits for {e.needed} approvals[/] (approved: "
                    f"{escape(', '.join(e.approvers))}); another operator: "
                    f"drconsole approve {self.run_id or 'RUN_ID'} {e.step_id}"
                )
            case ev.CommitAwaited():
                c.print(
                    f"  [yellow]awaiting commit[/] for {format_duration(e.within)} (otherwise "
                    f"{e.otherwise}): drconsole commit {self.run_id or 'RUN_ID'}"
                )
            case ev.Committed():
                c.print(f"  [green]committed[/] by {escape(e.by)} on {escape(e.hostname)}")
            case ev.CommitExpired():
                c.print(f"  [red]commit window ended uncommitted[/]: {e.otherwise}")
            case ev.Approved():
                c.print(
                    f"  [green]approved[/] by {escape(e.by)} on {escape(e.hostname)} "
                    f"({e.count} of {e.needed})"
                )
            case ev.RunFinished():
                self._summary(e)
            case (
                ev.RunPlanned()
                | ev.LockAcquired()
                | ev.LockReleased()
                | ev.LockBroken()
                | ev.RollbackFinished()
                | ev.CommandFinished()
                | ev.WaitProgress()
                | ev.ProbeSample()
                | ev.CanaryWrite()
                | ev.Measurement()
            ):
                pass  # not part of the human progress (the audit log has them)
            case _:
                assert_never(e)

    def _summary(self, event: ev.RunFinished) -> None:
        c = self.console
        colour = "green" if event.outcome == "succeeded" else "red"
        took = format_duration(time.monotonic() - self.run_started)
        c.print(f"[bold {colour}]{event.outcome}[/] in {took}: {escape(event.summary)}")
        c.print(f"  RTO {_measure(event.rto_seconds, event.rto_met)}")
        rpo = _measure(event.rpo_seconds, event.rpo_met)
        if event.rpo_writes is not None:
            rpo += f", {event.rpo_writes} acknowledged write(s) lost"
        c.print(f"  RPO {rpo}")
        c.print(f"  exit {event.exit_code}")


def _measure(value: float | None, met: bool | None) -> str:
    if value is None:
        return "not measured"
    verdict = {True: " (objective met)", False: " (objective MISSED)", None: ""}[met]
    return f"{format_duration(value)}{verdict}"


class JsonPrinter:
    """One JSON object per event line: ``run_id``, ``seq``, ``ts``, ``kind`` and the payload."""

    def __init__(self, run_id: Callable[[], str | None], out: TextIO | None = None) -> None:
        self.out = out or sys.stdout
        self.run_id = run_id

    def __call__(self, event: ev.Event) -> None:
        record: dict[str, Any] = {
            "run_id": self.run_id(),
            "seq": event.seq,
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(event.ts))
            + f".{int((event.ts % 1) * 1e6):06d}Z",
            "kind": event.kind,
            "step_id": event.step_id,
            "host": event.host,
        }
        # the envelope wins: a step's own ``kind`` (run, wait, manual) is under ``step_kind``
        record = {**event.data(), **record}
        self.out.write(json.dumps(record, default=str) + "\n")
        self.out.flush()


def _pool(args: argparse.Namespace, engine_ref: list[Engine]) -> SshPool:
    def accepted(host: str, key_type: str, fingerprint: str) -> None:
        event = ev.HostKeyAccepted(host=host, key_type=key_type, fingerprint=fingerprint)
        if engine_ref:
            engine_ref[0].emit(event)
        else:
            print(f"accepted new host key of {host}: {key_type} {fingerprint}", file=sys.stderr)

    def reconnected(host: str, reason: str) -> None:
        if engine_ref:
            engine_ref[0].emit(
                ev.Notice(
                    level=ev.NoticeLevel.WARNING,
                    host=host,
                    message=f"{host}: reconnected once ({reason})",
                )
            )

    return SshPool(
        accept_new_host_keys=bool(getattr(args, "accept_new_host_keys", False)),
        on_host_key_accepted=accepted,
        on_reconnect=reconnected,
    )


async def _run(
    args: argparse.Namespace,
    prepared: Prepared,
    audit: AuditStore,
    notify: tuple[NotifyTarget, ...] = (),
) -> RunResult:
    engine_ref: list[Engine] = []
    pool = _pool(args, engine_ref)

    def record(event: ev.Event) -> None:
        engine_ref[0].emit(event)

    notifications = RunNotifications(
        (*prepared.inventory.notify, *notify),
        inventory=prepared.inventory.name,
        emit=record,
        audit_path=args.audit,
        timeout=getattr(args, "notify_timeout", None) or DEFAULT_TIMEOUT,
        failures_only=bool(getattr(args, "notify_failures_only", False)),
    )
    try:
        engine = Engine(
            RunConfig(
                inventory=prepared.inventory,
                playbook=prepared.playbook,
                params=prepared.params,
                mode=prepared.resume.mode if prepared.resume else args.mode,
                operator=args.operator,
                audit=audit,
                transport=pool,
                decider=HeadlessDecider(args.operator, yes=args.yes),
                resume=prepared.resume,
                break_lock=args.break_lock,
                finishing=[notifications.finishing] if notifications.enabled else [],
                override_cooldown=getattr(args, "override_cooldown", None),
                approval_timeout=approval_timeout(args),
                lease_ttl=lease_length(args),
            )
        )
        engine_ref.append(engine)
        if notifications.enabled:
            engine.listeners.append(notifications)
        engine.listeners.append(JsonPrinter(lambda: engine.run_id) if args.json else HumanPrinter())
        for warning in prepared.warnings:
            engine.listeners.append(_late_notice(engine, warning))
        task = asyncio.ensure_future(engine.run())
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, task.cancel)
        try:
            return await task
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
    finally:
        await notifications.close()
        await pool.close()


def _late_notice(engine: Engine, message: str) -> Callable[[ev.Event], None]:
    """Record a preparation warning once the run exists (after its run_started)."""
    done = [False]

    def listener(event: ev.Event) -> None:
        if not done[0] and isinstance(event, ev.RunStarted):
            done[0] = True
            engine.emit(ev.Notice(level=ev.NoticeLevel.WARNING, message=message))

    return listener


def _open_audit(args: argparse.Namespace) -> AuditStore:
    """The run's audit store: with ``--audit-fallback`` on a team store, one whose local file
    takes over if the team store is lost during the run (``console.audit.fallback``)."""
    fallback = getattr(args, "audit_fallback", None)
    if fallback is not None and is_store_url(args.audit):
        return FallbackStore(
            args.audit,
            Path(fallback).expanduser(),
            on_switch=lambda message: print(f"drconsole: {message}", file=sys.stderr),
        )
    return AuditStore(args.audit)


def approval_timeout(args: argparse.Namespace) -> float | None:
    """``--timeout``: seconds a step waits for its other approvals.

    Raises:
        InputError: not a duration (one line, exit 2).
    """
    value = getattr(args, "timeout", None)
    if value is None:
        return None
    try:
        return parse_duration(value)
    except DurationError as exc:
        raise InputError(f"--timeout {value}: {exc}") from None


LEASE_RANGE = (3.0, 86400.0)
"""The lengths ``--lease`` accepts, in seconds: renewed every third of its length, a shorter
lease would be renewed more than once a second; a longer one than a day would keep a service
locked that long after its console died."""


def lease_length(args: argparse.Namespace) -> float:
    """``--lease``: seconds a service lease lasts unless renewed (default 60 s).

    Raises:
        InputError: not a duration, or outside ``LEASE_RANGE`` (one line, exit 2).
    """
    value = getattr(args, "lease", None)
    if value is None:
        return DEFAULT_TTL
    try:
        seconds = parse_duration(value)
    except DurationError as exc:
        raise InputError(f"--lease {value}: {exc}") from None
    low, high = LEASE_RANGE
    if not low <= seconds <= high:
        raise InputError(
            f"--lease {value}: a lease lasts from {low:g}s to {high / 86400:g}d (it is "
            "renewed every third of its length)"
        )
    return seconds


def run_command(args: argparse.Namespace) -> int:
    """``drconsole run``; returns the exit code. Bad input is refused before the audit log is
    opened or a host is contacted (a resumed run reads its state from the log first)."""
    notify = command_line_targets(getattr(args, "notify", None) or ())
    reason = getattr(args, "override_cooldown", None)
    if reason is not None and not reason.strip():
        raise InputError('--override-cooldown needs a reason: --override-cooldown "why"')
    approval_timeout(args)
    lease_length(args)
    if args.resume is None:
        prepare(args.playbook, args.inventory, args.var)
    audit = _open_audit(args)
    try:
        prepared = prepare(args.playbook, args.inventory, args.var, audit=audit, resume=args.resume)
        result = asyncio.run(_run(args, prepared, audit, notify))
    finally:
        audit.close()
    return result.exit_code


async def _plan(args: argparse.Namespace, prepared: Prepared) -> Plan:
    async with _pool(args, []) as pool:
        collector = StatusCollector(prepared.inventory, pool)
        services = [
            s for s in prepared.playbook.services_touched() if s in prepared.inventory.services
        ]
        snapshot = await collector.sweep(services)
        await collector.close()
    return make_plan(
        inventory=prepared.inventory,
        playbook=prepared.playbook,
        params=prepared.params,
        mode=args.mode,
        operator=args.operator,
        snapshot=snapshot,
    )


def plan_command(args: argparse.Namespace) -> int:
    """``drconsole plan``: render against the live topology; exit 0, or 1 when a gate fails or
    a step cannot be rendered now."""
    prepared = prepare(args.playbook, args.inventory, args.var)
    plan = asyncio.run(_plan(args, prepared))
    if args.json:
        print(json.dumps(asdict(plan), indent=2, default=str))
    else:
        print_plan(plan, Console(highlight=False, soft_wrap=True))
    bad = any(g.ok is False for g in plan.gates) or any(s.problem for s in plan.steps)
    return ExitCode.FAILED if bad else ExitCode.OK


def print_plan(plan: Plan, c: Console) -> None:
    """The plan as text."""
    c.print(f"[bold]{escape(plan.title)}[/] ({plan.playbook})")
    if plan.gates:
        c.print("preflight")
    for g in plan.gates:
        mark = {True: "[green]✓[/]", False: "[red]✗[/]", None: "[dim]·[/]"}[g.ok]
        c.print(f"  {mark} {escape(g.title)}")
        if g.ok is not True:
            for line in g.detail.splitlines():
                c.print(f"      {escape(line)}")
    for i, s in enumerate(plan.steps, start=1):
        flags = " ".join(
            x
            for x in (
                "[yellow]confirm[/]" if s.confirm else "",
                f"[magenta]rto:{s.rto}[/]" if s.rto else "",
                "[red]rollback[/]" if s.rollback else "",
            )
            if x
        )
        where = f" on {', '.join(s.targets)}" if s.targets else ""
        c.print(f"[bold]{i}. {s.id}[/] [{s.kind}] {escape(s.title)}{where} {flags}")
        if s.problem:
            c.print(f"   [red]cannot render now: {escape(s.problem)}[/]")
        if s.wait:
            c.print(f"   waits {escape(s.wait)}")
        if s.instructions:
            c.print(f"   [cyan]{escape(s.instructions)}[/]")
        for host, cmd in s.commands:
            c.print(f"   [dim]{host} $[/] {escape(cmd)}")
