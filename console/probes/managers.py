"""The HA manager's view of a service, next to the databases' own, and where they disagree.

A service with ``managed_by`` is run by Patroni or watched by Sentinel. The manager's belief
(Patroni's leader key, the master each Sentinel names) and the databases' truth (who is in
recovery, who answers ``role`` master) usually agree; when they do not, that is exactly what
an operator must see before touching anything: a Patroni leader whose PostgreSQL is still in
recovery, a writable PostgreSQL Patroni does not call leader, two Sentinels naming different
masters, a quorum that cannot be reached, a cluster left paused after maintenance. Each such
case is a finding, WARN or CRIT, with its reason in one sentence.

The managers are asked from the console itself, concurrently and each with a deadline:
Patroni over its REST API (``GET /cluster`` on every ``api`` URL at once), each Sentinel over
the Redis protocol (``SENTINEL GET-MASTER-ADDR-BY-NAME``, ``SENTINEL MASTER``, ``SENTINEL
CKQUORUM``). A dark site's API or Sentinel delays nothing but its own answer. Parsing and
judging are pure functions, tested without a server.
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from console.model.managed import ManagedBy
from console.probes.sample import Health, ReplicationSample, Role


@dataclass(frozen=True)
class Finding:
    """One thing wrong in the manager's view, or between it and the databases."""

    health: Health
    """WARN or CRIT."""
    reason: str
    """One sentence."""


@dataclass(frozen=True)
class ManagedMember:
    """One member as the manager describes it."""

    name: str
    """Patroni's member name, or ``ip:port`` for Redis."""
    address: str
    """Where its database listens (as the manager says)."""
    port: int | None
    """Its database port."""
    role: str
    """``leader``/``replica`` (Patroni, ``standby_leader`` too) or ``master``/``replica``."""
    state: str | None = None
    """Patroni's state (``running``, ``streaming``, ``stopped`` ...) or Sentinel's flags."""
    lag_bytes: int | None = None
    """Patroni's lag in bytes behind the leader (None: unknown)."""
    timeline: int | None = None
    """The member's timeline (Patroni)."""
    nofailover: bool = False
    """Tagged never to be promoted automatically (Patroni)."""


_MANAGER_NAMES = {"patroni": "Patroni", "sentinel": "Sentinel", "redis-cluster": "Redis Cluster"}


@dataclass(frozen=True)
class ManagerView:
    """What the manager of one service says now, judged against the databases."""

    service: str
    """The inventory service."""
    kind: str
    """``patroni`` or ``sentinel``."""
    leader: str | None
    """Patroni's leader member name, or the master Sentinel names (``ip:port``)."""
    members: tuple[ManagedMember, ...]
    """Every member the manager lists."""
    paused: bool | None = None
    """Patroni's maintenance mode (None: unknown or not Patroni)."""
    scheduled_switchover: str | None = None
    """A pending scheduled switchover, as Patroni describes it."""
    answered: tuple[str, ...] = ()
    """The APIs or Sentinels that answered."""
    silent: tuple[tuple[str, str], ...] = ()
    """``(API or Sentinel, why)`` for each that did not."""
    findings: tuple[Finding, ...] = ()
    """What is wrong (empty: the manager and the databases agree)."""
    taken_at: float = 0.0
    """When it was asked (Unix time)."""
    details: Mapping[str, Any] = field(default_factory=dict)
    """Raw extras (quorum, Sentinels' masters, ...) for ``--json``."""

    @property
    def health(self) -> Health:
        """The worst finding's health (OK without findings)."""
        if any(f.health is Health.CRIT for f in self.findings):
            return Health.CRIT
        if self.findings:
            return Health.WARN
        return Health.OK

    @property
    def manager(self) -> str:
        """How a person names the manager."""
        return _MANAGER_NAMES.get(self.kind, self.kind)

    @property
    def summary(self) -> str:
        """One line: leader and members as the manager sees them."""
        if "summary" in self.details:  # a Redis Cluster's view brings its own
            return str(self.details["summary"])
        if self.kind == "patroni":
            if not self.answered:
                return "no Patroni REST API answered"
            parts = []
            for m in self.members:
                text = f"{m.name} {m.role}"
                if m.state:
                    text += f" {m.state}"
                if m.timeline is not None:
                    text += f" tl {m.timeline}"
                if m.role != "leader" and m.lag_bytes is not None:
                    text += f" lag {m.lag_bytes} B"
                if m.nofailover:
                    text += " (nofailover)"
                parts.append(text)
            head = f"leader {self.leader or 'NONE'}"
            if self.paused:
                head += ", PAUSED"
            return head + "; " + ", ".join(parts)
        if not self.answered:
            return "no Sentinel answered"
        quorum = self.details.get("quorum")
        return (
            f"master {self.leader or 'NONE'} per {len(self.answered)} of "
            f"{len(self.answered) + len(self.silent)} Sentinels"
            + (f" (quorum {quorum})" if quorum else "")
            + (
                "; replicas " + ", ".join(f"{m.name} {m.state}" for m in self.members)
                if self.members
                else ""
            )
        )


