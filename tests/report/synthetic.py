"""Hand-written runs for the unit tests: events appended through the real ``AuditStore``, in the
shapes the engine writes, so the report's fold can be tested on cases a lab cannot easily
produce (a resumed run, a missed RTO, a run on another host, odd or missing payload keys)."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any

from console.audit import AuditStore, RunStart, new_run_id


class RunWriter:
    """Writes one run into an audit database, event by event."""

    def __init__(
        self,
        store: AuditStore,
        *,
        playbook: str = "synthetic",
        operator: str = "tester",
        objectives: dict[str, float | None] | None = None,
        pid: int | None = None,
        hostname: str | None = None,
        title: str = "A synthetic run",
        kind: str = "custom",
        params: dict[str, str] | None = None,
    ) -> None:
        self.store = store
        self.operator = operator
        self.run_id = new_run_id()
        store.create_run(
            RunStart(
                run_id=self.run_id,
                playbook_name=playbook,
                playbook_kind=kind,
                playbook_path=f"playbooks/{playbook}.yaml",
                playbook_digest="sha256:" + "0" * 64,
                inventory_name="unit",
                inventory_path="inventory/unit.yaml",
                inventory_digest="sha256:" + "1" * 64,
                mode="drill",
                operator=operator,
                services=("db",),
                params={"site": "west"} if params is None else params,
                objectives=objectives
                if objectives is not None
                else {"rto_seconds": 60.0, "rpo_seconds": 0.0},
                pid=os.getpid() if pid is None else pid,
                hostname=socket.gethostname() if hostname is None else hostname,
                playbook_title=title,
            )
        )

    def add(
        self,
        kind: str,
        data: dict[str, Any] | None = None,
        *,
        step: str | None = None,
        host: str | None = None,
        operator: str | None = None,
    ) -> None:
        """Append one event."""
        self.store.append(
            self.run_id,
            kind,
            data or {},
            operator=operator or self.operator,
            host=host,
            step_id=step,
        )

    def step(
        self,
        step_id: str,
        *,
        outcome: str = "ok",
        command: str | None = "true",
        exit_status: int = 0,
        lines: tuple[str, ...] = (),
        attempts: int = 1,
        duration: float = 0.5,
        reason: str | None = None,
        rollback: bool = False,
        title: str | None = None,
        host: str = "h1",
    ) -> None:
        """A whole step: started, its command (each attempt), output, result, finished."""
        for attempt in range(1, attempts + 1):
            self.add(
                "step_started",
                {
                    "title": title or f"Step {step_id}",
                    "kind": "run",
                    "step_kind": "run",
                    "targets": [host] if command else [],
                    "attempt": attempt,
                    "commands": {host: command} if command else {},
                    "rollback": rollback,
                },
                step=step_id,
            )
            if command is None:
                continue
            self.add(
                "command_intent", {"command": command, "attempt": attempt}, step=step_id, host=host
            )
            if lines:
                self.add(
                    "output", {"stream": "stdout", "lines": list(lines)}, step=step_id, host=host
                )
            ok = exit_status == 0
            self.add(
                "command_result",
                {
                    "exit_status": exit_status,
                    "signal": None,
                    "duration": duration / 2,
                    "timed_out": False,
                    "ok": ok,
                    "reason": None if ok else f"exit status {exit_status}, expected 0",
                    "dropped_lines": 0,
                },
                step=step_id,
                host=host,
            )
            if attempt < attempts:
                self.add(
                    "decision",
                    {
                        "action": "retry",
                        "reason": f"retry {attempt}",
                        "auto": True,
                        "by": self.operator,
                    },
                    step=step_id,
                )
        self.add(
            "step_finished",
            {
                "outcome": outcome,
                "duration": duration,
                "attempts": attempts,
                "reason": reason,
                "rollback": rollback,
            },
            step=step_id,
        )

    def sample(self, phase: str, site: str, role: str, lag: float | None) -> None:
        """A probe sample of one member."""
        self.add(
            "probe_sample",
            {
                "service": "db",
                "site": site,
                "role": role,
                "link": "up" if role == "replica" else "none",
                "lag_seconds": lag,
                "lag_bytes": None if lag is None else int(lag * 1000),
                "position": "0/1",
                "health": "ok",
                "error": None,
                "phase": phase,
            },
            host=f"h-{site}",
        )

    def finish(self, outcome: str = "succeeded", **data: Any) -> None:
        """The run's end."""
        self.store.finish_run(self.run_id, outcome, {"exit_code": 0, "summary": "done", **data})


def new_store(tmp: Path) -> AuditStore:
    """A fresh audit database in ``tmp``."""
    return AuditStore(tmp / "audit.db")
