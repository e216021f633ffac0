"""Phone numbers as E.164 strings, parsed and validated with ``phonenumbers``.

Pure core: no Django import. ``01 23 45 67 89``, ``+33 1 23 45 67 89`` and
``0033123456789`` are the same number, ``+33123456789``.
"""

from __future__ import annotations

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat


class PhoneNumberError(ValueError):
    """The text is not a valid phone number; the message says why, for a person."""


_PARSE_REASONS = {
    NumberParseException.INVALID_COUNTRY_CODE: "unknown country code",
    NumberParseException.NOT_A_NUMBER: "not a phone number",
    NumberParseException.TOO_SHORT_AFTER_IDD: "too short after the international prefix",
    NumberParseException.TOO_SHORT_NSN: "too short",
    NumberParseException.TOO_LONG: "too long",
}


_SHARED_NATIONAL_DIALLING = {"FR": ("RE", "YT", "GP", "MQ", "GF", "PM", "BL", "MF")}


def _parse(text: str, region: str) -> phonenumbers.PhoneNumber:
    if not text or not text.strip():
        raise PhoneNumberError("empty phone number")
    cleaned = text.strip()
    # "00" is the international prefix in France and most of Europe; phonenumbers
    # only understands it when the default region uses it, so say it explicitly.
    if cleaned.startswith("00"):
        cleaned = "+" + cleaned[2:]
    try:
        parsed = phonenumbers.parse(cleaned, region)
    except NumberParseException as exc:
        reason = _PARSE_REASONS.get(exc.error_type, "not a phone number")
        raise PhoneNumberError(f"{text!r}: {reason}") from None
    if phonenumbers.is_valid_number(parsed):
        return parsed
    # Overseas departments share France's national dialling: 0262... from Paris
    # reaches La Réunion (+262 262...), which libphonenumber knows only as RE.
    if not cleaned.startswith("+"):
        for overseas in _SHARED_NATIONAL_DIALLING.get(region, ()):
            candidate = phonenumbers.parse(cleaned, overseas)
            if phonenumbers.is_valid_number(candidate):
                return candidate
    raise PhoneNumberError(f"{text!r}: not a valid number")


def normalize(text: str, region: str = "FR") -> str:
    """Return the E.164 form of ``text`` or raise PhoneNumberError."""
    return phonenumbers.format_number(_parse(text, region), PhoneNumberFormat.E164)


def try_normalize(text: str | None, region: str = "FR") -> str | None:
    """E.164 form, or None for a missing, withheld or invalid number."""
    if not text:
        return None
    try:
        return normalize(text, region)
    except PhoneNumberError:
        return None


def display(e164: str, region: str = "FR") -> str:
    """A number as people read it: national format at home, international abroad."""
    try:
        parsed = phonenumbers.parse(e164, None)
    except NumberParseException:
        return e164
    if phonenumbers.region_code_for_number(parsed) == region:
        return phonenumbers.format_number(parsed, PhoneNumberFormat.NATIONAL)
    return phonenumbers.format_number(parsed, PhoneNumberFormat.INTERNATIONAL)


def is_mobile(e164: str) -> bool:
    """Can this number receive an SMS (a mobile, or a number that may be one)?"""
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.number_type(number) in (
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    )
