"""Service locks: one run per service at a time, across consoles and laptops.

Two halves. The local half is a row in the audit database (two runs from this machine, or from
machines sharing the database). The remote half is an atomic ``mkdir`` of
``<lock_dir>/<service>`` on every member host of the service that answers, with an ``owner``
file naming the run: two consoles on two laptops, each with its own audit database, still
exclude each other. A member host that does not answer (a dark site, the very reason for an
unplanned failover) cannot hold a lock and is reported, not waited for.
"""

from __future__ import annotations

import asyncio
import calendar
import json
import os
import shlex
import socket
import time
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from console import events as ev
from console.audit.errors import AuditStoreLost
from console.audit.leases import DEFAULT_TTL
from console.audit.model import pid_alive
from console.audit.store import AuditStore
from console.errors import DrError, ErrorKind, LockHeld
from console.model.inventory import Inventory
from console.ssh.transport import Transport
from console.targets import ssh_target

REMOTE_TIMEOUT = 15.0


@dataclass(frozen=True)
class RemoteLockResult:
    """What happened on one host."""

    host: str
    taken: bool
    holder: dict[str, str] | None = None
    """The owner file of another run, when the lock is held."""
    error: str | None = None
    error_kind: ErrorKind | None = None
    """The kind of ``error``."""
    cleared: dict[str, str] | None = None
    """The owner of a lock left behind by a run that has finished, removed before taking it."""


def _lock_path(inventory: Inventory, host: str, service: str) -> str:
    base = inventory.hosts[host].ssh.lock_dir.rstrip("/")
    return f"{base}/{service}"


def _acquire_command(path: str, owner: dict[str, str]) -> str:
    p = shlex.quote(path)
    parent = path.rsplit("/", 1)[0] or "/"
    body = shlex.quote(json.dumps(owner, sort_keys=True))
    run_id = shlex.quote(owner["run_id"])
    tmp = shlex.quote(f"{parent}/.{path.rsplit('/', 1)[-1]}.XXXXXX")
    # The lock directory appears atomically with its owner file inside: it is made aside and
    # renamed into place; the rename fails when the lock exists (a non-empty directory), so
    # exactly one of two racing consoles wins, and a reader never sees a lock without owner.
    return (
        f'mkdir -p {shlex.quote(parent)} && t=$(mktemp -d {tmp}) && printf %s {body} > "$t/owner" '
        f'&& if mv -T "$t" {p} 2>/dev/null; then echo TAKEN; else rm -rf "$t"; '
        f"if grep -q {run_id} {p}/owner 2>/dev/null; then echo TAKEN; "
        f"else echo HELD; cat {p}/owner 2>/dev/null; echo; fi; fi"
    )


def _release_command(path: str, run_id: str) -> str:
    p = shlex.quote(path)
    return (
        f"if grep -q {shlex.quote(run_id)} {p}/owner 2>/dev/null; then rm -rf {p} && "
        "echo RELEASED; else echo NOT-OURS; fi"
    )


def _break_command(path: str) -> str:
    p = shlex.quote(path)
    return f"cat {p}/owner 2>/dev/null; echo; rm -rf {p} && echo BROKEN"


async def _on_host(transport: Transport, inventory: Inventory, host: str, command: str) -> str:
    result = await transport.run(
        ssh_target(inventory, host), command, timeout=REMOTE_TIMEOUT, max_lines=200
    )
    if result.timed_out:
        raise TimeoutError(f"no answer within {REMOTE_TIMEOUT:g}s")
    if result.exit_status != 0:
        said = (list(result.stderr) or [f"exit {result.exit_status}"])[-1]
        raise OSError(said)
    return "\n".join(result.stdout)


