"""One real lab per test module, on the nets reserved for these drills (45 to 49).

The drill tests change the lab (they move primaries, start scratch servers), so each module
gets a lab of its own instead of the session lab of ``tests/support/lab.py``; a module that
fails half-way cannot leave a moved primary behind for another module. Playbooks run the way
an operator runs them: ``drconsole --audit DB run PLAYBOOK -i INVENTORY`` in a real process,
headless; the assertions read the audit log that run wrote and, independently, the servers.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from console.audit.model import Event
from console.audit.store import AuditStore
from console.lab.lab import Lab
from console.model.inventory import load_inventory
from tests.support.lab import RunningLab, make_lab_dir, requires_lab, reserve_net, start_test_lab

ROOT = Path(__file__).resolve().parents[2]
PLAYBOOKS = ROOT / "playbooks"
DRILL_NETS = range(45, 50)
"""The lab nets these tests may use (127.45.0.0/16 .. 127.49.0.0/16)."""
RUN_TIMEOUT = 900.0
"""Seconds one ``drconsole run`` may take (idle it takes 1 to 10 s; a busy CI is far slower)."""

__all__ = ["DrillLab", "Ran", "drill_lab", "requires_lab"]


@dataclass(frozen=True)
class Ran:
    """One finished ``drconsole`` process."""

    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    @property
    def run_id(self) -> str:
        """The run id ``run`` printed on its first line."""
        first = self.stdout.splitlines()[0] if self.stdout else ""
        assert first.startswith("run "), f"no run id in: {self.output[-3000:]}"
        return first.split()[1]

    @property
    def output(self) -> str:
        """stdout and stderr, for assertion messages."""
        return self.stdout + self.stderr


@dataclass(frozen=True)
class DrillLab:
    """A running lab plus an audit database of its own."""

    running: RunningLab
    audit: Path

    @property
    def inventory(self) -> Path:
        """The inventory the lab wrote."""
        return self.running.inventory

    def drconsole(self, *args: str, timeout: float = RUN_TIMEOUT) -> Ran:
        """``drconsole --audit AUDIT ARGS...`` in a real process."""
        argv = (sys.executable, "-m", "console", "--audit", str(self.audit), *args)
        done = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "COLUMNS": "200"},
            check=False,
        )
        return Ran(argv, done.returncode, done.stdout, done.stderr)

    def run(self, playbook: str, *extra: str, yes: bool = True) -> Ran:
        """``drconsole run playbooks/PLAYBOOK.yaml -i INVENTORY [--yes] EXTRA...``."""
        args = ["run", str(PLAYBOOKS / f"{playbook}.yaml"), "-i", str(self.inventory), *extra]
        if yes:
            args.append("--yes")
        return self.drconsole(*args)

    def events(self, run_id: str, *kinds: str) -> list[Event]:
        """The run's audit events (of the given kinds), read from the database."""
        store = AuditStore(self.audit, create=False)
        return store.events(run_id, kinds=kinds or None)

    def store(self) -> AuditStore:
        """The audit store (read it; the runs are over)."""
        return AuditStore(self.audit, create=False)

    def sh(self, site: str, command: str, timeout: float = 120) -> str:
        """Run ``command`` on ``site`` over real OpenSSH as the lab user; its stdout."""
        return self.running.ssh(site, command, timeout=timeout).stdout

    def dr_var(self, name: str) -> Path:
        """A path var of the dr host (``backup_dir``, ``scratch_dir``) from the inventory."""
        inventory = load_inventory(self.inventory)
        host = next(h for h in inventory.hosts.values() if h.site == "dr")
        return Path(str(host.vars[name]))

    def address(self, site: str) -> str:
        """The site's loopback address."""
        return self.running.addresses[site]


@pytest.fixture(scope="module")
def drill_lab() -> Iterator[DrillLab]:
    """A lab of its own for one test module, on the first free net in 45..49."""
    lock = None
    net = 0
    for candidate in DRILL_NETS:
        try:
            net, lock = reserve_net(candidate)
            break
        except RuntimeError:
            continue
    if lock is None:
        raise RuntimeError(f"no free lab net in {list(DRILL_NETS)}")
    scale = float(os.environ.get("DRCONSOLE_TEST_LAB_SCALE", "3"))
    root = make_lab_dir("drills-other-")
    try:
        running = start_test_lab(root, net, scale)
        yield DrillLab(running=running, audit=root / "audit.db")
    finally:
        try:
            lab = Lab(root / "lab", net, timeout_scale=scale)
            if lab.state() is not None:
                result = lab.down()
                if result.leftovers:
                    raise RuntimeError(f"lab down left listeners: {result.leftovers}")
        finally:
            lock.close()
            if not os.environ.get("DRCONSOLE_TEST_LAB_KEEP"):
                shutil.rmtree(root, ignore_errors=True)
