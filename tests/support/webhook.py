"""A local webhook receiver for notification tests: records what apprise's ``json://`` posts.

:class:`Receiver` is a real HTTP server on 127.0.0.1 (a thread) that answers 200 (or the
status a test sets) and keeps every request: path, headers and the decoded JSON body.
:class:`Silent` accepts connections and never answers (a receiver that hangs: apprise must
time out). Both close their sockets on exit.
"""

from __future__ import annotations

import json
import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any


@dataclass
class Received:
    """One request the receiver got."""

    path: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class Receiver:
    """Records POSTs; answers ``status`` (200 unless a test changes it)."""

    status: int = 200
    received: list[Received] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.server_address[1])

    def url(self, path: str = "hook", auth: str = "") -> str:
        """The apprise URL of this receiver (``json://[auth@]127.0.0.1:PORT/path``)."""
        who = f"{auth}@" if auth else ""
        return f"json://{who}127.0.0.1:{self.port}/{path}"

    def titles(self) -> list[str]:
        return [str(r.body.get("title", "")) for r in self.received]

    def __enter__(self) -> Receiver:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    body = {"raw": raw.decode(errors="replace")}
                owner.received.append(Received(self.path, dict(self.headers.items()), body))
                self.send_response(owner.status)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._server is not None and self._thread is not None
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)


class Silent:
    """A listener that accepts and never answers: every request to it times out."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = int(self.sock.getsockname()[1])

    def url(self, path: str = "hook") -> str:
        return f"json://127.0.0.1:{self.port}/{path}"

    def __enter__(self) -> Silent:
        return self

    def __exit__(self, *exc: object) -> None:
        self.sock.close()
