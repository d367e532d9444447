"""HTTP plumbing shared by the gateway's API and intake: errors as Kaphila words
them, bodies read within a size and a time limit, JSON with every number
checked, and the caller's Bearer key.

Errors leave as ``{"success": false, "error": "<message>"}`` (Kaphila's shape),
bad input as a 4xx that says what was wrong, never as a 5xx. A request path
is logged only as its route (``/hooks/{token}``): intake paths are capabilities.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import hdrs, web

log = logging.getLogger("kaphila.gateway.http")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

JSON_TYPE = "application/json"
MAX_INT_DIGITS = 20  # no field takes a longer number; int() would fail at 4300 deep inside json


class ApiError(Exception):
    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


def store_unavailable(what: str) -> ApiError:
    """503 while NATS (the gateway's store) does not answer; the client tries again."""
    return ApiError(
        503,
        f"the gateway cannot {what} right now (its NATS store is not answering); try again",
        {hdrs.RETRY_AFTER: "2"},
    )


def error_response(
    status: int, message: str, headers: dict[str, str] | None = None
) -> web.Response:
    return web.json_response({"success": False, "error": message}, status=status, headers=headers)


def route_of(request: web.Request) -> str:
    """The request's route pattern, for logs: never the concrete path."""
    resource = request.match_info.route.resource
    if request.match_info.http_exception is not None or resource is None:
        return "(no such endpoint)"
    return resource.canonical


@web.middleware
async def json_errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as exc:
        log.debug("%s %s -> %d: %s", request.method, route_of(request), exc.status, exc.message)
        response = error_response(exc.status, exc.message, exc.headers)
        if exc.status == 408:  # the rest of that body may still trickle in: hang up
            response.force_close()
        return response
    except web.HTTPRequestEntityTooLarge:
        return error_response(413, f"request body is larger than {request.app[MAX_BODY_KEY]} bytes")
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        message = {
            404: f"no such endpoint: {request.method} {route_of(request)}",
            405: f"{request.method} is not allowed here",
        }
        return error_response(
            exc.status,
            message.get(exc.status, exc.reason),
            {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None,
        )
    except asyncio.CancelledError:
        raise
    except Exception:
        # A bug in the gateway, not bad input: say so, keep serving, keep the trace.
        log.exception("unexpected error handling %s %s", request.method, route_of(request))
        return error_response(500, "internal gateway error (this is a bug; see the gateway's log)")


MAX_BODY_KEY = web.AppKey("max_body", int)
BODY_TIMEOUT_KEY = web.AppKey("body_timeout", float)


async def read_body(request: web.Request) -> bytes:
    """The whole body, at most the app's max_body bytes (413), arriving within its
    body timeout (408, and the connection is closed: the rest may never come)."""
    limit = request.app[MAX_BODY_KEY]
    if request.content_length is not None and request.content_length > limit:
        raise ApiError(413, f"request body is larger than {limit} bytes")
    try:
        if request.content.is_eof():  # the whole body came with the headers (usual)
            return await request.read()
        async with asyncio.timeout(request.app[BODY_TIMEOUT_KEY]):
            return await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise ApiError(413, f"request body is larger than {limit} bytes") from None
    except TimeoutError:
        raise ApiError(
            408, f"the request body did not arrive within {request.app[BODY_TIMEOUT_KEY]:g} s"
        ) from None


def require_json_type(request: web.Request) -> None:
    if request.content_type.lower() != JSON_TYPE:
        shown = request.content_type[:60] if hdrs.CONTENT_TYPE in request.headers else "none"
        raise ApiError(415, f"Content-Type must be {JSON_TYPE}, not {shown!r}")


class _NumberError(ValueError):
    pass


def _parse_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise _NumberError(f"a number of {len(text.lstrip('-'))} digits is refused")
    return int(text)


def _parse_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _NumberError(f"the number {text[:24]} is out of range")
    return value


def _parse_constant(text: str) -> Any:
    raise _NumberError(f"{text} is not a number JSON allows")


def parse_json(raw: bytes) -> Any:
    """``json.loads`` refusing NaN, Infinity, out-of-range and huge numbers (400)."""
    try:
        return json.loads(
            raw, parse_int=_parse_int, parse_float=_parse_float, parse_constant=_parse_constant
        )
    except _NumberError as exc:
        raise ApiError(400, f"request body refused: {exc}") from None
    except UnicodeDecodeError:
        raise ApiError(400, "request body is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise ApiError(
            400,
            f"request body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
        ) from None
    except RecursionError:
        raise ApiError(400, "request body is nested too deeply") from None
    except ValueError as exc:
        raise ApiError(400, f"request body is not valid JSON: {str(exc)[:100]}") from None


def json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return "null"


async def read_json_object(request: web.Request) -> dict[str, Any]:
    require_json_type(request)
    raw = await read_body(request)
    if not raw.strip():
        raise ApiError(400, "request body is empty; expected a JSON object")
    data = parse_json(raw)
    if not isinstance(data, dict):
        raise ApiError(400, f"request body must be a JSON object, not {json_type(data)}")
    return data


def bearer_key(request: web.Request) -> str:
    """The caller's API key; 401 in the sandbox's words without one. Never logged."""
    header = request.headers.get(hdrs.AUTHORIZATION)
    if not header:
        raise ApiError(401, "missing Authorization header; expected 'Bearer <API key>'")
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise ApiError(401, "malformed Authorization header; expected 'Bearer <API key>'")
    return key.strip()
