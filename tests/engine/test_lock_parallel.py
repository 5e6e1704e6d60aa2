"""A run that locks several services takes their remote locks at once, and a lock held on one
of them still stops the run (exit 4) with every lock it took released.

Real sshd hosts (the ``estate``): ``svc`` on both hosts and a second service ``svc2`` on h-west
only, so their lock directories differ. Another run's lock on ``svc2`` is planted on h-west
the way a console on another laptop leaves it (an owner file in the lock directory).
"""

from __future__ import annotations

import json
import os
import shutil

from console.audit.store import AuditStore
from tests.engine.conftest import ONE_BACKEND, Estate
from tests.engine.scripted_env import run_id_of

SECOND_SERVICE = """
  svc2:
    kind: custom
    members:
      h-west: {{port: 1, role: primary}}
    probe: {{command: 'cat {work}/role-$DRLAB_SITE.json', timeout: 5s}}
"""

BOTH = """
version: 1
name: both
kind: custom
service: svc
preflight:
  - title: svc2's primary is at west
    role: {service: svc2, site: west, role: primary}
steps:
  - id: quick
    on: h-east
    run: echo quick
"""

OTHER_RUN = "01OTHERRUNOTHERRUNOTHERRUN"


@ONE_BACKEND
def test_a_lock_held_on_the_second_service_releases_the_first(fresh_audit: Estate) -> None:
    est = fresh_audit
    inventory = est.base / "two-services.yaml"
    inventory.write_text(est.inventory.read_text() + SECOND_SERVICE.format(work=est.work))
    locks = est.work / "locks"
    locks.mkdir(exist_ok=True)
    locks.chmod(0o777)
    held = locks / "svc2"
    shutil.rmtree(locks / "svc", ignore_errors=True)
    shutil.rmtree(held, ignore_errors=True)
    held.mkdir()
    owner = {
        "run_id": OTHER_RUN,
        "operator": "someone",
        "pid": "4242",
        "hostname": "laptop-elsewhere",
        "since": "2026-12-04T10:00:00Z",
    }
    (held / "owner").write_text(json.dumps(owner))
    try:
        proc = est.run("run", str(est.playbook("both", BOTH)), "-i", str(inventory))
        said = proc.stdout + proc.stderr
        assert proc.returncode == 4, said
        assert f"service svc2 is locked on h-west by run {OTHER_RUN} of someone" in said, said
        assert "held from another machine (laptop-elsewhere)" in said
        assert not (locks / "svc").exists(), "svc's remote lock was left behind"
        assert json.loads((held / "owner").read_text()) == owner, "the holder's lock was touched"

        with AuditStore(est.audit, create=False) as store:
            events = store.events(run_id_of(proc.stdout))
            store_holds = [store.lock_holder(s) for s in ("svc", "svc2")]
        assert store_holds == [None, None], "a local lease outlived the run"
        took = [(e.kind, e.data["scope"], e.data["service"]) for e in events if "scope" in e.data]
        local = [k for k, (kind, scope, _) in enumerate(took) if scope == "local"]
        remote = [
            k
            for k, (kind, scope, _) in enumerate(took)
            if kind == "lock_acquired" and scope == "remote"
        ]
        # every service's local lease first, then the remote round trips (all at once)
        assert {took[k][2] for k in local if took[k][0] == "lock_acquired"} == {"svc", "svc2"}
        assert remote and max(k for k in local if took[k][0] == "lock_acquired") < min(remote)
        assert ("lock_released", "remote", "svc") in took, took
        assert not [
            t for t in took if t[2] == "svc2" and t[1] == "remote" and t[0] != "lock_released"
        ]
        assert not any(e.kind.startswith("command") for e in events), "a command was sent"
    finally:
        shutil.rmtree(held, ignore_errors=True)
        if os.path.exists(locks / "svc"):
            shutil.rmtree(locks / "svc")
