"""A Redis Cluster's own view (``CLUSTER NODES``, ``CLUSTER INFO``), judged per site.

A ``redis-cluster`` service manages itself: the masters serve the 16384 hash slots, each
replica follows one master, and the masters vote on failovers. What an operator must see
before a drill is whether every slot is served, where each master and its replicas are (a
master whose only replica is in its own site loses its slots with the site), which nodes are
suspected (``fail?``, pfail) or failed, and whether one site holds so many masters that losing
it leaves no majority to promote a replica. Each is a finding, WARN or CRIT, with its reason.

Every node is asked at once, from the console, over the Redis protocol, each with a deadline
(a dark site's nodes delay nothing but their own answers). Parsing and judging are pure
functions, tested on recorded output of the lab's cluster.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from console.model.inventory import Inventory, Service
from console.probes.managers import (
    NO_ANSWER,
    Finding,
    ManagedMember,
    ManagerView,
    RespError,
    ask_timeout,
    resp_commands,
)
from console.probes.sample import Health

SLOTS = 16384
"""Hash slots of a Redis Cluster."""
KIND = "redis-cluster"
"""The :attr:`ManagerView.kind` of a cluster's view."""


@dataclass(frozen=True)
class NodeEntry:
    """One line of ``CLUSTER NODES``."""

    node_id: str
    """The node's 40-character id."""
    address: str
    """The address it announces."""
    port: int
    """Its client port."""
    flags: frozenset[str]
    """``myself``, ``master``, ``slave``, ``fail?``, ``fail``, ``handshake``, ``noaddr`` ..."""
    master_id: str | None
    """The master a replica follows (None for a master)."""
    epoch: int
    """Its config epoch."""
    link: str
    """``connected`` or ``disconnected`` (the link of the answering node to it)."""
    slots: tuple[tuple[int, int], ...]
    """The slot ranges it serves (inclusive), masters only."""

    @property
    def endpoint(self) -> str:
        """``address:port``."""
        return f"{self.address}:{self.port}"

    @property
    def is_master(self) -> bool:
        """It says it is a master."""
        return "master" in self.flags

    @property
    def failed(self) -> bool:
        """The cluster agreed it failed (FAIL)."""
        return "fail" in self.flags

    @property
    def suspected(self) -> bool:
        """The answering node suspects it (PFAIL, ``fail?``)."""
        return "fail?" in self.flags

    @property
    def slot_count(self) -> int:
        """How many slots it serves."""
        return sum(hi - lo + 1 for lo, hi in self.slots)


def parse_nodes(text: str) -> list[NodeEntry]:
    """The lines of ``CLUSTER NODES`` (a line that is not one is skipped)."""
    out: list[NodeEntry] = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 8:
            continue
        addr = parts[1].split(",", 1)[0].split("@", 1)[0]
        host, _, port = addr.rpartition(":")
        if not port.isdigit():
            continue
        slots: list[tuple[int, int]] = []
        for r in parts[8:]:
            if r.startswith("["):  # a slot being imported or migrated
                continue
            lo, _, hi = r.partition("-")
            if lo.isdigit() and (not hi or hi.isdigit()):
                slots.append((int(lo), int(hi or lo)))
        out.append(
            NodeEntry(
                node_id=parts[0],
                address=host,
                port=int(port),
                flags=frozenset(parts[2].split(",")),
                master_id=None if parts[3] == "-" else parts[3],
                epoch=int(parts[6]) if parts[6].isdigit() else 0,
                link=parts[7],
                slots=tuple(slots),
            )
        )
    return out


def parse_info(text: str) -> dict[str, str]:
    """``CLUSTER INFO`` as a mapping."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.strip().partition(":")
        if sep:
            out[key] = value
    return out


def ranges(slots: Sequence[tuple[int, int]]) -> str:
    """``0-5460,10923-16383``."""
    return ",".join(f"{lo}-{hi}" if hi != lo else str(lo) for lo, hi in sorted(slots))


def _uncovered(served: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    nxt = 0
    for lo, hi in sorted(served):
        if lo > nxt:
            out.append((nxt, lo - 1))
        nxt = max(nxt, hi + 1)
    if nxt < SLOTS:
        out.append((nxt, SLOTS - 1))
    return out


@dataclass(frozen=True)
class ClusterAnswer:
    """What one node said."""

    nodes: tuple[NodeEntry, ...]
    """Its ``CLUSTER NODES``."""
    info: Mapping[str, str]
    """Its ``CLUSTER INFO``."""


@dataclass(frozen=True)
class Place:
    """Where an announced ``address:port`` is in the inventory."""

    node: str
    """The inventory's name of the node (``host:port``)."""
    site: str
    """Its site."""