async def acquire_remote(
    transport: Transport,
    inventory: Inventory,
    service: str,
    owner: dict[str, str],
    *,
    finished: Callable[[str], bool] = lambda _run_id: False,
) -> list[RemoteLockResult]:
    """Take the remote lock on every member host of ``service`` that answers.

    Args:
        finished: Whether a run id is known (in this audit log) to have finished. A lock whose
            holder has finished was left behind on a host that was dark when that run ended
            (the usual case after an unplanned failover): it is cleared and reported, never
            mistaken for a live holder.

    Raises:
        LockHeld: another run holds it on some host (the locks this call took are released).
    """
    hosts = list(inventory.services[service].members)

    async def one(host: str) -> RemoteLockResult:
        path = _lock_path(inventory, host, service)
        try:
            out = await _on_host(transport, inventory, host, _acquire_command(path, owner))
        except DrError as exc:
            return RemoteLockResult(host, False, error=str(exc), error_kind=exc.kind)
        except TimeoutError as exc:
            return RemoteLockResult(host, False, error=str(exc), error_kind=ErrorKind.SSH)
        except OSError as exc:
            return RemoteLockResult(host, False, error=str(exc), error_kind=ErrorKind.OS)
        lines = out.splitlines()
        if lines and lines[0] == "TAKEN":
            return RemoteLockResult(host, True)
        holder: dict[str, str] = {}
        try:
            holder = json.loads("\n".join(lines[1:]) or "{}")
        except json.JSONDecodeError:
            holder = {"owner": "\n".join(lines[1:])[:200]}
        return RemoteLockResult(host, False, holder=holder)

    results = list(await asyncio.gather(*(one(h) for h in hosts)))
    for i, r in enumerate(results):
        if r.holder is not None and finished(str(r.holder.get("run_id", ""))):
            path = _lock_path(inventory, r.host, service)
            try:
                await _on_host(transport, inventory, r.host, _break_command(path))
            except (DrError, TimeoutError, OSError):
                continue
            again = await one(r.host)
            results[i] = RemoteLockResult(
                again.host,
                again.taken,
                again.holder,
                again.error,
                again.error_kind,
                cleared=r.holder,
            )
    held = [r for r in results if r.holder is not None]
    if held:
        await release_remote(
            transport, inventory, service, owner["run_id"], [r.host for r in results if r.taken]
        )
        h = held[0]
        raise LockHeld(describe_holder(service, h.host, h.holder or {}, owner.get("hostname")))
    return results


