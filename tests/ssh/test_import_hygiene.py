"""The SSH transport is core: it must never import the UI (STYLE rule 1)."""

from __future__ import annotations

import subprocess
import sys

import pytest

MODULES = [
    "console.ssh",
    "console.ssh.pool",
    "console.ssh.asyncssh_backend",
    "console.ssh.paramiko_backend",
    "console.ssh.hostkeys",
    "console.ssh.output",
    "console.ssh.transport",
    "console.lab.osuser",
    "console.lab.sshd",
]


@pytest.mark.parametrize("module", MODULES)
def test_core_module_does_not_import_textual(module: str) -> None:
    code = (
        f"import sys, {module}\n"
        "bad = sorted(m for m in sys.modules if m == 'textual' or m.startswith('textual.')"
        " or m.startswith('console.tui'))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert out.stdout.strip() == ""
