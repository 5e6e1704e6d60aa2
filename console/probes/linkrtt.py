"""The round trip of a replication link, measured through the endpoint its replica uses.

A link whose replica follows an ``aliases:`` endpoint of its upstream (a TCP relay or proxy
on the link, such as the lab's latency relays) is timed from the console through that
endpoint with the smallest exchange the server answers before any login, so it needs no
credential and leaves nothing in the server's log:

- PostgreSQL: an ``SSLRequest`` (8 bytes), answered with one byte, then a ``GSSENCRequest``,
  answered with one byte too (``N`` from a server without GSSAPI encryption), and only the
  second is timed: the first answer waits for the backend the postmaster forks for the
  connection. The connection is then closed before any startup packet (the server logs
  nothing for a client that sends none). A server that accepts SSL (``S``) would expect a
  TLS handshake next, so there the first exchange is the figure (fork included);
- Redis: ``PING``, answered ``+PONG`` (or ``-NOAUTH``/``-DENIED``: an answer all the same).

MySQL/MariaDB sends its greeting unasked and answers nothing else before a login, so its links
are not timed (None). The figure is the fastest of a few exchanges: the link's own delay, not
the console's scheduling.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

SSL_REQUEST = (8).to_bytes(4, "big") + (80877103).to_bytes(4, "big")
"""PostgreSQL's SSLRequest: length 8, code 1234 5679."""
GSSENC_REQUEST = (8).to_bytes(4, "big") + (80877104).to_bytes(4, "big")
"""PostgreSQL's GSSENCRequest (12+): length 8, code 1234 5680."""

TRIES = 3
"""Exchanges per measurement; the fastest counts."""

TIMED_KINDS = ("postgres", "redis")
"""The kinds whose links can be timed without a login."""


async def _open(address: str, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection(address, port)


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(OSError, ConnectionError):
        await writer.wait_closed()


async def _postgres(address: str, port: int) -> float:
    best = float("inf")
    for _ in range(TRIES):
        reader, writer = await _open(address, port)
        try:
            began = time.perf_counter()
            writer.write(SSL_REQUEST)
            await writer.drain()
            answer = await reader.readexactly(1)
            took = time.perf_counter() - began
            if answer not in (b"S", b"N"):
                raise ValueError(f"not a PostgreSQL answer to SSLRequest: {answer!r}")
            if answer == b"N":
                began = time.perf_counter()
                writer.write(GSSENC_REQUEST)
                await writer.drain()
                answer = await reader.readexactly(1)
                took = time.perf_counter() - began
                if answer not in (b"G", b"N"):
                    raise ValueError(f"not a PostgreSQL answer to GSSENCRequest: {answer!r}")
        finally:
            await _close(writer)
        best = min(best, took)
    return best


async def _redis(address: str, port: int) -> float:
    best = float("inf")
    reader, writer = await _open(address, port)
    try:
        for _ in range(TRIES):
            began = time.perf_counter()
            writer.write(b"PING\r\n")
            await writer.drain()
            line = await reader.readline()
            took = time.perf_counter() - began
            if not line.startswith((b"+", b"-")):
                raise ValueError(f"not a Redis answer to PING: {line[:40]!r}")
            best = min(best, took)
    finally:
        await _close(writer)
    return best


async def round_trip_ms(kind: str, endpoint: str, timeout: float) -> float | None:
    """Milliseconds of one round trip through ``endpoint`` (``address:port``).

    Returns:
        The fastest of :data:`TRIES` exchanges, or None for a kind that cannot be timed, an
        endpoint that does not answer within ``timeout`` seconds, or a wrong answer.
    """
    if kind not in TIMED_KINDS or ":" not in endpoint:
        return None
    address, _, port = endpoint.rpartition(":")
    if not port.isdigit():
        return None
    measure = _postgres if kind == "postgres" else _redis
    try:
        seconds = await asyncio.wait_for(measure(address, int(port)), timeout)
    except (OSError, ValueError, TimeoutError, asyncio.IncompleteReadError):
        return None
    return seconds * 1000


__all__ = ["TIMED_KINDS", "round_trip_ms"]
