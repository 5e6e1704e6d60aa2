"""Fan-out benchmark: one command on N loopback hosts through ``SshPool``, against a bare loop.

Run from the repository root (as root, the hosts log in as the ``drlab`` lab user)::

    .venv/bin/python -m benchmarks.ssh_fanout --hosts 100
    .venv/bin/python -m benchmarks.ssh_fanout --hosts 200 --sweeps 5

Each "host" is its own loopback address on port 2222 (127.0.200.1-254, then 127.0.201.1-254),
served by real OpenSSH sshd processes, one per 16 addresses (OpenSSH takes at most 16 listen
sockets per process). A *cold* sweep connects to every host and runs the command; a *warm* sweep
runs it again over the connections already open. The floor is a bare asyncssh loop doing the
same work in the same run (connect with the same key and known_hosts, ``conn.run``, keep the
connection); ``SshPool`` is measured the same way. The medians of several sweeps are printed.

``start_fanout_hosts`` is the reusable part: other benchmarks (``status_fanout.py``) start
their hosts with it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import os
import shutil
import statistics
import sys
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as a script path: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import asyncssh

from console.lab.osuser import LabUser, chown_tree, ensure_lab_user
from console.lab.sshd import (
    SshdHandle,
    SshdSpec,
    generate_keypair,
    known_hosts_lines,
    start_sshd,
    stop_sshd,
)
from console.ssh import SshPool, SshTarget

LISTEN_PER_SSHD = 16
"""OpenSSH's MAX_LISTEN_SOCKS: one sshd serves at most this many addresses."""
PORT = 2222
SUBNETS = (200, 201)
"""Benchmark address range: 127.0.200.0/24 and 127.0.201.0/24."""


def fanout_address(index: int) -> str:
    """The loopback address of host ``index`` (0-based): 127.0.200.1 upwards."""
    subnet, host = divmod(index, 254)
    if subnet >= len(SUBNETS):
        raise ValueError(f"at most {254 * len(SUBNETS)} fan-out hosts")
    return f"127.0.{SUBNETS[subnet]}.{host + 1}"


@dataclass(frozen=True)
class FanoutHosts:
    """N running loopback SSH hosts and how to reach them."""

    user: LabUser
    """The user every host logs in."""
    identity: Path
    """Private key that logs in everywhere."""
    known_hosts: Path
    """known_hosts trusting every host's address."""
    addresses: tuple[str, ...]
    """One address per host, all on ``port``."""
    port: int
    """The SSH port on every address."""
    sshds: tuple[SshdHandle, ...]
    """The sshd processes (each serving up to 16 addresses)."""

    def targets(self, backend: str = "asyncssh", connect_timeout: float = 30.0) -> list[SshTarget]:
        """One ``SshTarget`` per host, named ``host-001`` ..."""
        return [
            SshTarget(
                name=f"host-{i + 1:03d}",
                address=address,
                port=self.port,
                user=self.user.name,
                identity_file=str(self.identity),
                known_hosts=str(self.known_hosts),
                connect_timeout=connect_timeout,
                backend=backend,  # type: ignore[arg-type]
            )
            for i, address in enumerate(self.addresses)
        ]


@contextlib.contextmanager
def start_fanout_hosts(
    count: int, workdir: Path | None = None, *, port: int = PORT
) -> Iterator[FanoutHosts]:
    """Start ``count`` loopback SSH hosts (one sshd per 16); stop them all on exit.

    Args:
        count: Number of hosts (at most 508).
        workdir: Directory for keys, configs and logs; a fresh one under /tmp when None
            (removed on exit).
        port: SSH port used on every address.

    Yields:
        The running hosts.
    """
    user = ensure_lab_user()
    own = workdir is None
    base = workdir or Path(f"/tmp/drconsole-fanout-{os.getpid()}")
    base.mkdir(parents=True, exist_ok=True)
    base.chmod(0o755)
    chown_tree(base, user)
    identity = generate_keypair(base / "id_ed25519", user, comment="fanout")
    authorized = base / "authorized_keys"
    authorized.write_text(identity.with_name(identity.name + ".pub").read_text())
    authorized.chmod(0o644)
    chown_tree(authorized, user)
    addresses = tuple(fanout_address(i) for i in range(count))
    handles: list[SshdHandle] = []
    try:
        for first in range(0, count, LISTEN_PER_SSHD):
            group = addresses[first : first + LISTEN_PER_SSHD]
            spec = SshdSpec(
                name=f"fanout-{first // LISTEN_PER_SSHD:02d}",
                address=group[0],
                port=port,
                directory=base / f"sshd-{first // LISTEN_PER_SSHD:02d}",
                authorized_keys=authorized,
                user=user,
                extra_addresses=tuple(group[1:]),
            )
            handles.append(start_sshd(spec, timeout=60))
        known = base / "known_hosts"
        known.write_text("".join(line + "\n" for h in handles for line in known_hosts_lines(h)))
        yield FanoutHosts(user, identity, known, addresses, port, tuple(handles))
    finally:
        for handle in handles:
            stop_sshd(handle)
        if own:
            shutil.rmtree(base, ignore_errors=True)


COMMAND = "echo ok"


async def _gather_bounded(
    jobs: Sequence[Callable[[], Awaitable[str]]], concurrency: int
) -> list[str]:
    gate = asyncio.Semaphore(concurrency)

    async def one(job: Callable[[], Awaitable[str]]) -> str:
        async with gate:
            return await job()

    return list(await asyncio.gather(*(one(j) for j in jobs)))