# ---------------------------------------------------------------------------- database side


def _db_at(
    samples: Sequence[ReplicationSample], address: str, port: int | None, where: Mapping[str, str]
) -> ReplicationSample | None:
    """The sample of the member whose database listens at ``address:port``."""
    for s in samples:
        if where.get(s.host) == f"{address}:{port}":
            return s
    return None


# ------------------------------------------------------------------------------- Patroni


def parse_cluster(data: Mapping[str, Any]) -> tuple[list[ManagedMember], bool, str | None]:
    """Patroni's ``GET /cluster`` reply: its members, whether paused, any scheduled switchover."""
    members: list[ManagedMember] = []
    for m in data.get("members", []):
        if not isinstance(m, dict):
            continue
        lag = m.get("lag")
        raw_tags = m.get("tags")
        tags: dict[str, Any] = raw_tags if isinstance(raw_tags, dict) else {}
        members.append(
            ManagedMember(
                name=str(m.get("name", "?")),
                address=str(m.get("host", "")),
                port=int(m["port"]) if isinstance(m.get("port"), int) else None,
                role="leader" if m.get("role") == "master" else str(m.get("role", "?")),
                state=str(m["state"]) if m.get("state") is not None else None,
                lag_bytes=lag if isinstance(lag, int) else None,
                timeline=m.get("timeline") if isinstance(m.get("timeline"), int) else None,
                nofailover=bool(tags.get("nofailover")),
            )
        )
    scheduled = data.get("scheduled_switchover")
    pending = None
    if isinstance(scheduled, dict):
        pending = f"at {scheduled.get('at', '?')} from {scheduled.get('from', '?')}" + (
            f" to {scheduled['to']}" if scheduled.get("to") else ""
        )
    return members, bool(data.get("pause")), pending


