"""The gateway when things break, for real, over loopback: gateway processes
killed with SIGKILL under load and mid-step, NATS restarted under load, and
Kaphila's webhooks delivered many times over.

Calls run a three-step Twilio IVR (a <Gather> with an action; a <Say> and a
<Redirect>; a last <Say>) against the sandbox's scripted callee (number ending
0007, who answers every gather), and are judged by the sandbox's own record:
what the callee heard (no gap, at most one repeat: the step in flight when a
gateway died), how the call ended (hung up after its last words), and which
webhooks it sent. The stream is judged against that record: every webhook
Kaphila sent is in it, exactly once (by ``Nats-Msg-Id``).

A gateway is killed at a moment the test knows it holds a call's event: the app
(or a tap in front of Kaphila) holds the request that gateway is making and
names the port it came from, and the process owning that port is the one killed.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import random
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import requests
from flask import Flask, Response, request
from nats.aio.client import Client as Nats

from console.gateway import registry, wire
from console.gateway.natsserver import NatsServer
from console.gateway.secrets import GatewaySecret, decode_secret
from console.gateway.server import GatewayThread
from console.sandbox import SandboxThread
from tests.gateway.conftest import gateway_config
from tests.gateway.processes import (
    Balancer,
    GatewayProcess,
    Look,
    Tap,
    attempts,
    collapsed,
    delivered,
    heard,
    owner_of_connection,
    sent_event_ids,
    start_gateways,
    stored_messages,
)
from tests.helpers import CALLER_ID, HUMAN, TEST_KEY
from tests.sandbox.conftest import make_config
from tests.sdk.conftest import AppServer
from twilio.rest import Client
from twilio.twiml.voice_response import Gather, VoiceResponse

SCRIPTED = "15551230007"  # the callee answers every gather with scripted digits
FROM = "+" + CALLER_ID
CALLS = 40
ACK_WAIT = 2.0  # a dead gateway's calls stand still this long, then another takes over
TIME_SCALE = 10.0  # simulated seconds per real second: a 2 s ring takes 200 ms
APP_DELAY = 0.005  # the app takes a moment, as a real one does
STEP_ONE = "Step one. Press any key."
STEP_THREE = "Step three. Thank you, goodbye."
PATHS = ("/start", "/second", "/third")
MENU = "For sales, press 5."


def step_two(sid: str, digits: str) -> str:
    return f"Step two for call {sid}. You pressed {digits}."


def expected(sid: str) -> list[str]:
    return [STEP_ONE, step_two(sid, "1"), STEP_THREE]


class Gate:
    """Once armed, holds the ``nth`` request to ``path`` until released, and says
    which port it came from: the test finds the gateway process making it and
    kills that one, so a gateway dies with a call's event in its hands."""

    def __init__(self) -> None:
        self.path = ""
        self.nth = 0
        self.seen = 0
        self.held = threading.Event()
        self.release = threading.Event()
        self.port = 0
        self.sid = ""
        self._lock = threading.Lock()

    def arm(self, path: str, nth: int) -> None:
        with self._lock:
            self.path, self.nth = path, nth

    def maybe_hold(self, path: str, sid: str) -> None:
        with self._lock:
            if path != self.path:
                return
            self.seen += 1
            if self.seen != self.nth:
                return
            self.port, self.sid = int(request.environ["REMOTE_PORT"]), sid
        self.held.set()
        self.release.wait(15)