def _check(outputs: list[str], what: str) -> None:
    bad = [o for o in outputs if o != "ok"]
    if bad:
        raise RuntimeError(f"{what}: {len(bad)} of {len(outputs)} hosts failed: {bad[:3]}")


async def bare_round(
    hosts: FanoutHosts, concurrency: int, warm_sweeps: int
) -> tuple[float, list[float]]:
    """A bare asyncssh loop: connect all + run (cold), then run again (warm); the floor."""
    conns: list[asyncssh.SSHClientConnection] = []

    async def connect_and_run(address: str) -> str:
        conn = await asyncssh.connect(
            address,
            hosts.port,
            username=hosts.user.name,
            client_keys=[str(hosts.identity)],
            known_hosts=str(hosts.known_hosts),
        )
        conns.append(conn)
        return str((await conn.run(COMMAND)).stdout).strip()

    async def run_on(conn: asyncssh.SSHClientConnection) -> str:
        return str((await conn.run(COMMAND)).stdout).strip()

    try:
        started = time.perf_counter()
        out = await _gather_bounded(
            [functools.partial(connect_and_run, a) for a in hosts.addresses], concurrency
        )
        cold = time.perf_counter() - started
        _check(out, "bare cold")
        warm: list[float] = []
        for _ in range(warm_sweeps):
            started = time.perf_counter()
            out = await _gather_bounded([functools.partial(run_on, c) for c in conns], concurrency)
            warm.append(time.perf_counter() - started)
            _check(out, "bare warm")
        return cold, warm
    finally:
        for conn in conns:
            conn.close()
        await asyncio.gather(*(c.wait_closed() for c in conns), return_exceptions=True)


async def pool_round(
    hosts: FanoutHosts, concurrency: int, warm_sweeps: int, backend: str
) -> tuple[float, list[float]]:
    """``SshPool``: first fan-out (cold, connecting) and further fan-outs (warm)."""
    targets = hosts.targets(backend)
    async with SshPool(max_concurrency=concurrency) as pool:

        async def sweep() -> float:
            started = time.perf_counter()
            results = await asyncio.gather(*(pool.run(t, COMMAND) for t in targets))
            elapsed = time.perf_counter() - started
            _check([" ".join(r.stdout) for r in results], f"pool {backend}")
            return elapsed

        cold = await sweep()
        warm = [await sweep() for _ in range(warm_sweeps)]
        return cold, warm


def _fmt(values: list[float]) -> str:
    return f"{statistics.median(values):7.3f} s  ({min(values):.3f}..{max(values):.3f})"


async def main_async(args: argparse.Namespace) -> None:
    with start_fanout_hosts(args.hosts) as hosts:
        concurrency = args.concurrency or args.hosts
        print(
            f"hosts={args.hosts} sshd={len(hosts.sshds)} concurrency={concurrency} "
            f"rounds={args.sweeps} warm-sweeps-per-round={args.warm} command={COMMAND!r} "
            f"user={hosts.user.name} backend={args.backend}",
            flush=True,
        )
        figures: dict[str, tuple[list[float], list[float]]] = {
            "bare asyncssh": ([], []),
            "SshPool": ([], []),
        }
        for round_no in range(args.sweeps):
            order = ["bare asyncssh", "SshPool"]
            if round_no % 2:
                order.reverse()  # alternate, so neither side always runs on a warmer machine
            for name in order:
                if name == "bare asyncssh":
                    cold, warm = await bare_round(hosts, concurrency, args.warm)
                else:
                    cold, warm = await pool_round(hosts, concurrency, args.warm, args.backend)
                figures[name][0].append(cold)
                figures[name][1].extend(warm)
                print(
                    f"  round {round_no + 1} {name:14} cold {cold:6.3f} s  "
                    f"warm {statistics.median(warm):6.3f} s",
                    flush=True,
                )
        print()
        print(f"{'':16}{'cold (median, min..max)':32}{'warm (median, min..max)'}")
        for name, (colds, warms) in figures.items():
            print(f"{name:16}{_fmt(colds):32}{_fmt(warms)}")
        bare_cold, bare_warm = figures["bare asyncssh"]
        pool_cold, pool_warm = figures["SshPool"]
        cold_ratio = statistics.median(pool_cold) / statistics.median(bare_cold)
        warm_ratio = statistics.median(pool_warm) / statistics.median(bare_warm)
        print(
            f"{'SshPool / bare':16}{cold_ratio:7.2f}x{'':24}{warm_ratio:7.2f}x   (target <= 1.3x)"
        )
        share = statistics.median(pool_warm) / statistics.median(pool_cold)
        print(f"SshPool warm sweep costs {share:.2f} of its cold sweep")


def main(argv: Sequence[str] | None = None) -> None:
    """Parse arguments and run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hosts", type=int, default=100, help="number of hosts (max 508)")
    parser.add_argument("--sweeps", type=int, default=5, help="rounds (one cold sweep each)")
    parser.add_argument("--warm", type=int, default=3, help="warm sweeps per round")
    parser.add_argument(
        "--concurrency", type=int, default=0, help="commands in flight (default: all hosts)"
    )
    parser.add_argument("--backend", choices=["asyncssh", "paramiko"], default="asyncssh")
    args = parser.parse_args(argv)
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
