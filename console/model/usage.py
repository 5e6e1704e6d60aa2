"""What a playbook's templates reach for, checked before anything runs.

A template is compiled at load time, so an undefined *name* is caught there; but
``{{ target.vars.stop_cmd }}`` names a variable that only the inventory can supply, and
``{{ steps['fence'].stdout }}`` the output of a step that must have run before. At run time
each of these is an undefined value and a failed step, after hosts were touched. This module
walks every template's expression tree for the attribute chains rooted at the context names
(``vars``, ``target``, ``service``, ``services``, ``sites``, ``hosts``, ``steps``, ``step``...)
and checks each chain against what the engine will provide:

* against the playbook alone (``check_step_references``): ``steps[id]`` names a step that runs
  earlier, ``target`` appears only in commands (the one place the engine defines it), ``step``
  not in a preflight gate;
* against an inventory (``UsageChecker``): ``vars.X`` is an inventory variable,
  ``target.vars.X`` is defined for every host the step can run on, ``service.members[h]``,
  ``service.at[site]``, ``sites[s]``, ``hosts[h]`` exist, and ``service`` is used only when
  the playbook names one.

The shape of the context mirrors ``console.engine.context`` (a test compares the two).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import jinja2
from jinja2 import nodes

from console.errors import InputError, Location
from console.model.inventory import Inventory, Member, Service
from console.model.reader import suggest
from console.model.templates import CONTEXT_NAMES, TEXT_ENV, Template

if TYPE_CHECKING:  # the playbook's parts import this module
    from console.model.gates import Gate
    from console.model.steps import Step


@dataclass(frozen=True)
class Unknown:
    """A key whose value cannot be known before the run (``service.at[some_expression]``)."""


UNKNOWN = Unknown()
Key = str | int | Unknown


@dataclass(frozen=True)
class Ref:
    """One attribute chain in a template: ``target.vars.stop_cmd`` is
    ``Ref("target", ("vars", "stop_cmd"))``."""

    root: str
    keys: tuple[Key, ...]
    template: Template
    guarded: frozenset[str] = frozenset()
    """Names the template tests with ``is defined`` or gives a ``default``: a missing one of
    these is the author's intent, not a mistake."""

    def shown(self, upto: int | None = None) -> str:
        """The chain as a person writes it, up to ``upto`` keys."""
        text = self.root
        for key in self.keys[:upto]:
            if isinstance(key, Unknown):
                text += "[…]"
            elif isinstance(key, int):
                text += f"[{key}]"
            elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
                text += f".{key}"
            else:
                text += f"[{key!r}]"
        return text

    def loc(self, index: int) -> Location:
        """Where key ``index`` (or the root, for -1) is written in the template."""
        if index < 0 or index >= len(self.keys) or isinstance(self.keys[index], Unknown):
            return self.template.find(rf"\b{re.escape(self.root)}\b")
        key = str(self.keys[index])
        return self.template.find(
            rf"(?<=\.)\s*{re.escape(key)}\b|\[\s*['\"]?{re.escape(key)}['\"]?\s*\]"
        )


def _chain(node: nodes.Node, values: Mapping[str, str]) -> tuple[str, tuple[Key, ...]] | None:
    keys: list[Key] = []
    while isinstance(node, nodes.Getattr | nodes.Getitem):
        if isinstance(node, nodes.Getattr):
            keys.append(node.attr)
        elif isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str | int):
            keys.append(node.arg.value)
        elif isinstance(node.arg, nodes.Name) and node.arg.name in values:
            keys.append(values[node.arg.name])
        else:
            keys.append(UNKNOWN)
        node = node.node
    if not isinstance(node, nodes.Name):
        return None
    return node.name, tuple(reversed(keys))


def _guarded(ast: nodes.Template, values: Mapping[str, str]) -> Iterator[str]:
    """The last name of every value tested with ``is defined`` or given a ``default``."""
    tested: list[nodes.Node] = [
        t.node for t in ast.find_all(nodes.Test) if t.name in ("defined", "undefined")
    ]
    tested += [
        f.node for f in ast.find_all(nodes.Filter) if f.name == "default" and f.node is not None
    ]
    for node in tested:
        if isinstance(node, nodes.Name):
            yield node.name
            continue
        found = _chain(node, values)
        if found is not None and found[1] and not isinstance(found[1][-1], Unknown):
            yield str(found[1][-1])


