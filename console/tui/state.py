"""What the console app owns and every screen reads: attributes down, signals for change.

The app holds one :class:`ConsoleState` and hands it to each screen it creates. Screens read
its attributes (the inventory, the newest snapshot, the lag history, the palette, the clock,
the mode, the audit store) and subscribe to its signals to hear when one changes; they never
call the app's methods: to ask for something (open a run, export a report, probe now) they post
a message (``console.tui.messages``) that the app handles. This module imports no screen and
no app, so screens and app do not import each other.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from textual.dom import DOMNode
from textual.signal import Signal

from console.audit.leases import DEFAULT_TTL
from console.audit.store import AuditStore
from console.model.inventory import Inventory
from console.notify.targets import NotifyTarget
from console.status.collector import StatusSnapshot
from console.tui.history import LagHistory
from console.tui.palette import DEFAULT_PALETTE, Palette


@dataclass(frozen=True)
class TuiConfig:
    """How the console was started."""

    inventory_path: Path
    """The inventory file."""
    playbooks_dir: Path
    """Where the playbooks are."""
    audit_path: Path | str
    """The audit database."""
    operator: str
    """Who operates (recorded with every decision)."""
    mode: str = "drill"
    """``drill`` or ``incident`` at start."""
    refresh: float = 2.0
    """Seconds between the end of one probe of a member and the next."""
    probe_timeout: float | None = None
    """Per-probe deadline (default each service's ``probe.timeout``)."""
    reports_dir: Path = Path("reports")
    """Where exported reports go by default."""
    notify: tuple[NotifyTarget, ...] = ()
    """``--notify`` targets, told about every run with the inventory's ``notify:``."""
    notify_timeout: float = 5.0
    """Seconds one notification may take (``--notify-timeout``)."""
    read_only: bool = False
    """An observer's console (``drconsole serve`` without the operator token): it can look
    at everything and act on nothing: no run is opened, started, resumed or exported."""
    audit_fallback: Path | None = None
    """``--audit-fallback PATH`` with a team store: the local file that takes over when the
    store is lost in the middle of a run (``console.audit.fallback``)."""
    lease_ttl: float = DEFAULT_TTL
    """``--lease``: seconds the service leases of a run started here last unless renewed."""


class ConsoleState:
    """The console's shared state; the app is its only writer.

    Args:
        owner: The app (owns the signals).
        config: How the console was started.
        inventory: The estate at start.
        clock: The time the screens show (fixed in snapshot tests).
        audit: Opens the audit store on first use.
    """

    def __init__(
        self,
        owner: DOMNode,
        config: TuiConfig,
        inventory: Inventory,
        *,
        clock: Callable[[], float] = time.time,
        audit: Callable[[], AuditStore],
    ) -> None:
        self.config = config
        """How the console was started."""
        self.inventory = inventory
        """The estate on screen."""
        self.inventory_path = config.inventory_path
        """Its file."""
        self.clock = clock
        """The time the screens show."""
        self.mode = config.mode
        """``drill`` or ``incident``: the banner on every screen, and the mode of new runs."""
        self.snapshot: StatusSnapshot | None = None
        """The newest status snapshot."""
        self.history = LagHistory()
        """Recent lag and last-seen times."""
        self.palette: Palette = DEFAULT_PALETTE
        """Cell and log colours, from the theme."""
        self._audit = audit
        self.status_changed: Signal[StatusSnapshot | None] = Signal(owner, "status")
        """A newer snapshot (or none, after switching inventory)."""
        self.inventory_changed: Signal[Inventory] = Signal(owner, "inventory")
        """Another inventory is on screen."""
        self.mode_changed: Signal[str] = Signal(owner, "mode")
        """The console switched between drill and incident."""
        self.palette_changed: Signal[Palette] = Signal(owner, "palette")
        """The theme (and so the palette) changed."""
        self.ticked: Signal[float] = Signal(owner, "tick")
        """A second passed (ages and clocks move even without samples)."""
        self.run_changed: Signal[None] = Signal(owner, "run")
        """The current run has news for its screen."""

    @property
    def audit(self) -> AuditStore:
        """The audit store (opened on first use)."""
        return self._audit()

    def describe_inventory(self) -> str:
        """The header's inventory text."""
        return f"inventory {self.inventory.name} ({self.inventory_path})"
