"""Hypothesis strategies for raw RFC 822 messages: well-formed ones whose answer is known, whatever their
charset, transfer encoding, nesting and attachments; and malformed ones (headers, boundaries, encodings)."""

from __future__ import annotations

import base64
import quopri
import uuid

from hypothesis import strategies as st

WORDS = ("bonjour", "merci", "la", "rue", "sera", "réparée", "demain", "matin", "équipe", "passera", "nid",
         "de", "poule", "crew", "will", "fix", "the", "street", "tomorrow", "façade", "garçon", "noël", "où")
QUOTE = "On Mon, Nov 23, 2026 at 10:12 AM Text311 <notify@text311.example.ca> wrote:\n> Text from +1******0123\n> old"
CHARSETS = ("utf-8", "iso-8859-1", "windows-1252", "utf-16")
ENCODINGS = ("base64", "quoted-printable", "8bit")

answers = st.lists(st.sampled_from(WORDS), min_size=3, max_size=15).map(lambda w: " ".join(w).capitalize() + ".")


def _encode(payload: bytes, encoding: str) -> bytes:
    if encoding == "base64":
        return base64.encodebytes(payload)
    if encoding == "quoted-printable":
        return quopri.encodestring(payload)
    return payload


@st.composite
def body_part(draw, answer: str) -> bytes:
    """The agent's own part: text/plain (answer + quoted history) or HTML only (quote in a blockquote).
    The declared charset is right, or wrong (UTF-8 declared over Latin-1 bytes), or unknown."""
    html = draw(st.booleans())
    text = (f"<html><body><p>{answer}</p><blockquote type=\"cite\">{QUOTE}</blockquote></body></html>" if html
            else f"{answer}\n\n{QUOTE}\n")
    charset = draw(st.sampled_from(CHARSETS))
    # A wrong or unknown label is only ever seen over 8-bit text (UTF-16 comes from clients that label it).
    wrong_labels = () if charset == "utf-16" else ("x-unknown-charset", "utf-8")
    label = draw(st.sampled_from((charset, *wrong_labels)))
    encoding = "base64" if charset == "utf-16" else draw(st.sampled_from(ENCODINGS))
    payload = text.replace("\n", "\r\n").encode(charset)
    kind = "html" if html else "plain"
    return (f"Content-Type: text/{kind}; charset=\"{label}\"\r\nContent-Transfer-Encoding: {encoding}\r\n\r\n"
            .encode() + _encode(payload, encoding))


@st.composite
def attachment(draw) -> bytes:
    size = draw(st.sampled_from((0, 100, 50_000, 400_000)))  # up to a large scanned PDF
    data = draw(st.binary(min_size=min(size, 64), max_size=64)) * (size // 64 + 1)
    name = draw(st.sampled_from(("plan.pdf", "photo.jpg", "réponse.txt", "")))
    kind = draw(st.sampled_from(("application/pdf", "image/jpeg", "text/plain", "message/rfc822")))
    if kind == "message/rfc822":
        return (b"Content-Type: message/rfc822\r\n\r\nFrom: someone@example.com\r\nSubject: fwd\r\n\r\n"
                b"A forwarded message that is not the answer.\r\n")
    return (f"Content-Type: {kind}; name=\"{name}\"\r\nContent-Disposition: attachment; filename=\"{name}\"\r\n"
            "Content-Transfer-Encoding: base64\r\n\r\n").encode() + base64.encodebytes(data[:size])


def multipart(subtype: str, parts: list[bytes]) -> bytes:
    boundary = f"b-{uuid.uuid4().hex}"
    out = [f"Content-Type: multipart/{subtype}; boundary=\"{boundary}\"\r\n\r\nPreamble.\r\n".encode()]
    for part in parts:
        out.append(f"--{boundary}\r\n".encode() + part + b"\r\n")
    out.append(f"--{boundary}--\r\n".encode())
    return b"".join(out)


@st.composite
def nested(draw, answer: str) -> bytes:
    """The body part, first in its multipart, inside 0 to 3 levels of mixed/alternative/related, with
    attachments after it."""
    entity = draw(body_part(answer))
    for _ in range(draw(st.integers(0, 3))):
        subtype = draw(st.sampled_from(("mixed", "alternative", "related")))
        entity = multipart(subtype, [entity, *draw(st.lists(attachment(), max_size=2))])
    return entity


HEADERS = (b"From: Marie Tremblay <marie.tremblay@gatineau.example.ca>\r\nTo: r+x@reply.text311.example.ca\r\n"
           b"Subject: RE: [Text311 #ABCD] Gatineau\r\nMIME-Version: 1.0\r\n")


@st.composite
def answered_messages(draw) -> tuple[str, bytes]:
    """(answer, raw message) for a well-formed message."""
    answer = draw(answers)
    return answer, HEADERS + draw(nested(answer))


header_names = st.sampled_from(("From", "To", "Subject", "Content-Type", "Content-Transfer-Encoding",
                                "MIME-Version", "Reply-To", "Message-ID", "X-Ünïcode", "", " folded", "From "))
header_values = st.one_of(
    st.text(max_size=80),
    st.sampled_from(("=?bogus?Q?caf=E9?=", "=?utf-8?B?!!!notbase64?=", "multipart/mixed", "multipart/mixed; boundary=",
                     "text/plain; charset=utf-8; charset=latin-1", "text/html; charset=\"\"", "base64",
                     "quoted-printable", "=?utf-8?Q?=C3?=", "<>", "a@b, c@d, \"unterminated")),
)


@st.composite
def malformed_messages(draw) -> bytes:
    """Headers with bad names, values, encodings and no end, then a body that may not match them."""
    headers = draw(st.lists(st.tuples(header_names, header_values), max_size=12))
    lines = []
    for name, value in headers:
        lines.append(f"{name}: {value}".encode(draw(st.sampled_from(("utf-8", "latin-1"))), errors="replace"))
    body = draw(st.one_of(
        st.binary(max_size=2000),
        st.just(b"--unclosed\r\nContent-Type: text/plain\r\n\r\nhello"),
        st.just(b"=ZZ=\r\n=\r\nsoft break=\r\n"),
        st.just(b"!!!! not base64 ====\r\n"),
        answered_messages().map(lambda pair: pair[1]),
    ))
    separator = draw(st.sampled_from((b"\r\n\r\n", b"\n\n", b"\r\n", b"")))
    return b"\r\n".join(lines) + separator + body
