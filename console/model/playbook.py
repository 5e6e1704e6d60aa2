"""Playbooks: the steps of a drill, as a DBA writes them (DESIGN.md "Playbook").

Immutable values built from a located YAML tree. Every template is compiled at load time, so
a typo in a command, an undefined parameter or a Jinja syntax error is reported with its
place before anything runs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from console.errors import InputError, InputErrors, Location
from console.model.reader import MapView, Problems, describe, suggest
from console.model.selectors import Selector, parse_selector
from console.model.templates import CONTEXT_NAMES, Template, compile_template
from console.model.yamlsrc import Node, Source, load_file

PLAYBOOK_KINDS = ("failover", "failback", "switchover", "restore-verification", "custom")
ON_FAILURE = ("abort", "continue", "rollback")
OBSERVED_ROLES = ("primary", "replica", "down", "unknown")
LINKS = ("up", "down")
_STEP_ID = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_PARAM = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class Param:
    """A playbook parameter; ``--var NAME=VALUE`` overrides its default."""

    name: str
    default: str | None
    secret: bool
    """Masked as ``****`` wherever it would be shown or recorded."""
    description: str | None
    choices: tuple[str, ...]
    pattern: str | None
    """A regular expression the whole value must match."""
    loc: Location

    def check(self, value: str) -> str | None:
        """Why ``value`` is not acceptable, or None."""
        if self.choices and value not in self.choices:
            return f"{self.name} must be one of {', '.join(self.choices)}, not {value!r}"
        if self.pattern and not re.fullmatch(self.pattern, value):
            shown = "****" if self.secret else repr(value)
            return f"{self.name}={shown} does not match {self.pattern!r}"
        return None


@dataclass(frozen=True)
class Expect:
    """What a successful command looks like."""

    exit_codes: tuple[int, ...] = (0,)
    stdout_contains: str | None = None
    stdout_matches: str | None = None
    stderr_not_contains: str | None = None

    def failure(self, exit_status: int | None, stdout: str, stderr: str) -> str | None:
        """Why a result does not meet the expectation, or None when it does."""
        if exit_status not in self.exit_codes:
            wanted = " or ".join(str(c) for c in self.exit_codes)
            return f"exit status {exit_status}, expected {wanted}"
        if self.stdout_contains is not None and self.stdout_contains not in stdout:
            return f"stdout does not contain {self.stdout_contains!r}"
        if self.stdout_matches is not None and not re.search(
            self.stdout_matches, stdout, re.MULTILINE
        ):
            return f"stdout does not match {self.stdout_matches!r}"
        if self.stderr_not_contains is not None and self.stderr_not_contains in stderr:
            return f"stderr contains {self.stderr_not_contains!r}"
        return None


@dataclass(frozen=True)
class Condition:
    """A condition on the observed replication state of some members of a service."""

    service: Template | None
    """The service (default: the playbook's)."""
    site: Template | None
    host: Template | None
    role: str | None
    """primary, replica, down or unknown."""
    caught_up: bool | None
    """The selected replicas stream with nothing left to replay (byte lag 0, or 0 seconds
    behind where the kind reports no byte lag)."""
    link: str | None
    max_lag: float | None
    healthy: bool | None
    loc: Location


@dataclass(frozen=True)
class CommandCheck:
    """A command run on selected hosts, judged by ``expect``."""

    on: Selector
    run: Template
    expect: Expect
    timeout: float | None


@dataclass(frozen=True)
class Gate:
    """A preflight check; every gate must pass before step 1."""

    kind: str
    """``replication``, ``role`` or ``command``."""
    title: str
    condition: Condition | None
    command: CommandCheck | None
    loc: Location


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


@dataclass(frozen=True)
class Canary:
    """Numbered writes on the observed primary during the run, to measure data loss."""

    service: str
    every: float
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
        return tuple(names)


class _Builder:
    def __init__(self, source: Source) -> None:
        self.source = source
        self.problems = Problems()
        self.params: tuple[str, ...] = ()

    def template(self, node: Node | None, what: str, *, shell: bool = False) -> Template | None:
        if node is None or node.value is None:
            return None
        if isinstance(node.value, dict | list | bool):
            self.problems.add(f"{what} must be text, not {describe(node.value)}", node.loc)
            return None
        try:
            return compile_template(
                str(node.value), node.loc, shell=shell, params=self.params, block=node.block
            )
        except InputError as exc:
            self.problems.errors.append(exc)
            return None

    def selector(self, node: Node | None, what: str) -> Selector | None:
        if node is None or node.value is None:
            return None
        if not isinstance(node.value, str):
            self.problems.add(
                f"{what} must be a selector string, not {describe(node.value)}", node.loc
            )
            return None
        try:
            return parse_selector(node.value, node.loc, self.params)
        except InputError as exc:
            self.problems.errors.append(exc)
            return None

    def expect(self, node: Node | None, what: str) -> Expect:
        if node is None or node.value is None:
            return Expect()
        view = MapView(
            node,
            what,
            ("exit_code", "stdout_contains", "stdout_matches", "stderr_not_contains"),
            self.problems,
        )
        if not view.ok:
            return Expect()
        codes: tuple[int, ...] = (0,)
        cn = view.get("exit_code")
        if cn is not None:
            raw = cn.value if isinstance(cn.value, list) else [cn]
            items = [n.value if isinstance(n, Node) else n for n in raw]
            if all(isinstance(i, int) and not isinstance(i, bool) for i in items) and items:
                codes = tuple(int(i) for i in items)
            else:
                self.problems.add(
                    f"exit_code in {what} must be an integer or a list of them", cn.loc
                )
        pattern = view.text("stdout_matches")
        if pattern is not None:
            try:
                re.compile(pattern)
            except re.error as exc:
                n = view.get("stdout_matches")
                assert n is not None
                self.problems.add(f"stdout_matches is not a valid regular expression: {exc}", n.loc)
                pattern = None
        return Expect(
            codes, view.text("stdout_contains"), pattern, view.text("stderr_not_contains")
        )

    def condition(self, node: Node, what: str, *, default_service: bool = True) -> Condition | None:
        view = MapView(
            node,
            what,
            ("service", "site", "host", "role", "caught_up", "link", "max_lag", "healthy"),
            self.problems,
        )
        if not view.ok:
            return None
        if not default_service and not view.has("service"):
            self.problems.add(f"{what} needs 'service'", node.loc)
        return Condition(
            service=self.template(view.get("service"), f"service in {what}"),
            site=self.template(view.get("site"), f"site in {what}"),
            host=self.template(view.get("host"), f"host in {what}"),
            role=view.choice("role", OBSERVED_ROLES),
            caught_up=view.flag("caught_up") if view.has("caught_up") else None,
            link=view.choice("link", LINKS),
            max_lag=view.duration("max_lag"),
            healthy=view.flag("healthy") if view.has("healthy") else None,
            loc=node.loc,
        )

    def command_check(
        self, node: Node, what: str, extra: tuple[str, ...] = ()
    ) -> CommandCheck | None:
        view = MapView(
            node,
            what,
            ("on", "run", "expect", "timeout", *extra),
            self.problems,
            required=("on", "run"),
        )
        if not view.ok:
            return None
        on = self.selector(view.get("on"), f"'on' in {what}")
        run = self.template(view.get("run"), f"'run' in {what}", shell=True)
        if on is None or run is None:
            return None
        return CommandCheck(
            on, run, self.expect(view.get("expect"), f"expect in {what}"), view.duration("timeout")
        )

    def gate(self, node: Node, index: int) -> Gate | None:
        what = f"preflight gate {index + 1}"
        if not node.is_map:
            self.problems.add(f"{what} must be a mapping, not {describe(node.value)}", node.loc)
            return None
        kinds = [k for k in ("replication", "role", "command") if k in node.value]
        title = node.value.get("title")
        extra = [k for k in node.value if k not in ("replication", "role", "command", "title")]
        for k in extra:
            hint = suggest(k, ("replication", "role", "command", "title"))
            self.problems.add(f"unknown key {k!r} in {what}{hint}", node.key_loc(k))
        if len(kinds) != 1:
            self.problems.add(f"{what} needs exactly one of replication, role, command", node.loc)
            return None
        kind = kinds[0]
        body = node.value[kind]
        title_text = str(title.value) if title is not None and title.value is not None else ""
        if kind == "command":
            check = self.command_check(body, what)
            return (
                Gate(kind, title_text or "command check", None, check, node.loc) if check else None
            )
        cond = self.condition(body, what, default_service=True)
        if cond is None:
            return None
        if kind == "role" and cond.role is None:
            self.problems.add(f"{what}: a role gate needs 'role'", body.loc)
        if not title_text:
            title_text = f"{kind} check"
        return Gate(kind, title_text, cond, None, node.loc)

    def step(self, node: Node, seen: dict[str, Location], rollback: bool) -> Step | None:
        if not node.is_map:
            self.problems.add(f"a step must be a mapping, not {describe(node.value)}", node.loc)
            return None
        sid_node = node.value.get("id")
        sid = str(sid_node.value) if sid_node is not None and sid_node.value is not None else "?"
        what = f"step {sid!r}"
        view = MapView(
            node,
            what,
            (
                "id",
                "title",
                "description",
                "on",
                "run",
                "wait",
                "manual",
                "confirm",
                "timeout",
                "retries",
                "retry_delay",
                "expect",
                "on_failure",
                "rto",
                "when",
            ),
            self.problems,
            required=("id",),
        )
        if not view.ok:
            return None
        if sid_node is not None:
            if not _STEP_ID.match(sid):
                self.problems.add(
                    f"step id {sid!r} must be lower case letters, digits, '-' and '_'", sid_node.loc
                )
            if sid in seen:
                first = seen[sid]
                self.problems.add(
                    f"two steps with id {sid!r} (first at line {first.line})", sid_node.loc
                )
            seen[sid] = sid_node.loc
        kinds = [k for k in ("run", "wait", "manual") if view.has(k)]
        if len(kinds) != 1:
            self.problems.add(f"{what} needs exactly one of run, wait, manual", node.loc)
            return None
        kind = kinds[0]
        on = self.selector(view.get("on"), f"'on' in {what}")
        run = manual = None
        wait: WaitSpec | None = None
        if kind == "run":
            run = self.template(view.get("run"), f"'run' in {what}", shell=True)
            if on is None and not view.has("on"):
                self.problems.add(f"{what} runs a command but has no 'on:' selector", node.loc)
        elif kind == "manual":
            manual = self.template(view.get("manual"), f"'manual' in {what}")
        else:
            wait = self.wait(view.get("wait"), what)
        on_failure = view.choice("on_failure", ON_FAILURE, "abort") or "abort"
        if rollback and on_failure == "rollback":
            n = view.get("on_failure")
            assert n is not None
            self.problems.add("a rollback step cannot itself roll back", n.loc)
        title = self.template(view.get("title"), f"title of {what}")
        if title is None:
            title = compile_template(sid, node.loc, shell=False, params=())
        return Step(
            id=sid,
            title=title,
            description=self.template(view.get("description"), f"description of {what}"),
            kind=kind,
            on=on,
            run=run,
            wait=wait,
            manual=manual,
            confirm=view.flag("confirm"),
            timeout=view.duration("timeout"),
            retries=view.integer("retries", 0, minimum=0) or 0,
            retry_delay=view.duration("retry_delay", 1.0) or 0.0,
            expect=self.expect(view.get("expect"), f"expect of {what}"),
            on_failure=on_failure,
            rto=view.choice("rto", ("start", "end")),
            when=self.template(view.get("when"), f"when of {what}"),
            loc=node.loc,
        )

    def wait(self, node: Node | None, what: str) -> WaitSpec | None:
        if node is None or not node.is_map:
            self.problems.add(
                f"wait in {what} must be a mapping with 'until' or 'run'",
                node.loc if node is not None else self.source.root.loc,
            )
            return None
        view = MapView(
            node,
            f"wait of {what}",
            ("until", "on", "run", "expect", "timeout", "interval"),
            self.problems,
        )
        until = None
        command = None
        if view.has("until") == view.has("run"):
            self.problems.add(f"wait in {what} needs exactly one of 'until' or 'run'", node.loc)
        elif view.has("until"):
            un = view.get("until")
            assert un is not None
            until = self.condition(un, f"until of {what}")
        else:
            on = self.selector(view.get("on"), f"'on' in wait of {what}")
            run = self.template(view.get("run"), f"'run' in wait of {what}", shell=True)
            if on is None and not view.has("on"):
                self.problems.add(f"wait in {what} runs a command but has no 'on:'", node.loc)
            if on is not None and run is not None:
                command = CommandCheck(
                    on, run, self.expect(view.get("expect"), f"expect of {what}"), None
                )
        timeout = view.duration("timeout")
        if timeout is None:
            self.problems.add(f"wait in {what} needs a 'timeout' (no wait is unbounded)", node.loc)
            timeout = 60.0
        interval = view.duration("interval", 1.0) or 1.0
        return WaitSpec(until, command, timeout, interval)

    def build(self) -> Playbook:
        root = self.source.root
        top = MapView(
            root,
            "the playbook",
            (
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
            ),
            self.problems,
            required=("version", "name", "kind", "steps"),
        )
        if not top.ok:
            raise InputErrors(self.problems.errors)
        vn = top.get("version")
        if vn is not None and vn.value != 1:
            self.problems.add(
                f"unsupported version {vn.value!r}: this drconsole reads version 1", vn.loc
            )
        name = top.text("name") or Path(self.source.path).stem
        params = self.build_params(top)
        self.params = tuple(params)
        objectives = Objectives()
        on = top.get("objectives")
        if on is not None and on.value is not None:
            ov = MapView(on, "objectives", ("rto", "rpo"), self.problems)
            objectives = Objectives(ov.duration("rto"), ov.duration("rpo"))
        preflight = [g for i, n in enumerate(top.seq("preflight")) if (g := self.gate(n, i))]
        seen: dict[str, Location] = {}
        steps = [s for n in top.seq("steps") if (s := self.step(n, seen, rollback=False))]
        if top.has("steps") and not top.seq("steps") and not self.problems:
            sn = top.get("steps")
            assert sn is not None
            self.problems.add("a playbook needs at least one step", sn.loc)
        rollback = [s for n in top.seq("rollback") if (s := self.step(n, seen, rollback=True))]
        self.check_rto(steps)
        if any(s.on_failure == "rollback" for s in steps) and not rollback:
            first = next(s for s in steps if s.on_failure == "rollback")
            self.problems.add(
                f"step {first.id!r} rolls back on failure but the playbook has no rollback: list",
                first.loc,
            )
        canary = None
        cn = top.get("canary")
        if cn is not None and cn.value is not None:
            cv = MapView(cn, "canary", ("service", "every"), self.problems, required=("service",))
            if cv.ok:
                canary = Canary(cv.text("service") or "", cv.duration("every", 1.0) or 1.0, cn.loc)
                if canary.every < 0.05:
                    self.problems.add("canary 'every' must be at least 50ms", cn.loc)
        if self.problems:
            raise InputErrors(self.problems.errors)
        return Playbook(
            name=name,
            kind=top.choice("kind", PLAYBOOK_KINDS, "custom") or "custom",
            title=top.text("title") or name,
            description=top.text("description"),
            service=top.text("service"),
            objectives=objectives,
            params=MappingProxyType(params),
            preflight=tuple(preflight),
            steps=tuple(steps),
            rollback=tuple(rollback),
            canary=canary,
            path=self.source.path,
            digest=self.source.digest,
            loc=root.loc,
        )

    def build_params(self, top: MapView) -> dict[str, Param]:
        params: dict[str, Param] = {}
        for pname, pnode, ploc in top.map_items("params"):
            if not _PARAM.match(pname):
                self.problems.add(
                    f"parameter name {pname!r} must be a Python-style identifier", ploc
                )
                continue
            if pname in CONTEXT_NAMES:
                self.problems.add(
                    f"parameter name {pname!r} is reserved (it names engine context)", ploc
                )
                continue
            pv = MapView(
                pnode if pnode.value is not None else Node({}, pnode.loc),
                f"parameter {pname!r}",
                ("default", "secret", "description", "choices", "pattern"),
                self.problems,
            )
            if not pv.ok:
                continue
            pattern = pv.text("pattern")
            if pattern is not None:
                try:
                    re.compile(pattern)
                except re.error as exc:
                    self.problems.add(
                        f"pattern of {pname!r} is not a valid regular expression: {exc}", ploc
                    )
                    pattern = None
            param = Param(
                name=pname,
                default=pv.text("default"),
                secret=pv.flag("secret"),
                description=pv.text("description"),
                choices=pv.str_list("choices"),
                pattern=pattern,
                loc=ploc,
            )
            if param.default is not None and (why := param.check(param.default)):
                self.problems.add(f"default of {why}", ploc)
            params[pname] = param
        return params

    def check_rto(self, steps: list[Step]) -> None:
        starts = [s for s in steps if s.rto == "start"]
        ends = [s for s in steps if s.rto == "end"]
        for marks, word in ((starts, "start"), (ends, "end")):
            if len(marks) > 1:
                self.problems.add(f"more than one step marks rto: {word}", marks[1].loc)
        if ends and not starts:
            self.problems.add("a step marks rto: end but none marks rto: start", ends[0].loc)
        if starts and ends and steps.index(ends[0]) < steps.index(starts[0]):
            self.problems.add("rto: end comes before rto: start", ends[0].loc)


def build_playbook(source: Source) -> Playbook:
    """Build a :class:`Playbook` from a loaded file.

    Raises:
        InputErrors: every problem found, each located.
    """
    return _Builder(source).build()


def load_playbook(path: Path | str) -> Playbook:
    """Load and check a playbook file.

    Raises:
        InputError: the file cannot be read or parsed (located).
        InputErrors: the content has problems (each located).
    """
    return build_playbook(load_file(path))
