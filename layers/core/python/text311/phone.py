"""Phone numbers: normalisation, masking for logs, keyed hashing for look-ups.

A phone number is personal data. Logs only ever carry ``mask(number)``; tables
look residents up by ``phone_hash`` (HMAC-SHA256 with a secret key) and keep the
number itself only KMS-encrypted.
"""

from __future__ import annotations

import hashlib
import hmac
import re

_NON_DIGITS = re.compile(r"\D")

# North American Numbering Plan area codes → province or state, for the resolver's
# tie-breaking hint (never to override what the resident wrote).
NANP_COUNTRY = "1"


class InvalidPhoneNumber(ValueError):
    pass


def normalize_e164(raw: str) -> str:
    """Return ``+<digits>``; a bare 10-digit number is taken as North American."""
    text = raw.strip()
    digits = _NON_DIGITS.sub("", text)
    if not digits:
        raise InvalidPhoneNumber(f"not a phone number: {raw!r}")
    if not text.startswith("+"):
        if len(digits) == 10:
            digits = NANP_COUNTRY + digits
        elif not (len(digits) == 11 and digits.startswith(NANP_COUNTRY)):
            raise InvalidPhoneNumber(f"not an E.164 number: {raw!r}")
    if not 8 <= len(digits) <= 15:
        raise InvalidPhoneNumber(f"not an E.164 number: {raw!r}")
    return "+" + digits


def mask(number: str) -> str:
    """``+14165554567`` → ``+1******4567``: country code and last four digits only."""
    digits = _NON_DIGITS.sub("", number or "")
    if len(digits) < 6:
        return "*" * len(digits)
    country = NANP_COUNTRY if digits.startswith(NANP_COUNTRY) else digits[:2]
    hidden = len(digits) - len(country) - 4
    return "+" + country + "*" * hidden + digits[-4:]


def country_of(number: str) -> str | None:
    """ISO country of a North American number, from its area code; None otherwise."""
    from text311.area_codes import CANADIAN_AREA_CODES

    digits = _NON_DIGITS.sub("", number)
    if len(digits) != 11 or not digits.startswith(NANP_COUNTRY):
        return None
    return "CA" if digits[1:4] in CANADIAN_AREA_CODES else "US"


def phone_hash(number: str, key: bytes) -> str:
    """Stable keyed hash of an E.164 number: the residents table's key."""
    return hmac.new(key, normalize_e164(number).encode(), hashlib.sha256).hexdigest()
