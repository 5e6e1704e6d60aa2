"""``drconsole validate``: check inventories and playbooks before they are needed.

Files are recognised by content (an inventory has ``sites:``, a playbook has ``steps:``), so
a repository may keep them anywhere. Every playbook is checked against the inventory named
(as a path, or with ``-i INV``) by the very function ``drconsole run`` uses before it connects
(``console.model.checks.check_run_inputs``): what a run would refuse as bad input, validate
refuses first, with the same message at the same place. With several inventories named (a
bare ``validate`` of a repository holding several estates), each playbook must fit one of
them: a playbook is written for one estate's shape, and a city-loss drill is rightly refused
on a two-site estate; when it fits none, the problems of every pair are printed.
``--var K=V`` checks one playbook with those values, exactly as ``run PLAYBOOK -i INV
--var K=V`` would (a parameter without a default is then required, as in a run); without
``--var`` the defaults are checked and a parameter without one is left for the run to ask
for. Every problem is printed as
``file:line:col: message`` and all of a file's problems are reported in one pass, then a
summary line; exit 0 or 2.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from console.errors import InputError, InputErrors, Location
from console.model.checks import bind_params, check_run_inputs, parse_var_args
from console.model.inventory import Inventory, build_inventory
from console.model.playbook import Playbook, build_playbook
from console.model.refusal import manager_refusal
from console.model.yamlsrc import Source, load_file


@dataclass
class Validation:
    """What one ``validate`` pass found."""

    inventories: list[Inventory] = field(default_factory=list)
    playbooks: list[Playbook] = field(default_factory=list)
    errors: list[InputError] = field(default_factory=list)
    files: int = 0
    playbook_files: int = 0
    """Files that are playbooks, loaded or not."""
    bad_files: set[str] = field(default_factory=set)
    refusals: list[str] = field(default_factory=list)
    """``file:line:col: ...`` lines: valid playbooks a run would stop in preflight (exit 3)
    on this inventory because the service's HA manager refuses them (console.model.refusal)."""


def find_files(paths: Iterable[Path]) -> list[Path]:
    """The YAML files named by ``paths``: files as given, directories searched recursively."""
    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            found = [
                f
                for f in p.rglob("*")
                if f.suffix in (".yaml", ".yml")
                and f.is_file()
                and not any(part.startswith(".") for part in f.relative_to(p).parts)
            ]
            out.extend(sorted(found))
        else:
            out.append(p)
    return out


def classify(source: Source) -> str:
    """``inventory`` or ``playbook``, judged by content.

    Raises:
        InputError: neither, located at the top of the file.
    """
    root = source.root
    if not root.is_map:
        raise InputError(
            "expected a mapping at the top (an inventory with 'sites:' or a playbook with "
            "'steps:'), not a list or a single value",
            root.loc,
        )
    if "steps" in root.value:
        return "playbook"
    if "sites" in root.value:
        return "inventory"
    raise InputError(
        "not an inventory (no 'sites:') nor a playbook (no 'steps:')", Location(source.path, 1, 1)
    )


def _collect(exc: InputError) -> list[InputError]:
    return list(exc.errors) if isinstance(exc, InputErrors) else [exc]


def _load(path: Path, result: Validation, want: str | None = None) -> None:
    result.files += 1
    try:
        source = load_file(path)
        kind = classify(source)
        if want is not None and kind != want:
            raise InputError(f"-i names an {want}, but this file is a {kind}", source.root.loc)
        if kind == "inventory":
            result.inventories.append(build_inventory(source))
        else:
            result.playbook_files += 1
            result.playbooks.append(build_playbook(source))
    except InputError as exc:
        errors = _collect(exc)
        for e in errors:
            if e.location is None:
                e.location = Location(str(path), 1, 1)
        result.errors.extend(errors)
        result.bad_files.add(str(path))


def validate_paths(
    paths: Sequence[Path],
    inventory: Path | None = None,
    var_args: Sequence[str] = (),
) -> Validation:
    """Load every file under ``paths`` (and ``inventory``) and check each playbook against
    each inventory as a run would.

    Raises:
        InputError: a malformed ``--var``, or ``--var`` with other than one playbook.
    """
    overrides = parse_var_args(var_args)
    result = Validation()
    if inventory is not None:
        _load(inventory, result, "inventory")
    for path in find_files(paths):
        if inventory is not None and path.resolve() == inventory.resolve():
            continue
        _load(path, result)
    if overrides and result.playbook_files != 1:
        raise InputError("--var checks one run: name exactly one playbook")
    several = len(result.inventories) > 1
    for playbook in result.playbooks:
        pairs = [_check_pair(playbook, inv, overrides) for inv in result.inventories]
        if several and any(not errors and refused is None for errors, refused in pairs):
            # several estates named (e.g. a bare ``validate`` of a repository of them): a
            # playbook is written for one estate's shape, so it must fit one, not every one
            continue
        for errors, refused in pairs:
            if refused is not None:
                result.refusals.append(refused)
            if errors:
                result.errors.extend(errors)
                result.bad_files.add(playbook.path)
    return result


def _check_pair(
    playbook: Playbook, inv: Inventory, overrides: dict[str, str]
) -> tuple[list[InputError], str | None]:
    """The problems of running ``playbook`` on ``inv`` as ``run`` would check them, and the
    note when the service's HA manager refuses it (valid input that preflight stops)."""
    try:
        refused = manager_refusal(playbook, inv)
        if refused is not None:
            # as run does: a playbook its manager refuses never renders a step, so only its
            # parameters are checked (run stops it in preflight, exit 3)
            bind_params(playbook, overrides, require=bool(overrides))
            where = playbook.service_loc or playbook.loc
            return [], f"{where}: note: a run on {inv.path} stops in preflight (exit 3): {refused}"
        check_run_inputs(playbook, inv, overrides, require=bool(overrides))
    except InputError as exc:
        return _collect(exc), None
    return [], None


def validate_command(
    paths: Sequence[Path], inventory: Path | None = None, var_args: Sequence[str] = ()
) -> int:
    """Run ``validate`` and print its findings; returns the exit code (0 or 2)."""
    if not paths and inventory is None:
        paths = [p for p in (Path("inventory"), Path("playbooks")) if p.is_dir()]
        if not paths:
            raise InputError("nothing to validate: name files or directories")
    for p in [*paths, *([inventory] if inventory is not None else [])]:
        if not p.exists():
            raise InputError(f"{p}: no such file or directory")
    result = validate_paths(paths, inventory, var_args)
    for err in result.errors:
        print(str(err), file=sys.stderr)
    n_inv, n_pb = len(result.inventories), len(result.playbooks)
    summary = (
        f"{result.files} file(s) checked: {n_inv} inventor{'y' if n_inv == 1 else 'ies'}, "
        f"{n_pb} playbook(s)"
    )
    if result.errors:
        print(
            f"{summary}; {len(result.errors)} problem(s) in {len(result.bad_files)} file(s)",
            file=sys.stderr,
        )
        return 2
    if result.files == 0:
        print(f"{summary}: no *.yaml or *.yml files found", file=sys.stderr)
        return 2
    for line in result.refusals:
        print(line, file=sys.stderr)
    refused = len(result.refusals)
    if refused:
        summary += (
            f"; no problems; {refused} note(s): a playbook its service's HA manager refuses "
            "(run stops it in preflight, exit 3)"
        )
        print(summary)
        return 0
    fits = " (each playbook fits one of them)" if n_inv > 1 and n_pb else ""
    print(f"{summary}; no problems{fits}")
    return 0
