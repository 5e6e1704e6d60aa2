"""Checks that need a playbook and an inventory together, and binding ``--var`` values.

A playbook is written once and run against several inventories (the lab, staging,
production), so everything it takes from the inventory is checked against the inventory it
is about to meet, before anything runs: the names it uses (its service, the sites, hosts and
tags of its selectors and conditions), whether each selector can match a host at all, whether
a condition's members exist, the kind of its canary's service, and every inventory value its
templates reach for (``console.model.usage``). ``drconsole validate`` and ``drconsole run``
call the same function (``check_run_inputs``), so what ``run`` refuses as bad input
``validate`` refuses first, with the same message at the same place.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from console.errors import InputError, InputErrors, Location
from console.model.enums import CANARY_KINDS, SELECTOR_ROLES
from console.model.gates import Condition
from console.model.include import Include, known_value
from console.model.inventory import Inventory
from console.model.pitr import check_targets
from console.model.playbook import Playbook
from console.model.reader import suggest
from console.model.selectors import Selector
from console.model.templates import Template
from console.model.usage import UsageChecker, Use, gate_templates, step_templates


def _known(kind: str, inventory: Inventory) -> Iterable[str]:
    if kind == "site":
        return inventory.sites
    if kind == "tag":
        return inventory.tags
    if kind == "service":
        return inventory.services
    return inventory.hosts


_SINGLE_PARAM = re.compile(r"^\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}$")


@dataclass(frozen=True)
class _Value:
    """What a name slot (a selector term, a condition field) will hold, when knowable now."""

    text: str
    why: str
    """``""`` for text written as is; `` (parameter to_site)`` for a parameter's value."""
    loc: Location | None = None
    """Where the value is written when it is not where it is used (a default, a choice)."""


def _values(tpl: Template, playbook: Playbook, values: Mapping[str, str]) -> list[_Value]:
    """The values a slot can take: its text, or its parameter's value and every choice."""
    if tpl.is_static:
        return [_Value(tpl.source.strip(), "")]
    m = _SINGLE_PARAM.match(tpl.source.strip())
    if m is None:
        return []
    name = m.group(1)
    out: list[_Value] = []
    param = playbook.params.get(name)
    if name in values:
        value = values[name]
        if param is not None and value == param.default:
            out.append(_Value(value, f" (default of parameter {name})", param.default_loc))
        else:
            out.append(_Value(value, f" (--var {name})"))
    if param is not None:
        locs = param.choice_locs if len(param.choice_locs) == len(param.choices) else ()
        out.extend(
            _Value(choice, f" (a choice of parameter {name})", locs[i] if locs else None)
            for i, choice in enumerate(param.choices)
            if choice != values.get(name)
        )
    return out


