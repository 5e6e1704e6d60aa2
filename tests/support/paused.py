"""Pausing a console process for real (SIGSTOP) until its service lease has expired.

The lease tests stop a console that holds a lease on a real PostgreSQL store, wait until the
store's clock is past the lease's expiry, and let the console go on (SIGCONT).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time

from console.audit.store import AuditStore


def stop_outside_a_transaction(proc: subprocess.Popen[str], url: str, wait: float) -> None:
    """SIGSTOP ``proc`` where it holds no write transaction open on the store at ``url``
    (stopped inside one, it would hold the store's write lock, and every console's writes
    would wait for it: a hazard of its own, not the lease tests' subject)."""
    import psycopg

    deadline = time.monotonic() + wait
    with psycopg.connect(url, autocommit=True) as conn:
        while True:
            os.kill(proc.pid, signal.SIGSTOP)
            time.sleep(0.1)
            row = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND state LIKE 'idle in transaction%'"
            ).fetchone()
            if row is not None and row[0] == 0:
                return
            assert time.monotonic() < deadline, "the console was always inside a transaction"
            os.kill(proc.pid, signal.SIGCONT)
            time.sleep(0.05)


def until_lease_expired(url: str, run_id: str, wait: float) -> None:
    """Until no live lease of the store at ``url`` is ``run_id``'s (the store's clock)."""
    deadline = time.monotonic() + wait
    while True:
        with AuditStore(url, create=False) as store:
            _clock, live = store.live_leases()
        if not any(lease.run_id == run_id for lease in live):
            return
        assert time.monotonic() < deadline, "the lease never expired"
        time.sleep(0.2)
