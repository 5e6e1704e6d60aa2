"""A playbook rendered against the live topology, without running anything.

``drconsole plan`` and the TUI's plan preview show every step with the hosts its selector
picks *now* and the exact command it would send (secrets masked). Values that only exist once
an earlier step has run (``steps['x'].stdout``) are shown as placeholders. Status gates are
judged on the current samples; command gates are listed but not run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from console.engine.conditions import evaluate
from console.engine.context import (
    Owner,
    SelectionError,
    StepOutputs,
    base_context,
    resolve_selector,
    target_view,
)
from console.engine.managed import GATE_TITLE, manager_refusal
from console.engine.masking import Masker, secret_values
from console.engine.scoped import scoped_context
from console.model.inventory import Inventory
from console.model.playbook import Playbook, Step
from console.model.templates import RenderError
from console.status.collector import StatusSnapshot


class _Later(dict[str, Any]):
    """``steps`` for a plan: any step's output is a placeholder."""

    def __missing__(self, key: str) -> dict[str, Any]:
        text = f"<output of {key}>"
        return {"stdout": text, "stderr": "", "exit_status": 0, "outcome": "ok", "hosts": {}}


@dataclass(frozen=True)
class PlannedGate:
    """A preflight gate and, when it can be judged without running anything, its verdict."""

    index: int
    title: str
    kind: str
    ok: bool | None
    """None: not judged (a command gate)."""
    detail: str


@dataclass(frozen=True)
class PlannedStep:
    """One step as it would run now."""

    id: str
    title: str
    kind: str
    confirm: bool
    rollback: bool
    targets: tuple[str, ...]
    commands: tuple[tuple[str, str], ...]
    """(host, command) pairs, secrets masked."""
    instructions: str | None
    wait: str | None
    """What a wait step waits for."""
    rto: str | None
    on_failure: str
    problem: str | None
    """Why the step cannot be rendered now (no host matches, a template fails)."""


@dataclass(frozen=True)
class Plan:
    """A whole playbook rendered."""

    playbook: str
    title: str
    gates: tuple[PlannedGate, ...]
    steps: tuple[PlannedStep, ...]


def _plan_step(
    step: Step,
    ctx: dict[str, Any],
    inventory: Inventory,
    playbook: Playbook,
    snapshot: StatusSnapshot,
    masker: Masker,
    rollback: bool,
) -> PlannedStep:
    targets: tuple[str, ...] = ()
    commands: list[tuple[str, str]] = []
    instructions = wait = problem = None
    title = step.title.source
    owner: Owner = step.scope or playbook
    try:
        ctx = scoped_context(ctx, step.scope)
        title = step.title.render(ctx).strip()
        if step.on is not None:
            targets = resolve_selector(step.on, ctx, inventory, owner.service, snapshot)
        if step.run is not None:
            for host in targets:
                tctx = {**ctx, "target": target_view(inventory, owner, host, ctx)}
                commands.append((host, masker.scrub(step.run.render(tctx))))
        if step.manual is not None:
            instructions = masker.scrub(step.manual.render(ctx).strip())
        if step.wait is not None:
            spec = step.wait
            if spec.until is not None:
                c = spec.until
                parts = [
                    f"{k}={v}"
                    for k, v in (
                        ("service", c.service.render(ctx) if c.service else owner.service),
                        ("site", c.site.render(ctx) if c.site else None),
                        ("host", c.host.render(ctx) if c.host else None),
                        ("role", c.role),
                        ("link", c.link),
                        ("caught_up", c.caught_up),
                        ("max_lag", c.max_lag),
                        ("healthy", c.healthy),
                    )
                    if v is not None
                ]
                wait = f"until {', '.join(parts)} (timeout {spec.timeout:g}s)"
            elif spec.command is not None:
                hosts = resolve_selector(spec.command.on, ctx, inventory, owner.service, snapshot)
                targets = hosts
                for host in hosts:
                    tctx = {**ctx, "target": target_view(inventory, owner, host, ctx)}
                    commands.append((host, masker.scrub(spec.command.run.render(tctx))))
                wait = (
                    f"until the command passes (every {spec.interval:g}s, "
                    f"timeout {spec.timeout:g}s)"
                )
    except (RenderError, SelectionError) as exc:
        problem = str(exc)
    return PlannedStep(
        id=step.id,
        title=masker.scrub(title),
        kind=step.kind,
        confirm=step.confirm,
        rollback=rollback,
        targets=targets,
        commands=tuple(commands),
        instructions=instructions,
        wait=wait,
        rto=step.rto,
        on_failure=step.on_failure,
        problem=problem,
    )


def make_plan(
    *,
    inventory: Inventory,
    playbook: Playbook,
    params: dict[str, str],
    mode: str,
    operator: str,
    snapshot: StatusSnapshot,
) -> Plan:
    """Render every gate and step of ``playbook`` against ``snapshot``."""
    masker = Masker(secret_values(playbook, params, inventory))
    outputs = StepOutputs(by_step=_Later())
    ctx = base_context(
        inventory=inventory,
        playbook=playbook,
        params=params,
        run_id="PLAN",
        mode=mode,
        operator=operator,
        snapshot=snapshot,
        outputs=outputs,
    )
    gates = []
    refusal = manager_refusal(playbook, inventory)
    if refusal is not None:
        gates.append(PlannedGate(0, GATE_TITLE, "managed", False, refusal))
    for i, gate in enumerate(playbook.preflight, start=1):
        if gate.condition is None:
            gates.append(
                PlannedGate(
                    i, gate.title, gate.kind, None, "runs a command; judged when the run starts"
                )
            )
            continue
        try:
            verdict = evaluate(
                gate.condition,
                scoped_context(ctx, gate.scope),
                inventory,
                (gate.scope or playbook).service,
                snapshot,
                gate.kind,
            )
            gates.append(PlannedGate(i, gate.title, gate.kind, verdict.ok, verdict.detail))
        except RenderError as exc:
            gates.append(PlannedGate(i, gate.title, gate.kind, False, str(exc)))
    steps = [
        _plan_step(
            s,
            {**ctx, "step": {"id": s.id, "attempt": 1}},
            inventory,
            playbook,
            snapshot,
            masker,
            False,
        )
        for s in playbook.steps
    ] + [
        _plan_step(
            s,
            {**ctx, "step": {"id": s.id, "attempt": 1}},
            inventory,
            playbook,
            snapshot,
            masker,
            True,
        )
        for s in playbook.rollback
    ]
    return Plan(playbook.name, playbook.title, tuple(gates), tuple(steps))
