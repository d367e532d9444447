"""Events to and from JSON, for the journal.

Every event is a frozen dataclass of plain values; the type's name is stored
beside the body. A kind this console does not know (written by a newer one)
decodes to ``None`` and is skipped by the caller, never guessed at.
"""

from __future__ import annotations

import json
from dataclasses import fields
from typing import Any

from console.core.events import (
    ActionFailed,
    ActionKind,
    ActionRequested,
    ActionSucceeded,
    CallChecked,
    DialAccepted,
    DialFailed,
    DialRequested,
    Event,
    Tick,
    WebhookReceived,
)

_TYPES: dict[str, type[Any]] = {cls.__name__: cls for cls in (
    WebhookReceived, DialRequested, DialAccepted, DialFailed, ActionRequested,
    ActionSucceeded, ActionFailed, CallChecked, Tick)}


def encode_event(event: Event) -> tuple[str, str]:
    data: dict[str, Any] = {}
    for f in fields(event):
        value = getattr(event, f.name)
        if isinstance(value, ActionKind):
            value = value.value
        elif f.name in ("params", "raw"):
            value = dict(value)
        data[f.name] = value
    return type(event).__name__, json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def decode_event(kind: str, body: str) -> Event | None:
    cls = _TYPES.get(kind)
    if cls is None:
        return None
    data = json.loads(body)
    known = {f.name for f in fields(cls)}
    data = {k: v for k, v in data.items() if k in known}
    if cls is ActionRequested:
        data["kind"] = ActionKind(data["kind"])
    event: Event = cls(**data)
    return event
