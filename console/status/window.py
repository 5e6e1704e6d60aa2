"""The recoverable window per service, collected next to replication and shown with it.

For every service whose inventory entry has ``backup:``, ``drconsole status`` asks the
repository host what pgBackRest holds (:mod:`console.probes.window`) while the replication
sweep runs, then the observed primary how its archiver is doing, and reads from the audit log
when a restore of the service was last verified (the newest successful
``restore-verification`` or ``point-in-time-restore`` run; the CLI reads it and hands it in
as a :data:`VerifiedSource`, this layer never opens the log). Rendering never does IO: the
table and the JSON are built from the collected values.
"""

from __future__ import annotations

import asyncio
import dataclasses
import shlex
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from rich import box
from rich.console import Group
from rich.table import Table
from rich.text import Text

from console.errors import DrError
from console.model.inventory import Inventory, Service
from console.probes.mysql import client_args, client_prefix, mysql_env
from console.probes.postgres import PostgresProbe
from console.probes.redis import cli_args as redis_cli_args
from console.probes.redis import info_fields
from console.probes.riders import Answer
from console.probes.window import (
    AOF_INFO,
    ARCHIVER_SQL,
    MARIA_BINLOGS_SQL,
    AofSeen,
    RecoveryWindow,
    WindowHealth,
    aof_command,
    aof_files_command,
    aof_key,
    aof_rescanned,
    aof_seen,
    maria_repo_command,
    parse,
    parse_aof,
    parse_archiver,
    parse_binlogs,
    parse_maria,
    repo_command,
)
from console.ssh.transport import Transport
from console.status.collector import StatusCollector, StatusSnapshot
from console.status.view import fmt_age
from console.targets import probe_target, ssh_target

_STYLE = {"ok": "green", "warn": "yellow", "crit": "red", "unknown": "magenta"}


@dataclass(frozen=True)
class Verified:
    """The newest successful restore verification of a service."""

    run_id: str
    """Its run."""
    playbook: str
    """Its playbook's name."""
    kind: str
    """``restore-verification`` or ``point-in-time-restore``."""
    finished_at: float
    """When it finished (epoch)."""


VerifiedSource = Callable[[Iterable[str], str], Mapping[str, Verified]]
"""(services, inventory name) -> the newest verified restore per service."""


WINDOW_TOOLS = ("pgbackrest", "mariadb-backup", "redis-aof")
"""The backup tools whose recoverable window the sweep reads."""

AOF_REREAD_SECONDS = 60.0
"""How long what a Redis primary's AOF was found to hold is trusted while the primary's
``INFO`` says the AOF did not change: after that its settings (``CONFIG GET``) and both
annotations are read again (a ``CONFIG SET dir`` or ``aof-timestamp-enabled``, or files
touched behind Redis' back, show within this)."""


def backed_up(inventory: Inventory) -> list[Service]:
    """The services backed up by a tool whose window this sweep can read."""
    return [
        s
        for s in inventory.services.values()
        if s.backup is not None and s.backup.tool in WINDOW_TOOLS
    ]


async def _repo(
    inventory: Inventory, transport: Transport, service: Service, timeout: float
) -> tuple[int | None, str, str]:
    backup = service.backup
    assert backup is not None
    if backup.tool == "redis-aof":
        return 0, "", ""  # the AOF lives on the primary: its members are asked instead
    host = inventory.hosts[backup.repo_host]
    try:
        result = await transport.run(
            ssh_target(inventory, host),
            repo_command(backup, timeout)
            if backup.tool == "pgbackrest"
            else maria_repo_command(backup),
            timeout=timeout + 2,
            max_lines=200_000,
        )
    except (DrError, OSError) as exc:
        return None, "", str(exc) or type(exc).__name__
    if result.timed_out:
        return None, "", f"no answer within {timeout:g}s"
    return result.exit_status, "\n".join(result.stdout), "\n".join(result.stderr)


