"""Playbooks: the steps of a drill, as a DBA writes them (README "Playbook").

Immutable values built from a located YAML tree. Every template is compiled at load time, so
a typo in a command, an undefined parameter or a Jinja syntax error is reported with its
place before anything runs. The parts live in modules of their own (``params``, ``gates``,
``steps``, ``expect``); this one assembles the whole and keeps their public names importable
from here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from console.errors import InputErrors, Location
from console.model.enums import (
    COMMIT_OTHERWISE,
    DRIVES_KINDS,
    LINKS,
    OBSERVED_ROLES,
    ON_FAILURE,
    PLAYBOOK_KINDS,
)
from console.model.expect import CommandCheck, Expect
from console.model.fields import PlaybookReader
from console.model.gates import Condition, Gate, build_gate
from console.model.include import Include, compose, is_include, read_include
from console.model.params import Param, build_params
from console.model.reader import MapView
from console.model.steps import Step, WaitSpec, build_step, check_rto
from console.model.templates import Template
from console.model.usage import check_references
from console.model.yamlsrc import Source, load_file

__all__ = [
    "LINKS",
    "OBSERVED_ROLES",
    "ON_FAILURE",
    "PLAYBOOK_KINDS",
    "Canary",
    "CommandCheck",
    "Condition",
    "Expect",
    "Gate",
    "Objectives",
    "Param",
    "Playbook",
    "Step",
    "WaitSpec",
    "build_playbook",
    "load_playbook",
]

TOP_KEYS = (
    "version",
    "name",
    "kind",
    "title",
    "description",
    "service",
    "objectives",
    "params",
    "preflight",
    "steps",
    "rollback",
    "canary",
    "drives",
    "approvals",
    "commit",
)

APPROVAL_MODES = ("drill", "incident")
"""The keys of ``approvals:`` (a run's ``--mode``)."""


@dataclass(frozen=True)
class Canary:
    """Numbered writes on the observed primary during the run, to measure data loss."""

    service: str
    every: float
    loc: Location
    service_loc: Location | None = None
    """Where the service name is written."""


@dataclass(frozen=True)
class CommitWindow:
    """``commit: {within: 30m, otherwise: rollback}``: after the last step the run waits
    this long for an operator's ``drconsole commit``; uncommitted, ``otherwise`` happens."""

    within: float
    otherwise: str
    loc: Location


@dataclass(frozen=True)
class Objectives:
    """The recovery objectives the drill is judged against."""

    rto: float | None = None
    rpo: float | None = None


@dataclass(frozen=True)
class Playbook:
    """A whole playbook."""

    name: str
    kind: str
    title: str
    description: str | None
    service: str | None
    objectives: Objectives
    params: Mapping[str, Param]
    preflight: tuple[Gate, ...]
    steps: tuple[Step, ...]
    rollback: tuple[Step, ...]
    canary: Canary | None
    path: str
    digest: str
    loc: Location
    service_loc: Location | None = None
    """Where the ``service:`` value is written."""
    includes: tuple[Include, ...] = ()
    """Its ``include:`` steps (``console.model.include``); their steps are in ``steps``."""
    drives: str | None = None
    """The HA manager this playbook drives (``drives: patroni``); a playbook without it is
    raw and is refused on a service that names a manager (``managed_by``)."""
    commit: CommitWindow | None = None
    """The commit-or-roll-back window after the last step (None: the run ends there)."""
    approvals: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    """``approvals: {drill: 1, incident: 2}``: how many distinct operators must approve each
    confirm step, per mode (a mode it does not name: 1). An included playbook's count applies
    when it is higher."""
    title_template: Template | None = None
    """The title when it uses the run's values (``title: Fail over to {{ to_site }}``), rendered
    when the run starts; None for a plain title."""

    def approvals_needed(self, step: Step, mode: str) -> int:
        """How many distinct operators must approve ``step`` in ``mode`` (1: its operator's
        own confirmation is enough; a step that does not ask first needs none)."""
        if step.approve is not None:
            return step.approve
        if not step.confirm:
            return 0
        return self.approvals.get(mode, 1)

    @property
    def secret_params(self) -> frozenset[str]:
        """Names of the parameters to mask."""
        return frozenset(p.name for p in self.params.values() if p.secret)

    def all_steps(self) -> tuple[Step, ...]:
        """Steps then rollback steps."""
        return self.steps + self.rollback

    def step(self, step_id: str) -> Step:
        """The step with this id (steps or rollback)."""
        for s in self.all_steps():
            if s.id == step_id:
                return s
        raise KeyError(step_id)

    def services_touched(self) -> tuple[str, ...]:
        """Every service the playbook names (its own, gates, canary): the ones it locks."""
        names: list[str] = []
        if self.service:
            names.append(self.service)
        if self.canary and self.canary.service not in names:
            names.append(self.canary.service)
        for gate in self.preflight:
            cond = gate.condition
            if cond and cond.service and cond.service.is_static:
                svc = cond.service.source.strip()
                if svc not in names:
                    names.append(svc)
        for inc in self.includes:
            names.extend(n for n in inc.playbook.services_touched() if n not in names)
        return tuple(names)


def _value_loc(view: MapView, key: str) -> Location | None:
    node = view.get(key)
    return node.loc if node is not None else None


def build_playbook(source: Source, stack: tuple[str, ...] = ()) -> Playbook:
    """Build a :class:`Playbook` from a loaded file.

    Args:
        stack: the files including this one, resolved, outermost first (include cycles).

    Raises:
        InputErrors: every problem found, each located.
    """
    reader = PlaybookReader(source)
    root = source.root
    top = MapView(
        root,
        "the playbook",
        TOP_KEYS,
        reader.problems,
        required=("version", "name", "kind", "steps"),
    )
    if not top.ok:
        raise InputErrors(reader.problems.errors)
    vn = top.get("version")
    if vn is not None and vn.value != 1:
        reader.add(f"unsupported version {vn.value!r}: this drconsole reads version 1", vn.loc)
    name = top.text("name") or Path(source.path).stem
    kind = top.choice("kind", PLAYBOOK_KINDS, "custom") or "custom"
    params = build_params(reader, top)
    reader.params = tuple(params)
    objectives = Objectives()
    on = top.get("objectives")
    if on is not None and on.value is not None:
        ov = MapView(on, "objectives", ("rto", "rpo"), reader.problems)
        objectives = Objectives(ov.duration("rto"), ov.duration("rpo"))
    preflight = [g for i, n in enumerate(top.seq("preflight")) if (g := build_gate(reader, n, i))]
    seen: dict[str, Location] = {}
    stack = stack or (str(Path(source.path).resolve()),)
    entries: list[Step | Include] = []
    for n in top.seq("steps"):
        if is_include(n):
            inc = read_include(reader, n, seen, stack, _load_included, params)
            entries.extend([inc] if inc is not None else [])
        elif (s := build_step(reader, n, seen, rollback=False)) is not None:
            entries.append(s)
    steps = [e for e in entries if isinstance(e, Step)]
    if top.has("steps") and not top.seq("steps") and not reader.problems:
        sn = top.get("steps")
        assert sn is not None
        reader.add("a playbook needs at least one step", sn.loc)
    rollback = [s for n in top.seq("rollback") if (s := build_step(reader, n, seen, rollback=True))]
    if len(steps) == len(entries):
        check_rto(reader, steps)
    if any(s.on_failure == "rollback" for s in steps) and not rollback:
        first = next(s for s in steps if s.on_failure == "rollback")
        reader.add(
            f"step {first.id!r} rolls back on failure but the playbook has no rollback: list",
            first.loc,
        )
    service = top.text("service")
    reader.problems.errors.extend(check_references(preflight, steps, rollback, service))
    canary = None
    cn = top.get("canary")
    if cn is not None and cn.value is not None:
        cv = MapView(cn, "canary", ("service", "every"), reader.problems, required=("service",))
        if cv.ok:
            canary = Canary(
                cv.text("service") or "",
                cv.duration("every", 1.0) or 1.0,
                cn.loc,
                _value_loc(cv, "service"),
            )
            if canary.every < 0.05:
                reader.add("canary 'every' must be at least 50ms", cn.loc)
    composed = compose(reader, entries, preflight, rollback, canary)
    # Every field is read before this line: a problem found later would be dropped silently.
    title = top.text("title") or name
    title_template = reader.template(top.get("title"), "title") if "{" in title else None
    description = top.text("description")
    drives = top.choice("drives", DRIVES_KINDS)
    approvals = _approvals(reader, top)
    commit = _commit(reader, top, bool(composed.rollback))
    if reader.problems:
        raise InputErrors(reader.problems.errors)
    return Playbook(
        name=name,
        kind=kind,
        title=title,
        description=description,
        service=service,
        objectives=_joined_objectives(objectives, composed.includes),
        params=MappingProxyType(params),
        preflight=composed.preflight,
        steps=composed.steps,
        rollback=composed.rollback,
        canary=composed.canary,
        path=source.path,
        digest=source.digest,
        loc=root.loc,
        service_loc=_value_loc(top, "service"),
        includes=composed.includes,
        drives=drives,
        approvals=MappingProxyType(_joined_approvals(approvals, composed.includes)),
        commit=commit,
        title_template=title_template,
    )


def _commit(reader: PlaybookReader, top: MapView, has_rollback: bool) -> CommitWindow | None:
    """``commit: {within: DURATION, otherwise: rollback|keep}`` (problems recorded)."""
    node = top.get("commit")
    if node is None or node.value is None:
        return None
    view = MapView(node, "commit", ("within", "otherwise"), reader.problems, required=("within",))
    if not view.ok:
        return None
    within = view.duration("within")
    wn = view.get("within")
    if within is not None and within <= 0 and wn is not None:
        reader.add("'within' in commit must be longer than 0s", wn.loc)
    otherwise = view.choice("otherwise", COMMIT_OTHERWISE, "rollback") or "rollback"
    if otherwise == "rollback" and not has_rollback:
        on = view.get("otherwise")
        reader.add(
            "commit: otherwise: rollback needs a rollback: list in the playbook",
            on.loc if on is not None else node.loc,
        )
    if within is None or within <= 0:
        return None
    return CommitWindow(within, otherwise, node.loc)


def _approvals(reader: PlaybookReader, top: MapView) -> dict[str, int]:
    """``approvals: {drill: N, incident: N}`` (each at least 1); problems recorded."""
    node = top.get("approvals")
    if node is None or node.value is None:
        return {}
    view = MapView(node, "approvals", APPROVAL_MODES, reader.problems)
    if not view.ok:
        return {}
    out: dict[str, int] = {}
    for mode in APPROVAL_MODES:
        n = view.integer(mode, None, minimum=1)
        if n is not None:
            out[mode] = n
    return out


def _joined_approvals(own: dict[str, int], includes: tuple[Include, ...]) -> dict[str, int]:
    """The parent's counts, raised to an included playbook's where that asks for more."""
    out = dict(own)
    for inc in includes:
        for mode, n in inc.playbook.approvals.items():
            out[mode] = max(out.get(mode, 1), n)
    return out


def _joined_objectives(own: Objectives, includes: tuple[Include, ...]) -> Objectives:
    """The parent's objectives; one it does not set is the strictest its includes set."""
    rtos = [i.playbook.objectives.rto for i in includes if i.playbook.objectives.rto is not None]
    rpos = [i.playbook.objectives.rpo for i in includes if i.playbook.objectives.rpo is not None]
    return Objectives(
        own.rto if own.rto is not None else min(rtos, default=None),
        own.rpo if own.rpo is not None else min(rpos, default=None),
    )


def _load_included(path: str, stack: tuple[str, ...]) -> Playbook:
    return build_playbook(load_file(path), stack)


def load_playbook(path: Path | str) -> Playbook:
    """Load and check a playbook file.

    Raises:
        InputError: the file cannot be read or parsed (located).
        InputErrors: the content has problems (each located).
    """
    return build_playbook(load_file(path))
