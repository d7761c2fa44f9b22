"""One normal form for place names and for what residents write.

The same function builds the directory's keys (at build time) and reads a resident's
text (at run time), so 'St. John's', 'saint johns' and 'ST JOHNS' meet on one key:
case and accents are dropped, punctuation becomes a space, an apostrophe before a
final "s" disappears ('John's' → 'johns') and any other apostrophe splits
('L'Assomption' → 'l assomption'), and the abbreviations St/Ste/Mt/Ft and the
compass letters N/S/E/W are written out.
"""

from __future__ import annotations

import re
import unicodedata
from typing import NamedTuple

# Abbreviation → full word; applied to a token standing alone.
EXPANSIONS = {
    "st": "saint",
    "ste": "sainte",
    "mt": "mount",
    "mtn": "mountain",
    "ft": "fort",
}
# Compass letters, expanded only before a word ('N Vancouver'), never in 'N.S.' or 'N L'.
COMPASS = {"n": "north", "s": "south", "e": "east", "w": "west"}

_LIGATURES = str.maketrans({"œ": "oe", "æ": "ae", "ß": "ss", "ø": "o", "ł": "l", "đ": "d", "ı": "i"})
_APOSTROPHES = re.compile(r"[’'`´ʻ‘]")
_POSSESSIVE = re.compile(r"[’'`´ʻ‘]s\b")
_TOKEN = re.compile(r"[a-z0-9]+|[,;:!?\n]|\.")
_BREAKS = frozenset(",;:!?\n")


class Token(NamedTuple):
    raw: str  # folded as written: 'st'
    norm: str  # expanded: 'saint'
    brk: bool  # punctuation (or the end of the text) follows it


def fold(text: str) -> str:
    """Lower case, no accents: 'Montréal' → 'montreal', 'Œuvre' → 'oeuvre'."""
    decomposed = unicodedata.normalize("NFKD", text.casefold().translate(_LIGATURES))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def tokens(text: str) -> list[Token]:
    folded = _APOSTROPHES.sub(" ", _POSSESSIVE.sub("s", fold(text)))
    parts = _TOKEN.findall(folded)
    words: list[str] = []
    breaks: list[bool] = []
    for part in parts:
        if part[0].isalnum():
            words.append(part)
            breaks.append(False)
        elif words and (
            part in _BREAKS or (part == "." and words[-1] not in EXPANSIONS and len(words[-1]) > 1)
        ):
            breaks[-1] = True
    if breaks:
        breaks[-1] = True
    out: list[Token] = []
    for i, word in enumerate(words):
        norm = EXPANSIONS.get(word, word)
        if word in COMPASS and i + 1 < len(words) and len(words[i + 1]) > 1 and not breaks[i]:
            norm = COMPASS[word]
        out.append(Token(word, norm, breaks[i]))
    return out


def normalize(text: str) -> str:
    """The key of a name: 'Sault Ste. Marie' → 'sault sainte marie'."""
    return " ".join(t.norm for t in tokens(text))
