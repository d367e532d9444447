"""SIGTERM to a gateway process while calls run through it: it drains. The steps
in its hands finish there (the app is asked once per call, never again by
another gateway), it leaves no message un-acknowledged, it exits 0, and a
second gateway finishes the calls. Its log, in JSON, is one object a line."""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import signal
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import nats
import pytest
from flask import Flask, Response, request

from console.gateway import wire
from console.gateway.natsserver import NatsServer
from console.sandbox import SandboxThread
from tests.gateway.processes import Balancer, GatewayProcess, Look, heard
from tests.helpers import CALLER_ID, HUMAN, TEST_KEY
from tests.sandbox.conftest import make_config
from tests.sdk.conftest import AppServer
from twilio.rest import Client

CALLS = 4
APP_TAKES = 1.0  # the app's first answer: long enough to SIGTERM a gateway waiting for it
ACK_WAIT = 30.0  # anything left un-acknowledged would still be, when the test looks
CONSUMERS = [(wire.EVENTS_STREAM, f"interp-{p}") for p in range(wire.PARTITIONS)] + [
    (wire.EVENTS_STREAM, "relay"),
    (wire.TIMERS_STREAM, "timers"),
]


class SlowApp:
    """``/start`` answers after APP_TAKES seconds (Say, Redirect); ``/end`` (Say)."""

    def __init__(self) -> None:
        self.asked: Counter[tuple[str, str]] = Counter()
        self.first = threading.Event()
        self._lock = threading.Lock()
        app = Flask("slow")

        @app.post("/start")
        def start() -> Response:
            self._note("/start")
            self.first.set()
            time.sleep(APP_TAKES)
            return self._xml("<Say>Hello.</Say><Redirect>/end</Redirect>")

        @app.post("/end")
        def end() -> Response:
            self._note("/end")
            return self._xml("<Say>Goodbye.</Say>")

        self.server = AppServer(app)

    def _note(self, path: str) -> None:
        with self._lock:
            self.asked[(path, request.form["CallSid"])] += 1

    @staticmethod
    def _xml(verbs: str) -> Response:
        return Response(f"<Response>{verbs}</Response>", mimetype="text/xml")


@pytest.fixture
def patient_sandbox() -> Iterator[SandboxThread]:
    """Retries a webhook long enough to outlast the gap between the two gateways."""
    config = make_config(
        time_scale=10.0, webhook_attempts=10, webhook_backoff=0.05, max_call_seconds=3600.0
    )
    with SandboxThread(config) as thread:
        yield thread


def pending(nats_url: str) -> dict[str, tuple[int, int]]:
    """Each consumer's (waiting, handed out and not acknowledged)."""

    async def look() -> dict[str, tuple[int, int]]:
        nc = await nats.connect(nats_url, allow_reconnect=False)
        try:
            js = nc.jetstream()
            out = {}
            for stream, durable in CONSUMERS:
                info = await js.consumer_info(stream, durable)
                out[durable] = (info.num_pending or 0, info.num_ack_pending or 0)
            return out
        finally:
            await nc.close()

    return asyncio.run(look())


def test_sigterm_drains_a_gateway_and_another_finishes_its_calls(
    nats_server: NatsServer, patient_sandbox: SandboxThread, tmp_path: Path
) -> None:
    app = SlowApp()
    balancer = Balancer([])
    balancer.start()
    look = Look(patient_sandbox.url)
    secret = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
    gateways: list[GatewayProcess] = []

    def gateway(name: str) -> GatewayProcess:
        made = GatewayProcess(
            upstream=patient_sandbox.url,
            nats_url=nats_server.url,
            secret=secret,
            log_path=tmp_path / f"{name}.log",
            ack_wait=ACK_WAIT,
            public_url=balancer.url,
            extra_args=["--log-format", "json", "--drain-timeout", "15"],
        )
        gateways.append(made)
        made.start()
        made.wait_ready()
        balancer.backends[:] = [made.port]
        return made

    try:
        first = gateway("first")
        sdk = Client("AC" + "7" * 32, TEST_KEY, base_url=first.url, environment={})
        try:
            sids = [
                str(
                    sdk.calls.create(
                        to="+" + HUMAN, from_="+" + CALLER_ID, url=app.server.url + "/start"
                    ).sid
                )
                for _ in range(CALLS)
            ]
        finally:
            sdk.close()
        assert app.first.wait(15), "no call was answered"
        assert first.proc is not None
        first.proc.send_signal(signal.SIGTERM)  # the app is answering the first gateway now
        began = time.monotonic()
        assert first.proc.wait(15) == 0, first.log()[-3000:]
        took = time.monotonic() - began
        assert APP_TAKES * 0.5 < took < 10, took  # it waited for what it held, not longer

        lines = first.log().splitlines()
        records = [json.loads(line) for line in lines if line.strip()]
        assert all({"time", "level", "logger", "message"} <= r.keys() for r in records)
        messages = [r["message"] for r in records]
        assert any(m.startswith("draining:") for m in messages), messages
        assert any(m.startswith("drained in") for m in messages), messages

        second = gateway("second")
        look.wait(
            lambda: all(look.call(sid)["status"] not in ("ringing", "answered") for sid in sids),
            "every call to end",
            within=15,
        )
        for sid in sids:
            call = look.call(sid)
            assert heard(call) == ["Hello.", "Goodbye."], (sid, call["spoken"])
            assert call["endReason"] == "hangup", (sid, call["endReason"])
            # Asked once: the step the first gateway held was finished, not redone.
            assert app.asked[("/start", sid)] == 1, (sid, app.asked)
            assert app.asked[("/end", sid)] == 1, (sid, app.asked)
        look.wait(lambda: look.pending_webhooks() == 0, "the webhooks to settle", within=20)
        second.stop(drain=True)
        assert second.proc is not None
        assert second.proc.returncode == 0, second.log()[-3000:]
        # Nothing either gateway took is left for ack_wait: every event was
        # acknowledged, or handed back and taken by the next (an event the first
        # kept un-acknowledged would go to the second only after ACK_WAIT, and it
        # has not passed).
        assert time.monotonic() - began < ACK_WAIT - 5
        left = pending(nats_server.url)
        assert set(left.values()) == {(0, 0)}, {k: v for k, v in left.items() if v != (0, 0)}
    finally:
        for made in gateways:
            made.stop()
        look.close()
        balancer.stop()
        app.server.stop()
