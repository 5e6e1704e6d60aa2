"""A console process for the lease tests: a real engine on a real store, SSH scripted.

``python -m tests.engine.lease_worker STORE BASE TTL``: builds the scripted estate under BASE
(``tests.engine.scripted_env``), runs :data:`PLAYBOOK` as alice with leases of TTL seconds on
STORE, prints ``run RUN_ID`` once the run exists and ``exit CODE SUMMARY`` at its end. Its one
step polls ``poll-west`` (never satisfied) every 0.2 s for two minutes, so a command intent is
recorded several times a second: the test pauses this process with SIGSTOP past the lease's
expiry and lets it go on.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from console import events as ev
from console.engine.decider import HeadlessDecider
from tests.engine.scripted_env import make_estate
from tests.support.scripted import Reply

PLAYBOOK = """
version: 1
name: long-poll
kind: switchover
service: svc
steps:
  - id: poll
    wait:
      on: h-west
      run: poll-west
      timeout: 120s
      interval: 200ms
"""


async def main(store: str, base: Path, ttl: float) -> int:
    est = make_estate(base)
    est.audit = store  # type: ignore[assignment]
    est.transport.on("poll-west", Reply(stdout="not yet", exit_status=1))
    pb = est.playbook("long-poll", PLAYBOOK)
    engine, audit = est.engine(pb, HeadlessDecider("alice@laptop1", yes=True), lease_ttl=ttl)

    def say(event: ev.Event) -> None:
        if isinstance(event, ev.RunStarted):
            print(f"run {event.run_id}", flush=True)

    engine.listeners.append(say)
    try:
        result = await engine.run()
    finally:
        audit.close()
    print(f"exit {result.exit_code} {result.summary}", flush=True)
    return result.exit_code


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1], Path(sys.argv[2]), float(sys.argv[3]))))
