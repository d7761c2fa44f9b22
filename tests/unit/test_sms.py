"""SMS encoding, cost and segmentation (text311.sms): pure, no AWS."""

from __future__ import annotations

import re

import botocore.session
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from text311.sms import (
    API_MAX_BODY,
    GSM7_BASIC,
    GSM7_EXTENSION,
    Encoding,
    ReplyTooLong,
    SegmentInfo,
    SmsSegmenter,
    concatenated_parts,
    encoding_of,
    fits_one_segment,
    normalise,
    units,
)

MARKER = re.compile(r"^(\d+)/(\d+) ")


# --- encoding -----------------------------------------------------------------------------------


def test_encoding_is_gsm7_when_text_is_plain_ascii():
    assert encoding_of("Your request #42 is closed. Thanks!") == "GSM-7"


@pytest.mark.parametrize("letter", list("éèùìòÇØøÅåÄäÖöÑñÜüàÉÆæß"))
def test_encoding_stays_gsm7_when_accent_is_in_the_basic_set(letter):
    assert encoding_of(f"Déneigement {letter}") is Encoding.GSM7


@pytest.mark.parametrize("letter", list("êçâîôûëïœÀÈÊÔÙÎ"))
def test_encoding_is_ucs2_when_accent_is_not_in_gsm7(letter):
    assert encoding_of(f"la rue {letter}") is Encoding.UCS2


def test_encoding_stays_gsm7_with_extension_characters():
    assert encoding_of("Tarif: 5 € [taxes] {x} \\ ^ ~ |") is Encoding.GSM7


def test_encoding_is_ucs2_with_an_emoji():
    assert encoding_of("Merci 👍") is Encoding.UCS2


def test_extension_table_is_the_3gpp_one():
    assert GSM7_EXTENSION == frozenset("\f^{}\\[~]|€")
    assert len(GSM7_BASIC) == 127  # 128 positions less ESC


# --- counting -----------------------------------------------------------------------------------


def test_units_count_extension_characters_twice():
    assert units("€[]") == 6
    assert units("a€", Encoding.GSM7) == 3


def test_units_count_emoji_as_two_utf16_code_units():
    assert units("👍") == 2
    assert units("ê👍") == 3


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("a" * 160, 1),
        ("a" * 161, 2),
        ("a" * 306, 2),  # 153 * 2
        ("a" * 307, 3),
        ("ê" * 70, 1),
        ("ê" * 71, 2),
        ("ê" * 134, 2),  # 67 * 2
        ("ê" * 135, 3),
        ("€" * 80, 1),
        ("a" * 159 + "€", 2),  # the extension character's second septet is the 161st
        ("a" * 152 + "€" + "a" * 10, 2),  # 164 septets: the escape pair moves whole to part 2
        ("a" * 69 + "👍", 2),  # 71 units
    ],
)
def test_concatenated_parts_at_exact_boundaries(text, parts):
    assert concatenated_parts(text) == parts


def test_concatenated_parts_never_split_an_escape_pair():
    assert concatenated_parts("a" * 152 + "€" + "a" * 152) == 3  # 152 + (2 + 152) > 306


def test_count_is_one_part_at_160_septets_and_two_at_161():
    segmenter = SmsSegmenter()
    assert segmenter.count("a" * 160).parts == 1
    assert segmenter.count("a" * 161).parts == 2


def test_count_is_one_part_at_70_ucs2_units_and_two_at_71():
    segmenter = SmsSegmenter()
    assert segmenter.count("ê" * 70) == SegmentInfo(Encoding.UCS2, 1, 70)
    assert segmenter.count("ê" * 71).parts == 2


def test_count_when_extension_character_straddles_the_boundary():
    segmenter = SmsSegmenter()
    assert segmenter.count("a" * 158 + "€").parts == 1  # 160 septets
    assert segmenter.count("a" * 159 + "€").parts == 2  # 161 septets


def test_count_when_emoji_straddles_the_ucs2_boundary():
    segmenter = SmsSegmenter()
    assert segmenter.count("ê" * 68 + "👍").parts == 1  # 70 units
    assert segmenter.count("ê" * 69 + "👍").parts == 2  # 71 units


def test_count_of_a_blank_text_is_zero_parts():
    assert SmsSegmenter().count(" \n ").parts == 0


# --- normalisation ------------------------------------------------------------------------------


def test_normalise_makes_smart_punctuation_plain():
    assert normalise("C’est “fermé” – voir… «\u00a0ici\u00a0»") == 'C\'est "fermé" - voir... "ici"'


def test_normalise_keeps_french_letters_exactly():
    text = "Être à l'hôtel de ville, ça coûte rien: œuvre, Noël, naïf"
    assert normalise(text) == text


def test_normalise_composes_decomposed_accents_into_gsm7():
    assert normalise("e\u0301te\u0301") == "été"
    assert encoding_of(normalise("e\u0301te\u0301")) is Encoding.GSM7


def test_normalise_tidies_whitespace_and_drops_invisible_characters():
    assert normalise("  a\u00a0\u202fb\t c  \r\n\r\n\r\n\r\nd\u200b\u00ad ") == "a b c\n\nd"