def cluster_places(inventory: Inventory, service: Service) -> dict[str, Place]:
    """``address:port`` of each of the service's nodes -> its inventory name and site."""
    return {
        f"{inventory.hosts[n.host].address}:{n.port}": Place(n.name, inventory.hosts[n.host].site)
        for n in service.nodes
    }


def _signature(a: ClusterAnswer) -> frozenset[tuple[str, tuple[tuple[int, int], ...]]]:
    return frozenset((n.endpoint, n.slots) for n in a.nodes if n.is_master and n.slots)


def judge_cluster(
    service: str,
    answers: Mapping[str, ClusterAnswer | str],
    places: Mapping[str, Place],
    now: float,
) -> ManagerView:
    """Judge what the nodes said.

    Args:
        service: The service name.
        answers: Per inventory node (``host:port``), its answer or why it gave none.
        places: Announced ``address:port`` -> the inventory node and its site.
        now: When the answers came.
    """
    ok = {n: a for n, a in answers.items() if isinstance(a, ClusterAnswer)}
    silent = tuple((n, a) for n, a in answers.items() if isinstance(a, str))
    total = len(answers)
    if not ok:
        tried = "; ".join(f"{n}: {why}" for n, why in silent)
        return ManagerView(
            service,
            KIND,
            None,
            (),
            silent=silent,
            findings=(Finding(Health.CRIT, f"no cluster node answered ({tried})"),),
            taken_at=now,
            details={"summary": "no cluster node answered"},
        )
    findings: list[Finding] = []
    for n, why in silent:
        findings.append(
            Finding(Health.WARN, f"cluster node {n} does not answer ({len(ok)} of {total}): {why}")
        )
    sigs = Counter(_signature(a) for a in ok.values())
    ref_sig = sigs.most_common(1)[0][0]
    ref_name = next(n for n, a in ok.items() if _signature(a) == ref_sig)
    ref = ok[ref_name]
    if len(sigs) > 1:
        odd = sorted(n for n, a in ok.items() if _signature(a) != ref_sig)
        findings.append(
            Finding(
                Health.WARN,
                f"the nodes disagree about which master serves which slots ({', '.join(odd)} "
                f"differ from {ref_name}): a failover may be under way",
            )
        )

    def where(e: NodeEntry) -> str:
        p = places.get(e.endpoint)
        return f"{p.node} ({p.site})" if p else f"{e.endpoint} (not in the inventory)"

    def site(e: NodeEntry) -> str | None:
        p = places.get(e.endpoint)
        return p.site if p else None

    failing = [n for n, a in ok.items() if a.info.get("cluster_state", "?") != "ok"]
    if failing:
        states = ", ".join(f"{n}: {ok[n].info.get('cluster_state', '?')}" for n in failing)
        findings.append(
            Finding(Health.CRIT, f"cluster_state is not ok on {len(failing)} node(s) ({states})")
        )
    entries = list(ref.nodes)
    by_id = {e.node_id: e for e in entries}
    suspects: dict[str, list[str]] = {}
    for n, a in ok.items():
        for e in a.nodes:
            if e.suspected and not e.failed:
                suspects.setdefault(e.node_id, []).append(n)
    masters = sorted((e for e in entries if e.is_master and e.slots), key=lambda e: e.slots[0])
    served: list[tuple[int, int]] = []
    for m in masters:
        if not m.failed:
            served += m.slots
    missing = _uncovered(served)
    count = SLOTS - sum(hi - lo + 1 for lo, hi in missing)
    doubtful = sum(m.slot_count for m in masters if not m.failed and m.node_id in suspects)
    if missing:
        findings.append(
            Finding(
                Health.CRIT,
                f"{SLOTS - count} of {SLOTS} slots are not served ({ranges(missing)}): "
                "their keys can be neither read nor written",
            )
        )
    for e in entries:
        if e.failed:
            what = "master" if e.is_master else "replica"
            findings.append(
                Finding(
                    Health.CRIT if e.is_master and e.slots else Health.WARN,
                    f"{what} {where(e)} is marked failed (fail)",
                )
            )
        elif e.node_id in suspects:
            by = ", ".join(sorted(suspects[e.node_id]))
            findings.append(
                Finding(Health.WARN, f"node {where(e)} is suspected down (pfail) by {by}")
            )
        if e.endpoint not in places:
            findings.append(
                Finding(Health.WARN, f"cluster node {e.endpoint} is not in the inventory")
            )
    replicas_of: dict[str, list[NodeEntry]] = {}
    for e in entries:
        if not e.is_master and e.master_id is not None and not e.failed:
            replicas_of.setdefault(e.master_id, []).append(e)
    masters_of_site = Counter(site(m) for m in masters if not m.failed)
    majority = len(masters) // 2 + 1
    for m in masters:
        if m.failed:
            continue
        reps = replicas_of.get(m.node_id, [])
        if not reps:
            findings.append(
                Finding(
                    Health.WARN,
                    f"master {where(m)} has no working replica: if it fails, slots "
                    f"{ranges(m.slots)} are lost",
                )
            )
        elif site(m) is not None and all(site(r) == site(m) for r in reps):
            findings.append(
                Finding(
                    Health.WARN,
                    f"master {where(m)} has its only replica{'s' if len(reps) > 1 else ''} in "
                    f"its own site: losing {site(m)} loses slots {ranges(m.slots)}",
                )
            )
    for s, held in sorted(masters_of_site.items(), key=lambda kv: str(kv[0])):
        if s is not None and len(masters) - held < majority and len(masters) > 1:
            findings.append(
                Finding(
                    Health.WARN,
                    f"site {s} holds {held} of {len(masters)} masters: if it goes dark the others "
                    "are no majority and cannot promote a replica by themselves (only "
                    "CLUSTER FAILOVER TAKEOVER can)",
                )
            )
    members: list[ManagedMember] = []
    for e in entries:
        p = places.get(e.endpoint)
        flags = sorted(e.flags - {"myself", "master", "slave"})
        if e.is_master:
            state = f"slots {ranges(e.slots)}" if e.slots else "no slots"
        else:
            of = by_id.get(e.master_id or "")
            state = f"replica of {where(of) if of else e.master_id}"
        if flags:
            state += " " + ",".join(flags)
        members.append(
            ManagedMember(
                name=p.node if p else e.endpoint,
                address=e.address,
                port=e.port,
                role="master" if e.is_master else "replica",
                state=state,
            )
        )

    def name(e: NodeEntry) -> str:
        p = places.get(e.endpoint)
        return p.node if p else e.endpoint

    placement = [
        {
            "node": name(m),
            "site": site(m),
            "slots": ranges(m.slots),
            "failed": m.failed,
            "replicas": [
                {"node": name(r), "site": site(r)} for r in replicas_of.get(m.node_id, [])
            ],
        }
        for m in masters
    ]
    state_word = ref.info.get("cluster_state", "?")
    head = f"{count} of {SLOTS} slots served" + (
        f" ({doubtful} by suspected masters)" if doubtful else ""
    )
    summary = f"{head}, cluster_state {state_word}; " + ", ".join(
        f"master {where(m)} -> "
        + (", ".join(where(r) for r in replicas_of.get(m.node_id, [])) or "no replica")
        for m in masters
        if not m.failed
    )
    return ManagerView(
        service,
        KIND,
        None,
        tuple(members),
        answered=tuple(ok),
        silent=silent,
        findings=tuple(findings),
        taken_at=now,
        details={
            "summary": summary,
            "slots_served": count,
            "slots_suspected": doubtful,
            "cluster_state": {n: a.info.get("cluster_state", "?") for n, a in ok.items()},
            "masters": placement,
            "view_of": ref_name,
        },
    )


