"""machine_detection: Twilio's values and their spellings turn Kaphila's AMD on;
a value that means nothing is named in a warning, never dropped silently."""

from __future__ import annotations

import warnings

import pytest

from tests.helpers import CALLER_ID, HUMAN
from tests.sdk.conftest import SandboxHandle
from twilio.base.exceptions import KaphilaCompatibilityWarning
from twilio.rest import Client

TO, FROM = "+" + HUMAN, "+" + CALLER_ID


@pytest.mark.parametrize(
    "setting",
    ["true", "True", "TRUE", " Enable ", "ENABLE", "detectMessageEnd", "DetectMessageEnd", True],
)
def test_every_spelling_of_on_turns_amd_on(
    client: Client, sandbox: SandboxHandle, setting: object
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        call = client.calls.create(to=TO, from_=FROM, machine_detection=setting)
    assert call.machine_detection == "enable"
    assert sandbox.call(call.sid)["amdEnabled"] is True


@pytest.mark.parametrize("setting", ["false", "False", "none", "", None, False])
def test_spellings_of_off_leave_amd_off_quietly(
    client: Client, sandbox: SandboxHandle, setting: object
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        call = client.calls.create(to=TO, from_=FROM, machine_detection=setting)
    assert call.machine_detection == "none"
    assert sandbox.call(call.sid)["amdEnabled"] is False


@pytest.mark.parametrize("setting", ["DetectMessageStart", "machine", "enabled!"])
def test_an_unknown_value_is_named_in_a_warning_and_amd_stays_off(
    client: Client, sandbox: SandboxHandle, setting: str
) -> None:
    with pytest.warns(KaphilaCompatibilityWarning, match=f"machine_detection={setting!r}") as seen:
        call = client.calls.create(to=TO, from_=FROM, machine_detection=setting)
    assert seen[0].filename == __file__  # the warning points at the caller's line
    assert call.machine_detection == "none"
    assert sandbox.call(call.sid)["amdEnabled"] is False