class IvrApp:
    """Say + Gather(action) -> Say + Redirect -> Say, written as Twilio's docs
    write it; it records each request (path, CallSid) for the test."""

    def __init__(self) -> None:
        self.gate = Gate()
        self._lock = threading.Lock()
        self.requests: list[tuple[str, str]] = []
        self.flask = self._build()

    def count(self, path: str, sid: str | None = None) -> int:
        """Requests to ``path`` (for one call, or all)."""
        with self._lock:
            return sum(1 for p, s in self.requests if p == path and sid in (None, s))

    def _build(self) -> Flask:
        app = Flask("three-steps")

        def xml(resp: VoiceResponse) -> Response:
            with self._lock:
                self.requests.append((request.path, request.form["CallSid"]))
            self.gate.maybe_hold(request.path, request.form["CallSid"])
            time.sleep(APP_DELAY)
            return Response(str(resp), mimetype="text/xml")

        @app.route("/start", methods=["POST"])
        def start() -> Response:
            resp = VoiceResponse()
            gather = Gather(num_digits=1, action="/second")
            gather.say(STEP_ONE)
            resp.append(gather)
            resp.say("We did not get a key.")  # only when the gather ends without one
            return xml(resp)

        @app.route("/second", methods=["POST"])
        def second() -> Response:
            resp = VoiceResponse()
            resp.say(step_two(request.form["CallSid"], request.form.get("Digits", "")))
            resp.redirect("/third")
            return xml(resp)

        @app.route("/third", methods=["POST"])
        def third() -> Response:
            resp = VoiceResponse()
            resp.say(STEP_THREE)
            return xml(resp)

        @app.route("/menu", methods=["POST"])
        def menu() -> Response:
            resp = VoiceResponse()
            gather = Gather(num_digits=1, action="/chosen", timeout=60)
            gather.say(MENU)
            resp.append(gather)
            return xml(resp)

        @app.route("/chosen", methods=["POST"])
        def chosen() -> Response:
            resp = VoiceResponse()
            resp.say(f"You chose {request.form.get('Digits', '')}, thank you.")
            return xml(resp)

        @app.route("/last-words", methods=["POST"])
        def last_words() -> Response:
            resp = VoiceResponse()
            resp.say("Three, and that is all.")
            return xml(resp)

        return app


# ------------------------------------------------------------------ fixtures


@pytest.fixture
def secret() -> str:
    """One gateway secret for every gateway of a test (each opens what another sealed)."""
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


@pytest.fixture
def patient_sandbox() -> Iterator[SandboxThread]:
    """A sandbox that retries a webhook long enough to outlast an outage (10
    attempts over about 25 s) and keeps an idle call up while its gateway is away."""
    config = make_config(
        time_scale=TIME_SCALE,
        webhook_attempts=10,
        webhook_backoff=0.05,
        webhook_timeout=5.0,
        max_call_seconds=3600.0,
    )
    with SandboxThread(config) as thread:
        yield thread


@pytest.fixture
def look(patient_sandbox: SandboxThread) -> Iterator[Look]:
    seen = Look(patient_sandbox.url)
    yield seen
    seen.close()


@pytest.fixture
def ivr() -> Iterator[tuple[IvrApp, AppServer]]:
    app = IvrApp()
    server = AppServer(app.flask)
    yield app, server
    app.gate.release.set()
    server.stop()


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[Callable[..., GatewayProcess]]:
    """``spawn(**kwargs)``: gateway processes (not yet started), every one stopped
    at the end however the test went."""
    made: list[GatewayProcess] = []

    def make(**kwargs: Any) -> GatewayProcess:
        kwargs.setdefault("log_path", tmp_path / f"gateway-{len(made)}.log")
        kwargs.setdefault("ack_wait", ACK_WAIT)
        made.append(GatewayProcess(**kwargs))
        return made[-1]

    yield make
    for gateway in made:
        gateway.stop()


@pytest.fixture
def balancer() -> Iterator[Balancer]:
    lb = Balancer([])
    lb.start()
    yield lb
    lb.stop()


# ------------------------------------------------------------------ load and judgement


def place_calls(urls: list[str], count: int, app_url: str, pace: float = 0.0) -> list[str]:
    """``count`` calls placed through the gateways in turn, one every ``pace``
    seconds (eight at most at once), the way a Twilio app does (only its base URL
    changed); their CallSids."""
    began = time.monotonic()

    def place(index: int) -> str:
        time.sleep(max(0.0, began + index * pace - time.monotonic()))
        sdk = Client("AC" + "4" * 32, TEST_KEY, base_url=urls[index % len(urls)], environment={})
        try:
            return str(sdk.calls.create(to="+" + SCRIPTED, from_=FROM, url=f"{app_url}/start").sid)
        finally:
            sdk.close()

    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(place, range(count)))


def ended(call: dict[str, Any]) -> bool:
    return call["status"] not in ("ringing", "answered")


def count_ended(look: Look, sids: list[str]) -> int:
    wanted = set(sids)
    return sum(1 for c in look.calls() if c["callId"] in wanted and ended(c))