def judge_patroni(
    service: str,
    replies: Mapping[str, Mapping[str, Any] | str],
    samples: Sequence[ReplicationSample],
    where: Mapping[str, str],
    now: float,
) -> ManagerView:
    """Judge Patroni's ``/cluster`` replies against the databases' samples.

    Args:
        service: The service name.
        replies: Per API URL, its ``/cluster`` JSON, or why it did not answer (a string).
        samples: The service's members' latest samples.
        where: Inventory host -> ``address:port`` of its database.
        now: When the replies came.
    """
    answered = [(api, r) for api, r in replies.items() if not isinstance(r, str)]
    silent = tuple((api, r) for api, r in replies.items() if isinstance(r, str))
    findings: list[Finding] = []
    if not answered:
        tried = "; ".join(f"{api}: {why}" for api, why in silent)
        return ManagerView(
            service,
            "patroni",
            None,
            (),
            silent=silent,
            findings=(Finding(Health.CRIT, f"no Patroni REST API answered ({tried})"),),
            taken_at=now,
        )
    views = {api: parse_cluster(r) for api, r in answered}
    leaders = {
        api: next((m.name for m in v[0] if m.role in ("leader", "standby_leader")), None)
        for api, v in views.items()
    }
    counted = Counter(leaders.values())
    leader = counted.most_common(1)[0][0]
    first_api = next(api for api, name in leaders.items() if name == leader)
    members, paused, pending = views[first_api]
    if len(counted) > 1:
        said = "; ".join(f"{api} says {name or 'none'}" for api, name in leaders.items())
        findings.append(Finding(Health.CRIT, f"Patroni's APIs disagree on the leader: {said}"))
    for api, why in silent:
        findings.append(Finding(Health.WARN, f"Patroni API {api} does not answer: {why}"))
    if leader is None:
        findings.append(Finding(Health.CRIT, "Patroni has no leader: no member may take writes"))
    if paused:
        findings.append(
            Finding(
                Health.WARN,
                "the cluster is paused (maintenance mode): Patroni will not fail over; "
                'resume it with `patronictl resume` or PATCH /config {"pause": false}',
            )
        )
    if pending:
        findings.append(Finding(Health.WARN, f"a scheduled switchover is pending ({pending})"))
    lead = next((m for m in members if m.name == leader), None)
    if lead is not None:
        db = _db_at(samples, lead.address, lead.port, where)
        if db is not None and db.role is Role.REPLICA:
            findings.append(
                Finding(
                    Health.CRIT,
                    f"Patroni says leader {lead.name}, but its database ({db.host}) is in recovery",
                )
            )
        elif db is not None and db.role in (Role.DOWN, Role.UNKNOWN):
            findings.append(
                Finding(
                    Health.CRIT,
                    f"Patroni says leader {lead.name}, but its database ({db.host}) does not "
                    f"answer: {db.error or db.role.value}",
                )
            )
    known = {f"{m.address}:{m.port}" for m in members}
    for s in samples:
        if s.role is Role.PRIMARY and (
            lead is None or where.get(s.host) != f"{lead.address}:{lead.port}"
        ):
            findings.append(
                Finding(
                    Health.CRIT,
                    f"the database on {s.host} is a writable primary, but Patroni's leader is "
                    f"{leader or 'nobody'}",
                )
            )
        if where.get(s.host) not in known:
            findings.append(
                Finding(Health.WARN, f"{s.host} ({where.get(s.host)}) is not a Patroni member")
            )
    for m in members:
        if m.name == leader:
            if m.state not in (None, "running"):
                findings.append(Finding(Health.WARN, f"leader {m.name} is {m.state!r}"))
            continue
        if m.state not in ("streaming", "running"):
            findings.append(Finding(Health.WARN, f"member {m.name} is {m.state!r}"))
        if (
            lead is not None
            and None not in (m.timeline, lead.timeline)
            and (m.timeline != lead.timeline)
        ):
            findings.append(
                Finding(
                    Health.WARN,
                    f"member {m.name} is on timeline {m.timeline}, the leader on {lead.timeline}",
                )
            )
    return ManagerView(
        service,
        "patroni",
        leader,
        tuple(members),
        paused=paused,
        scheduled_switchover=pending,
        answered=tuple(api for api, _ in answered),
        silent=silent,
        findings=tuple(findings),
        taken_at=now,
    )


# ------------------------------------------------------------------------------ Sentinel


@dataclass(frozen=True)
class SentinelAnswer:
    """What one Sentinel said about the master."""

    master: str | None
    """``ip:port`` it names (None: it knows no such master)."""
    flags: str
    """The master's flags as this Sentinel sees them (``master``, ``master,s_down`` ...)."""
    quorum: int | None
    """The configured quorum."""
    ckquorum: str
    """``OK ...`` or the ``NOQUORUM``/error text of ``SENTINEL CKQUORUM``."""
    replicas: tuple[tuple[str, str], ...] = ()
    """``(ip:port, flags)`` of each replica it knows."""


def _pairs(flat: Sequence[Any]) -> dict[str, str]:
    return {str(flat[i]): str(flat[i + 1]) for i in range(0, len(flat) - 1, 2)}


