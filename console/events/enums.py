"""The closed vocabularies of a run, as ``str`` enums whose values are the stored words.

Every member's value is exactly the string the audit log has always held (``"ok"``,
``"failed"``, ``"rollback"`` ...), so a log written before these types existed reads the same
and one written now has the same bytes. Each enum is *open* for reading: a word this version
does not know (a newer engine's, or a hand-edited log's) becomes a pseudo-member that keeps the
word, compares equal to it and prints as it, instead of an error. Code that writes events only
uses the declared members.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Self


class OpenStrEnum(StrEnum):
    """A ``StrEnum`` that reads any string: unknown words become pseudo-members."""

    @classmethod
    def _missing_(cls, value: object) -> Any:
        if not isinstance(value, str):
            return None
        member = str.__new__(cls, value)
        member._name_ = value
        member._value_ = value
        return member

    @property
    def known(self) -> bool:
        """True for a declared member, False for a word read from a log that it lacks."""
        return type(self)._value2member_map_.get(self._value_) is self

    @classmethod
    def read(cls, value: object, default: Self) -> Self:
        """``value`` as a member (or pseudo-member); ``default`` for a non-string."""
        return cls(value) if isinstance(value, str) else default


class StepKind(OpenStrEnum):
    """What a step does."""

    RUN = "run"
    WAIT = "wait"
    MANUAL = "manual"


class StepOutcome(OpenStrEnum):
    """How a step ended, as ``step_finished`` records it."""

    OK = "ok"
    FAILED = "failed"
    SKIPPED = "skipped"
    UNKNOWN = "unknown"
    """It may or may not have acted (in flight when the run died, or an abort stopped it)."""
    ABORTED = "aborted"
    STOPPED = "stopped"
    """The run stopped before the step did anything (waiting for an operator not there)."""


class StepStatus(OpenStrEnum):
    """A step's state while the run goes (what views show; the audit log is the record)."""

    PENDING = "pending"
    RUNNING = "running"
    OK = "ok"
    FAILED = "failed"
    SKIPPED = "skipped"
    UNKNOWN = "unknown"
    ABORTED = "aborted"
    CONTINUED = "continued"
    """Failed, and the run went on (``on_failure: continue`` or the operator's choice)."""


class RunOutcome(OpenStrEnum):
    """How a run ended."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"
    ABORTED = "aborted"
    STOPPED = "stopped"
    INTERRUPTED = "interrupted"


class DecisionAction(OpenStrEnum):
    """What the operator (or a policy) decided."""

    CONFIRM = "confirm"
    DECLINE = "decline"
    SKIP = "skip"
    RETRY = "retry"
    ABORT = "abort"
    DONE = "done"
    RERUN = "rerun"
    CONTINUE = "continue"
    ROLLBACK = "rollback"
    APPROVE = "approve"
    """Another operator's approval of a step that needs several (the two-person rule)."""


class QuestionKind(OpenStrEnum):
    """What the engine asks an operator."""

    CONFIRM = "confirm"
    """May this step run?"""
    MANUAL = "manual"
    """Is this manual step done?"""
    FAILURE = "failure"
    """The step failed: what now?"""
    UNKNOWN = "unknown"
    """A resumed step whose outcome is unknown: run it again?"""


class OnFailure(OpenStrEnum):
    """A step's failure policy."""

    ABORT = "abort"
    CONTINUE = "continue"
    ROLLBACK = "rollback"


class NoticeLevel(OpenStrEnum):
    """How loud a notice is."""

    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


class RtoEdge(OpenStrEnum):
    """Which end of the measured outage an ``rto_mark`` is."""

    START = "start"
    END = "end"


class SamplePhase(OpenStrEnum):
    """When a replication sample of a run was taken."""

    BEFORE = "before"
    DURING = "during"
    AFTER = "after"


class LockScope(OpenStrEnum):
    """Which half of a service lock: the audit database's row or a host's directory."""

    LOCAL = "local"
    REMOTE = "remote"


class ErrorKind(OpenStrEnum):
    """What kind of trouble an error is, recorded with the failure it causes.

    Every project exception names its kind (``console.errors``), so a refused host key stays a
    host-key error from the transport to the audit log to the TUI.
    """

    INPUT = "input"
    """Bad input: a file, a name, a value."""
    HOST_KEY = "host_key"
    """The host presented an unknown or changed key; the connection was refused."""
    CONNECT_REFUSED = "connect_refused"
    """Nothing listens on the host's SSH port."""
    CONNECT_TIMEOUT = "connect_timeout"
    """The host did not answer within its connect timeout."""
    AUTH = "auth"
    """The login was refused."""
    IDENTITY = "identity"
    """The identity file cannot be used."""
    SESSION_REFUSED = "session_refused"
    """The server refused a session for the command."""
    CONNECTION_LOST = "connection_lost"
    """The connection dropped while a command ran (it may or may not have completed)."""
    SSH = "ssh"
    """Any other failure to reach a host."""
    OS = "os"
    """A local operating-system error."""
    INTERRUPTED = "interrupted"
    """The command was stopped because the run was interrupted or aborted."""
    LOCKED = "locked"
    """Another run holds a lock."""
    STOPPED = "stopped"
    """Nobody could decide (headless without ``--yes``)."""
    ERROR = "error"
    """Anything else drconsole raised on purpose."""
