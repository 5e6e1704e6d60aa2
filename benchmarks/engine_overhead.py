"""Engine overhead per step: a playbook of N ``true`` steps on one loopback host.

Run from the repository root (as root; the host logs in as the ``drlab`` lab user)::

    .venv/bin/python -m benchmarks.engine_overhead --steps 200

For every step, the overhead is the step's own duration (``step_finished``: selector,
rendering, the durable intent record, the events, the audit writes) minus the remote command's
duration as the transport measured it (``command_result``). The target is a median under 20 ms.
Everything is real: OpenSSH sshd on 127.0.200.1, the audit log in SQLite with
``synchronous=FULL`` for intents.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.ssh_fanout import start_fanout_hosts
from console.audit.store import AuditStore
from console.engine.decider import HeadlessDecider
from console.engine.runner import Engine, RunConfig
from console.model.inventory import load_inventory
from console.model.playbook import load_playbook
from console.ssh import SshPool


def _files(base: Path, hosts: object, steps: int, backend: str) -> tuple[Path, Path]:
    h = hosts  # FanoutHosts
    inv = base / "inventory.yaml"
    inv.write_text(
        "version: 1\nname: bench\n"
        f"ssh: {{user: {h.user.name}, identity_file: {h.identity}, "  # type: ignore[attr-defined]
        f"known_hosts: {h.known_hosts}, backend: {backend}}}\n"  # type: ignore[attr-defined]
        "sites:\n  one:\n    role: primary\n    hosts:\n"
        f"      h1: {{address: {h.addresses[0]}, port: {h.port}}}\n"  # type: ignore[attr-defined]
    )
    pb = base / "playbook.yaml"
    lines = ["version: 1", "name: overhead", "kind: custom", "steps:"]
    for i in range(steps):
        lines += [f"  - id: s{i:03d}", "    on: h1", "    run: 'true'"]
    pb.write_text("\n".join(lines) + "\n")
    return inv, pb


async def measure(steps: int, backend: str) -> None:
    with start_fanout_hosts(1) as hosts, tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        inv_path, pb_path = _files(base, hosts, steps, backend)
        audit = AuditStore(base / "audit.db")
        async with SshPool() as pool:
            engine = Engine(
                RunConfig(
                    inventory=load_inventory(inv_path),
                    playbook=load_playbook(pb_path),
                    params={},
                    mode="drill",
                    operator="bench",
                    audit=audit,
                    transport=pool,
                    decider=HeadlessDecider("bench", yes=True),
                )
            )
            started = time.perf_counter()
            result = await engine.run()
            wall = time.perf_counter() - started
        assert result.exit_code == 0, result.summary
        evs = audit.events(result.run_id)
        audit.close()
    command = {e.step_id: float(e.data["duration"]) for e in evs if e.kind == "command_result"}
    step = {e.step_id: float(e.data["duration"]) for e in evs if e.kind == "step_finished"}
    overhead = sorted((step[s] - command[s]) * 1000 for s in step)
    print(
        f"steps={steps} backend={backend} events={len(evs)} wall={wall:.2f}s "
        f"({wall / steps * 1000:.1f} ms per step, remote command included)"
    )
    cmd_median = statistics.median(command.values()) * 1000
    print(
        f"remote command median {cmd_median:.1f} ms; whole run per step minus command: "
        f"{wall / steps * 1000 - cmd_median:.1f} ms (includes start, locks, probes, finish)"
    )
    print(
        f"engine overhead per step: median {statistics.median(overhead):.1f} ms, "
        f"p90 {overhead[int(len(overhead) * 0.9)]:.1f} ms, max {overhead[-1]:.1f} ms "
        "(target: median < 20 ms)"
    )


def main(argv: Sequence[str] | None = None) -> None:
    """Parse arguments and run."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--backend", choices=["asyncssh", "paramiko"], default="asyncssh")
    args = parser.parse_args(argv)
    asyncio.run(measure(args.steps, args.backend))


if __name__ == "__main__":
    main()
