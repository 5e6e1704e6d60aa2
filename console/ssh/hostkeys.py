"""Strict host-key checking against an OpenSSH known_hosts file, for both backends.

One implementation of the policy so that asyncssh and paramiko refuse exactly the same keys:
a host's presented key is either listed for it (trusted), or the host is listed with other keys
(``changed``: refused, always), or the host is not listed (``unknown``: refused unless the
operator explicitly asked to accept new keys, in which case the key is appended and reported).
The file format is OpenSSH's: plain and hashed (``|1|salt|hash``) host fields, ``[addr]:port``
for non-22 ports, ``*``/``?`` patterns and ``!`` negation, ``@revoked`` lines. ``@cert-authority``
lines are ignored (host certificates are not supported).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import fcntl
import hashlib
import hmac
import os
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum
from functools import lru_cache
from pathlib import Path

from console.errors import HostKeyError


class Verdict(Enum):
    """What a known_hosts file says about a presented key."""

    TRUSTED = "trusted"
    """The key is listed for this host."""
    UNKNOWN = "unknown"
    """The host is not listed at all."""
    CHANGED = "changed"
    """The host is listed, but not with this key."""
    REVOKED = "revoked"
    """The key is marked ``@revoked``."""


@dataclass(frozen=True)
class KnownKey:
    """One public key from a known_hosts line."""

    key_type: str
    """SSH key type name, e.g. ``ssh-ed25519``."""
    blob: bytes
    """The public key in SSH wire format (the base64 field, decoded)."""

    @property
    def fingerprint(self) -> str:
        """``SHA256:...`` as OpenSSH prints it."""
        return fingerprint(self.blob)

    @property
    def openssh(self) -> str:
        """``type base64`` as it appears in known_hosts and authorized_keys."""
        return f"{self.key_type} {base64.b64encode(self.blob).decode('ascii')}"


@dataclass(frozen=True)
class _Entry:
    patterns: tuple[str, ...]
    """Host patterns of the line; a hashed one is kept as ``|1|salt|hash``."""
    key: KnownKey
    revoked: bool


@dataclass(frozen=True)
class HostKeys:
    """The keys a known_hosts file lists for one host."""

    trusted: tuple[KnownKey, ...]
    """Keys listed for the host (not revoked)."""
    revoked: tuple[KnownKey, ...]
    """Keys marked ``@revoked`` (for any host)."""

    def verdict(self, key_type: str, blob: bytes) -> Verdict:
        """Judge a presented key.

        Args:
            key_type: The presented key's type name.
            blob: The presented key in SSH wire format.

        Returns:
            TRUSTED, UNKNOWN, CHANGED or REVOKED.
        """
        if any(k.blob == blob for k in self.revoked):
            return Verdict.REVOKED
        if any(k.blob == blob for k in self.trusted):
            return Verdict.TRUSTED
        return Verdict.CHANGED if self.trusted else Verdict.UNKNOWN

    @property
    def key_types(self) -> tuple[str, ...]:
        """Types of the trusted keys, in file order, without repeats."""
        return tuple(dict.fromkeys(k.key_type for k in self.trusted))


def fingerprint(blob: bytes) -> str:
    """OpenSSH's SHA256 fingerprint of a public key in wire format."""
    digest = hashlib.sha256(blob).digest()
    return "SHA256:" + base64.b64encode(digest).decode("ascii").rstrip("=")


