"""No shipped playbook puts a password on a command line (issue 13).

A password in a client's arguments is readable by every user of the host for as long as the
client runs (``ps``, ``/proc/PID/cmdline``). The MariaDB playbooks give ``mariadb-binlog`` the
replication account in a 0600 option file (``--defaults-extra-file``) and pipe SQL that names a
password to the client on its standard input instead of ``-e``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

PLAYBOOKS = sorted(Path(__file__).resolve().parents[2].joinpath("playbooks").rglob("*.yaml"))


@pytest.mark.parametrize("path", PLAYBOOKS, ids=lambda p: p.name)
def test_no_password_in_a_clients_arguments(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert not re.search(r"--password\b|\s-p\{\{", text), f"{path.name}: a password argument"
    # SQL after -e is an argument: a statement naming a password must come on stdin
    for m in re.finditer(r"""\s-e\s+(["'])(.*?)\1""", text, re.DOTALL):
        assert "PASSWORD" not in m.group(2).upper(), f"{path.name}: a password in -e SQL"


def test_the_pitr_playbook_hands_mariadb_binlog_an_option_file() -> None:
    text = next(p for p in PLAYBOOKS if p.name == "mariadb-pitr.yaml").read_text()
    assert text.count("mariadb-binlog --defaults-extra-file=") == 3
    assert "umask 077" in text and "catalog.cnf" in text
