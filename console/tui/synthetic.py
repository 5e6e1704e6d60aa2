"""Synthetic status for benchmarks and snapshot tests: NOT real replication data.

The benchmarks need a board of 1,000 members whose every value changes every second, and the
SVG snapshot tests need a board whose every character is the same on every run. Neither can
come from real servers, so this module makes samples up, in the same types the collector
produces, and judges them with the same rules (``console.probes.health.assess``). Everything
here says "synthetic" in its name; nothing in the live console uses it.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from console.model.inventory import Inventory, load_inventory
from console.probes.health import assess
from console.probes.sample import Link, ReplicaInfo, ReplicationSample, Role
from console.probes.topology import reconcile, topology
from console.status.collector import MemberStatus, StatusSnapshot
from console.targets import probe_thresholds
from console.tui.status_source import Deliver, StatusSource


def write_synthetic_inventory(path: Path, clusters: int = 500) -> Path:
    """Write a synthetic inventory of ``clusters`` postgres pairs (east primary, west replica):
    ``2 * clusters`` members on ``2 * clusters`` hosts. Returns ``path``."""
    lines = [
        "# SYNTHETIC inventory for benchmarks: these hosts do not exist.",
        "version: 1",
        "name: synthetic",
        "ssh: {user: nobody, connect_timeout: 1s}",
        "sites:",
    ]
    for site, role, octet in (("east", "primary", 1), ("west", "standby", 2)):
        lines += [f"  {site}:", f"    role: {role}", "    hosts:"]
        for i in range(clusters):
            lines.append(
                f"      {site}-{i:04d}: {{address: 127.99.{octet}.{1 + i % 250}, port: 22}}"
            )
    lines.append("services:")
    for i in range(clusters):
        lines += [
            f"  pg-{i:04d}:",
            "    kind: postgres",
            "    members:",
            f"      east-{i:04d}: {{port: 5432, role: primary}}",
            f"      west-{i:04d}: {{port: 5432, role: replica}}",
            "    thresholds: {lag_warn: 5s, lag_crit: 30s}",
        ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@dataclass(frozen=True)
class SyntheticMember:
    """What one synthetic member looks like in a snapshot."""

    role: Role = Role.REPLICA
    link: Link = Link.UP
    lag_seconds: float | None = 0.0
    lag_bytes: int | None = 0
    position: str | None = "0/3000060"
    read_only: bool | None = None
    error: str | None = None
    age: float = 0.0
    """Seconds between the sample and the snapshot."""


def synthetic_snapshot(
    inventory: Inventory,
    now: float,
    members: Mapping[tuple[str, str], SyntheticMember] | None = None,
    poll_interval: float | None = None,
) -> StatusSnapshot:
    """A snapshot of ``inventory`` at ``now``: every member as the inventory expects it
    (primary or streaming replica with zero lag) unless ``members`` says otherwise;
    ``poll_interval`` is the refresh a live view would poll at (stale samples show)."""
    overrides = members or {}
    samples: list[ReplicationSample] = []
    for service in inventory.services.values():
        for host, member in service.members.items():
            spec = overrides.get((service.name, host))
            if spec is None:
                spec = (
                    SyntheticMember(role=Role.PRIMARY, link=Link.NONE, read_only=False)
                    if member.role == "primary"
                    else SyntheticMember()
                )
            samples.append(_sample(inventory, service.name, host, spec, now))
    return _judge(inventory, samples, now, poll_interval)


def _sample(
    inventory: Inventory, service: str, host: str, spec: SyntheticMember, now: float
) -> ReplicationSample:
    h = inventory.hosts[host]
    member = inventory.services[service].members[host]
    endpoint = f"{member.address or h.address}:{member.port}"
    replicas: tuple[ReplicaInfo, ...] = ()
    if spec.role is Role.PRIMARY:
        replicas = tuple(
            ReplicaInfo(
                name=f"{m.address or inventory.hosts[m.host].address}:{m.port}",
                address=m.address or inventory.hosts[m.host].address,
                state="streaming",
                lag_seconds=None,
                lag_bytes=None,
                position=None,
            )
            for m in inventory.services[service].members.values()
            if m.host != host
        )
    return ReplicationSample(
        service=service,
        site=h.site,
        host=host,
        kind=inventory.services[service].kind,
        role=spec.role,
        upstream=None if spec.role is Role.PRIMARY else "primary",
        link=spec.link,
        lag_seconds=spec.lag_seconds if spec.role is Role.REPLICA else None,
        lag_bytes=spec.lag_bytes if spec.role is Role.REPLICA else None,
        position=spec.position if spec.role in (Role.PRIMARY, Role.REPLICA) else None,
        read_only=spec.read_only,
        replicas=replicas,
        error=spec.error,
        sampled_at=now - spec.age,
        details={"endpoint": endpoint, "synthetic": "yes"},
    )


def _judge(
    inventory: Inventory,
    samples: Iterable[ReplicationSample],
    now: float,
    poll_interval: float | None = None,
) -> StatusSnapshot:
    reconciled = reconcile(list(samples))
    out: list[MemberStatus] = []
    for s in reconciled:
        service = inventory.services[s.service]
        member = service.members[s.host]
        out.append(
            MemberStatus(
                service=s.service,
                host=s.host,
                site=s.site,
                kind=service.kind,
                expected_role=member.role,
                sample=s,
                health=assess(
                    s, probe_thresholds(service), member.role, now, service.thresholds.stale_after
                ),
                expected_refresh=poll_interval,
            )
        )
    topologies = {t.service: t for t in topology(reconciled)}
    return StatusSnapshot(now, tuple(out), topologies)


class FixedStatusSource(StatusSource):
    """Delivers given snapshots once each (snapshot tests); then waits to be cancelled."""

    def __init__(self, inventory: Inventory, snapshots: Iterable[StatusSnapshot]) -> None:
        self.inventory = inventory
        self._snapshots = list(snapshots)
        self._latest: StatusSnapshot | None = None

    async def run(self, deliver: Deliver) -> None:
        """Deliver each snapshot, then idle."""
        for snap in self._snapshots:
            self._latest = snap
            deliver(snap)
            await asyncio.sleep(0)
        await asyncio.Event().wait()

    def latest(self) -> StatusSnapshot | None:
        """The last snapshot delivered."""
        return self._latest


class SyntheticStatusSource(StatusSource):
    """SYNTHETIC: every member's lag changes every ``period`` seconds (benchmarks).

    Replicas random-walk their lag; one member in fifty is DOWN; sample times advance with
    the clock, so ages and sparklines move as they would on a real board.
    """

    def __init__(
        self,
        inventory: Inventory,
        *,
        period: float = 1.0,
        seed: int = 7,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.inventory = inventory
        self.period = period
        self.clock = clock
        self.ticks = 0
        """Snapshots delivered so far."""
        self._rng = random.Random(seed)
        self._lag: dict[tuple[str, str], float] = {}
        self._latest: StatusSnapshot | None = None

    def next_snapshot(self) -> StatusSnapshot:
        """Make the next snapshot (every replica's lag changes)."""
        now = self.clock()
        specs: dict[tuple[str, str], SyntheticMember] = {}
        for index, (service, host, expected) in enumerate(
            (s.name, h, m.role)
            for s in self.inventory.services.values()
            for h, m in s.members.items()
        ):
            key = (service, host)
            if expected == "primary":
                specs[key] = SyntheticMember(
                    role=Role.PRIMARY,
                    link=Link.NONE,
                    read_only=False,
                    position=f"0/{0x3000000 + self.ticks * 4096 + index:X}",
                )
                continue
            if (index + self.ticks // 30) % 50 == 7:
                specs[key] = SyntheticMember(
                    role=Role.DOWN, link=Link.UNKNOWN, error=f"{host}: synthetic outage"
                )
                continue
            lag = max(0.0, self._lag.get(key, 0.5) + self._rng.uniform(-1.0, 1.2))
            self._lag[key] = lag
            specs[key] = SyntheticMember(
                lag_seconds=round(lag, 2),
                lag_bytes=int(lag * 65536),
                position=f"0/{0x3000000 + self.ticks * 4096:X}",
            )
        self.ticks += 1
        snap = synthetic_snapshot(self.inventory, now, specs)
        self._latest = snap
        return snap

    async def run(self, deliver: Deliver) -> None:
        """A new snapshot every ``period`` seconds."""
        while True:
            deliver(self.next_snapshot())
            await asyncio.sleep(self.period)

    def latest(self) -> StatusSnapshot | None:
        """The last snapshot made."""
        return self._latest


def load_synthetic_inventory(path: Path, clusters: int = 500) -> Inventory:
    """Write and load a synthetic inventory (see :func:`write_synthetic_inventory`)."""
    return load_inventory(write_synthetic_inventory(path, clusters))
