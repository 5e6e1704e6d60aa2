"""known_hosts parsing and the host-key policy, on files written the way OpenSSH writes them."""

from __future__ import annotations

import base64
import hashlib
import hmac
import subprocess
from pathlib import Path

import pytest

from console.errors import HostKeyError
from console.ssh.hostkeys import (
    HostKeyPolicy,
    KnownHostsCache,
    KnownHostsFile,
    KnownKey,
    Verdict,
    decode_openssh_line,
    fingerprint,
    host_field,
    preferred_algorithms,
)

KEY_A = KnownKey("ssh-ed25519", b"\x00\x00\x00\x0bssh-ed25519" + b"A" * 36)
KEY_B = KnownKey("ssh-ed25519", b"\x00\x00\x00\x0bssh-ed25519" + b"B" * 36)
KEY_RSA = KnownKey("ssh-rsa", b"\x00\x00\x00\x07ssh-rsa" + b"R" * 40)


def _hashed(name: str, salt: bytes = b"0123456789abcdefghij") -> str:
    digest = hmac.new(salt, name.encode(), hashlib.sha1).digest()
    return f"|1|{base64.b64encode(salt).decode()}|{base64.b64encode(digest).decode()}"


def _file(tmp_path: Path, text: str) -> KnownHostsFile:
    path = tmp_path / "known_hosts"
    path.write_text(text)
    return KnownHostsFile(str(path))


def test_host_field_brackets_non_default_ports() -> None:
    assert host_field("127.0.99.1", 22) == "127.0.99.1"
    assert host_field("127.0.99.1", 2222) == "[127.0.99.1]:2222"


def test_plain_entry_with_port(tmp_path: Path) -> None:
    f = _file(tmp_path, f"[127.0.99.1]:2222 {KEY_A.openssh} comment\n")
    keys = f.lookup("127.0.99.1", 2222)
    assert keys.verdict(KEY_A.key_type, KEY_A.blob) is Verdict.TRUSTED
    assert keys.verdict(KEY_B.key_type, KEY_B.blob) is Verdict.CHANGED
    # the same address on port 22 is another host for known_hosts
    assert f.lookup("127.0.99.1", 22).verdict(KEY_A.key_type, KEY_A.blob) is Verdict.UNKNOWN


def test_hashed_entries_match_only_their_host(tmp_path: Path) -> None:
    f = _file(tmp_path, f"{_hashed('[127.0.99.1]:2222')} {KEY_A.openssh}\n")
    assert f.lookup("127.0.99.1", 2222).verdict(KEY_A.key_type, KEY_A.blob) is Verdict.TRUSTED
    assert f.lookup("127.0.99.2", 2222).verdict(KEY_A.key_type, KEY_A.blob) is Verdict.UNKNOWN


def test_patterns_lists_and_negation(tmp_path: Path) -> None:
    f = _file(
        tmp_path,
        "# comment line\n\n"
        f"db-*.example.com,!db-evil.example.com {KEY_A.openssh}\n"
        f"127.0.99.?,other {KEY_B.openssh}\n",
    )
    assert f.lookup("db-1.example.com", 22).trusted == (KEY_A,)
    assert f.lookup("DB-2.EXAMPLE.COM", 22).trusted == (KEY_A,)  # case-insensitive
    assert f.lookup("db-evil.example.com", 22).trusted == ()
    assert f.lookup("127.0.99.7", 22).trusted == (KEY_B,)
    assert f.lookup("127.0.99.17", 22).trusted == ()
    assert f.lookup("other", 22).trusted == (KEY_B,)


