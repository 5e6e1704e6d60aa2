"""Playbook composition: a step ``include: pg-failover.yaml`` with ``vars:``.

A drill that moves a whole site is several playbooks run as one: one run id, one audit chain,
one RTO, one report. The included playbook's steps, gates, canary and RTO marks join the
parent's run: its steps take the include's place, their ids prefixed with the include's id
(``orders/fence``); its gates join the preflight; its rollback joins the rollback (included
ones last-included first, then the parent's own). Each included step keeps the context it was
written for (``console.model.scope.Scope``): the included playbook's parameters, bound by the
include's ``vars:`` (templates over the parent's parameters) or their defaults, its
``service:`` and its own step ids in ``steps['id']``.

Refused at load time, each at its place: an unknown file, an include cycle, a ``vars:`` name
the included playbook does not declare, a value its parameter refuses, an included parameter
without a default that ``vars:`` does not bind, and a *variable clash*: an included parameter
with the name of one of the parent's parameters that ``vars:`` does not bind (the operator's
``--var`` would silently not reach it; ``to_site: "{{ to_site }}"`` passes it on).

A file is looked for beside the including playbook first, then from the working directory.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from console.errors import InputError, InputErrors, Location
from console.model.fields import PlaybookReader
from console.model.gates import Gate
from console.model.params import Param
from console.model.reader import MapView, describe, suggest
from console.model.scope import Scope
from console.model.steps import Step
from console.model.templates import Template
from console.model.yamlsrc import Node

if TYPE_CHECKING:
    from console.model.playbook import Canary, Playbook

INCLUDE_KEYS = ("id", "title", "include", "vars")
"""What an include step may hold."""

SEPARATOR = "/"
"""Between an include's id and an included step's id (step ids cannot contain it)."""

_STEP_ID = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_SINGLE_PARAM = re.compile(r"^\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}$")

Loader = Callable[[str, tuple[str, ...]], "Playbook"]
"""Loads an included file (its display path, the stack of files including it)."""


@dataclass(frozen=True)
class Include:
    """One ``include:`` step of a playbook, with the playbook it brings in."""

    id: str
    title: str
    path: str
    """The included file as found (beside the parent, or from the working directory)."""
    playbook: Playbook
    """The included playbook (composed itself when it includes others)."""
    scope: Scope
    """What its steps and gates see (its scope within the parent)."""
    loc: Location
    title_template: Template | None = None
    """The include's own ``title:``, over the parent's parameters (None: the included
    playbook's title is used as written)."""

    def static_values(self, parent: Mapping[str, str]) -> dict[str, str]:
        """The included parameters' values knowable before the run, given the parent's."""
        out = {n: p.default for n, p in self.playbook.params.items() if p.default is not None}
        for name, tpl in self.scope.vars.items():
            value = known_value(tpl, parent)
            if value is None:
                out.pop(name, None)
            else:
                out[name] = value
        return out


def known_value(tpl: Template, parent: Mapping[str, str]) -> str | None:
    """What a ``vars:`` value will be, when it is text or one parent parameter with a value."""
    if tpl.is_static:
        return tpl.source.strip()
    m = _SINGLE_PARAM.match(tpl.source.strip())
    if m is not None and m.group(1) in parent:
        return parent[m.group(1)]
    return None


def is_include(node: Node) -> bool:
    """True for a step written as an include."""
    return node.is_map and "include" in node.value


def resolve(written: str, including: str) -> Path | None:
    """The file ``include: written`` names in the playbook at ``including``, if it exists."""
    p = Path(written).expanduser()
    candidates = [p] if p.is_absolute() else [Path(including).parent / p, p]
    for c in candidates:
        if c.is_file():
            return Path(os.path.normpath(c))
    return None


def read_include(
    reader: PlaybookReader,
    node: Node,
    seen: dict[str, Location],
    stack: tuple[str, ...],
    load: Loader,
    parent_params: Mapping[str, Param],
) -> Include | None:
    """One include step (None when broken: every problem recorded).

    Args:
        seen: the step ids so far (the include's id joins them).
        stack: the resolved files including this one, outermost first (this file last).
        load: builds the included playbook.
        parent_params: the including playbook's parameters.
    """
    sid_node = node.value.get("id")
    sid = str(sid_node.value) if sid_node is not None and sid_node.value is not None else "?"
    what = f"include step {sid!r}"
    view = MapView(node, what, INCLUDE_KEYS, reader.problems, required=("id", "include"))
    if not view.ok or sid_node is None:
        return None
    if not _STEP_ID.match(sid):
        reader.add(f"step id {sid!r} must be lower case letters, digits, '-' and '_'", sid_node.loc)
    if sid in seen:
        reader.add(f"two steps with id {sid!r} (first at line {seen[sid].line})", sid_node.loc)
    seen[sid] = sid_node.loc
    pnode = view.get("include")
    assert pnode is not None
    written = view.text("include")
    if not written:
        reader.add(f"'include' in {what} must name a playbook file", pnode.loc)
        return None
    found = resolve(written, reader.source.path)
    if found is None:
        beside = Path(reader.source.path).parent / written
        reader.add(
            f"include {written!r}: no such playbook (looked for {beside} and {written} "
            "from the working directory)",
            pnode.loc,
        )
        return None
    real = str(found.resolve())
    if real in stack:
        names = [Path(p).name for p in stack[stack.index(real) :]] + [found.name]
        reader.add(f"include cycle: {' -> '.join(names)}", pnode.loc)
        return None
    try:
        included = load(str(found), (*stack, real))
    except InputErrors as exc:
        reader.problems.errors.extend(exc.errors)
        reader.add(f"include {written!r}: the included playbook has problems (above)", pnode.loc)
        return None
    except InputError as exc:
        reader.add(f"include {written!r}: {exc}", pnode.loc)
        return None
    bound = _read_vars(reader, view, what, included, parent_params)
    for name, param in included.params.items():
        if name in bound:
            continue
        if name in reader.params:
            reader.add(
                f"variable clash: {found.name} and this playbook both have a parameter "
                f'{name!r}; bind it in vars: ({name}: "{{{{ {name} }}}}" passes this '
                f"playbook's value on, a text value pins it)",
                sid_node.loc,
            )
        elif param.default is None:
            reader.add(
                f"parameter {name!r} of {found.name} has no default: give it in vars:",
                sid_node.loc,
            )
    title_template = reader.template(view.get("title"), f"title of {what}")
    title = title_template.source if title_template is not None else included.title
    scope = Scope(
        include_id=sid,
        prefix=sid + SEPARATOR,
        name=included.name,
        title=title,
        kind=included.kind,
        path=str(found),
        service=included.service,
        params=included.params,
        vars=MappingProxyType(bound),
        loc=node.loc,
    )
    return Include(sid, title, str(found), included, scope, node.loc, title_template)


def _passes_a_secret(tpl: Template, parent: Mapping[str, Param]) -> bool:
    m = _SINGLE_PARAM.match(tpl.source.strip())
    return m is not None and m.group(1) in parent and parent[m.group(1)].secret


def _read_vars(
    reader: PlaybookReader,
    view: MapView,
    what: str,
    included: Playbook,
    parent: Mapping[str, Param],
) -> dict[str, Template]:
    bound: dict[str, Template] = {}
    for name, vnode, kloc in view.map_items("vars"):
        param = included.params.get(name)
        if param is None:
            known = ", ".join(sorted(included.params)) or "none"
            reader.add(
                f"vars.{name} in {what}: {Path(included.path).name} has no parameter {name!r}"
                f"{suggest(name, included.params)} (parameters: {known})",
                kloc,
            )
            continue
        if isinstance(vnode.value, dict | list) or vnode.value is None:
            reader.add(
                f"vars.{name} in {what} must be a string or a number, not {describe(vnode.value)}",
                vnode.loc,
            )
            continue
        text = (
            vnode
            if isinstance(vnode.value, str)
            else replace(vnode, value=vnode.raw or str(vnode.value))
        )
        tpl = reader.template(text, f"vars.{name} in {what}")
        if tpl is None:
            continue
        if tpl.is_static and (why := param.check(tpl.source.strip())):
            reader.add(f"vars.{name} in {what}: {why}", vnode.loc)
            continue
        if param.secret and not tpl.is_static and not _passes_a_secret(tpl, parent):
            reader.add(
                f"vars.{name} in {what}: {name!r} is a secret parameter of "
                f"{Path(included.path).name}; bind it to text or to one secret parameter of "
                'this playbook ("{{ NAME }}", NAME with secret: true), so it stays masked',
                vnode.loc,
            )
            continue
        bound[name] = tpl
    return bound


# -- joining the included playbooks into the parent -------------------------------------------


def scoped_step(step: Step, outer: Scope) -> Step:
    """An included playbook's step as the parent runs it."""
    scope = step.scope.under(outer) if step.scope is not None else outer
    return replace(step, id=outer.prefix + step.id, scope=scope)


def scoped_gate(gate: Gate, outer: Scope) -> Gate:
    """An included playbook's gate as the parent checks it."""
    scope = gate.scope.under(outer) if gate.scope is not None else outer
    return replace(gate, scope=scope)


@dataclass(frozen=True)
class Composed:
    """The parent's parts with every include joined in."""

    steps: tuple[Step, ...]
    preflight: tuple[Gate, ...]
    rollback: tuple[Step, ...]
    canary: Canary | None
    includes: tuple[Include, ...]


def compose(
    reader: PlaybookReader,
    entries: Sequence[Step | Include],
    preflight: Sequence[Gate],
    rollback: Sequence[Step],
    canary: Canary | None,
) -> Composed:
    """Join the includes of ``entries`` (the parent's steps, in order) into one run's parts;
    problems (RTO marks, canaries) are recorded on ``reader``."""
    includes = tuple(e for e in entries if isinstance(e, Include))
    steps: list[Step] = []
    for entry in entries:
        if isinstance(entry, Include):
            steps.extend(scoped_step(s, entry.scope) for s in entry.playbook.steps)
        else:
            steps.append(entry)
    gates = list(preflight)
    for inc in includes:
        gates.extend(scoped_gate(g, inc.scope) for g in inc.playbook.preflight)
    undo: list[Step] = []
    for inc in reversed(includes):
        undo.extend(scoped_step(s, inc.scope) for s in inc.playbook.rollback)
    undo.extend(rollback)
    return Composed(
        steps=tuple(_join_rto(reader, [e for e in entries if isinstance(e, Step)], steps)),
        preflight=tuple(gates),
        rollback=tuple(undo),
        canary=_join_canary(reader, canary, includes),
        includes=includes,
    )


def _join_rto(reader: PlaybookReader, own: list[Step], steps: list[Step]) -> list[Step]:
    """One RTO for the whole run: from the first ``rto: start`` to the last ``rto: end``;
    the marks in between stay in the included files but do not stop or restart the clock."""
    for word in ("start", "end"):
        marked = [s for s in own if s.rto == word]
        if len(marked) > 1:
            reader.add(f"more than one step marks rto: {word}", marked[1].loc)
    starts = [i for i, s in enumerate(steps) if s.rto == "start"]
    ends = [i for i, s in enumerate(steps) if s.rto == "end"]
    if ends and not starts:
        reader.add("a step marks rto: end but none marks rto: start", steps[ends[0]].loc)
        return steps
    if starts and ends and ends[0] < starts[0]:
        reader.add("rto: end comes before rto: start", steps[ends[0]].loc)
        return steps
    keep = {starts[0] if starts else -1, ends[-1] if ends else -1}
    return [s if s.rto is None or i in keep else replace(s, rto=None) for i, s in enumerate(steps)]


def _join_canary(
    reader: PlaybookReader, own: Canary | None, includes: tuple[Include, ...]
) -> Canary | None:
    """The parent's canary, else the one its includes bring (a run measures one)."""
    if own is not None:
        return own
    found: list[tuple[Include, Any]] = [
        (inc, inc.playbook.canary) for inc in includes if inc.playbook.canary is not None
    ]
    if not found:
        return None
    first_inc, first = found[0]
    for inc, other in found[1:]:
        if other.service != first.service:
            reader.add(
                f"include {inc.id!r} brings a canary on {other.service!r} and include "
                f"{first_inc.id!r} one on {first.service!r}: a run measures one canary; "
                "declare canary: in this playbook to choose",
                inc.loc,
            )
    result: Canary = first
    return result


__all__ = [
    "INCLUDE_KEYS",
    "SEPARATOR",
    "Composed",
    "Include",
    "compose",
    "is_include",
    "known_value",
    "read_include",
    "resolve",
    "scoped_gate",
    "scoped_step",
]
