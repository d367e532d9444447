"""Number rules for the dialer: what can be dialled, and why not."""

from __future__ import annotations

import pytest

from console.core.phone import NumberProblem, check_number, format_as_typed


@pytest.mark.parametrize(
    ("text", "region", "e164"),
    [
        ("+15551230001", "US", "+15551230001"),  # a sandbox scenario number
        ("5551230007", "US", "+15551230007"),
        ("(415) 555-0134", "US", "+14155550134"),
        ("020 7183 8750", "GB", "+442071838750"),
        ("+44 20 7183 8750", "US", "+442071838750"),
    ],
)
def test_dialable_numbers_become_e164(text: str, region: str, e164: str) -> None:
    check = check_number(text, region)
    assert check.ok
    assert check.e164 == e164
    assert check.display.startswith("+")


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", NumberProblem.EMPTY),
        ("abc", NumberProblem.NOT_A_NUMBER),
        ("+1555", NumberProblem.WRONG_LENGTH),
        ("+123456789012345678", NumberProblem.WRONG_LENGTH),
        ("+14150000000", NumberProblem.INVALID),
    ],
)
def test_numbers_that_cannot_be_dialled_say_why(text: str, problem: NumberProblem) -> None:
    check = check_number(text)
    assert not check.ok
    assert check.problem is problem


def test_numbers_format_as_they_are_typed() -> None:
    assert format_as_typed("4155550134") == "(415) 555-0134"
    assert format_as_typed("+442071838750", "GB") == "+44 20 7183 8750"
    assert format_as_typed("") == ""
