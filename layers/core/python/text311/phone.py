"""Phone numbers: normalisation, which ones we may text, masking for logs, keyed hashing for look-ups.

A phone number is personal data. Logs only ever carry ``mask(number)``; tables
look residents up by ``phone_hash`` (HMAC-SHA256 with a secret key) and keep the
number itself only KMS-encrypted.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Collection
from dataclasses import dataclass

_NON_DIGITS = re.compile(r"\D")

# The North American Numbering Plan's country code: twenty-odd countries share it, so it says
# nothing about the country on its own (see ``classify``).
NANP_COUNTRY = "1"

# Why a number is neither answered nor texted (the ``reason`` of the NumberRefused metric).
INVALID = "invalid"  # not a phone number at all (cannot be parsed, impossible length)
COUNTRY_NOT_SERVED = "country_not_served"
UNKNOWN_TYPE = "unknown_type"
# Any other number type is refused under its own name: premium_rate, toll_free, shared_cost, voip,
# personal_number, pager, uan, voicemail, fixed_line.


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


@dataclass(frozen=True)
class NumberCheck:
    """Where a number is (ISO region, None when phonenumbers cannot place it) and why we would not
    text it (None: we answer it and send to it)."""

    country: str | None
    refusal: str | None

    @property
    def allowed(self) -> bool:
        return self.refusal is None


def classify(number: str, countries: Collection[str]) -> NumberCheck:
    """Whether Text311 may answer or text ``number`` (E.164), in a region serving ``countries``.

    Only a valid mobile number (or a North American one, where mobile and fixed line share their
    ranges) in a served country is allowed. The country comes from Google's libphonenumber
    metadata, not from the +1 prefix: Jamaica (876), the Dominican Republic (809) and the rest of
    the Caribbean share it, and +1 900 is premium rate; answering such numbers is how SMS pumping
    bills a sender. Both the inbound check and the outbound guard ask this one function."""
    import phonenumbers  # lazily: modules that only mask numbers do not pay for its import
    from phonenumbers import PhoneNumberType

    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return NumberCheck(None, INVALID)
    if not phonenumbers.is_possible_number(parsed):
        return NumberCheck(None, INVALID)
    country = phonenumbers.region_code_for_number(parsed)
    kind = phonenumbers.number_type(parsed)
    if kind == PhoneNumberType.UNKNOWN:  # in no range in service (or newer than our metadata)
        return NumberCheck(country, UNKNOWN_TYPE)
    if kind not in (PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE):
        return NumberCheck(country, PhoneNumberType.to_string(kind).lower())
    if country not in countries:
        return NumberCheck(country, COUNTRY_NOT_SERVED)
    return NumberCheck(country, None)


def phone_hash(number: str, key: bytes) -> str:
    """Stable keyed hash of an E.164 number: the residents table's key."""
    return hmac.new(key, normalize_e164(number).encode(), hashlib.sha256).hexdigest()
