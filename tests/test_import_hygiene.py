"""The core never imports the UI (STYLE.md rule 1): each core module is imported in a fresh
interpreter and ``textual`` must not be among the loaded modules."""

from __future__ import annotations

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
    "console.engine",
    "console.audit",
    "console.report",
    "console.lab",
    "console.errors",
    "console.cli",
)


def _core_modules() -> list[str]:
    names: list[str] = []
    root = Path(console.__file__).parent
    for info in pkgutil.walk_packages([str(root)], prefix="console."):
        if any(info.name == c or info.name.startswith(c + ".") for c in CORE):
            names.append(info.name)
    return sorted(names)


@pytest.mark.parametrize("module", _core_modules())
def test_core_module_does_not_import_textual(module: str) -> None:
    code = (
        f"import sys, importlib; importlib.import_module({module!r}); "
        "bad = sorted(m for m in sys.modules if m == 'textual' or m.startswith('textual.') "
        "or m.startswith('console.tui')); print(bad); sys.exit(1 if bad else 0)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, f"{module} imports the UI: {proc.stdout} {proc.stderr}"


def test_there_are_core_modules() -> None:
    assert "console.model.inventory" in _core_modules()
