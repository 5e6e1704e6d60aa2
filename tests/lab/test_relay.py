"""The latency relay on real loopback sockets: bytes arrive intact, in order, and late.

The upstream is a real asyncio echo server on 127.19.251.1 (inside the lab helper's range).
"""

from __future__ import annotations

import asyncio
import time

import pytest

from console.lab.relay import Endpoint, Relay

ADDR = "127.19.251.1"


async def _echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while data := await reader.read(65536):
        writer.write(data)
        await writer.drain()
    writer.close()


async def _setup(delay_ms: int) -> tuple[asyncio.Server, Relay, Endpoint]:
    upstream = await asyncio.start_server(_echo, ADDR, 0)
    up_port = upstream.sockets[0].getsockname()[1]
    relay = Relay(Endpoint(ADDR, 0), Endpoint(ADDR, up_port), delay_ms)
    await relay.start()
    assert relay._server is not None
    port = relay._server.sockets[0].getsockname()[1]
    return upstream, relay, Endpoint(ADDR, port)


def test_endpoint_parse() -> None:
    assert Endpoint.parse("127.0.1.1:15432") == Endpoint("127.0.1.1", 15432)
    assert str(Endpoint("127.0.1.1", 1)) == "127.0.1.1:1"
    with pytest.raises(ValueError, match="ADDRESS:PORT"):
        Endpoint.parse("nope")


@pytest.mark.timeout(60)
async def test_relay_adds_the_delay_each_way() -> None:
    upstream, relay, at = await _setup(150)
    try:
        reader, writer = await asyncio.open_connection(at.address, at.port)
        began = time.monotonic()
        writer.write(b"ping")
        await writer.drain()
        got = await asyncio.wait_for(reader.readexactly(4), timeout=20)
        rtt = time.monotonic() - began
        assert got == b"ping"
        assert rtt >= 0.29  # 150 ms there and 150 ms back
        assert relay.connections == 1
        writer.close()
    finally:
        await relay.close()
        upstream.close()


@pytest.mark.timeout(60)
async def test_relay_keeps_a_large_stream_intact_and_in_order() -> None:
    upstream, relay, at = await _setup(20)
    try:
        reader, writer = await asyncio.open_connection(at.address, at.port)
        payload = bytes(range(256)) * 8192  # 2 MiB
        writer.write(payload)
        await writer.drain()
        writer.write_eof()
        got = await asyncio.wait_for(reader.read(-1), timeout=30)
        assert got == payload  # EOF went through too, or read(-1) would not return
        writer.close()
    finally:
        await relay.close()
        upstream.close()


@pytest.mark.timeout(60)
async def test_relay_closes_the_client_when_upstream_is_down() -> None:
    relay = Relay(Endpoint(ADDR, 0), Endpoint(ADDR, 1), 0)
    await relay.start()
    assert relay._server is not None
    port = relay._server.sockets[0].getsockname()[1]
    try:
        reader, writer = await asyncio.open_connection(ADDR, port)
        assert await asyncio.wait_for(reader.read(10), timeout=20) == b""
        writer.close()
    finally:
        await relay.close()