def _archiver_command(
    inventory: Inventory, service: Service, host_name: str, timeout: float, info: bool = False
) -> str:
    """What the window asks a service's primary: its archiver, binlogs or AOF (with
    ``info``, a Redis primary's :data:`AOF_INFO` only)."""
    member = service.members[host_name]
    target = probe_target(inventory, service, member)
    if service.kind == "redis":
        cli = redis_cli_args(target)
        return f"{cli} {AOF_INFO}" if info else aof_command(cli)
    if service.kind == "mysql":
        return (
            client_prefix(target)
            + mysql_env(target)
            + client_args(target, timeout)
            + " -N -B -e "
            + shlex.quote(MARIA_BINLOGS_SQL)
        )
    psql = PostgresProbe.psql_args(target, ARCHIVER_SQL)
    return f"PGCONNECT_TIMEOUT={max(1, round(timeout))} {psql}"


def _archiver_answer(
    service: Service, exit_status: int | None, out: str, info: bool = False
) -> dict[str, Any]:
    """The primary's answer, parsed (empty when there was none); a Redis primary's says
    whether it is :data:`AOF_INFO`'s (``info``) or :func:`aof_command`'s."""
    if exit_status is None:
        return {}
    if service.kind == "redis":
        return {"exit": exit_status, "out": out, "info": info}
    if service.kind == "mysql":
        binlogs = parse_binlogs(exit_status, out)
        return {"binlogs": binlogs} if binlogs is not None else {}
    return parse_archiver(exit_status, out)


async def _archiver(
    inventory: Inventory,
    transport: Transport,
    service: Service,
    host_name: str | None,
    timeout: float,
) -> dict[str, Any]:
    if host_name is None or host_name not in service.members:
        return {}
    try:
        result = await transport.run(
            ssh_target(inventory, inventory.hosts[host_name]),
            _archiver_command(inventory, service, host_name, timeout),
            timeout=timeout + 2,
            max_lines=5000,
        )
    except (DrError, OSError):
        return {}
    if result.timed_out:
        return {}
    return _archiver_answer(service, result.exit_status, "\n".join(result.stdout))


@dataclass(frozen=True)
class Started:
    """The questions in flight: per service its repository, per member its archiver (its own
    exec, or riding on that member's probe in the sweep)."""

    repos: dict[str, asyncio.Task[tuple[int | None, str, str]]]
    archivers: dict[tuple[str, str], asyncio.Task[dict[str, Any]]]
    riding: dict[tuple[str, str], asyncio.Future[Answer]] = field(default_factory=dict)
    """The archiver questions sent with the sweep's probes (:meth:`StatusCollector.ride`)."""
    sweep: StatusCollector | None = None
    """The collector they ride with."""
    info: frozenset[tuple[str, str]] = frozenset()
    """The riders that ask a Redis primary :data:`AOF_INFO` only (its AOF was read before)."""


