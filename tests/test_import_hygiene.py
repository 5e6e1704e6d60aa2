"""The layers import only downwards, and the core never imports the UI.

The core (``model``, ``ssh``, ``probes``, ``status``, ``engine``, ``audit``, ``report``, ``lab``,
``events``, ``targets``, ``errors``, ``cli``) must never load ``textual`` or ``console.tui``; a
console that runs headless from cron must not pay for (or break on) the UI. Each check runs in
a fresh interpreter and looks at ``sys.modules`` (harlequin's ``test_import_hygiene.py`` is the
model). One interpreter imports every core module in turn and reports the first one after which
the UI appeared, which is the same as a fresh interpreter per module, only faster.

The layering rules below are checked the same way, an interpreter per layer: no module of a
lower layer loads anything of a higher one. And no screen imports the app (screens post
messages; the app hands them its state).
"""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import console

CORE = (
    "console.model",
    "console.ssh",
    "console.probes",
    "console.status",
    "console.engine",
    "console.audit",
    "console.report",
    "console.lab",
    "console.events",
    "console.targets",
    "console.errors",
    "console.cli",
    "console.notify",
)
"""Every core package and module."""

UI = ("textual", "console.tui")

LAYERS: dict[str, tuple[str, ...]] = {
    "console.events": (
        "console.model",
        "console.ssh",
        "console.probes",
        "console.status",
        "console.engine",
        "console.audit",
        "console.report",
        "console.lab",
        "console.targets",
        *UI,
    ),
    "console.model": (
        "console.ssh",
        "console.probes",
        "console.status",
        "console.engine",
        "console.audit",
        "console.report",
        "console.lab",
        *UI,
    ),
    "console.errors": ("console.engine", "console.audit", "console.status", "console.ssh", *UI),
    "console.targets": ("console.engine", "console.status", "console.audit", "console.report"),
    "console.status": ("console.engine", "console.audit", "console.report", *UI),
    "console.audit": ("console.engine", "console.report", "console.status", *UI),
    "console.report": ("console.engine", *UI),
    "console.engine": ("console.report", *UI),
    "console.notify": ("console.report", "console.audit", *UI),
}
"""Module (with its submodules, each imported alone) -> what it must never load."""


def _modules(prefixes: tuple[str, ...]) -> list[str]:
    root = Path(console.__file__).parent
    names = [
        info.name
        for info in pkgutil.walk_packages([str(root)], prefix="console.")
        if any(info.name == p or info.name.startswith(p + ".") for p in prefixes)
    ]
    return sorted(names)


def _loaded_after_each(modules: list[str], watch: tuple[str, ...]) -> dict[str, list[str]]:
    """In one fresh interpreter, import ``modules`` in order; per module, which watched
    modules were loaded once it was imported (cumulatively)."""
    code = (
        "import importlib, json, sys\n"
        "watch = tuple(sys.argv[1].split(','))\n"
        "out = {}\n"
        "for name in sys.argv[2:]:\n"
        "    importlib.import_module(name)\n"
        "    out[name] = sorted(m for m in sys.modules "
        "if any(m == w or m.startswith(w + '.') for w in watch))\n"
        "print(json.dumps(out))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, ",".join(watch), *modules],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    loaded: dict[str, list[str]] = json.loads(proc.stdout)
    return loaded


def test_there_are_core_modules() -> None:
    names = _modules(CORE)
    for expected in ("console.model.inventory", "console.status.collector", "console.events"):
        assert expected in names


def test_no_core_module_imports_the_ui() -> None:
    module, loaded = _first_offender(_modules(CORE), UI)
    assert not module, f"{module} imports the UI: {loaded}"


def _first_offender(modules: list[str], forbidden: tuple[str, ...]) -> tuple[str, list[str]]:
    loaded = _loaded_after_each(modules, forbidden)
    first = next((name for name in modules if loaded[name]), "")
    return first, loaded.get(first, [])


@pytest.mark.parametrize("layer", sorted(LAYERS))
def test_a_layer_never_loads_a_higher_one(layer: str) -> None:
    module, loaded = _first_offender(_modules((layer,)), LAYERS[layer])
    assert not module, f"{module} loads {loaded}"


def test_no_screen_imports_the_app() -> None:
    screens = [m for m in _modules(("console.tui",)) if m.startswith("console.tui.screens.")]
    screens += ["console.tui.state", "console.tui.messages", "console.tui.session"]
    module, _loaded = _first_offender(screens, ("console.tui.app",))
    assert not module, f"{module} imports the app"


def test_the_audit_chain_is_pure_standard_library() -> None:
    """chain.py, loaded on its own (not through the package), needs only the standard library,
    so anyone can re-implement or re-run the hashing from that one file."""
    chain = Path(console.__file__).parent / "audit" / "chain.py"
    code = (
        "import importlib.util, sys\n"
        f"spec = importlib.util.spec_from_file_location('chain_alone', {str(chain)!r})\n"
        "module = importlib.util.module_from_spec(spec)\n"
        "spec.loader.exec_module(module)\n"
        "roots = {m.split('.')[0] for m in sys.modules}\n"
        "print(','.join(sorted(roots & set(sys.argv[1:]))))\n"
    )
    third_party = ["console", "sqlite_utils", "rich", "textual", "yaml", "asyncssh", "paramiko"]
    done = subprocess.run(
        [sys.executable, "-c", code, *third_party],
        capture_output=True,
        text=True,
        timeout=90,
        check=True,
    )
    assert done.stdout.strip() == ""
