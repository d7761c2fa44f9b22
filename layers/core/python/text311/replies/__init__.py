"""What an agent newly wrote in an email reply: the text that goes to the resident by SMS.

``extract_reply`` is the stable public API. The pipeline: pick and decode the body (``mime``; HTML is
turned to text with its quote containers removed, ``htmltext``), cut the quoted history (``quotes``),
cut signatures, device lines and disclaimers (``signature``), then tidy whitespace for SMS.
See docs/replies.md for the rules and the benchmark.
"""

from __future__ import annotations

import re

from text311.replies.htmltext import html_to_text
from text311.replies.mime import body_text, looks_like_html
from text311.replies.quotes import strip_quotes
from text311.replies.signature import is_greeting_only, strip_signature

__all__ = ["extract_reply", "normalise"]


def normalise(text: str) -> str:
    """SMS-ready whitespace: no trailing spaces, at most one blank line between paragraphs, stripped."""
    lines = [re.sub(r"[ \t\u00a0\u200b\ufeff]+", " ", line).strip() for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def extract_reply(message: bytes | str) -> str:
    """Only what the agent newly wrote, from a full RFC 822 message (bytes) or a plain-text body (str).

    No quoted history, no signature, no disclaimer; HTML-only mail becomes text. Returns "" when
    nothing new is left, or only a greeting ("Bonjour,", "Hi Marie,") or a dangling "Merci,"
    (the caller decides what an empty answer means).
    """
    if isinstance(message, bytes):
        text = body_text(message)
    elif looks_like_html(message):
        text = html_to_text(message)
    else:
        text = message.replace("\r\n", "\n").replace("\r", "\n")
    text = normalise(text)
    reply = normalise(strip_signature(strip_quotes(text)))
    # "Bonjour," alone would be texted and the agent told it was sent; empty, the caller refuses it.
    return "" if is_greeting_only(reply) else reply
