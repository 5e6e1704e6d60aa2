"""A manager's peer or a cluster node that accepts connections and then says nothing (a dark
site's process, stopped) holds the first sweep for the probe deadline, and later sweeps for
:data:`console.probes.managers.SILENT_TIMEOUT` only.

The silent peer is real: a listener on loopback that accepts and never answers, what a
SIGSTOPped Redis node or Patroni API looks like from the console (the kernel completes the
handshake). The dark site on the managed lab is in ``tests/managed``.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from console.model.inventory import load_inventory
from console.probes.managers import SILENT_TIMEOUT, ask_timeout, silent_keys
from console.status.collector import StatusCollector
from tests.model.cases import INVENTORY
from tests.support.scripted import ScriptedTransport

ADDRESS = "127.254.1.1"
"""db-east-1's address in ``INVENTORY`` (loopback)."""


@asynccontextmanager
async def silent_listener() -> AsyncIterator[int]:
    """A port on ADDRESS that accepts connections and never writes a byte."""
    held: list[asyncio.StreamWriter] = []

    async def accept(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(accept, ADDRESS, 0, family=socket.AF_INET)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        for writer in held:
            writer.close()
        server.close()
        await server.wait_closed()


def test_silent_keys_are_the_peers_that_gave_no_answer_in_time() -> None:
    answers = {
        "east-1": "no answer within 10s",
        "west-1": "[Errno 111] Connection refused",
        "dr-1": object(),
    }
    assert silent_keys(answers) == {"east-1"}
    assert silent_keys(None) == frozenset()
    assert ask_timeout("east-1", 10.0, {"east-1"}) == SILENT_TIMEOUT
    assert ask_timeout("west-1", 10.0, {"east-1"}) == 10.0
    assert ask_timeout("east-1", 0.5, {"east-1"}) == 0.5  # never longer than the deadline


def test_a_cluster_node_silent_last_sweep_is_asked_again_with_the_short_deadline(
    tmp_path: Path,
) -> None:
    async def sweeps(port: int) -> list[str]:
        text = INVENTORY.replace(
            "  ledger:\n",
            f"  carts:\n    kind: redis-cluster\n    nodes: [db-east-1:{port}]\n"
            "    probe: {timeout: 3s}\n  ledger:\n",
        )
        (tmp_path / "inv.yaml").write_text(text, encoding="utf-8")
        inventory = load_inventory(tmp_path / "inv.yaml")
        collector = StatusCollector(inventory, ScriptedTransport())
        seen = []
        for _ in range(3):
            await collector.sweep(["carts"])
            answers, _taken = collector._clusters["carts"]
            seen.append(str(next(iter(answers.values()))))
        return seen

    async def main() -> list[str]:
        async with silent_listener() as port:
            return await sweeps(port)

    seen = asyncio.run(main())
    assert seen == [
        "no answer within 3s",
        f"no answer within {SILENT_TIMEOUT:g}s",
        f"no answer within {SILENT_TIMEOUT:g}s",
    ]
