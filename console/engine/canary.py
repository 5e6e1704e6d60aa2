"""Measured data loss: numbered canary writes on the observed primary during a run.

The runner writes canary 1, 2, 3... every ``every`` seconds on whichever member is the
writable primary right now, and reports each write (acknowledged or not) as an event, so the
audit log holds the proof. When a write fails it re-probes the service before the next one,
so it follows the primary through a failover by itself. At the end, :meth:`check` reads the
canaries on the primary of that moment; the acknowledged ones missing there are the measured
RPO (``console.probes.canary.data_loss``).

A ``redis-cluster`` service has no primary: the canaries are written and read through the
cluster from one of its nodes (the entry node; ``redis-cli -c`` follows the redirections to
whichever master holds a canary's slot). When a write fails, the next write enters through a
node of another host; a host that did not answer at all is left out of that rotation for
:data:`SILENT_FOR` seconds (unless every other host is silent too), so a dark site's nodes do not
cost each round a connect timeout while the rest of the cluster comes back (the lab saw a
TAKEOVER drill end before any canary landed: every third write waited 13 s on the dark site).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Any

from console.engine.refresh import refresh_status
from console.errors import DrError
from console.events import CanaryCheck, CanaryWrite, Event
from console.model.cluster import CLUSTER_KIND
from console.model.inventory import Inventory
from console.probes import canary as kinds
from console.probes.sample import ProbeTarget
from console.ssh.transport import Transport
from console.status.collector import StatusCollector
from console.targets import probe_target, ssh_target

SILENT_FOR = 30.0
"""Seconds a cluster host that did not answer the canary is passed over by the rotation."""


class CanaryRunner:
    """Writes canaries in the background for one service of one run."""

    def __init__(
        self,
        *,
        inventory: Inventory,
        transport: Transport,
        collector: StatusCollector,
        service: str,
        run_id: str,
        every: float,
        emit: Callable[[Event], None],
        acknowledged: dict[int, float] | None = None,
        next_n: int = 1,
    ) -> None:
        self.inventory = inventory
        self.transport = transport
        self.collector = collector
        self.service = inventory.services[service]
        self.run_id = run_id
        self.every = every
        self.emit = emit
        self.acknowledged: dict[int, float] = dict(acknowledged or {})
        """Canary number -> ``time.time()`` when the server acknowledged it."""
        self.next_n = next_n
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()
        self._prepared: set[str] = set()
        self._lock = asyncio.Lock()
        self._first_ack = asyncio.Event()
        if self.acknowledged:
            self._first_ack.set()
        self.write_timeout = max(3.0, 3 * every)
        self._following: asyncio.Task[object] | None = None
        self._entry = 0
        """A redis-cluster service: the index of the node the canary enters through."""
        self._silent: dict[str, float] = {}
        """A redis-cluster service: host -> ``time.monotonic()`` when it last did not answer."""
        self._writer: kinds.CanaryWriter | None = None

    @property
    def writer(self) -> kinds.CanaryWriter:
        """Builds the commands (made at first use: a kind without a writer raises then, as
        before); a redis-cluster's adopts the topology its setup observed."""
        if self._writer is None:
            self._writer = kinds.writer_for(self.service.kind)
        return self._writer

    def start(self) -> None:
        """Start writing in the background."""
        self._task = asyncio.ensure_future(self._loop())

    async def stop(self) -> None:
        """Stop writing (the write in flight finishes or times out first)."""
        self._stop.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._following is not None and not self._following.done():
            self._following.cancel()

    def _primary_target(self) -> tuple[str, kinds.ProbeTarget] | None:
        if self.service.kind == CLUSTER_KIND:
            return self._entry_node()
        status = self.collector.snapshot().primary(self.service.name)
        if status is None:
            return None
        member = self.service.members[status.host]
        return status.host, probe_target(self.inventory, self.service, member)

    def _entry_node(self) -> tuple[str, ProbeTarget] | None:
        nodes = self.service.nodes
        if not nodes:
            return None
        node = nodes[self._entry % len(nodes)]
        host = self.inventory.hosts[node.host]
        probe = self.service.probe
        return host.name, ProbeTarget(
            service=self.service.name,
            site=host.site,
            host=host.name,
            kind="redis",  # the entry node is a Redis server; the writer is the cluster's
            address=host.address,
            port=node.port,
            user=probe.user,
            password_env=probe.password_env,
        )

    def _next_entry(self) -> None:
        """Enter the cluster through the next node of another host (a cluster's nodes share
        hosts: the next node of a dark host would hang as well), passing over the hosts that
        did not answer in the last :data:`SILENT_FOR` seconds while another host is left."""
        nodes = self.service.nodes
        if not nodes:
            return
        here = nodes[self._entry % len(nodes)].host
        now = time.monotonic()
        silent = {h for h, at in self._silent.items() if now - at < SILENT_FOR}
        others = [
            (self._entry + step) % len(nodes)
            for step in range(1, len(nodes) + 1)
            if nodes[(self._entry + step) % len(nodes)].host != here
        ]
        answering = [i for i in others if nodes[i].host not in silent]
        if answering or others:
            self._entry = (answering or others)[0]

    async def _exec(self, host: str, command: str, timeout: float) -> tuple[int | None, str, str]:
        # The transport's timeout covers the command, not the wait for a connection: to a dark
        # host, every caller queued behind the reconnect pays a connect timeout in turn. A
        # canary never waits longer than one connect plus one write.
        target = ssh_target(self.inventory, host)
        bound = timeout + target.connect_timeout + 5.0
        try:
            result = await asyncio.wait_for(
                self.transport.run(target, command, timeout=timeout, max_lines=100_000), bound
            )
        except TimeoutError:
            raise TimeoutError(f"{host}: no answer within {bound:g}s") from None
        if result.timed_out:
            raise TimeoutError(f"no answer within {timeout:g}s")
        return result.exit_status, "\n".join(result.stdout), "\n".join(result.stderr)

    async def _write_one(self, host: str, target: kinds.ProbeTarget) -> bool:
        if host not in self._prepared:
            try:
                code, out, err = await self._exec(
                    host, self.writer.setup_command(target), self.write_timeout
                )
            except (DrError, TimeoutError, OSError):
                self._silent[host] = time.monotonic()
                raise
            self.writer.parse_setup(code, out, err)
            self._prepared.add(host)
        n = self.next_n
        self.next_n += 1
        written_at = time.time()
        error: str | None
        try:
            code, out, err = await self._exec(
                host, self.writer.write_command(target, self.run_id, n), self.write_timeout
            )
        except (DrError, TimeoutError, OSError) as exc:
            ok, error = False, str(exc)[:200]
            self._silent[host] = time.monotonic()
        else:
            self._silent.pop(host, None)
            try:
                ok = self.writer.parse_write(n, code, out, err)
                error = None if ok else (err.strip().splitlines() or [f"exit {code}"])[-1][:200]
            except DrError as exc:
                ok, error = False, str(exc)[:200]
        if ok:
            self.acknowledged[n] = time.time()
            self._first_ack.set()
        self.emit(
            CanaryWrite(
                service=self.service.name, n=n, ok=ok, written_at=written_at, error=error, host=host
            )
        )
        return ok

    async def wait_first_ack(self, timeout: float) -> bool:
        """Wait until some canary has been acknowledged (so that a loss can be seen at all)."""
        try:
            await asyncio.wait_for(self._first_ack.wait(), timeout)
        except TimeoutError:
            return False
        return True

    async def write_now(self) -> bool:
        """Write one canary at once (the engine does this just before the outage starts, so the
        last write before it is on record even in a drill faster than the interval)."""
        return await self._tick()

    async def _tick(self) -> bool:
        found = self._primary_target()
        if found is None:
            return False
        async with self._lock:
            try:
                return await self._write_one(*found)
            except (DrError, TimeoutError, OSError):
                return False

    async def _loop(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            ok = await self._tick()
            if not ok:
                await self._follow()
            delay = max(0.0, self.every - (time.monotonic() - started))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), delay)

    async def _follow(self) -> None:
        """Follow the primary: re-probe the service before the next write.

        A probe of a dark host ends only at its deadline; the canary waits for it at most one
        write timeout (the probe goes on in the background and the next write uses whatever
        it learnt by then), so that it starts writing on a new primary as soon as it can.
        """
        if self.service.kind == CLUSTER_KIND:
            self._next_entry()
            return
        if self._following is None or self._following.done():
            self._following = asyncio.ensure_future(self.collector.sweep([self.service.name]))
            self._following.add_done_callback(
                lambda task: None if task.cancelled() else task.exception()
            )
        # the end of the run does not wait for it either: no write is in flight here
        # (asyncio.wait cancels neither on its timeout)
        stopping = asyncio.ensure_future(self._stop.wait())
        try:
            await asyncio.wait(
                {self._following, stopping},
                timeout=self.write_timeout,
                return_when=asyncio.FIRST_COMPLETED,
            )
        finally:
            stopping.cancel()

    async def check(
        self,
        background: set[asyncio.Future[Any]] | None = None,
        outage_start: float | None = None,
        last_write: bool = False,
        swept: bool = False,
    ) -> CanaryCheck:
        """Read the canaries on the current primary and measure what was lost.

        With ``last_write`` (the run's outage ended), one more canary is written first on the
        primary found now, so the check holds a write on the topology the run leaves even when
        the run ended within one interval of its outage (a Redis Cluster TAKEOVER drill ended
        1 s after the cluster served again, with one canary acknowledged after it).

        The loss is measured only when some canary was acknowledged before the outage began
        (``outage_start``, the ``rto: start`` mark; without one, before the check): when the
        primary was already unreachable as the run started, no canary could land on it, and
        "0 lost" would be a claim about writes nobody made. The check then reports the RPO
        as not measurable (``error`` says why) while still counting the canaries present.

        Args:
            background: Receives a status sweep left running on a host known to be down
                (``console.engine.refresh``); the caller cancels it at the end of the run.
            outage_start: ``time.time()`` when the outage began, or None.
            last_write: Write one more canary before reading them back.
            swept: The caller has just swept this service: its primary is known.
        """
        name = self.service.name
        acked = len(self.acknowledged)
        if not swept:
            with contextlib.suppress(DrError, OSError):
                pending = background if background is not None else set()
                await refresh_status(self.collector, self.inventory, [name], pending)
        found = self._primary_target()
        if found is None:
            return CanaryCheck(
                service=name,
                acknowledged=acked,
                present=0,
                missing=(),
                newest_present=None,
                rpo_writes=None,
                rpo_seconds=None,
                error="no writable primary to read canaries from",
            )
        host, target = found
        if last_write:
            async with self._lock:
                with contextlib.suppress(DrError, TimeoutError, OSError):
                    await self._write_one(host, target)
            acked = len(self.acknowledged)
            host, target = self._primary_target() or found
        hosts = {n.host for n in self.service.nodes} if self.service.kind == CLUSTER_KIND else ()
        tries = max(1, len(hosts))
        failure: Exception | None = None
        for attempt in range(tries):
            try:
                if self.service.kind == CLUSTER_KIND:  # the sets of the topology now (a run
                    # resumed in another process never saw the first one; slots stay put)
                    code, out, err = await self._exec(host, self.writer.setup_command(target), 30.0)
                    self.writer.parse_setup(code, out, err)
                code, out, err = await self._exec(
                    host, self.writer.read_command(target, self.run_id), 30.0
                )
                state = self.writer.parse_read(code, out, err)
                loss = kinds.data_loss(self.acknowledged, state)
                failure = None
                break
            except (DrError, TimeoutError, OSError) as exc:
                failure = exc
                if attempt + 1 < tries:  # a cluster: read through a node of another host
                    self._next_entry()
                    host, target = self._entry_node() or found
        if failure is not None:
            return CanaryCheck(
                service=name,
                acknowledged=acked,
                present=0,
                missing=(),
                newest_present=None,
                rpo_writes=None,
                rpo_seconds=None,
                error=str(failure)[:300],
                host=host,
            )
        before = [
            n for n, at in self.acknowledged.items() if outage_start is None or at <= outage_start
        ]
        if not before:
            return CanaryCheck(
                service=name,
                acknowledged=acked,
                present=len(state.numbers or ()),
                missing=loss.missing,
                newest_present=state.max_n,
                rpo_writes=None,
                rpo_seconds=None,
                error=(
                    "RPO not measurable: no canary was acknowledged before the outage began "
                    "(the primary did not take the canary's writes), so no loss can be seen"
                ),
                host=host,
            )
        return CanaryCheck(
            service=name,
            acknowledged=acked,
            present=len(state.numbers or ()),
            missing=loss.missing,
            newest_present=state.max_n,
            rpo_writes=loss.writes,
            rpo_seconds=round(loss.seconds, 3),
            host=host,
        )
