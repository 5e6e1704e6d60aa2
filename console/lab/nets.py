"""Reserve a free lab net, so that two labs started by programs never share addresses.

A lab's every address is ``127.<net>.S.1`` (:mod:`console.lab.layout`). Two labs on one net
break each other, and programs that start labs of their own (the test suite, the screenshot
tours) cannot know which nets a person's by-hand lab uses. A net is free when no port of any
profile listens on it and no other program holds its lock file; the reservation lasts as long
as the returned lock file stays open.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterable
from pathlib import Path
from typing import IO

from console.lab.layout import LabLayout
from console.lab.procs import is_listening
from console.lab.profiles import every_port

LOCK_DIR = Path("/run/lock")
"""Where the lock files live (one per net: ``drconsole-test-lab-net-N.lock``)."""


def reserve_net(candidates: Iterable[int]) -> tuple[int, IO[str]]:
    """Reserve the first free net among ``candidates``: returns it and the open lock file.

    Keep the returned file open for as long as the lab runs; closing it frees the net.

    Raises:
        RuntimeError: When every candidate is taken.
    """
    tried = list(candidates)
    for net in tried:
        lock = (LOCK_DIR / f"drconsole-test-lab-net-{net}.lock").open("a")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            continue
        layout = LabLayout(Path("/nonexistent"), net)
        if any(is_listening(addr, port) for addr, port in every_port(layout)):
            lock.close()
            continue
        return net, lock
    raise RuntimeError(f"no free lab net among {tried}: other labs hold them all")
