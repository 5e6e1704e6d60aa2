"""Finding the probe for a kind: the one place that knows every kind.

The status collector and the engine ask for a probe by the inventory's ``kind`` string and
use it only through the ``Probe`` contract, so adding a kind means adding a module and one
line here.
"""

from __future__ import annotations

from console.errors import InputError
from console.probes.base import Probe
from console.probes.custom import CustomProbe
from console.probes.mysql import MysqlProbe
from console.probes.postgres import PostgresProbe
from console.probes.redis import RedisProbe

PROBES: dict[str, type[Probe]] = {
    "postgres": PostgresProbe,
    "mysql": MysqlProbe,
    "redis": RedisProbe,
    "custom": CustomProbe,
}
"""Probe classes by kind."""


def probe_for(kind: str, timeout: float = 10.0, connect_timeout: float = 5.0) -> Probe:
    """The probe for a database kind.

    Args:
        kind: ``postgres``, ``mysql``, ``redis`` or ``custom``.
        timeout: Seconds the probe command may run on the remote host.
        connect_timeout: Seconds the client may take to connect.

    Returns:
        A new probe.

    Raises:
        InputError: The kind is not one we probe.
    """
    try:
        cls = PROBES[kind]
    except KeyError:
        raise InputError(
            f"no probe for kind {kind!r} (expected one of {', '.join(PROBES)})"
        ) from None
    return cls(timeout=timeout, connect_timeout=connect_timeout)
