"""The base of every event, and how a stored payload is read back into its class.

An event is a frozen dataclass whose fields are its audit payload (plus the envelope every
audit row carries itself: step, host, time, sequence number). :meth:`Event.data` writes the
payload; :func:`decode_as` reads one back, tolerantly, from the field annotations alone, so a
new kind needs no reader code of its own:

* a value of the declared type is taken as it is (a number where a float is declared counts);
* a missing or mistyped value becomes the class's ``decode_defaults`` entry for that field, else
  the field's own default, else None when the type admits None, else the type's empty value
  (``""``, ``0``, ``False``, ``()``, ``{}``); the field's name is then listed in ``defaulted``,
  so a strict reader (``console.audit.projection``) can refuse what a tolerant one shows;
* keys the class does not declare are kept in ``extra`` (a newer engine's additions survive);
* an enum field keeps any word (see ``console.events.enums``).

Nothing here raises for a payload's content: a log written by an older or newer engine, or
edited by hand (which ``audit verify`` flags), is always readable.
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self, TypeVar, get_args, get_origin

from console.events.enums import OpenStrEnum

ENVELOPE = frozenset({"step_id", "host", "ts", "seq", "extra", "defaulted"})
"""Fields that are not payload: the audit row carries them itself, or decoding added them."""


@dataclass(frozen=True, kw_only=True)
class Event:
    """Base of every event: the envelope, and the payload as the subclass's fields."""

    kind: ClassVar[str] = "event"
    """The audit event kind."""
    durable: ClassVar[bool] = False
    """Recorded with ``synchronous=FULL`` before the engine goes on (intents)."""
    recorded: ClassVar[bool] = True
    """False for events only listeners see (never written to the audit log)."""
    decode_defaults: ClassVar[Mapping[str, Any]] = {}
    """What a missing or mistyped field reads as, where "empty" would say the wrong thing."""
    aliases: ClassVar[Mapping[str, tuple[str, ...]]] = {}
    """Payload keys a field is read from, in order (older spellings)."""
    omit_when_none: ClassVar[frozenset[str]] = frozenset()
    """Fields added after logs were first written: left out of the payload while None, so an
    event that does not use them is stored exactly as before they existed."""

    step_id: str | None = None
    """The step concerned, if any."""
    host: str | None = None
    """The inventory host concerned, if any."""
    ts: float = 0.0
    """Wall-clock time (``time.time()``) when it happened; stamped when it is recorded."""
    seq: int | None = None
    """The event's sequence number in the run's audit log (None when not recorded)."""
    extra: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)
    """Payload keys this version does not declare, kept as they were read."""
    defaulted: frozenset[str] = field(default=frozenset(), compare=False, repr=False)
    """Fields the payload lacked or had mistyped (given their decode default), as read."""

    def data(self) -> dict[str, Any]:
        """The audit payload: every field except the envelope (and the extras read in)."""
        out: dict[str, Any] = dict(self.extra)
        plain = dataclasses.asdict(self)
        for f in dataclasses.fields(self):
            if f.name in ENVELOPE:
                continue
            if plain[f.name] is None and f.name in self.omit_when_none:
                continue
            out[f.name] = plain[f.name]
        return out

    def stamped(self, *, seq: int | None, ts: float) -> Self:
        """A copy with the place and time the audit log gave it."""
        return dataclasses.replace(self, seq=seq, ts=ts)


@dataclass(frozen=True, kw_only=True)
class UnknownEvent(Event):
    """A stored kind this version does not know: its payload is kept whole in ``extra``."""

    kind: ClassVar[str] = "unknown"
    stored_kind: str = ""
    """The kind as stored."""

    def data(self) -> dict[str, Any]:
        """The payload as it was read."""
        return dict(self.extra)


# -- reading a payload back -----------------------------------------------------------------

_FAIL: Any = object()
"""A coercer's "this value does not fit"."""

Coerce = Callable[[Any], tuple[Any, frozenset[str]]]
"""Raw value -> (value or _FAIL, problems): problems are dotted paths below the field that
were defaulted (a nested reference's fields)."""

_NONE = frozenset[str]()


def _ok(value: Any) -> tuple[Any, frozenset[str]]:
    return value, _NONE


def _str(value: Any) -> tuple[Any, frozenset[str]]:
    if isinstance(value, str):
        return value, _NONE
    if value is None:
        return _FAIL, _NONE
    return str(value), frozenset({""})


def _bool(value: Any) -> tuple[Any, frozenset[str]]:
    return (value, _NONE) if isinstance(value, bool) else (_FAIL, _NONE)


def _int(value: Any) -> tuple[Any, frozenset[str]]:
    if isinstance(value, int) and not isinstance(value, bool):
        return value, _NONE
    return _FAIL, _NONE


def _float(value: Any) -> tuple[Any, frozenset[str]]:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value), _NONE
    return _FAIL, _NONE


def _mapping(value: Any) -> tuple[Any, frozenset[str]]:
    return (dict(value), _NONE) if isinstance(value, Mapping) else (_FAIL, _NONE)


def _enum(cls: type[OpenStrEnum]) -> Coerce:
    def coerce(value: Any) -> tuple[Any, frozenset[str]]:
        return (cls(value), _NONE) if isinstance(value, str) else (_FAIL, _NONE)

    return coerce


def _tuple(item: Coerce, text: bool) -> Coerce:
    def coerce(value: Any) -> tuple[Any, frozenset[str]]:
        if text and isinstance(value, str):
            return (value,), _NONE
        if not isinstance(value, (list, tuple)):
            return _FAIL, _NONE
        kept = [v for v in (item(x)[0] for x in value) if v is not _FAIL]
        return tuple(kept), (_NONE if len(kept) == len(value) else frozenset({""}))

    return coerce


