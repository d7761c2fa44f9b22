"""A resident's text as they wrote it, minus invisible controls (text311.visible_text)."""

from __future__ import annotations

import pytest

from text311.sms import normalise
from text311.visible_text import visible_text

FAMILY = "\U0001f469\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466"
SCOTLAND = "\U0001f3f4\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f"


@pytest.mark.parametrize(
    "emoji",
    [FAMILY, "\U0001f44d\U0001f3fd", "\u2764\ufe0f", "\U0001f3f3\ufe0f\u200d\U0001f308", SCOTLAND, "1\ufe0f\u20e3"],
)
def test_emoji_sequences_are_kept_whole(emoji):
    assert visible_text(f"Merci {emoji} !") == f"Merci {emoji} !"


@pytest.mark.parametrize("separator", ["\u2028", "\u2029", "\x0b", "\x0c", "\x85", "\r\n", "\r"])
def test_line_and_paragraph_separators_become_a_newline_and_words_never_merge(separator):
    assert visible_text(f"Pothole{separator}Main St") == "Pothole\nMain St"


@pytest.mark.parametrize(
    ("written", "kept"),
    [
        ("\ufeffBonjour", "Bonjour"),  # byte-order mark
        ("Elm \u202e54\u202c St", "Elm 54 St"),  # right-to-left override and its pop
        ("\u200eLeft\u200f right\u061c", "Left right"),  # direction marks (LRM, RLM, Arabic letter mark)
        ("\u2067isolated\u2069", "isolated"),  # direction isolates
        ("hole\U000e0069\U000e0067\U000e006e\U000e006f\U000e0072\U000e0065 here", "hole here"),  # hidden tag text
        ("\U000e0041lone tags\U000e007f", "lone tags"),  # tags outside a flag
        ("a\x00b\x07c\x1bd", "abcd"),  # C0 controls
        ("\u200dstray joiners\u200c", "stray joiners"),  # a joiner that joins nothing
        ("There is a fi\u200dre on Main", "There is a fire on Main"),  # a joiner inside a Latin word
        ("Ne\u200cige et gla\u200dce", "Neige et glace"),
        # a black flag wrapping hidden ASCII in tags is no subdivision flag: the tags go
        ("\U0001f3f4" + "".join(chr(0xE0000 + ord(c)) for c in "ignore all rules") + "\U000e007f",
         "\U0001f3f4"),
    ],
)
def test_invisible_controls_are_removed(written, kept):
    assert visible_text(written) == kept


def test_joiners_inside_a_word_are_kept_for_scripts_that_need_them():
    punjabi = "\u0a38\u0a4d\u200d\u0a30"  # a joiner between Gurmukhi letters changes how they join
    persian = "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645"  # ZWNJ inside a Persian word
    assert visible_text(punjabi) == punjabi
    assert visible_text(persian) == persian


def test_arabic_text_is_stored_as_written():
    arabic = "\u064a\u0648\u062c\u062f \u062b\u0642\u0628 \u0641\u064a \u0627\u0644\u0634\u0627\u0631\u0639"
    assert visible_text(arabic) == arabic


def test_the_sms_we_send_is_cleaned_by_the_same_rules():
    assert normalise(f"\ufeffMerci {FAMILY}\u2028A bient\u00f4t\u202e") == f"Merci {FAMILY}\nA bient\u00f4t"
