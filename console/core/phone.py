"""Phone numbers as the operator types them, and as Kaphila needs them.

One set of rules for the dialer (live formatting, a reason when a number is
not valid) and the services (E.164 for the SDK; Kaphila itself wants 10-15
digits without '+', which the SDK derives from E.164).
"""

from __future__ import annotations

from dataclasses import dataclass

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat, PhoneNumberType

_REASONS = {
    NumberParseException.INVALID_COUNTRY_CODE: "the country code is not valid",
    NumberParseException.NOT_A_NUMBER: "this is not a phone number",
    NumberParseException.TOO_SHORT_AFTER_IDD: "too short after the international prefix",
    NumberParseException.TOO_SHORT_NSN: "too short",
    NumberParseException.TOO_LONG: "too long",
}


@dataclass(frozen=True, slots=True)
class NumberCheck:
    ok: bool
    e164: str = ""  # "+15551234567" when ok
    display: str = ""  # international format for people, when ok
    reason: str = ""  # why not, when not ok

    @property
    def kaphila_digits(self) -> str:
        return self.e164.removeprefix("+")


def check_number(text: str, region: str = "US") -> NumberCheck:
    """Is this a number we can dial? Numbers without '+' are read in ``region``."""
    cleaned = text.strip()
    if not cleaned:
        return NumberCheck(False, reason="enter a number")
    try:
        number = phonenumbers.parse(cleaned, region.upper() or None)
    except NumberParseException as exc:
        return NumberCheck(False, reason=_REASONS.get(exc.error_type, "not a phone number"))
    e164 = phonenumbers.format_number(number, PhoneNumberFormat.E164)
    if not 10 <= len(e164) - 1 <= 15:
        return NumberCheck(False, reason="Kaphila needs 10 to 15 digits with the country code")
    if not phonenumbers.is_possible_number(number):
        return NumberCheck(False, reason="not a possible number for its country")
    if not phonenumbers.is_valid_number(number) and not _is_test_number(e164):
        return NumberCheck(False, reason="not a valid number for its country")
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


def is_mobile(e164: str) -> bool:
    try:
        number = phonenumbers.parse(e164, None)
    except NumberParseException:
        return False
    return phonenumbers.number_type(number) in (PhoneNumberType.MOBILE,
                                                PhoneNumberType.FIXED_LINE_OR_MOBILE)


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
