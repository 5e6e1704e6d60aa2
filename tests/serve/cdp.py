"""A headless Chromium driven over the DevTools protocol (Debian's ``chromium``, no webdriver).

Enough for the served console: open a page, record every request the page makes, capture the
text the console's websocket delivers (a script added before the page's own wraps
``WebSocket``), press keys, take a screenshot. The browser runs with a throwaway profile and
without its background networking, on loopback only.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import shutil
import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"

CAPTURE = """
(() => {
  window.__drText = "";
  const Native = window.WebSocket;
  window.WebSocket = function (url, protocols) {
    const ws = protocols === undefined ? new Native(url) : new Native(url, protocols);
    const decoder = new TextDecoder();
    ws.addEventListener("message", (e) => {
      if (typeof e.data !== "string") {
        window.__drText += decoder.decode(new Uint8Array(e.data), {stream: true});
      }
    });
    return ws;
  };
  window.WebSocket.prototype = Native.prototype;
})();
"""
"""Keeps what the console draws as text (escape sequences and all) in ``window.__drText``."""


class Page:
    """One tab."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.requests: list[str] = []
        """Every URL the page requested (Network.requestWillBeSent)."""
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._reader = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        async for message in self.ws:
            data = json.loads(message.data)
            if "id" in data and data["id"] in self._waiting:
                self._waiting.pop(data["id"]).set_result(data)
            elif data.get("method") == "Network.requestWillBeSent":
                self.requests.append(data["params"]["request"]["url"])

    async def call(self, method: str, timeout: float = 60, **params: Any) -> dict[str, Any]:
        """One DevTools command; its result."""
        n = next(self._ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[n] = future
        await self.ws.send_str(json.dumps({"id": n, "method": method, "params": params}))
        reply = await asyncio.wait_for(future, timeout)
        assert "error" not in reply, reply
        return dict(reply.get("result", {}))

    async def evaluate(self, expression: str) -> Any:
        result = await self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return result["result"].get("value")

    async def text(self) -> str:
        """What the console's websocket delivered so far, as text."""
        return str(await self.evaluate("window.__drText || ''"))

    async def wait_text(self, *needles: str, timeout: float = 90) -> str:
        """Until every needle is in the delivered text."""
        deadline = time.monotonic() + timeout
        while True:
            text = await self.text()
            if all(n in text for n in needles):
                return text
            assert time.monotonic() < deadline, f"{needles} not drawn; got {text[-400:]!r}"
            await asyncio.sleep(0.5)

    async def press(self, *keys: str, gap: float = 1.5) -> None:
        """Type characters (``\\r`` is Enter) into the focused terminal."""
        for key in keys:
            if key == "\r":
                for kind in ("keyDown", "keyUp"):
                    await self.call(
                        "Input.dispatchKeyEvent",
                        type=kind,
                        key="Enter",
                        code="Enter",
                        windowsVirtualKeyCode=13,
                        text="\r" if kind == "keyDown" else "",
                    )
            else:
                await self.call("Input.insertText", text=key)
            await asyncio.sleep(gap)

    async def screenshot(self, path: Path) -> Path:
        shot = await self.call("Page.captureScreenshot", format="png")
        path.write_bytes(base64.b64decode(shot["data"]))  # noqa: ASYNC240 (a test helper)
        return path

    async def close(self) -> None:
        await self.ws.close()
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader


@contextlib.asynccontextmanager
async def chromium(profile: Path, width: int = 1400, height: int = 900) -> AsyncIterator[Page]:
    """A headless Chromium with one blank tab, driven over DevTools."""
    profile.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240
    proc = subprocess.Popen(  # noqa: ASYNC220 (the browser outlives no test)
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-default-apps",
            "--remote-debugging-address=127.0.0.1",
            "--remote-debugging-port=0",
            f"--user-data-dir={profile}",
            f"--window-size={width},{height}",
            "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 60
        while not port_file.exists() or not port_file.read_text().strip():
            assert time.monotonic() < deadline, "chromium did not open DevTools in 60 s"
            assert proc.poll() is None, "chromium exited"
            await asyncio.sleep(0.1)
        port = int(port_file.read_text().split()[0])
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{port}/json/list") as got:
                targets = await got.json()
            url = next(t["webSocketDebuggerUrl"] for t in targets if t["type"] == "page")
            ws = await http.ws_connect(url, max_msg_size=0)
            page = Page(ws)
            try:
                await page.call("Page.enable")
                await page.call("Network.enable")
                await page.call("Page.addScriptToEvaluateOnNewDocument", source=CAPTURE)
                await page.call(
                    "Emulation.setDeviceMetricsOverride",
                    width=width,
                    height=height,
                    deviceScaleFactor=1,
                    mobile=False,
                )
                yield page
            finally:
                await page.close()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)