def references(template: Template, values: Mapping[str, str] | None = None) -> list[Ref]:
    """Every chain rooted at a context name in ``template`` (longest chains only; bare names
    as chains without keys). ``values``: parameter values, to resolve ``x[param]``."""
    values = values or {}
    try:
        ast = TEXT_ENV.parse(template.source)
    except jinja2.TemplateSyntaxError:  # pragma: no cover - compiled at load time already
        return []
    local = {n.name for n in ast.find_all(nodes.Name) if n.ctx in ("store", "param")}
    guarded = frozenset(_guarded(ast, values))
    inner: set[int] = set()
    chains = [
        n
        for n in ast.find_all((nodes.Getattr, nodes.Getitem))
        if isinstance(n, nodes.Getattr | nodes.Getitem)
    ]
    for n in chains:
        inner.add(id(n.node))
    out: list[Ref] = []
    seen: set[tuple[str, tuple[Key, ...]]] = set()
    for n in chains:
        if id(n) in inner:
            continue
        found = _chain(n, values)
        if found is None or found[0] not in CONTEXT_NAMES or found[0] in local:
            continue
        if found not in seen:
            seen.add(found)
            out.append(Ref(found[0], found[1], template, guarded))
    for name in ast.find_all(nodes.Name):
        if id(name) in inner or name.ctx != "load" or name.name in local:
            continue
        if name.name in CONTEXT_NAMES and (name.name, ()) not in seen:
            seen.add((name.name, ()))
            out.append(Ref(name.name, (), template, guarded))
    return out


# -- where each template of a playbook is rendered --------------------------------------------


@dataclass(frozen=True)
class Use:
    """A template and the context it is rendered in."""

    template: Template
    command: bool
    """Rendered with ``target`` (a command)."""
    gate: bool
    """In a preflight gate (no ``step`` yet)."""
    hosts: tuple[str, ...] = ()
    """For a command: the hosts it can be rendered for (its selector's static matches)."""


def step_templates(step: Step) -> Iterator[tuple[Template, bool]]:
    """A step's templates and whether each is a command (rendered per target host)."""
    for tpl in (step.title, step.description, step.manual, step.when):
        if tpl is not None:
            yield tpl, False
    if step.run is not None:
        yield step.run, True
    if step.on is not None:
        for term in step.on.terms:
            yield term.value, False
    if step.wait is not None:
        if step.wait.until is not None:
            for tpl in (step.wait.until.service, step.wait.until.site, step.wait.until.host):
                if tpl is not None:
                    yield tpl, False
        if step.wait.command is not None:
            yield step.wait.command.run, True
            for term in step.wait.command.on.terms:
                yield term.value, False


def gate_templates(gate: Gate) -> Iterator[tuple[Template, bool]]:
    """A preflight gate's templates and whether each is a command."""
    if gate.condition is not None:
        for tpl in (gate.condition.service, gate.condition.site, gate.condition.host):
            if tpl is not None:
                yield tpl, False
    if gate.command is not None:
        yield gate.command.run, True
        for term in gate.command.on.terms:
            yield term.value, False


def check_references(
    preflight: Iterable[Gate],
    steps: Iterable[Step],
    rollback: Iterable[Step],
    service: str | None,
) -> list[InputError]:
    """Problems a playbook's templates have on their own: ``steps[id]`` of a step that does
    not run before, ``target`` outside a command, ``step`` in a gate, ``service`` in a playbook
    that names none."""
    steps, rollback = list(steps), list(rollback)
    main_ids = [s.id for s in steps]
    errors: list[InputError] = []
    # (where, the step's id, template, is a command, the steps that ran before or None)
    uses: list[tuple[str, str | None, Template, bool, list[str] | None]] = []
    for g, gate in enumerate(preflight):
        uses.extend((f"preflight gate {g + 1}", None, t, c, None) for t, c in gate_templates(gate))
    for i, step in enumerate([*steps, *rollback]):
        if i >= len(steps):
            ran = [*main_ids, *(s.id for s in rollback[: i - len(steps)])]
        else:
            ran = main_ids[:i]
        uses.extend((f"step {step.id!r}", step.id, t, c, ran) for t, c in step_templates(step))
    for where, step_id, tpl, command, earlier in uses:
        for ref in references(tpl):
            if ref.root == "target" and not command:
                errors.append(
                    InputError(
                        f"'target' is defined only in commands (run:), not here in {where}",
                        ref.loc(-1),
                    )
                )
            elif ref.root == "service" and service is None:
                errors.append(
                    InputError(
                        "template uses 'service', but the playbook names no service "
                        "(add service: NAME, or use services['NAME'])",
                        ref.loc(-1),
                    )
                )
            elif ref.root in ("step", "steps") and earlier is None:
                errors.append(
                    InputError(
                        f"{ref.root!r} is not defined in {where}: no step has run yet",
                        ref.loc(-1),
                    )
                )
            elif ref.root == "steps" and ref.keys and not isinstance(ref.keys[0], Unknown):
                assert earlier is not None
                sid = str(ref.keys[0])
                if sid in earlier:
                    continue
                if sid == step_id:
                    why = "is this step itself: its output exists only after it ran"
                elif sid in main_ids or any(s.id == sid for s in rollback):
                    why = "runs later: its output does not exist yet"
                else:
                    why = "is not a step of this playbook" + suggest(sid, main_ids)
                errors.append(
                    InputError(f"template uses steps[{sid!r}], but that step {why}", ref.loc(0))
                )
    return errors