def _optional(inner: Coerce) -> Coerce:
    def coerce(value: Any) -> tuple[Any, frozenset[str]]:
        return (None, _NONE) if value is None else inner(value)

    return coerce


def _nested(cls: type[Any]) -> Coerce:
    def coerce(value: Any) -> tuple[Any, frozenset[str]]:
        if not isinstance(value, Mapping):
            return _FAIL, _NONE
        values, problems, _extra = _read_fields(cls, value)
        return cls(**values), problems

    return coerce


def _coercer(tp: Any) -> Coerce:
    origin, args = get_origin(tp), get_args(tp)
    if origin in (typing.Union, types.UnionType):
        rest = [a for a in args if a is not type(None)]
        inner = _coercer(rest[0]) if len(rest) == 1 else _ok
        return _optional(inner) if type(None) in args else inner
    if tp is Any:
        return _ok
    if isinstance(tp, type) and issubclass(tp, OpenStrEnum):
        return _enum(tp)
    if tp is str:
        return _str
    if tp is bool:
        return _bool
    if tp is int:
        return _int
    if tp is float:
        return _float
    if origin is tuple:
        return _tuple(_coercer(args[0]), args[0] is str)
    if origin in (dict, Mapping) or tp in (dict, Mapping):
        return _mapping
    if dataclasses.is_dataclass(tp):
        return _nested(tp)  # type: ignore[arg-type]
    raise TypeError(f"no reader for a field of type {tp!r}")


_EMPTIES: dict[Any, Any] = {str: "", int: 0, float: 0.0, bool: False, tuple: ()}
"""The empty value of each plain type (anything else, a mapping, reads as ``{}``)."""


def _empty(tp: Any) -> Any:
    """What a field of type ``tp`` reads as when the payload lacks it (and it has no default)."""
    origin, args = get_origin(tp), get_args(tp)
    if tp is Any:
        return None
    if origin in (typing.Union, types.UnionType):
        if type(None) in args:
            return None
        return _empty(args[0])
    if isinstance(tp, type) and issubclass(tp, OpenStrEnum):
        return tp("?")
    if dataclasses.is_dataclass(tp):
        values, _problems, _extra = _read_fields(tp, {})  # type: ignore[arg-type]
        return tp(**values)  # type: ignore[operator]
    return _EMPTIES.get(origin or tp, {})


def _same(value: Any) -> Any:
    return value


@dataclass(frozen=True)
class _FieldReader:
    name: str
    keys: tuple[str, ...]
    coerce: Coerce
    fallback: Callable[[], Any]


_READERS: dict[type[Any], tuple[tuple[_FieldReader, ...], frozenset[str]]] = {}
"""Per class, its field readers and every payload key they read (built once)."""

_ITSELF = frozenset({""})


def _readers(cls: type[Any]) -> tuple[tuple[_FieldReader, ...], frozenset[str]]:
    found = _READERS.get(cls)
    if found is None:
        readers = _make_readers(cls)
        found = _READERS[cls] = (readers, frozenset(k for r in readers for k in r.keys))
    return found


def _make_readers(cls: type[Any]) -> tuple[_FieldReader, ...]:
    hints = typing.get_type_hints(cls)
    defaults: Mapping[str, Any] = getattr(cls, "decode_defaults", {})
    aliases: Mapping[str, tuple[str, ...]] = getattr(cls, "aliases", {})
    out = []
    for f in dataclasses.fields(cls):
        if f.name in ENVELOPE or not f.init:
            continue
        tp = hints[f.name]
        if f.name in defaults:
            fallback: Callable[[], Any] = functools.partial(_same, defaults[f.name])
        elif f.default is not dataclasses.MISSING:
            fallback = functools.partial(_same, f.default)
        elif f.default_factory is not dataclasses.MISSING:
            fallback = f.default_factory
        else:
            fallback = functools.partial(_empty, tp)
        out.append(_FieldReader(f.name, aliases.get(f.name, (f.name,)), _coercer(tp), fallback))
    return tuple(out)


def _read_fields(
    cls: type[Any], payload: Mapping[str, Any]
) -> tuple[dict[str, Any], frozenset[str], dict[str, Any]]:
    values: dict[str, Any] = {}
    problems: set[str] = set()
    readers, known = _readers(cls)
    for reader in readers:
        value: Any = _FAIL
        below: frozenset[str] = _NONE
        for key in reader.keys:
            if key in payload:
                value, below = reader.coerce(payload[key])
                if value is not _FAIL:
                    break
        if value is _FAIL:
            value, below = reader.fallback(), _ITSELF
        values[reader.name] = value
        if below:
            problems.update(reader.name if p == "" else f"{reader.name}.{p}" for p in below)
    extra = {k: v for k, v in payload.items() if k not in known} if payload.keys() - known else {}
    return values, frozenset(problems), extra


E = TypeVar("E", bound=Event)


def decode_as(
    cls: type[E],
    payload: Any,
    *,
    step_id: str | None = None,
    host: str | None = None,
    ts: float = 0.0,
    seq: int | None = None,
) -> E:
    """A payload read back as an event of ``cls``; never raises for its content."""
    if not isinstance(payload, Mapping):
        payload = {}
    values, problems, extra = _read_fields(cls, payload)
    return cls(
        **values,
        step_id=step_id,
        host=host,
        ts=ts,
        seq=seq,
        extra=extra,
        defaulted=problems,
    )


def check_readable(cls: type[Event]) -> None:
    """Fail now (at import) if a field of ``cls`` has a type no reader exists for.

    Raises:
        TypeError: A field's type cannot be decoded.
    """
    _readers(cls)
