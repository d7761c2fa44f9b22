"""Mail both ways: the mailbox where Text311's mail lands, and SES's receiving side for agents' answers.

Outbound: the handlers send with SES v2 into moto; moto keeps every message it accepted, and the
mailbox reads them from its backend (same process) in the order SES accepted them.
Inbound: what SES's receipt rule does (stacks/email.py): store the message in the raw-mail bucket at
``inbound/<SES message id>``, then invoke inbound_email asynchronously with the receipt event,
recipients being the envelope recipients at the reply domain. Verdicts are the caller's to choose.
"""

from __future__ import annotations

import email
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import default as default_policy
from email.utils import formatdate, make_msgid, parseaddr
from pathlib import Path
from typing import Any

from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends

from localrun.events import addresses, ses_receipt

VERDICTS = ("spf", "dkim", "dmarc", "spam", "virus")
VERDICT_STATUSES = ("PASS", "FAIL", "GRAY", "PROCESSING_FAILED", "DISABLED")


def parse(raw: str | bytes) -> EmailMessage:
    if isinstance(raw, bytes):
        return email.message_from_bytes(raw, policy=default_policy)  # type: ignore[return-value]
    return email.message_from_string(raw, policy=default_policy)  # type: ignore[return-value]


def plain_text(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    try:
        return part.get_content() if part is not None else ""
    except (LookupError, ValueError):
        return ""


def summary(message_id: str, message: EmailMessage, raw: str) -> dict[str, Any]:
    """The fields the simulation API promises, plus the decoded text and threading headers."""
    return {
        "id": message_id,
        "from": str(message.get("From", "")),
        "to": addresses(message, "To"),
        "cc": addresses(message, "Cc"),
        "subject": str(message.get("Subject", "")).strip(),  # a folded Subject unfolds with a leading space
        "message_id": str(message.get("Message-ID", "")),
        "reply_to": (addresses(message, "Reply-To") or [""])[0],
        "in_reply_to": str(message.get("In-Reply-To", "")),
        "references": str(message.get("References", "")).split(),
        "date": str(message.get("Date", "")),
        "text": plain_text(message),
        "raw": raw,
    }


class Mailbox:
    """Every mail Text311 sent, as SES (moto) accepted it; optionally exported as .eml files."""

    def __init__(self, region: str, export_dir: Path | None = None) -> None:
        self.region, self.export_dir = region, export_dir
        self._exported = 0
        self._lock = threading.Lock()

    def messages(self, to: str | None = None) -> list[dict[str, Any]]:
        backend = ses_backends[DEFAULT_ACCOUNT_ID][self.region]
        sent = list(backend.sent_messages)
        result = []
        for index, item in enumerate(sent):
            raw = getattr(item, "raw_data", None)
            if raw is None:
                continue  # only raw sends: Text311 sends nothing else
            entry = summary(item.id, parse(raw), raw)
            self._export(index, raw)
            if to is None or to.lower() in {a.lower() for a in entry["to"] + entry["cc"]}:
                result.append(entry)
        return result

    def _export(self, index: int, raw: str) -> None:
        if self.export_dir is None:
            return
        with self._lock:
            if index < self._exported:
                return
            (self.export_dir / f"{index + 1:04d}.eml").write_text(raw, encoding="utf-8")
            self._exported = index + 1


class BadMail(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


@dataclass
class Received:
    """One message SES received, and what inbound_email made of it."""

    id: str
    message: EmailMessage
    raw: str
    recipients: list[str]
    verdicts: dict[str, str]
    result: Callable[[], Any]

    def as_json(self) -> dict[str, Any]:
        entry = summary(self.id, self.message, self.raw)
        entry.update(recipients=self.recipients, verdicts=self.verdicts, outcome=self.result())
        return entry


@dataclass
class MailReceiver:
    """SES's receiving side for the reply domain: store in S3, then invoke inbound_email."""

    reply_domain: str
    bucket: str
    prefix: str
    s3: Any
    invoke: Callable[[str, dict], None]  # (event id, receipt event) → queued for the function
    outcome: Callable[[str], Any]  # event id → the function's answer, once it ran
    function_arn: str
    export_dir: Path | None = None
    received: list[Received] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def accepts(self, address: str) -> bool:
        return address.rpartition("@")[2].lower() == self.reply_domain.lower()

    def receive(self, raw: bytes, *, envelope_to: list[str] | None = None, mail_from: str | None = None,
                verdicts: dict[str, str] | None = None) -> str:
        """Take one message; return SES's message id. Raises BadMail naming the field."""
        message = parse(raw)
        if not message.keys():
            raise BadMail("raw", "not an RFC 822 message (no header found)")
        raw, message = _as_submitted(raw, message)
        envelope_to = envelope_to or addresses(message, "To", "Cc")
        recipients = [a for a in envelope_to if self.accepts(a)]
        if not recipients:
            # SES refuses mail no receipt rule matches, at RCPT time: no message id, no invocation.
            raise BadMail("raw", f"no recipient at {self.reply_domain} in To or Cc")
        sender = parseaddr(str(message.get("From", "")))[1]
        mail_from = mail_from or sender or "unknown@invalid"
        statuses = {name: "PASS" for name in VERDICTS} | (verdicts or {})
        ses_id = uuid.uuid4().hex + "-local"
        self.s3.put_object(Bucket=self.bucket, Key=f"{self.prefix}{ses_id}", Body=raw)
        event = ses_receipt(message_id=ses_id, message=message, recipients=recipients, envelope_to=envelope_to,
                            mail_from=mail_from, verdicts=statuses, function_arn=self.function_arn)
        text = raw.decode("utf-8", errors="replace")
        if self.export_dir is not None:
            (self.export_dir / f"{ses_id}.eml").write_bytes(raw)
        with self._lock:
            self.received.append(Received(ses_id, message, text, recipients, statuses,
                                          lambda: self.outcome(ses_id)))
        self.invoke(ses_id, event)
        return ses_id

    def all(self) -> list[dict[str, Any]]:
        with self._lock:
            received = list(self.received)
        return [r.as_json() for r in received]


def _as_submitted(raw: bytes, message: EmailMessage) -> tuple[bytes, EmailMessage]:
    """Add the Date and Message-ID a submission server adds when the client left them out (RFC 6409
    §8): SES always receives them, and its event's commonHeaders carry them."""
    added = b""
    if "Date" not in message:
        added += f"Date: {formatdate(usegmt=True)}\r\n".encode()
    if "Message-ID" not in message:
        added += f"Message-ID: {make_msgid(domain='submission.text311.test')}\r\n".encode()
    return (added + raw, parse(added + raw)) if added else (raw, message)


def validate_verdicts(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BadMail("verdicts", "expected an object like {\"dmarc\": \"FAIL\"}")
    for name, status in value.items():
        if name not in VERDICTS:
            raise BadMail(f"verdicts.{name}", f"unknown verdict; expected one of {', '.join(VERDICTS)}")
        if status not in VERDICT_STATUSES:
            raise BadMail(f"verdicts.{name}", f"expected one of {', '.join(VERDICT_STATUSES)}")
    return dict(value)

