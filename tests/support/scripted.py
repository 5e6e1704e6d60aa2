"""A scripted ``Transport``: engine semantics in milliseconds, without SSH.

A fake on purpose, and named as one: it stands in for the SSH pool where what is tested is
what the *engine* does with results (retries, skips, continue, rollback, timeouts, resume
bookkeeping, decisions, error kinds), not what a real server or shell does. Real sshd, real
bash and real databases keep their own end-to-end tests (``tests/engine/test_end_to_end.py``,
``tests/ssh``, the drills).

Commands are matched against rules in the order they were added; the first rule whose pattern
matches (a substring, or a compiled regex searched in the command) and whose host filter fits
answers. A rule holds a list of replies used one per call, the last one repeated::

    t = ScriptedTransport()
    t.on("pg_ctl promote", Reply(stdout="server promoted"))            # every call
    t.on("check", Reply(exit_status=3), Reply(exit_status=3), Reply())  # fails twice, then ok
    t.on("sleep", Reply(delay=60))                                      # outlives its timeout
    t.on("echo", Fail(refused("h-west")), host="h-west")                # cannot connect
    t.on("tail", Drop(stdout="half", after=0.01))                       # connection lost
    t.on("probe", lambda call: Reply(stdout=json.dumps(roles[call.host])))  # computed
    t.calls                       # every call: host, command, timeout, how it ended
    t.unmatched                   # commands no rule answered (answered exit 127)

``Reply`` delays are real ``asyncio.sleep``s, so keep them to milliseconds; a reply that lasts
longer than the command's timeout ends ``timed_out`` at the timeout, as the real transport does
(it also stops the remote command). A cancelled call (an abort, Ctrl-C) raises
``CancelledError`` like the real one, and is recorded as ``cancelled``.

``ScriptedTransport`` accepts the ``SshPool`` keyword arguments, so it can replace the pool the
CLI builds (``use_in_cli``); ``host_key_accepted`` replays the pool's callback as if a new key
had been accepted.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest

from console.engine.commands import SCRIPT_ON_STDIN
from console.errors import DrError, HostKeyError
from console.ssh.errors import ConnectionLost, ConnectRefused, ConnectTimeout
from console.ssh.output import OnLine
from console.ssh.result import CommandResult, OutputLine, Stream
from console.ssh.target import SshTarget
from console.ssh.transport import Transport

# -- what a rule answers ----------------------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    """A command that runs and ends: its output, exit status, and how long it takes."""

    stdout: str = ""
    stderr: str = ""
    exit_status: int | None = 0
    delay: float = 0.0
    """Seconds before it ends (output arrives at once); longer than the timeout: timed out."""
    signal: str | None = None
    """Killed by this signal (``exit_status`` is then None)."""
    reconnected: bool = False
    """The connection had dropped and was re-opened for this command."""


@dataclass(frozen=True)
class Fail:
    """The command cannot be run: ``error`` is raised (after ``delay`` seconds)."""

    error: DrError | OSError
    delay: float = 0.0


@dataclass(frozen=True)
class Drop:
    """The connection drops while the command runs: ``stdout`` arrives, then after ``after``
    seconds ``ConnectionLost`` (it may or may not have completed)."""

    stdout: str = ""
    after: float = 0.0


Answer = Reply | Fail | Drop
Script = Answer | Callable[["Call"], Answer]
"""A reply, or a function of the call that makes one."""


@dataclass
class Call:
    """One command the transport was asked to run."""

    host: str
    command: str
    timeout: float | None
    started: float
    """``time.monotonic()`` when it was called."""
    ended: str = "running"
    """``ok``, ``exit N``, ``timed out``, ``failed: <error class>``, ``dropped``,
    ``cancelled``, ``unmatched``."""
    sent: str = ""
    """The exec's command line as sent: ``command`` itself, or the engine's
    ``SCRIPT_ON_STDIN`` when ``command`` (a secret in it) went on stdin."""


@dataclass
class Rule:
    """Replies for the commands a pattern matches (the last reply repeats)."""

    pattern: str | re.Pattern[str]
    replies: list[Script]
    host: str | None = None
    used: int = 0

    def matches(self, host: str, command: str) -> bool:
        if self.host is not None and self.host != host:
            return False
        if isinstance(self.pattern, re.Pattern):
            return self.pattern.search(command) is not None
        return self.pattern in command

    def next(self, call: Call) -> Answer:
        script = self.replies[min(self.used, len(self.replies) - 1)]
        self.used += 1
        return script(call) if callable(script) else script


# -- the transport ----------------------------------------------------------------------------


class ScriptedTransport(Transport):
    """Answers commands from rules; records every call. See the module docstring."""

    def __init__(self, **pool_options: Any) -> None:
        self.rules: list[Rule] = []
        self.calls: list[Call] = []
        """Every call, in the order they were made."""
        self.unmatched: list[Call] = []
        """Calls no rule answered (they got exit 127)."""
        self.closed = False
        self.pool_options = pool_options
        """The ``SshPool`` keyword arguments it was built with (``on_host_key_accepted``...)."""

    def on(self, pattern: str | re.Pattern[str], *replies: Script, host: str | None = None) -> Rule:
        """Answer commands containing ``pattern`` (on ``host`` only, if given)."""
        if not replies:
            replies = (Reply(),)
        rule = Rule(pattern, list(replies), host)
        self.rules.append(rule)
        return rule

    def calls_to(self, pattern: str, host: str | None = None) -> list[Call]:
        """The calls whose command contains ``pattern`` (on ``host``)."""
        return [c for c in self.calls if pattern in c.command and (host is None or c.host == host)]

    def host_key_accepted(self, host: str, key_type: str, fingerprint: str) -> None:
        """Tell whoever built this transport that a new host key was accepted."""
        hook = self.pool_options.get("on_host_key_accepted")
        if hook is not None:
            hook(host, key_type, fingerprint)

    async def run(
        self,
        target: SshTarget,
        command: str,
        *,
        timeout: float | None = None,
        on_line: OnLine | None = None,
        max_lines: int = 2000,
        stdin: str | None = None,
    ) -> CommandResult:
        """Answer ``command`` from the first matching rule."""
        if self.closed:
            raise RuntimeError("transport is closed")
        sent = command
        if command == SCRIPT_ON_STDIN and stdin is not None:
            command = stdin  # rules and tests see the script the shell runs
        call = Call(target.name, command, timeout, time.monotonic(), sent=sent)
        self.calls.append(call)
        rule = next((r for r in self.rules if r.matches(target.name, command)), None)
        if rule is None:
            call.ended = "unmatched"
            self.unmatched.append(call)
            answer: Answer = Reply(
                stderr=f"scripted transport: no rule for {command!r}", exit_status=127
            )
        else:
            answer = rule.next(call)
        try:
            return await self._answer(target, command, call, answer, timeout, on_line, max_lines)
        except asyncio.CancelledError:
            call.ended = "cancelled"
            raise

    async def _answer(
        self,
        target: SshTarget,
        command: str,
        call: Call,
        answer: Answer,
        timeout: float | None,
        on_line: OnLine | None,
        max_lines: int,
    ) -> CommandResult:
        started = time.monotonic()
        if isinstance(answer, Fail):
            await asyncio.sleep(answer.delay)
            call.ended = f"failed: {type(answer.error).__name__}"
            raise answer.error
        if isinstance(answer, Drop):
            out = _deliver(target.name, "stdout", answer.stdout, on_line)
            await asyncio.sleep(answer.after)
            call.ended = "dropped"
            partial = _result(
                target, command, out, [], None, None, started, False, False, max_lines
            )
            raise ConnectionLost(
                target.name,
                f"connection to {target.endpoint} lost while running the command (scripted); "
                "it may or may not have completed: check the host before running it again",
                partial=partial,
            )
        out = _deliver(target.name, "stdout", answer.stdout, on_line)
        err = _deliver(target.name, "stderr", answer.stderr, on_line)
        if timeout is not None and answer.delay > timeout:
            await asyncio.sleep(timeout)
            call.ended = "timed out"
            return _result(target, command, out, err, None, None, started, True, False, max_lines)
        await asyncio.sleep(answer.delay)
        call.ended = "ok" if answer.exit_status == 0 else f"exit {answer.exit_status}"
        return _result(
            target,
            command,
            out,
            err,
            answer.exit_status if answer.signal is None else None,
            answer.signal,
            started,
            False,
            answer.reconnected,
            max_lines,
        )

    async def close(self) -> None:
        """Nothing to close; later calls are refused, as the real pool refuses them."""
        self.closed = True


def _deliver(host: str, stream: Stream, text: str, on_line: OnLine | None) -> list[str]:
    lines = text.splitlines() if text else []
    if on_line is not None:
        for line in lines:
            on_line(OutputLine(host, stream, line, time.time()))
    return lines


def _result(
    target: SshTarget,
    command: str,
    out: list[str],
    err: list[str],
    exit_status: int | None,
    signal: str | None,
    started: float,
    timed_out: bool,
    reconnected: bool,
    max_lines: int,
) -> CommandResult:
    return CommandResult(
        host=target.name,
        command=command,
        exit_status=exit_status,
        signal=signal,
        duration=time.monotonic() - started,
        stdout=tuple(out[-max_lines:]) if max_lines else (),
        stderr=tuple(err[-max_lines:]) if max_lines else (),
        truncated=len(out) > max_lines or len(err) > max_lines,
        timed_out=timed_out,
        reconnected=reconnected,
    )


# -- ready-made answers -----------------------------------------------------------------------


def refused(host: str) -> ConnectRefused:
    """The error of a closed SSH port."""
    return ConnectRefused(host, "connection refused by 127.0.0.1:22 (scripted)")


def dark(host: str) -> ConnectTimeout:
    """The error of a host that does not answer."""
    return ConnectTimeout(host, "no SSH answer from 127.0.0.1:22 within 5s (scripted)")


def unknown_key(host: str) -> HostKeyError:
    """The error of a host whose key is not in known_hosts."""
    return HostKeyError(host, "ssh-ed25519", "SHA256:scripted", "unknown")


def remote_locks(transport: ScriptedTransport) -> None:
    """Answer the engine's remote-lock commands (``console.engine.locks``) as a host where
    nobody else holds the lock: taken, released, nothing to break. What real lock
    directories do under contention is tested end to end on real sshd."""
    transport.on("echo TAKEN", Reply(stdout="TAKEN"))
    transport.on("echo RELEASED", Reply(stdout="RELEASED"))
    transport.on("echo BROKEN", Reply(stdout="\nBROKEN"))


@contextmanager
def use_in_cli(monkeypatch: pytest.MonkeyPatch, transport: ScriptedTransport) -> Iterator[None]:
    """Make ``drconsole run`` / ``plan`` (in this process) use ``transport`` for SSH."""

    def pool(**options: Any) -> ScriptedTransport:
        transport.pool_options = options
        transport.closed = False
        return transport

    monkeypatch.setattr("console.engine.headless.SshPool", pool)
    yield


@dataclass
class Roles:
    """What a ``custom`` probe reports per host, changed by a test as the run goes."""

    by_host: dict[str, dict[str, Any]] = field(default_factory=dict)

    def reply(self, call: Call) -> Reply:
        import json

        return Reply(stdout=json.dumps(self.by_host.get(call.host, {"role": "unknown"})))
