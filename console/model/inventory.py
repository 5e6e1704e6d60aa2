"""The inventory: sites, hosts, SSH settings and replication groups, as README's "Inventory"
documents the file.

Immutable values built from a located YAML tree. The loader checks everything it can without
touching the network: unknown keys, types, durations, members naming unknown hosts, a host in
two sites, a jump host that does not exist, more than one expected primary.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType

from console.errors import InputErrors, Location
from console.model.backup import BackupSettings, build_backup
from console.model.cluster import CLUSTER_KIND, ClusterNode, build_cluster_nodes
from console.model.enums import MEMBER_ROLES, SERVICE_KINDS, SITE_ROLES, SSH_BACKENDS
from console.model.managed import ManagedBy, build_managed_by
from console.model.reader import MapView, Problems, suggest
from console.model.topology import MEMBER_TOPOLOGY_KEYS, Topology, read_topology
from console.model.yamlsrc import Node, Source, load_file
from console.notify.targets import NotifyTarget, read_targets

BACKENDS = SSH_BACKENDS
DEFAULT_PORTS = {"postgres": 5432, "mysql": 3306, "redis": 6379}
"""The port a member of each kind listens on unless it says otherwise; a ``custom`` member
has none (its probe is a command, which may not connect to anything)."""
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")

_SSH_KEYS = (
    "user",
    "identity_file",
    "known_hosts",
    "connect_timeout",
    "command_timeout",
    "jump",
    "backend",
    "lock_dir",
)


def _frozen(d: Mapping[str, str]) -> Mapping[str, str]:
    return MappingProxyType(dict(d))


@dataclass(frozen=True)
class SshSettings:
    """How to reach a host. Inventory-wide defaults; a host may override any key."""

    user: str | None = None
    identity_file: str | None = None
    known_hosts: str | None = None
    """Strict host-key checking against this file (``~/.ssh/known_hosts`` when unset)."""
    connect_timeout: float = 10.0
    command_timeout: float | None = None
    jump: str | None = None
    """An inventory host to hop through (ProxyJump)."""
    backend: str = "asyncssh"
    lock_dir: str = "/var/tmp/drconsole-locks"
    """Where the remote half of a service lock is made (an atomic ``mkdir``)."""


@dataclass(frozen=True)
class Host:
    """One machine reachable over SSH."""

    name: str
    site: str
    address: str
    port: int
    tags: tuple[str, ...]
    ssh: SshSettings
    vars: Mapping[str, str]
    description: str | None
    loc: Location


@dataclass(frozen=True)
class Site:
    """A data center and its intended role."""

    name: str
    role: str
    description: str | None
    hosts: tuple[str, ...]
    loc: Location
    city: str | None = None
    """The city (or region) it is in: sites of one city are "same city", others remote."""


@dataclass(frozen=True)
class Member:
    """A host's part in a replication group."""

    host: str
    port: int | None
    """The database's TCP port; None for a ``custom`` member that names none."""
    role: str
    """The role the inventory expects: ``primary`` or ``replica``."""
    address: str | None
    """Where the database listens as seen from its own host; None means the host's address."""
    vars: Mapping[str, str]
    loc: Location


@dataclass(frozen=True)
class ProbeSettings:
    """How the status probe talks to the database on each member's host."""

    user: str | None = None
    database: str | None = None
    password_env: str | None = None
    command: str | None = None
    timeout: float = 10.0
    socket: str | None = None


@dataclass(frozen=True)
class Thresholds:
    """When a replica's lag is a warning or critical."""

    lag_warn: float | None = None
    lag_crit: float | None = None
    lag_bytes_warn: int | None = None
    lag_bytes_crit: int | None = None
    stale_after: float = 30.0
    """A sample older than this is shown as stale."""


