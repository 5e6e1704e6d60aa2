"""No shipped playbook puts a password on a command line (issue 13).

A password in a client's arguments is readable by every user of the host for as long as the
client runs (``ps``, ``/proc/PID/cmdline``). The MariaDB playbooks give ``mariadb-binlog`` the
replication account in a 0600 option file (``--defaults-extra-file``) and pipe SQL that names a
password to the client on its standard input instead of ``-e``.

The script that writes that option file holds the password too, and the remote shell's own
arguments are the command text the engine sends. So the engine sends every command that holds
a secret it knows (a ``secret: true`` parameter, an inventory variable named like a secret) on
the exec's standard input, never as its command line (``console.engine.commands``, proven on a
real sshd in ``tests/engine/test_run.py``), and masks it in the audit log's intent. What this
module checks on the shipped playbooks is that every template naming a password-like value is
one the engine knows as a secret, so none can slip into a command line unrecognised.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from console.engine.masking import SECRET_VAR

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


_LOOKS_SECRET = re.compile(r"pass|pw\b|pwd|secret|token|credential|api_?key", re.IGNORECASE)


@pytest.mark.parametrize("path", PLAYBOOKS, ids=lambda p: p.name)
def test_every_password_a_playbook_renders_is_a_secret_the_engine_knows(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    secret_params = set(re.findall(r"(?m)^  (\w+):\s*\{[^}\n]*secret: true", text))
    for m in re.finditer(r"\{\{(.*?)\}\}", text, re.DOTALL):
        names = re.findall(r"[A-Za-z_][A-Za-z0-9_]*", m.group(1))
        looks = [n for n in names if _LOOKS_SECRET.search(n)]
        for name in looks:
            known = name in secret_params or SECRET_VAR.search(name)
            assert known, f"{path.name}: {{{{{m.group(1)}}}}} names {name}, not a known secret"
