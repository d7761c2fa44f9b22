"""Text as a person wrote it, minus what no person can see.

Phones and mail clients leave invisible characters behind, and an attacker can use them on purpose:
bidirectional overrides reorder what an agent reads, Unicode tag characters carry hidden ASCII, a
byte-order mark or a zero-width space splits a word so that no filter matches it. Those are
removed. What looks like text stays: emoji sequences keep their zero-width joiners, variation
selectors, skin tones and flag tags; a line or paragraph separator, vertical tab or form feed
becomes a newline, so that the words on either side never merge.
"""

from __future__ import annotations

import re
import unicodedata

# Characters that end a line (Unicode's mandatory breaks besides CR and LF): one newline each.
_LINE_BREAKS = str.maketrans(dict.fromkeys("\x0b\x0c\x85\u2028\u2029", "\n"))

# A subdivision flag (England, Scotland, Wales…): a black flag, a short subdivision code in tag
# letters and digits (``gbsct``), a cancel tag. The only place a tag character is visible; anywhere
# else (or longer, or other tags) tags are hidden text.
_EMOJI_TAG_SEQUENCE = re.compile("\U0001f3f4[\U000e0030-\U000e0039\U000e0061-\U000e007a]{2,7}\U000e007f")

# Joiners mean something between two visible characters (an emoji sequence, Indic and Persian
# letters) and nothing anywhere else; between two Latin letters or digits they only split a word
# ("fi\u200dre" is "fire" to a reader, and must be to the emergency words too).
_JOINERS = "\u200c\u200d"
_STRAY_JOINER = re.compile(rf"(?:(?<=\s)|^)[{_JOINERS}]+|[{_JOINERS}]+(?=\s|$)", re.MULTILINE)
_LATIN = r"0-9A-Za-z\u00c0-\u024f"  # ASCII letters and digits, Latin-1 and Latin Extended-A/B letters
_JOINER_IN_LATIN_WORD = re.compile(rf"(?<=[{_LATIN}])[{_JOINERS}]+(?=[{_LATIN}])")

_KEPT_CONTROLS = "\n\t"


def _invisible(char: str) -> bool:
    category = unicodedata.category(char)
    if category == "Cc":
        return char not in _KEPT_CONTROLS
    return category == "Cf" and char not in _JOINERS


def unify_line_breaks(text: str) -> str:
    """CR LF, CR and every other line or paragraph break become ``\\n``."""
    return text.replace("\r\n", "\n").replace("\r", "\n").translate(_LINE_BREAKS)


def strip_invisible(text: str) -> str:
    """Remove control and invisible format characters (bidirectional marks and overrides, byte-order
    mark, zero-width space, word joiner, soft hyphen, tag characters outside a flag), keeping newlines,
    tabs, emoji sequences and the joiners between two visible characters. Line breaks other than
    ``\\n`` should be unified first (:func:`unify_line_breaks`), or they are removed as controls."""
    kept: list[str] = []
    position = 0
    for flag in _EMOJI_TAG_SEQUENCE.finditer(text):
        kept.append(_drop_invisible(text[position:flag.start()]))
        kept.append(flag.group())
        position = flag.end()
    kept.append(_drop_invisible(text[position:]))
    return _JOINER_IN_LATIN_WORD.sub("", _STRAY_JOINER.sub("", "".join(kept)))


def _drop_invisible(text: str) -> str:
    return "".join(char for char in text if not _invisible(char))


def visible_text(text: str) -> str:
    """NFC, one kind of newline, nothing invisible, stripped: a resident's text as stored and mailed."""
    return strip_invisible(unify_line_breaks(unicodedata.normalize("NFC", text))).strip()
