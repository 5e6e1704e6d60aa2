"""pgBackRest in the lab: PostgreSQL archives WAL to a repository at the dr site.

Point-in-time recovery needs a base backup plus every WAL segment since, kept away from the
databases it protects. The default lab therefore makes the PostgreSQL primary push each
finished WAL segment (``archive_command``) into a pgBackRest repository under the dr site's
directory, creates the stanza as soon as the primary runs and takes a first full backup once
the pair is up, so that a PITR drill has something to recover from the moment ``lab up``
returns. The repository is a local path (one machine); every pgBackRest call names the one
configuration file with ``--config`` (the default paths are system directories the lab user
cannot write, lab-notes-wave2 section 3).

``archive_command`` sits in the configuration that ``pg_basebackup`` copies to the standby,
so it names the data directory it runs in (``$(pwd -P)``: PostgreSQL runs it in its data
directory) rather than east's: after a failover the promoted standby archives into the same
stanza with its own ``--pg1-path``. A standby (``archive_mode = on``) archives nothing.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass
from pathlib import Path

from console.lab.errors import LabError
from console.lab.layout import PG_PORT, LabLayout, SiteLayout
from console.lab.runner import Runner

STANZA = "orders-db"
"""The stanza of the lab's PostgreSQL pair (named after its inventory service)."""
PROGRAM = "pgbackrest"
"""The program's name on PATH (Debian package ``pgbackrest``)."""


@dataclass(frozen=True, slots=True)
class PgBackRest:
    """The lab's pgBackRest repository and configuration, all under the dr site."""

    dr: SiteLayout
    """The site that holds the repository."""
    program: Path
    """The ``pgbackrest`` executable."""

    @property
    def root(self) -> Path:
        """Configuration, repository, lock, log and spool directories."""
        return self.dr.root / "pgbackrest"

    @property
    def config(self) -> Path:
        """The one configuration file every call names with ``--config``."""
        return self.root / "pgbackrest.conf"

    @property
    def repo(self) -> Path:
        """The repository (``repo1-path``)."""
        return self.root / "repo"

    def directories(self) -> list[Path]:
        """What must exist, owned by the lab user, before PostgreSQL starts archiving."""
        return [self.root, self.repo, self.root / "lock", self.root / "log", self.root / "spool"]

    def config_text(self, primary: SiteLayout) -> str:
        """``pgbackrest.conf``: the repository, local paths, and the stanza on ``primary``."""
        return (
            "# drconsole lab: the PostgreSQL pair's WAL archive and backups, at the dr site.\n"
            "[global]\n"
            f"repo1-path={self.repo}\n"
            "repo1-retention-full=2\n"
            f"lock-path={self.root / 'lock'}\n"
            f"log-path={self.root / 'log'}\n"
            f"spool-path={self.root / 'spool'}\n"
            "log-level-console=warn\n"
            "log-level-file=info\n"
            "start-fast=y\n"
            "compress-type=lz4\n"
            "archive-timeout=120\n"
            f"\n[{STANZA}]\n"
            f"pg1-path={primary.pgdata}\n"
            f"pg1-port={PG_PORT}\n"
            f"pg1-socket-path={primary.run_dir}\n"
            "pg1-user=postgres\n"
        )

    def base_argv(self) -> list[str]:
        """``pgbackrest --config=... --stanza=...`` (append options and the command)."""
        return [str(self.program), f"--config={self.config}", f"--stanza={STANZA}"]

    @property
    def archive_command(self) -> str:
        """The ``archive_command`` (run by PostgreSQL in its data directory)."""
        return (
            f"{shlex.quote(str(self.program))} --config={shlex.quote(str(self.config))} "
            f'--stanza={STANZA} --pg1-path="$(pwd -P)" archive-push %p'
        )

    def postgres_conf(self) -> str:
        """Lines appended to the shared ``postgresql.conf`` (copied to the standby)."""
        command = self.archive_command.replace("'", "''")
        return (
            "# --- drconsole lab: continuous WAL archiving to pgBackRest at the dr site ---\n"
            "archive_mode = on\n"
            f"archive_command = '{command}'\n"
            "archive_timeout = 60\n"
        )


def for_layout(layout: LabLayout, program: Path) -> PgBackRest:
    """The lab's pgBackRest set-up for a layout."""
    return PgBackRest(layout.site("dr"), program)


def write_config(runner: Runner, brest: PgBackRest, primary: SiteLayout) -> None:
    """Write ``pgbackrest.conf`` as the lab user (before PostgreSQL starts archiving)."""
    runner.sh(
        f"cat > {shlex.quote(str(brest.config))} <<'EOF'\n{brest.config_text(primary)}EOF\n",
        what="write pgbackrest.conf",
        timeout=30,
    )


def create_stanza(runner: Runner, brest: PgBackRest) -> None:
    """``stanza-create`` against the running primary."""
    runner.run([*brest.base_argv(), "stanza-create"], what="pgbackrest stanza-create", timeout=120)


def first_backup(runner: Runner, brest: PgBackRest) -> None:
    """A full backup of the primary into the repository, then a check that it is listed.

    Raises:
        LabCommandFailed: pgBackRest failed (its output is in the message).
        LabError: The repository lists no backup afterwards.
    """
    runner.run([*brest.base_argv(), "--type=full", "backup"], what="pgbackrest backup", timeout=600)
    info = json.loads(
        runner.run(
            [*brest.base_argv(), "--output=json", "info"], what="pgbackrest info", timeout=60
        )
    )
    if not info or not info[0].get("backup"):
        raise LabError(f"pgbackrest info lists no backup of stanza {STANZA} after the backup")
