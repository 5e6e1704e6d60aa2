"""The lab's MariaDB base backup: ``mariadb-backup`` of the primary, prepared, at the dr site.

A MariaDB point-in-time recovery starts from a physical base backup and replays the binary
log from the position the backup records (``xtrabackup_binlog_info``). ``lab up`` takes one of
the primary right after it is seeded and prepares it at once, so that ``mariadb-pitr`` can
copy it back and replay the binlogs, pulled from the primary over the replication protocol
(``mariadb-binlog --read-from-remote-server``), up to the target.
"""

from __future__ import annotations

from pathlib import Path

from console.lab.layout import LabLayout
from console.lab.runner import Runner

PROGRAM = "mariadb-backup"
"""The program (Debian package ``mariadb-backup``, not pulled in by mariadb-server)."""


def base_dir(layout: LabLayout) -> Path:
    """Where the prepared base backup of the lab's MariaDB primary lives (at dr)."""
    return layout.site("dr").backup_dir / "catalog-db-base"


def take(runner: Runner, layout: LabLayout, program: Path) -> None:
    """``mariadb-backup --backup`` of east over its socket, then ``--prepare``.

    Raises:
        LabCommandFailed: Either step failed (its output is in the message).
    """
    target = base_dir(layout)
    east = layout.site("east")
    # The account is named, not left to the client's default: mariadb-backup 10.11 once
    # connected a later session of the same backup as 'sync' (uid 4's name, not ours) here.
    runner.run(
        [
            str(program),
            "--backup",
            f"--user={runner.user.name}",
            f"--socket={east.maria_socket}",
            f"--target-dir={target}",
        ],
        what="mariadb-backup --backup of east",
        timeout=600,
    )
    runner.run(
        [str(program), "--prepare", f"--target-dir={target}"],
        what="mariadb-backup --prepare",
        timeout=600,
    )
