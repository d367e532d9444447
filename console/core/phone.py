"""Phone numbers as the operator types them, and as Kaphila needs them.

One set of rules for the dialer (live formatting, why a number is not
valid, as a ``NumberProblem``; ``console.qt.wording`` words it) and the
services (E.164 for the SDK; the API wants 10-15 digits without '+', which
the SDK derives from E.164).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat


class NumberProblem(Enum):
    EMPTY = "empty"
    BAD_COUNTRY_CODE = "bad country code"
    NOT_A_NUMBER = "not a number"
    TOO_SHORT_AFTER_PREFIX = "too short after the international prefix"
    TOO_SHORT = "too short"
    TOO_LONG = "too long"
    WRONG_LENGTH = "wrong length"  # the API takes 10 to 15 digits with the country code
    IMPOSSIBLE = "impossible"  # not a possible number for its country
    INVALID = "invalid"  # not a valid number for its country


_PARSE_PROBLEMS = {
    NumberParseException.INVALID_COUNTRY_CODE: NumberProblem.BAD_COUNTRY_CODE,
    NumberParseException.NOT_A_NUMBER: NumberProblem.NOT_A_NUMBER,
    NumberParseException.TOO_SHORT_AFTER_IDD: NumberProblem.TOO_SHORT_AFTER_PREFIX,
    NumberParseException.TOO_SHORT_NSN: NumberProblem.TOO_SHORT,
    NumberParseException.TOO_LONG: NumberProblem.TOO_LONG,
}


@dataclass(frozen=True, slots=True)
class NumberCheck:
    ok: bool
    e164: str = ""  # "+15551234567" when ok
    display: str = ""  # international format for people, when ok
    problem: NumberProblem | None = None  # why not, when not ok


def check_number(text: str, region: str = "US") -> NumberCheck:
    """Is this a number we can dial? Numbers without '+' are read in ``region``."""
    cleaned = text.strip()
    if not cleaned:
        return NumberCheck(False, problem=NumberProblem.EMPTY)
    try:
        number = phonenumbers.parse(cleaned, region.upper() or None)
    except NumberParseException as exc:
        return NumberCheck(
            False, problem=_PARSE_PROBLEMS.get(exc.error_type, NumberProblem.NOT_A_NUMBER)
        )
    e164 = phonenumbers.format_number(number, PhoneNumberFormat.E164)
    if not 10 <= len(e164) - 1 <= 15:
        return NumberCheck(False, problem=NumberProblem.WRONG_LENGTH)
    if not phonenumbers.is_possible_number(number):
        return NumberCheck(False, problem=NumberProblem.IMPOSSIBLE)
    if not phonenumbers.is_valid_number(number) and not _is_test_number(e164):
        return NumberCheck(False, problem=NumberProblem.INVALID)
    display = phonenumbers.format_number(number, PhoneNumberFormat.INTERNATIONAL)
    return NumberCheck(True, e164=e164, display=display)


def _is_test_number(e164: str) -> bool:
    # North American numbers with 555 as area code or exchange are kept for
    # fiction and tests (the sandbox's scenario numbers are +1 555 123 000x);
    # phonenumbers rightly calls them unassigned, but they must be dialable.
    return e164.startswith("+1") and len(e164) == 12 and "555" in (e164[2:5], e164[5:8])


def format_as_typed(text: str, region: str = "US") -> str:
    """Live formatting for the dial field: "5551234" -> "555-1234"."""
    formatter = phonenumbers.AsYouTypeFormatter(region.upper())
    result = ""
    for char in text:
        if char.isdigit() or char == "+":
            result = formatter.input_digit(char)
    return result or text


def still_typing(text: str, region: str = "US") -> bool:
    """True while ``text`` is not a number yet but a few more digits could make
    it one: the dial field shows no error for a number still being typed."""
    cleaned = text.strip()
    if not cleaned or any(c not in "+0123456789 -()." for c in cleaned):
        return False
    digits = sum(c.isdigit() for c in cleaned)
    for extra in range(1, max(0, 15 - digits) + 1):
        try:
            number = phonenumbers.parse(cleaned + "0" * extra, region.upper() or None)
        except NumberParseException:
            continue
        if phonenumbers.is_possible_number(number):
            return True
    return False