async def ask_cluster(
    nodes: Sequence[tuple[str, str, int]], timeout: float, silent: Collection[str] = ()
) -> tuple[dict[str, ClusterAnswer | str], float]:
    """``CLUSTER NODES`` and ``CLUSTER INFO`` of every node at once.

    Args:
        nodes: ``(inventory name, address, port)`` of each node.
        timeout: Seconds per node.
        silent: Nodes that gave no answer last time: they get
            :data:`console.probes.managers.SILENT_TIMEOUT`.

    Returns:
        Per node, its answer or why it gave none; and when the answers came.
    """

    async def one(name: str, address: str, port: int) -> ClusterAnswer | str:
        limit = ask_timeout(name, timeout, silent)
        try:
            text, info = await resp_commands(
                address, port, [["CLUSTER", "NODES"], ["CLUSTER", "INFO"]], limit
            )
        except TimeoutError:
            return f"{NO_ANSWER} {limit:g}s"
        except (OSError, ConnectionError) as exc:
            return str(exc) or type(exc).__name__
        if isinstance(text, RespError) or isinstance(info, RespError):
            return f"not a cluster node: {text if isinstance(text, RespError) else info}"
        return ClusterAnswer(tuple(parse_nodes(str(text))), parse_info(str(info)))

    replies = await asyncio.gather(*(one(n, a, p) for n, a, p in nodes))
    return {n: r for (n, _a, _p), r in zip(nodes, replies, strict=True)}, time.time()
