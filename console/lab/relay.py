"""A loopback TCP relay that delays every byte: cross-city latency without ``netem``.

This kernel has no ``netem`` and the lab must not touch the machine's network settings, so a
slow link is made in user space: the replica connects to the relay, the relay connects to the
primary, and every chunk read from either side is written to the other side ``delay_ms`` later.
Chunks are queued with their due time rather than slept on one by one, so the delay adds
latency without throttling throughput, and the order of bytes is kept. Run as a process of its
own (``python -m console.lab.relay``) so that ``lab chaos down`` can freeze it with its site.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from collections.abc import Sequence
from dataclasses import dataclass

CHUNK = 65536
"""Bytes read at a time from either side."""


@dataclass(frozen=True, slots=True)
class Endpoint:
    """An IPv4 address and a port."""

    address: str
    """The address (loopback in the lab)."""
    port: int
    """The TCP port."""

    @classmethod
    def parse(cls, text: str) -> Endpoint:
        """Parse ``address:port``.

        Raises:
            ValueError: When the text is not ``address:port``.
        """
        address, sep, port = text.rpartition(":")
        if not sep or not address or not port.isdigit():
            raise ValueError(f"expected ADDRESS:PORT, got {text!r}")
        return cls(address, int(port))

    def __str__(self) -> str:
        return f"{self.address}:{self.port}"


async def _delayed_copy(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float
) -> None:
    """Copy ``reader`` to ``writer``, each chunk ``delay`` seconds after it was read."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

    async def pump_in() -> None:
        try:
            while data := await reader.read(CHUNK):
                queue.put_nowait((loop.time() + delay, data))
        except (ConnectionError, OSError):
            pass
        queue.put_nowait((loop.time() + delay, b""))

    async def pump_out() -> None:
        while True:
            due, data = await queue.get()
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            if not data:
                with contextlib.suppress(OSError, RuntimeError):
                    if writer.can_write_eof():
                        writer.write_eof()
                return
            writer.write(data)
            await writer.drain()

    reading = asyncio.create_task(pump_in())
    try:
        await pump_out()
    except (ConnectionError, OSError):
        pass
    finally:
        reading.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reading


class Relay:
    """Accepts connections on ``listen`` and forwards each to ``target`` with a delay.

    Args:
        listen: Where to accept connections.
        target: Where to forward them.
        delay_ms: Milliseconds added in each direction (a round trip gets twice that).
    """

    def __init__(self, listen: Endpoint, target: Endpoint, delay_ms: float) -> None:
        self.listen = listen
        self.target = target
        self.delay = max(delay_ms, 0) / 1000
        self.connections = 0
        """How many client connections were accepted so far."""
        self._server: asyncio.Server | None = None

    async def _handle(self, c_reader: asyncio.StreamReader, c_writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            u_reader, u_writer = await asyncio.wait_for(
                asyncio.open_connection(self.target.address, self.target.port), timeout=10
            )
        except (OSError, TimeoutError) as exc:
            print(f"relay {self.listen} -> {self.target}: connect failed: {exc}", flush=True)
            c_writer.close()
            return
        try:
            await asyncio.gather(
                _delayed_copy(c_reader, u_writer, self.delay),
                _delayed_copy(u_reader, c_writer, self.delay),
            )
        finally:
            for w in (u_writer, c_writer):
                w.close()
                with contextlib.suppress(OSError, ConnectionError):
                    await w.wait_closed()

    async def start(self) -> None:
        """Start listening."""
        self._server = await asyncio.start_server(
            self._handle, self.listen.address, self.listen.port, reuse_address=True
        )

    async def serve_forever(self) -> None:
        """Start (if needed) and serve until cancelled."""
        if self._server is None:
            await self.start()
        assert self._server is not None
        async with self._server:
            await self._server.serve_forever()

    async def close(self) -> None:
        """Stop accepting connections."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m console.lab.relay --listen A:P --target A:P --delay-ms N``."""
    parser = argparse.ArgumentParser(prog="console.lab.relay", description=__doc__)
    parser.add_argument("--listen", type=Endpoint.parse, required=True)
    parser.add_argument("--target", type=Endpoint.parse, required=True)
    parser.add_argument("--delay-ms", type=float, required=True)
    args = parser.parse_args(argv)
    relay = Relay(args.listen, args.target, args.delay_ms)
    print(f"relay {args.listen} -> {args.target} +{args.delay_ms:g} ms each way", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(relay.serve_forever())
    return 0


if __name__ == "__main__":
    sys.exit(main())