class _Checker:
    def __init__(self, playbook: Playbook, inventory: Inventory, values: Mapping[str, str]) -> None:
        self.playbook = playbook
        self.inventory = inventory
        self.values = values
        self.errors: list[InputError] = []

    def add(self, message: str, loc: Location) -> None:
        self.errors.append(InputError(message, loc))

    def name(self, kind: str, value: _Value, loc: Location) -> bool:
        known = _known(kind, self.inventory)
        if value.text in known:
            return True
        self.add(
            f"{kind} {value.text!r}{value.why} is not in inventory {self.inventory.name!r}"
            f"{suggest(value.text, known)}",
            value.loc or loc,
        )
        return False

    def selector(self, sel: Selector | None) -> tuple[str, ...]:
        """Check a selector's names; return the hosts it can match (role terms aside)."""
        if sel is None:
            return ()
        inv = self.inventory
        hosts = set(inv.hosts)
        service_term = next((t for t in sel.terms if t.key == "service"), None)
        services: list[str] | None = None  # None: cannot tell which
        if service_term is None and self.playbook.service is not None:
            services = [self.playbook.service]
        before = len(self.errors)
        for term in sel.terms:
            candidates = _values(term.value, self.playbook, self.values)
            if term.key == "role":
                for v in candidates:
                    if v.text not in SELECTOR_ROLES:
                        self.add(
                            f"role{v.why} in a selector must be one of "
                            f"{', '.join(SELECTOR_ROLES)}, not {v.text!r}",
                            v.loc or term.loc,
                        )
                if service_term is None and self.playbook.service is None:
                    self.add(
                        "a role: term needs a service: term or a playbook service "
                        "(roles are per service)",
                        term.loc,
                    )
                continue
            ok = [v.text for v in candidates if self.name(term.key, v, term.loc)]
            if not candidates or len(ok) < len(candidates):
                continue  # unknown until the run, or already reported
            current = ok[0]
            if term.key == "host":
                hosts &= {current}
            elif term.key == "site":
                hosts &= set(inv.sites[current].hosts)
            elif term.key == "tag":
                hosts &= {h for h, host in inv.hosts.items() if current in host.tags}
            else:
                hosts &= set(inv.services[current].members)
                services = [current]
        if any(t.key == "role" for t in sel.terms) and services is not None:
            hosts &= {h for s in services if s in inv.services for h in inv.services[s].members}
        if not hosts and len(self.errors) == before:
            self.add(f"no host of inventory {inv.name!r} matches {sel.source!r}", sel.loc)
        return tuple(h for h in inv.hosts if h in hosts)

    def condition(self, cond: Condition | None) -> None:
        if cond is None:
            return
        inv = self.inventory
        service: str | None = self.playbook.service
        if cond.service is not None:
            found = _values(cond.service, self.playbook, self.values)
            known = [v for v in found if self.name("service", v, cond.service.loc)]
            if not found or not known or known[0] is not found[0]:
                return
            service = found[0].text
        elif service is None:
            self.add("a condition needs 'service' (the playbook names no service)", cond.loc)
            return
        if service not in inv.services:
            return  # reported with the playbook's service
        members = inv.services[service].members
        for field, tpl in (("site", cond.site), ("host", cond.host)):
            if tpl is None:
                continue
            for v in _values(tpl, self.playbook, self.values):
                if not self.name(field, v, tpl.loc):
                    continue
                if field == "site":
                    match = [h for h in members if inv.hosts[h].site == v.text]
                else:
                    match = [h for h in members if h == v.text]
                if not match:
                    self.add(
                        f"service {service!r} has no member at {field} {v.text!r}{v.why}",
                        v.loc or tpl.loc,
                    )

    def usage(self, uses: list[Use]) -> None:
        checker = UsageChecker(
            self.inventory, self.playbook.service, self.playbook.params, self.values
        )
        for use in uses:
            self.errors.extend(checker.check(use))

    def run(self) -> list[InputError]:
        pb, inv = self.playbook, self.inventory
        if pb.service is not None and pb.service not in inv.services:
            self.add(
                f"service {pb.service!r} is not in inventory {inv.name!r}"
                f"{suggest(pb.service, inv.services)}",
                pb.service_loc or pb.loc,
            )
        if pb.canary is not None:
            where = pb.canary.service_loc or pb.canary.loc
            svc = inv.services.get(pb.canary.service)
            if svc is None:
                self.add(
                    f"canary service {pb.canary.service!r} is not in inventory {inv.name!r}"
                    f"{suggest(pb.canary.service, inv.services)}",
                    where,
                )
            elif svc.kind not in CANARY_KINDS:
                self.add(
                    f"canary service {svc.name!r} is of kind {svc.kind}: a canary writes to "
                    f"{', '.join(CANARY_KINDS)} only",
                    where,
                )
        uses: list[Use] = []
        for gate in pb.preflight:
            if gate.scope is not None:
                continue  # an included playbook's: checked with its own values below
            self.condition(gate.condition)
            hosts = self.selector(gate.command.on) if gate.command is not None else ()
            uses.extend(Use(t, c, True, hosts if c else ()) for t, c in gate_templates(gate))
        for step in pb.all_steps():
            if step.scope is not None:
                continue
            hosts = self.selector(step.on)
            if step.wait is not None:
                self.condition(step.wait.until)
                if step.wait.command is not None:
                    hosts = self.selector(step.wait.command.on)
            uses.extend(Use(t, c, False, hosts if c else ()) for t, c in step_templates(step))
        self.usage(uses)
        for inc in pb.includes:
            self.errors.extend(check_include(inc, inv, self.values))
        # One message per place: a value used in several slots is reported once each.
        unique: dict[str, InputError] = {str(e): e for e in self.errors}
        return list(unique.values())