@dataclass(frozen=True)
class Service:
    """A replication group."""

    name: str
    kind: str
    description: str | None
    members: Mapping[str, Member]
    probe: ProbeSettings
    thresholds: Thresholds
    loc: Location
    topology: Topology = field(default_factory=Topology)
    """The declared replication shape (``console.model.topology``)."""
    backup: BackupSettings | None = None
    """How the service is backed up (``backup:``), if the inventory says."""
    managed_by: ManagedBy | None = None
    """The HA manager that owns the service's failovers (``managed_by:``), if any."""
    verify_every: float | None = None
    """A successful restore verification is due at least this often (``verify_every:``)."""
    cooldown: float | None = None
    """Seconds after a failover or switchover of this service finished during which another
    one is refused at preflight (team-wide, from the audit store); None: no cooldown."""
    nodes: tuple[ClusterNode, ...] = ()
    """A ``redis-cluster`` service's nodes (``nodes:``); such a service has no members."""

    @property
    def expected_primary(self) -> str | None:
        """The host the inventory names as primary, if any."""
        for m in self.members.values():
            if m.role == "primary":
                return m.host
        return None


@dataclass(frozen=True)
class Inventory:
    """A whole estate."""

    name: str
    path: str
    digest: str
    description: str | None
    ssh: SshSettings
    vars: Mapping[str, str]
    sites: Mapping[str, Site]
    hosts: Mapping[str, Host]
    services: Mapping[str, Service]
    tags: frozenset[str] = field(default_factory=frozenset)
    notify: tuple[NotifyTarget, ...] = ()
    """Where runs and ``status --watch`` send notifications (apprise URLs, ``notify:``)."""

    def host_site(self, host: str) -> str:
        """The site a host belongs to."""
        return self.hosts[host].site


def _ssh_settings(
    node: Node | None, base: SshSettings, what: str, problems: Problems
) -> tuple[SshSettings, dict[str, Location]]:
    if node is None or node.value is None:
        return base, {}
    view = MapView(node, what, _SSH_KEYS, problems)
    if not view.ok:
        return base, {}
    changes: dict[str, object] = {}
    for key in ("user", "identity_file", "known_hosts", "jump", "lock_dir"):
        if view.has(key):
            changes[key] = view.text(key)
    if view.has("connect_timeout"):
        changes["connect_timeout"] = view.duration("connect_timeout", base.connect_timeout)
    if view.has("command_timeout"):
        changes["command_timeout"] = view.duration("command_timeout")
    if view.has("backend"):
        changes["backend"] = view.choice("backend", BACKENDS, base.backend)
    locs = {k: node.key_loc(k) for k in changes}
    return replace(base, **changes), locs  # type: ignore[arg-type]


def _check_name(name: str, what: str, loc: Location, problems: Problems) -> None:
    if not _NAME.match(name):
        problems.add(
            f"{what} name {name!r} must start with a letter or digit and hold only "
            "letters, digits, '.', '_' and '-'",
            loc,
        )


