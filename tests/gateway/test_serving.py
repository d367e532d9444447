"""The gateway run like a server, in a thread: /metrics counts what it did (its
own registry per gateway, nothing secret in it), /readyz says whether webhooks
can be stored now (not while draining, not when the stream refuses writes),
and a drain lets what is in hand finish."""

from __future__ import annotations

import asyncio
import time

import aiohttp
from nats.aio.client import Client as Nats
from prometheus_client.parser import text_string_to_metric_families

from console.gateway import registry, wire
from console.gateway.server import GatewayThread
from tests.gateway.conftest import Api, StartGateway, hook_path, wait_for_event
from tests.gateway.test_intake import EVENT
from tests.helpers import TEST_KEY

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


async def scrape(http: aiohttp.ClientSession, gateway: GatewayThread) -> tuple[str, Samples]:
    async with http.get(gateway.url + "/metrics") as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = await resp.text()
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return text, samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_metrics_count_webhooks_upstream_requests_and_the_interpreter(
    start_gateway: StartGateway, http: aiohttp.ClientSession, nc: Nats
) -> None:
    gateway = start_gateway()
    api = Api(gateway.url, http)
    # A Twilio call with a document: the interpreter speaks, then hangs up.
    call_id = await api.place_call(twilio={"twiml": "<Response><Say>Hello.</Say></Response>"})
    await wait_for_event(nc.jetstream(), call_id, "call.ended")
    # Kaphila sends one event twice (stored, then a duplicate), a bad one, a forged URL.
    path = hook_path(gateway)
    for _ in range(2):
        assert (await api.post(path, EVENT, key=None, headers={"X-Kaphila-Event-Id": "e1"}))[
            0
        ] == 200
    assert (await api.post(path, {"callId": 5}, key=None))[0] == 400
    forged = wire.HOOK_PATH.format(token="0" * 2 * wire.TOKEN_HEX)
    assert (await api.post(forged, EVENT, key=None))[0] == 404
    assert (await api.post("/voice", {"callId": "nope", "text": "x"}))[0] == 400  # Kaphila's 400

    text, samples = await scrape(http, gateway)
    stored = value(samples, "kgw_webhooks_total", result="stored")
    assert stored >= 4  # the call's initiated, answered, ended, and ours
    assert value(samples, "kgw_webhooks_total", result="duplicate") == 1
    assert value(samples, "kgw_webhooks_total", result="refused") == 2
    assert value(samples, "kgw_webhooks_total", result="unavailable") == 0
    # /makecall and the interpreter's /voice and /hangup: 200; the unknown call: 400.
    assert value(samples, "kgw_upstream_requests_total", status="200") >= 3
    assert value(samples, "kgw_upstream_requests_total", status="400") == 1
    assert value(samples, "kgw_interpreter_seconds_count") == 1
    assert value(samples, "kgw_fanout_seconds_count") == 0  # defined for the team hub
    consumers = {
        dict(labels)["consumer"] for name, labels in samples if name == "kgw_consumer_pending"
    }
    assert consumers == {f"interp-{p}" for p in range(wire.PARTITIONS)} | {"relay", "timers"}
    assert value(samples, "kgw_nats_connected") == 1
    assert value(samples, "kgw_draining") == 0
    assert value(samples, "kgw_desks_connected") == 0
    assert value(samples, "process_cpu_seconds_total") > 0
    token = gateway.run(registry.token_for(gateway.ctx, call_id))
    assert token is not None
    for secret in (TEST_KEY, token, wire.sign_token(token, gateway.ctx.mac_key), "/hooks/"):
        assert secret not in text

    # Another gateway in this process has its own figures.
    other = start_gateway()
    _, theirs = await scrape(http, other)
    assert value(theirs, "kgw_webhooks_total", result="stored") == 0
    assert value(theirs, "kgw_webhooks_total", result="duplicate") == 0
    assert value(samples, "kgw_webhooks_total", result="duplicate") == 1


async def test_consumer_lag_counts_what_waits_and_what_is_in_hand(
    gateway: GatewayThread, nc: Nats
) -> None:
    js = nc.jetstream()
    # Timers not yet due are in the timers consumer's hands (NAKed with a delay).
    for n in range(3):
        body = f'{{"token":"t","callId":"c","wake":"{n}","until":{time.time() + 60}}}'
        await js.publish(wire.TIMERS_SUBJECT, body.encode(), stream=wire.TIMERS_STREAM)
    metrics = gateway.ctx.metrics

    async def read() -> float | None:
        await asyncio.sleep(0.3)
        gateway.run(metrics.read_lag(gateway.ctx.js, force=True))
        return metrics.registry.get_sample_value("kgw_consumer_pending", {"consumer": "timers"})

    pending: float | None = None
    for _ in range(20):
        pending = await read()
        if pending == 3:
            break
    assert pending == 3


async def test_readyz_is_503_while_draining_and_when_the_stream_takes_no_writes(
    gateway: GatewayThread, api: Api, nc: Nats
) -> None:
    js = nc.jetstream()
    before = (await js.stream_info(wire.EVENTS_STREAM)).state.messages
    for _ in range(3):
        assert (await api.get("/readyz", key=None))[:2] == (200, {"success": True, "ready": True})
    assert (await js.stream_info(wire.EVENTS_STREAM)).state.messages == before  # probes: not kept

    async def set_draining(on: bool) -> None:
        gateway.ctx.draining.set() if on else gateway.ctx.draining.clear()

    gateway.run(set_draining(True))
    status, data, _ = await api.get("/readyz", key=None)
    assert (status, data["error"]) == (503, "not ready: draining (the gateway is stopping)")
    assert (await api.get("/healthz", key=None))[0] == 200  # alive all the same
    gateway.run(set_draining(False))
    assert (await api.get("/readyz", key=None))[0] == 200

    # The stream answers (stream_info works) but takes no more writes: not ready.
    info = await js.stream_info(wire.EVENTS_STREAM)
    info.config.sealed = True
    await js.update_stream(info.config)
    assert (await js.stream_info(wire.EVENTS_STREAM)).config.sealed
    status, data, _ = await api.get("/readyz", key=None)
    assert status == 503
    assert data["error"].startswith("not ready: the events stream refuses publishes")
    assert "sealed" in data["error"]


async def test_a_drain_lets_a_request_in_flight_finish_and_ends_its_workers(
    start_gateway: StartGateway, sandbox_api: Api, http: aiohttp.ClientSession, nc: Nats
) -> None:
    gateway = start_gateway(drain_timeout=20.0)
    api = Api(gateway.url, http)
    ctx = gateway.ctx
    await sandbox_api.put("/sandbox/faults", {"stall": {"rate": 1, "count": 1}, "stall_ms": 500})
    slow = asyncio.create_task(api.post("/voice", {"callId": "1", "text": "x"}))
    await asyncio.sleep(0.1)
    began = time.monotonic()
    draining = asyncio.create_task(asyncio.to_thread(gateway.run, gateway.gateway.drain(), 30))
    status, data, _ = await slow
    assert (status, data["error"]) == (400, "unknown callId '1'")  # Kaphila's answer came back
    await draining
    took = time.monotonic() - began
    assert ctx.draining.is_set()
    # The workers ended by themselves (an idle pull request runs out within ~2 s),
    # not at the drain's timeout.
    assert took < 6, took
    js = nc.jetstream()
    for partition in (0, 31):
        info = await js.consumer_info(wire.EVENTS_STREAM, f"interp-{partition}")
        assert info.num_ack_pending == 0
    gateway.stop()  # harmless after a drain
