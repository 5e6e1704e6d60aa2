"""The steps of a playbook and of its rollback: run a command, wait for a condition, or ask
a person to do something by hand.

A step is exactly one of ``run``, ``wait`` or ``manual``. Its templates are compiled and its
selector parsed at load time; what can only be known against an inventory (the names it uses,
the hosts its selector can match) is checked by ``console.model.checks``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from console.errors import Location
from console.model.enums import ON_FAILURE, RTO_MARKS, STEP_KINDS
from console.model.expect import CommandCheck, Expect, build_expect
from console.model.fields import PlaybookReader
from console.model.gates import Condition, build_condition
from console.model.reader import MapView, describe
from console.model.selectors import Selector
from console.model.templates import Template, compile_template
from console.model.yamlsrc import Node

if TYPE_CHECKING:
    from console.model.scope import Scope

_STEP_ID = re.compile(r"^[a-z0-9][a-z0-9_-]*$")

STEP_KEYS = (
    "id",
    "title",
    "description",
    "on",
    *STEP_KINDS,
    "confirm",
    "approve",
    "timeout",
    "retries",
    "retry_delay",
    "expect",
    "on_failure",
    "rto",
    "when",
)
WAIT_KEYS = ("until", "on", "run", "expect", "timeout", "interval")


@dataclass(frozen=True)
class WaitSpec:
    """Poll until a condition holds or a command passes, within a timeout."""

    until: Condition | None
    command: CommandCheck | None
    timeout: float
    interval: float


@dataclass(frozen=True)
class Step:
    """One step of a playbook or its rollback."""

    id: str
    title: Template
    description: Template | None
    kind: str
    """``run``, ``wait`` or ``manual``."""
    on: Selector | None
    run: Template | None
    wait: WaitSpec | None
    manual: Template | None
    confirm: bool
    timeout: float | None
    retries: int
    retry_delay: float
    expect: Expect
    on_failure: str
    rto: str | None
    """``start`` or ``end``: where the measured outage begins or ends."""
    when: Template | None
    """Run the step only when this renders true."""
    loc: Location
    id_loc: Location | None = None
    """Where the id is written."""
    scope: Scope | None = None
    """The included playbook it comes from (``console.model.include``); None: its own."""
    approve: int | None = None
    """``approve: N``: the step waits until N distinct operators approved it (the run's own
    operator counts once); it asks first as a confirm step does. None: the playbook's
    ``approvals:`` decide for a confirm step."""

    @property
    def asks_first(self) -> bool:
        """True when an operator answers before the step acts (confirm, manual, approve)."""
        return self.confirm or self.kind == "manual" or self.approve is not None


def build_step(
    reader: PlaybookReader, node: Node, seen: dict[str, Location], rollback: bool
) -> Step | None:
    """One step (None when broken: recorded); ``seen`` collects the ids so far."""
    if not node.is_map:
        reader.add(f"a step must be a mapping, not {describe(node.value)}", node.loc)
        return None
    sid_node = node.value.get("id")
    sid = str(sid_node.value) if sid_node is not None and sid_node.value is not None else "?"
    what = f"step {sid!r}"
    view = MapView(node, what, STEP_KEYS, reader.problems, required=("id",))
    if not view.ok:
        return None
    if sid_node is not None:
        if not _STEP_ID.match(sid):
            reader.add(
                f"step id {sid!r} must be lower case letters, digits, '-' and '_'", sid_node.loc
            )
        if sid in seen:
            reader.add(f"two steps with id {sid!r} (first at line {seen[sid].line})", sid_node.loc)
        seen[sid] = sid_node.loc
    kinds = [k for k in STEP_KINDS if view.has(k)]
    if len(kinds) != 1:
        reader.add(f"{what} needs exactly one of {', '.join(STEP_KINDS)}", node.loc)
        return None
    kind = kinds[0]
    on = reader.selector(view.get("on"), f"'on' in {what}")
    run = manual = None
    wait: WaitSpec | None = None
    if kind == "run":
        run = reader.template(view.get("run"), f"'run' in {what}", shell=True)
        if on is None and not view.has("on"):
            reader.add(f"{what} runs a command but has no 'on:' selector", node.loc)
    elif kind == "manual":
        manual = reader.template(view.get("manual"), f"'manual' in {what}")
    else:
        wait = build_wait(reader, view.get("wait"), what)
    on_failure = view.choice("on_failure", ON_FAILURE, "abort") or "abort"
    if rollback and on_failure == "rollback":
        n = view.get("on_failure")
        assert n is not None
        reader.add("a rollback step cannot itself roll back", n.loc)
    title = reader.template(view.get("title"), f"title of {what}")
    if title is None:
        title = compile_template(sid, node.loc, shell=False, params=())
    return Step(
        id=sid,
        title=title,
        description=reader.template(view.get("description"), f"description of {what}"),
        kind=kind,
        on=on,
        run=run,
        wait=wait,
        manual=manual,
        confirm=view.flag("confirm"),
        approve=view.integer("approve", None, minimum=1),
        timeout=view.duration("timeout"),
        retries=view.integer("retries", 0, minimum=0) or 0,
        retry_delay=view.duration("retry_delay", 1.0) or 0.0,
        expect=build_expect(reader, view.get("expect"), f"expect of {what}"),
        on_failure=on_failure,
        rto=view.choice("rto", RTO_MARKS),
        when=reader.template(view.get("when"), f"when of {what}"),
        loc=node.loc,
        id_loc=sid_node.loc if sid_node is not None else None,
    )


def build_wait(reader: PlaybookReader, node: Node | None, what: str) -> WaitSpec | None:
    """The ``wait:`` mapping of a step (None when broken: recorded)."""
    if node is None or not node.is_map:
        reader.add(
            f"wait in {what} must be a mapping with 'until' or 'run'",
            node.loc if node is not None else reader.source.root.loc,
        )
        return None
    view = MapView(node, f"wait of {what}", WAIT_KEYS, reader.problems)
    until = None
    command = None
    if view.has("until") == view.has("run"):
        reader.add(f"wait in {what} needs exactly one of 'until' or 'run'", node.loc)
    elif view.has("until"):
        un = view.get("until")
        assert un is not None
        until = build_condition(reader, un, f"until of {what}")
    else:
        on = reader.selector(view.get("on"), f"'on' in wait of {what}")
        run = reader.template(view.get("run"), f"'run' in wait of {what}", shell=True)
        if on is None and not view.has("on"):
            reader.add(f"wait in {what} runs a command but has no 'on:'", node.loc)
        if on is not None and run is not None:
            command = CommandCheck(
                on, run, build_expect(reader, view.get("expect"), f"expect of {what}"), None
            )
    timeout = view.duration("timeout")
    if timeout is None:
        reader.add(f"wait in {what} needs a 'timeout' (no wait is unbounded)", node.loc)
        timeout = 60.0
    interval = view.duration("interval", 1.0) or 1.0
    return WaitSpec(until, command, timeout, interval)


def check_rto(reader: PlaybookReader, steps: list[Step]) -> None:
    """At most one ``rto: start`` and one ``rto: end``, in that order."""
    starts = [s for s in steps if s.rto == "start"]
    ends = [s for s in steps if s.rto == "end"]
    for marks, word in ((starts, "start"), (ends, "end")):
        if len(marks) > 1:
            reader.add(f"more than one step marks rto: {word}", marks[1].loc)
    if ends and not starts:
        reader.add("a step marks rto: end but none marks rto: start", ends[0].loc)
    if starts and ends and steps.index(ends[0]) < steps.index(starts[0]):
        reader.add("rto: end comes before rto: start", ends[0].loc)
