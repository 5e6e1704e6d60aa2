"""Notifications never hold a run up: what ``send`` costs the caller, what a delivery takes,
and how long the end of a run waits for a receiver that never answers.

Run from the repository root::

    .venv/bin/python -m benchmarks.notify_send --messages 200

Everything is real: apprise's ``json://`` to an HTTP server on 127.0.0.1 that records the posts,
and a listener on 127.0.0.1 that accepts and never answers. Prints:

* ``send``: the caller's cost per message (queueing only), median and max, in microseconds;
* ``delivery``: messages per second to the answering receiver, and the median per message;
* ``silent end``: with the never-answering receiver and a per-delivery timeout, how long
  ``close`` (what a run's end does) waits with that many messages queued.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import statistics
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from console.notify.messages import Message
from console.notify.sender import Notifier
from console.notify.targets import command_line_targets


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


async def _answering(port: int, n: int) -> tuple[list[float], float, float]:
    notifier = Notifier(command_line_targets([f"json://127.0.0.1:{port}/bench"]), timeout=5)
    costs = []
    start = time.perf_counter()
    for i in range(n):
        t = time.perf_counter()
        notifier.send(Message(f"m{i}", f"message {i}", "body"))
        costs.append(time.perf_counter() - t)
    await notifier.close(timeout=600)
    took = time.perf_counter() - start
    assert len(notifier.delivered) == n, (len(notifier.delivered), notifier.failed[:1])
    return costs, took, n / took


async def _silent(port: int, n: int, timeout: float) -> tuple[float, int, int]:
    notifier = Notifier(command_line_targets([f"json://127.0.0.1:{port}/never"]), timeout=timeout)
    for i in range(n):
        notifier.send(Message(f"m{i}", f"message {i}", "body"))
    start = time.perf_counter()
    await notifier.close()
    took = time.perf_counter() - start
    timed_out = sum(1 for f in notifier.failed if f.timed_out)
    return took, timed_out, len(notifier.failed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--silent-messages", type=int, default=20)
    parser.add_argument("--timeout", type=float, default=0.5)
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(64)
    try:
        costs, took, rate = asyncio.run(_answering(server.server_address[1], args.messages))
        micro = [c * 1e6 for c in costs]
        print(
            f"send: median {statistics.median(micro):.1f} us, max {max(micro):.1f} us "
            f"per message ({args.messages} messages)"
        )
        print(
            f"delivery: {rate:.0f} messages/s to a local json:// receiver, "
            f"{took / args.messages * 1000:.1f} ms each"
        )
        end, timed_out, failed = asyncio.run(
            _silent(silent.getsockname()[1], args.silent_messages, args.timeout)
        )
        print(
            f"silent end: close waited {end:.2f} s with {args.silent_messages} messages queued "
            f"(timeout {args.timeout:g} s): {timed_out} timed out or unknown, "
            f"{failed - timed_out} not sent, all {failed} reported"
        )
    finally:
        server.shutdown()
        server.server_close()
        silent.close()


if __name__ == "__main__":
    main()
