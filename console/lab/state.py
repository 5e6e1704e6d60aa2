"""``state.json``: the lab's memory of every process it started, written as each one starts.

``down`` and ``chaos`` act by pid only, so the pids must survive the process that started
them, and a crash half-way through ``up`` must still leave a record of what is running. The
file is rewritten atomically after every change (write, fsync, rename), so a reader never sees
half of it.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

STATE_VERSION = 1

PHASE_STARTING = "starting"
"""``up`` is running, or died before finishing."""
PHASE_UP = "up"
"""``up`` finished: every server runs and replicates."""
PHASE_FAILED = "failed"
"""``up`` failed; some processes may still run until ``down``."""
PHASE_DOWN = "down"
"""``down`` stopped everything."""


@dataclass(frozen=True, slots=True)
class ProcessRecord:
    """One process the lab started."""

    site: str
    """The site it belongs to (``east``, ``west``, ``dr``, or ``lab`` for lab-wide helpers)."""
    name: str
    """What it is: ``sshd``, ``postgres``, ``mariadb``, ``redis`` or ``relay:...``."""
    pid: int
    """Its pid when started."""
    start_time: int
    """Its start time in clock ticks (``/proc/PID/stat`` field 22); tells a reused pid."""
    address: str
    """The address it listens on."""
    port: int
    """The port it listens on."""
    pidfile: str | None = None
    """Its pid file, if any: a drill that restarts the server writes the new pid there."""
    target: str | None = None
    """For a latency relay: the ``address:port`` it forwards to."""
    delay_ms: float | None = None
    """For a latency relay: the delay it adds in each direction."""

    @property
    def endpoint(self) -> str:
        """``address:port``."""
        return f"{self.address}:{self.port}"


@dataclass(frozen=True, slots=True)
class LabState:
    """Everything ``state.json`` holds."""

    directory: str
    """The lab directory (absolute)."""
    net: int
    """Second octet of every address."""
    user: str
    """The OS user that owns and runs every process."""
    phase: str
    """One of ``starting``, ``up``, ``failed``, ``down``."""
    inventory: str | None = None
    """The inventory ``up`` wrote (absolute)."""
    known_hosts: str | None = None
    """The known_hosts file ``up`` wrote (absolute)."""
    started_at: float | None = None
    """Unix time when ``up`` began."""
    up_seconds: float | None = None
    """How long ``up`` took."""
    error: str | None = None
    """Why ``up`` failed, when it did."""
    processes: tuple[ProcessRecord, ...] = field(default_factory=tuple)
    """Every process started, in start order."""
    version: int = STATE_VERSION
    """Format version of the file."""
    profile: str = "default"
    """The lab profile that ``up`` started (files written before profiles existed: the
    default)."""

    @property
    def directory_path(self) -> Path:
        """:attr:`directory` as a path."""
        return Path(self.directory)

    def with_process(self, record: ProcessRecord) -> LabState:
        """A copy with one more process."""
        return replace(self, processes=(*self.processes, record))

    def without(self, names: set[tuple[str, str]]) -> LabState:
        """A copy without the processes whose ``(site, name)`` is in ``names``."""
        keep = tuple(p for p in self.processes if (p.site, p.name) not in names)
        return replace(self, processes=keep)

    def to_json(self) -> str:
        """The file's text."""
        data = asdict(self)
        data["processes"] = [asdict(p) for p in self.processes]
        return json.dumps(data, indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> LabState:
        """Parse the file's text.

        Raises:
            ValueError: When the text is not a lab state of a known version.
        """
        data: dict[str, Any] = json.loads(text)
        if data.get("version") != STATE_VERSION:
            raise ValueError(f"unknown state version {data.get('version')!r}")
        procs = tuple(ProcessRecord(**p) for p in data.pop("processes", []))
        return cls(**data, processes=procs)


def load_state(path: Path) -> LabState | None:
    """Read ``state.json``, or None when there is none.

    Raises:
        ValueError: When the file exists but is not a lab state.
    """
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    return LabState.from_json(text)


def save_state(path: Path, state: LabState) -> None:
    """Write ``state.json`` atomically (temp file, fsync, rename)."""
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w") as fh:
        fh.write(state.to_json())
        fh.flush()
        os.fsync(fh.fileno())
    tmp.replace(path)
