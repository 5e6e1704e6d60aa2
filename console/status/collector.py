"""Collect replication samples for every member of every service, all hosts at once.

Each member is probed over the shared SSH pool on its own host with the server's own client.
Probes run concurrently, each with its own deadline, so a dark site delays only its own rows
and turns into DOWN/UNKNOWN when its deadline passes; the command never hangs. A probe that is
still in flight (a hung host) is never started a second time: the next sweep waits on the same
attempt, so polls never pile up and never overlap.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from functools import cached_property

from console.errors import DrError
from console.model.inventory import Inventory, Member, Service
from console.probes.cluster import ask_cluster, cluster_places, judge_cluster
from console.probes.health import MemberHealth, assess
from console.probes.linkrtt import round_trip_ms
from console.probes.managers import (
    Answers,
    ManagerView,
    ask_manager,
    judge_manager,
    silent_keys,
)
from console.probes.registry import probe_for
from console.probes.riders import Answer, ride_along, split_ride
from console.probes.sample import ProbeTarget, ReplicationSample, Role, unreachable
from console.probes.topology import ServiceTopology, reconcile, topology
from console.probes.window import RecoveryWindow
from console.ssh.transport import Transport
from console.status.topology import ShapeCheck, check_shape
from console.targets import probe_target, probe_thresholds, ssh_target

RTT_EVERY = 10.0
"""Seconds between two timings of one relayed link's round trip."""

_Rider = tuple[str, "str | None", "asyncio.Future[Answer]"]
"""A question riding on a member's next probe: shell command, statement, where to answer."""


@dataclass(frozen=True)
class MemberStatus:
    """One member's latest sample with its judgement."""

    service: str
    host: str
    site: str
    kind: str
    expected_role: str
    sample: ReplicationSample
    health: MemberHealth
    expected_refresh: float | None = None
    """Seconds between this member's polls in the live view it feeds (None: a one-shot
    sweep); a sample much older than that is stale (``console.status.freshness``)."""

    @property
    def role(self) -> str:
        """The observed role as a word."""
        return self.sample.role.value


@dataclass(frozen=True)
class StatusSnapshot:
    """Every member's latest status at one moment."""

    taken_at: float
    members: tuple[MemberStatus, ...]
    topologies: dict[str, ServiceTopology] = field(default_factory=dict)
    managers: dict[str, ManagerView] = field(default_factory=dict)
    """Per managed service (``managed_by``), its manager's view judged against the members."""
    shapes: dict[str, ShapeCheck] = field(default_factory=dict)
    """Each service's observed shape judged against its declared topology."""
    windows: dict[str, RecoveryWindow] = field(default_factory=dict)
    """The recoverable window of each backed-up service, when the source collects them
    (``console.status.window``; empty otherwise)."""

    def for_service(self, service: str) -> tuple[MemberStatus, ...]:
        """The members of one service, in inventory order."""
        return tuple(m for m in self.members if m.service == service)

    @cached_property
    def _by_member(self) -> dict[tuple[str, str], MemberStatus]:
        index: dict[tuple[str, str], MemberStatus] = {}
        for m in self.members:
            index.setdefault((m.service, m.host), m)  # the first one, as a scan would find
        return index

    def get(self, service: str, host: str) -> MemberStatus | None:
        """One member's status (a dict lookup: views ask for every member of large
        estates on every refresh)."""
        return self._by_member.get((service, host))

    def observed_role(self, service: str, host: str) -> str:
        """``primary``, ``replica``, ``down`` or ``unknown`` (never sampled)."""
        m = self.get(service, host)
        return m.role if m is not None else "unknown"

    def primary(self, service: str) -> MemberStatus | None:
        """The one writable primary of a service as observed, or None."""
        topo = self.topologies.get(service)
        host = topo.primary_host if topo is not None else None
        return self.get(service, host) if host else None

    @property
    def healthy(self) -> bool:
        """Every member OK, and every manager agrees with its databases."""
        return all(m.health.health.value == "ok" for m in self.members) and all(
            v.health.value == "ok" for v in self.managers.values()
        )


