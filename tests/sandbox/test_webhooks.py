"""Webhook delivery: at-least-once, retried with backoff, every attempt on record."""

from __future__ import annotations

import aiohttp

from console.sandbox import Sandbox
from tests.helpers import HUMAN, TEST_KEY, SandboxApi, WebhookReceiver
from tests.sandbox.conftest import make_config


async def test_each_event_carries_an_id_and_attempt_number(
    api: SandboxApi, receiver: WebhookReceiver
) -> None:
    call_id = await api.call(HUMAN, receiver.url)
    await receiver.wait_event(call_id, "call.answered")
    first, second = receiver.accepted(call_id)
    assert (first.event_id, second.event_id) == (f"{call_id}:1", f"{call_id}:2")
    assert (first.attempt, second.attempt) == (1, 1)


async def test_a_failed_delivery_is_retried_until_it_succeeds(
    api: SandboxApi, receiver: WebhookReceiver
) -> None:
    receiver.answers = [500, 503]
    call_id = await api.call(HUMAN, receiver.url)
    await receiver.wait_event(call_id, "call.answered")
    initiated = [d for d in receiver.deliveries if d.event == "call.initiated"]
    assert [(d.attempt, d.status) for d in initiated] == [(1, 500), (2, 503), (3, 200)]
    assert len({d.event_id for d in initiated}) == 1
    # Order survives the retries: the answer waited behind the retried event.
    assert receiver.events(call_id) == ["call.initiated", "call.answered"]
    record = await api.sandbox_call(call_id)
    attempts = [
        (e["attempt"], e["result"])
        for e in record["timeline"]
        if e["type"] == "delivery" and e["event"] == "call.initiated"
    ]
    assert attempts == [(1, 500), (2, 503), (3, 200)]


async def test_delivery_gives_up_after_the_configured_attempts(
    api: SandboxApi, receiver: WebhookReceiver
) -> None:
    receiver.answers = [500, 500, 500]  # webhook_attempts is 3 in tests
    call_id = await api.call(HUMAN, receiver.url)
    await receiver.wait_event(call_id, "call.answered")
    assert receiver.events(call_id) == ["call.answered"]
    record = await api.sandbox_call(call_id)
    gave_up = [e for e in record["timeline"] if e["type"] == "delivery-gave-up"]
    assert [(e["event"], e["attempts"]) for e in gave_up] == [("call.initiated", 3)]
    _, stats = await api.get("/sandbox/stats")
    assert stats["webhooks"]["gave_up"] == 1
    assert stats["webhooks"]["failed_attempts"] == 3


async def test_a_receiver_that_does_not_answer_in_time_is_retried() -> None:
    hook = WebhookReceiver(hang_seconds=1.0, hang_count=1)
    await hook.start()
    config = make_config(webhook_timeout=0.2)
    async with Sandbox(config) as sandbox, aiohttp.ClientSession() as session:
        api = SandboxApi(sandbox.url, TEST_KEY, session)
        call_id = await api.call(HUMAN, hook.url)
        await hook.wait_event(call_id, "call.answered")
        record = await api.sandbox_call(call_id)
        results = [
            e["result"]
            for e in record["timeline"]
            if e["type"] == "delivery" and e["event"] == "call.initiated"
        ]
        assert results == ["timeout", 200]
    await hook.stop()


async def test_an_unreachable_webhook_url_is_retried_then_abandoned(api: SandboxApi) -> None:
    import socket

    with socket.socket() as probe:  # a loopback port with nobody listening
        probe.bind(("127.0.0.1", 0))
        dead_port = probe.getsockname()[1]
    call_id = await api.call("15551230003", f"http://127.0.0.1:{dead_port}/hook")
    import asyncio

    async with asyncio.timeout(10):
        while True:
            record = await api.sandbox_call(call_id)
            if sum(e["type"] == "delivery-gave-up" for e in record["timeline"]) == 2:
                break
            await asyncio.sleep(0.02)
    results = {e["result"] for e in record["timeline"] if e["type"] == "delivery"}
    assert results == {"error: ClientConnectorError"}


async def test_no_webhook_url_means_no_deliveries(api: SandboxApi) -> None:
    status, _ = await api.post("/makecall", {"number": "15551230003", "callerId": "19876543210"})
    assert status == 200
    _, stats = await api.get("/sandbox/stats")
    assert stats["webhooks"]["events"] == 0


async def test_many_calls_deliver_concurrently_each_in_order(
    api: SandboxApi, receiver: WebhookReceiver
) -> None:
    call_ids = [await api.call(f"155512{i:05d}", receiver.url) for i in range(20, 60)]
    for call_id in call_ids:
        await receiver.wait_event(call_id, "call.answered")
        assert receiver.events(call_id) == ["call.initiated", "call.answered"]


async def test_webhooks_to_non_loopback_hosts_are_refused_without_a_lookup(api: SandboxApi) -> None:
    call_id = await api.call("15551230003", "https://yourserver.com/hook")
    import asyncio

    async with asyncio.timeout(5):
        while True:
            record = await api.sandbox_call(call_id)
            refused = [e for e in record["timeline"] if e["type"] == "delivery-refused"]
            if len(refused) == 2:
                break
            await asyncio.sleep(0.02)
    assert [e["event"] for e in refused] == ["call.initiated", "call.ended"]
    assert "--allow-remote-webhooks" in refused[0]["reason"]
    assert not [e for e in record["timeline"] if e["type"] == "delivery"]


async def test_a_redirect_is_a_failed_delivery_and_is_never_followed() -> None:
    import asyncio

    from aiohttp import web

    from tests.helpers import until

    hits: list[str] = []

    async def hook(request: web.Request) -> web.Response:
        hits.append(request.path)
        raise web.HTTPFound("/elsewhere")

    async def elsewhere(request: web.Request) -> web.Response:
        hits.append(request.path)
        return web.Response(text="followed")

    app = web.Application()
    app.router.add_post("/hook", hook)
    app.router.add_route("*", "/elsewhere", elsewhere)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    port = runner.addresses[0][1]
    try:
        async with Sandbox(make_config()) as sandbox, aiohttp.ClientSession() as session:
            api = SandboxApi(sandbox.url, TEST_KEY, session)
            call_id = await api.call("15551230003", f"http://127.0.0.1:{port}/hook")  # busy
            await until(lambda: not sandbox.simulator.calls[call_id].live, what="busy")
            async with asyncio.timeout(10):
                await sandbox.simulator.dispatcher.drain()
            record = await api.sandbox_call(call_id)
    finally:
        await runner.cleanup()
    assert hits == ["/hook"] * 6  # 2 events x 3 attempts, never the redirect's target
    results = [e["result"] for e in record["timeline"] if e["type"] == "delivery"]
    assert results == [302] * 6
    assert [e["event"] for e in record["timeline"] if e["type"] == "delivery-gave-up"] == [
        "call.initiated",
        "call.ended",
    ]
