"""The values a replication probe produces: what was observed on one member, at one time.

A sample is the only thing that flows from the SSH pool to the status views, the gates and
the audit log, so it is a frozen value with no behaviour beyond describing itself. Unknown is a
value here, never a default: a lag nobody could measure is ``None``, not ``0``, and a member we
could not see has the role ``DOWN`` or ``UNKNOWN`` together with a sentence saying why.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType

from console.errors import InputError

KINDS = ("postgres", "mysql", "redis", "custom")
"""The database kinds a probe exists for."""

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


class Role(StrEnum):
    """The role a member was observed in (not the one the inventory expects)."""

    PRIMARY = "primary"
    """Accepts writes, or would if it were not fenced read-only."""
    REPLICA = "replica"
    """Configured to follow an upstream."""
    DOWN = "down"
    """The server (or its host) does not answer: connection refused or timed out."""
    UNKNOWN = "unknown"
    """We reached something but could not tell: auth failed, tool missing, bad output."""


class Link(StrEnum):
    """The state of a replica's link to its upstream."""

    UP = "up"
    """Connected and receiving."""
    DOWN = "down"
    """Not connected, stopped, or connecting."""
    UNKNOWN = "unknown"
    """Could not be determined."""
    NONE = "none"
    """Not applicable: a primary has no upstream link."""


class Health(StrEnum):
    """A member's health, judged from its sample and the service's thresholds."""

    OK = "ok"
    WARN = "warn"
    CRIT = "crit"
    DOWN = "down"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class ProbeTarget:
    """Where and how to probe one member of a replicated service.

    Built by the status collector from the inventory; the probe turns it into one shell
    command run on the member's own host.
    """

    service: str
    """The inventory's service (replication group) name."""
    site: str
    """The site the member's host belongs to."""
    host: str
    """The inventory host name."""
    kind: str
    """``postgres``, ``mysql``, ``redis`` or ``custom``."""
    address: str
    """Where the database listens, as seen from its own host."""
    port: int | None
    """The database's TCP port (None only for a ``custom`` member, whose probe is a command)."""
    user: str | None = None
    """The database user the probe logs in as (None: the client's default)."""
    database: str | None = None
    """The database to connect to (postgres; None means ``postgres``)."""
    password_env: str | None = None
    """Name of an environment variable on the remote side holding the password; never the
    secret itself."""
    command: str | None = None
    """The probe command of a ``custom`` service."""
    socket: str | None = None
    """A unix socket directory (postgres) or path (mysql, redis) to use instead of TCP."""
    configured_delay: float = 0.0
    """A deliberate replication delay (MySQL ``MASTER_DELAY``) to subtract from the lag when
    the server does not report ``SQL_Delay`` itself."""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise InputError(
                f"{self.service}/{self.host}: unknown kind {self.kind!r} "
                f"(expected one of {', '.join(KINDS)})"
            )
        if self.password_env is not None and not _ENV_NAME.match(self.password_env):
            raise InputError(
                f"{self.service}/{self.host}: password_env {self.password_env!r} "
                "is not an environment variable name"
            )
        if self.port is None and self.kind != "custom":
            raise InputError(f"{self.service}/{self.host}: a {self.kind} probe needs a port")
        if self.port is not None and not 0 < self.port < 65536:
            raise InputError(f"{self.service}/{self.host}: port {self.port} is out of range")
        if self.kind == "custom" and not self.command:
            raise InputError(f"{self.service}/{self.host}: a custom service needs a command")
        if self.configured_delay < 0:
            raise InputError(f"{self.service}/{self.host}: configured_delay must be >= 0")

    @property
    def endpoint(self) -> str:
        """``address:port``, the way replicas and primaries name each other (the address
        alone for a custom member without a port)."""
        return f"{self.address}:{self.port}" if self.port is not None else self.address


@dataclass(frozen=True, slots=True)
class ReplicaInfo:
    """A replica as its primary sees it (PostgreSQL and Redis know lag; MySQL does not)."""

    name: str
    """application_name (postgres), ``ip:port`` (redis), thread host (mysql)."""
    address: str | None
    """The replica's address as the primary sees it."""
    state: str | None
    """Kind-specific state: ``streaming``, ``online``, ``Binlog Dump GTID`` ..."""
    lag_seconds: float | None
    """Seconds behind, None when unknown."""
    lag_bytes: int | None
    """Bytes (or offset units) behind, None when unknown."""
    position: str | None
    """The replica's replayed position (LSN, offset) as the primary knows it."""
    ack_age: float | None = None
    """Seconds since the replica last acknowledged anything, as the primary sees it
    (PostgreSQL ``reply_time``, Redis ``lag``); None when the kind does not say."""
    sync_state: str | None = None
    """PostgreSQL's ``pg_stat_replication.sync_state``: ``sync``, ``async``, ``potential`` or
    ``quorum``; None for the other kinds."""