def wait_until_done(look: Look, sids: list[str], within: float) -> list[dict[str, Any]]:
    """Every call ended and every webhook delivered or given up on; their records."""
    look.wait(lambda: count_ended(look, sids) == len(sids), f"{len(sids)} calls to end", within)
    look.wait(lambda: look.pending_webhooks() == 0, "the sandbox's webhooks to settle", within)
    return [look.call(sid) for sid in sids]


def check_documents(records: list[dict[str, Any]], app: IvrApp) -> int:
    """Each call heard its whole document in order, with no gap and at most one
    repeat (the step in flight when a gateway died: a verb heard twice or a
    request the app got twice), and was hung up after its last words. Returns
    the number of repeats."""
    repeats = 0
    for call in records:
        sid = call["callId"]
        said, repeated_verbs = collapsed(heard(call))
        assert said == expected(sid), (sid, heard(call))
        repeated_fetches = sum(app.count(path, sid) - 1 for path in PATHS)
        assert repeated_verbs + repeated_fetches <= 1, (sid, heard(call), app.requests)
        repeats += repeated_verbs + repeated_fetches
        assert call["endReason"] == "hangup", (sid, call["endReason"], heard(call))
        cut = [s["text"] for s in call["spoken"] if s["interrupted"]]
        assert cut == [], (sid, cut)
    return repeats


def check_nothing_lost(records: list[dict[str, Any]], nats_url: str) -> None:
    """Every webhook the sandbox sent was delivered (a 2xx, perhaps after retries)
    and is in the stream exactly once; the stream holds no webhook it did not send."""
    stored = [m for m in stored_messages(nats_url) if m.body.get("kind") == "webhook"]
    stored_ids = Counter(m.msg_id for m in stored)
    assert [i for i, n in stored_ids.items() if n > 1] == [], "a webhook was stored twice"
    sent: set[str] = set()
    for call in records:
        ids = sent_event_ids(call)
        gave_up = [e for e in call["timeline"] if e["type"] == "delivery-gave-up"]
        assert gave_up == [], (call["callId"], gave_up)
        assert set(ids) <= delivered(call), (call["callId"], attempts(call))
        sent.update(ids)
    assert {"id:" + i for i in sent} == set(stored_ids)
    for message in stored:  # each under the call it came for
        assert message.msg_id.startswith("id:" + message.body["payload"]["callId"] + ":")


def phase(call: dict[str, Any], app: IvrApp) -> str:
    """Where a call stands in the IVR, by what the app was asked so far."""
    if ended(call):
        return "ended"
    if call["status"] == "ringing":
        return "ringing"
    for path in reversed(PATHS):
        if app.count(path, call["callId"]):
            return {"/start": "step one", "/second": "step two", "/third": "step three"}[path]
    return "answered"


def longest_stall(call: dict[str, Any]) -> float:
    """The longest quiet time in the call's timeline, in real seconds."""
    times = [datetime.fromisoformat(e["at"]).timestamp() for e in call["timeline"]]
    return max((b - a for a, b in itertools.pairwise(times)), default=0.0) / TIME_SCALE


# ------------------------------------------------------------------ a gateway dies


