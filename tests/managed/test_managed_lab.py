"""The ``managed`` lab profile, for real: etcd quorum, Patroni, Sentinel, chaos and health.

Runs against the package's one managed lab (``conftest.py``). Tests that darken a site bring
it back and wait until the lab is healthy again.
"""

from __future__ import annotations

import json
import subprocess
import urllib.request
from pathlib import Path

import pytest

from console.lab import etcd, patroni, sentinel
from console.lab.layout import LabLayout
from console.lab.procs import ProcState, is_listening, wait_until
from console.lab.profiles import get_profile
from console.model.inventory import load_inventory
from tests.managed.cluster_support import cluster_back
from tests.support.lab import RunningLab, requires_profile

pytestmark = [requires_profile("managed"), pytest.mark.lab]


def _cluster(lab: RunningLab, site: str = "east") -> dict[str, object]:
    url = f"http://{lab.addresses[site]}:{patroni.REST_PORT}/cluster"
    with urllib.request.urlopen(url, timeout=10) as resp:
        data: dict[str, object] = json.loads(resp.read().decode())
    return data


def _healthy(lab: RunningLab) -> bool:
    return lab.lab.health() == []


def test_every_process_runs_and_listens(managed: RunningLab) -> None:
    rows = managed.lab.status()
    names = sorted((s.record.site, s.record.name) for s in rows)
    for site in ("east", "west", "dr"):
        for name in ("sshd", "etcd", "patroni", "sentinel"):
            assert (site, name) in names, names
    assert ("east", "redis") in names and ("west", "redis") in names
    assert all(s.state is ProcState.ALIVE and s.listening for s in rows), rows
    assert managed.up.state.profile == "managed"
    assert managed.inventory.name == "lab-managed.yaml"


def test_patroni_cluster_as_documented(managed: RunningLab) -> None:
    data = _cluster(managed)
    members = {m["name"]: m for m in data["members"]}  # type: ignore[attr-defined]
    assert members["pg-east"]["role"] == "leader"
    assert members["pg-west"]["role"] == "replica"
    assert members["pg-west"]["state"] == "streaming"
    assert members["pg-dr"]["state"] == "streaming"
    assert members["pg-dr"]["tags"] == {"nofailover": True}
    assert "nofailover" not in members["pg-west"].get("tags", {})
    assert not data.get("pause")


def test_etcd_has_three_healthy_members(managed: RunningLab) -> None:
    layout = LabLayout.create(managed.lab.directory, managed.net)
    assert all(etcd.healthy(m) for m in etcd.members(layout))
    done = subprocess.run(
        ["etcdctl", f"--endpoints={etcd.endpoints(layout)}", "member", "list", "-w", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert len(json.loads(done.stdout)["members"]) == 3


def test_sentinels_agree_and_see_each_other(managed: RunningLab) -> None:
    for site, address in managed.addresses.items():
        out = subprocess.run(
            [
                "redis-cli",
                "-h",
                address,
                "-p",
                str(sentinel.SENTINEL_PORT),
                "SENTINEL",
                "MASTER",
                sentinel.MASTER_NAME,
            ],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout.split("\n")
        fields = dict(zip(out[0::2], out[1::2], strict=False))
        assert fields["ip"] == managed.addresses["east"], (site, fields)
        assert fields["num-other-sentinels"] == "2" and fields["quorum"] == "2"
        assert fields["num-slaves"] == "2"
        # the replicas are known by their site addresses, not 127.0.0.1 (bind-source-addr)
        replicas = subprocess.run(
            [
                "redis-cli",
                "-h",
                address,
                "-p",
                str(sentinel.SENTINEL_PORT),
                "SENTINEL",
                "REPLICAS",
                sentinel.MASTER_NAME,
            ],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout
        assert managed.addresses["west"] in replicas and managed.addresses["dr"] in replicas
        assert "127.0.0.1" not in replicas


def test_inventory_validates_and_names_every_member(managed: RunningLab) -> None:
    inv = load_inventory(managed.inventory)
    pg = inv.services["orders-db"]
    assert sorted(pg.members) == ["lab-dr", "lab-east", "lab-west"]
    assert pg.expected_primary == "lab-east"
    assert pg.members["lab-west"].vars["patroni_api"].endswith(f":{patroni.REST_PORT}")
    assert sorted(inv.services["sessions"].members) == ["lab-dr", "lab-east", "lab-west"]


def test_lab_health_is_clean(managed: RunningLab) -> None:
    assert managed.lab.health() == []


def test_chaos_down_darkens_every_manager_and_cluster_node_of_the_site(managed: RunningLab) -> None:
    lab = managed.lab
    pids = lab.chaos_down("dr")
    try:
        dark = {s.record.name: s.state for s in lab.status() if s.record.site == "dr"}
        assert dark == {
            "sshd": ProcState.STOPPED,
            "etcd": ProcState.STOPPED,
            "patroni": ProcState.STOPPED,
            "redis": ProcState.STOPPED,
            "sentinel": ProcState.STOPPED,
            "cluster-16700": ProcState.STOPPED,
            "cluster-16701": ProcState.STOPPED,
        }
        # the site's PostgreSQL (Patroni's child) is frozen too
        layout = LabLayout.create(lab.directory, managed.net)
        pm = layout.site("dr").pgdata / "postmaster.pid"
        pg_pid = int(pm.read_text().split()[0])
        assert pg_pid in pids
        # the two other etcd members still form a quorum (after an election if dr led)
        east = etcd.members(layout)[0]
        assert wait_until(lambda: etcd.healthy(east, timeout=10), 120, interval=1)
    finally:
        lab.chaos_up("dr")
    assert cluster_back(managed) == []
    assert wait_until(lambda: _healthy(managed), 120, interval=1), lab.health()


def test_profile_ports_cover_what_listens(managed: RunningLab) -> None:
    layout = LabLayout.create(managed.lab.directory, managed.net)
    ports = get_profile("managed").all_ports(layout)
    assert all(is_listening(a, p) for a, p in ports), [
        (a, p) for a, p in ports if not is_listening(a, p)
    ]


def test_missing_patroni_is_exit_2_naming_make_patroni(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from console.lab.errors import MissingBinaries
    from console.lab.profiles import managed as managed_profile

    monkeypatch.setenv(managed_profile.ENV_PATRONI_VENV, str(tmp_path / "none"))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(MissingBinaries, match=r"patroni.*make patroni") as info:
        managed_profile.ManagedProfile().find_programs()
    assert info.value.exit_code == 2


def test_inventory_says_who_manages_each_service(managed: RunningLab) -> None:
    inv = load_inventory(managed.inventory)
    pg = inv.services["orders-db"].managed_by
    assert pg is not None and pg.kind == "patroni"
    assert pg.api == tuple(
        f"http://{managed.addresses[s]}:{patroni.REST_PORT}" for s in ("east", "west", "dr")
    )
    rd = inv.services["sessions"].managed_by
    assert rd is not None and rd.kind == "sentinel" and rd.master == sentinel.MASTER_NAME
    assert rd.sentinels == tuple(
        (managed.addresses[s], sentinel.SENTINEL_PORT) for s in ("east", "west", "dr")
    )
