"""Checks that need a playbook and an inventory together, and binding ``--var`` values.

A playbook is written once and run against several inventories (the lab, staging,
production), so the names it uses (its service, the sites and tags in its selectors) are
checked against the inventory it is about to meet, before anything runs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from console.errors import InputError, InputErrors, Location
from console.model.inventory import Inventory
from console.model.playbook import Condition, Playbook
from console.model.reader import suggest
from console.model.selectors import Selector
from console.model.templates import Template


def _known(kind: str, inventory: Inventory) -> Iterable[str]:
    if kind == "site":
        return inventory.sites
    if kind == "tag":
        return inventory.tags
    if kind == "service":
        return inventory.services
    return inventory.hosts


def _check_name(
    kind: str, value: str, loc: Location, inventory: Inventory, errors: list[InputError]
) -> None:
    known = _known(kind, inventory)
    if value not in known:
        errors.append(
            InputError(
                f"{kind} {value!r} is not in inventory {inventory.name!r}{suggest(value, known)}",
                loc,
            )
        )


_SINGLE_PARAM = re.compile(r"^\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}$")


def _term_value(tpl: Template, values: Mapping[str, str]) -> str | None:
    """The value a selector term or condition field will have, when knowable now."""
    if tpl.is_static:
        return tpl.source.strip()
    m = _SINGLE_PARAM.match(tpl.source.strip())
    if m and m.group(1) in values:
        return values[m.group(1)]
    return None


def _check_selector(
    sel: Selector | None,
    inventory: Inventory,
    values: Mapping[str, str],
    errors: list[InputError],
) -> None:
    if sel is None:
        return
    for term in sel.terms:
        if term.key in ("site", "tag", "service", "host"):
            value = _term_value(term.value, values)
            if value is not None:
                _check_name(term.key, value, sel.loc, inventory, errors)


def _check_field(
    kind: str,
    tpl: Template | None,
    inventory: Inventory,
    values: Mapping[str, str],
    errors: list[InputError],
) -> None:
    if tpl is not None and (value := _term_value(tpl, values)) is not None:
        _check_name(kind, value, tpl.loc, inventory, errors)


def _check_condition(
    cond: Condition | None,
    inventory: Inventory,
    values: Mapping[str, str],
    errors: list[InputError],
) -> None:
    if cond is None:
        return
    _check_field("service", cond.service, inventory, values, errors)
    _check_field("site", cond.site, inventory, values, errors)
    _check_field("host", cond.host, inventory, values, errors)


def check_against(
    playbook: Playbook, inventory: Inventory, values: Mapping[str, str] | None = None
) -> list[InputError]:
    """Every name in ``playbook`` that ``inventory`` does not have, located in the playbook.

    Args:
        values: parameter values to check selectors with (``--var``s bound over defaults);
            None checks with the defaults.
    """
    if values is None:
        values = {n: p.default for n, p in playbook.params.items() if p.default is not None}
    errors: list[InputError] = []
    if playbook.service is not None and playbook.service not in inventory.services:
        errors.append(
            InputError(
                f"service {playbook.service!r} is not in inventory {inventory.name!r}"
                f"{suggest(playbook.service, inventory.services)}",
                playbook.loc,
            )
        )
    if playbook.canary is not None and playbook.canary.service not in inventory.services:
        errors.append(
            InputError(
                f"canary service {playbook.canary.service!r} is not in inventory "
                f"{inventory.name!r}",
                playbook.canary.loc,
            )
        )
    for gate in playbook.preflight:
        _check_condition(gate.condition, inventory, values, errors)
        if gate.command is not None:
            _check_selector(gate.command.on, inventory, values, errors)
    for step in playbook.all_steps():
        _check_selector(step.on, inventory, values, errors)
        if step.wait is not None:
            _check_condition(step.wait.until, inventory, values, errors)
            if step.wait.command is not None:
                _check_selector(step.wait.command.on, inventory, values, errors)
    # One message per place: a default used in several selectors is reported once each.
    unique: dict[str, InputError] = {str(e): e for e in errors}
    return list(unique.values())


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


def bind_params(playbook: Playbook, overrides: Mapping[str, str]) -> dict[str, str]:
    """The parameter values for a run: defaults overridden by ``--var``.

    Raises:
        InputErrors: an unknown name, a missing value, or a value the parameter refuses.
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
            errors.append(InputError(f"parameter {name!r} has no default: pass --var {name}=..."))
            continue
        why = param.check(value)
        if why:
            errors.append(InputError(f"--var {why}" if name in overrides else why))
            continue
        values[name] = value
    if errors:
        raise InputErrors(errors)
    return values
