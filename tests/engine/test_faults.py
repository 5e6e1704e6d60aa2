"""Faults made for real: kill -9 and resume, Ctrl-C, locks across audit databases, host keys,
dark hosts. What the engine does with a failure is tested on a scripted transport in
``test_semantics.py``; here real processes, real sshd and real lock directories prove it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from console.audit.store import AuditStore
from tests.engine.conftest import ONE_BACKEND, Estate
from tests.support.sshd import requires_sshd

pytestmark = [requires_sshd, pytest.mark.sshd]


def wait_for(predicate: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def intent_seen(audit: Path, step: str) -> bool:
    if not audit.exists():
        return False
    try:
        store = AuditStore(audit, create=False)
    except Exception:
        return False
    try:
        rid = store.latest_run_id()
        return rid is not None and any(
            e.kind == "command_intent" and e.step_id == step for e in store.events(rid)
        )
    finally:
        store.close()


def remote_running(marker: str) -> bool:
    out = subprocess.run(["pgrep", "-f", marker], capture_output=True, text=True, check=False)
    return bool(out.stdout.strip())


LONG = """
version: 1
name: long
kind: custom
service: svc
steps:
  - id: one
    on: h-east
    run: echo one >> {work}/{tag}-log
  - id: slow
    on: h-east
    run: echo slow >> {work}/{tag}-log; sleep {sleep}; echo {marker}
  - id: three
    on: h-west
    run: echo three >> {work}/{tag}-log
"""


@ONE_BACKEND
def test_kill_9_then_verify_and_resume(fresh_audit: Estate) -> None:
    est = fresh_audit
    tag = f"k9-{est.backend}"
    marker = f"drc-marker-{tag}-{os.getpid()}"
    (est.work / f"{tag}-log").unlink(missing_ok=True)
    pb = est.playbook("long", LONG.format(work=est.work, tag=tag, sleep=2, marker=marker))
    slow = est.playbook("long-slow", LONG.format(work=est.work, tag=tag, sleep=300, marker=marker))
    proc = est.popen("run", str(slow), "-i", str(est.inventory))
    try:
        wait_for(lambda: intent_seen(est.audit, "slow"), 60, "the slow step to start")
        time.sleep(0.3)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    run_id = proc.stdout.readline().split()[1] if proc.stdout else ""  # type: ignore[union-attr]
    assert run_id
    verify = est.run("audit", "verify")
    assert verify.returncode == 0, verify.stdout + verify.stderr
    runs = json.loads(est.run("audit", "list", "--json").stdout)
    assert [r["status"] for r in runs if r["run_id"] == run_id] == ["interrupted"]
    # The remote sleep outlives a kill -9 of the console: kill it so that the rerun is clean.
    subprocess.run(["pkill", "-f", marker], check=False)
    # Without --yes the unknown step needs an operator: exit 3, still resumable.
    again = est.run("run", str(pb), "-i", str(est.inventory), "--resume", run_id)
    assert again.returncode == 3, again.stdout + again.stderr
    assert "unknown outcome" in again.stdout
    done = est.run(
        "run", str(pb), "-i", str(est.inventory), "--resume", run_id[:12], "--yes", timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert (est.work / f"{tag}-log").read_text().split() == ["one", "slow", "slow", "three"]
    store = AuditStore(est.audit, create=False)
    evs = store.events(run_id)
    store.close()
    assert [e.data.get("action") for e in evs if e.kind == "decision"] == ["rerun"]
    assert [e.kind for e in evs].count("run_resumed") == 2
    assert evs[-1].kind == "run_finished" and evs[-1].data["outcome"] == "succeeded"
    assert est.run("audit", "verify", run_id).returncode == 0


def test_ctrl_c_stops_the_remote_command_and_exits_130(fresh_audit: Estate) -> None:
    est = fresh_audit
    tag = f"int-{est.backend}"
    marker = f"drc-marker-{tag}-{os.getpid()}"
    pb = est.playbook("long", LONG.format(work=est.work, tag=tag, sleep=300, marker=marker))
    proc = est.popen("run", str(pb), "-i", str(est.inventory))
    try:
        wait_for(lambda: intent_seen(est.audit, "slow"), 60, "the slow step to start")
        wait_for(lambda: remote_running(marker), 30, "the remote sleep")
        start = time.monotonic()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, out + err
    assert time.monotonic() - start < 30
    wait_for(lambda: not remote_running(marker), 30, "the remote command to be stopped")
    store = AuditStore(est.audit, create=False)
    rid = store.latest_run_id()
    assert rid is not None
    evs = store.events(rid)
    store.close()
    last = evs[-1]
    assert last.kind == "run_finished"
    assert last.data["outcome"] == "interrupted" and last.data["stopped_at"] == "slow"
    slow = [e for e in evs if e.kind == "step_finished" and e.step_id == "slow"]
    assert slow and slow[-1].data["outcome"] == "unknown"
    assert est.run("audit", "verify", rid).returncode == 0


HOLD = """
version: 1
name: hold
kind: custom
service: svc
steps:
  - id: hold
    on: h-east
    run: sleep {sleep}; echo {marker}
