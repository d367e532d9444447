"""Sandbox-only inspection and control, under ``/sandbox/``. Never used by the SDK.

    GET  /sandbox/health                      is it up; how many calls
    GET  /sandbox/calls[?live=1]              every call, summarised
    GET  /sandbox/calls/{callId}              one call's full record and timeline
    POST /sandbox/calls/{callId}/press        {"digits": "12#"}: the callee presses keys
    POST /sandbox/calls/{callId}/hangup       the callee hangs up
    GET  /sandbox/accounts                    accounts' caller IDs and credits (no keys)
    GET  /sandbox/faults                      the fault-injection settings
    PUT  /sandbox/faults                      change some of them: {"drop": 0.2, ...}
    GET  /sandbox/stats                       webhook delivery counters
    POST /sandbox/reset                       forget every call, restore accounts and faults
    GET  /recordings/{recordingId}.wav        a recording (a short real WAV tone)

This is how tests and the console's demo act as the person on the phone.
Nothing here shows a secret: never an API key, and each call's webhookUrl
masked (the console's listener URL holds its capability token).
"""

from __future__ import annotations

import io
import math
import struct
import wave
from typing import Any

from aiohttp import web

from console.sandbox.api import SIMULATOR_KEY, ApiError, read_json_object
from console.sandbox.model import Call, masked_url

MAX_PRESS = 64
INITIAL_FAULTS_KEY = web.AppKey("initial_faults", dict)


def _call(request: web.Request) -> Call:
    sim = request.app[SIMULATOR_KEY]
    call_id = request.match_info["call_id"]
    call = sim.calls.get(call_id)
    if call is None:
        raise ApiError(404, f"no call with callId {call_id!r}")
    return call


async def health(request: web.Request) -> web.Response:
    sim = request.app[SIMULATOR_KEY]
    return web.json_response(
        {
            "success": True,
            "calls": len(sim.calls),
            "live": sim.live_count(),
            "pendingWebhooks": sim.dispatcher.pending,
        }
    )


def _masked(record: dict[str, Any]) -> dict[str, Any]:
    if record.get("webhookUrl"):
        record["webhookUrl"] = masked_url(record["webhookUrl"])
    return record


async def list_calls(request: web.Request) -> web.Response:
    sim = request.app[SIMULATOR_KEY]
    live_only = request.query.get("live") in ("1", "true", "yes")
    calls = [_masked(c.summary_json()) for c in sim.calls.values() if c.live or not live_only]
    return web.json_response({"success": True, "calls": calls})


async def show_call(request: web.Request) -> web.Response:
    return web.json_response({"success": True, "call": _masked(_call(request).full_json())})


async def press(request: web.Request) -> web.Response:
    sim = request.app[SIMULATOR_KEY]
    call = _call(request)
    body = await read_json_object(request)
    digits = body.required_string("digits", max_len=MAX_PRESS)
    if not digits or any(d not in "0123456789*#" for d in digits):
        raise ApiError(400, f"digits {digits!r} may only hold 0-9, * and #")
    sim.press(call, digits)
    return web.json_response({"success": True, "callId": call.call_id, "digits": digits})


async def callee_hangup(request: web.Request) -> web.Response:
    sim = request.app[SIMULATOR_KEY]
    call = _call(request)
    sim.hangup(call, by="callee")
    return web.json_response({"success": True, "callId": call.call_id, "status": call.status})


async def accounts(request: web.Request) -> web.Response:
    sim = request.app[SIMULATOR_KEY]
    return web.json_response(
        {
            "success": True,
            "accounts": [
                {"name": a.name, "callerIds": list(a.caller_ids), "credits": a.credits}
                for a in sim.accounts.values()
            ],
        }
    )


async def get_faults(request: web.Request) -> web.Response:
    faults = request.app[SIMULATOR_KEY].dispatcher.faults
    return web.json_response({"success": True, "faults": faults.to_json()})


async def put_faults(request: web.Request) -> web.Response:
    faults = request.app[SIMULATOR_KEY].dispatcher.faults
    body = await read_json_object(request)
    try:
        faults.update(body.raw)
    except ValueError as exc:
        raise ApiError(400, f"faults: {exc}") from None
    return web.json_response({"success": True, "faults": faults.to_json()})


async def stats(request: web.Request) -> web.Response:
    sim = request.app[SIMULATOR_KEY]
    return web.json_response(
        {
            "success": True,
            "webhooks": sim.dispatcher.stats.to_json(),
            "pendingWebhooks": sim.dispatcher.pending,
            "requests": dict(sim.requests_received),
        }
    )


async def reset(request: web.Request) -> web.Response:
    sim = request.app[SIMULATOR_KEY]
    await sim.reset()
    sim.dispatcher.faults.update(request.app[INITIAL_FAULTS_KEY])
    return web.json_response({"success": True})


async def recording(request: web.Request) -> web.Response:
    sim = request.app[SIMULATOR_KEY]
    recording_id = request.match_info["recording_id"]
    call = next((c for c in sim.calls.values() if c.recording_id == recording_id), None)
    if call is None:
        raise ApiError(404, f"no recording {recording_id!r}")
    seconds = min(3.0, max(0.5, float(call.duration)))
    return web.Response(body=tone_wav(seconds), content_type="audio/wav")


def tone_wav(seconds: float, hz: float = 440.0, rate: int = 8000) -> bytes:
    """A real, small WAV file: a mono 16-bit sine tone."""
    frames = int(seconds * rate)
    samples = (int(8000 * math.sin(2 * math.pi * hz * i / rate)) for i in range(frames))
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(struct.pack(f"<{frames}h", *samples))
    return buffer.getvalue()


def add_routes(app: web.Application) -> None:
    app.router.add_get("/sandbox/health", health)
    app.router.add_get("/sandbox/calls", list_calls)
    app.router.add_get("/sandbox/calls/{call_id}", show_call)
    app.router.add_post("/sandbox/calls/{call_id}/press", press)
    app.router.add_post("/sandbox/calls/{call_id}/hangup", callee_hangup)
    app.router.add_get("/sandbox/accounts", accounts)
    app.router.add_get("/sandbox/faults", get_faults)
    app.router.add_put("/sandbox/faults", put_faults)
    app.router.add_get("/sandbox/stats", stats)
    app.router.add_post("/sandbox/reset", reset)
    app.router.add_get("/recordings/{recording_id}.wav", recording)
