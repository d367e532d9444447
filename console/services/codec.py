"""Events to and from JSON, for the journal.

Every event is a frozen dataclass of plain values and enums; the type's name
is stored beside the body. The kinds come from the ``Event`` union itself, so
a new event needs no change here. A kind this console does not know (written
by a newer one) decodes to ``None`` and is skipped by the caller, never
guessed at; a body that does not decode raises ``UndecodableEvent``.

Bodies are ASCII JSON: a string that UTF-8 cannot encode (a lone surrogate
such as ``\\ud800`` from a webhook's ``"\\ud800"`` escape) is stored escaped and
comes back as it was, instead of failing the whole batch.
"""

from __future__ import annotations

import enum
import json
import typing
from dataclasses import fields
from typing import Any

from console.core.events import Event, WebhookReceived
from console.services.webhook_events import from_stored


class UndecodableEvent(ValueError):
    """A stored event that cannot be read back (damaged or hand-edited)."""


_TYPES: dict[str, type[Any]] = {cls.__name__: cls for cls in typing.get_args(Event)}


def _enum_of(hint: Any) -> type[enum.Enum] | None:
    """The enum a field holds (``Kind`` or ``Kind | None``), if any."""
    for option in (hint, *typing.get_args(hint)):
        if isinstance(option, type) and issubclass(option, enum.Enum):
            return option
    return None


_ENUMS: dict[str, dict[str, type[enum.Enum]]] = {
    name: {
        f: found
        for f, hint in typing.get_type_hints(cls).items()
        if (found := _enum_of(hint)) is not None
    }
    for name, cls in _TYPES.items()
}


def kinds() -> tuple[str, ...]:
    """Every event kind the journal stores."""
    return tuple(_TYPES)


def encode_event(event: Event) -> tuple[str, str]:
    data: dict[str, Any] = {}
    for f in fields(event):
        value = getattr(event, f.name)
        if isinstance(value, enum.Enum):
            value = value.value
        elif f.name == "raw":
            value = dict(value)
        data[f.name] = value
    return type(event).__name__, json.dumps(data, ensure_ascii=True, separators=(",", ":"))


def decode_event(kind: str, body: str) -> Event | None:
    cls = _TYPES.get(kind)
    if cls is None:
        return None
    try:
        data = json.loads(body)
        if not isinstance(data, dict):
            raise TypeError("not an object")
        if cls is WebhookReceived and "params" in data:  # written before 0.2.0
            return from_stored(data)
        known = {f.name for f in fields(cls)}
        data = {k: v for k, v in data.items() if k in known}
        for name, enum_type in _ENUMS[kind].items():
            if data.get(name) is not None:
                data[name] = enum_type(data[name])
        event: Event = cls(**data)
    except (ValueError, TypeError, KeyError, RecursionError) as exc:
        raise UndecodableEvent(f"a stored {kind} event cannot be read: {exc}") from exc
    return event


def storable(text: str) -> str:
    """``text`` as SQLite can bind it: what UTF-8 cannot encode is escaped."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text
