"""An SMTP server on localhost standing in for SES's inbound endpoint (MX of the reply domain).

An agent answers from a real mail client or a script (``smtplib``): recipients outside the reply
domain are refused at RCPT time, as SES refuses mail no receipt rule matches; accepted mail takes
the same path as ``POST /sim/email``, with PASS verdicts (nothing can be authenticated locally).
"""

from __future__ import annotations

import logging
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from localrun.mail import BadMail, MailReceiver

log = logging.getLogger("localrun.smtp")


class _Handler:
    def __init__(self, receiver: MailReceiver) -> None:
        self.receiver = receiver

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str,
                          rcpt_options: list[str]) -> str:
        if not self.receiver.accepts(address):
            return f"550 5.7.1 Text311 accepts mail for @{self.receiver.reply_domain} only"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or envelope.content or b""
        raw = content.encode("utf-8") if isinstance(content, str) else bytes(content)
        try:
            ses_id = self.receiver.receive(raw, envelope_to=list(envelope.rcpt_tos),
                                           mail_from=envelope.mail_from or None)
        except BadMail as exc:
            return f"554 5.6.0 {exc}"
        except Exception:  # noqa: BLE001 - answer the client; the log has the trace
            log.exception("SMTP: message not stored")
            return "451 4.3.0 Text311 could not store the message, try again"
        return f"250 OK queued as {ses_id}"


class SmtpServer:
    def __init__(self, receiver: MailReceiver, host: str, port: int) -> None:
        self.controller: Any = Controller(_Handler(receiver), hostname=host, port=port,
                                          server_hostname="inbound-smtp.text311.local", ready_timeout=5)
        self.host, self.port = host, port

    def start(self) -> None:
        self.controller.start()

    def stop(self) -> None:
        self.controller.stop()