def test_count_is_gsm7_when_only_mail_punctuation_was_outside_gsm7():
    text = "L’équipe vous répond “demain” – merci…"
    assert encoding_of(text) is Encoding.UCS2
    assert SmsSegmenter().count(text).encoding is Encoding.GSM7


def test_count_stays_ucs2_when_a_letter_is_outside_gsm7():
    assert SmsSegmenter().count("L’équipe vous répond “bientôt”.").encoding is Encoding.UCS2


# --- splitting ----------------------------------------------------------------------------------


def test_split_returns_the_text_unmarked_when_it_fits_one_sms():
    assert SmsSegmenter().split("  Votre demande est fermée.  ") == ["Votre demande est fermée."]


def test_split_numbers_parts_and_cuts_at_word_boundaries():
    words = [f"mot{i:03d}" for i in range(60)]  # 60 * 7 - 1 = 419 characters
    parts = SmsSegmenter().split(" ".join(words))
    assert [MARKER.match(p).groups() for p in parts] == [("1", "3"), ("2", "3"), ("3", "3")]
    assert " ".join(MARKER.sub("", p) for p in parts) == " ".join(words)
    assert all(len(p) <= 160 and fits_one_segment(p) for p in parts)


def test_split_gives_each_part_its_own_encoding():
    text = "a" * 150 + " " + "fête"
    parts = SmsSegmenter().split(text)
    assert [encoding_of(p) for p in parts] == [Encoding.GSM7, Encoding.UCS2]
    assert parts == ["1/2 " + "a" * 150, "2/2 fête"]


def test_split_hard_wraps_a_word_longer_than_a_part():
    url = "https://example.ca/" + "x" * 200  # 219 characters, no space
    parts = SmsSegmenter().split(url)
    assert "".join(MARKER.sub("", p) for p in parts) == url
    assert [len(p) for p in parts] == [160, 4 + 219 - 156]


def test_split_never_cuts_a_surrogate_pair_or_an_emoji_sequence():
    family = "👨\u200d👩\u200d👧"
    text = family * 40
    parts = SmsSegmenter().split(text)
    assert "".join(MARKER.sub("", p) for p in parts) == text
    assert all(MARKER.sub("", p).count(family) * len(family) == len(MARKER.sub("", p)) for p in parts)


def test_split_widens_the_marker_past_nine_parts():
    parts = SmsSegmenter(max_parts=20).split(" ".join(["mot"] * 400))
    assert MARKER.match(parts[-1]).groups() == (str(len(parts)), str(len(parts)))
    assert len(parts) >= 10
    assert all(fits_one_segment(p) for p in parts)


def test_split_raises_reply_too_long_with_the_count_needed():
    with pytest.raises(ReplyTooLong) as raised:
        SmsSegmenter(max_parts=2).split("ê" * 200)
    assert (raised.value.parts_needed, raised.value.max_parts) == (4, 2)
    assert "shorten" in str(raised.value)


def test_split_refuses_a_blank_body():
    with pytest.raises(ValueError):
        SmsSegmenter().split(" \n\u200b ")


def test_every_part_is_far_below_the_api_body_limit():
    model = botocore.session.get_session().get_service_model("pinpoint-sms-voice-v2")
    body = model.operation_model("SendTextMessage").input_shape.members["MessageBody"]
    assert body.metadata["max"] == API_MAX_BODY == 1600


# --- properties ---------------------------------------------------------------------------------

_ALPHABET = st.sampled_from(
    list("abcdefghij ABCéèàùÇ€[]{}~|^\\.,'!?\n")
    + list("êçôœ«»’“”–…\u00a0")
    + ["👍", "🇫🇷", "e\u0301", "👨\u200d👩\u200d👧"]
)
_WORD = st.lists(
    _ALPHABET.filter(lambda c: not normalise(c).isspace() and normalise(c)), min_size=1, max_size=400
)
_PIECE = st.one_of(_ALPHABET, _ALPHABET, _WORD.map("".join))
# Short texts (the one-SMS edge cases) and long ones (many parts, hard wraps, wide markers).
_TEXT = st.one_of(st.lists(_PIECE, min_size=1, max_size=30), st.lists(_PIECE, min_size=40, max_size=120)).map(
    "".join
)


def _body(part: str, total: int) -> str:
    if total == 1:
        return part
    match = MARKER.match(part)
    assert match is not None and match.group(2) == str(total)
    return part[match.end() :]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_TEXT)
def test_property_every_part_fits_one_segment_and_rejoins_to_the_normalised_text(text):
    segmenter = SmsSegmenter(max_parts=99)
    normalised = normalise(text)
    if not normalised:
        return
    parts = segmenter.split(text)
    assert len(parts) == segmenter.count(text).parts
    for index, part in enumerate(parts, 1):
        assert fits_one_segment(part)
        assert len(part.encode("utf-16-le")) // 2 <= 160
        if len(parts) > 1:
            assert MARKER.match(part).group(1) == str(index)
    # The bodies are the normalised text in order, with only whitespace dropped at the cuts.
    position = 0
    for part in parts:
        body = _body(part, len(parts))
        assert body and body == body.strip()
        while normalised[position].isspace():
            position += 1
        assert normalised.startswith(body, position)
        position += len(body)
    assert not normalised[position:].strip()