def judge_sentinel(
    service: str,
    answers: Mapping[str, SentinelAnswer | str],
    samples: Sequence[ReplicationSample],
    where: Mapping[str, str],
    now: float,
) -> ManagerView:
    """Judge the Sentinels' answers against the Redis servers' samples.

    Args:
        service: The service name.
        answers: Per Sentinel (``host:port``), its answer or why it did not answer.
        samples: The service's members' latest samples.
        where: Inventory host -> ``address:port`` of its Redis.
        now: When the answers came.
    """
    ok = {s: a for s, a in answers.items() if isinstance(a, SentinelAnswer)}
    silent = tuple((s, a) for s, a in answers.items() if isinstance(a, str))
    findings: list[Finding] = []
    total = len(answers)
    if not ok:
        tried = "; ".join(f"{s}: {why}" for s, why in silent)
        return ManagerView(
            service,
            "sentinel",
            None,
            (),
            silent=silent,
            findings=(Finding(Health.CRIT, f"no Sentinel answered ({tried})"),),
            taken_at=now,
        )
    quorum = next((a.quorum for a in ok.values() if a.quorum), None)
    for s, why in silent:
        findings.append(
            Finding(Health.WARN, f"Sentinel {s} does not answer ({len(ok)} of {total}): {why}")
        )
    if quorum is not None and len(ok) < quorum:
        findings.append(
            Finding(
                Health.CRIT,
                f"only {len(ok)} of {total} Sentinels answer, fewer than the quorum {quorum}: "
                "no failover can be authorised",
            )
        )
    masters = Counter(a.master for a in ok.values())
    leader = masters.most_common(1)[0][0]
    if len(masters) > 1:
        said = "; ".join(f"{s} names {a.master or 'none'}" for s, a in ok.items())
        findings.append(Finding(Health.CRIT, f"the Sentinels name different masters: {said}"))
    for s, a in ok.items():
        if not a.ckquorum.startswith("OK"):
            findings.append(Finding(Health.CRIT, f"Sentinel {s}: CKQUORUM says {a.ckquorum}"))
        down = [f for f in ("o_down", "s_down") if f in a.flags.split(",")]
        if down and a.master == leader:
            findings.append(
                Finding(Health.CRIT, f"Sentinel {s} flags master {leader} {'+'.join(down)}")
            )
    if leader is not None:
        host, _, port = leader.rpartition(":")
        db = _db_at(samples, host, int(port) if port.isdigit() else None, where)
        if db is None:
            findings.append(
                Finding(Health.WARN, f"the master Sentinel names, {leader}, is no inventory member")
            )
        elif db.role is Role.REPLICA:
            findings.append(
                Finding(
                    Health.CRIT,
                    f"Sentinel names master {leader} ({db.host}), but that Redis reports role "
                    "replica",
                )
            )
        elif db.role in (Role.DOWN, Role.UNKNOWN):
            findings.append(
                Finding(
                    Health.CRIT,
                    f"Sentinel names master {leader} ({db.host}), which does not answer: "
                    f"{db.error or db.role.value}",
                )
            )
        elif db.role is Role.PRIMARY:
            findings.extend(_write_guard(leader, db))
    for smp in samples:
        if smp.role is Role.PRIMARY and where.get(smp.host) != leader:
            findings.append(
                Finding(
                    Health.CRIT,
                    f"the Redis on {smp.host} is a writable master, but Sentinel names "
                    f"{leader or 'none'}",
                )
            )
    first = next(a for a in ok.values() if a.master == leader)
    members = tuple(
        ManagedMember(name, name.rpartition(":")[0], None, "replica", flags)
        for name, flags in first.replicas
    )
    return ManagerView(
        service,
        "sentinel",
        leader,
        members,
        answered=tuple(ok),
        silent=silent,
        findings=tuple(findings),
        taken_at=now,
        details={"quorum": quorum, "masters": {s: a.master for s, a in ok.items()}},
    )


