"""From inventory entries to what the transport and the probes need.

The inventory says how a person thinks of the estate (sites, hosts, members); the SSH pool
wants an :class:`SshTarget` and a probe wants a :class:`ProbeTarget`. This is the one place
that translates, so every caller reaches a host the same way (jump host, key, known_hosts).
It sits below both ``console.status`` (which probes members) and ``console.engine`` (which
runs commands and uses the status), and imports neither.
"""

from __future__ import annotations

from collections.abc import Mapping

from console.model.inventory import Host, Inventory, Member, Service
from console.probes.health import Thresholds as ProbeThresholds
from console.probes.sample import ProbeTarget
from console.ssh.target import SshTarget


def ssh_target(
    inventory: Inventory, host: str | Host, _seen: frozenset[str] = frozenset()
) -> SshTarget:
    """The SSH endpoint of an inventory host, its jump host resolved recursively."""
    h = inventory.hosts[host] if isinstance(host, str) else host
    jump = None
    if h.ssh.jump and h.ssh.jump not in _seen and h.ssh.jump in inventory.hosts:
        jump = ssh_target(inventory, h.ssh.jump, _seen | {h.name})
    return SshTarget(
        name=h.name,
        address=h.address,
        port=h.port,
        user=h.ssh.user,
        identity_file=h.ssh.identity_file,
        known_hosts=h.ssh.known_hosts,
        connect_timeout=h.ssh.connect_timeout,
        jump=jump,
        backend="paramiko" if h.ssh.backend == "paramiko" else "asyncssh",
    )


def member_address(inventory: Inventory, member: Member) -> str:
    """Where a member's database listens (its own address, else its host's)."""
    return member.address or inventory.hosts[member.host].address


def probe_target(inventory: Inventory, service: Service, member: Member) -> ProbeTarget:
    """What the probe of ``service`` needs to observe ``member``."""
    host = inventory.hosts[member.host]
    return ProbeTarget(
        service=service.name,
        site=host.site,
        host=host.name,
        kind=service.kind,
        address=member_address(inventory, member),
        port=member.port,
        user=service.probe.user,
        database=service.probe.database,
        password_env=service.probe.password_env,
        command=service.probe.command,
        socket=service.probe.socket,
    )


def probe_thresholds(service: Service) -> ProbeThresholds:
    """The service's thresholds in the probes' terms."""
    t = service.thresholds
    return ProbeThresholds(
        lag_warn=t.lag_warn,
        lag_crit=t.lag_crit,
        lag_bytes_warn=t.lag_bytes_warn,
        lag_bytes_crit=t.lag_bytes_crit,
    )


def merged_vars(inventory: Inventory, host: str, member: Member | None) -> dict[str, str]:
    """Template variables for a host: inventory vars, then the host's, then the member's."""
    out: dict[str, str] = dict(inventory.vars)
    out.update(inventory.hosts[host].vars)
    if member is not None:
        out.update(member.vars)
    return out


def members_by_site(service: Service, inventory: Inventory) -> Mapping[str, Member]:
    """The first member of ``service`` in each site."""
    out: dict[str, Member] = {}
    for m in service.members.values():
        out.setdefault(inventory.hosts[m.host].site, m)
    return out
