"""A service's ``backup:``: which tool keeps its backups and log archive, and where.

Point-in-time recovery and the recoverable window need to know how a service is backed up:
the tool (pgBackRest for PostgreSQL), its own name for the service (a pgBackRest stanza), the
inventory host that holds the repository (the drills restore there, the status sweep asks it
for the window) and, optionally, the tool's configuration file on that host. The loader checks
each of these with a location, like every other inventory field.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from console.errors import Location
from console.model.enums import BACKUP_TOOLS
from console.model.reader import MapView, Problems, suggest
from console.model.yamlsrc import Node

BACKUP_KEYS = ("tool", "stanza", "repo_host", "config", "path")
"""The keys of ``backup:``."""
TOOL_KINDS: Mapping[str, tuple[str, ...]] = {
    "pgbackrest": ("postgres",),
    "mariadb-backup": ("mysql",),
    "redis-aof": ("redis",),
}
"""The service kinds each tool backs up."""
_STANZA = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*\Z")


@dataclass(frozen=True)
class BackupSettings:
    """How a service is backed up (``services.NAME.backup``)."""

    tool: str
    """``pgbackrest`` (WAL archive and backups in a repository) or ``redis-aof`` (the primary's
    timestamped append-only file, cut at a point in time on a copy)."""
    stanza: str | None
    """pgBackRest's name for the service (``--stanza``)."""
    repo_host: str
    """The inventory host that holds the repository (restores run there); for ``redis-aof``
    the host where copies are restored."""
    config: str | None
    """The tool's configuration file on ``repo_host`` (the tool's default when None)."""
    loc: Location
    """Where ``backup:`` is written."""
    path: str | None = None
    """Where the tool's base backup lives on ``repo_host`` (``mariadb-backup``: a prepared
    ``--target-dir``)."""

    def view(self) -> dict[str, Any]:
        """What templates see as ``service.backup``."""
        return {
            "tool": self.tool,
            "stanza": self.stanza,
            "repo_host": self.repo_host,
            "config": self.config,
            "path": self.path,
        }


def build_backup(
    node: Node | None,
    service: str,
    kind: str,
    hosts: Mapping[str, object],
    problems: Problems,
) -> BackupSettings | None:
    """Read ``backup:`` of ``service`` (None when it has none or it is unusable).

    Args:
        node: The ``backup:`` node, if present.
        service: The service's name (for messages).
        kind: The service's kind (a tool backs up only its own kind).
        hosts: The inventory's hosts by name.
        problems: Where located problems are added.
    """
    if node is None or node.value is None:
        return None
    what = f"backup of {service!r}"
    view = MapView(node, what, BACKUP_KEYS, problems, required=("tool", "repo_host"))
    if not view.ok:
        return None
    before = len(problems.errors)
    tool = view.choice("tool", BACKUP_TOOLS)
    tool_node = view.get("tool")
    if tool is not None and kind not in TOOL_KINDS[tool] and tool_node is not None:
        problems.add(
            f"{what}: {tool} backs up services of kind {', '.join(TOOL_KINDS[tool])}, not {kind}",
            tool_node.loc,
        )
    stanza = view.text("stanza")
    stanza_node = view.get("stanza")
    if stanza is not None and stanza_node is not None and not _STANZA.match(stanza):
        problems.add(
            f"stanza {stanza!r} in {what} must start with a letter or digit and hold only "
            "letters, digits, '.', '_' and '-'",
            stanza_node.loc,
        )
    if tool == "pgbackrest" and stanza is None:
        problems.add(f"{what}: pgbackrest needs 'stanza' (its --stanza name)", node.loc)
    repo_host = view.text("repo_host")
    repo_node = view.get("repo_host")
    if repo_host is not None and repo_host not in hosts and repo_node is not None:
        problems.add(
            f"repo_host {repo_host!r} in {what} is not a host of the inventory"
            f"{suggest(repo_host, hosts)}",
            repo_node.loc,
        )
    config = view.text("config")
    config_node = view.get("config")
    if config is not None and config_node is not None and not config.startswith("/"):
        problems.add(
            f"config {config!r} in {what} must be an absolute path on the repository host",
            config_node.loc,
        )
    path = view.text("path")
    path_node = view.get("path")
    if path is not None and path_node is not None and not path.startswith("/"):
        problems.add(
            f"path {path!r} in {what} must be an absolute path on the repository host",
            path_node.loc,
        )
    if tool == "mariadb-backup" and path is None:
        problems.add(f"{what}: mariadb-backup needs 'path' (its base backup's directory)", node.loc)
    if len(problems.errors) > before or tool is None or repo_host is None:
        return None
    return BackupSettings(tool, stanza, repo_host, config, node.loc, path)
