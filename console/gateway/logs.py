"""The gateway's log lines: text or JSON, and a redaction filter as a safety net.

``configure(level, fmt)`` (``kaphila-gateway --log-format text|json``) puts one
handler on the root logger, writing to stderr (the journal, under systemd):

- ``text``: ``2025-01-02 10:00:00,123 INFO kaphila.gateway.server: message``,
  then `` call_id=… operator=…`` when the record has them;
- ``json``: one object a line: ``time`` (ISO 8601, UTC, milliseconds),
  ``level``, ``logger``, ``message``, then every field passed with ``extra=``
  (``call_id`` and ``operator`` above all), and ``exc`` for a traceback.

So a per-call summary reads::

    log.info("call ended: %s", outcome, extra={"call_id": call_id, "operator": name})

Per-request lines are DEBUG; per-call summaries INFO, so a busy center does
not flood the journal.

The code never logs a token or a key (tests/gateway/test_no_secrets_in_logs.py
holds it to that). ``RedactingFilter``, on the handler, masks what slipped
through anyway: an operator token (``kgo_…``), a Bearer value, an intake path
(``/hooks/`` and its hex, of which the first 6 characters stay), and any exact
secret it is given (the account's key).
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import IO, Any

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
CONTEXT_FIELDS = ("call_id", "operator")  # shown in text lines too
MASK = "…"

_OPERATOR_TOKEN = re.compile(r"kgo_[A-Za-z0-9_-]+")
_BEARER = re.compile(r"(?i)\b(bearer)(\s+)[^\s\"',;]+")
_INTAKE_PATH = re.compile(r"(/hooks/[0-9A-Fa-f]{6})[0-9A-Fa-f]+")
# What every LogRecord has; anything else on a record came with extra=.
_STANDARD = frozenset(
    logging.LogRecord("", 0, "", 0, "", None, None).__dict__.keys()
    | {"message", "asctime", "taskName"}
)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with operator tokens, Bearer values, intake paths and ``secrets`` masked."""
    for secret in secrets:
        if secret and secret in text:
            text = text.replace(secret, MASK)
    text = _OPERATOR_TOKEN.sub("kgo_" + MASK, text)
    text = _BEARER.sub(lambda m: f"{m[1]}{m[2]}{MASK}", text)
    return _INTAKE_PATH.sub(lambda m: m[1] + MASK, text)


class RedactingFilter(logging.Filter):
    """Masks secrets in a record before any handler formats it (a safety net)."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        # Short values would mask ordinary words; a real key is long.
        self.secrets = tuple(s for s in secrets if s and len(s) >= 8)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = redact(message, self.secrets)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text, self.secrets)
        if record.stack_info:
            record.stack_info = redact(record.stack_info, self.secrets)
        for name, value in extras(record).items():
            if isinstance(value, str):
                setattr(record, name, redact(value, self.secrets))
        return True


def extras(record: logging.LogRecord) -> dict[str, Any]:
    """The fields a record was given with ``extra=``."""
    return {
        k: v for k, v in record.__dict__.items() if k not in _STANDARD and not k.startswith("_")
    }


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        fields = [
            f"{name}={getattr(record, name)}" for name in CONTEXT_FIELDS if hasattr(record, name)
        ]
        if not fields:
            return line
        first, newline, rest = line.partition("\n")  # after the message, before a traceback
        return f"{first} {' '.join(fields)}{newline}{rest}"


class JsonFormatter(logging.Formatter):
    """One JSON object a line; a traceback is a field, never lines of its own."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name, value in extras(record).items():
            if name not in out:
                out[name] = value if isinstance(value, str | int | float | bool) else str(value)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            out["exc"] = record.exc_text
        if record.stack_info:
            out["stack"] = self.formatStack(record.stack_info)
        return json.dumps(out, ensure_ascii=False)


def formatter(fmt: str) -> logging.Formatter:
    return JsonFormatter() if fmt == "json" else TextFormatter()


def configure(
    level: str, fmt: str = "text", secrets: Iterable[str] = (), stream: IO[str] | None = None
) -> logging.Handler | None:
    """The gateway process's logging: one handler on the root logger (stderr).

    Like ``logging.basicConfig``, it leaves logging alone (and returns None)
    when the root logger has handlers already: someone else set it up (a host
    application, pytest)."""
    root = logging.getLogger()
    if root.handlers:
        return None
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(formatter(fmt))
    handler.addFilter(RedactingFilter(secrets))
    root.addHandler(handler)
    root.setLevel(level)
    return handler
