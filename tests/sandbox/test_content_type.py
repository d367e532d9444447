"""POST and PUT bodies must be JSON, sent as ``Content-Type: application/json``.

A web page can send ``text/plain``, form and multipart bodies anywhere without
asking; ``application/json`` only after a CORS preflight the sandbox never
grants. A POST with no body at all (``curl -X POST .../hangup``) needs no type.
"""

from __future__ import annotations

import json

import pytest

from tests.helpers import HUMAN, SandboxApi, WebhookReceiver
from tests.sandbox.test_browser_guard import KEYED, refused, send

FORM = "application/x-www-form-urlencoded"

NOT_JSON = [
    "text/plain",
    "text/plain;charset=UTF-8",
    FORM,
    "multipart/form-data; boundary=x",
    "application/octet-stream",
    "text/json",
]
ENDPOINTS = [
    ("POST", "/makecall", True),
    ("POST", "/hangup", True),
    ("PUT", "/sandbox/faults", False),
    ("POST", "/sandbox/calls/1.1/press", False),
    ("POST", "/sandbox/reset", False),
    ("POST", "/sandbox/calls/1.1/hangup", False),
]


# curl's default label on a PUT of JSON is let through: see the last test.
@pytest.mark.parametrize(
    ("content_type", "method", "path", "keyed"),
    [
        (content_type, *endpoint)
        for content_type in NOT_JSON
        for endpoint in ENDPOINTS
        if (content_type, endpoint[0]) != (FORM, "PUT")
    ],
)
async def test_a_body_that_is_not_application_json_is_415(
    api: SandboxApi, content_type: str, method: str, path: str, keyed: bool
) -> None:
    headers = {"Content-Type": content_type, **(KEYED if keyed else {})}
    body = json.dumps(
        {"number": HUMAN, "callerId": "19876543210", "drop": 1, "digits": "1", "callId": "1.1"}
    ).encode()
    status, answer = await send(api, method, path, data=body, headers=headers)
    message = refused(status, answer, 415)
    assert "application/json" in message
    _, faults = await api.get("/sandbox/faults")
    assert faults["faults"]["drop"]["rate"] == 0.0
    _, stats = await api.get("/sandbox/stats")
    assert stats["webhooks"]["events"] == 0


async def test_a_non_empty_body_without_a_content_type_is_415(api: SandboxApi) -> None:
    for path in ("/sandbox/reset", "/makecall"):
        status, answer = await send(
            api, "POST", path, data=b'{"a": 1}', headers=KEYED, skip=("Content-Type",)
        )
        assert "application/json" in refused(status, answer, 415)


async def test_an_empty_body_with_a_non_json_type_is_415(api: SandboxApi) -> None:
    # An HTML form with no fields posts exactly this.
    status, answer = await send(
        api, "POST", "/sandbox/reset", data=b"", headers={"Content-Type": "text/plain"}
    )
    refused(status, answer, 415)


@pytest.mark.parametrize(
    "content_type",
    ["application/json", "application/json; charset=utf-8", "Application/JSON;charset=UTF-8"],
)
async def test_json_with_or_without_parameters_is_accepted(
    api: SandboxApi, content_type: str
) -> None:
    status, answer = await send(
        api, "PUT", "/sandbox/faults", data=b'{"drop": 0.5}', headers={"Content-Type": content_type}
    )
    assert status == 200, answer
    assert answer["faults"]["drop"]["rate"] == 0.5


async def test_bodyless_control_posts_need_no_content_type(
    api: SandboxApi, receiver: WebhookReceiver
) -> None:
    call_id = await api.call(HUMAN, receiver.url)
    await receiver.wait_event(call_id, "call.answered")
    # What `curl -X POST URL` sends: no body and no Content-Type.
    status, answer = await send(
        api, "POST", f"/sandbox/calls/{call_id}/hangup", headers={}, skip=("Content-Type",)
    )
    assert (status, answer["status"]) == (200, "completed")
    status, _ = await send(api, "POST", "/sandbox/reset", headers={}, skip=("Content-Type",))
    assert status == 200
    _, calls = await api.get("/sandbox/calls")
    assert calls["calls"] == []


async def test_an_unknown_path_is_still_404_whatever_the_body(api: SandboxApi) -> None:
    status, answer = await send(
        api, "POST", "/nothing-here", data=b"x", headers={"Content-Type": "text/plain", **KEYED}
    )
    refused(status, answer, 404)


async def test_curl_d_json_on_a_put_is_accepted_but_a_real_form_is_not(api: SandboxApi) -> None:
    # README: curl -X PUT .../sandbox/faults -d '{"error": ...}' -- curl calls that
    # a form. No browser can send a cross-origin PUT without a preflight.
    status, answer = await send(
        api, "PUT", "/sandbox/faults", data=b' {"drop": 0.25}', headers={"Content-Type": FORM}
    )
    assert (status, answer["faults"]["drop"]["rate"]) == (200, 0.25)
    status, answer = await send(
        api, "PUT", "/sandbox/faults", data=b"drop=1", headers={"Content-Type": FORM}
    )
    refused(status, answer, 415)
    # A POST can come from any page's HTML form: no exception there.
    status, answer = await send(
        api,
        "POST",
        "/sandbox/calls/1.1/press",
        data=b'{"digits": "1"}',
        headers={"Content-Type": FORM},
    )
    refused(status, answer, 415)
    _, faults = await api.get("/sandbox/faults")
    assert faults["faults"]["drop"]["rate"] == 0.25
