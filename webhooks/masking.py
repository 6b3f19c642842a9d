"""Phone numbers are personal data (docs/design.md §10): mask them before they reach a template."""

from __future__ import annotations

from typing import Any

BULLETS = "••••"
# Country calling codes are 1–3 digits; these are the 1- and 2-digit ones (ITU E.164 list).
_ONE_DIGIT = {"1", "7"}
_TWO_DIGIT = {
    "20", "27", "30", "31", "32", "33", "34", "36", "39", "40", "41", "43", "44", "45", "46", "47",
    "48", "49", "51", "52", "53", "54", "55", "56", "57", "58", "60", "61", "62", "63", "64", "65",
    "66", "81", "82", "84", "86", "90", "91", "92", "93", "94", "95", "98",
}  # fmt: skip
# Keys in raw 8x8 payloads that carry phone numbers (lower case), current and legacy Wavecell
# shapes; any key ending in "msisdn" (sourceMsisdn, targetMsisdn) counts too.
NUMBER_KEYS = {"source", "destination", "msisdn", "target"}


def is_number_key(key: object) -> bool:
    return isinstance(key, str) and (key.lower() in NUMBER_KEYS or key.lower().endswith("msisdn"))


def mask_number(number: str | None) -> str:
    """ "+6591234567" -> "+65 9•••• 4567": enough to recognise a number, not enough to dial it."""
    if not number:
        return ""
    text = str(number)
    digits = text[1:] if text.startswith("+") else text
    if not text.startswith("+") or not digits.isdigit() or len(digits) < 8:
        # Not E.164: keep only the last two characters.
        return BULLETS + text[-2:] if len(text) > 2 else BULLETS
    if digits[:1] in _ONE_DIGIT:
        cc_len = 1
    elif digits[:2] in _TWO_DIGIT:
        cc_len = 2
    else:
        cc_len = 3
    national = digits[cc_len:]
    return f"+{digits[:cc_len]} {national[:1]}{BULLETS} {national[-4:]}"


def show_number(number: str | None, *, full: bool) -> str:
    return (number or "") if full else mask_number(number)


def mask_payload(value: Any) -> Any:
    """A copy of a raw webhook body with every phone number masked (keys matched case-insensitively)."""
    if isinstance(value, dict):
        return {
            key: mask_number(str(item)) if is_number_key(key) and isinstance(item, str | int) else mask_payload(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [mask_payload(item) for item in value]
    return value
