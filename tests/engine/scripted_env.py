"""The estate of the engine's semantics tests: an inventory, an audit database and a scripted
transport, driven through the real CLI and engine in this process.

The inventory is the one of the real-sshd tests (``tests/engine/conftest.py``): two hosts,
``h-east`` and ``h-west``, and a ``custom`` service ``svc`` whose probe the scripted transport
answers from :attr:`ScriptedEstate.roles`. Nothing connects anywhere: every command goes to
``tests.support.scripted.ScriptedTransport``, so each test runs in milliseconds.
"""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from console.audit.store import AuditStore
from console.cli import main
from console.engine.decider import Decider
from console.engine.prepare import prepare
from console.engine.runner import Engine, RunConfig
from tests.support.scripted import Roles, ScriptedTransport, remote_locks

INVENTORY = """\
version: 1
name: engine-test
ssh:
  user: drill
  known_hosts: {base}/known_hosts
  connect_timeout: 5s
  lock_dir: {base}/locks
sites:
  east:
    role: primary
    hosts:
      h-east: {{address: 127.0.70.1, port: 2222, tags: [db]}}
  west:
    role: standby
    hosts:
      h-west: {{address: 127.0.70.2, port: 2222, tags: [db]}}
services:
  svc:
    kind: custom
    members:
      h-east: {{port: 1, role: primary}}
      h-west: {{port: 1, role: replica}}
    probe: {{command: probe-svc, timeout: 5s}}
    thresholds: {{lag_warn: 5s, lag_crit: 30s}}
"""


@dataclass
class ScriptedEstate:
    """The files, the transport and the roles a semantics test works with."""

    base: Path
    transport: ScriptedTransport
    inventory: Path
    audit: Path
    roles: Roles = field(default_factory=Roles)
    operator: str = "tester"

    def set_role(self, site: str, role: str, **extra: object) -> None:
        """What the probe reports for a site's host from now on."""
        self.roles.by_host[f"h-{site}"] = {"role": role, **extra}

    def playbook(self, name: str, text: str) -> Path:
        """Write a playbook file."""
        path = self.base / f"{name}.yaml"
        path.write_text(textwrap.dedent(text).lstrip())
        return path

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        """``drconsole --audit AUDIT --operator OP ARGS...`` in this process, SSH scripted."""
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(["--audit", str(self.audit), "--operator", self.operator, *args])
        return subprocess.CompletedProcess(list(args), code, out.getvalue(), err.getvalue())

    def engine(
        self,
        playbook: Path,
        decider: Decider,
        *var: str,
        resume: str | None = None,
        **config: Any,
    ) -> tuple[Engine, AuditStore]:
        """An engine for ``playbook`` on the scripted transport (close the store after)."""
        audit = AuditStore(self.audit)
        prepared = prepare(playbook, self.inventory, var, audit=audit, resume=resume)
        engine = Engine(
            RunConfig(
                inventory=prepared.inventory,
                playbook=prepared.playbook,
                params=prepared.params,
                mode=config.pop("mode", "drill"),
                operator=decider.operator,
                audit=audit,
                transport=self.transport,
                decider=decider,
                resume=prepared.resume,
                **config,
            )
        )
        return engine, audit

    def events(self, run_id: str | None = None) -> list[dict[str, object]]:
        """The run's events as flat dicts: the payload, then kind, step, host and seq (a step's
        own ``kind`` in ``step_started`` is under ``step_kind``)."""
        with AuditStore(self.audit, create=False) as store:
            rid = run_id or store.latest_run_id()
            assert rid is not None
            return [
                {**e.data, "kind": e.kind, "step": e.step_id, "host": e.host, "seq": e.seq}
                for e in store.events(rid)
            ]


def make_estate(base: Path) -> ScriptedEstate:
    """A fresh scripted estate under ``base`` (east primary, west a healthy replica)."""
    inventory = base / "inventory.yaml"
    inventory.write_text(INVENTORY.format(base=base))
    transport = ScriptedTransport()
    est = ScriptedEstate(base, transport, inventory, base / "audit.db")
    transport.on("probe-svc", est.roles.reply)
    remote_locks(transport)
    est.set_role("east", "primary")
    est.set_role("west", "replica", link="up", lag_seconds=0, lag_bytes=0)
    return est


def run_id_of(stdout: str) -> str:
    """The run id a headless run prints first (or in its first JSON line)."""
    first = stdout.splitlines()[0]
    if first.startswith("{"):
        return str(json.loads(first)["run_id"])
    assert first.startswith("run "), stdout
    return first.split()[1]