def _frozen_details(details: Mapping[str, str]) -> Mapping[str, str]:
    return MappingProxyType(dict(details))


@dataclass(frozen=True, slots=True)
class ReplicationSample:
    """What one probe observed on one member."""

    service: str
    """The service (replication group) the member belongs to."""
    site: str
    """The member's site."""
    host: str
    """The member's inventory host name."""
    kind: str
    """``postgres``, ``mysql``, ``redis`` or ``custom``."""
    role: Role
    """The observed role: the truth the console acts on."""
    upstream: str | None
    """The replica's upstream as it names it (``host:port``), None for a primary."""
    link: Link
    """The link to the upstream; ``NONE`` for a primary."""
    lag_seconds: float | None
    """Seconds behind the upstream; None means unknown, never zero."""
    lag_bytes: int | None
    """Bytes (or offset units) behind; None means unknown, never zero."""
    position: str | None
    """LSN (postgres), GTID set (mysql) or replication offset (redis)."""
    read_only: bool | None
    """Whether the member refuses ordinary writes; None when unknown."""
    replicas: tuple[ReplicaInfo, ...]
    """The replicas a primary reports."""
    error: str | None
    """A sentence for a person, or None."""
    sampled_at: float
    """``time.time()`` when the probe finished."""
    details: Mapping[str, str] = field(default_factory=dict, hash=False)
    """Kind-specific extras: timeline, io_running, gtid_io_pos, wal_receiver_status, idle ...
    Always ``endpoint`` (the target's ``address:port``); ``reason`` when unreachable."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "details", _frozen_details(self.details))

    def age(self, now: float) -> float:
        """Seconds since the sample was taken (never negative)."""
        return max(0.0, now - self.sampled_at)


def blank_sample(
    target: ProbeTarget,
    role: Role,
    error: str | None,
    sampled_at: float,
    details: Mapping[str, str] | None = None,
) -> ReplicationSample:
    """A sample that knows nothing but the role and the reason.

    Args:
        target: The member probed.
        role: Usually ``DOWN`` or ``UNKNOWN``.
        error: Why nothing more is known.
        sampled_at: When the attempt finished.
        details: Extras to keep.

    Returns:
        A sample with every measurement unknown.
    """
    return ReplicationSample(
        service=target.service,
        site=target.site,
        host=target.host,
        kind=target.kind,
        role=role,
        upstream=None,
        link=Link.UNKNOWN,
        lag_seconds=None,
        lag_bytes=None,
        position=None,
        read_only=None,
        replicas=(),
        error=error,
        sampled_at=sampled_at,
        details={**(details or {}), "endpoint": target.endpoint},
    )


_UNKNOWN_NOT_DOWN = (
    "host key",
    "permission denied",
    "authentication",
    "auth failed",
    "publickey",
    "no matching",
    "not installed",
    "command not found",
)


HOST_DID_NOT_ANSWER = "the host did not answer"
"""``details["reason"]`` of a member whose host did not answer (a dark site)."""


def unreachable(
    target: ProbeTarget, error: str, sampled_at: float, role: Role | None = None
) -> ReplicationSample:
    """The sample for a member whose host we could not reach or run the probe on.

    A host that does not answer (connection refused, timed out, a dark site) makes the
    member ``DOWN``. A host that answered but refused us (host key, SSH authentication) says
    nothing about the database, so the member is ``UNKNOWN``.

    Args:
        target: The member.
        error: The transport's message, shown to the operator.
        sampled_at: When the attempt gave up.
        role: Force the role instead of judging it from ``error``.

    Returns:
        A sample with every measurement unknown and the reason in ``error`` and
        ``details["reason"]``.
    """
    if role is None:
        lowered = error.lower()
        refused_us = any(word in lowered for word in _UNKNOWN_NOT_DOWN)
        role = Role.UNKNOWN if refused_us else Role.DOWN
    reason = (
        "the host answered but refused the probe; the database state is unknown"
        if role is Role.UNKNOWN
        else HOST_DID_NOT_ANSWER
    )
    return blank_sample(target, role, f"{target.host}: {error}", sampled_at, {"reason": reason})
