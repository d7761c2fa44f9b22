"""The email a city receives for each resident text: raw MIME, threaded per conversation.

Threading: the first mail's Message-ID is ours (``<t311.<conversation>.<n>@<reply domain>>``)
and is stored with the SES MessageId, because SES may replace Message-ID with
``<ses-id>@<region>.amazonses.com``. Later mails carry ``In-Reply-To`` (the previous
mail) and ``References`` (the first mail under both ids, then the most recent ones),
and keep the subject, so Gmail, Outlook and Apple Mail all show one thread.

Every word written to the agents is in the city's language (``Subscriber.language``), from the
``agents`` section of the language files; the subject's ``[Text311 #ID] City:`` prefix is the
same in every language.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime
from zoneinfo import ZoneInfo

from text311.i18n import catalog

SUBJECT_WORDS = 8
MAX_REFERENCES = 10  # RFC 5322 allows many; mail clients only need the root and the recent ones


def short_id(conversation_id: str) -> str:
    """The part of a conversation id a person can read out: the random tail, upper-cased."""
    return conversation_id.rsplit("-", 1)[-1][:8].upper()


def thread_subject(conversation_id: str, city: str, first_text: str, language: str = "en") -> str:
    flat = re.sub(r"\s+", " ", first_text).strip()
    words = flat.split(" ")
    preview = " ".join(words[:SUBJECT_WORDS]) + ("…" if len(words) > SUBJECT_WORDS else "")
    return f"[Text311 #{short_id(conversation_id)}] {city}: {preview or catalog().agent_text(language, 'no_text')}"


def ses_reference(ses_message_id: str, region: str) -> str:
    """The Message-ID SES gives a mail when it replaces ours."""
    host = "email.amazonses.com" if region == "us-east-1" else f"{region}.amazonses.com"
    return f"<{ses_message_id}@{host}>"


@dataclass(frozen=True)
class ThreadMail:
    conversation_id: str
    sequence: int  # 1 for the first mail of the thread
    subject: str
    sender: str
    to: tuple[str, ...]
    cc: tuple[str, ...]
    reply_to: str
    city: str
    masked_phone: str
    body: str
    received_at: datetime
    time_zone: str
    console_url: str = ""
    urgent: bool = False
    resident_opted_out: bool = False
    references: tuple[str, ...] = field(default=())  # oldest first; empty for the first mail
    in_reply_to: str | None = None
    domain: str = "text311.local"
    language: str = "en"  # the city's (Subscriber.language)
    # What the text suggests for a service request (text311.request_hints), in the city's language.
    hint: tuple[str, ...] = ()
    # A machine translation of the text into the city's language (text311.translation), shown under the
    # original after its label ("Machine translation (Amazon Translate), from Español:"), or the label alone
    # saying why there is none. Empty: the resident writes in the city's language, or translation is off.
    translation_label: str = ""
    translation: str = ""

    @property
    def message_id(self) -> str:
        # Deterministic: a retried send carries the same id, so mail clients show it once.
        return f"<t311.{self.conversation_id}.{self.sequence}@{self.domain}>"


def local_time(moment: datetime, time_zone: str) -> str:
    return moment.astimezone(ZoneInfo(time_zone)).strftime("%Y-%m-%d %H:%M %Z")


def build_thread_mail(mail: ThreadMail) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = mail.sender
    msg["To"] = ", ".join(mail.to)
    if mail.cc:
        msg["Cc"] = ", ".join(mail.cc)
    msg["Reply-To"] = mail.reply_to
    msg["Subject"] = mail.subject
    msg["Date"] = format_datetime(mail.received_at)
    msg["Message-ID"] = mail.message_id
    if mail.in_reply_to:
        msg["In-Reply-To"] = mail.in_reply_to
    if mail.references:
        msg["References"] = " ".join(_trim_references(mail.references))
    msg["X-Text311-Conversation"] = mail.conversation_id
    if mail.urgent:
        msg["Importance"] = "high"
        msg["X-Priority"] = "1"

    when = local_time(mail.received_at, mail.time_zone)
    words = catalog()
    notes = []
    if mail.urgent:
        notes.append(words.agent_text(mail.language, "urgent_note"))
    if mail.resident_opted_out:
        notes.append(words.agent_text(mail.language, "opted_out_note"))
    link = f"{mail.console_url.rstrip('/')}/#/c/{mail.conversation_id}" if mail.console_url else ""

    hint = list(mail.hint)
    text = "\n".join(
        [
            *notes,
            *([""] if notes else []),
            *hint,
            *([""] if hint else []),
            words.agent_text(mail.language, "text_from", phone=mail.masked_phone, when=when, city=mail.city),
            "",
            mail.body,
            *(["", mail.translation_label] if mail.translation_label else []),
            *([mail.translation] if mail.translation else []),
            "",
            "--",
            words.agent_text(mail.language, "reply_instruction"),
            *([words.agent_text(mail.language, "conversation_link", link=link)] if link else []),
        ]
    )
    # Quoted-printable keeps every line 7-bit and short, whatever relays sit after SES.
    msg.set_content(text, cte="quoted-printable")
    msg.add_alternative(_html(mail, when, notes, link), subtype="html", cte="quoted-printable")
    return msg


def _html(mail: ThreadMail, when: str, notes: list[str], link: str) -> str:
    esc = html.escape
    words = catalog()
    body = esc(mail.body).replace("\n", "<br>")
    note_html = "".join(f'<p style="color:#a00;font-weight:bold">{esc(n)}</p>' for n in notes)
    # The template is escaped before it is filled: the filled values are escaped on their own.
    text_from = esc(words.agent_template(mail.language, "text_from")).format(
        phone=f"<b>{esc(mail.masked_phone)}</b>", when=esc(when), city=esc(mail.city)
    )
    instruction = esc(words.agent_text(mail.language, "reply_instruction")).replace("\n", " ")
    open_link = esc(words.agent_text(mail.language, "open_conversation"))
    link_html = f'<p><a href="{esc(link)}">{open_link}</a></p>' if link else ""
    hint_html = f'<p style="color:#035">{"<br>".join(esc(line) for line in mail.hint)}</p>' if mail.hint else ""
    translated = esc(mail.translation).replace("\n", "<br>")
    translation_html = ""
    if mail.translation_label:
        translation_html = f'<p style="color:#555">{esc(mail.translation_label)}</p>'
    if mail.translation:
        translation_html += f'<blockquote style="border-left:3px solid #35a;padding-left:8px">{translated}</blockquote>'
    return (
        "<!DOCTYPE html><html><body>"
        f"{note_html}{hint_html}<p>{text_from}</p>"
        f'<blockquote style="border-left:3px solid #888;padding-left:8px">{body}</blockquote>'
        f"{translation_html}"
        f'<p style="color:#555">{instruction}</p>'
        f"{link_html}</body></html>"
    )


def _trim_references(refs: tuple[str, ...]) -> tuple[str, ...]:
    if len(refs) <= MAX_REFERENCES:
        return refs
    return refs[:2] + refs[-(MAX_REFERENCES - 2) :]


def build_thread_notice(
    *,
    sender: str,
    to: tuple[str, ...],
    cc: tuple[str, ...],
    subject: str,
    in_reply_to: str | None,
    references: tuple[str, ...],
    text: str,
) -> EmailMessage:
    """A short notice from Text311 inside the conversation's thread (delivery failure, queued...).
    Marked Auto-Submitted so that agents' auto-replies do not answer it (RFC 3834)."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = ", ".join(to)
    if cc:
        msg["Cc"] = ", ".join(cc)
    msg["Subject"] = subject
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
    if references:
        msg["References"] = " ".join(_trim_references(references))
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(text, cte="quoted-printable")
    return msg
