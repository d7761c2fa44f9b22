"""Whether a word is an ordinary word of a language, from pyspellchecker's word frequency lists.

Two readers: the category suggestion forgives a typo only in a word no list knows ("potholle", not
"garage"), and the place finder reads a capitalised word without a street type as a street's name only
when it is rare as a word ("122 Champlain", not "3 Times"). The lists are loaded on first use, one
language at a time (about 0.3 s each), never for a text that raises neither question.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from functools import cache
from typing import Any

# The languages of the default service list and the templates, whose lists the place finder consults
# (it does not know the resident's language).
PLACE_LANGUAGES = ("en", "fr")
# Zipf frequency (log10 of occurrences per billion words): 3 is once per million words, where word
# frequency norms put the boundary between low- and high-frequency words (van Heuven et al., 2014).
ORDINARY_ZIPF = 3.0


@cache
def _frequencies(language: str) -> Any:
    from spellchecker import SpellChecker

    try:
        return SpellChecker(language=language, distance=1).word_frequency
    except ValueError:  # a language pyspellchecker has no list for: no word of it is known
        return None


def _lists(languages: Iterable[str]) -> list[Any]:
    found = (_frequencies(language) for language in sorted(set(languages)) if language)
    return [f for f in found if f is not None]


def known(word: str, languages: Iterable[str]) -> bool:
    """``word`` (lower case) is in the list of one of ``languages``."""
    return any(frequencies[word] > 0 for frequencies in _lists(languages))


def ordinary(word: str, languages: Iterable[str] = PLACE_LANGUAGES) -> bool:
    """``word`` is frequent in one of ``languages`` (Zipf :data:`ORDINARY_ZIPF` or more): "Times", "Bank",
    "Clarence"; not "Champlain" or "Kirkwood"."""
    lower = word.lower()
    for frequencies in _lists(languages):
        count = frequencies[lower]
        if count and math.log10(count / frequencies.total_words * 1e9) >= ORDINARY_ZIPF:
            return True
    return False