def _write_guard(leader: str, db: ReplicationSample) -> list[Finding]:
    """``min-replicas-to-write`` of the master Sentinel names, from its INFO replication
    (``min_slaves_good_slaves`` is there only when the guard is set)."""
    good = db.details.get("min_slaves_good_slaves")
    if good is None:
        return [
            Finding(
                Health.WARN,
                f"master {leader} ({db.host}) has min-replicas-to-write 0: it acknowledges "
                "writes no replica has, which a failover loses (also a late write to an old "
                "master back before Sentinel demotes it); set min-replicas-to-write 1 and "
                "min-replicas-max-lag below down-after-milliseconds",
            )
        ]
    if good == "0":
        return [
            Finding(
                Health.CRIT,
                f"master {leader} ({db.host}) refuses writes (NOREPLICAS): no replica "
                "acknowledged within min-replicas-max-lag",
            )
        ]
    return []


# ---------------------------------------------------------------------------- the asking


def _get_cluster(api: str, timeout: float) -> Mapping[str, Any] | str:
    try:
        with urllib.request.urlopen(f"{api}/cluster", timeout=timeout) as resp:  # noqa: S310 - the inventory's checked http(s) URL
            data = json.loads(resp.read().decode())
    except urllib.error.HTTPError as exc:
        return f"HTTP {exc.code}"
    except (OSError, ValueError) as exc:
        return str(getattr(exc, "reason", None) or exc) or type(exc).__name__
    return data if isinstance(data, dict) else "the reply is not a JSON object"


NO_ANSWER = "no answer within"
"""How the answer of a peer that said nothing before its deadline begins (``no answer within
10s``): what :func:`silent_keys` looks for."""

SILENT_TIMEOUT = 2.0
"""Seconds given to an API, Sentinel or cluster node that did not answer the last ask (a dark
site's peer accepts the connection and then says nothing until the deadline): it is asked
again each sweep, so its return is seen, but it no longer holds every sweep (and so every
drill step that refreshes the status) for the whole probe deadline."""


def silent_keys(previous: Mapping[str, object] | None) -> frozenset[str]:
    """The peers of the last ask that gave no answer within its deadline."""
    if not previous:
        return frozenset()
    return frozenset(
        k for k, v in previous.items() if isinstance(v, str) and v.startswith(NO_ANSWER)
    )


def ask_timeout(key: str, timeout: float, silent: Collection[str]) -> float:
    """The deadline of one peer's ask: ``timeout``, shorter for a peer silent last time."""
    return min(timeout, SILENT_TIMEOUT) if key in silent else timeout


async def ask_patroni(
    managed: ManagedBy, timeout: float, silent: Collection[str] = ()
) -> dict[str, Mapping[str, Any] | str]:
    """``GET /cluster`` on every API at once; per API its reply or why it gave none (an API in
    ``silent`` gets :data:`SILENT_TIMEOUT`)."""

    async def one(api: str) -> Mapping[str, Any] | str:
        limit = ask_timeout(api, timeout, silent)
        try:
            return await asyncio.wait_for(asyncio.to_thread(_get_cluster, api, limit), limit + 1)
        except TimeoutError:
            return f"{NO_ANSWER} {limit:g}s"

    replies = await asyncio.gather(*(one(api) for api in managed.api))
    return dict(zip(managed.api, replies, strict=True))


class RespError(Exception):
    """A Redis error reply (``-ERR ...``)."""


async def _read_reply(reader: asyncio.StreamReader) -> Any:
    line = (await reader.readline()).decode(errors="replace").rstrip("\r\n")
    if not line:
        raise ConnectionError("the connection closed")
    head, rest = line[0], line[1:]
    if head == "+":
        return rest
    if head == "-":
        raise RespError(rest)
    if head == ":":
        return int(rest)
    if head == "$":
        size = int(rest)
        if size < 0:
            return None
        data = await reader.readexactly(size + 2)
        return data[:-2].decode(errors="replace")
    if head == "*":
        count = int(rest)
        if count < 0:
            return None
        return [await _read_reply(reader) for _ in range(count)]
    raise ConnectionError(f"not a Redis reply: {line[:40]!r}")