@pytest.mark.slow
def test_a_gateway_killed_under_load_loses_no_call(
    nats_server: NatsServer,
    patient_sandbox: SandboxThread,
    look: Look,
    ivr: tuple[IvrApp, AppServer],
    spawn: Callable[..., GatewayProcess],
    balancer: Balancer,
    secret: str,
) -> None:
    """Two gateway processes on one NATS and one secret, 40 calls placed through
    both (half each, one every 50 ms), and one gateway killed with SIGKILL
    mid-run: some calls done, others ringing, in their gather, at step two or
    waiting to hang up after their last words.

    Each call's intake URL is its gateway's public URL, so a webhook can reach a
    call placed through the dead gateway only if something else answers there.
    As deployed (README, "Deploying it"), both gateways sit behind one public
    URL: here a loopback round-robin load balancer (``--public-url``) that skips
    a backend refusing connections, as a real one's health checks do. Webhooks
    in flight to the dead gateway fail and the sandbox delivers them again
    (JetStream drops the duplicates); the events it held un-acknowledged go to
    the survivor after ``--ack-wait``, which continues each call from its saved
    program: the step in flight runs again (here the app is asked twice for
    step two of the call whose request the app held), nothing is skipped."""
    app, server = ivr
    gateways = [
        spawn(
            upstream=patient_sandbox.url,
            nats_url=nats_server.url,
            secret=secret,
            public_url=balancer.url,
        )
        for _ in range(2)
    ]
    start_gateways(gateways)
    balancer.backends[:] = [g.port for g in gateways]

    began = time.monotonic()
    sids = place_calls([g.url for g in gateways], CALLS, server.url, pace=0.05)
    # Mid-run: the next call to reach step two is held, and its gateway killed; the
    # first calls are done or further on, the last ones ringing or at step one.
    app.gate.arm("/second", 1)
    try:
        assert app.gate.held.wait(30), "no call reached step two"
        victim = owner_of_connection(app.gate.port, gateways)
        victim.kill()
        killed = time.monotonic()
        phases = Counter(phase(c, app) for c in look.calls())
    finally:
        app.gate.release.set()

    records = wait_until_done(look, sids, within=40)
    took = time.monotonic() - killed
    repeats = check_documents(records, app)
    check_nothing_lost(records, nats_server.url)
    survivor = next(g for g in gateways if g is not victim)
    assert survivor.alive
    assert phases["ended"], phases  # the kill came mid-run: some calls done,
    assert phases["step one"], phases  # others still in their first gather
    # The call whose step two was in the victim's hands: asked again by the survivor.
    assert app.count("/second", app.gate.sid) == 2
    held = next(c for c in records if c["callId"] == app.gate.sid)
    assert longest_stall(held) >= ACK_WAIT * 0.8
    print(
        f"\n{CALLS} calls, at the kill {killed - began:.1f} s in: {dict(phases)}; all ended "
        f"{took:.1f} s after it; {repeats} step(s) repeated; the balancer sent "
        f"{balancer.skipped} connection(s) past the dead gateway"
    )


@pytest.mark.slow
def test_a_document_set_through_the_api_goes_on_where_its_dead_gateway_left_it(
    nats_server: NatsServer,
    patient_sandbox: SandboxThread,
    look: Look,
    ivr: tuple[IvrApp, AppServer],
    spawn: Callable[..., GatewayProcess],
    balancer: Balancer,
    secret: str,
) -> None:
    """``calls(sid).update(twiml=...)`` on a live call: the gateway running the new
    document dies after two of its <Say>s, while fetching its <Redirect>. The
    survivor takes the document event over and goes on from the saved program
    (the fetch runs again), not from the top: "One." and "Two." are heard once."""
    app, server = ivr
    app.gate.arm("/last-words", 1)
    gateways = [
        spawn(
            upstream=patient_sandbox.url,
            nats_url=nats_server.url,
            secret=secret,
            public_url=balancer.url,
        )
        for _ in range(2)
    ]
    start_gateways(gateways)
    balancer.backends[:] = [g.port for g in gateways]
    sdk = Client("AC" + "5" * 32, TEST_KEY, base_url=gateways[0].url, environment={})
    try:
        call = sdk.calls.create(
            to="+" + HUMAN, from_=FROM, twiml='<Response><Pause length="60"/></Response>'
        )
        look.wait(lambda: look.call(call.sid)["status"] == "answered", "the answer", 10)
        sdk.calls(call.sid).update(
            twiml=f"<Response><Say>One.</Say><Say>Two.</Say>"
            f"<Redirect>{server.url}/last-words</Redirect></Response>"
        )
    finally:
        sdk.close()
    try:
        assert app.gate.held.wait(10), "the document's <Redirect> was never fetched"
        owner_of_connection(app.gate.port, gateways).kill()
    finally:
        app.gate.release.set()
    (record,) = wait_until_done(look, [call.sid], within=20)
    assert heard(record) == ["One.", "Two.", "Three, and that is all."]
    assert app.count("/last-words", call.sid) == 2  # the step in flight, run again
    assert record["endReason"] == "hangup"