def test_revoked_and_cert_authority_and_junk_lines(tmp_path: Path) -> None:
    f = _file(
        tmp_path,
        f"@revoked * {KEY_B.openssh}\n"
        f"@cert-authority *.example.com {KEY_RSA.openssh}\n"
        "garbage\n"
        "host ssh-ed25519 not-base64!!\n"
        f"h1 {KEY_A.openssh}\n"
        f"h1 {KEY_B.openssh}\n",
    )
    keys = f.lookup("h1", 22)
    assert keys.trusted == (KEY_A, KEY_B)
    assert keys.verdict(KEY_B.key_type, KEY_B.blob) is Verdict.REVOKED
    assert keys.verdict(KEY_A.key_type, KEY_A.blob) is Verdict.TRUSTED
    assert f.lookup("x.example.com", 22).trusted == ()  # CA lines are not host keys


def test_file_is_reread_when_it_changes(tmp_path: Path) -> None:
    f = _file(tmp_path, "")
    assert f.lookup("h", 22).trusted == ()
    (tmp_path / "known_hosts").write_text(f"h {KEY_A.openssh}\n")
    assert f.lookup("h", 22).trusted == (KEY_A,)


def test_append_writes_openssh_format_once(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "known_hosts"
    f = KnownHostsFile(str(path))
    assert f.append("127.0.99.1", 2222, KEY_A)
    assert not f.append("127.0.99.1", 2222, KEY_A)  # already there
    assert path.read_text() == f"[127.0.99.1]:2222 {KEY_A.openssh}\n"
    path.write_text(path.read_text() + "h2 " + KEY_B.openssh)  # no final newline
    assert f.append("h3", 22, KEY_B)
    assert path.read_text().splitlines()[-1] == f"h3 {KEY_B.openssh}"
    assert f.lookup("h3", 22).trusted == (KEY_B,)


def test_fingerprint_matches_ssh_keygen(tmp_path: Path) -> None:
    key = tmp_path / "k"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    pub = (tmp_path / "k.pub").read_text()
    expected = subprocess.run(
        ["ssh-keygen", "-l", "-E", "sha256", "-f", str(tmp_path / "k.pub")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()[1]
    assert decode_openssh_line(pub).fingerprint == expected
    assert fingerprint(decode_openssh_line(pub).blob) == expected


def test_policy_decisions(tmp_path: Path) -> None:
    path = tmp_path / "kh"
    path.write_text(f"[h]:2 {KEY_A.openssh}\n")
    strict = HostKeyPolicy(KnownHostsCache(), accept_new=False)
    assert strict.check("web", str(path), "h", 2, KEY_A) is None
    with pytest.raises(HostKeyError) as changed:
        strict.check("web", str(path), "h", 2, KEY_B)
    assert (changed.value.reason, changed.value.host) == ("changed", "web")
    with pytest.raises(HostKeyError) as unknown:
        strict.check("new", str(path), "n", 2, KEY_B)
    assert unknown.value.reason == "unknown"
    assert unknown.value.fingerprint == KEY_B.fingerprint
    assert unknown.value.key_type == "ssh-ed25519"

    lenient = HostKeyPolicy(KnownHostsCache(), accept_new=True)
    with pytest.raises(HostKeyError, match="changed"):
        lenient.check("web", str(path), "h", 2, KEY_B)
    accepted = lenient.check("new", str(path), "n", 2, KEY_B)
    assert accepted is not None
    assert (accepted.host, accepted.key_type, accepted.fingerprint) == (
        "new",
        "ssh-ed25519",
        KEY_B.fingerprint,
    )
    assert strict.check("new", str(path), "n", 2, KEY_B) is None  # now trusted


def test_known_key_types_are_offered_first() -> None:
    available = ["rsa-sha2-256", "rsa-sha2-512", "ssh-rsa", "ssh-ed25519", "ecdsa-sha2-nistp256"]
    assert preferred_algorithms(["ssh-ed25519"], available)[0] == "ssh-ed25519"
    assert set(preferred_algorithms(["ssh-rsa"], available)[:3]) == {
        "rsa-sha2-256",
        "rsa-sha2-512",
        "ssh-rsa",
    }
    assert sorted(preferred_algorithms(["ssh-ed25519"], available)) == sorted(available)
    assert preferred_algorithms([], available) == available
