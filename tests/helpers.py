"""Real peers for tests: a webhook receiver and a small sandbox API client."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web


@dataclass(slots=True)
class Delivery:
    """One POST the receiver got."""

    payload: dict[str, Any]
    event_id: str
    attempt: int
    status: int  # what the receiver answered

    @property
    def event(self) -> str:
        return str(self.payload["event"])


class LoopbackHookServer:
    """An aiohttp server on 127.0.0.1 with one ``POST /hook`` route; subclasses
    say what ``_handle`` does with each webhook."""

    url: str = ""
    _runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/hook", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0, backlog=1024).start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}/hook"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.Response:
        raise NotImplementedError


@dataclass
class WebhookReceiver(LoopbackHookServer):
    """Records every webhook.

    ``answers`` is a queue of HTTP statuses to answer with (then 200), and
    ``hang_seconds`` makes it sit on its next ``hang_count`` requests (all of
    them when None), to test retries and timeouts.
    """

    answers: list[int] = field(default_factory=list)
    hang_seconds: float = 0.0
    hang_count: int | None = None
    deliveries: list[Delivery] = field(default_factory=list)
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def _handle(self, request: web.Request) -> web.Response:
        if self.hang_seconds and (self.hang_count is None or self.hang_count > 0):
            if self.hang_count is not None:
                self.hang_count -= 1
            await asyncio.sleep(self.hang_seconds)
        payload = await request.json()
        status = self.answers.pop(0) if self.answers else 200
        async with self._changed:
            self.deliveries.append(
                Delivery(
                    payload=payload,
                    event_id=request.headers.get("X-Kaphila-Event-Id", ""),
                    attempt=int(request.headers.get("X-Kaphila-Delivery-Attempt", "0")),
                    status=status,
                )
            )
            self._changed.notify_all()
        return web.Response(status=status)

    # ----------------------------------------------------------- reading

    def accepted(self, call_id: str | None = None) -> list[Delivery]:
        """Deliveries answered 2xx, in arrival order, optionally for one call."""
        return [
            d
            for d in self.deliveries
            if 200 <= d.status < 300 and (call_id is None or d.payload["callId"] == call_id)
        ]

    def events(self, call_id: str) -> list[str]:
        return [d.event for d in self.accepted(call_id)]

    def payload(self, call_id: str, event: str) -> dict[str, Any]:
        for d in self.accepted(call_id):
            if d.event == event:
                return d.payload
        raise AssertionError(f"no {event} for {call_id}; got {self.events(call_id)}")

    async def wait_for(self, predicate: Callable[[], bool], within: float = 10.0) -> None:
        async with asyncio.timeout(within), self._changed:
            await self._changed.wait_for(predicate)

    async def wait_event(self, call_id: str, event: str, within: float = 10.0) -> dict[str, Any]:
        """Wait until ``event`` for ``call_id`` has been accepted; return its payload."""
        try:
            await self.wait_for(lambda: event in self.events(call_id), within)
        except TimeoutError:
            raise AssertionError(
                f"timed out waiting for {event} on {call_id}; got {self.events(call_id)}"
            ) from None
        return self.payload(call_id, event)


@dataclass
class SandboxApi:
    """JSON over real HTTP to a running sandbox."""

    base_url: str
    key: str
    session: aiohttp.ClientSession

    async def post(
        self,
        path: str,
        body: Any = None,
        *,
        key: str | None = None,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, Any]]:
        send_headers = {
            "Authorization": f"Bearer {key or self.key}",
            "Content-Type": "application/json",
        }
        send_headers.update(headers or {})
        data = raw if raw is not None else json.dumps(body).encode()
        async with self.session.post(self.base_url + path, data=data, headers=send_headers) as resp:
            return resp.status, await resp.json()

    async def get(self, path: str, *, key: str | None = None) -> tuple[int, dict[str, Any]]:
        async with self.session.get(
            self.base_url + path, headers={"Authorization": f"Bearer {key or self.key}"}
        ) as resp:
            return resp.status, await resp.json()

    async def put(self, path: str, body: Any) -> tuple[int, dict[str, Any]]:
        async with self.session.put(self.base_url + path, json=body) as resp:
            return resp.status, await resp.json()

    async def call(self, number: str, webhook_url: str, **extra: Any) -> str:
        """Place a call that must be accepted; returns its callId."""
        body = {
            "number": number,
            "callerId": extra.pop("callerId", CALLER_ID),
            "webhookUrl": webhook_url,
            **extra,
        }
        status, data = await self.post("/makecall", body)
        assert status == 200, data
        return str(data["callId"])

    async def sandbox_call(self, call_id: str) -> dict[str, Any]:
        status, data = await self.get(f"/sandbox/calls/{call_id}")
        assert status == 200, data
        return dict(data["call"])


TEST_KEY = "ak_test_primary_0123456789"
OTHER_KEY = "ak_test_other_0123456789"
CALLER_ID = "19876543210"
OTHER_CALLER_ID = "15550001111"
HUMAN = "15551230000"  # no scenario suffix: a person answers


async def until(
    predicate: Callable[[], bool], within: float = 10.0, what: str = "condition"
) -> None:
    try:
        async with asyncio.timeout(within):
            while not predicate():  # noqa: ASYNC110 - state owned elsewhere has no event to await
                await asyncio.sleep(0.02)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


def webhook_event(
    sid: str,
    event: str,
    at: float,
    *,
    received_at: float | None = None,
    body: dict[str, Any] | None = None,
    **params: str,
) -> Any:
    """A ``WebhookReceived`` as the listener makes it: Kaphila's event name and
    Twilio parameters through the console's own translation."""
    from console.services.webhook_events import webhook_event as translate

    status = {
        "call.initiated": "ringing",
        "call.answered": "in-progress",
        "call.ended": "completed",
        "call.timeout": "no-answer",
    }.get(event, "in-progress")
    merged = {"CallSid": sid, "CallStatus": status, "KaphilaEvent": event, **params}
    return translate(
        merged,
        {"event": event, "callId": sid, **(body or {})},
        at,
        at + 0.01 if received_at is None else received_at,
    )
