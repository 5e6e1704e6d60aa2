"""A console stuck inside a write transaction does not hold the team store forever.

Every write takes the store's advisory lock; a console paused in the middle of one (a closed
laptop lid, SIGSTOP) would make every other console's writes wait for it. The server ends such
a session after ``STUCK_WRITER_TIMEOUT`` idle seconds (here 1 s): the other console's append
then goes through, and the stuck one, when it wakes, finds its store lost (its transaction
rolled back whole: the chain stays intact). A real PostgreSQL server, one per module.
"""

from __future__ import annotations

import threading
import time

import pytest

from console.audit import AuditStore
from console.audit.errors import AuditStoreLost
from tests.audit.conftest import run_start
from tests.support.pgserver import PgServer, pg_server_fixture

pg_server = pg_server_fixture("module")


def test_a_stuck_writer_is_cut_off_and_the_others_go_on(
    pg_server: PgServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("console.audit.pg.STUCK_WRITER_TIMEOUT", 1.0)
    url = pg_server.new_database()
    stuck, other = AuditStore(url), AuditStore(url)
    try:
        mine, theirs = run_start(), run_start(operator="bob")
        stuck.create_run(mine)
        other.create_run(theirs)
        took: list[float] = []

        def append_meanwhile() -> None:
            t0 = time.monotonic()
            other.append(theirs.run_id, "note", {"text": "x", "by": "bob"}, operator="bob")
            took.append(time.monotonic() - t0)

        with pytest.raises(AuditStoreLost), stuck._write(durable=True) as conn:
            conn.execute("SELECT 1")  # inside the write: the advisory lock is held
            worker = threading.Thread(target=append_meanwhile)
            worker.start()
            worker.join(timeout=60)
            assert took, "the other console's write still waits after 60 s"
            conn.execute("SELECT 1")  # the stuck console wakes up: its session is gone
        assert took[0] < 30.0
        assert other.verify().ok
    finally:
        stuck.close()
        other.close()
