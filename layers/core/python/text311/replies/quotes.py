"""Find where the quoted history starts in a plain-text reply, and cut it.

A reply is read line by line. A *splitter* is a line (or a few wrapped lines) that only a mail client
writes above the message it quotes or forwards: ``On … wrote:``, ``Le … a écrit :``, an Outlook
``From:/Sent:`` header block, ``-----Original Message-----``, ``---------- Forwarded message ---------``,
``Début du message réexpédié :``. Everything from the first splitter is history, except answers written
under or between ``>``-quoted lines (bottom-posted or inline) below a quote, never below a forward. Lines
marked with ``>`` are history wherever they are.
"""

from __future__ import annotations

import re

# Verbs mail clients put at the end of an attribution line, in the languages agents and residents use
# (English and French first; the others cost nothing and show up in forwarded threads).
_WROTE = (
    r"wrote|sent|a\s+[ée]crit|schrieb|schreef|het\s+volgende\s+geschreven|skrev|napisa[łl]|"
    r"escribi[óo]|ha\s+scritto|escreveu|kirjoitti|đã\s+viết|написал[аи]?|пише|yazdı"
)
_ATTRIBUTION = re.compile(
    rf"[-\s]*(?P<body>.{{4,400}}?)\b(?:{_WROTE})\b(?P<tail>[^:]{{0,200}})?\s*:?[-\s]*",
    re.IGNORECASE | re.DOTALL,
)
# Words that open an attribution line; with them the verb may sit mid-line ("Op … schreef X:").
_LEADS = re.compile(r"[-\s]*(on|le|am|op|el|il|em|den|på|w\s+dniu|vào|dne|в|el\s+día)\s", re.IGNORECASE)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
# What makes "… sent" an attribution rather than a sentence: a date, a time or a year, not any number
# ("2 crews sent", "GAT-1042: a crew was sent").
_WHEN = re.compile(r"\b\d{1,4}[./-]\d{1,2}[./-]\d{1,4}\b|\b\d{1,2}\s?[:h]\s?\d{2}\b|(?<![\w-])(?:19|20)\d{2}\b")
# An agent's command line ("#status in_progress crew sent") is never part of an attribution.
_COMMAND = re.compile(r"\s*#[^\W\d_]")
_DATE_FIRST = re.compile(r"\s*\d{1,4}[./-]\d{1,2}[./-]\d{1,4}\b")
_ANDROID = re.compile(rf"\s*-{{2,}}\s*.{{1,120}}\s(?:{_WROTE})\s*:?\s*-{{2,}}\s*", re.IGNORECASE)
_ORIGINAL = re.compile(
    r"\s*[-_=]{2,}\s*(original\s+message|reply\s+message|message\s+d'origine|message\s+original|"
    r"ursprüngliche\s+nachricht|antwort\s+nachricht|oprindelig\s+meddelelse|mensaje\s+original|"
    r"messaggio\s+originale|originalmeddelande|oorspronkelijk\s+bericht)\s*[-_=]{2,}\s*",
    re.IGNORECASE,
)
_DATED_ADDRESS = re.compile(r"\s*\d{4}[-/.]\d{1,2}[-/.]\d{1,2}\b.{0,200}<?[\w.+-]+@[\w.-]+>?\s*:?\s*")
# The line a client writes above a message it forwards: Gmail's, Thunderbird's and Yahoo's dashed titles,
# Apple Mail's "Begin forwarded message:", in English and French (and German, which costs nothing).
_FORWARD = re.compile(
    r"\s*(-{2,}\s*(forwarded\s+message|message\s+transf[ée]r[ée]|begin\s+forwarded\s+message|"
    r"weitergeleitete\s+nachricht)\s*:?\s*-*|(begin\s+forwarded\s+message|d[ée]but\s+du\s+message\s+"
    r"(r[ée]exp[ée]di[ée]|transf[ée]r[ée])|anfang\s+der\s+weitergeleiteten\s+nachricht)\s*:)\s*",
    re.IGNORECASE,
)
# Header names of a quoted Outlook/webmail block, grouped by meaning, in several languages.
_HEADER_KEYS = {
    "from": r"from|de|von|van|fra|från|od|da|от",
    "sent": r"sent|date|envoy[ée]|gesendet|datum|sendt|skickat|verzonden|enviado|inviato|дата",
    "to": r"to|[àa]|an|aan|til|till|para|a|кому",
    "cc": r"cc|cci|kopie",
    "subject": r"subject|objet|betreff|onderwerp|emne|ämne|asunto|oggetto|assunto|тема",
}
_HEADER = re.compile(
    r"\s*\*?(?P<key>" + "|".join(f"(?P<{k}>{v})" for k, v in _HEADER_KEYS.items()) + r")\s*\*?\s*:\s*\*?",
    re.IGNORECASE,
)
_UNDERSCORES = re.compile(r"\s*[_-]{8,}\s*")
_QUOTED = re.compile(r"\s*>")
# "reply On Wed, Apr 4, 2012 at 3:59 PM, bob wrote:" — some clients glue the attribution to the text.
# Only on unquoted lines: "> On … wrote:" is a quoted attribution and stays inside the quote.
_GLUED_ATTRIBUTION = re.compile(
    r"^(?![ \t]*>)([^\n]*?\S)[ \t]*-*[ \t]*(?=On\s[^\n]{5,200}?\bwrote:[ \t]*$)", re.MULTILINE
)
_MAX_SPLITTER_LINES = 5


def is_quoted(line: str) -> bool:
    """A ``>``-marked line; ``>>> http://x <<<`` banners are not quotes."""
    return bool(_QUOTED.match(line)) and not line.rstrip().endswith("<")