"""


@ONE_BACKEND
def test_lock_exit_4_then_break_lock(fresh_audit: Estate, tmp_path: Path) -> None:
    est = fresh_audit
    marker = f"drc-marker-lock-{est.backend}-{os.getpid()}"
    holder = est.popen(
        "run",
        str(est.playbook("hold", HOLD.format(sleep=300, marker=marker))),
        "-i",
        str(est.inventory),
    )
    try:
        wait_for(lambda: intent_seen(est.audit, "hold"), 60, "the holder to start")
        quick = est.playbook("quick", HOLD.format(sleep=0, marker="quick"))
        second = est.run("run", str(quick), "-i", str(est.inventory))
        assert second.returncode == 4, second.stdout + second.stderr
        assert "svc" in second.stdout and "tester" in second.stdout
        holder_id = holder.stdout.readline().split()[1]  # type: ignore[union-attr]
        assert holder_id in second.stdout
        # Another laptop (its own audit database) is excluded by the remote lock.
        own_audit = est.audit
        est.audit, est.operator = tmp_path / "other.db", "laptop2"
        try:
            other = est.run("run", str(quick), "-i", str(est.inventory))
        finally:
            est.audit, est.operator = own_audit, "tester"
        assert other.returncode == 4, other.stdout + other.stderr
        assert f"locked on h-east by run {holder_id}" in other.stdout
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
        subprocess.run(["pkill", "-f", marker], check=False)
        stale = est.run("run", str(quick), "-i", str(est.inventory))
        assert stale.returncode == 4
        assert "stale" in stale.stdout
        broken = est.run("run", str(quick), "-i", str(est.inventory), "--break-lock")
        assert broken.returncode == 0, broken.stdout + broken.stderr
    finally:
        if holder.poll() is None:
            holder.kill()
        subprocess.run(["pkill", "-f", marker], check=False)
    store = AuditStore(est.audit, create=False)
    rid = store.latest_run_id()
    assert rid is not None
    kinds = [(e.kind, e.data.get("scope")) for e in store.events(rid)]
    store.close()
    assert ("lock_broken", "local") in kinds and ("lock_broken", "remote") in kinds
    assert ("lock_released", "local") in kinds


def test_unknown_host_key_refused_then_accepted_and_audited(
    fresh_audit: Estate, tmp_path: Path
) -> None:
    est = fresh_audit
    known = tmp_path / "known_hosts"
    lines = est.east.known_hosts.read_text().splitlines()
    known.write_text("\n".join(line for line in lines if str(est.west.port) not in line) + "\n")
    inv = tmp_path / "inv.yaml"
    inv.write_text(est.inventory.read_text().replace(str(est.east.known_hosts), str(known)))
    pb = est.playbook(
        "w",
        "version: 1\nname: w\nkind: custom\nsteps:\n"
        "  - id: w\n    on: h-west\n    run: echo reached\n",
    )
    refused = est.run("run", str(pb), "-i", str(inv))
    assert refused.returncode == 1
    assert "SECURITY: h-west: host key refused (unknown)" in refused.stdout
    assert est.west.fingerprint() in refused.stdout
    accepted = est.run("run", str(pb), "-i", str(inv), "--accept-new-host-keys")
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
    assert "h-west | reached" in accepted.stdout
    store = AuditStore(est.audit, create=False)
    rid = store.latest_run_id()
    assert rid is not None
    got = [e for e in store.events(rid) if e.kind == "host_key_accepted"]
    store.close()
    assert len(got) == 1 and got[0].data["fingerprint"] == est.west.fingerprint()
    assert str(est.west.port) in known.read_text()
    # A changed key is refused even with --accept-new-host-keys.
    text = known.read_text().splitlines()
    fake = next(line for line in text if str(est.west.port) in line).split()
    other_key = next(line for line in lines if str(est.east.port) in line).split()[2]
    known.write_text(
        "\n".join(
            [*[x for x in text if str(est.west.port) not in x], f"{fake[0]} {fake[1]} {other_key}"]
        )
        + "\n"
    )
    changed = est.run("run", str(pb), "-i", str(inv), "--accept-new-host-keys")
    assert changed.returncode == 1
    assert "host key refused (changed)" in changed.stdout


@ONE_BACKEND
def test_dark_host_fails_within_its_timeout_and_status_says_down(fresh_audit: Estate) -> None:
    est = fresh_audit
    pb = est.playbook(
        "d",
        "version: 1\nname: d\nkind: custom\nsteps:\n  - id: d\n    on: h-west\n    run: echo hi\n",
    )
    healthy = est.run("status", "-i", str(est.inventory), "--json")
    assert healthy.returncode == 0, healthy.stdout + healthy.stderr
    est.west.pause()
    try:
        start = time.monotonic()
        proc = est.run("run", str(pb), "-i", str(est.inventory), timeout=120)
        took = time.monotonic() - start
        assert proc.returncode == 1
        assert "h-west" in proc.stdout and "no ssh answer" in proc.stdout.lower()
        assert took < 60
        start = time.monotonic()
        status = est.run("status", "-i", str(est.inventory), "--json", "--timeout", "3")
        assert time.monotonic() - start < 30
        assert status.returncode == 1
        doc = json.loads(status.stdout)
        by_site = {m["site"]: m for m in doc["members"]}
        assert by_site["west"]["role"] == "down" and by_site["west"]["health"] == "down"
        assert by_site["east"]["role"] == "primary" and by_site["east"]["age_seconds"] < 10
    finally:
        est.west.resume()


@ONE_BACKEND
def test_leftover_remote_lock_of_a_finished_run_is_cleared_but_an_unknown_one_holds(
    fresh_audit: Estate,
) -> None:
    """A run that ended while a host was dark leaves its lock there; the next run clears it
    (that run is finished in this audit log) and records it. An owner nobody knows still
    blocks with exit 4."""
    est = fresh_audit
    quick = est.playbook("quick", HOLD.format(sleep=0, marker="quick"))
    first = est.run("run", str(quick), "-i", str(est.inventory))
    assert first.returncode == 0, first.stdout + first.stderr
    finished_id = first.stdout.split()[1]
    lock = est.work / "locks" / "svc"

    def leave(run_id: str) -> None:
        lock.mkdir(parents=True, exist_ok=True)
        (lock / "owner").write_text(
            json.dumps(
                {
                    "run_id": run_id,
                    "operator": "ghost",
                    "pid": "1",
                    "hostname": "elsewhere",
                    "since": "2026-01-01T00:00:00Z",
                }
            )
        )
        subprocess.run(["chmod", "-R", "a+rwX", str(lock.parent)], check=True)

    leave(finished_id)
    again = est.run("run", str(quick), "-i", str(est.inventory))
    assert again.returncode == 0, again.stdout + again.stderr
    store = AuditStore(est.audit, create=False)
    rid = store.latest_run_id()
    assert rid is not None
    broken = [e for e in store.events(rid) if e.kind == "lock_broken"]
    store.close()
    assert broken and broken[0].data["holder"]["run_id"] == finished_id
    assert "finished" in broken[0].data["holder"]["why"]
    assert not lock.exists()
    leave("01UNKNOWNRUNFROMANOTHERLAPTOP")
    try:
        blocked = est.run("run", str(quick), "-i", str(est.inventory))
        assert blocked.returncode == 4
        assert "01UNKNOWNRUNFROMANOTHERLAPTOP" in blocked.stdout
    finally:
        subprocess.run(["rm", "-rf", str(lock)], check=True)
