"""A real PostgreSQL server for the team-store tests: initdb into /tmp, a free port, loopback.

The audit tests run against the SQLite file and against this server (``console.audit`` in
PostgreSQL mode). One server per test module (a module-scoped fixture made with
:func:`pg_server_fixture`); each test gets a database of its own (``PgServer.new_database``),
so tests never see each other's events.

As root, every PostgreSQL program runs as the ``postgres`` user (``initdb`` refuses root), so
the directory is handed to that user first. The port is found free at runtime (bind to port 0)
and the start is retried on another port if something took it in between.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from console.lab.binaries import default_pgbin

START_TIMEOUT = 120
"""Seconds ``pg_ctl start`` and ``stop`` may take (10x what they take on a loaded machine)."""


def pg_missing() -> str | None:
    """Why no test server can be started here, or None."""
    pgbin = default_pgbin()
    for program in ("initdb", "pg_ctl", "postgres"):
        if not (pgbin / program).is_file():
            return f"PostgreSQL server programs not found in {pgbin}"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no postgres user to run the server as"
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "psycopg is not installed"
    return None


requires_pg = pytest.mark.skipif(pg_missing() is not None, reason=str(pg_missing()))


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class PgServer:
    """One PostgreSQL cluster in a directory of its own, listening on 127.0.0.1."""

    root: Path
    port: int = 0
    user: str = "postgres"
    _as_user: list[str] = field(default_factory=list)

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def log(self) -> Path:
        return self.root / "server.log"

    def url(self, dbname: str = "postgres") -> str:
        """The ``postgresql://`` URL of a database on this server."""
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{dbname}"

    def _pg(self, program: str, *args: str, timeout: float = START_TIMEOUT) -> None:
        argv = [*self._as_user, str(default_pgbin() / program), *args]
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
        if proc.returncode != 0:
            log = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise RuntimeError(f"{program} failed ({proc.returncode}): {proc.stderr}\n{log}")

    def init(self) -> None:
        """initdb with trust authentication (loopback only) and a small footprint."""
        if os.geteuid() == 0:
            entry = pwd.getpwnam("postgres")
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
            self._as_user = ["runuser", "-u", "postgres", "--"]
        self._pg(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            self.user,
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
            "--no-sync",
        )
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(
                "listen_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{self.root}'\n"
                "shared_buffers = '32MB'\n"
                "max_connections = 60\n"
                "synchronous_commit = on\n"
                "fsync = on\n"
            )

    def start(self) -> None:
        """Start the server on a free port (kept across restarts once it has one)."""
        attempts = 1 if self.port else 5
        for attempt in range(attempts):
            port = self.port or _free_port()
            try:
                self._pg(
                    "pg_ctl",
                    "-D",
                    str(self.data),
                    "-l",
                    str(self.log),
                    "-o",
                    f"-p {port}",
                    "-w",
                    "-t",
                    str(START_TIMEOUT),
                    "start",
                )
            except RuntimeError:
                if attempt == attempts - 1:
                    raise
                continue
            self.port = port
            return

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``immediate`` is a crash: no checkpoint, clients cut off)."""
        self._pg("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", str(START_TIMEOUT), "stop")

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def new_database(self) -> str:
        """Create an empty database and return its URL."""
        import psycopg

        name = "t_" + uuid.uuid4().hex[:12]
        with psycopg.connect(self.url(), autocommit=True, connect_timeout=30) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def sql(self, url: str, statement: str) -> None:
        """Run one statement on a database as the superuser (for tests that tamper)."""
        import psycopg

        with psycopg.connect(url, autocommit=True, connect_timeout=30) as conn:
            conn.execute(statement)


@contextlib.contextmanager
def running_pg() -> Iterator[PgServer]:
    """A started server in a fresh directory under /tmp; stopped and removed afterwards."""
    root = Path(tempfile.mkdtemp(prefix="drpg-", dir="/tmp"))
    os.chmod(root, 0o755)
    server = PgServer(root)
    try:
        server.init()
        server.start()
        yield server
    finally:
        if server.running():
            with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
                server.stop("immediate")
        shutil.rmtree(root, ignore_errors=True)


def pg_server_fixture(scope: str = "module") -> Callable[..., Iterator[PgServer]]:
    """A fixture that starts one server for its scope (default: per test module)."""

    @pytest.fixture(scope=scope)  # type: ignore[call-overload]
    def pg_server() -> Iterator[PgServer]:
        missing = pg_missing()
        if missing is not None:
            pytest.skip(missing)
        with running_pg() as server:
            yield server

    return pg_server  # type: ignore[no-any-return]
