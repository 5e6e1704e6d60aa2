"""``drconsole validate``: check inventories and playbooks before they are needed.

Files are recognised by content (an inventory has ``sites:``, a playbook has ``steps:``), so
a repository may keep them anywhere. Every problem is printed as ``file:line:col: message``
and all of a file's problems are reported in one pass, then a summary line; exit 0 or 2.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from console.errors import InputError, InputErrors, Location
from console.model.checks import check_against
from console.model.inventory import Inventory, build_inventory
from console.model.playbook import Playbook, build_playbook
from console.model.yamlsrc import Source, load_file


@dataclass
class Validation:
    """What one ``validate`` pass found."""

    inventories: list[Inventory] = field(default_factory=list)
    playbooks: list[Playbook] = field(default_factory=list)
    errors: list[InputError] = field(default_factory=list)
    files: int = 0
    bad_files: set[str] = field(default_factory=set)


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


def validate_paths(paths: Sequence[Path]) -> Validation:
    """Load every file under ``paths`` and cross-check playbooks against inventories."""
    result = Validation()
    for path in find_files(paths):
        result.files += 1
        try:
            source = load_file(path)
            if classify(source) == "inventory":
                result.inventories.append(build_inventory(source))
            else:
                result.playbooks.append(build_playbook(source))
        except InputError as exc:
            errors = _collect(exc)
            for e in errors:
                if e.location is None:
                    e.location = Location(str(path), 1, 1)
            result.errors.extend(errors)
            result.bad_files.add(str(path))
    for playbook in result.playbooks:
        for inventory in result.inventories:
            for err in check_against(playbook, inventory):
                result.errors.append(err)
                result.bad_files.add(playbook.path)
    return result


def validate_command(paths: Sequence[Path]) -> int:
    """Run ``validate`` and print its findings; returns the exit code (0 or 2)."""
    if not paths:
        paths = [p for p in (Path("inventory"), Path("playbooks")) if p.is_dir()]
        if not paths:
            raise InputError("nothing to validate: name files or directories")
    for p in paths:
        if not p.exists():
            raise InputError(f"{p}: no such file or directory")
    result = validate_paths(paths)
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
    print(f"{summary}; no problems")
    return 0