def build_inventory(source: Source) -> Inventory:
    """Build an :class:`Inventory` from a loaded file.

    Raises:
        InputErrors: every problem found, each located.
    """
    problems = Problems()
    root = source.root
    top = MapView(
        root,
        "the inventory",
        ("version", "name", "description", "ssh", "vars", "sites", "services", "notify"),
        problems,
        required=("version", "name", "sites"),
    )
    if not top.ok:
        raise InputErrors(problems.errors)
    _check_version(top, problems)
    name = top.text("name") or Path(source.path).stem
    ssh, _ = _ssh_settings(top.get("ssh"), SshSettings(), "ssh", problems)
    inv_vars = top.scalar_map("vars")

    sites: dict[str, Site] = {}
    hosts: dict[str, Host] = {}
    host_jump_locs: dict[str, Location] = {}
    for site_name, site_node, site_loc in top.map_items("sites"):
        _check_name(site_name, "site", site_loc, problems)
        sv = MapView(
            site_node,
            f"site {site_name!r}",
            ("role", "description", "hosts", "city"),
            problems,
            required=("role", "hosts"),
        )
        if not sv.ok:
            continue
        role = sv.choice("role", SITE_ROLES, "primary") or "primary"
        names: list[str] = []
        for host_name, host_node, host_loc in sv.map_items("hosts"):
            _check_name(host_name, "host", host_loc, problems)
            if host_name in hosts:
                other = hosts[host_name]
                problems.add(
                    f"host {host_name!r} is in two sites: {other.site!r} "
                    f"(line {other.loc.line}) and {site_name!r}",
                    host_loc,
                )
                continue
            hv = MapView(
                host_node,
                f"host {host_name!r}",
                ("address", "port", "tags", "ssh", "vars", "description"),
                problems,
                required=("address",),
            )
            if not hv.ok:
                continue
            host_ssh, locs = _ssh_settings(
                hv.get("ssh"), ssh, f"ssh of host {host_name!r}", problems
            )
            if "jump" in locs:
                host_jump_locs[host_name] = locs["jump"]
            port = hv.integer("port", 22, minimum=1, maximum=65535) or 22
            hosts[host_name] = Host(
                name=host_name,
                site=site_name,
                address=hv.text("address") or "",
                port=port,
                tags=hv.str_list("tags"),
                ssh=host_ssh,
                vars=_frozen(hv.scalar_map("vars")),
                description=hv.text("description"),
                loc=host_loc,
            )
            names.append(host_name)
        sites[site_name] = Site(
            site_name, role, sv.text("description"), tuple(names), site_loc, sv.text("city")
        )

    root_jump = root.value.get("ssh")
    for host in hosts.values():
        if host.ssh.jump is None:
            continue
        if host.ssh.jump not in hosts:
            loc = host_jump_locs.get(host.name) or (
                root_jump.key_loc("jump")
                if root_jump is not None and root_jump.is_map
                else host.loc
            )
            problems.add(
                f"jump host {host.ssh.jump!r} of {host.name!r} is not in the inventory", loc
            )
        elif host.ssh.jump == host.name:
            if host.name in host_jump_locs:
                problems.add(
                    f"host {host.name!r} cannot jump through itself", host_jump_locs[host.name]
                )
            else:
                # The inventory-wide jump host itself connects directly.
                hosts[host.name] = replace(host, ssh=replace(host.ssh, jump=None))

    services: dict[str, Service] = {}
    for svc_name, svc_node, svc_loc in top.map_items("services"):
        _check_name(svc_name, "service", svc_loc, problems)
        service = _build_service(svc_name, svc_node, svc_loc, hosts, problems)
        if service is not None:
            services[svc_name] = service

    # Every field is read before this line: a problem found later would be dropped silently.
    description = top.text("description")
    notify = read_targets(top, "notify", problems)
    if problems:
        raise InputErrors(problems.errors)
    tags = frozenset(t for h in hosts.values() for t in h.tags)
    return Inventory(
        name=name,
        path=source.path,
        digest=source.digest,
        description=description,
        ssh=ssh,
        vars=_frozen(inv_vars),
        sites=MappingProxyType(sites),
        hosts=MappingProxyType(hosts),
        services=MappingProxyType(services),
        tags=tags,
        notify=notify,
    )


def _check_version(top: MapView, problems: Problems) -> None:
    node = top.get("version")
    if node is not None and node.value != 1:
        problems.add(
            f"unsupported version {node.value!r}: this drconsole reads version 1", node.loc
        )


