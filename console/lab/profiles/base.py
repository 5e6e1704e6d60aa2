"""What a lab profile is: the servers it starts, their ports, its inventory and its health.

``drconsole lab up --profile NAME`` starts one of several estates on the same three loopback
sites (east, west, dr). Everything that differs between estates lives in one module per
profile under ``console/lab/profiles/``; everything they share (the lab user, the lab
directory and its lock, ``state.json``, one sshd per site, finding, darkening and stopping the
processes) lives in :mod:`console.lab.lab` and its helpers. A new profile is one module with
one :class:`Profile` subclass, added to the tuple in ``console/lab/profiles/__init__.py``.
"""

from __future__ import annotations

import signal
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from console.lab.binaries import Binaries
from console.lab.layout import SITES, SSH_PORT, LabLayout, SiteLayout
from console.lab.runner import Runner
from console.lab.state import ProcessRecord

Record = Callable[[ProcessRecord], None]
"""Called with each started server's record the moment it runs (``state.json`` is rewritten)."""


@dataclass(frozen=True, slots=True)
class StartContext:
    """What a profile's start tasks get."""

    runner: Runner
    """Runs commands as the lab user, with the lab's timeout scale."""
    layout: LabLayout
    """The lab's names (directory, net, sites)."""
    bins: Binaries
    """The base server binaries (PostgreSQL, MariaDB, Redis, sshd)."""
    record: Record
    """Records a started process in ``state.json``."""
    extra: Mapping[str, Path]
    """The profile's own programs, as :meth:`Profile.find_programs` found them."""

    @property
    def scale(self) -> float:
        """The timeout multiplier."""
        return self.runner.timeout_scale


class Profile(ABC):
    """One estate the lab can start. Subclasses are stateless: every method is pure or
    takes what it acts on.

    Attributes (class variables) name the profile; the methods say what it starts, where it
    listens, what inventory it writes and how to tell it is healthy.
    """

    name: ClassVar[str]
    """The name given to ``--profile``."""
    summary: ClassVar[str]
    """One line for ``drconsole lab profiles``."""
    inventory_name: ClassVar[str]
    """The inventory file name ``up`` writes under ``inventory/`` by default."""
    owned_entries: ClassVar[frozenset[str]] = frozenset()
    """Lab-directory entries the profile creates besides the sites' directories."""
    stop_signals: ClassVar[Mapping[str, int]] = {}
    """The clean-stop signal per process name (default SIGTERM)."""
    latency_sites: ClassVar[tuple[str, ...]] = ()
    """Sites whose replication links ``lab chaos latency`` can route through delay relays."""
    stop_last: ClassVar[frozenset[str]] = frozenset()
    """Process names stopped only after everything else is gone (a consensus store that the
    other servers still talk to while they shut down)."""

    @property
    def default_inventory(self) -> Path:
        """``inventory/<inventory_name>``."""
        return Path("inventory") / self.inventory_name

    def find_programs(self) -> dict[str, Path]:
        """The profile's own programs beyond :class:`Binaries` (etcd, Patroni ...).

        Raises:
            MissingBinaries: Naming every missing program and how to install it.
        """
        return {}

    @abstractmethod
    def endpoints(self, layout: LabLayout) -> list[tuple[str, str, int]]:
        """Every ``(site, address, port)`` the profile listens on once up (sshd included)."""

    def spare_ports(self, layout: LabLayout) -> list[tuple[str, int]]:
        """``(address, port)`` a drill may use for scratch servers; must be free too."""
        return []

    def all_ports(self, layout: LabLayout) -> list[tuple[str, int]]:
        """Every ``(address, port)`` that must be free before ``up`` and after ``down``."""
        return [(a, p) for _s, a, p in self.endpoints(layout)] + self.spare_ports(layout)

    @abstractmethod
    def directories(self, layout: LabLayout) -> list[Path]:
        """Directories to create (owned by the lab user) before anything starts."""

    def sshd_env(self, layout: LabLayout, site: SiteLayout, pgbin: Path) -> dict[str, str]:
        """Environment every SSH session on ``site`` gets (``SetEnv``)."""
        return {
            "DRLAB_SITE": site.name,
            "DRLAB_DIR": str(layout.directory),
            "PATH": f"{pgbin}:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
        }

    @abstractmethod
    def start_tasks(self, ctx: StartContext) -> dict[str, Callable[[], None]]:
        """Independent start-up tasks, run in parallel with the sshds; each records what
        it starts through ``ctx.record`` as soon as it runs and raises on failure."""

    @abstractmethod
    def write_inventory(
        self, ctx: StartContext, inventory: Path, known_hosts_lines: list[str]
    ) -> tuple[Path, Path]:
        """Write the inventory and its known_hosts; returns both absolute paths."""

    def health(self, layout: LabLayout, bins: Binaries, runner: Runner) -> list[str]:
        """What is wrong with the running lab, as sentences (empty: healthy).

        Asked by ``lab status`` (and by tests after a drill put the lab back). The default
        checks nothing beyond the processes, which ``lab status`` shows itself.
        """
        return []

    def stop_signal(self, name: str) -> int:
        """The signal that stops a process of this name cleanly."""
        return self.stop_signals.get(name, signal.SIGTERM)


def sshd_endpoints(layout: LabLayout) -> list[tuple[str, str, int]]:
    """One sshd per site, on the site's address."""
    return [(s, layout.site(s).address, SSH_PORT) for s in SITES]