class WindowCollector:
    """Collects the recoverable window of every backed-up service of an inventory.

    Args:
        inventory: The estate.
        transport: The shared SSH pool.
        timeout: Seconds each command may take (default each service's probe timeout).
    """

    def __init__(
        self, inventory: Inventory, transport: Transport, timeout: float | None = None
    ) -> None:
        self.inventory = inventory
        self.transport = transport
        self.timeout = timeout
        self._primary: dict[str, str | None] = {}
        """The primary each service was last observed with (asked first next time)."""
        self._aof: dict[tuple[str, str], AofSeen] = {}
        """Per Redis primary, what its AOF was last found to hold."""

    def _deadline(self, service: Service) -> float:
        return self.timeout if self.timeout is not None else service.probe.timeout

    def _ask(self, service: Service, host: str | None) -> asyncio.Task[dict[str, Any]]:
        return asyncio.ensure_future(
            _archiver(self.inventory, self.transport, service, host, self._deadline(service))
        )

    def start(self, sweep: StatusCollector | None = None) -> Started:
        """Start asking every repository, and the archiver of each service's primary as last
        observed (the inventory's expected primary the first time), now: it all overlaps the
        replication sweep. Only one member per service is asked, so the window adds as few
        commands as possible to the sweep; :meth:`finish` asks the observed primary too when
        the sweep found another one (after a failover).

        Args:
            sweep: The collector whose next sweep is about to run: each archiver question
                then rides in the same exec as that member's probe (one round trip to the
                host instead of two; :mod:`console.status.riders`). Without it each is an
                exec of its own.
        """
        repos = {
            s.name: asyncio.ensure_future(
                _repo(self.inventory, self.transport, s, self._deadline(s))
            )
            for s in backed_up(self.inventory)
        }
        archivers = {}
        riding: dict[tuple[str, str], asyncio.Future[Answer]] = {}
        info: set[tuple[str, str]] = set()
        now = time.time()
        for s in backed_up(self.inventory):
            host = self._primary.get(s.name, s.expected_primary)
            if host is None or host not in s.members:
                continue
            if sweep is not None:
                seen = self._aof.get((s.name, host)) if s.kind == "redis" else None
                if seen is not None and now - seen.read_at < AOF_REREAD_SECONDS:
                    # the AOF was read: its primary's INFO says whether it changed since
                    info.add((s.name, host))
                command = _archiver_command(
                    self.inventory, s, host, self._deadline(s), (s.name, host) in info
                )
                sql = {"postgres": ARCHIVER_SQL, "mysql": MARIA_BINLOGS_SQL}.get(s.kind)
                if (s.name, host) in info:
                    sql = AOF_INFO
                riding[(s.name, host)] = sweep.ride(s.name, host, command, sql)
            else:
                archivers[(s.name, host)] = self._ask(s, host)
        return Started(repos, archivers, riding, sweep, frozenset(info))

    async def _answer(self, started: Started, service: Service, host: str) -> dict[str, Any]:
        """A rider's answer, or (no probe took it, or it got no answer) an exec of its own."""
        ride = started.riding[(service.name, host)]
        if not ride.done():
            assert started.sweep is not None
            started.sweep.unride(service.name, host, ride)
            return await self._ask(service, host)
        status, out = ride.result()
        if status is None:
            return await self._ask(service, host)
        return _archiver_answer(service, status, out, (service.name, host) in started.info)

    async def _aof_output(
        self, service: Service, host: str | None, answer: dict[str, Any]
    ) -> tuple[int | None, str]:
        """A Redis primary's AOF as :func:`aof_command` prints it (exit status, stdout).

        After :func:`aof_command` has read it once, the primary is asked only
        :data:`AOF_INFO` (in its probe's redis-cli call); when that says the AOF changed
        (:func:`aof_key`), the annotations are read again by :func:`aof_files_command` (the
        bytes appended since, unless there was a rewrite), else what was found stands.
        """
        if not answer or host is None:
            return None, ""
        key = (service.name, host)
        if not answer.get("info"):
            found = aof_seen(answer["out"], time.time()) if answer["exit"] == 0 else None
            before = self._aof.get(key)
            if found is not None and before is not None and before.aofdir == found.aofdir:
                # the same AOF: where the last scan stopped still holds (a rewrite since
                # changes the key, and the rescan then reads every increment)
                found = dataclasses.replace(
                    found, incr=before.incr, offset=before.offset, key=before.key
                )
            if found is None:
                self._aof.pop(key, None)
            else:
                self._aof[key] = found
            return answer["exit"], answer["out"]
        seen = self._aof.get(key)
        fields = info_fields(answer["out"]) if answer["exit"] == 0 else {}
        if seen is None or "aof_enabled" not in fields:
            return await self._aof_output(service, host, await self._ask(service, host))
        if fields["aof_enabled"] != "1":
            return 0, seen.output("no")
        changed = aof_key(fields)
        if changed is None or changed != seen.key:
            rescanned = await self._rescan(service, host, seen, changed)
            if rescanned is None:
                return await self._aof_output(service, host, await self._ask(service, host))
            self._aof[key] = seen = rescanned
        return 0, seen.output()

    async def _rescan(
        self, service: Service, host: str, seen: AofSeen, changed: tuple[str, ...] | None
    ) -> AofSeen | None:
        """Read the AOF's annotations again (:func:`aof_files_command`), None on no answer."""
        timeout = self._deadline(service)
        try:
            result = await self.transport.run(
                ssh_target(self.inventory, self.inventory.hosts[host]),
                aof_files_command(seen.aofdir, seen.incr, seen.offset),
                timeout=timeout + 2,
                max_lines=100,
            )
        except (DrError, OSError):
            return None
        if result.timed_out or result.exit_status != 0:
            return None
        return aof_rescanned(seen, "\n".join(result.stdout), changed)

    async def finish(
        self, started: Started, snapshot: StatusSnapshot | None
    ) -> dict[str, RecoveryWindow]:
        """Judge every window with the observed primary's archiver."""

        async def one(name: str) -> RecoveryWindow:
            service = self.inventory.services[name]
            assert service.backup is not None
            primary = snapshot.primary(name) if snapshot is not None else None
            host = primary.host if primary is not None else service.expected_primary
            status, out, err = await started.repos[name]
            answers = {h: await task for (svc, h), task in started.archivers.items() if svc == name}
            for svc, h in started.riding:
                if svc == name:
                    answers[h] = await self._answer(started, service, h)
            if host is not None and host not in answers:
                answers[host] = await self._ask(service, host)
            self._primary[name] = host
            archiver = answers.get(host or "", {})
            if service.backup.tool == "redis-aof":
                code, aof = await self._aof_output(service, host, archiver)
                return parse_aof(service.backup, name, code, aof, time.time())
            if service.backup.tool == "mariadb-backup":
                binlogs = archiver.get("binlogs")
                return parse_maria(service.backup, name, status, out, err, time.time(), binlogs)
            return parse(service.backup, name, status, out, err, time.time(), archiver)

        names = list(started.repos)
        found = await asyncio.gather(*(one(n) for n in names))
        return dict(zip(names, found, strict=True))

    async def collect(self, snapshot: StatusSnapshot | None = None) -> dict[str, RecoveryWindow]:
        """Both halves at once (no replication sweep to overlap)."""
        return await self.finish(self.start(), snapshot)


