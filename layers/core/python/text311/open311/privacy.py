"""What a published text may not hold: phone numbers and e-mail addresses.

Open data goes to anyone: a resident who wrote "call me at 819 555 0123" in a report must not find
that number on a city's open data portal. Phones are found by the phonenumbers library's matcher
(numbers written in the city's country without their country code, and international ones), at
its most lenient grade so a number only *possible* in length is masked too: masking a civic number
by mistake costs little, publishing a phone number cannot be undone.
"""

from __future__ import annotations

import re

import phonenumbers

PHONE_MASK = "[phone]"
EMAIL_MASK = "[e-mail]"
# Anything written like an address (local part, @, a dotted domain): wider than RFC 5322 on purpose.
_EMAIL = re.compile(r"[^\s@<>()\[\]\"',;:]+@[^\s@<>()\[\]\"',;:]+\.[^\s@<>()\[\]\"',;:]*[^\s@<>()\[\]\"',;:.]")


def mask_contacts(text: str, country: str) -> str:
    """``text`` with each e-mail address and phone number replaced by a placeholder."""
    text = _EMAIL.sub(EMAIL_MASK, text)
    pieces, last = [], 0
    for match in phonenumbers.PhoneNumberMatcher(text, country, leniency=phonenumbers.Leniency.POSSIBLE):
        pieces += [text[last : match.start], PHONE_MASK]
        last = match.end
    pieces.append(text[last:])
    return "".join(pieces)
