"""Run the lab's setup commands as the lab user, with a timeout, and fail with the output.

Every server of the lab is owned and run by one unprivileged user (PostgreSQL refuses root),
so every setup command goes through ``osuser.run_as``. This wrapper adds what the setup
steps all need: a name for the step in error messages, the command's own output when it fails
(the first thing a person needs), and one knob that stretches every timeout on a busy machine.
"""

from __future__ import annotations

import shlex
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from console.errors import DrError
from console.lab.errors import LabCommandFailed
from console.lab.osuser import LabUser, run_as


@dataclass(frozen=True, slots=True)
class Runner:
    """Runs commands as the lab user."""

    user: LabUser
    """The user that owns and runs every lab process."""
    timeout_scale: float = 1.0
    """Multiplies every timeout (set it above 1 on a loaded machine)."""

    def run(
        self,
        argv: Sequence[str],
        *,
        what: str,
        timeout: float,
        cwd: Path | None = None,
        env: dict[str, str] | None = None,
    ) -> str:
        """Run ``argv`` and return its stdout.

        Args:
            argv: The command.
            what: A short description for error messages ("initdb on east").
            timeout: Seconds (multiplied by :attr:`timeout_scale`).
            cwd: Working directory.
            env: Extra environment.

        Raises:
            LabCommandFailed: On a non-zero exit or a timeout, with the command's output.
        """
        limit = timeout * self.timeout_scale
        try:
            done = run_as(self.user, list(argv), timeout=limit, check=False, env=env, cwd=cwd)
        except subprocess.TimeoutExpired as exc:
            raise LabCommandFailed(
                what, f"timed out after {limit:.0f} s: {shlex.join(argv)}"
            ) from exc
        except DrError as exc:
            raise LabCommandFailed(what, str(exc)) from exc
        if done.returncode != 0:
            out = _text(done.stderr) + _text(done.stdout)
            raise LabCommandFailed(what, f"exit {done.returncode} from {argv[0]}: {out}")
        return _text(done.stdout)

    def sh(self, command: str, *, what: str, timeout: float) -> str:
        """Run one shell command line (as the drill playbooks will over SSH)."""
        return self.run(["/bin/sh", "-c", command], what=what, timeout=timeout)


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    return str(value)