def host_field(address: str, port: int) -> str:
    """The name known_hosts uses for ``address``/``port`` (``[addr]:port`` unless port 22)."""
    return address if port == 22 else f"[{address}]:{port}"


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    parts = [".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern]
    return re.compile("".join(parts), re.IGNORECASE | re.DOTALL)


@lru_cache(maxsize=4096)
def _compiled(pattern: str) -> re.Pattern[str]:
    return _pattern_regex(pattern)


def _hashed_match(pattern: str, name: str) -> bool:
    try:
        _, _magic, salt_b64, hash_b64 = pattern.split("|")
        salt = base64.b64decode(salt_b64)
        expected = base64.b64decode(hash_b64)
    except (ValueError, binascii.Error):
        return False
    actual = hmac.new(salt, name.encode("utf-8"), hashlib.sha1).digest()
    return hmac.compare_digest(actual, expected)


def _entry_matches(entry: _Entry, name: str) -> bool:
    """OpenSSH semantics: any positive pattern matches and no negated pattern matches."""
    positive = False
    for pattern in entry.patterns:
        if pattern.startswith("|1|"):
            if _hashed_match(pattern, name):
                positive = True
            continue
        negated = pattern.startswith("!")
        body = pattern[1:] if negated else pattern
        if _compiled(body).fullmatch(name):
            if negated:
                return False
            positive = True
    return positive


def parse_known_hosts(text: str) -> list[_Entry]:
    """Parse known_hosts text; malformed lines are skipped, as OpenSSH does."""
    entries: list[_Entry] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        fields = line.split()
        revoked = False
        if fields[0].startswith("@"):
            if fields[0] == "@revoked":
                revoked = True
            else:
                continue  # @cert-authority: host certificates are not supported
            fields = fields[1:]
        if len(fields) < 3:
            continue
        try:
            blob = base64.b64decode(fields[2], validate=True)
        except (ValueError, binascii.Error):
            continue
        patterns = tuple(fields[0].split(","))
        entries.append(_Entry(patterns, KnownKey(fields[1], blob), revoked))
    return entries


class KnownHostsFile:
    """A known_hosts file, parsed once and re-read only when it changes on disk.

    Thread-safe: the paramiko backend consults it from worker threads.
    """

    def __init__(self, path: str) -> None:
        """Remember the path; nothing is read yet.

        Args:
            path: The file (``~`` already expanded). A missing file lists no hosts.
        """
        self.path = path
        self._lock = threading.Lock()
        self._stamp: tuple[int, int, int] | None = None
        self._entries: list[_Entry] = []

    def _load(self) -> list[_Entry]:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return []
        stamp = (st.st_ino, st.st_size, st.st_mtime_ns)
        with self._lock:
            if stamp != self._stamp:
                text = Path(self.path).read_text(encoding="utf-8", errors="replace")
                self._entries = parse_known_hosts(text)
                self._stamp = stamp
            return self._entries

    def lookup(self, address: str, port: int) -> HostKeys:
        """The keys listed for ``address`` on ``port``.

        Args:
            address: The address as the target names it.
            port: The SSH port.

        Returns:
            Trusted keys for that host and every revoked key in the file.
        """
        name = host_field(address, port)
        entries = self._load()
        trusted = tuple(e.key for e in entries if not e.revoked and _entry_matches(e, name))
        revoked = tuple(e.key for e in entries if e.revoked)
        return HostKeys(trusted=trusted, revoked=revoked)

    def append(self, address: str, port: int, key: KnownKey) -> bool:
        """Add a key for ``address``/``port`` (under an exclusive lock, creating the file).

        Args:
            address: The address as the target names it.
            port: The SSH port.
            key: The key to trust from now on.

        Returns:
            True when a line was written, False when the key was already listed.
        """
        path = Path(self.path)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with path.open("a+", encoding="utf-8") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                fh.seek(0)
                existing = fh.read()
                name = host_field(address, port)
                listed = any(
                    not e.revoked and e.key.blob == key.blob and _entry_matches(e, name)
                    for e in parse_known_hosts(existing)
                )
                if listed:
                    return False
                prefix = "" if not existing or existing.endswith("\n") else "\n"
                fh.write(f"{prefix}{name} {key.openssh}\n")
                fh.flush()
                os.fsync(fh.fileno())
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)
        with self._lock:
            self._stamp = None
        return True


