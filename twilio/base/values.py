"""Twilio's "not given" sentinel: a parameter left ``unset`` is never sent,
which is different from sending ``None``."""

from __future__ import annotations

from typing import Any

unset: Any = object()


def of(d: dict[str, object]) -> dict[str, object]:
    """The dict without its unset values."""
    return {k: v for k, v in d.items() if v is not unset}