# -- the context's shape, from an inventory -----------------------------------------------------


@dataclass(frozen=True)
class Open:
    """Anything may follow (a list, a number, text with methods)."""


OPEN = Open()


@dataclass(frozen=True)
class Nothing:
    """A value that is None at run time; any attribute of it is undefined."""

    why: str


@dataclass(frozen=True)
class Closed:
    """A mapping with known keys."""

    what: str
    """``the variables of host 'lab-dr'``: for messages."""
    fields: Mapping[str, Shape]


@dataclass(frozen=True)
class AllOf:
    """A value that may be any of these at run time: a chain must hold in each."""

    alternatives: tuple[Shape, ...]


Shape = Open | Nothing | Closed | AllOf


DICT_METHODS = frozenset({"items", "keys", "values", "get"})
"""Every mapping in the context is a ``dict``: ``service.members.values()`` is a method."""


def _walk(shape: Shape, ref: Ref, start: int) -> InputError | None:
    for i in range(start, len(ref.keys)):
        key = ref.keys[i]
        if isinstance(shape, Open):
            return None
        if isinstance(shape, Closed) and key in DICT_METHODS:
            return None
        if isinstance(shape, AllOf):
            for alt in shape.alternatives:
                problem = _walk(alt, ref, i)
                if problem is not None:
                    return problem
            return None
        if not isinstance(key, Unknown) and str(key) in ref.guarded:
            return None
        if isinstance(shape, Nothing):
            return InputError(
                f"template uses {ref.shown(i + 1)}, but {ref.shown(i)} is nothing there "
                f"({shape.why})",
                ref.loc(i),
            )
        if isinstance(key, Unknown):
            return None
        if str(key) not in shape.fields:
            return InputError(
                f"template uses {ref.shown(i + 1)}, but {key!r} is not among {shape.what}"
                f"{suggest(str(key), shape.fields)}",
                ref.loc(i),
            )
        shape = shape.fields[str(key)]
    return None


def _leaves(names: Iterable[str]) -> dict[str, Shape]:
    return dict.fromkeys(names, OPEN)


