"""A real ``drconsole serve`` for the tests: a subprocess on 127.0.0.1, an inventory whose
hosts nobody answers (the scripted estate's, 127.0.70.x: connections are refused at once),
one playbook, a token file, and a websocket client that speaks textual-serve's protocol."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from tests.engine.scripted_env import INVENTORY

TOKEN = "war-room-operator-token-0123456789"
OPERATOR = "ops-lead@war-room"
PLAYBOOK = """
version: 1
name: served-drill
kind: custom
title: A drill started from a browser
steps:
  - id: only
    on: h-east
    run: "true"
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Served:
    """The running server and its files."""

    url: str
    port: int
    audit: Path
    proc: subprocess.Popen[str]
    base: Path

    def runs(self) -> list[tuple[str, str]]:
        """(playbook, operator) of every run in the audit database."""
        from console.audit.store import AuditStore

        if not self.audit.exists():
            return []
        with AuditStore(self.audit, create=False) as store:
            return [(r.playbook_name, r.operator) for r in store.runs()]


@contextlib.contextmanager
def serving(
    base: Path,
    *,
    token: bool = True,
    inventory: str = INVENTORY,
    store: str | None = None,
    options: Sequence[str] = (),
    serve_options: Sequence[str] = (),
) -> Iterator[Served]:
    """``drconsole serve`` on a free port of 127.0.0.1 until the block ends.

    Args:
        store: The ``--audit`` to serve with (default the SQLite file ``base/audit.db``).
        options: More global options (before ``serve``), e.g. ``--audit-fallback PATH``.
        serve_options: More options of ``serve``, e.g. ``--lease 90s``.
    """
    (base / "inventory.yaml").write_text(inventory.format(base=base))
    (base / "known_hosts").write_text("")
    playbooks = base / "playbooks"
    playbooks.mkdir(exist_ok=True)
    (playbooks / "served-drill.yaml").write_text(textwrap.dedent(PLAYBOOK).lstrip())
    (base / "token").write_text(TOKEN + "\n")
    port = free_port()
    audit = base / "audit.db"
    argv = [sys.executable, "-m", "console", "--audit", store or str(audit), *options]
    argv += ["--operator", OPERATOR, "serve", "-i", str(base / "inventory.yaml")]
    argv += ["-p", str(playbooks), "--port", str(port), "--refresh", "5", *serve_options]
    if token:
        argv += ["--operator-token-file", str(base / "token")]
    log = (base / "serve.log").open("w")
    proc = subprocess.Popen(
        argv, stdout=log, stderr=subprocess.STDOUT, text=True, start_new_session=True, cwd=base
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            assert proc.poll() is None, (base / "serve.log").read_text()
            time.sleep(0.1)
        else:
            raise AssertionError("serve did not listen within 60 s")
        yield Served(f"http://127.0.0.1:{port}", port, audit, proc, base)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
        log.close()


class Console:
    """One browser's console, as textual-serve's page drives it: a websocket."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.received = 0
        self.text = ""
        """Everything the console drew, decoded (escape sequences and all)."""
        self._reader = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        async for message in self.ws:
            if message.type == aiohttp.WSMsgType.BINARY:
                self.received += len(message.data)
                self.text += message.data.decode("utf-8", errors="replace")

    async def wait_text(self, needle: str, timeout: float = 60) -> None:
        """Until the console has drawn ``needle``."""
        deadline = time.monotonic() + timeout
        while needle not in self.text:
            assert time.monotonic() < deadline, f"{needle!r} not drawn: {self.text[-300:]!r}"
            await asyncio.sleep(0.1)

    async def drawn(self, at_least: int = 2000, timeout: float = 60) -> None:
        """Until the console has sent that much screen output."""
        deadline = time.monotonic() + timeout
        while self.received < at_least:
            assert time.monotonic() < deadline, f"only {self.received} bytes drawn"
            await asyncio.sleep(0.1)

    async def keys(self, *keys: str, gap: float = 1.5) -> None:
        """Type keys as the page sends them (``["stdin", text]``), with a pause after each."""
        for key in keys:
            await self.ws.send_str(json.dumps(["stdin", key]))
            await asyncio.sleep(gap)

    async def close(self) -> None:
        await self.ws.close()
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader


@contextlib.asynccontextmanager
async def browser_console(
    served: Served, *, cookie: str | None = None, origin: str | None = None
) -> Iterator[Console]:  # type: ignore[misc]
    """A console over the websocket, with the operator cookie (and an Origin) if given."""
    headers = {"Origin": origin} if origin else {}
    cookies = {"drconsole_operator": cookie} if cookie else {}
    async with aiohttp.ClientSession(cookies=cookies) as session:
        ws = await session.ws_connect(
            f"ws://127.0.0.1:{served.port}/ws?width=140&height=40", headers=headers
        )
        console = Console(ws)
        try:
            yield console
        finally:
            await console.close()
