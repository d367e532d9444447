"""The gateway's log lines (console/gateway/logs.py): JSON one object a line with
call id and operator, text with them appended, and the redaction filter that
masks operator tokens, Bearer values and intake paths whatever the format."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest

from console.gateway import logs

TOKEN = "kgo_" + "Ab3-_x" * 7  # the shape of an operator token (token_urlsafe(32))
SEGMENT = "0123456789abcdef" * 4  # an intake path's segment (token + MAC, hex)
KEY = "ak_live_9f8e7d6c5b4a"


@pytest.fixture
def logged() -> Iterator[tuple[logging.Logger, dict[str, io.StringIO]]]:
    """A logger with a text and a JSON handler, each with the redaction filter."""
    logger = logging.getLogger("kaphila.gateway.test-logs")
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    out = {"text": io.StringIO(), "json": io.StringIO()}
    handlers = []
    for fmt, stream in out.items():
        handler = logging.StreamHandler(stream)
        handler.setFormatter(logs.formatter(fmt))
        handler.addFilter(logs.RedactingFilter([KEY]))
        logger.addHandler(handler)
        handlers.append(handler)
    yield logger, out
    for handler in handlers:
        logger.removeHandler(handler)
    logger.propagate = True


def test_json_is_one_object_a_line_with_call_id_and_operator(
    logged: tuple[logging.Logger, dict[str, io.StringIO]],
) -> None:
    logger, out = logged
    logger.info("call ended: %s", "completed", extra={"call_id": "CA1", "operator": "alice"})
    logger.debug("a request line")
    try:
        raise ValueError("boom\non two lines")
    except ValueError:
        logger.exception("it failed")
    lines = out["json"].getvalue().splitlines()
    assert len(lines) == 3  # the traceback is a field, not lines of its own
    first, second, third = (json.loads(line) for line in lines)
    assert first["message"] == "call ended: completed"
    assert (first["level"], first["logger"]) == ("INFO", "kaphila.gateway.test-logs")
    assert (first["call_id"], first["operator"]) == ("CA1", "alice")
    assert datetime.fromisoformat(first["time"]).utcoffset() == timedelta(0)
    assert "call_id" not in second
    assert third["level"] == "ERROR"
    assert "ValueError: boom" in third["exc"]


def test_text_lines_end_with_call_id_and_operator(
    logged: tuple[logging.Logger, dict[str, io.StringIO]],
) -> None:
    logger, out = logged
    logger.info("call ended: completed", extra={"call_id": "CA1", "operator": "alice"})
    logger.info("no call here")
    first, second = out["text"].getvalue().splitlines()
    assert first.endswith(
        "INFO kaphila.gateway.test-logs: call ended: completed call_id=CA1 operator=alice"
    )
    assert second.endswith(": no call here")


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_tokens_bearer_values_intake_paths_and_the_key_are_masked(fmt: str) -> None:
    logger = logging.getLogger(f"kaphila.gateway.test-logs.{fmt}")
    logger.propagate = False
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.formatter(fmt))
    handler.addFilter(logs.RedactingFilter([KEY]))
    logger.addHandler(handler)
    try:
        log_secrets(logger)
    finally:
        logger.removeHandler(handler)
    text = stream.getvalue()
    for secret in (TOKEN, TOKEN[4:20], "sk-abc.def", SEGMENT, SEGMENT[6:], KEY):
        assert secret not in text, (secret, text)
    assert "/hooks/012345…" in text  # the first 6 characters stay, to tell URLs apart
    assert "kgo_…" in text
    assert "Bearer …" in text
    if fmt == "json":
        records = [json.loads(line) for line in text.splitlines()]
        assert records[3]["operator"] == "kgo_…"
        assert "RuntimeError: token kgo_…" in records[4]["exc"]


def log_secrets(logger: logging.Logger) -> None:
    logger.warning("desk %s refused", TOKEN)
    logger.warning("header was Authorization: Bearer %s", "sk-abc.def")
    logger.warning("posted to https://gw.example/hooks/%s?x=1", SEGMENT)
    logger.warning("upstream said %s", f"bad key {KEY}", extra={"operator": TOKEN})
    try:
        raise RuntimeError(f"token {TOKEN} at /hooks/{SEGMENT}")
    except RuntimeError:
        logger.exception("failed")


def test_redact_leaves_ordinary_words_alone() -> None:
    line = "call CA123 forwarded to 15551230000 by bob, supervisor; /hooks/{token} route"
    assert logs.redact(line) == line


def test_configure_leaves_logging_that_is_set_up_alone() -> None:
    root = logging.getLogger()
    assert root.handlers  # pytest's
    before = list(root.handlers)
    assert logs.configure("DEBUG", "json") is None
    assert root.handlers == before
