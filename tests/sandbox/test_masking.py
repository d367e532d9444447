"""The control API shows calls without the secrets in their webhook URLs."""

from __future__ import annotations

import pytest

from console.sandbox.model import masked_url
from tests.helpers import HUMAN, SandboxApi

TOKEN = "Zq7xSECRETcapabilityTOKEN0123"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (f"http://127.0.0.1:5000/hooks/{TOKEN}", "http://127.0.0.1:5000/hooks/Zq7x…"),
        (f"http://127.0.0.1:5000/hooks/{TOKEN}?sig=abc#frag", "http://127.0.0.1:5000/hooks/Zq7x…"),
        (
            f"https://user:pw@localhost/app/hooks/{TOKEN}/more",
            "https://localhost/app/hooks/Zq7x…/more",
        ),
        (f"http://[::1]:9/hooks/{TOKEN}", "http://[::1]:9/hooks/Zq7x…"),
        ("http://127.0.0.1:9/hooks/ab", "http://127.0.0.1:9/hooks/ab…"),
        ("http://127.0.0.1:9/webhook?token=s3cret", "http://127.0.0.1:9/webhook"),
        ("http://127.0.0.1:9/webhook", "http://127.0.0.1:9/webhook"),
        ("http://127.0.0.1:9", "http://127.0.0.1:9"),
    ],
)
def test_masked_url(url: str, shown: str) -> None:
    assert masked_url(url) == shown


async def test_the_control_api_never_shows_a_listener_token(api: SandboxApi) -> None:
    # Port 9 (discard): nobody listens, deliveries fail fast; the URL is what matters.
    url = f"http://127.0.0.1:9/hooks/{TOKEN}?key=querysecret"
    call_id = await api.call(HUMAN, url)
    for path in ("/sandbox/calls", f"/sandbox/calls/{call_id}", "/sandbox/calls?live=1"):
        async with api.session.get(api.base_url + path) as resp:
            text = await resp.text()
        assert TOKEN[4:] not in text, path
        assert "querysecret" not in text, path
    record = await api.sandbox_call(call_id)
    assert record["webhookUrl"] == "http://127.0.0.1:9/hooks/Zq7x…"
    _, listing = await api.get("/sandbox/calls")
    assert listing["calls"][0]["webhookUrl"] == "http://127.0.0.1:9/hooks/Zq7x…"
    # The account that placed the call still reads its own URL back in full.
    _, own = await api.get(f"/calls/{call_id}")
    assert own["webhookUrl"] == url
