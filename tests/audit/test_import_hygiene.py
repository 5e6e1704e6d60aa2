"""The audit package is core: it must never import the UI (STYLE.md rule 1)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

MODULES = [
    "console.audit",
    "console.audit.chain",
    "console.audit.commands",
    "console.audit.errors",
    "console.audit.ids",
    "console.audit.locks",
    "console.audit.model",
    "console.audit.projection",
    "console.audit.render",
    "console.audit.schema",
    "console.audit.store",
    "console.audit.verify",
]


@pytest.mark.timeout(120)
@pytest.mark.parametrize("module", MODULES)
def test_module_imports_neither_textual_nor_the_tui(module: str) -> None:
    code = (
        f"import sys, {module}\n"
        "bad = sorted(m for m in sys.modules if m == 'textual' or m.startswith('textual.')"
        " or m == 'console.tui' or m.startswith('console.tui.'))\n"
        "print(','.join(bad))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=90, check=True
    )
    assert done.stdout.strip() == ""


def test_chain_is_pure_standard_library() -> None:
    """chain.py, loaded on its own (not through the package), needs only the standard library."""
    chain = Path(__file__).resolve().parents[2] / "console" / "audit" / "chain.py"
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
