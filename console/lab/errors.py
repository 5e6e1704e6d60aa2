"""The lab's own errors, as leaves of the project's tree (``console.errors``).

The CLI maps them to exit codes without knowing the lab: a missing server package is bad input
for this machine (exit 2, with the ``apt-get`` line to fix it); a lab that cannot start or stop
cleanly is a failure (exit 1) whose message says what is left and how to clean it.
"""

from __future__ import annotations

from console.errors import DrError, InputError

DEBIAN_PACKAGES = "openssh-server postgresql redis-server mariadb-server"
"""The Debian packages that provide every server binary the lab runs."""


class LabError(DrError):
    """The lab could not do what was asked; the message says what state it is left in."""

    exit_code = 1


class LabHalfStarted(LabError):
    """A previous ``up`` left some processes behind; ``down`` must clean them first."""


class LabCommandFailed(LabError):
    """A setup command of the lab (initdb, a SQL statement, ...) failed or timed out."""

    def __init__(self, what: str, detail: str) -> None:
        super().__init__(f"{what}: {detail.strip()[-2000:]}")
        self.what = what
        self.detail = detail


class MissingBinaries(InputError):
    """Server binaries the lab needs are not installed. Exit code 2."""

    def __init__(self, missing: list[str], hint: str | None = None) -> None:
        super().__init__(
            "the lab needs server binaries that are not installed: "
            + ", ".join(missing)
            + (
                f"; {hint}"
                if hint
                else f"; install them with: apt-get install -y {DEBIAN_PACKAGES}"
            )
        )
        self.missing = missing
