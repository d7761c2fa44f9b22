"""MIME messages through ``text311.replies.extract_reply``: never an error, always text; and for a
well-formed message the agent's answer exactly, whatever its charset, encoding, nesting and attachments."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from text311.replies import extract_reply

from .mime_strategies import answered_messages, malformed_messages
from .profile import FUZZ


@FUZZ
@given(raw=st.one_of(st.binary(max_size=4000), malformed_messages()))
def test_any_bytes_or_malformed_message_give_text_and_never_an_error(raw):
    reply = extract_reply(raw)

    assert isinstance(reply, str)
    assert reply == reply.strip() and "\r" not in reply


@FUZZ
@given(message=answered_messages())
def test_the_answer_is_extracted_exactly_from_any_charset_encoding_nesting_and_attachments(message):
    answer, raw = message

    assert extract_reply(raw) == answer


@FUZZ
@given(text=st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=3000))
def test_any_plain_text_gives_text_without_surrounding_space(text):
    reply = extract_reply(text)

    assert isinstance(reply, str) and reply == reply.strip()
    assert len(reply) <= len(text)
