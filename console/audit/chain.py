"""The hash chain, as pure functions: what exactly is hashed, and how.

Tamper evidence rests on two things being byte-for-byte reproducible years later by any
implementation: the serialisation of an event and the hash over it. Both are defined here and
nowhere else, with no I/O, so they can be tested exhaustively and re-implemented from this
file alone:

* canonical JSON: keys sorted, no whitespace (``,`` and ``:``), UTF-8 (non-ASCII characters
  are not escaped), NaN and infinities refused;
* ``event_hash(prev_hash, fields)``: SHA-256, in lower-case hex, of the canonical JSON of the
  event's fields (every field except ``hash`` itself) together with ``prev_hash``.

The first event of a database links to ``GENESIS_HASH``, 64 zeros.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import json
from collections.abc import Mapping
from datetime import date, datetime
from pathlib import PurePath
from typing import Any

GENESIS_HASH = "0" * 64
"""The ``prev_hash`` of the very first event in a database."""

HASHED_FIELDS = ("gid", "run_id", "seq", "ts", "kind", "operator", "host", "step_id", "data")
"""The event fields the hash covers, besides ``prev_hash``; ``hash`` is the only field left out."""


def _jsonable(value: Any) -> Any:
    """Turn the few non-JSON values the engine may hand us into plain JSON values.

    Raises:
        TypeError: For anything else, so that nothing is recorded by ``repr`` by accident.
    """
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=canonical_json)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    raise TypeError(f"cannot record a {type(value).__name__} in the audit log: {value!r}")


def canonical_json(value: Any) -> str:
    """Serialise a value as canonical JSON: sorted keys, compact, UTF-8, no NaN.

    Tuples become arrays; datetimes, dates, paths, enums, sets and dataclasses are converted
    to their plain JSON form first. Dictionary keys must be strings.

    Args:
        value: The value to serialise.

    Returns:
        The canonical text.

    Raises:
        ValueError: For NaN or an infinity.
        TypeError: For a value with no JSON form, or a non-string key.
    """
    return json.dumps(
        value,
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
        default=_jsonable,
    )


def normalize_data(data: Mapping[str, Any]) -> dict[str, Any]:
    """The plain-JSON form of an event's data, exactly as it will read back from the database.

    Hashing this normalised form, rather than whatever objects the caller passed, is what makes
    the hash recomputable from the stored text.
    """
    if not isinstance(data, Mapping):
        raise TypeError(f"event data must be a mapping, not {type(data).__name__}")
    normalized = json.loads(canonical_json(dict(data)))
    if not isinstance(normalized, dict):  # pragma: no cover - a mapping always loads as dict
        raise TypeError("event data must serialise to a JSON object")
    return normalized


def event_hash(prev_hash: str, fields: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of an event: its fields plus the hash of the event before it.

    Args:
        prev_hash: The ``hash`` of the previous event in the database, or ``GENESIS_HASH``.
        fields: Exactly the names in ``HASHED_FIELDS``.

    Returns:
        64 lower-case hexadecimal characters.

    Raises:
        ValueError: If ``fields`` misses a hashed field, carries another one, or
            ``prev_hash`` is not 64 hex characters.
    """
    if set(fields) != set(HASHED_FIELDS):
        missing = sorted(set(HASHED_FIELDS) - set(fields))
        extra = sorted(set(fields) - set(HASHED_FIELDS))
        raise ValueError(f"event fields wrong: missing {missing}, unexpected {extra}")
    if len(prev_hash) != 64 or any(c not in "0123456789abcdef" for c in prev_hash):
        raise ValueError(f"prev_hash is not a SHA-256 hex digest: {prev_hash!r}")
    payload = canonical_json({**fields, "prev_hash": prev_hash})
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


CHAIN_SLOTS = ("gid", "prev_hash", "seq")
"""The hashed values a team store fills in itself when it links an event (``hash_parts``)."""


def hash_parts(fields: Mapping[str, Any]) -> tuple[str, str, str, str]:
    """The canonical text ``event_hash`` hashes, cut around the values of ``CHAIN_SLOTS``.

    ``a + str(gid) + b + prev_hash + c + str(seq) + d`` is exactly the payload of
    ``event_hash(prev_hash, fields)``: the PostgreSQL team store sends the four parts and lets
    the server put in the end of the chain and the run's next seq, under its write lock, in
    the same statement that inserts the event (``console.audit.pg``), so the lock is never
    held while a console computes. The canonical form stays the one defined here.

    Args:
        fields: Every name of ``HASHED_FIELDS`` but ``gid`` and ``seq``; ``data`` normalised.

    Raises:
        ValueError: ``fields`` has other names.
    """
    expected = set(HASHED_FIELDS) - {"gid", "seq"}
    if set(fields) != expected:
        raise ValueError(f"event fields wrong: {sorted(fields)} (want {sorted(expected)})")
    # json.dumps(sort_keys=True) orders the keys: data gid host kind operator prev_hash
    # run_id seq step_id ts
    a = '{"data":' + canonical_json(fields["data"]) + ',"gid":'
    b = (
        ',"host":'
        + canonical_json(fields["host"])
        + ',"kind":'
        + canonical_json(fields["kind"])
        + ',"operator":'
        + canonical_json(fields["operator"])
        + ',"prev_hash":"'
    )
    c = '","run_id":' + canonical_json(fields["run_id"]) + ',"seq":'
    d = (
        ',"step_id":'
        + canonical_json(fields["step_id"])
        + ',"ts":'
        + canonical_json(fields["ts"])
        + "}"
    )
    return a, b, c, d
