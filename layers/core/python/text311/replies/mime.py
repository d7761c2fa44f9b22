"""Pick the body of an RFC 822 message and decode it to text, whatever the client did with charsets."""

from __future__ import annotations

import re
from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesParser

from text311.replies.htmltext import html_to_text

# Tried in order when a part's declared charset is missing, unknown or wrong.
_FALLBACK_CHARSETS = ("utf-8", "windows-1252", "latin-1")


def _decode(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return str(part.get_payload())
    declared = part.get_content_charset()
    for charset in ((declared,) if declared else ()) + _FALLBACK_CHARSETS:
        try:
            return payload.decode(charset)
        except (LookupError, UnicodeDecodeError):
            continue
    return payload.decode("latin-1")  # unreachable: latin-1 decodes any byte


def _quote_depth(line: str) -> int:
    return len(line) - len(line.lstrip(">"))


def _unflow(text: str, delsp: bool) -> str:
    """RFC 3676 format=flowed (Apple Mail, Thunderbird): a line ending in a space continues on the
    next line of the same quote depth; the signature delimiter "-- " never flows."""
    out: list[str] = []
    for line in text.split("\n"):
        previous = out[-1] if out else ""
        depth = _quote_depth(line)
        if previous.endswith(" ") and previous != "-- " and _quote_depth(previous) == depth:
            content = line[depth:]
            content = content[1:] if depth and content.startswith(" ") else content
            out[-1] = (previous[:-1] if delsp else previous) + content
        else:
            out.append(line)
    return "\n".join(out)


def _is_attachment(part: Message) -> bool:
    return (part.get_content_disposition() or "") == "attachment"


def _bodies(message: Message) -> tuple[Message | None, Message | None]:
    """The first inline text/plain and text/html parts (attachments and forwarded messages excluded)."""
    plain = html = None
    for part in message.walk():
        if part.get_content_maintype() == "multipart" or _is_attachment(part):
            continue
        kind = part.get_content_type()
        if kind == "text/plain" and plain is None:
            plain = part
        elif kind == "text/html" and html is None:
            html = part
        elif kind == "message/rfc822":
            break  # a forwarded message's parts are not the answer
    return plain, html


def _plain_text(part: Message) -> str:
    text = _decode(part).replace("\r\n", "\n").replace("\r", "\n")
    if str(part.get_param("format") or "").lower() == "flowed":
        text = _unflow(text, (str(part.get_param("delsp") or "")).lower() == "yes")
    return text


def body_text(raw: bytes) -> str:
    """The message's own text: its text/plain part, else its HTML turned to text without quote containers."""
    message: EmailMessage = BytesParser(policy=policy.default).parsebytes(raw)
    plain, html = _bodies(message)
    if plain is not None:
        text = _plain_text(plain)
        if text.strip() or html is None:
            return text
    if html is not None:
        return html_to_text(_decode(html))
    return ""


def looks_like_html(text: str) -> bool:
    return bool(re.match(r"\s*(<!doctype|<html|<head|<body|<div|<p[\s>])", text, re.IGNORECASE))
