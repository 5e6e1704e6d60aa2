"""Sending one command to one host, as the engine must: intent on disk first, output streamed
and recorded in bounded batches, the result judged and recorded, secrets scrubbed throughout.

Split out of the run state machine so that every command of a run (steps, wait polls, command
gates) goes through exactly one path.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from console import events as ev
from console.engine.context import Owner, StepOutputs, resolve_selector, target_view
from console.engine.masking import Masker
from console.errors import DrError, ErrorKind, HostKeyError
from console.model.inventory import Inventory
from console.model.playbook import CommandCheck, Playbook
from console.ssh.result import OutputLine
from console.ssh.transport import Transport
from console.status.collector import StatusSnapshot
from console.targets import ssh_target

OUTPUT_FLUSH_SECONDS = 0.1
"""Output lines are batched into one event at most this long."""
OUTPUT_FLUSH_LINES = 200
"""...or this many lines."""

SCRIPT_ON_STDIN = 's=$(cat; echo .); eval "${s%.}"'
"""What is sent as the command when the real command holds a secret: the command itself goes
on the exec's standard input, read whole by the login shell and run there (``eval``, the same
shell as a plain command). A secret then never appears in any process's arguments on the host
(``ps``, ``/proc/PID/cmdline`` of the remote shell): only shell built-ins see it, and a
playbook hands it to a client in an option file or on stdin (``printf`` is a built-in). The
trailing ``.`` keeps the script's last newline (``$(...)`` strips it). The command's own
standard input is at end of file, as for any command."""

SECURITY_PREFIX = "SECURITY: "
"""Opens the reason of a command refused for its host key (the words people read; programs
read the ``host_key`` error kind)."""


@dataclass(frozen=True)
class Sent:
    """How one command on one host went."""

    host: str
    ok: bool
    reason: str | None = None
    """Why it is not ok."""
    error: ErrorKind | None = None
    """Why it could not run at all (it never reached the host, or was stopped)."""


def failure_of(results: Sequence[Sent]) -> tuple[str, ErrorKind | None] | None:
    """The failure of a step's commands: every failed host's reason, and the error kind that
    matters most (a refused host key before any other); None when every command was ok."""
    failed = [r for r in results if not r.ok]
    if not failed:
        return None
    kinds = [r.error for r in failed if r.error is not None]
    error = ErrorKind.HOST_KEY if ErrorKind.HOST_KEY in kinds else (kinds[0] if kinds else None)
    return "; ".join(f"{r.host}: {r.reason}" for r in failed), error


class CommandSender:
    """Runs the commands of one run over the transport and reports them as events."""

    def __init__(
        self,
        *,
        inventory: Inventory,
        playbook: Playbook,
        transport: Transport,
        masker: Masker,
        outputs: StepOutputs,
        emit: Callable[[ev.Event], None],
        snapshot: Callable[[], StatusSnapshot],
        output_cap: int,
        command_timeout: float | None,
    ) -> None:
        self.inventory = inventory
        self.playbook = playbook
        self.transport = transport
        self.masker = masker
        self.outputs = outputs
        self.emit = emit
        self.snapshot = snapshot
        self.output_cap = output_cap
        """Output lines per command and stream recorded in the audit log; more are counted."""
        self.command_timeout = command_timeout
        """Default per-command timeout when a step has none (else the host's ssh setting)."""

    def timeout_for(self, host: str, step_timeout: float | None) -> float | None:
        if step_timeout is not None:
            return step_timeout
        if self.command_timeout is not None:
            return self.command_timeout
        return self.inventory.hosts[host].ssh.command_timeout

    async def send(
        self,
        step_id: str,
        host: str,
        real: str,
        shown: str,
        attempt: int,
        timeout: float | None,
        expect: Any,
        record_outputs: bool = True,
        poll: bool = False,
    ) -> Sent:
        """Send one command (intent recorded durably first); stream, judge and record it.

        ``poll``: the command is one poll of a wait step, whose unmet expectation means "not yet"
        rather than a failure (views show it that way)."""
        self.emit(ev.CommandIntent(step_id=step_id, host=host, command=shown, attempt=attempt))
        buffers: dict[str, list[str]] = {"stdout": [], "stderr": []}
        counts = {"stdout": 0, "stderr": 0}
        dropped = 0
        loop = asyncio.get_running_loop()
        scheduled: list[asyncio.TimerHandle] = []

        def flush() -> None:
            scheduled.clear()
            for stream, lines in buffers.items():
                if lines:
                    self.emit(
                        ev.OutputLines(
                            step_id=step_id, host=host, stream=stream, lines=tuple(lines)
                        )
                    )
                    lines.clear()

        def on_line(line: OutputLine) -> None:
            nonlocal dropped
            if counts[line.stream] >= self.output_cap:
                dropped += 1
                return
            counts[line.stream] += 1
            buf = buffers[line.stream]
            buf.append(self.masker.scrub(line.text))
            if len(buf) >= OUTPUT_FLUSH_LINES:
                flush()
            elif not scheduled:
                scheduled.append(loop.call_later(OUTPUT_FLUSH_SECONDS, flush))

        started = time.monotonic()
        # A command that holds a secret travels on stdin, never as the exec's command line.
        secret = bool(self.masker) and self.masker.scrub(real) != real
        try:
            result = await self.transport.run(
                ssh_target(self.inventory, host),
                SCRIPT_ON_STDIN if secret else real,
                timeout=self.timeout_for(host, timeout),
                on_line=on_line,
                stdin=real if secret else None,
            )
        except HostKeyError as exc:
            return self._failed(
                step_id, host, started, flush, scheduled, SECURITY_PREFIX + exc.message, exc.kind
            )
        except DrError as exc:
            return self._failed(step_id, host, started, flush, scheduled, exc.message, exc.kind)
        except OSError as exc:
            return self._failed(step_id, host, started, flush, scheduled, str(exc), ErrorKind.OS)
        except asyncio.CancelledError:
            self._failed(
                step_id,
                host,
                started,
                flush,
                scheduled,
                "stopped: the run was interrupted or aborted",
                ErrorKind.INTERRUPTED,
            )
            raise
        for handle in scheduled:
            handle.cancel()
        flush()
        stdout, stderr = "\n".join(result.stdout), "\n".join(result.stderr)
        if result.timed_out:
            reason: str | None = f"timed out after {self.timeout_for(host, timeout)}s"
        elif result.signal:
            reason = f"killed by signal {result.signal}"
        else:
            reason = expect.failure(result.exit_status, stdout, stderr)
        if record_outputs:
            self.outputs.record(
                step_id,
                host,
                self.masker.scrub(stdout),
                self.masker.scrub(stderr),
                result.exit_status,
                "ok" if reason is None else "failed",
            )
        if result.reconnected:
            self.emit(
                ev.Notice(
                    level=ev.NoticeLevel.WARNING,
                    step_id=step_id,
                    host=host,
                    message=f"{host}: the connection had dropped; reconnected once",
                )
            )
        self.emit(
            ev.CommandFinished(
                step_id=step_id,
                host=host,
                exit_status=result.exit_status,
                signal=result.signal,
                duration=round(result.duration, 3),
                timed_out=result.timed_out,
                ok=reason is None,
                reason=reason,
                dropped_lines=dropped,
                poll=poll,
            )
        )
        return Sent(host, reason is None, reason)

    def _failed(
        self,
        step_id: str,
        host: str,
        started: float,
        flush: Callable[[], None],
        scheduled: list[asyncio.TimerHandle],
        reason: str,
        error: ErrorKind,
    ) -> Sent:
        for handle in scheduled:
            handle.cancel()
        flush()
        self.emit(
            ev.CommandFinished(
                step_id=step_id,
                host=host,
                exit_status=None,
                signal=None,
                duration=round(time.monotonic() - started, 3),
                timed_out=False,
                ok=False,
                reason=reason,
                error=error,
            )
        )
        return Sent(host, False, reason, error)

    async def check(
        self,
        check: CommandCheck,
        ctx: Mapping[str, Any],
        step_id: str,
        attempt: int,
        record_outputs: bool = False,
        poll: bool = False,
        owner: Owner | None = None,
    ) -> tuple[bool, str]:
        owner = owner or self.playbook
        hosts = resolve_selector(check.on, ctx, self.inventory, owner.service, self.snapshot())
        rendered = {}
        for host in hosts:
            real = check.run.render(
                {**ctx, "target": target_view(self.inventory, owner, host, ctx)}
            )
            rendered[host] = (real, self.masker.scrub(real))
        results = await asyncio.gather(
            *(
                self.send(
                    step_id,
                    h,
                    rendered[h][0],
                    rendered[h][1],
                    attempt,
                    check.timeout,
                    check.expect,
                    record_outputs,
                    poll,
                )
                for h in hosts
            )
        )
        lines = [f"{r.host}: {'ok' if r.ok else r.reason}" for r in results]
        return all(r.ok for r in results), "\n".join(lines)
