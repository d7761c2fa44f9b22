"""SMS text rules: which encoding a text takes, what it costs, and how a long reply becomes SMS.

Pure Python, no AWS. The rules and the reasons for them are in docs/sms.md; in short:

- GSM 03.38 (3GPP TS 23.038) basic characters cost one septet, extension characters (``€ [ ] { } \\ ^ ~ |``
  and form feed) two; any other character makes the whole SMS UCS-2, counted in UTF-16 code units
  (an emoji outside the BMP costs two). One SMS holds 160 septets or 70 UTF-16 units.
- :func:`normalise` always replaces the typographic punctuation mail clients insert (curly quotes,
  dashes, ellipsis, no-break spaces) with its plain equivalent, and never touches letters: French
  accents are kept exactly, so ``ê`` or ``ç`` make that SMS UCS-2.
- :class:`SmsSegmenter` splits a reply that does not fit one SMS into separate SMS of exactly one
  segment each, numbered ``"1/3 "``, ``"2/3 "``… at word boundaries, each SMS in its own cheapest
  encoding; more than ``max_parts`` raises :class:`ReplyTooLong`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import NamedTuple

from text311.visible_text import strip_invisible, unify_line_breaks

# GSM 03.38 default alphabet (3GPP TS 23.038 §6.2.1), basic table; ESC (0x1B) is not a character.
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNO"
    "PQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmno"
    "pqrstuvwxyzäöñüà"
)
# Extension table (§6.2.1.1): sent as ESC + character, so two septets each.
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")

# 3GPP TS 23.040: 140 octets of user data; a concatenated part gives 6 octets to its header (UDH).
SINGLE_SEGMENT = {"GSM-7": 160, "UCS-2": 70}
CONCATENATED_SEGMENT = {"GSM-7": 153, "UCS-2": 67}
# SendTextMessage's MessageBody maximum in the service model (pinpoint-sms-voice-v2, 1..1600).
API_MAX_BODY = 1600
DEFAULT_MAX_PARTS = 6


class Encoding(StrEnum):
    GSM7 = "GSM-7"
    UCS2 = "UCS-2"


def encoding_of(text: str) -> Encoding:
    """The encoding End User Messaging picks for ``text`` as it is (not normalised)."""
    if all(c in GSM7_BASIC or c in GSM7_EXTENSION for c in text):
        return Encoding.GSM7
    return Encoding.UCS2


def units(text: str, encoding: Encoding | None = None) -> int:
    """Septets (GSM-7) or UTF-16 code units (UCS-2) that ``text`` occupies."""
    encoding = encoding or encoding_of(text)
    if encoding is Encoding.GSM7:
        return sum(2 if c in GSM7_EXTENSION else 1 for c in text)
    return sum(2 if ord(c) > 0xFFFF else 1 for c in text)


def concatenated_parts(text: str) -> int:
    """Parts the carrier would bill for ``text`` sent as ONE concatenated SMS (for comparison and
    for senders that do not split): 1 up to 160/70 units, else parts of 153/67, never splitting an
    escape pair or a surrogate pair. Text311 itself sends :meth:`SmsSegmenter.split` parts."""
    encoding = encoding_of(text)
    costs = [units(c, encoding) for c in text]
    if sum(costs) <= SINGLE_SEGMENT[encoding]:
        return 1
    parts, used = 1, 0
    for cost in costs:
        if used + cost > CONCATENATED_SEGMENT[encoding]:
            parts, used = parts + 1, 0
        used += cost
    return parts


# Typographic punctuation that carries no meaning an SMS reader needs, and costs a GSM-7 SMS its
# encoding (one curly apostrophe turns 160 characters into 70). Letters are never in this table.
_PUNCTUATION = {
    **dict.fromkeys("\u2018\u2019\u201a\u201b\u2032\u2039\u203a`", "'"),  # curly, low, prime, angle quotes
    **dict.fromkeys("\u201c\u201d\u201e\u201f\u2033", '"'),  # curly, low, double prime (« » below)
    **dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212", "-"),  # hyphens, en/em dashes, minus
    "\u2022": "-",  # bullet, as mail clients write list items
    "\u2026": "...",
}
_TRANSLATE = {ord(k): v for k, v in _PUNCTUATION.items()}
_GUILLEMETS = re.compile(r"\u00ab[^\S\n]*|[^\S\n]*\u00bb")  # French « spaced » quotes: "spaced"
_SPACE = re.compile(r"[^\S\n]+")
_BLANK_LINES = re.compile(r"\n{3,}")


def normalise(text: str) -> str:
    """The text as Text311 sends it: NFC (so a decomposed ``é`` is the GSM ``é``), typographic
    punctuation made plain, every kind of space (no-break, thin, tab…) one space, no trailing spaces
    on a line, at most one blank line in a row, no control or invisible characters, stripped.
    Accented and other letters are kept exactly."""
    text = unicodedata.normalize("NFC", unify_line_breaks(text))
    text = strip_invisible(_GUILLEMETS.sub('"', text).translate(_TRANSLATE))
    text = _SPACE.sub(" ", text.replace("\t", " "))
    text = "\n".join(line.strip(" ") for line in text.split("\n"))
    return _BLANK_LINES.sub("\n\n", text).strip()


@dataclass(frozen=True)
class SegmentInfo:
    """What a reply costs. ``encoding`` is UCS-2 when any of its SMS is; ``parts`` is the number of
    SMS :meth:`SmsSegmenter.split` sends (each one billed segment; may exceed ``max_parts``, 0 for a
    blank text); ``units`` is the normalised text's length in its own encoding."""

    encoding: Encoding
    parts: int
    units: int


