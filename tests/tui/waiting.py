"""Bounded waits for the TUI tests: every wait has a timeout and says what it waited for."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


async def until(predicate: Callable[[], object], timeout: float, what: str) -> None:
    """Poll ``predicate`` every 50 ms until it is truthy.

    Raises:
        AssertionError: it stayed falsy for ``timeout`` seconds (the message names ``what``).
    """
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        await asyncio.sleep(0.05)