def _build_service(
    name: str, node: Node, loc: Location, hosts: Mapping[str, Host], problems: Problems
) -> Service | None:
    sv = MapView(
        node,
        f"service {name!r}",
        (
            "kind",
            "description",
            "members",
            "probe",
            "thresholds",
            "topology",
            "backup",
            "managed_by",
            "verify_every",
            "cooldown",
            "nodes",
        ),
        problems,
        required=("kind",),
    )
    if not sv.ok:
        return None
    raw_kind = sv.get("kind")
    is_cluster = raw_kind is not None and raw_kind.value == CLUSTER_KIND
    if not is_cluster and not sv.has("members"):
        problems.add(f"service {name!r} needs 'members'", node.loc)
    kind = sv.choice("kind", SERVICE_KINDS, "custom") or "custom"
    nodes: tuple[ClusterNode, ...] = ()
    if is_cluster:
        if sv.has("members"):
            problems.add(
                f"service {name!r} of kind {CLUSTER_KIND} lists its nodes under 'nodes', "
                "not 'members' (which node is a master changes with every failover)",
                node.key_loc("members"),
            )
        nodes = build_cluster_nodes(sv, name, hosts, problems)
    elif sv.has("nodes"):
        problems.add(
            f"'nodes' of {name!r} is for kind {CLUSTER_KIND} services, not {kind}",
            node.key_loc("nodes"),
        )
    members: dict[str, Member] = {}
    primaries: list[str] = []
    read: list[tuple[str, Node, str]] = []
    for host_name, mnode, mloc in sv.map_items("members"):
        if host_name not in hosts:
            problems.add(
                f"member {host_name!r} of service {name!r} is not a host of the inventory"
                + _suggest_host(host_name, hosts),
                mloc,
            )
            continue
        mv = MapView(
            mnode,
            f"member {host_name!r} of {name!r}",
            ("port", "role", "address", "vars", *MEMBER_TOPOLOGY_KEYS),
            problems,
            required=("role",),
        )
        if not mv.ok:
            continue
        role = mv.choice("role", MEMBER_ROLES, "replica") or "replica"
        read.append((host_name, mnode, role))
        if role == "primary":
            primaries.append(host_name)
        port = mv.integer("port", DEFAULT_PORTS.get(kind), minimum=1, maximum=65535)
        members[host_name] = Member(
            host_name, port, role, mv.text("address"), _frozen(mv.scalar_map("vars")), mloc
        )
    topology = read_topology(name, kind, sv, read, problems)
    if len(primaries) > 1 and topology.shape != "multi-primary":
        problems.add(f"service {name!r} expects more than one primary: {', '.join(primaries)}", loc)
    probe = ProbeSettings()
    pn = sv.get("probe")
    if pn is not None and pn.value is not None:
        pv = MapView(
            pn,
            f"probe of {name!r}",
            ("user", "database", "password_env", "command", "timeout", "socket"),
            problems,
        )
        password_env = pv.text("password_env")
        if password_env is not None and not _ENV_NAME.match(password_env):
            en = pv.get("password_env")
            assert en is not None
            problems.add(
                f"password_env {password_env!r} of {name!r} is not an environment variable name "
                "(letters, digits and '_', not starting with a digit)",
                en.loc,
            )
            password_env = None
        probe = ProbeSettings(
            user=pv.text("user"),
            database=pv.text("database"),
            password_env=password_env,
            command=pv.text("command"),
            timeout=pv.duration("timeout", 10.0) or 10.0,
            socket=pv.text("socket"),
        )
    if kind == "custom" and not probe.command:
        kn = sv.get("kind")
        problems.add(
            f"service {name!r} of kind custom needs probe: {{command: ...}}",
            kn.loc if kn is not None else loc,
        )
    thresholds = Thresholds()
    tn = sv.get("thresholds")
    if tn is not None and tn.value is not None:
        tv = MapView(
            tn,
            f"thresholds of {name!r}",
            ("lag_warn", "lag_crit", "lag_bytes_warn", "lag_bytes_crit", "stale_after"),
            problems,
        )
        thresholds = Thresholds(
            lag_warn=tv.duration("lag_warn"),
            lag_crit=tv.duration("lag_crit"),
            lag_bytes_warn=tv.integer("lag_bytes_warn", minimum=0),
            lag_bytes_crit=tv.integer("lag_bytes_crit", minimum=0),
            stale_after=tv.duration("stale_after", 30.0) or 30.0,
        )
        if (
            thresholds.lag_warn is not None
            and thresholds.lag_crit is not None
            and thresholds.lag_warn > thresholds.lag_crit
        ):
            problems.add(f"lag_warn of {name!r} is above its lag_crit", tn.loc)
    backup = build_backup(sv.get("backup"), name, kind, hosts, problems)
    managed_by = None
    mbn = sv.get("managed_by")
    if mbn is not None and mbn.value is not None:
        managed_by = build_managed_by(mbn, name, kind, problems)
    verify_every = sv.duration("verify_every")
    vn = sv.get("verify_every")
    if verify_every is not None and verify_every <= 0 and vn is not None:
        problems.add(f"verify_every of {name!r} must be more than 0", vn.loc)
        verify_every = None
    return Service(
        name,
        kind,
        sv.text("description"),
        MappingProxyType(members),
        probe,
        thresholds,
        loc,
        topology,
        backup,
        managed_by,
        verify_every=verify_every,
        cooldown=sv.duration("cooldown") or None,
        nodes=nodes,
    )


def _suggest_host(name: str, hosts: Mapping[str, Host]) -> str:
    return suggest(name, hosts)


def load_inventory(path: Path | str) -> Inventory:
    """Load and check an inventory file.

    Raises:
        InputError: the file cannot be read or parsed (located).
        InputErrors: the content has problems (each located).
    """
    return build_inventory(load_file(path))
