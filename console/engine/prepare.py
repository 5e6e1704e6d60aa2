"""Everything that can be checked before a run touches a host.

Loading the inventory and the playbook, checking the playbook's names against the inventory,
binding ``--var`` values (and, for ``--resume``, the values the run was started with): every
problem here is bad input, reported as ``file:line:col: message`` with exit 2, before an audit
record or a connection exists.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from console.audit.store import AuditStore
from console.engine.managed import manager_refusal
from console.engine.masking import MASK
from console.engine.resume import ResumeState, load_resume_state
from console.errors import InputError
from console.model.checks import bind_params, check_run_inputs, parse_var_args
from console.model.inventory import Inventory, load_inventory
from console.model.playbook import Playbook, load_playbook


@dataclass(frozen=True)
class Prepared:
    """A playbook and an inventory checked together, with the run's parameter values."""

    inventory: Inventory
    playbook: Playbook
    params: dict[str, str]
    resume: ResumeState | None
    warnings: tuple[str, ...]


def prepare(
    playbook_path: Path,
    inventory_path: Path,
    var_args: Iterable[str],
    *,
    audit: AuditStore | None = None,
    resume: str | None = None,
) -> Prepared:
    """Load, check and bind.

    Raises:
        InputError / InputErrors: anything wrong with the files, the names or the values.
    """
    inventory = load_inventory(inventory_path)
    playbook = load_playbook(playbook_path)
    overrides = parse_var_args(var_args)
    warnings: list[str] = []
    state = None
    if resume is not None:
        assert audit is not None
        state = load_resume_state(audit, resume, playbook)
        recorded = dict(state.params)
        for name, value in overrides.items():
            if name in recorded and recorded[name] != MASK and recorded[name] != value:
                raise InputError(
                    f"--var {name}: run {state.run_id} ran with {name}={recorded[name]!r}; "
                    "a resumed run keeps its values"
                )
        merged = {k: v for k, v in recorded.items() if v != MASK and k in playbook.params}
        merged.update(overrides)
        missing = [n for n in state.secret_params_missing if n not in overrides]
        if missing:
            raise InputError(
                f"--resume {state.run_id}: secret parameter(s) {', '.join(missing)} are not "
                "recorded; give them again with --var"
            )
        overrides = merged
        if state.playbook_digest != playbook.digest:
            warnings.append(
                f"{playbook.path} changed since run {state.run_id} started "
                f"(was {state.playbook_digest[:19]}, now {playbook.digest[:19]})"
            )
        if state.inventory_digest != inventory.digest:
            warnings.append(f"{inventory.path} changed since run {state.run_id} started")
    if manager_refusal(playbook, inventory) is not None:
        # A raw playbook on a managed service never runs a step: its preflight refuses it
        # (exit 3, recorded). Its templates may name vars a managed member lacks (stop_cmd,
        # conninfo): those would only hide the refusal behind an exit 2, so only the
        # parameters are bound here.
        params = bind_params(playbook, overrides)
        return Prepared(inventory, playbook, params, state, tuple(warnings))
    # The same check as ``drconsole validate INV PLAYBOOK --var ...``: same messages, places.
    params = check_run_inputs(playbook, inventory, overrides)
    return Prepared(inventory, playbook, params, state, tuple(warnings))