@pytest.mark.slow
def test_a_gather_started_by_a_gateway_that_died_is_waited_for_not_refused(
    nats_server: NatsServer,
    patient_sandbox: SandboxThread,
    look: Look,
    ivr: tuple[IvrApp, AppServer],
    spawn: Callable[..., GatewayProcess],
    balancer: Balancer,
    secret: str,
) -> None:
    """The gateway dies after Kaphila started the menu's gather and before it could
    save that it had (a tap between the gateways and Kaphila keeps back the answer
    to POST /gather, and the gateway that sent it is killed). The survivor runs
    the step again; Kaphila refuses a second gather while the first runs, and the
    survivor waits for that one instead of giving the call up: the callee's key
    reaches the app and the call goes on."""
    _, server = ivr
    tap = Tap(int(patient_sandbox.url.rsplit(":", 1)[1]))
    tap.start()
    try:
        tap.request_line = b"POST /gather "
        gateways = [
            spawn(
                upstream=tap.url, nats_url=nats_server.url, secret=secret, public_url=balancer.url
            )
            for _ in range(2)
        ]
        start_gateways(gateways)
        balancer.backends[:] = [g.port for g in gateways]
        sdk = Client("AC" + "7" * 32, TEST_KEY, base_url=gateways[0].url, environment={})
        try:
            call = sdk.calls.create(to="+" + HUMAN, from_=FROM, url=f"{server.url}/menu")
        finally:
            sdk.close()
        try:
            assert tap.held.wait(10), "the menu's gather was never asked for"
            owner_of_connection(tap.client_port, gateways).kill()
        finally:
            tap.release.set()
        look.wait(
            lambda: tap.requests["POST /gather"] == 2,
            "the survivor to ask for the gather again",
            10,
        )
        look.press(call.sid, "5")
        (record,) = wait_until_done(look, [call.sid], within=10)
    finally:
        tap.stop()
    assert heard(record) == [MENU, "You chose 5, thank you."]
    assert len(record["gathers"]) == 1
    assert record["endReason"] == "hangup"


def test_a_new_documents_wait_is_not_taken_for_the_old_ones(
    nats_server: NatsServer, patient_sandbox: SandboxThread, look: Look
) -> None:
    """``update(twiml=...)`` on a call waiting in a <Pause>: the new document's own
    wait (the hang-up once its words are said) is a timer of its own, not a
    duplicate of the pause's, so the call hangs up after the new words and not
    when the old pause would have ended."""
    config = gateway_config(patient_sandbox.url, nats_server.url)
    with GatewayThread(config) as gateway:
        sdk = Client("AC" + "6" * 32, TEST_KEY, base_url=gateway.url, environment={})
        try:
            call = sdk.calls.create(
                to="+" + HUMAN, from_=FROM, twiml='<Response><Pause length="60"/></Response>'
            )
            look.wait(lambda: look.call(call.sid)["status"] == "answered", "the answer", 10)
            time.sleep(0.2)  # the pause's timer is scheduled
            sdk.calls(call.sid).update(
                twiml="<Response><Say>An urgent message, and that is all.</Say></Response>"
            )
        finally:
            sdk.close()
        (record,) = wait_until_done(look, [call.sid], within=10)
    assert heard(record) == ["An urgent message, and that is all."]
    assert record["endReason"] == "hangup"


# ------------------------------------------------------------------ NATS restarts


