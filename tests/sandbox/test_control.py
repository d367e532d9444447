"""The /sandbox/ inspection and control API: the test's and the demo's hands."""

from __future__ import annotations

from tests.helpers import CALLER_ID, HUMAN, TEST_KEY, SandboxApi, WebhookReceiver


async def test_one_calls_timeline_has_requests_events_deliveries_speech_digits_and_forward(
    api: SandboxApi, receiver: WebhookReceiver
) -> None:
    call_id = await api.call(HUMAN, receiver.url)
    await receiver.wait_event(call_id, "call.answered")
    await api.post("/voice", {"callId": call_id, "text": "Welcome."})
    await api.post(
        "/gather", {"callId": call_id, "text": "Press 1.", "numDigits": 1, "timeout": 60000}
    )
    await api.post(f"/sandbox/calls/{call_id}/press", {"digits": "1"})
    await receiver.wait_event(call_id, "gather.complete")
    await api.post("/forwardcall", {"callId": call_id, "forwardNumber": "15557654321"})
    await receiver.wait_event(call_id, "call.ended")

    record = await api.sandbox_call(call_id)
    kinds = {e["type"] for e in record["timeline"]}
    assert {"request", "event", "delivery", "tts", "digit"} <= kinds
    requests = [e["path"] for e in record["timeline"] if e["type"] == "request"]
    assert requests == ["/makecall", "/voice", "/gather", "/forwardcall"]
    events = [e["event"] for e in record["timeline"] if e["type"] == "event"]
    assert events == receiver.events(call_id)
    delivered = {
        e["eventId"] for e in record["timeline"] if e["type"] == "delivery" and e["result"] == 200
    }
    assert delivered == {d.event_id for d in receiver.accepted(call_id)}
    assert [s["text"] for s in record["spoken"]] == ["Welcome.", "Press 1."]
    assert record["gathers"][0]["digits"] == "1"
    assert record["gathers"][0]["outcome"] == "complete"
    assert record["forwardedTo"] == "15557654321"
    assert record["endReason"] == "forwarded"
    assert record["scenario"].startswith("a person answers")


async def test_list_calls_and_filter_live_ones(api: SandboxApi, receiver: WebhookReceiver) -> None:
    busy = await api.call("15551230003", receiver.url)
    live = await api.call(HUMAN, receiver.url)
    await receiver.wait_event(busy, "call.ended")
    _, everything = await api.get("/sandbox/calls")
    _, live_only = await api.get("/sandbox/calls?live=1")
    assert {c["callId"] for c in everything["calls"]} == {busy, live}
    assert [c["callId"] for c in live_only["calls"]] == [live]
    _, health = await api.get("/sandbox/health")
    assert (health["calls"], health["live"]) == (2, 1)


async def test_callee_hangup_ends_the_call_from_the_far_side(
    api: SandboxApi, receiver: WebhookReceiver
) -> None:
    call_id = await api.call(HUMAN, receiver.url)
    await receiver.wait_event(call_id, "call.answered")
    status, body = await api.post(f"/sandbox/calls/{call_id}/hangup", {})
    assert (status, body["status"]) == (200, "completed")
    ended = await receiver.wait_event(call_id, "call.ended")
    assert (ended["hangupBy"], ended["reason"]) == ("callee", "callee-hangup")


async def test_pressing_needs_digits_and_a_live_answered_call(
    api: SandboxApi, receiver: WebhookReceiver
) -> None:
    call_id = await api.call("15551230008", receiver.url)  # ringing
    status, body = await api.post(f"/sandbox/calls/{call_id}/press", {"digits": "1"})
    assert status == 400
    assert body["error"] == f"cannot press digits on call {call_id}: it is ringing, not answered"
    status, body = await api.post(f"/sandbox/calls/{call_id}/press", {"digits": "1a"})
    assert (status, body["error"]) == (400, "digits '1a' may only hold 0-9, * and #")
    status, body = await api.post("/sandbox/calls/9.9/press", {"digits": "1"})
    assert (status, body["error"]) == (404, "no call with callId '9.9'")


async def test_accounts_show_caller_ids_and_credits_but_never_keys(
    api: SandboxApi, receiver: WebhookReceiver
) -> None:
    await api.call(HUMAN, receiver.url)
    async with api.session.get(api.base_url + "/sandbox/accounts") as resp:
        text = await resp.text()
    assert TEST_KEY not in text
    accounts = (await api.get("/sandbox/accounts"))[1]["accounts"]
    assert accounts[0] == {"name": "test", "callerIds": [CALLER_ID], "credits": 99}


async def test_unknown_recording_is_404(api: SandboxApi) -> None:
    async with api.session.get(api.base_url + "/recordings/RE123.wav") as resp:
        assert resp.status == 404
        assert (await resp.json())["error"] == "no recording 'RE123'"


async def test_only_the_newest_finished_calls_are_kept(receiver: WebhookReceiver) -> None:
    import aiohttp

    from console.sandbox import Sandbox
    from tests.sandbox.conftest import make_config

    async with (
        Sandbox(make_config(max_finished_calls=2)) as sandbox,
        aiohttp.ClientSession() as session,
    ):
        api = SandboxApi(sandbox.url, TEST_KEY, session)
        busy = [await api.call("15551230003", receiver.url) for _ in range(3)]
        for call_id in busy:
            await receiver.wait_event(call_id, "call.ended")
        live = await api.call(HUMAN, receiver.url)
        _, listing = await api.get("/sandbox/calls")
        assert [c["callId"] for c in listing["calls"]] == [*busy[1:], live]


async def test_stats_count_api_requests_by_path(api: SandboxApi) -> None:
    await api.get("/calls/1.1")
    await api.post("/makecall", {"number": "1"})
    _, stats = await api.get("/sandbox/stats")
    assert stats["requests"] == {"/calls/1.1": 1, "/makecall": 1}