class KnownHostsCache:
    """One ``KnownHostsFile`` per path, shared by every connection of a pool."""

    def __init__(self) -> None:
        """Start empty."""
        self._files: dict[str, KnownHostsFile] = {}
        self._lock = threading.Lock()

    def get(self, path: str) -> KnownHostsFile:
        """The cached reader for ``path``."""
        with self._lock:
            found = self._files.get(path)
            if found is None:
                found = self._files[path] = KnownHostsFile(path)
            return found


RSA_ALGORITHMS = ("rsa-sha2-512", "rsa-sha2-256", "ssh-rsa")
"""Host-key signature algorithms that all use an ``ssh-rsa`` key."""


def preferred_algorithms(known_types: Iterable[str], available: Iterable[str]) -> list[str]:
    """Order host-key algorithms so that those of keys we already know come first.

    This is what OpenSSH does: a server with several host keys presents the one we can check,
    rather than one we would have to call unknown.

    Args:
        known_types: Key types listed for the host.
        available: The algorithms the backend supports, in its own order of preference.

    Returns:
        ``available`` reordered: known types first.
    """
    available = list(available)
    first: list[str] = []
    for key_type in known_types:
        algs = RSA_ALGORITHMS if key_type == "ssh-rsa" else (key_type,)
        first.extend(a for a in algs if a in available and a not in first)
    return first + [a for a in available if a not in first]


@dataclass(frozen=True)
class Acceptance:
    """A new host key that was appended to known_hosts (to be reported, never silent)."""

    host: str
    """Inventory host name."""
    key_type: str
    """Key type name, e.g. ``ssh-ed25519``."""
    fingerprint: str
    """``SHA256:...``."""


def decode_openssh_line(line: str) -> KnownKey:
    """Parse ``type base64 [comment]`` (a ``.pub`` file's content) into a key."""
    fields = line.split()
    with contextlib.suppress(IndexError):
        return KnownKey(fields[0], base64.b64decode(fields[1]))
    raise ValueError(f"not an OpenSSH public key line: {line[:40]!r}")


class HostKeyPolicy:
    """The decision both backends apply to a presented host key.

    Trusted keys pass. A changed or revoked key is always refused. An unknown key is refused,
    unless ``accept_new`` is set: then it is appended to the target's known_hosts and returned
    as an ``Acceptance`` that the caller must report.
    """

    def __init__(self, cache: KnownHostsCache, *, accept_new: bool) -> None:
        """Bind the policy to a cache of known_hosts files.

        Args:
            cache: Shared known_hosts readers.
            accept_new: Trust and record keys of hosts not listed at all.
        """
        self.cache = cache
        self.accept_new = accept_new

    def lookup(self, known_hosts: str, address: str, port: int) -> HostKeys:
        """The keys listed for a host (to order the algorithms offered to it)."""
        return self.cache.get(known_hosts).lookup(address, port)

    def check(
        self, host: str, known_hosts: str, address: str, port: int, key: KnownKey
    ) -> Acceptance | None:
        """Judge ``key`` presented by ``address``/``port``.

        Args:
            host: Inventory host name, for the error and the acceptance report.
            known_hosts: The known_hosts file to check against.
            address: Address as the target names it.
            port: SSH port.
            key: The presented key.

        Returns:
            None when the key is trusted; an ``Acceptance`` when it was unknown and has just
            been appended because ``accept_new`` is set.

        Raises:
            HostKeyError: The key is unknown (and accept_new is off), changed, or revoked.
        """
        file = self.cache.get(known_hosts)
        verdict = file.lookup(address, port).verdict(key.key_type, key.blob)
        if verdict is Verdict.TRUSTED:
            return None
        if verdict is Verdict.UNKNOWN and self.accept_new:
            file.append(address, port, key)
            return Acceptance(host, key.key_type, key.fingerprint)
        raise HostKeyError(host, key.key_type, key.fingerprint, verdict.value)