@dataclass
class UsageChecker:
    """Checks every chain of a playbook's templates against one inventory.

    Args:
        inventory: The estate.
        service: The playbook's service, when the inventory has it.
        params: The playbook's parameter names.
        values: Known parameter values (bound, or defaults).
    """

    inventory: Inventory
    service: str | None
    params: Iterable[str]
    values: Mapping[str, str]
    _vars_cache: dict[tuple[str, str | None], dict[str, Shape]] = field(default_factory=dict)

    def member_vars(
        self, host: str, member: Member | None, service: str | None = None
    ) -> dict[str, Shape]:
        """Template variables of a host (inventory, host, its member of ``service``)."""
        key = (host, service if member is not None else None)
        if key not in self._vars_cache:
            names = set(self.inventory.vars) | set(self.inventory.hosts[host].vars)
            if member is not None:
                names |= set(member.vars)
            self._vars_cache[key] = _leaves(sorted(names))
        return self._vars_cache[key]

    def member_shape(self, service: Service, member: Member) -> Closed:
        """One member as ``console.engine.context.member_view`` makes it."""
        fields: dict[str, Shape] = _leaves(
            ("host", "site", "address", "port", "role", "observed", "lag_seconds", "lag_bytes")
        )
        fields["position"] = OPEN
        fields["aliases"] = OPEN  # a list of ADDRESS:PORT
        fields["vars"] = Closed(
            f"the variables of member {member.host!r} of {service.name!r}",
            self.member_vars(member.host, member, service.name),
        )
        return Closed(f"the fields of member {member.host!r}", fields)

    def service_shape(self, service: Service) -> Closed:
        """A service as ``console.engine.context.service_view`` makes it."""
        members = {h: self.member_shape(service, m) for h, m in service.members.items()}
        at: dict[str, Shape] = {}
        for h, shape in members.items():
            at.setdefault(self.inventory.hosts[h].site, shape)
        expected = service.expected_primary
        fields: dict[str, Shape] = {
            "name": OPEN,
            "kind": OPEN,
            "members": Closed(f"the members of {service.name!r}", members),
            "at": Closed(f"the sites where {service.name!r} has members", at),
            # the observed primary may be any member
            "primary": AllOf(tuple(members.values())) if members else Nothing("no members"),
            "expected_primary": members[expected]
            if expected in members
            else Nothing(f"the inventory names no primary of {service.name!r}"),
            "replicas": OPEN,
            "cluster_nodes": OPEN,
            "backup": Closed(
                f"the backup of {service.name!r}",
                {k: OPEN for k in service.backup.view()},
            )
            if service.backup is not None
            else Nothing(f"service {service.name!r} has no backup: in the inventory"),
        }
        return Closed(f"the fields of service {service.name!r}", fields)

    def target_shape(self, host: str) -> Closed:
        """``target`` for a command rendered on ``host``."""
        inv = self.inventory
        svc = inv.services.get(self.service) if self.service else None
        member = svc.members.get(host) if svc is not None else None
        fields: dict[str, Shape] = _leaves(("name", "address", "port", "site", "tags"))
        fields["vars"] = Closed(
            f"the variables of host {host!r}", self.member_vars(host, member, self.service)
        )
        if svc is not None and member is not None:
            fields["member"] = self.member_shape(svc, member)
        else:
            why = (
                f"host {host!r} is not a member of {self.service!r}"
                if self.service
                else "the playbook names no service"
            )
            fields["member"] = Nothing(why)
        return Closed(f"the fields of target {host!r}", fields)

    def context(self, use: Use) -> Closed:
        """The names a template rendered at ``use`` sees."""
        inv = self.inventory
        fields: dict[str, Shape] = _leaves(("mode", "run_id", "operator", *self.params))
        fields["playbook"] = Closed("the playbook's fields", _leaves(("name", "title", "kind")))
        fields["inventory"] = Closed("the inventory's fields", _leaves(("name", "path")))
        fields["vars"] = Closed(
            f"the variables of inventory {inv.name!r}", _leaves(sorted(inv.vars))
        )
        site_fields = _leaves(("name", "role", "description", "hosts"))
        fields["sites"] = Closed(
            f"the sites of inventory {inv.name!r}",
            {s: Closed(f"the fields of site {s!r}", site_fields) for s in inv.sites},
        )
        fields["hosts"] = Closed(
            f"the hosts of inventory {inv.name!r}",
            {
                h: Closed(
                    f"the fields of host {h!r}",
                    {
                        **_leaves(("name", "address", "port", "site", "tags")),
                        "vars": Closed(f"the variables of host {h!r}", self.member_vars(h, None)),
                    },
                )
                for h in inv.hosts
            },
        )
        fields["services"] = Closed(
            f"the services of inventory {inv.name!r}",
            {name: self.service_shape(svc) for name, svc in inv.services.items()},
        )
        fields["steps"] = OPEN  # checked against the playbook by check_step_references
        if self.service and self.service in inv.services:
            fields["service"] = self.service_shape(inv.services[self.service])
        if not use.gate:
            fields["step"] = Closed("the fields of step", _leaves(("id", "attempt")))
        if use.command:
            fields["target"] = (
                AllOf(tuple(self.target_shape(h) for h in use.hosts)) if use.hosts else OPEN
            )
        return Closed("the names a template sees", fields)

    def check(self, use: Use) -> list[InputError]:
        """Every chain of ``use.template`` that will be undefined when it is rendered."""
        errors: list[InputError] = []
        context = self.context(use)
        for ref in references(use.template, self.values):
            if ref.root not in context.fields:
                continue  # misplaced names are the loader's (check_references) to report
            problem = _walk(context.fields[ref.root], ref, 0)
            if problem is not None:
                errors.append(problem)
        return errors
