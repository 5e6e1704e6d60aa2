"""A load generator for one unit of the ``active-active`` lab: the unit's application writes.

It writes one row per tick into ``app.unit_writes`` as the unit's account (``unit_west`` for
``unit-west``), over TCP, to wherever the unit's endpoint file says (``address:port``; it
re-reads the file before every write, so rewriting the file, as a playbook's ``route_cmd``
does, switches the unit's writers). Each row carries the generator's ``writer`` tag, a
sequence number and ``@@server_id`` (which site took the write). A write counts as
acknowledged only when the client exited 0 after the commit; every acknowledged sequence
number is appended to the ack file at once, so a test can check afterwards, against the
databases, that none of them was lost. Refused writes (a fenced unit) and dropped
connections are counted, not retried: the next tick writes the next sequence number.

Run it as ``python -m console.lab.unitload --unit unit-west --endpoint-file F --ack-file A``
(SIGTERM or SIGINT stops it after the write in flight), or start it from Python with
:class:`UnitLoad`.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

_UNIT = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
_WRITER = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_ENDPOINT = re.compile(r"^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}):(\d{1,5})$")


@dataclass
class Counts:
    """What the generator did so far."""

    acknowledged: int = 0
    refused: int = 0
    """Writes the server refused (no privilege, read-only): the unit is fenced there."""
    failed: int = 0
    """Writes that failed otherwise (connection refused or dropped, timeout)."""
    by_endpoint: dict[str, int] = field(default_factory=dict)
    """Acknowledged writes per endpoint."""


def read_endpoint(path: Path) -> tuple[str, int] | None:
    """The ``(address, port)`` in an endpoint file; None when missing or not a loopback
    ``address:port``."""
    try:
        text = path.read_text(encoding="utf-8").strip()
    except OSError:
        return None
    m = _ENDPOINT.match(text)
    return (m.group(1), int(m.group(2))) if m else None


def read_acks(path: Path) -> list[int]:
    """The acknowledged sequence numbers an ack file holds (a torn last line is skipped)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    return [int(x) for x in lines if x.isdigit()]


class UnitLoad:
    """Writes one unit's rows until stopped (a thread, or :meth:`run` in the foreground)."""

    def __init__(
        self,
        *,
        unit: str,
        endpoint_file: Path,
        ack_file: Path,
        user: str | None = None,
        writer: str | None = None,
        every: float = 0.2,
        client: str = "mariadb",
        timeout: float = 30.0,
    ) -> None:
        if not _UNIT.match(unit):
            raise ValueError(f"bad unit name {unit!r}")
        self.unit = unit
        self.user = user or unit.replace("-", "_")
        if not _UNIT.match(self.user):
            raise ValueError(f"bad account name {self.user!r}")
        self.writer = writer or f"{unit}-{os.getpid()}-{int(time.time() * 1000)}"
        if not _WRITER.match(self.writer):
            raise ValueError(f"bad writer tag {self.writer!r}")
        self.endpoint_file = endpoint_file
        self.ack_file = ack_file
        self.every = every
        self.client = client
        self.timeout = timeout
        self.counts = Counts()
        self.seq = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _sql(self, seq: int) -> str:
        return (
            "INSERT INTO app.unit_writes (unit, writer, seq, server_id) "  # noqa: S608 (names checked)
            f"VALUES ('{self.unit}', '{self.writer}', {seq}, @@server_id)"
        )

    def write_once(self) -> bool:
        """One write to the current endpoint; True when acknowledged (and recorded)."""
        self.seq += 1
        seq = self.seq
        endpoint = read_endpoint(self.endpoint_file)
        if endpoint is None:
            self.counts.failed += 1
            return False
        address, port = endpoint
        argv = [self.client, "--no-defaults", "--protocol=TCP", "-h", address, "-P", str(port)]
        argv += ["-u", self.user, "--connect-timeout=5", "-N", "-B", "-e", self._sql(seq)]
        try:
            done = subprocess.run(
                argv, capture_output=True, text=True, timeout=self.timeout, check=False
            )
        except subprocess.TimeoutExpired:
            self.counts.failed += 1
            return False
        if done.returncode != 0:
            # 1142: command denied (the unit's grants revoked); 1290: read-only
            if "ERROR 1142" in done.stderr or "ERROR 1290" in done.stderr:
                self.counts.refused += 1
            else:
                self.counts.failed += 1
            return False
        with self.ack_file.open("a", encoding="utf-8") as f:
            f.write(f"{seq}\n")
            f.flush()
            os.fsync(f.fileno())
        self.counts.acknowledged += 1
        key = f"{address}:{port}"
        self.counts.by_endpoint[key] = self.counts.by_endpoint.get(key, 0) + 1
        return True

    def run(self) -> None:
        """Write every ``every`` seconds until :meth:`stop`."""
        while not self._stop.is_set():
            started = time.monotonic()
            self.write_once()
            self._stop.wait(max(0.0, self.every - (time.monotonic() - started)))

    def start(self) -> UnitLoad:
        """Run in a daemon thread."""
        self._thread = threading.Thread(target=self.run, name=f"unitload-{self.unit}", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 60.0) -> Counts:
        """Stop after the write in flight; the counts so far."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        return self.counts


def main(argv: list[str] | None = None) -> int:
    """``python -m console.lab.unitload``: write until SIGTERM/SIGINT, then print the counts."""
    p = argparse.ArgumentParser(prog="python -m console.lab.unitload", description=__doc__)
    p.add_argument("--unit", required=True, help="the unit (unit-east, unit-west)")
    p.add_argument("--endpoint-file", required=True, type=Path)
    p.add_argument("--ack-file", required=True, type=Path)
    p.add_argument("--user", help="the account (default: the unit with _ for -)")
    p.add_argument("--writer", help="the tag of this generator's rows (default: unit-pid-ms)")
    p.add_argument("--every", type=float, default=0.2, help="seconds between writes")
    args = p.parse_args(argv)
    try:
        load = UnitLoad(
            unit=args.unit,
            endpoint_file=args.endpoint_file,
            ack_file=args.ack_file,
            user=args.user,
            writer=args.writer,
            every=args.every,
        )
    except ValueError as exc:
        print(f"unitload: {exc}", file=sys.stderr)
        return 2

    def _stop(_sig: int, _frame: object) -> None:
        load._stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    print(f"writer {load.writer}", flush=True)
    load.run()
    c = load.counts
    print(f"acknowledged {c.acknowledged} refused {c.refused} failed {c.failed}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
