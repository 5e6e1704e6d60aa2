"""Where an included step or gate comes from: the playbook it was written in and its values.

A composed playbook (``include:``, ``console.model.include``) runs the included playbook's
steps and gates in the parent's run, but each of them was written against its own playbook:
its own parameters, its own ``service:``, its own step ids. A :class:`Scope` carries exactly
that, so the engine can give each step the context it was written for. Scopes nest (a playbook
that includes one that includes another): ``parent`` is the scope the ``vars:`` values are
rendered in, None meaning the run's own playbook.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from console.errors import Location
from console.model.params import Param
from console.model.templates import Template


@dataclass(frozen=True)
class Scope:
    """The included playbook a step or gate was written in, and how its parameters are bound."""

    include_id: str
    """The id of the ``include:`` step at this level."""
    prefix: str
    """What the composed run puts before the included playbook's step ids (``orders/``)."""
    name: str
    """The included playbook's name."""
    title: str
    kind: str
    path: str
    """The included file, as it was found."""
    service: str | None
    """The included playbook's ``service:`` (its steps' default service)."""
    params: Mapping[str, Param]
    """The included playbook's parameters."""
    vars: Mapping[str, Template]
    """The include's ``vars:``, compiled against the parent's parameters."""
    loc: Location
    """Where the ``include:`` step is written."""
    parent: Scope | None = None
    """The scope the ``vars:`` are rendered in; None: the run's own playbook."""

    def chain(self) -> tuple[Scope, ...]:
        """This scope and its parents, outermost first."""
        out: list[Scope] = []
        scope: Scope | None = self
        while scope is not None:
            out.append(scope)
            scope = scope.parent
        return tuple(reversed(out))

    def under(self, outer: Scope) -> Scope:
        """This scope as seen from a playbook that includes its playbook through ``outer``."""
        parent = self.parent.under(outer) if self.parent is not None else outer
        return replace(self, prefix=outer.prefix + self.prefix, parent=parent)


__all__ = ["Scope"]
