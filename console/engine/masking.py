"""Secrets never leave the engine in the clear.

A parameter marked ``secret: true`` is used for real in the command sent to the host, and
replaced by ``****`` in everything else: events, the audit log, console output, the report.
Scrubbing works on text, so a secret is caught wherever it ends up (a rendered command, a
quoted form of it, a line of output that echoes it).
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from console.model.inventory import Inventory
    from console.model.playbook import Playbook

MASK = "****"

SECRET_VAR = re.compile(r"passw(or)?d|secret|token|api_?key", re.IGNORECASE)
"""Inventory variables whose names say they hold a secret are masked like secret parameters."""


class Masker:
    """Replaces secret values with ``****``."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        forms: set[str] = set()
        for value in secrets:
            if not value:
                continue
            forms.add(value)
            quoted = shlex.quote(value)
            if quoted != value:
                forms.add(quoted)
        # Longest first, so a quoted form is replaced whole before its inner value.
        self._forms = sorted(forms, key=len, reverse=True)

    def __bool__(self) -> bool:
        return bool(self._forms)

    def scrub(self, text: str) -> str:
        """``text`` with every secret replaced."""
        for form in self._forms:
            if form in text:
                text = text.replace(form, MASK)
        return text

    def params(self, values: Mapping[str, str], secret_names: Iterable[str]) -> dict[str, str]:
        """Parameter values fit to show: the secret ones masked."""
        secret = set(secret_names)
        return {k: (MASK if k in secret else v) for k, v in values.items()}


def _included_secrets(playbook: Playbook, params: Mapping[str, str]) -> list[str]:
    """The values of included playbooks' secret parameters (``include:``): text given in
    ``vars:``, their defaults, or the parent's value they are bound to (a secret bound to any
    other template is refused at load time)."""
    out: list[str] = []
    for inc in playbook.includes:
        values = inc.static_values(params)
        out += [values[n] for n in inc.playbook.secret_params if n in values]
        out += _included_secrets(inc.playbook, values)
    return out


def secret_values(playbook: Playbook, params: Mapping[str, str], inventory: Inventory) -> list[str]:
    """Every value to mask in a run: ``secret: true`` parameters, and inventory variables
    (inventory-wide, per host, per member) whose names say they are secrets."""
    values = [params[n] for n in playbook.secret_params if n in params]
    values += _included_secrets(playbook, params)
    scopes: list[Mapping[str, str]] = [inventory.vars]
    scopes += [h.vars for h in inventory.hosts.values()]
    scopes += [m.vars for s in inventory.services.values() for m in s.members.values()]
    for scope in scopes:
        values += [v for k, v in scope.items() if SECRET_VAR.search(k)]
    return values