def _attribution(text: str) -> bool:
    """Does this (possibly joined) text read as ``<date/person> wrote:``?"""
    text = text.strip()
    if len(text) > 500 or not _ATTRIBUTION.fullmatch(text):
        return False
    evidence = _WHEN.search(text) or _EMAIL.search(text)
    ends_with_colon = text.rstrip("- ").endswith(":")
    led = _LEADS.match(text)
    verb_last = re.search(rf"\b(?:{_WROTE})\s*:?[-\s]*$", text, re.IGNORECASE)
    # A plain sentence ("On Monday I wrote to them") has no date/address or trailing colon.
    return bool(evidence) and (bool(verb_last) or (bool(led) and ends_with_colon))


def _opens_attribution(text: str) -> bool:
    return bool(_LEADS.match(text) or _DATE_FIRST.match(text))


def _header_key(line: str) -> str | None:
    match = _HEADER.match(line)
    if not match or len(line) > 300:
        return None
    return next(k for k in _HEADER_KEYS if match.group(k))


def _header_block(lines: list[str], start: int) -> int:
    """Length of a quoted header block starting at ``start`` (0 if none).

    It opens on From/Date/Sent and needs a second distinct header within a few lines, since one
    ``To:`` line can be prose; a lone ``From:`` counts only with an address on it.
    """
    first = _header_key(lines[start])
    if first not in ("from", "sent"):
        return 0
    keys = {first}
    end = start + 1
    for i in range(start + 1, min(len(lines), start + 8)):
        key = _header_key(lines[i])
        if key:
            keys.add(key)
            end = i + 1
    if len(keys) >= 2 or (first == "from" and _EMAIL.search(lines[start])):
        return end - start
    return 0


def _splitter_length(lines: list[str], i: int) -> int:
    """How many lines, from ``i``, a splitter spans (0 if ``lines[i]`` opens none)."""
    line = lines[i]
    if not line.strip() or is_quoted(line):
        return 0
    if _ORIGINAL.fullmatch(line) or _ANDROID.fullmatch(line) or _FORWARD.fullmatch(line):
        return 1
    if _UNDERSCORES.fullmatch(line):
        following = next((j for j in range(i + 1, min(len(lines), i + 3)) if lines[j].strip()), None)
        return 1 if following is not None and _header_block(lines, following) else 0
    block = _header_block(lines, i)
    if block:
        return block
    for span in range(1, _MAX_SPLITTER_LINES + 1):
        if i + span > len(lines) or _COMMAND.match(lines[i + span - 1]):
            break
        joined = " ".join(lines[i : i + span])
        if _attribution(joined) or _DATED_ADDRESS.fullmatch(joined):
            # The attribution must need line i: "Test reply" above "On … wrote:" is the answer,
            # while "On Mar 8, 2012, X <" above "x@y.com> wrote:" is one wrapped attribution.
            rest = " ".join(lines[i + 1 : i + span])
            rest_alone = span > 1 and (_attribution(rest) or bool(_DATED_ADDRESS.fullmatch(rest)))
            if not rest_alone or (_opens_attribution(line) and not _opens_attribution(rest)):
                return span
            return 0
    return 0


def is_forward(line: str) -> bool:
    """Does this line open a forwarded message?"""
    return bool(_FORWARD.fullmatch(line))


def find_splitter(lines: list[str]) -> tuple[int, int] | None:
    """Index and span of the first splitter, or None."""
    for i in range(len(lines)):
        span = _splitter_length(lines, i)
        if span:
            return i, span
    return None


def _answers_under_quote(lines: list[str]) -> list[str]:
    """What the agent wrote under or between ``>``-quoted lines below a splitter.

    Bottom-posted answers sit under the quote; inline answers sit between quoted questions, set off by
    blank lines. An unmarked paragraph above the last quoted line that touches a quoted line (no blank
    line between) is quoted text the client wrapped (a long link), not an answer. Kept in order, up to
    the next splitter among the unquoted lines (older, unmarked history).
    """
    body = [line for line in lines if line.strip()]
    # The history is a quote only if it starts with '>' lines; unmarked text under a splitter is history.
    if not body or not is_quoted(body[0]):
        return []
    last_quoted = max(i for i, line in enumerate(lines) if is_quoted(line))
    kept: list[str] = []
    for i, line in enumerate(lines):
        if is_quoted(line):
            continue
        wrapped = i < last_quoted and line.strip() and _in_quoted_paragraph(lines, i)
        if not wrapped:
            kept.append(line)
    found = find_splitter(kept)
    return kept if found is None else kept[: found[0]]


def _in_quoted_paragraph(lines: list[str], i: int) -> bool:
    """Does the unmarked paragraph holding line ``i`` touch a quoted line, above or below, with no blank?"""
    start, end = i, i
    while start > 0 and lines[start - 1].strip() and not is_quoted(lines[start - 1]):
        start -= 1
    while end + 1 < len(lines) and lines[end + 1].strip() and not is_quoted(lines[end + 1]):
        end += 1
    above = start > 0 and is_quoted(lines[start - 1])
    below = end + 1 < len(lines) and is_quoted(lines[end + 1])
    return above or below


def strip_quotes(text: str) -> str:
    """Cut the quoted history, and any forwarded message, out of a plain-text reply.

    A forward carries someone else's mail (often a colleague's internal one): only what the agent
    wrote above it is their answer, so nothing under a forward line is kept, not even unmarked lines
    that would be a bottom-posted answer under a ``>`` quote."""
    lines = _GLUED_ATTRIBUTION.sub("\\1\n", text).splitlines()
    found = find_splitter(lines)
    if found is not None:
        start, span = found
        below = [] if is_forward(lines[start]) else _answers_under_quote(lines[start + span :])
        kept = lines[:start] + below
    else:
        kept = lines
    return "\n".join(line for line in kept if not is_quoted(line))