async def resp_commands(
    host: str, port: int, commands: Sequence[Sequence[str]], timeout: float
) -> list[Any]:
    """Send Redis commands on one connection; each reply, or the :class:`RespError` it gave.

    Raises:
        OSError / TimeoutError / ConnectionError: the server could not be asked.
    """

    async def talk() -> list[Any]:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            for cmd in commands:
                parts = [f"*{len(cmd)}\r\n"] + [f"${len(a.encode())}\r\n{a}\r\n" for a in cmd]
                writer.write("".join(parts).encode())
            await writer.drain()
            out: list[Any] = []
            for _ in commands:
                try:
                    out.append(await _read_reply(reader))
                except RespError as exc:
                    out.append(exc)
            return out
        finally:
            writer.close()

    return await asyncio.wait_for(talk(), timeout)


async def ask_sentinels(
    managed: ManagedBy, timeout: float, silent: Collection[str] = ()
) -> dict[str, SentinelAnswer | str]:
    """Ask every Sentinel at once; per ``host:port`` its answer or why it gave none (one in
    ``silent`` gets :data:`SILENT_TIMEOUT`)."""
    name = managed.master or ""

    async def one(host: str, port: int) -> SentinelAnswer | str:
        limit = ask_timeout(f"{host}:{port}", timeout, silent)
        try:
            addr, master, ck, replicas = await resp_commands(
                host,
                port,
                [
                    ["SENTINEL", "GET-MASTER-ADDR-BY-NAME", name],
                    ["SENTINEL", "MASTER", name],
                    ["SENTINEL", "CKQUORUM", name],
                    ["SENTINEL", "REPLICAS", name],
                ],
                limit,
            )
        except TimeoutError:
            return f"{NO_ANSWER} {limit:g}s"
        except (OSError, ConnectionError) as exc:
            return str(exc) or type(exc).__name__
        if isinstance(addr, RespError) or isinstance(master, RespError):
            return f"knows no master {name!r}: {addr if isinstance(addr, RespError) else master}"
        fields = _pairs(master) if isinstance(master, list) else {}
        reps: list[tuple[str, str]] = []
        if isinstance(replicas, list):
            for r in replicas:
                rf = _pairs(r) if isinstance(r, list) else {}
                reps.append((f"{rf.get('ip')}:{rf.get('port')}", rf.get("flags", "?")))
        quorum = fields.get("quorum")
        return SentinelAnswer(
            master=f"{addr[0]}:{addr[1]}" if isinstance(addr, list) and len(addr) == 2 else None,
            flags=fields.get("flags", "?"),
            quorum=int(quorum) if quorum and quorum.isdigit() else None,
            ckquorum=str(ck),
            replicas=tuple(reps),
        )

    replies = await asyncio.gather(*(one(h, p) for h, p in managed.sentinels))
    return {f"{h}:{p}": r for (h, p), r in zip(managed.sentinels, replies, strict=True)}


Answers = Mapping[str, Any]
"""Per API URL or Sentinel, its reply or why it gave none (what :func:`ask_manager` returns)."""


async def ask_manager(
    managed: ManagedBy, timeout: float, silent: Collection[str] = ()
) -> tuple[Answers, float]:
    """Ask the manager (every API or Sentinel at once); the answers and when they came. The
    peers in ``silent`` (:func:`silent_keys` of the last answers) get :data:`SILENT_TIMEOUT`."""
    if managed.kind == "patroni":
        answers: Answers = await ask_patroni(managed, timeout, silent)
    else:
        answers = await ask_sentinels(managed, timeout, silent)
    return answers, time.time()


def judge_manager(
    service: str,
    managed: ManagedBy,
    answers: Answers,
    samples: Sequence[ReplicationSample],
    where: Mapping[str, str],
    now: float,
) -> ManagerView:
    """Judge what :func:`ask_manager` got against the databases' samples."""
    if managed.kind == "patroni":
        return judge_patroni(service, answers, samples, where, now)
    return judge_sentinel(service, answers, samples, where, now)


async def manager_view(
    service: str,
    managed: ManagedBy,
    samples: Sequence[ReplicationSample],
    where: Mapping[str, str],
    timeout: float,
) -> ManagerView:
    """Ask the service's manager and judge its answer against ``samples``."""
    answers, now = await ask_manager(managed, timeout)
    return judge_manager(service, managed, answers, samples, where, now)