@pytest.mark.slow
def test_nats_restarted_under_load_loses_no_call(
    tmp_path: Path,
    patient_sandbox: SandboxThread,
    look: Look,
    ivr: tuple[IvrApp, AppServer],
    spawn: Callable[..., GatewayProcess],
    secret: str,
) -> None:
    """NATS stops (SIGTERM) while calls are in flight and starts again on the same
    port and store. Meanwhile intake answers 503 with Retry-After, so the sandbox
    delivers again (with its backoff) until the gateway can store the webhook;
    the gateway reconnects by itself, and every call finishes its document."""
    app, server = ivr
    store = tmp_path / "nats"
    first = NatsServer(store)
    first.start()
    servers = [first]
    try:
        gateway = spawn(upstream=patient_sandbox.url, nats_url=first.url, secret=secret)
        start_gateways([gateway])
        sids = place_calls([gateway.url], 30, server.url)
        # Mid-run: a third of the calls past their answer, the others ringing; those
        # in a gather go on without the gateway, their digits meet the outage.
        look.wait(lambda: app.count("/start") >= 10, "a third of the calls to start", 30)
        first.stop()
        stopped = time.monotonic()

        mac_key = GatewaySecret(decode_secret(secret, "test"), "test").mac_key()
        hook = gateway.url + wire.HOOK_PATH.format(token=wire.sign_token(wire.new_token(), mac_key))
        event = {"callId": "1.1", "event": "call.ended", "timestamp": "2026-01-01T00:00:00Z"}
        with requests.Session() as http:
            answer = http.post(hook, json=event, timeout=10)
            assert answer.status_code == 503, answer.text
            assert answer.headers["Retry-After"] == "2"
            assert http.get(gateway.url + "/readyz", timeout=10).status_code == 503
        time.sleep(1.0)  # down a while: the sandbox's deliveries meet 503s

        second = NatsServer(store, port=first.port)
        second.start()
        servers.append(second)
        down = time.monotonic() - stopped
        records = wait_until_done(look, sids, within=40)
        took = time.monotonic() - stopped
        check_documents(records, app)
        check_nothing_lost(records, second.url)
        refused = [a for c in records for a in attempts(c) if a[1] == 503]
        assert refused, "no webhook met the outage"
        with requests.Session() as http:
            assert http.get(gateway.url + "/readyz", timeout=10).status_code == 200
        print(
            f"\nNATS down {down:.1f} s; {len(refused)} deliveries answered 503 and retried; "
            f"all 30 calls done {took:.1f} s after the stop"
        )
    finally:
        for nats_server in servers:
            nats_server.stop()


# ------------------------------------------------------------------ Kaphila repeats itself


async def test_a_thousand_webhooks_posted_three_times_are_stored_once(
    gateway: GatewayThread, http: aiohttp.ClientSession, nc: Nats
) -> None:
    """1,000 distinct webhooks (20 registered calls, 50 events each) posted to one
    gateway's intake, then all of them again twice over at once, shuffled (a
    duplicate racing its twin): every post is a 200, and the stream holds each
    event once (``Nats-Msg-Id`` from Kaphila's event id)."""
    ctx = gateway.ctx
    hooks: list[tuple[str, bytes, str]] = []
    start = datetime(2026, 1, 1, tzinfo=UTC).timestamp()
    for n in range(20):
        token, call_id = wire.new_token(), f"1700000000.{n + 1}"
        reg = wire.Registration(
            token=token,
            account=wire.account_of(TEST_KEY),
            key=ctx.sealer.seal(TEST_KEY),
            created_at=time.time(),
            call_id=call_id,
        )
        await asyncio.to_thread(gateway.run, registry.put(ctx, reg))
        path = wire.HOOK_PATH.format(token=wire.sign_token(token, ctx.mac_key))
        for k in range(50):
            at = datetime.fromtimestamp(start + n * 60 + k, UTC).isoformat()
            payload = {
                "callId": call_id,
                "event": "dtmf.received",
                "status": "answered",
                "timestamp": at.replace("+00:00", "Z"),
                "digits": str(k % 10),
            }
            hooks.append((path, json.dumps(payload).encode(), f"{call_id}:{k + 1}"))
    limit = asyncio.Semaphore(64)

    async def post(hook: tuple[str, bytes, str]) -> int:
        path, body, event_id = hook
        async with (
            limit,
            http.post(
                gateway.url + path,
                data=body,
                headers={"Content-Type": "application/json", "X-Kaphila-Event-Id": event_id},
            ) as resp,
        ):
            await resp.read()
            return resp.status

    first = await asyncio.gather(*(post(h) for h in hooks))
    again = hooks * 2
    random.Random(7).shuffle(again)
    replayed = await asyncio.gather(*(post(h) for h in again))
    assert Counter(first) == {200: 1000}
    assert Counter(replayed) == {200: 2000}

    js = nc.jetstream()
    info = await js.stream_info(wire.EVENTS_STREAM)
    assert info.state.messages == 1000
    stored = set()
    for seq in range(info.state.first_seq, info.state.last_seq + 1):
        msg = await js.get_msg(wire.EVENTS_STREAM, seq)
        stored.add((msg.headers or {}).get("Nats-Msg-Id"))
    assert stored == {"id:" + event_id for _, _, event_id in hooks}
