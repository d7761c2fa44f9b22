"""Carrier keywords and emergency words, read before anything else in a text.

End User Messaging acts on a keyword when it is the *first word* of a message
(its opt-out list is authoritative), so we classify the same way: "Stop sign
down on Main" opts the number out at AWS, and our state must agree with AWS's.
Emergency words count anywhere in the text.
"""

from __future__ import annotations

import re
from enum import StrEnum

from text311.i18n import Catalog, catalog, fold, words


class Keyword(StrEnum):
    """Kinds of keyword; the words themselves are per-language data in templates/*.json."""

    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"
    HELP = "help"
    CHANGE = "change"
    STATUS = "status"  # ours, never the carrier's: answered in the inbound path (text311.request_status)


# Carrier keywords act as the first word; our own (CHANGE) only as the whole message,
# so "Change the bulb on Elm St" is a request, not a command.
WHOLE_MESSAGE_ONLY = frozenset({Keyword.CHANGE})
# STATUS alone, or followed by one request reference ("STATUS GAT-1042", "etat gat1042"): "Status of
# the pothole on Main?" is a text for the city.
_REFERENCE = re.compile(r"^([a-z]{3})-?(\d{1,9})$", re.IGNORECASE)


def request_reference(text: str) -> str | None:
    """A reference as a resident may type it, in its stored form: "gat1042" → "GAT-1042"."""
    match = _REFERENCE.match(fold(text).strip(".!?,;: "))
    return f"{match.group(1).upper()}-{int(match.group(2))}" if match else None


def classify_keyword(text: str, cat: Catalog | None = None) -> tuple[Keyword | None, str]:
    """The keyword the message starts with (case and accents ignored) and the rest of the text."""
    parts = text.strip().split(maxsplit=1)
    if not parts:
        return None, ""
    token = fold(parts[0]).strip(".!?,;:")
    rest = parts[1].strip() if len(parts) > 1 else ""
    for kind, keywords in (cat or catalog()).keyword_kinds().items():
        if token in keywords:
            keyword = Keyword(kind)
            if keyword in WHOLE_MESSAGE_ONLY and rest.strip(".!?,;: "):
                return None, text.strip()
            if keyword is Keyword.STATUS and rest.strip(".!?,;: ") and request_reference(rest) is None:
                return None, text.strip()
            return keyword, rest
    return None, text.strip()


def is_emergency(text: str, cat: Catalog | None = None) -> bool:
    """Whether the text mentions an emergency word that is not part of a known harmless phrase
    ("fire hydrant", "feu rouge"). A false alarm costs one extra notice; a missed one costs more."""
    folded = " ".join(words(text))
    langs = (cat or catalog()).languages.values()
    for harmless in (p for lang in langs for p in lang.not_emergency):
        folded = re.sub(_whole_words(harmless), " ", folded)
    return any(re.search(_whole_words(w), folded) for lang in langs for w in lang.emergency)


def _whole_words(folded_phrase: str) -> str:
    """A pattern for a phrase as whole words of the folded, space-joined text. Whitespace bounds it, not ``\\b``:
    a Gurmukhi vowel sign is a mark, not a ``\\w`` character, so ``\\b`` would fall inside "ਐਮਰਜੈਂਸੀ" and
    around "ਅੱਗ" in "ਅੱਗੇ" (ahead)."""
    return rf"(?<!\S){re.escape(folded_phrase)}(?!\S)"