class StatusCollector:
    """Probes members over a transport and keeps the latest sample of each.

    Args:
        inventory: The estate.
        transport: The shared SSH pool.
        timeout: Seconds each probe may take in all (connect and run); default each
            service's ``probe.timeout``.
        on_sample: Called with each new :class:`MemberStatus` as it arrives (a view that
            updates row by row).
        poll_interval: Seconds between a member's polls when a live view polls through this
            collector; carried by each member's status so that views can tell stale samples.
    """

    def __init__(
        self,
        inventory: Inventory,
        transport: Transport,
        *,
        timeout: float | None = None,
        on_sample: Callable[[MemberStatus], None] | None = None,
        poll_interval: float | None = None,
    ) -> None:
        self.inventory = inventory
        self.transport = transport
        self.timeout = timeout
        self.on_sample = on_sample
        self.poll_interval = poll_interval
        self._latest: dict[tuple[str, str], ReplicationSample] = {}
        self._inflight: dict[tuple[str, str], asyncio.Task[ReplicationSample]] = {}
        self._managers: dict[str, tuple[Answers, float]] = {}
        self._clusters: dict[str, tuple[Answers, float]] = {}
        self._riders: dict[tuple[str, str], list[_Rider]] = {}
        self._rtts: dict[tuple[str, str], tuple[float | None, float]] = {}
        """(kind, via) -> (the link's last round trip in ms, when it was timed)."""
        self._timing: dict[tuple[str, str], asyncio.Task[None]] = {}

    def ride(
        self, service: str, host: str, command: str, sql: str | None = None
    ) -> asyncio.Future[Answer]:
        """Send ``command`` in the same exec as the next probe of ``service`` on ``host``
        (:mod:`console.probes.riders`): one round trip instead of two. With ``sql`` (the
        statement ``command`` runs), a probe whose client can run it in its own session does
        so: no second client process and no second connection either.

        Returns:
            A future of the rider's (exit status, stdout); status None when the exec failed,
            timed out or cut the rider off. A caller that needs the answer even when no probe
            of that member starts should :meth:`unride` it and ask on its own.
        """
        answer: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        self._riders.setdefault((service, host), []).append((command, sql, answer))
        return answer

    def unride(self, service: str, host: str, answer: asyncio.Future[Answer]) -> None:
        """Withdraw a rider no probe has taken yet (its future is cancelled)."""
        waiting = self._riders.get((service, host), [])
        self._riders[(service, host)] = [r for r in waiting if r[2] is not answer]
        answer.cancel()

    def _deadline(self, service: Service) -> float:
        return self.timeout if self.timeout is not None else service.probe.timeout

    async def _probe(
        self, service: Service, member: Member, target: ProbeTarget
    ) -> ReplicationSample:
        probe = probe_for(service.kind, timeout=self._deadline(service))
        host = self.inventory.hosts[member.host]
        riders = self._riders.pop((service.name, member.host), [])
        sqls = [sql for _, sql, _ in riders if sql is not None]
        command = probe.command_riding(target, sqls) if len(sqls) == len(riders) > 0 else None
        if command is None:
            command = ride_along(probe.command(target), [shell for shell, _, _ in riders])

        def answer_all(answers: list[Answer]) -> None:
            for (_, _, answer), got in zip(riders, answers, strict=True):
                if not answer.done():
                    answer.set_result(got)

        try:
            result = await self.transport.run(
                ssh_target(self.inventory, host),
                command,
                timeout=self._deadline(service) + 2,
                max_lines=5000 + 200_000 * len(riders),
            )
        except DrError as exc:
            answer_all([(None, "")] * len(riders))
            return unreachable(target, exc.message, time.time())
        except OSError as exc:
            answer_all([(None, "")] * len(riders))
            return unreachable(target, str(exc) or type(exc).__name__, time.time())
        except BaseException:
            answer_all([(None, "")] * len(riders))
            raise
        stdout, (probe_status, _), answers = split_ride(result.stdout, len(riders))
        answer_all(answers)
        status = result.exit_status if probe_status is None else probe_status
        if probe_status is None and result.timed_out:
            return unreachable(
                target, f"no answer within {self._deadline(service):g}s", time.time(), Role.DOWN
            )
        return probe.parse(target, status, "\n".join(stdout), "\n".join(result.stderr), time.time())

    async def _member(self, service: Service, member: Member) -> ReplicationSample:
        key = (service.name, member.host)
        target = probe_target(self.inventory, service, member)
        task = self._inflight.get(key)
        if task is None or task.done():
            task = asyncio.ensure_future(self._probe(service, member, target))
            self._inflight[key] = task
        deadline = self._deadline(service)
        try:
            sample = await asyncio.wait_for(asyncio.shield(task), deadline + 3)
        except TimeoutError:
            sample = unreachable(
                target, f"no answer within {deadline:g}s (host hung?)", time.time(), Role.DOWN
            )
        sample = await self._time_link(service, sample)
        self._latest[key] = sample
        if self.on_sample is not None:
            self.on_sample(self._status(service, member, sample, time.time()))
        return sample

    async def _time_link(self, service: Service, sample: ReplicationSample) -> ReplicationSample:
        """A replica following an alias of its upstream (a relay on the link) gets the link's
        round trip through it (``console.probes.linkrtt``) in its details: ``link_from`` (the
        member behind the alias), ``link_via`` and ``link_rtt_ms`` (absent when not timed)."""
        via = sample.upstream
        if sample.role is not Role.REPLICA or via is None:
            return sample
        feeder = service.topology.aliases.get(via)
        if feeder is None:
            return sample
        details = {**sample.details, "link_from": feeder, "link_via": via}
        key = (service.kind, via)
        if key not in self._rtts:  # the first time: wait for it, so a one-shot status has it
            await self._time_now(key, min(self._deadline(service), 5.0))
        elif time.time() - self._rtts[key][1] > RTT_EVERY and key not in self._timing:
            # later: timed again in the background, so no probe waits for a slow link
            task = asyncio.ensure_future(self._time_now(key, min(self._deadline(service), 5.0)))
            self._timing[key] = task
            task.add_done_callback(self._timed(key))
        rtt = self._rtts[key][0]
        if rtt is not None:
            details["link_rtt_ms"] = f"{rtt:.1f}"
        return replace(sample, details=details)

    def _timed(self, key: tuple[str, str]) -> Callable[[asyncio.Task[None]], None]:
        """A done-callback forgetting the background timing of ``key``."""

        def done(task: asyncio.Task[None]) -> None:
            self._timing.pop(key, None)
            if not task.cancelled():
                task.exception()

        return done

    async def _time_now(self, key: tuple[str, str], timeout: float) -> None:
        kind, via = key
        self._rtts[key] = (await round_trip_ms(kind, via, timeout), time.time())

    async def sweep(self, services: Iterable[str] | None = None) -> StatusSnapshot:
        """Probe every member of ``services`` (default all) at once; return the snapshot."""
        names = list(services) if services is not None else list(self.inventory.services)
        jobs = [
            self._member(self.inventory.services[name], member)
            for name in names
            for member in self.inventory.services[name].members.values()
        ]
        await asyncio.gather(*jobs, self.sample_managers(names))
        return self.snapshot()

    async def sample_managers(self, services: Iterable[str] | None = None) -> None:
        """Ask the manager of every managed service among ``services`` (default all) at once;
        :meth:`snapshot` judges the answers against the members' latest samples."""
        names = list(services) if services is not None else list(self.inventory.services)
        managed = [
            (name, mb)
            for name in names
            if (mb := self.inventory.services[name].managed_by) is not None
        ]
        clusters = [n for n in names if self.inventory.services[n].nodes]
        answers, cluster_answers = await asyncio.gather(
            asyncio.gather(
                *(
                    ask_manager(
                        mb,
                        self._deadline(self.inventory.services[n]),
                        silent_keys(self._managers.get(n, (None, 0.0))[0]),
                    )
                    for n, mb in managed
                )
            ),
            asyncio.gather(
                *(
                    ask_cluster(
                        [
                            (nd.name, self.inventory.hosts[nd.host].address, nd.port)
                            for nd in self.inventory.services[n].nodes
                        ],
                        self._deadline(self.inventory.services[n]),
                        silent_keys(self._clusters.get(n, (None, 0.0))[0]),
                    )
                    for n in clusters
                )
            ),
        )
        for (name, _mb), got in zip(managed, answers, strict=True):
            self._managers[name] = got
        for name, cgot in zip(clusters, cluster_answers, strict=True):
            self._clusters[name] = cgot

    async def sample_member(self, service: str, host: str) -> MemberStatus:
        """Probe one member now (or join its probe in flight) and return its judged status.

        A live view polls each member on its own schedule with this, so that a dark host
        delays only its own row instead of holding a whole sweep back.

        Raises:
            KeyError: ``service`` or its member ``host`` is not in the inventory.
        """
        svc = self.inventory.services[service]
        member = svc.members[host]
        sample = await self._member(svc, member)
        return self._status(svc, member, sample, time.time())

    def _status(
        self, service: Service, member: Member, sample: ReplicationSample, now: float
    ) -> MemberStatus:
        expected = member.role
        if (
            service.topology.shape == "multi-primary"
            and expected == "primary"
            and sample.role is Role.REPLICA
            and sample.read_only is False
        ):
            expected = "replica"  # a writer of a multi-primary service also follows the others
        return MemberStatus(
            service=service.name,
            host=member.host,
            site=self.inventory.hosts[member.host].site,
            kind=service.kind,
            expected_role=member.role,
            sample=sample,
            health=assess(
                sample,
                probe_thresholds(service),
                expected,
                now,
                service.thresholds.stale_after,
            ),
            expected_refresh=self.poll_interval,
        )

    def snapshot(self, now: float | None = None) -> StatusSnapshot:
        """The latest sample of every member sampled so far, judged at ``now``."""
        now = time.time() if now is None else now
        members: list[MemberStatus] = []
        topologies: dict[str, ServiceTopology] = {}
        shapes: dict[str, ShapeCheck] = {}
        for service in self.inventory.services.values():
            samples = [
                self._latest[(service.name, m.host)]
                for m in service.members.values()
                if (service.name, m.host) in self._latest
            ]
            if not samples:
                continue
            samples = list(reconcile(samples))
            by_host = {s.host: s for s in samples}
            for m in service.members.values():
                if m.host in by_host:
                    members.append(self._status(service, m, by_host[m.host], now))
            for topo in topology(samples):
                topologies[topo.service] = topo
            shapes[service.name] = check_shape(self.inventory, service, samples)
        managers: dict[str, ManagerView] = {}
        for name, (answers, taken_at) in self._managers.items():
            service = self.inventory.services[name]
            assert service.managed_by is not None
            where = {}
            for m in service.members.values():
                t = probe_target(self.inventory, service, m)
                where[m.host] = f"{t.address}:{t.port}"
            samples = [
                self._latest[(name, m.host)]
                for m in service.members.values()
                if (name, m.host) in self._latest
            ]
            managers[name] = judge_manager(
                name, service.managed_by, answers, samples, where, taken_at
            )
        for name, (answers, taken_at) in self._clusters.items():  # a Redis Cluster: its own view
            places = cluster_places(self.inventory, self.inventory.services[name])
            managers[name] = judge_cluster(name, answers, places, taken_at)
        return StatusSnapshot(now, tuple(members), topologies, managers, shapes)

    async def close(self) -> None:
        """Cancel probes still in flight."""
        timing = list(self._timing.values())
        for task in [*self._inflight.values(), *timing]:
            task.cancel()
        for task in [*self._inflight.values(), *timing]:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._inflight.clear()
        self._timing.clear()