def _started_at(pid: int) -> float | None:
    """When process ``pid`` started (epoch seconds), from procfs; None when unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        boot = next(
            float(line.split()[1])
            for line in Path("/proc/stat").read_text().splitlines()
            if line.startswith("btime ")
        )
    except (OSError, StopIteration, ValueError, IndexError):
        return None
    fields = stat.rpartition(")")[2].split()
    try:
        return boot + int(fields[19]) / os.sysconf("SC_CLK_TCK")
    except (IndexError, ValueError, OSError):
        return None


def holder_liveness(holder: Mapping[str, str], this_host: str | None = None) -> str:
    """Whether the run named by a lock's owner file is still running.

    Returns:
        ``alive`` or ``stale`` when the owner names this machine (its pid is checked here,
        and a process that started after the lock was taken is not the holder: the pid was
        reused); ``unknown`` when the owner is on another machine, which cannot be asked.
    """
    here = this_host if this_host is not None else socket.gethostname()
    if str(holder.get("hostname", "")) != here:
        return "unknown"
    try:
        pid = int(str(holder.get("pid", "")))
    except ValueError:
        return "unknown"
    if not pid_alive(pid):
        return "stale"
    started = _started_at(pid)
    try:
        since = calendar.timegm(time.strptime(str(holder.get("since", "")), "%Y-%m-%dT%H:%M:%SZ"))
    except ValueError:
        return "alive"
    if started is not None and started > since + 2:
        return "stale"  # the pid now belongs to a later process
    return "alive"


def describe_holder(
    service: str, host: str, holder: Mapping[str, str], this_host: str | None = None
) -> str:
    """The sentence for a remote lock held by another run: who, since when, and whether its
    holder is gone (stale, and how to break it), alive, or on a machine we cannot check."""
    who = {k: str(holder.get(k, "?")) for k in ("run_id", "operator", "pid", "hostname", "since")}
    text = (
        f"service {service} is locked on {host} by run {who['run_id']} of {who['operator']} "
        f"(pid {who['pid']} on {who['hostname']}) since {who['since']}"
    )
    state = holder_liveness(holder, this_host)
    if state == "stale":
        return (
            f"{text}; stale: pid {who['pid']} no longer runs on {who['hostname']} (this "
            "machine), so that run is gone: break the lock with --break-lock"
        )
    if state == "alive":
        return f"{text}; that run is still running here (pid {who['pid']}): wait for it"
    return (
        f"{text}; held from another machine ({who['hostname']}): cannot tell from here whether "
        "that run is still going; if you know it is gone, run again with --break-lock"
    )


async def release_remote(
    transport: Transport, inventory: Inventory, service: str, run_id: str, hosts: list[str]
) -> list[str]:
    """Remove the remote lock directories this run owns (best effort, bounded in time).

    Returns:
        The hosts that answered (the lock is gone there). A host that did not answer within
        one connect plus ``REMOTE_TIMEOUT`` (a dark site) keeps the lock: the next run on it
        needs ``--break-lock``.
    """

    async def one(host: str) -> str | None:
        # The command timeout does not cover waiting for a connection to a dark host.
        bound = REMOTE_TIMEOUT + ssh_target(inventory, host).connect_timeout + 5.0
        try:
            await asyncio.wait_for(
                _on_host(
                    transport,
                    inventory,
                    host,
                    _release_command(_lock_path(inventory, host, service), run_id),
                ),
                bound,
            )
        except (DrError, TimeoutError, OSError):
            return None
        return host

    done = await asyncio.gather(*(one(h) for h in hosts))
    return [h for h in done if h is not None]


async def break_remote(
    transport: Transport, inventory: Inventory, service: str
) -> list[tuple[str, str]]:
    """Remove the remote lock directories whoever owns them; returns (host, former owner)."""

    async def one(host: str) -> tuple[str, str] | None:
        try:
            out = await _on_host(
                transport, inventory, host, _break_command(_lock_path(inventory, host, service))
            )
        except (DrError, TimeoutError, OSError):
            return None
        owner = out.rsplit("BROKEN", 1)[0].strip()
        return (host, owner) if owner else None

    found = await asyncio.gather(*(one(h) for h in inventory.services[service].members))
    return [f for f in found if f is not None]


class RunLocks:
    """The locks of one run: taken before step 1, released on every exit path, each change
    an audit event."""

    def __init__(
        self,
        *,
        audit: AuditStore,
        transport: Transport,
        inventory: Inventory,
        run_id: str,
        operator: str,
        emit: Callable[[ev.Event], None],
        lease_ttl: float = DEFAULT_TTL,
    ) -> None:
        self.lease_ttl = lease_ttl
        """Seconds a lease lasts unless renewed (``console.audit.leases``)."""
        self.fences: dict[str, int] = {}
        """Per service locked in the store, the fencing token of this run's lease."""
        self.lost: list[str] = []
        """Services whose lease a renewal found lost."""
        self.audit = audit
        self.transport = transport
        self.inventory = inventory
        self.run_id = run_id
        self.operator = operator
        self.emit = emit
        self.local: list[str] = []
        """Services locked in the audit database."""
        self.remote: dict[str, list[str]] = {}
        """Per service, the hosts holding this run's remote lock."""

    async def take(self, services: Iterable[str], *, break_lock: bool) -> None:
        """Lock every service (``break_lock``: first break a stale holder's locks, audited).

        Raises:
            LockHeld: another run holds a lock; the ones taken so far stay recorded and are
                released by :meth:`release`.
        """
        owner = {
            "run_id": self.run_id,
            "operator": self.operator,
            "pid": str(os.getpid()),
            "hostname": self.audit.hostname,
            "since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        services = [s for s in services if s in self.inventory.services]
        if break_lock:
            await self._break(services)
        for service in services:
            _lock, lease, broken = self.audit.take_lease(
                service, self.run_id, self.operator, self.lease_ttl
            )
            self.local.append(service)
            self.fences[service] = lease.token
            if broken is not None:
                self.emit(
                    ev.LockBroken(
                        service=service,
                        scope=ev.LockScope.LOCAL,
                        holder={
                            **_holder_dict(broken),
                            "why": "its lease had expired (its run stopped renewing it)",
                        },
                    )
                )
            self.emit(
                ev.LockAcquired(
                    service=service,
                    scope=ev.LockScope.LOCAL,
                    token=lease.token,
                    lease_seconds=self.lease_ttl,
                )
            )
        # Every service's remote locks at once (the local leases above are taken one by one):
        # the hosts are mostly the same, so the round trips overlap instead of adding up.
        answers = await asyncio.gather(
            *(
                acquire_remote(
                    self.transport, self.inventory, service, owner, finished=self._finished
                )
                for service in self.local
            ),
            return_exceptions=True,
        )
        held: LockHeld | None = None
        failure: BaseException | None = None
        for service, answer in zip(self.local, answers, strict=True):
            if isinstance(answer, LockHeld):
                held = held or answer  # that call released what it took on other hosts
                continue
            if isinstance(answer, BaseException):
                failure = failure or answer  # raised once every other service's are recorded
                continue
            results = answer
            self.remote[service] = [r.host for r in results if r.taken]
            for r in results:
                if r.cleared is not None:
                    self.emit(
                        ev.LockBroken(
                            service=service,
                            scope=ev.LockScope.REMOTE,
                            host=r.host,
                            holder={
                                **r.cleared,
                                "why": "its run had finished; the host was "
                                "unreachable when it tried to release the lock",
                            },
                        )
                    )
                if r.taken:
                    self.emit(
                        ev.LockAcquired(service=service, scope=ev.LockScope.REMOTE, host=r.host)
                    )
                else:
                    self.emit(
                        ev.Notice(
                            level=ev.NoticeLevel.WARNING,
                            host=r.host,
                            message=f"remote lock on {service} not taken on {r.host}: {r.error}",
                            error=r.error_kind,
                        )
                    )
        if failure is not None:
            raise failure
        if held is not None:
            raise held

    async def _break(self, services: list[str]) -> None:
        """``--break-lock``: break another run's local lease and every service's remote locks
        (all hosts and services at once), each an audit event."""
        for service in services:
            holder = self.audit.lock_holder(service)
            if holder is not None and holder.run_id != self.run_id:
                self.audit.break_lock(service, self.operator)
                self.emit(
                    ev.LockBroken(
                        service=service, scope=ev.LockScope.LOCAL, holder=_holder_dict(holder)
                    )
                )
        found = await asyncio.gather(
            *(break_remote(self.transport, self.inventory, s) for s in services)
        )
        for service, broken in zip(services, found, strict=True):
            for host, former in broken:
                if self.run_id not in former:
                    self.emit(
                        ev.LockBroken(
                            service=service,
                            scope=ev.LockScope.REMOTE,
                            host=host,
                            holder={"owner": former[:300]},
                        )
                    )

    async def keep_alive(self) -> None:
        """Renew the leases every third of their length while the run lives (cancel to
        stop). A lease found lost is said once (an error notice); the run's next intent is
        refused by the store in any case (``console.audit.leases.check``)."""
        while True:
            await asyncio.sleep(self.lease_ttl / 3)
            live = {s: t for s, t in self.fences.items() if s not in self.lost}
            if not live:
                continue
            try:
                lost = self.audit.renew_leases(self.run_id, live, self.lease_ttl)
            except DrError:
                continue  # the store is away: the next intent says what that means
            for service in lost:
                self.lost.append(service)
                self.emit(
                    ev.Notice(
                        level=ev.NoticeLevel.ERROR,
                        message=f"the lease on {service} (token {self.fences[service]}) is "
                        "lost: it expired before this run renewed it; this run may not act",
                    )
                )

    def _finished(self, run_id: str) -> bool:
        """True when this audit log records that ``run_id`` finished (any outcome)."""
        if not run_id or run_id == self.run_id:
            return False
        record = self.audit.get_run(run_id)
        return record is not None and record.outcome is not None

    async def release(self, dark: Collection[str] = ()) -> None:
        """Release every lock this run took (a dark host keeps its remote half: said).

        Every service's remote locks are released at once. A host in ``dark`` (it did not
        answer the sweep after the run) is not asked: waiting for its connect timeout again
        would only delay the run's end; its remote lock stays, with the same warning.
        """
        services = list(self.remote.items())
        released = await asyncio.gather(
            *(
                release_remote(
                    self.transport,
                    self.inventory,
                    service,
                    self.run_id,
                    [h for h in hosts if h not in dark],
                )
                for service, hosts in services
            )
        )
        for (service, hosts), answered in zip(services, released, strict=True):
            for h in hosts:
                if h in answered:
                    self.emit(ev.LockReleased(service=service, scope=ev.LockScope.REMOTE, host=h))
                else:
                    why = "dark in the sweep after the run" if h in dark else "no answer"
                    self.emit(
                        ev.Notice(
                            level=ev.NoticeLevel.WARNING,
                            host=h,
                            message=(
                                f"the remote lock on {service} stays on {h} ({why}): "
                                "the next run there needs --break-lock"
                            ),
                        )
                    )
        self.remote.clear()
        for service in self.local:
            try:
                if service in self.fences:
                    self.audit.release_lease(service, self.run_id, self.fences[service])
                self.audit.release_lock(service, self.run_id)
            except AuditStoreLost:
                break  # the store is gone: its lock rows stay until it is back (stale then)
            self.emit(ev.LockReleased(service=service, scope=ev.LockScope.LOCAL))
        self.local.clear()


def _holder_dict(holder: Any) -> dict[str, Any]:
    return {
        k: getattr(holder, k)
        for k in ("run_id", "operator", "pid", "hostname", "since")
        if hasattr(holder, k)
    }
