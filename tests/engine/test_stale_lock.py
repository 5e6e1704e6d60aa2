"""A remote lock whose holder is gone is called stale; one held from elsewhere, uncertain.

Issue 11 item 5, for real: a real run takes the real remote lock (an atomic ``mkdir`` with an
owner file) on two real sshd hosts and is killed with ``kill -9``. The next run, with another
audit database (as on another laptop, so only the remote half can exclude it), exits 4 and
says the lock is stale and how to break it, because the owner file names this machine and its
pid no longer runs here. An owner file naming another machine gets "cannot tell from here".
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from console.engine.locks import describe_holder, holder_liveness
from tests.engine.conftest import Estate
from tests.engine.test_faults import HOLD, intent_seen, wait_for
from tests.support.sshd import requires_sshd


@requires_sshd
@pytest.mark.sshd
def test_kill_9_leaves_a_stale_remote_lock_and_another_host_cannot_tell(
    fresh_audit: Estate, tmp_path: Path
) -> None:
    est = fresh_audit
    marker = f"drc-marker-stale-{est.backend}-{os.getpid()}"
    owner_file = est.work / "locks" / "svc" / "owner"
    holder = est.popen(
        "run",
        str(est.playbook("hold", HOLD.format(sleep=300, marker=marker))),
        "-i",
        str(est.inventory),
    )
    quick = est.playbook("quick", HOLD.format(sleep=0, marker="quick"))
    try:
        wait_for(lambda: intent_seen(est.audit, "hold"), 60, "the holder to start its step")
        assert owner_file.is_file()
        holder_pid = json.loads(owner_file.read_text())["pid"]
        assert int(holder_pid) == holder.pid
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
        subprocess.run(["pkill", "-f", marker], check=False)
        assert owner_file.is_file(), "kill -9 leaves the remote lock behind"

        own_audit = est.audit
        est.audit = tmp_path / "laptop2.db"  # another console: only the remote lock excludes
        try:
            stale = est.run("run", str(quick), "-i", str(est.inventory))
            assert stale.returncode == 4, stale.stdout + stale.stderr
            said = stale.stdout + stale.stderr
            assert f"stale: pid {holder_pid} no longer runs on" in said, said
            assert "break the lock with --break-lock" in said

            owner = json.loads(owner_file.read_text())
            owner["hostname"] = "laptop-elsewhere"
            owner_file.write_text(json.dumps(owner))
            elsewhere = est.run("run", str(quick), "-i", str(est.inventory))
            assert elsewhere.returncode == 4, elsewhere.stdout + elsewhere.stderr
            said = elsewhere.stdout + elsewhere.stderr
            assert "held from another machine (laptop-elsewhere)" in said, said
            assert "cannot tell from here" in said
            assert "stale" not in said

            broken = est.run("run", str(quick), "-i", str(est.inventory), "--break-lock")
            assert broken.returncode == 0, broken.stdout + broken.stderr
            assert not owner_file.exists()
        finally:
            est.audit = own_audit
    finally:
        if holder.poll() is None:
            holder.kill()
        subprocess.run(["pkill", "-f", marker], check=False)


def test_liveness_of_an_owner_file_on_this_machine() -> None:
    """The rules, on this machine's real processes: a live pid that started before the lock
    is alive; a pid that started after it (reused) is stale; another hostname is unknown."""
    here = os.uname().nodename
    me = str(os.getpid())
    long_ago = "2000-01-01T00:00:00Z"
    future = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))
    assert holder_liveness({"hostname": here, "pid": me, "since": future}, here) == "alive"
    assert holder_liveness({"hostname": here, "pid": me, "since": long_ago}, here) == "stale"
    assert holder_liveness({"hostname": "other", "pid": me, "since": future}, here) == "unknown"
    dead = subprocess.Popen(["true"])
    dead.wait()
    owner = {"hostname": here, "pid": str(dead.pid), "since": future, "run_id": "R"}
    assert holder_liveness(owner, here) == "stale"
    assert "--break-lock" in describe_holder("svc", "h", owner, here)
