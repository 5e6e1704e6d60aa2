"""The engine tests' estates: a scripted one for semantics (``scripted``, milliseconds) and a
small real one for what only real servers show (``estate``).

The real estate: two real sshd "sites" on loopback and an inventory.

Two OpenSSH servers (east 127.0.70.1, west 127.0.70.2) run as the lab user with one shared user
key and known_hosts. The inventory has a ``custom`` service whose probe prints the JSON file
``work/role-<site>.json``; tests write those files to play primary, replica or down, so role
selectors, waits and gates run through the real status collector over real SSH. The module is
parametrised over both SSH backends.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from console.lab.osuser import chown_tree, ensure_lab_user
from tests.engine.scripted_env import ScriptedEstate, make_estate
from tests.support.scripted import use_in_cli
from tests.support.sshd import TestSshd, make_keys, make_workdir, running_sshd

ROOT = Path(__file__).resolve().parents[2]
DRCONSOLE = [sys.executable, "-m", "console"]


@dataclass
class Estate:
    """The running servers and the files a test works with."""

    east: TestSshd
    west: TestSshd
    work: Path
    """A directory both "hosts" can write (they are the same machine)."""
    inventory: Path
    audit: Path
    backend: str
    base: Path
    operator: str = "tester"

    def set_role(self, site: str, role: str, **extra: object) -> None:
        """What the custom probe reports for a site."""
        path = self.work / f"role-{site}.json"
        path.write_text(json.dumps({"role": role, **extra}))
        os.chmod(path, 0o666)

    def playbook(self, name: str, text: str) -> Path:
        """Write a playbook file."""
        path = self.base / f"{name}.yaml"
        path.write_text(textwrap.dedent(text).lstrip())
        return path

    def run(
        self, *args: str, timeout: float = 180, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """``drconsole --audit AUDIT ARGS...`` in a real process."""
        return subprocess.run(
            [*DRCONSOLE, "--audit", str(self.audit), "--operator", self.operator, *args],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, **(env or {})},
            check=False,
        )

    def popen(self, *args: str) -> subprocess.Popen[str]:
        """The same, started in the background."""
        return subprocess.Popen(
            [*DRCONSOLE, "--audit", str(self.audit), "--operator", "tester", *args],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )


INVENTORY = """\
version: 1
name: engine-test
ssh:
  user: {user}
  identity_file: {identity}
  known_hosts: {known_hosts}
  connect_timeout: 5s
  backend: {backend}
  lock_dir: {work}/locks
vars:
  work: {work}
sites:
  east:
    role: primary
    hosts:
      h-east: {{address: {east_addr}, port: {east_port}, tags: [db]}}
  west:
    role: standby
    hosts:
      h-west: {{address: {west_addr}, port: {west_port}, tags: [db]}}
services:
  svc:
    kind: custom
    members:
      h-east: {{port: 1, role: primary}}
      h-west: {{port: 1, role: replica}}
    probe: {{command: 'cat {work}/role-$DRLAB_SITE.json', timeout: 5s}}
    thresholds: {{lag_warn: 5s, lag_crit: 30s}}
"""


ONE_BACKEND = pytest.mark.parametrize("estate", ["asyncssh"], indirect=True)
"""For a real-sshd test where the SSH library makes no difference (``tests/ssh`` covers both
backends' transport behaviour): run it on asyncssh only."""


@pytest.fixture(scope="module", params=["asyncssh", "paramiko"])
def estate(request: pytest.FixtureRequest) -> Iterator[Estate]:
    """Two real sshd hosts and an inventory using the backend of the parameter."""
    user = ensure_lab_user()
    base = make_workdir(user, prefix="drconsole-engine-")
    keys = make_keys(base / "keys", user)
    work = base / "work"
    work.mkdir()
    work.chmod(0o777)
    chown_tree(base, user)
    with (
        running_sshd(address="127.0.70.1", keys=keys, env={"DRLAB_SITE": "east"}) as east,
        running_sshd(address="127.0.70.2", keys=keys, env={"DRLAB_SITE": "west"}) as west,
    ):
        inventory = base / "inventory.yaml"
        inventory.write_text(
            INVENTORY.format(
                user=user.name,
                identity=keys.identity,
                known_hosts=keys.known_hosts,
                backend=request.param,
                work=work,
                east_addr=east.address,
                east_port=east.port,
                west_addr=west.address,
                west_port=west.port,
            )
        )
        est = Estate(east, west, work, inventory, base / "audit.db", request.param, base)
        est.set_role("east", "primary")
        est.set_role("west", "replica", link="up", lag_seconds=0, lag_bytes=0)
        yield est


@pytest.fixture
def fresh_audit(estate: Estate, tmp_path: Path) -> Estate:
    """The estate with an empty audit database of its own for this test, roles reset."""
    estate.audit = tmp_path / "audit.db"
    estate.set_role("east", "primary")
    estate.set_role("west", "replica", link="up", lag_seconds=0, lag_bytes=0)
    return estate


@pytest.fixture
def scripted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ScriptedEstate]:
    """The estate on a scripted transport (``tests/engine/scripted_env.py``); every command
    a test sends must be answered by one of its rules."""
    est = make_estate(tmp_path)
    with use_in_cli(monkeypatch, est.transport):
        yield est
    assert not est.transport.unmatched, [c.command for c in est.transport.unmatched]