def check_include(
    include: Include, inventory: Inventory, values: Mapping[str, str]
) -> list[InputError]:
    """An include's problems against ``inventory`` with the parent's values: each ``vars:``
    value its parameter refuses (at the value), then the included playbook's own (in its file)."""
    errors: list[InputError] = []
    for name, tpl in include.scope.vars.items():
        value = known_value(tpl, values)
        param = include.playbook.params.get(name)
        if value is not None and param is not None and not tpl.is_static:
            why = param.check(value)
            if why:
                errors.append(InputError(f"vars.{name} of include {include.id!r}: {why}", tpl.loc))
    return errors + check_against(include.playbook, inventory, include.static_values(values))


def check_against(
    playbook: Playbook, inventory: Inventory, values: Mapping[str, str] | None = None
) -> list[InputError]:
    """Every problem of ``playbook`` against ``inventory``, located in the playbook.

    Args:
        values: parameter values to check with (``--var``s bound over defaults); None checks
            with the defaults.
    """
    if values is None:
        values = {n: p.default for n, p in playbook.params.items() if p.default is not None}
    return _Checker(playbook, inventory, values).run()


def parse_var_args(items: Iterable[str]) -> dict[str, str]:
    """Turn ``["K=V", ...]`` into a mapping.

    Raises:
        InputError: an item without ``=`` or with an empty name.
    """
    out: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise InputError(f"--var {item!r}: expected NAME=VALUE")
        out[name] = value
    return out


def bind_params(
    playbook: Playbook, overrides: Mapping[str, str], *, require: bool = True
) -> dict[str, str]:
    """The parameter values for a run: defaults overridden by ``--var``.

    Args:
        require: a parameter without a value is an error (a run); False leaves it out (a
            ``validate`` without ``--var``: the playbook is valid, the run will ask).

    Raises:
        InputErrors: an unknown name (one line: it is an argument), a missing value or a value
            the parameter refuses (located at the parameter's declaration).
    """
    errors: list[InputError] = []
    values: dict[str, str] = {}
    for name in overrides:
        if name not in playbook.params:
            known = ", ".join(sorted(playbook.params)) or "none"
            errors.append(
                InputError(
                    f"--var {name}: playbook {playbook.name!r} has no such parameter"
                    f"{suggest(name, playbook.params)} (parameters: {known})"
                )
            )
    for name, param in playbook.params.items():
        value = overrides.get(name, param.default)
        if value is None:
            if require:
                errors.append(
                    InputError(
                        f"parameter {name!r} has no default: pass --var {name}=...", param.loc
                    )
                )
            continue
        why = param.check(value)
        if why:
            errors.append(InputError(f"--var {why}" if name in overrides else why, param.loc))
            continue
        values[name] = value
    if not errors:
        errors.extend(
            check_targets(
                playbook.kind,
                playbook.params,
                values,
                overrides,
                require=require,
                playbook_loc=playbook.loc,
            )
        )
    if errors:
        raise InputErrors(errors)
    return values


def check_run_inputs(
    playbook: Playbook,
    inventory: Inventory,
    overrides: Mapping[str, str],
    *,
    require: bool = True,
) -> dict[str, str]:
    """Bind the parameters and check the playbook against the inventory with them: the one
    check both ``run`` and ``validate`` make.

    Raises:
        InputErrors: every problem, located in the playbook.
    """
    values = bind_params(playbook, overrides, require=require)
    problems = check_against(playbook, inventory, values)
    if problems:
        raise InputErrors(problems)
    return values