class ReplyTooLong(ValueError):
    """The reply needs more SMS than the segmenter sends: the agent is told to shorten it."""

    def __init__(self, parts_needed: int, max_parts: int) -> None:
        super().__init__(
            f"the reply needs {parts_needed} text messages and at most {max_parts} are sent;"
            " please shorten it (a message holds about 155 characters, or about 65 when it contains"
            " letters such as ê, ç or an emoji)"
        )
        self.parts_needed = parts_needed
        self.max_parts = max_parts


class SmsSegmenter:
    """Splits a reply into SMS that each fit exactly one segment, numbered when there are several.

    ``split(text)`` returns the bodies to send, in order: the normalised text itself when it fits one
    SMS, else parts prefixed ``"k/n "`` (the marker counts towards the part's length), cut at
    whitespace (the whitespace at a cut is dropped), a word longer than a part hard-wrapped between
    characters (never inside a surrogate pair, an emoji sequence or a letter and its accents). Each
    part takes its own encoding: only the parts that contain an ``ê`` pay for UCS-2.
    """

    def __init__(self, max_parts: int = DEFAULT_MAX_PARTS) -> None:
        if not 1 <= max_parts <= 99:
            raise ValueError("max_parts must be between 1 and 99")
        self.max_parts = max_parts

    def count(self, text: str) -> SegmentInfo:
        """What ``split(text)`` would send, without the ``max_parts`` check (never raises)."""
        body = normalise(text)
        if not body:
            return SegmentInfo(Encoding.GSM7, 0, 0)
        parts = _plan(body)
        encoding = Encoding.UCS2 if any(encoding_of(p) is Encoding.UCS2 for p in parts) else Encoding.GSM7
        return SegmentInfo(encoding, len(parts), units(body))

    def split(self, text: str) -> list[str]:
        """The SMS bodies to send, in order. Raises ``ValueError`` for a blank text and
        :class:`ReplyTooLong` when more than ``max_parts`` SMS are needed."""
        body = normalise(text)
        if not body:
            raise ValueError("an SMS needs a non-blank body")
        parts = _plan(body)
        if len(parts) > self.max_parts:
            raise ReplyTooLong(len(parts), self.max_parts)
        return parts


def fits_one_segment(text: str) -> bool:
    encoding = encoding_of(text)
    return units(text, encoding) <= SINGLE_SEGMENT[encoding]


def _plan(body: str) -> list[str]:
    if fits_one_segment(body):
        return [body]
    digits = 1
    while True:
        # Reserve the widest marker for this many digits ("9/9 " or "99/99 "): marker and body share
        # the segment, and the marker is GSM-7 basic (one unit in either encoding).
        bodies = _pack(body, room=2 * digits + 2)
        if len(bodies) < 10**digits:
            total = len(bodies)
            return [f"{index}/{total} {part}" for index, part in enumerate(bodies, 1)]
        digits += 1