def _when(epoch: float | None) -> str:
    if epoch is None:
        return "?"
    return time.strftime("%m-%d %H:%M:%S", time.gmtime(epoch))


def _ago(epoch: float | None, now: float) -> str:
    return "?" if epoch is None else fmt_age(max(0.0, now - epoch))


def window_table(
    windows: Mapping[str, RecoveryWindow], verified: Mapping[str, Verified], now: float
) -> Group:
    """The "Recoverable window" table, one row per backed-up service, then each reason on a
    line of its own (never squeezed into a column)."""
    # drawn like the member tables above it: a bold heading, no blank edge lines
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False, padding=(0, 1))
    for col in ("service", "health", "oldest (UTC)", "newest (UTC)", "archived", "verified"):
        table.add_column(col, no_wrap=True)
    reasons: list[Text] = []
    for name, w in windows.items():
        v = verified.get(name)
        health = w.health.value
        table.add_row(
            name,
            Text(health.upper(), style=_STYLE.get(health, "")),
            _when(w.oldest),
            _when(w.newest),
            _ago(w.newest, now),
            _ago(v.finished_at, now) if v is not None else "never",
        )
        if w.reason:
            reasons.append(
                Text(f"  {name} {health.upper()}: {w.reason}", style=_STYLE.get(health, ""))
            )
    return Group(Text("recoverable window", style="bold underline"), table, *reasons)


def windows_json(
    windows: Mapping[str, RecoveryWindow], verified: Mapping[str, Verified], now: float
) -> list[dict[str, Any]]:
    """The ``windows`` list of ``status --json``."""
    out = []
    for name, w in windows.items():
        row = w.to_json(now)
        v = verified.get(name)
        row["last_verified"] = (
            {
                "run_id": v.run_id,
                "playbook": v.playbook,
                "kind": v.kind,
                "finished_at": v.finished_at,
                "age_seconds": round(max(0.0, now - v.finished_at), 1),
            }
            if v is not None
            else None
        )
        out.append(row)
    return out


def windows_ok(windows: Mapping[str, RecoveryWindow]) -> tuple[bool, str]:
    """Whether no window is WARN/CRIT, and a sentence naming those that are.

    An UNKNOWN window (the repository host did not answer) is shown but does not by itself
    degrade the verdict: the replication rows already say when a site is dark.
    """
    bad = [w for w in windows.values() if w.health in (WindowHealth.WARN, WindowHealth.CRIT)]
    if not bad:
        return True, ""
    return False, "; ".join(
        f"{w.service} recovery window {w.health.value}: {w.reason}" for w in bad
    )
