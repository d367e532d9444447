"""A web page in the user's browser cannot drive the sandbox.

Three locks, each enough on its own for the attacks it names:

- the Host header must name the sandbox (DNS rebinding: a page on
  ``evil.example`` re-pointed at 127.0.0.1 still sends ``Host: evil.example``);
- a request that carries ``Origin`` or a cross-site ``Sec-Fetch-Site`` came
  from a browser page and is refused (curl, the SDK and the console send neither);
- POST and PUT bodies must be ``application/json``, which a page can only send
  cross-origin after a CORS preflight that the sandbox never grants.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import pytest

from console.sandbox import Sandbox
from console.sandbox.guard import HostPolicy
from tests.helpers import HUMAN, TEST_KEY, SandboxApi, WebhookReceiver
from tests.sandbox.conftest import make_config

KEYED = {"Authorization": f"Bearer {TEST_KEY}"}
JSON = {"Content-Type": "application/json"}


def port_of(api: SandboxApi) -> int:
    port = urlsplit(api.base_url).port
    assert port is not None
    return port


async def send(
    api: SandboxApi,
    method: str,
    path: str,
    *,
    headers: dict[str, str],
    data: bytes | None = None,
    skip: tuple[str, ...] = (),
) -> tuple[int, Any]:
    async with api.session.request(
        method, api.base_url + path, data=data, headers=headers, skip_auto_headers=skip
    ) as resp:
        assert resp.content_type == "application/json", await resp.text()
        return resp.status, await resp.json()


def refused(status: int, body: Any, expected: int) -> str:
    assert status == expected, body
    assert body["success"] is False
    assert isinstance(body["error"], str)
    assert body["error"]
    return str(body["error"])


# ------------------------------------------------------------------ Host header


FOREIGN_HOSTS = [
    "evil.example",
    "evil.example:8787",
    "localhost.evil.example",
    "127.0.0.1.evil.example",
    "10.0.0.5",
    "[::2]:80",
    "localhost.",
    "",
]


@pytest.mark.parametrize("host", FOREIGN_HOSTS)
@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/sandbox/calls", None),
        ("POST", "/sandbox/reset", b""),
        ("POST", "/makecall", json.dumps({"number": HUMAN, "callerId": "19876543210"}).encode()),
        ("GET", "/nothing-here", None),
    ],
)
async def test_a_foreign_host_header_is_refused(
    api: SandboxApi, host: str, method: str, path: str, body: bytes | None
) -> None:
    status, answer = await send(
        api, method, path, data=body, headers={"Host": host, **KEYED, **JSON}
    )
    message = refused(status, answer, 421)
    assert "Host" in message
    # Nothing happened: no call, not even counted as a request.
    _, stats = await api.get("/sandbox/stats")
    assert stats["requests"] == {}


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "127.0.0.1:{port}",
        "localhost",
        "localhost:{port}",
        "LocalHost:{port}",
        "[::1]",
        "[::1]:{port}",
        "[0:0:0:0:0:0:0:1]:{port}",
    ],
)
async def test_the_sandboxs_own_names_are_accepted(api: SandboxApi, host: str) -> None:
    status, answer = await send(
        api, "GET", "/sandbox/health", headers={"Host": host.format(port=port_of(api))}
    )
    assert (status, answer["success"]) == (200, True)


async def test_extra_names_from_the_configuration_are_accepted() -> None:
    async with (
        Sandbox(make_config(allowed_hosts=("sandbox.test",))) as sandbox,
        aiohttp.ClientSession() as session,
    ):
        api = SandboxApi(sandbox.url, TEST_KEY, session)
        for host in ("sandbox.test", f"sandbox.test:{sandbox.port}", "SANDBOX.test"):
            status, _ = await send(api, "GET", "/sandbox/health", headers={"Host": host})
            assert status == 200, host
        status, answer = await send(api, "GET", "/sandbox/health", headers={"Host": "other.test"})
        refused(status, answer, 421)


@pytest.mark.parametrize(
    ("bind", "host", "allowed"),
    [
        ("127.0.0.1", "127.0.0.1:8787", True),
        ("127.0.0.1", "localhost", True),
        ("127.0.0.1", "[::1]", True),
        ("127.0.0.1", "192.168.1.20:8787", False),
        ("127.0.0.1", "evil.example", False),
        ("192.168.1.20", "192.168.1.20:8787", True),
        ("192.168.1.20", "localhost:8787", True),
        ("192.168.1.20", "192.168.1.21", False),
        ("mybox.lan", "mybox.lan:8787", True),
        ("mybox.lan", "MyBox.LAN", True),
        ("mybox.lan", "evil.example", False),
        ("::1", "[::1]:8787", True),
        ("fe80::1", "[fe80::1]:8787", True),
        # Bound to every interface the sandbox is reached by whatever address the
        # machine has; an address cannot be re-pointed by DNS, a name can.
        ("0.0.0.0", "192.168.1.20:8787", True),  # noqa: S104 - a policy, nothing is bound
        ("0.0.0.0", "[fd00::5]", True),  # noqa: S104
        ("::", "10.1.2.3", True),
        ("0.0.0.0", "evil.example", False),  # noqa: S104
        ("0.0.0.0", "localhost", True),  # noqa: S104
        ("127.0.0.1", "127.0.0.1:port", False),
        ("127.0.0.1", "127.0.0.1:99999", False),
        ("127.0.0.1", "[127.0.0.1]", False),
        ("127.0.0.1", "[::1", False),
        ("127.0.0.1", "127.0.0.1 ", False),
    ],
)
def test_host_policy(bind: str, host: str, allowed: bool) -> None:
    assert HostPolicy(bind).allows(host) is allowed


# ------------------------------------------------------------------ browser requests


@pytest.mark.parametrize(
    "origin", ["https://evil.example", "null", "http://127.0.0.1:8787", "http://localhost"]
)
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/sandbox/calls"),
        ("POST", "/sandbox/reset"),
        ("PUT", "/sandbox/faults"),
        ("POST", "/makecall"),
        ("GET", "/calls/1.1"),
        ("OPTIONS", "/makecall"),
        ("GET", "/recordings/RE1.wav"),
    ],
)
async def test_any_request_with_an_origin_header_is_refused(
    api: SandboxApi, origin: str, method: str, path: str
) -> None:
    status, answer = await send(
        api, method, path, data=b"{}", headers={"Origin": origin, **KEYED, **JSON}
    )
    message = refused(status, answer, 403)
    assert "browser" in message


@pytest.mark.parametrize("site", ["cross-site", "same-site", "CROSS-SITE"])
async def test_cross_site_fetch_metadata_is_refused(api: SandboxApi, site: str) -> None:
    status, answer = await send(api, "GET", "/sandbox/calls", headers={"Sec-Fetch-Site": site})
    assert "browser" in refused(status, answer, 403)


@pytest.mark.parametrize("site", ["same-origin", "none"])
async def test_same_origin_or_typed_in_fetch_metadata_is_fine(api: SandboxApi, site: str) -> None:
    status, _ = await send(api, "GET", "/sandbox/calls", headers={"Sec-Fetch-Site": site})
    assert status == 200


async def test_a_refused_browser_request_changes_nothing(
    api: SandboxApi, receiver: WebhookReceiver
) -> None:
    call_id = await api.call(HUMAN, receiver.url)
    status, answer = await send(api, "POST", "/sandbox/reset", data=b"", headers={"Origin": "null"})
    refused(status, answer, 403)
    status, answer = await send(
        api,
        "PUT",
        "/sandbox/faults",
        data=b'{"drop": 1}',
        headers={"Origin": "https://evil.example", **JSON},
    )
    refused(status, answer, 403)
    status, answer = await send(
        api,
        "POST",
        "/makecall",
        headers={"Origin": "https://evil.example", **KEYED, **JSON},
        data=json.dumps({"number": HUMAN, "callerId": "19876543210"}).encode(),
    )
    refused(status, answer, 403)
    _, calls = await api.get("/sandbox/calls")
    assert [c["callId"] for c in calls["calls"]] == [call_id]
    _, faults = await api.get("/sandbox/faults")
    assert faults["faults"]["drop"]["rate"] == 0.0