_WORD = re.compile(r"(\S+)(\s*)")


class _Cost(NamedTuple):
    """A text's length in both encodings, and whether GSM-7 can carry it: added piece by piece, so
    packing a part costs one pass over the text."""

    gsm: bool
    septets: int
    utf16: int

    def __add__(self, other: object) -> _Cost:
        assert isinstance(other, _Cost)
        return _Cost(self.gsm and other.gsm, self.septets + other.septets, self.utf16 + other.utf16)

    def fits(self, room: int) -> bool:
        if self.gsm:
            return self.septets + room <= SINGLE_SEGMENT[Encoding.GSM7]
        return self.utf16 + room <= SINGLE_SEGMENT[Encoding.UCS2]


_NOTHING = _Cost(True, 0, 0)


def _cost(text: str) -> _Cost:
    gsm = encoding_of(text) is Encoding.GSM7
    return _Cost(gsm, units(text, Encoding.GSM7) if gsm else 0, units(text, Encoding.UCS2))


def _pack(body: str, room: int) -> list[str]:
    """Greedy word packing: each part is as long as fits one segment of its own encoding after
    ``room`` units are kept for the marker. (Optimal in the number of parts: whatever fits, any
    suffix of it fits too, since a UCS-2 part of at most 70 units is at most 140 septets.)"""
    parts: list[str] = []
    current, cost, gap = "", _NOTHING, ""
    for match in _WORD.finditer(body):
        word, space = match.group(1), match.group(2)
        word_cost = _cost(word)
        candidate = cost + _cost(gap) + word_cost if current else word_cost
        if candidate.fits(room):
            current, cost = (f"{current}{gap}{word}" if current else word), candidate
        else:
            if current:
                parts.append(current)
            pieces = [(word, word_cost)] if word_cost.fits(room) else _hard_wrap(word, room)
            parts.extend(piece for piece, _ in pieces[:-1])
            current, cost = pieces[-1]
        gap = space
    if current:
        parts.append(current)
    return parts


def _hard_wrap(word: str, room: int) -> list[tuple[str, _Cost]]:
    pieces: list[tuple[str, _Cost]] = []
    current, cost = "", _NOTHING
    # An absurd cluster longer than a part (hundreds of combining marks) is cut by code point.
    clusters = ([cluster] if _cost(cluster).fits(room) else list(cluster) for cluster in _clusters(word))
    for chunk in (piece for group in clusters for piece in group):
        chunk_cost = _cost(chunk)
        if current and not (cost + chunk_cost).fits(room):
            pieces.append((current, cost))
            current, cost = "", _NOTHING
        current, cost = current + chunk, cost + chunk_cost
    if current:
        pieces.append((current, cost))
    return pieces


_REGIONAL_INDICATOR = range(0x1F1E6, 0x1F200)


def _extends(char: str) -> bool:
    """Whether ``char`` belongs to the cluster before it (a simplified UAX #29: combining marks,
    variation selectors, ZWJ, emoji skin-tone modifiers, tag characters)."""
    code = ord(char)
    return (
        unicodedata.category(char) in ("Mn", "Me", "Mc")
        or 0xFE00 <= code <= 0xFE0F
        or 0xE0100 <= code <= 0xE01EF
        or code == 0x200D
        or 0x1F3FB <= code <= 0x1F3FF
        or 0xE0020 <= code <= 0xE007F
    )


def _clusters(text: str) -> Iterator[str]:
    """User-perceived characters, so a hard wrap never separates a letter from its accent, the two
    halves of a flag, or the members of a ZWJ emoji sequence."""
    cluster = ""
    regional = 0
    for char in text:
        code = ord(char)
        joined = cluster.endswith("\u200d")
        pairs_flag = code in _REGIONAL_INDICATOR and regional % 2 == 1
        if cluster and (_extends(char) or joined or pairs_flag):
            cluster += char
        else:
            if cluster:
                yield cluster
            cluster = char
            regional = 0
        regional = regional + 1 if code in _REGIONAL_INDICATOR else 0
    if cluster:
        yield cluster
