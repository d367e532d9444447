"""The Client and the package surface, as Twilio code imports and builds them."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.helpers import TEST_KEY


def test_twilio_names_import_from_the_package_and_from_twilios_module_paths() -> None:
    from twilio import Client, RequestValidator, TwilioException, TwilioRestException, WebhookHelper
    from twilio.base.exceptions import TwilioException as BaseTwilioException
    from twilio.base.exceptions import TwilioRestException as BaseRestException
    from twilio.rest import Client as RestClient
    from twilio.twiml.voice_response import VoiceResponse

    assert Client is RestClient
    assert TwilioException is BaseTwilioException
    assert TwilioRestException is BaseRestException
    assert issubclass(TwilioRestException, TwilioException)
    assert WebhookHelper.process_webhook
    assert RequestValidator("t")
    assert str(VoiceResponse())


def test_credentials_come_from_the_environment() -> None:
    from twilio.rest import Client

    client = Client(
        environment={
            "TWILIO_ACCOUNT_SID": "ACabc",
            "TWILIO_AUTH_TOKEN": TEST_KEY,
            "KAPHILA_BASE_URL": "http://127.0.0.1:9/",
        }
    )
    assert client.account_sid == "ACabc"
    assert client.password == TEST_KEY
    assert client.base_url == "http://127.0.0.1:9"


def test_the_default_base_url_is_kaphilas_https_host() -> None:
    from twilio.rest import Client

    assert Client("AC1", TEST_KEY, environment={}).base_url == "https://kaphila.com"
    assert (
        Client("AC1", TEST_KEY, environment={}, base_url="http://127.0.0.1:1/x/").base_url
        == "http://127.0.0.1:1/x"
    )


def test_missing_credentials_say_what_to_set() -> None:
    from twilio import TwilioException
    from twilio.rest import Client

    with pytest.raises(TwilioException, match="set TWILIO_AUTH_TOKEN"):
        Client(environment={})
    with pytest.raises(TwilioException, match="credential_provider"):
        Client(environment={}, credential_provider=object())


def test_the_key_never_appears_in_the_clients_repr() -> None:
    from twilio.rest import Client

    client = Client("ACrepr", TEST_KEY, environment={})
    assert TEST_KEY not in repr(client)
    assert "ACrepr" in repr(client)


def test_region_and_edge_are_accepted_with_a_warning() -> None:
    from twilio.base.exceptions import KaphilaCompatibilityWarning
    from twilio.rest import Client

    with pytest.warns(KaphilaCompatibilityWarning, match="region, edge"):
        Client("AC1", TEST_KEY, environment={}, region="au1", edge="sydney")


def test_importing_the_client_loads_no_http_library() -> None:
    code = (
        "import sys; from twilio.rest import Client; "
        "print(sorted(m for m in ('requests', 'urllib3', 'aiohttp') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
