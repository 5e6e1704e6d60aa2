"""Status sweep over N hosts: ``StatusCollector`` cold and warm, beside a bare asyncssh loop.

Run from the repository root (as root; the hosts log in as the ``drlab`` lab user)::

    .venv/bin/python -m benchmarks.status_fanout --hosts 50
    .venv/bin/python -m benchmarks.status_fanout --hosts 200

Each host is a real OpenSSH sshd address (``benchmarks.ssh_fanout.start_fanout_hosts``) and a
member of one ``custom`` service whose probe prints a JSON sample, so a sweep is exactly what
``drconsole status`` does: build each member's probe command, run it over the persistent pool,
parse, judge health, derive the topology. The floor runs the *same command strings* with a bare
asyncssh loop (connect all, run one command on each, collect), in the same run. A cold sweep
opens every connection; a warm sweep reuses them. Medians of several rounds are printed.
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

import asyncssh

from benchmarks.ssh_fanout import FanoutHosts, start_fanout_hosts
from console.model.inventory import Inventory, load_inventory
from console.probes.registry import probe_for
from console.ssh import SshPool
from console.status.collector import StatusCollector
from console.targets import probe_target

SAMPLE = '{"role": "replica", "link": "up", "lag_seconds": 0, "lag_bytes": 0}'


def write_inventory(base: Path, hosts: FanoutHosts) -> Path:
    """An inventory with one site of N hosts and one custom service over all of them."""
    lines = [
        "version: 1",
        "name: fanout",
        f"ssh: {{user: {hosts.user.name}, identity_file: {hosts.identity}, "
        f"known_hosts: {hosts.known_hosts}, connect_timeout: 30s}}",
        "sites:",
        "  one:",
        "    role: primary",
        "    hosts:",
    ]
    lines += [
        f"      h{i:03d}: {{address: {a}, port: {hosts.port}}}"
        for i, a in enumerate(hosts.addresses)
    ]
    lines += ["services:", "  fleet:", "    kind: custom", "    members:"]
    lines += [
        f"      h{i:03d}: {{port: 1, role: {'primary' if i == 0 else 'replica'}}}"
        for i in range(len(hosts.addresses))
    ]
    lines += ["    probe:", "      timeout: 30s", "      command: >-", f"        echo '{SAMPLE}'"]
    path = base / "inventory.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def probe_commands(inv: Inventory) -> list[tuple[str, str]]:
    """(address, command) of every member, exactly as the collector builds them."""
    svc = inv.services["fleet"]
    probe = probe_for("custom", timeout=svc.probe.timeout)
    return [
        (inv.hosts[m.host].address, probe.command(probe_target(inv, svc, m)))
        for m in svc.members.values()
    ]


async def bare(
    hosts: FanoutHosts, commands: list[tuple[str, str]], warm_sweeps: int
) -> tuple[float, list[float]]:
    """Connect all and run each member's probe command (cold), then again (warm)."""
    conns: dict[str, asyncssh.SSHClientConnection] = {}

    async def cold_one(address: str, command: str) -> None:
        conn = await asyncssh.connect(
            address,
            hosts.port,
            username=hosts.user.name,
            client_keys=[str(hosts.identity)],
            known_hosts=str(hosts.known_hosts),
        )
        conns[address] = conn
        result = await conn.run(command)
        assert result.exit_status == 0, result.stderr

    async def warm_one(address: str, command: str) -> None:
        result = await conns[address].run(command)
        assert result.exit_status == 0, result.stderr

    try:
        started = time.perf_counter()
        await asyncio.gather(*(cold_one(a, c) for a, c in commands))
        cold = time.perf_counter() - started
        warm = []
        for _ in range(warm_sweeps):
            started = time.perf_counter()
            await asyncio.gather(*(warm_one(a, c) for a, c in commands))
            warm.append(time.perf_counter() - started)
        return cold, warm
    finally:
        for conn in conns.values():
            conn.close()


async def ours(inv: Inventory, warm_sweeps: int) -> tuple[float, list[float]]:
    """``StatusCollector`` over a fresh ``SshPool``: first sweep cold, the next ones warm."""
    async with SshPool(max_concurrency=512) as pool:
        collector = StatusCollector(inv, pool)
        started = time.perf_counter()
        snap = await collector.sweep()
        cold = time.perf_counter() - started
        bad = [m for m in snap.members if m.health.health.value != "ok"]
        assert not bad, bad[:2]
        warm = []
        for _ in range(warm_sweeps):
            started = time.perf_counter()
            snap = await collector.sweep()
            warm.append(time.perf_counter() - started)
            assert all(m.health.health.value == "ok" for m in snap.members)
        await collector.close()
        return cold, warm


def _fmt(values: list[float]) -> str:
    return f"{statistics.median(values):7.3f} s  ({min(values):.3f}..{max(values):.3f})"


async def run(count: int, rounds: int, warm_sweeps: int) -> None:
    with start_fanout_hosts(count) as hosts, tempfile.TemporaryDirectory() as tmp:
        inv = load_inventory(write_inventory(Path(tmp), hosts))
        commands = probe_commands(inv)
        print(
            f"hosts={count} sshd={len(hosts.sshds)} rounds={rounds} "
            f"warm-sweeps-per-round={warm_sweeps}",
            flush=True,
        )
        figures: dict[str, tuple[list[float], list[float]]] = {
            "bare asyncssh": ([], []),
            "StatusCollector": ([], []),
        }
        for r in range(rounds):
            order = ["bare asyncssh", "StatusCollector"]
            if r % 2:
                order.reverse()
            for name in order:
                if name == "bare asyncssh":
                    cold, warm = await bare(hosts, commands, warm_sweeps)
                else:
                    cold, warm = await ours(inv, warm_sweeps)
                figures[name][0].append(cold)
                figures[name][1].extend(warm)
                print(
                    f"  round {r + 1} {name:16} cold {cold:6.3f} s  warm "
                    f"{statistics.median(warm):6.3f} s",
                    flush=True,
                )
        print(f"\n{'':18}{'cold sweep (median, min..max)':34}warm sweep (median, min..max)")
        for name, (cold, warm) in figures.items():
            print(f"{name:18}{_fmt(cold):34}{_fmt(warm)}")
        (bc, bw), (oc, ow) = figures["bare asyncssh"], figures["StatusCollector"]
        print(
            f"{'ours / bare':18}{statistics.median(oc) / statistics.median(bc):7.2f}x"
            f"{'':27}{statistics.median(ow) / statistics.median(bw):7.2f}x   (target <= 1.3x)"
        )


def main(argv: Sequence[str] | None = None) -> None:
    """Parse arguments and run."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hosts", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warm", type=int, default=3)
    args = parser.parse_args(argv)
    asyncio.run(run(args.hosts, args.rounds, args.warm))


if __name__ == "__main__":
    main()
