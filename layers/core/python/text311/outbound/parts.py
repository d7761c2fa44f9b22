"""Message-part counting for pacing: GSM-7 versus UCS-2, as the carrier splits them.

TO BE REPLACED by ``text311.sms.SmsSegmenter`` once it lands (issue 12's segmentation code): the
scheduler only needs a ``(body) -> int`` counter, injected where messages are built
(``OutboundMessage.create(..., count=...)``). Kept minimal so the pacing work does not wait.

Rules (3GPP TS 23.038 / 23.040): a body that fits the GSM 03.38 default alphabet (an extension
character such as ``€`` or ``[`` costs two septets) is one part up to 160 septets, else parts of 153
septets; anything else is UCS-2 (UTF-16 code units, an emoji costs two): one part up to 70 units,
else parts of 67. A part never splits an escape pair or a surrogate pair.
"""

from __future__ import annotations

from enum import StrEnum

_GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")


class Encoding(StrEnum):
    GSM7 = "GSM-7"
    UCS2 = "UCS-2"


def encoding_of(body: str) -> Encoding:
    if all(c in _GSM7_BASIC or c in _GSM7_EXTENSION for c in body):
        return Encoding.GSM7
    return Encoding.UCS2


def _units(body: str, encoding: Encoding) -> list[int]:
    if encoding is Encoding.GSM7:
        return [2 if c in _GSM7_EXTENSION else 1 for c in body]
    return [2 if ord(c) > 0xFFFF else 1 for c in body]


def count_parts(body: str) -> int:
    """Message parts the carrier will bill and count against the MPS (an empty body is one part)."""
    encoding = encoding_of(body)
    units = _units(body, encoding)
    single, multi = (160, 153) if encoding is Encoding.GSM7 else (70, 67)
    if sum(units) <= single:
        return 1
    parts, used = 1, 0
    for unit in units:  # greedy, never splitting a two-unit character across parts
        if used + unit > multi:
            parts, used = parts + 1, 0
        used += unit
    return parts

