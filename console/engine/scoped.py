"""What an included step's templates see: the context its own playbook would give it.

A composed run (``console.model.include``) renders each included step and gate in its
:class:`~console.model.scope.Scope`: the run's context names (inventory, services, mode,
run id...) stay, the parent's parameters give way to the included playbook's (bound by the
include's ``vars:``, rendered in the parent's scope, else their defaults), ``playbook`` and
``service`` are the included playbook's, and ``steps['id']`` names its own steps.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from console.model.scope import Scope
from console.model.templates import CONTEXT_NAMES, RenderError


def scoped_context(ctx: Mapping[str, Any], scope: Scope | None) -> dict[str, Any]:
    """``ctx`` (the run's context) as seen from inside ``scope``.

    Raises:
        RenderError: a ``vars:`` value failed to render, or its included parameter refuses it.
    """
    if scope is None:
        return dict(ctx)
    outer = scoped_context(ctx, scope.parent)
    values = {n: p.default for n, p in scope.params.items() if p.default is not None}
    for name, tpl in scope.vars.items():
        value = tpl.render(outer).strip()
        why = scope.params[name].check(value) if name in scope.params else None
        if why:
            raise RenderError(f"{tpl.loc}: vars.{name} of include {scope.include_id!r}: {why}")
        values[name] = value
    out: dict[str, Any] = {k: v for k, v in ctx.items() if k in CONTEXT_NAMES}
    out.update(values)
    out["playbook"] = {"name": scope.name, "title": scope.title, "kind": scope.kind}
    services = ctx.get("services") or {}
    out.pop("service", None)
    if scope.service is not None and scope.service in services:
        out["service"] = services[scope.service]
    steps = ctx.get("steps")
    if isinstance(steps, dict):
        out["steps"] = _ScopedSteps(steps, scope.prefix)
    return out


class _ScopedSteps(dict[str, Any]):
    """``steps`` inside a scope: the run's step outputs under the scope's own ids."""

    def __init__(self, run_steps: dict[str, Any], prefix: str) -> None:
        super().__init__(
            (sid[len(prefix) :], v) for sid, v in run_steps.items() if sid.startswith(prefix)
        )
        self._run_steps = run_steps
        self._prefix = prefix

    def __missing__(self, key: str) -> Any:
        # A plan's placeholder outputs (``console.engine.plan``) answer any id.
        return self._run_steps[self._prefix + key]


__all__ = ["scoped_context"]
