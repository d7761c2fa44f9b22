"""Agent answers by email → SMS to the resident: verified first, stripped, sent once, sticky.

Every check runs before anything reaches a phone, in the order that keeps forged mail from
costing us anything: the token and SES's verdicts need no I/O; the raw message is read only
once those pass. A rejected answer is logged with its reason and counted; its sender is told
why only when SES authenticated the sender (no backscatter to forged addresses) and a person
wrote it (robots are never answered). See docs/answers.md.
"""

from __future__ import annotations

import email
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.errors import ObsoleteHeaderDefect
from email.headerregistry import AddressHeader
from email.message import EmailMessage
from email.policy import default as default_policy
from email.utils import parseaddr
from enum import StrEnum
from functools import cache
from typing import TYPE_CHECKING, Any, Protocol

from pynamodb.exceptions import UpdateError

from text311.adapters.dynamodb import MessageModel
from text311.conversations import ConversationStore, municipality_of
from text311.i18n import catalog
from text311.observability import correlate, count_rejected_answer, logger, metrics, record_first_response
from text311.phone import mask
from text311.request_commands import (
    CommandRefused,
    FileRequest,
    RequestCommands,
    SetStatus,
    check_placement,
    split_commands,
)
from text311.tokens import InvalidToken, TokenSigner

if TYPE_CHECKING:
    from publicsuffixlist import PublicSuffixList

MAX_RAW_BYTES = 1_000_000  # an answer by SMS never needs more; attachments are not forwarded
_AUTO_SUBMITTED_HEADERS = ("X-Autoreply", "X-Autorespond", "X-Auto-Response-Suppress")
_LIST_HEADERS = ("List-Id", "List-Unsubscribe")
# Out-of-office replies that carry no Auto-Submitted header say so in the subject they put first
# (Outlook, Exchange, Lotus Notes, webmail vacation responders), in English or French.
_OUT_OF_OFFICE_SUBJECT = re.compile(
    r"\s*(automatic\s+reply|auto[\s-]?reply|auto[\s-]?response|out\s+of\s+(the\s+)?office(\s+auto[\s-]?reply)?|"
    r"r[ée]ponse\s+automatique|absente?\s+du\s+bureau|absence\s+du\s+bureau|auto)\s*(:|$)",
    re.IGNORECASE,
)
# A mail's own Date is trusted as the time of its answer only this close to SES's receipt.
_DATE_TRUSTED_WITHIN = timedelta(days=1)
# A command's notice claimed and not yet mailed for this long was claimed by an invocation that died: the inbound
# email function stops at 60 s (stacks/functions.py). Lambda retries SES's asynchronous event a minute after the
# failed invocation ended, then two minutes after that: one of them finds the claim older than this and mails it.
NOTICE_ABANDONED_AFTER = timedelta(seconds=90)
# A From header line as any reader may take it, including the old ``From :`` form Python's parser
# reads as a misplaced mbox envelope line and leaves out of the message's headers.
_FROM_LINE = re.compile(rb"^from[ \t]*:", re.IGNORECASE | re.MULTILINE)
_HEADER_BLOCK_END = re.compile(rb"\r?\n\r?\n")


class Rejection(StrEnum):
    BAD_TOKEN = "bad_token"
    UNAUTHENTICATED = "unauthenticated"
    SPAM = "spam"
    VIRUS = "virus"
    AUTO_REPLY = "auto_reply"
    DELIVERY_REPORT = "delivery_report"  # a bounce, delay or read receipt (multipart/report, null return path)
    BULK = "bulk"  # Precedence: bulk or junk
    MAILING_LIST = "mailing_list"  # List-Id, List-Unsubscribe, Precedence: list
    TOO_LARGE = "too_large"
    UNKNOWN_CONVERSATION = "unknown_conversation"
    NOT_ALLOWED = "not_allowed"
    CLOSED = "closed"
    OPTED_OUT = "opted_out"
    EMPTY = "empty"
    TOO_LONG = "too_long"
    UNDELIVERABLE = "undeliverable"
    IN_DOUBT = "in_doubt"
    CITY_CAP = "city_cap"
    BAD_COMMAND = "bad_command"  # a #request / #status line that cannot run (text311.request_commands)
    TRANSLATION_FAILED = "translation_failed"  # the engine failed, or a protected value did not come back


# Reasons we may explain to the sender, because SES authenticated who they are. Each has its text,
# "rejected_<reason>", in the "agents" section of every language file.
_EXPLAINED = frozenset(
    {
        Rejection.NOT_ALLOWED,
        Rejection.CLOSED,
        Rejection.OPTED_OUT,
        Rejection.EMPTY,
        Rejection.TOO_LONG,
        Rejection.UNDELIVERABLE,
        Rejection.IN_DOUBT,
        Rejection.CITY_CAP,
        Rejection.BAD_COMMAND,
        Rejection.TRANSLATION_FAILED,
    }
)


def rejection_notice(language: str, reason: Rejection, detail: str = "", cause: BaseException | None = None) -> str:
    """What the agent is told about an answer that was not sent, in the city's language. ``detail``
    is the sender's or carrier's own words; a reply too long for SMS (``cause``) is explained in
    numbers, which every language can say."""
    return catalog().agent_notice(
        language,
        f"rejected_{reason.value}",
        detail=detail,
        parts_needed=getattr(cause, "parts_needed", "?"),
        max_parts=getattr(cause, "max_parts", "?"),
    )


@dataclass(frozen=True)
class ReceivedMail:
    """What the SES receipt event tells us, before the message itself is read."""

    ses_message_id: str
    recipients: tuple[str, ...]
    header_from: tuple[str, ...]  # SES's own reading of the From header(s): ``mail.commonHeaders.from``
    return_path: str
    spf: str
    dkim: str
    dmarc: str
    spam: str
    virus: str
    received_at: datetime
    bucket: str
    object_key: str


# An answer's record in one of these states has been dealt with: a redelivery repeats its outcome.
SETTLED = frozenset({"queued", "sent", "failed", "in_doubt", "delivered", "undelivered"})
ACCEPTED = frozenset({"queued", "sent", "delivered", "undelivered"})  # ... and these reached the line


@dataclass(frozen=True)
class AnswerOutcome:
    sent: bool
    reason: str = "sent"
    conversation_id: str | None = None
    parts: int = 0
    wait_minutes: int | None = None  # queued behind others: "queued, about N minutes"


class RawMailStore(Protocol):
    def read(self, bucket: str, key: str, max_bytes: int) -> bytes | None: ...


class AnswerRejected(Exception):
    def __init__(self, reason: Rejection, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else str(reason))
        self.reason = reason
        self.detail = detail
        # The answer's #request / #status ran before its text was refused: the agent is told so,
        # lest answering again with the same lines files a second request.
        self.commands_ran = False


def authenticated(mail: ReceivedMail, from_domain: str) -> bool:
    """SPF or DKIM passes and DMARC does not fail; with no DMARC record for the domain (GRAY),
    SPF must pass for an envelope domain aligned with the From domain (same organisational
    domain, relaxed alignment as DMARC defines it)."""
    if mail.dmarc == "FAIL" or "PASS" not in (mail.spf, mail.dkim):
        return False
    if mail.dmarc == "PASS":
        return True
    envelope_domain = mail.return_path.rpartition("@")[2].lower().strip(">")
    return mail.spf == "PASS" and _aligned(envelope_domain, from_domain)


@cache
def _public_suffixes() -> PublicSuffixList:
    """The Public Suffix List snapshot the package ships (read from its own data file: only the
    package's separate ``update`` module downloads, and nothing here calls it). Built on first
    use: most mail has a DMARC verdict and never needs it."""
    from publicsuffixlist import PublicSuffixList

    return PublicSuffixList()


def organisational_domain(domain: str) -> str | None:
    """The registrable domain DMARC aligns on (RFC 7489 §3.2): one label under the public suffix,
    so ``ville.gatineau.qc.ca`` is ``gatineau.qc.ca``, not ``qc.ca``. None for a public suffix itself."""
    domain = domain.strip().rstrip(".").lower()
    return _public_suffixes().privatesuffix(domain) if domain else None


def _aligned(a: str, b: str) -> bool:
    org = organisational_domain(a)
    return org is not None and org == organisational_domain(b)


def machine_mail(mail: ReceivedMail, message: EmailMessage) -> Rejection | None:
    """Why a message was written by a robot, or None for a person's mail. Its text must never reach
    a resident, and it is never answered (robots answer robots: RFC 3834)."""
    return_path = str(message.get("Return-Path", "")).strip()
    if (
        message.get_content_type() == "multipart/report"
        or mail.return_path.strip() in ("", "<>")
        or return_path == "<>"
    ):
        return Rejection.DELIVERY_REPORT  # RFC 3464 and 8098 reports; RFC 5321 §4.5.5 null sender
    precedence = str(message.get("Precedence", "")).strip().lower()
    if precedence == "list" or any(name in message for name in _LIST_HEADERS):
        return Rejection.MAILING_LIST  # RFC 2919, 2369
    if precedence in ("bulk", "junk"):
        return Rejection.BULK
    auto = str(message.get("Auto-Submitted", "no")).strip().lower()
    if auto != "no" or precedence == "auto_reply" or any(name in message for name in _AUTO_SUBMITTED_HEADERS):
        return Rejection.AUTO_REPLY
    if _OUT_OF_OFFICE_SUBJECT.match(str(message.get("Subject", ""))):
        return Rejection.AUTO_REPLY
    return None


def answer_identity(mail: ReceivedMail, message: EmailMessage, conversation_id: str) -> tuple[str, datetime]:
    """The id and time an emailed answer is recorded and texted under, so that the same mail always
    finds the same record. SES gives each delivery its own message id and receipt time, so a mail
    delivered twice (a sender's retry, two routes) is known by its Message-ID in its conversation,
    at the time its own Date gives; without a Message-ID, by the SES message id and receipt time.
    The time is only a proposal for a mail known by its Message-ID: ``ConversationStore.answer_time``
    keeps the first delivery's, since a Date may be missing or too far from a later receipt."""
    try:
        message_id = str(message.get("Message-ID", "")).strip()
    except Exception:  # noqa: BLE001 - an unreadable Message-ID identifies nothing
        message_id = ""
    if message_id in ("", "<>"):
        return mail.ses_message_id, mail.received_at
    digest = hashlib.sha256(f"{conversation_id}\n{message_id}".encode()).hexdigest()[:32]
    return f"mail-{digest}", _written_at(message, mail.received_at)


def _written_at(message: EmailMessage, received_at: datetime) -> datetime:
    """The mail's Date when it is readable and close to its receipt, else SES's receipt time. A Date
    in ``-0000`` (UTC, with no claim about the writer's zone: RFC 5322 §3.3) parses without a zone."""
    try:
        written = getattr(message["Date"], "datetime", None)
    except Exception:  # noqa: BLE001 - an unreadable Date is no Date
        written = None
    if written is None:
        return received_at
    written = written.replace(tzinfo=UTC) if written.tzinfo is None else written.astimezone(UTC)
    return received_at if abs(written - received_at) > _DATE_TRUSTED_WITHIN else written


@dataclass
class AnswerService:
    store: ConversationStore
    raw_mail: RawMailStore
    signer: TokenSigner
    subscribers: Any  # .get(geonameid) -> Subscriber | None
    residents_opted_out: Callable[[str], bool]  # phone_hash -> opted out?
    decrypt_phone: Callable[[str], str]
    sms: Any  # SmsSender
    mailer: Any  # .send(EmailMessage) -> str
    extract_reply: Callable[[bytes], str]
    reply_domain: str
    sender_address: str
    mark_opted_out: Callable[[str], None] = field(default=lambda phone_hash: None)
    # (city geonameid, SMS parts) -> within the city's caps? Takes the allowance when it says yes.
    allow_outbound: Callable[[int, int], bool] = field(default=lambda city, parts: True)
    # (conversation, subscriber, text, to): a notice in the mail thread, to one agent (services.notify_thread)
    notify: Callable[..., None] = field(default=lambda conversation, subscriber, text, to=None: None)
    # #request / #status lines atop an emailed answer; None: such lines are refused as unknown commands.
    requests: RequestCommands | None = None
    # text311.audit.AuditLog: an emailed answer and each command it ran, recorded once (the console
    # records its own actions); None: no audit trail (the drainer's callbacks change no settings).
    audit: Any = None
    # Machine translation for the cities that opted in (text311.translation.Translations); None: never.
    translations: Any = None

    def handle(self, mail: ReceivedMail) -> AnswerOutcome:
        try:
            return self._handle(mail)
        except AnswerRejected as rejected:
            count_rejected_answer(rejected.reason)
            logger.warning(
                "agent answer rejected",
                extra={
                    "reason": rejected.reason.value,
                    "detail": rejected.detail,
                    "ses_message_id": mail.ses_message_id,
                },
            )
            return AnswerOutcome(False, rejected.reason.value)

    def _handle(self, mail: ReceivedMail) -> AnswerOutcome:
        correlate(None)
        conversation_id = self._conversation_id(mail.recipients)
        correlate(conversation_id)  # only once the token is verified: a forged one names nothing
        if mail.virus == "FAIL":
            raise AnswerRejected(Rejection.VIRUS)
        if mail.spam == "FAIL":
            raise AnswerRejected(Rejection.SPAM)
        raw = self.raw_mail.read(mail.bucket, mail.object_key, MAX_RAW_BYTES)
        if raw is None:
            raise AnswerRejected(Rejection.TOO_LARGE)
        message = email.message_from_bytes(raw, policy=default_policy)
        sender = _single_from(message)
        if sender is None or _from_lines(raw) != 1:
            raise AnswerRejected(Rejection.UNAUTHENTICATED, "From is not exactly one address")
        # SES authenticated the From it read: it must be the one we read, or we trust someone else's verdict.
        if len(mail.header_from) != 1 or _one_address(mail.header_from[0]) != sender:
            raise AnswerRejected(Rejection.UNAUTHENTICATED, "SES read another From")
        if not authenticated(mail, sender.rpartition("@")[2]):
            raise AnswerRejected(Rejection.UNAUTHENTICATED, mask_address(sender))
        robot = machine_mail(mail, message)
        if robot is not None:
            raise AnswerRejected(robot)  # counted, never explained: no mail goes back to a robot
        # From here on the sender is who they say they are: rejections are explained to them.
        try:
            return self._deliver(mail, message, raw, sender, conversation_id)
        except AnswerRejected as rejected:
            if rejected.reason in _EXPLAINED:
                self._explain(message, sender, rejected, self._language(municipality_of(conversation_id)))
            raise

    def _conversation_id(self, recipients: tuple[str, ...]) -> str:
        for address in recipients:
            try:
                return self.signer.verify(address, self.reply_domain)
            except InvalidToken:
                continue
        raise AnswerRejected(Rejection.BAD_TOKEN)

    def _deliver(
        self, mail: ReceivedMail, message: EmailMessage, raw: bytes, sender: str, conversation_id: str
    ) -> AnswerOutcome:
        municipality_id = municipality_of(conversation_id)
        subscriber = self.subscribers.get(municipality_id)
        conversation = self.store.get(municipality_id, conversation_id)
        if subscriber is None or conversation is None:
            raise AnswerRejected(Rejection.UNKNOWN_CONVERSATION, conversation_id)
        if not subscriber.allows_agent(sender):
            raise AnswerRejected(Rejection.NOT_ALLOWED)
        commands, text = split_commands(self.extract_reply(raw).strip())
        answer_id, at = answer_identity(mail, message, conversation_id)
        if answer_id != mail.ses_message_id:
            # Known by its Message-ID: every delivery of it, whenever SES received it, claims one key
            # (and audits its commands at one time).
            at = self.store.answer_time(conversation_id, answer_id, at)
        if commands:
            if text:
                # What refuses the text whatever the commands do, checked before they run: an
                # answer refused after filing would be answered again, and file a second request.
                if self._refused_unless_handled(conversation, answer_id, at) is None:
                    self._text_checks(text)
            self._run_commands(commands, conversation, subscriber, sender, answer_id, at)
            if not text:
                return AnswerOutcome(True, "commands", conversation_id)
        try:
            outcome = self.send_answer(
                conversation, sender, text, answer_id, at, channel="email", ses_message_id=mail.ses_message_id
            )
        except AnswerRejected as rejected:
            rejected.commands_ran = bool(commands)
            raise
        if outcome.sent:  # a redelivery too: the first may have stopped before its entry; one key for both
            from text311.audit import entry_id_of

            reason = "retried" if outcome.reason == "duplicate" else f"{outcome.reason}, {outcome.parts} SMS part(s)"
            self._audit(
                municipality_id, conversation_id, sender, "answer", f"email, {reason}", at, entry_id_of(answer_id)
            )
        return outcome

    def _audit(
        self,
        city_id: int,
        conversation_id: str,
        actor: str,
        action: str,
        detail: str,
        at: datetime | None = None,
        entry_id: str | None = None,
    ) -> None:
        """An audit entry for a change already made: a failure to write it never undoes the change.
        ``at`` and ``entry_id``: the answer's own time and id, recorded once by every delivery of it."""
        if self.audit is None:
            return
        try:
            self.audit.record(city_id, conversation_id, actor, action, detail, at or datetime.now(UTC), entry_id)
        except Exception as exc:  # noqa: BLE001 - the answer is sent; the trail's gap is logged and counted
            logger.error("audit entry not written", extra={"action": action, "error": type(exc).__name__})
            metrics.add_metric(name="AuditWriteFailed", unit="Count", value=1)

    def _refused_unless_handled(self, conversation: Any, external_id: str, at: datetime) -> AnswerOutcome | None:
        """None when the conversation takes answers; AnswerRejected (closed, opted out) when it does not,
        unless this answer was queued or sent before the close or the STOP and is delivered again (SES's
        retry, a retried click): then its first outcome, "duplicate", rather than a refusal the agent
        would read as "not sent". The answer's record is read only when a refusal is about to be given."""
        try:
            if conversation.status != "open":
                raise AnswerRejected(Rejection.CLOSED)
            if conversation.resident_opted_out or self.residents_opted_out(conversation.phone_hash):
                raise AnswerRejected(Rejection.OPTED_OUT)
        except AnswerRejected:
            record = self.store.recorded_message(conversation.conversation_id, external_id, at)
            if record is None or record.status not in SETTLED:
                raise
            return AnswerOutcome(record.status in ACCEPTED, "duplicate", conversation.conversation_id)
        return None

    def _text_checks(self, text: str) -> None:
        """``send_answer``'s refusals that depend on nothing but the text (the city's cap takes an
        allowance: it stays there), and the sender's length limit."""
        from text311.sms import ReplyTooLong, SmsSegmenter

        if not text.strip():
            raise AnswerRejected(Rejection.EMPTY)
        try:
            SmsSegmenter().split(text)  # the limit the direct and the queued sender both apply
        except ReplyTooLong as exc:
            raise AnswerRejected(Rejection.TOO_LONG, str(exc)) from exc

    def send_answer(
        self,
        conversation: Any,
        author: str,
        text: str,
        external_id: str,
        at: datetime,
        channel: str,
        ses_message_id: str | None = None,
    ) -> AnswerOutcome:
        """The one path from an agent's answer to the resident's phone, for email and console alike:
        open conversation, resident not opted out, non-empty text, recorded once, sent once.
        ``ses_message_id``: the received mail an emailed answer came in (erasure deletes it)."""
        conversation_id = conversation.conversation_id
        earlier = self._refused_unless_handled(conversation, external_id, at)
        if earlier is not None:
            return earlier
        if not text.strip():
            raise AnswerRejected(Rejection.EMPTY)
        record, new = self.store.claim_message(
            conversation_id,
            external_id,
            at,
            direction="out",
            channel=channel,
            body=text,
            author=author,
            ses_message_id=ses_message_id,
        )
        if not new and record.status in SETTLED:
            return AnswerOutcome(record.status in ACCEPTED, "duplicate", conversation_id)
        if not new and record.translation:
            # Translated by an earlier attempt, which may have queued it already: the same words, and
            # never a second engine call (nor a failure of one that would fail a queued answer).
            text = record.translation
        else:
            translation = self._translate_answer(conversation, text, record)
            if translation is not None:
                text = translation.text  # the SMS carries the translation; the record's body keeps the original
        if new and not self.allow_outbound(int(conversation.municipality_id), sms_parts(text)):
            record.update(actions=[type(record).status.set("failed")])
            metrics.add_metric(name="CityCapReached", unit="Count", value=1)
            raise AnswerRejected(Rejection.CITY_CAP, "per hour or per day")
        number = self.decrypt_phone(conversation.phone_encrypted)
        try:
            # The queued sender takes "kind" and "city" for the drainer's priority and fairness; the
            # rest comes back in End User Messaging's events and in the drainer's callbacks.
            result = self.sms.send(
                number,
                text,
                idempotency_key=external_id,
                # (the city is read from the conversation id: End User Messaging allows 3 caller entries)
                context={"conversation": conversation_id, "message": record.message_key, "kind": "agent"},
            )
        except Exception as exc:
            self._send_failed(record, conversation, exc)
            raise  # transient: the invocation is retried, then parked on the DLQ
        parts = getattr(result, "parts", 1)
        if not getattr(result, "queued", False):  # a direct sender (a test's fake): sent already
            record.update(actions=[MessageModel.status.set("sent")])
            self._sent(conversation, author, parts)
            return AnswerOutcome(True, "sent", conversation_id, parts)
        # Sent later by the drainer, which marks it sent and assigns the agent (answer_sent).
        record.update(actions=[MessageModel.status.set("queued")])
        wait = getattr(result, "wait_minutes", None)
        metrics.add_metric(name="AnswersQueued", unit="Count", value=1)
        logger.info(
            "agent answer queued for SMS",
            extra={
                "conversation_id": conversation_id,
                "resident": mask(number),
                "parts": parts,
                "channel": channel,
                "wait_minutes": wait,
            },
        )
        if wait and channel == "email":  # the console shows it with the outcome instead
            self._tell(conversation, author, lambda language: catalog().agent_notice(language, "queued", minutes=wait))
        return AnswerOutcome(True, "queued", conversation_id, parts, wait)

    def preview(self, conversation: Any, text: str) -> Any:
        """What the resident would receive for ``text``: its translation (text311.translation.Translation),
        or None when the conversation needs none. AnswerRejected when it cannot be translated.

        Each preview the engine translates is paid: it is kept as a preview item of the conversation
        (``_keep_preview``), whose characters text311.usage counts, and the same text previewed again
        or sent unchanged in the same month reuses it (``characters`` 0: paid once)."""
        return self._translation(conversation, text, keep=True)

    def _translation(self, conversation: Any, text: str, *, keep: bool) -> Any:
        from text311.translation import TranslationFailed

        found = self._answer_translation_needed(conversation)
        if found is None or (keep and conversation.status != "open"):
            return None  # (no answer can be sent to a closed conversation: no paid preview either)
        subscriber, language = found
        now = datetime.now(UTC)
        kept = _previewed(conversation.conversation_id, now, subscriber.language, language, text)
        if kept is not None:
            return kept
        try:
            done = self.translations.for_resident(text, language, subscriber)
        except Exception as exc:  # noqa: BLE001 - TranslationFailed, or an engine's unexpected error
            detail = str(exc) if isinstance(exc, TranslationFailed) else type(exc).__name__
            raise AnswerRejected(Rejection.TRANSLATION_FAILED, detail) from exc
        if keep and done is not None:
            self._keep_preview(conversation.conversation_id, now, language, text, done)
        return done

    def _keep_preview(self, conversation_id: str, now: datetime, language: str, text: str, done: Any) -> None:
        """The preview's translation as an item of the conversation's messages (direction ``preview``,
        no body: the draft is not a message), expiring and erased with them."""
        from text311.conversations import expiry

        try:
            MessageModel(
                conversation_id=conversation_id,
                message_key=preview_key(now, language, text),
                direction="preview",
                channel="console",
                body="",
                created_at=now,
                expires_at=expiry(now, self.store.retention_days),
                translation=done.text,
                translation_engine=done.engine,
                translation_language=done.target,
                translated_chars=done.characters,
            ).save()
        except Exception as exc:  # noqa: BLE001 - the agent still sees the preview; the gap is logged and counted
            logger.error("translation preview not recorded", extra={"error": type(exc).__name__})
            metrics.add_metric(name="TranslationNotRecorded", unit="Count", value=1)

    def _answer_translation_needed(self, conversation: Any) -> tuple[Any, str] | None:
        """(the city, the resident's language) when an answer in this conversation must be translated."""
        if self.translations is None:
            return None
        subscriber = self.subscribers.get(int(conversation.municipality_id))
        if subscriber is None or not getattr(subscriber, "translate", False):
            return None
        resident = self.store.resident(conversation.phone_hash)
        # The resident's language now (they may have switched since the thread opened), else the thread's.
        language = resident.state.language if resident is not None else str(conversation.language or "")
        return (subscriber, language) if self.translations.needed(subscriber, language) else None

    def _translate_answer(self, conversation: Any, text: str, record: Any) -> Any:
        """The answer's translation, kept on its record before anything is queued; None: none needed.
        A failed translation fails the answer: nothing reaches the phone, and the agent is told."""
        from text311.translation import translation_actions

        try:
            translation = self._translation(conversation, text, keep=False)
        except AnswerRejected:
            record.update(actions=[MessageModel.status.set("failed")])
            metrics.add_metric(name="TranslationFailed", unit="Count", value=1)
            raise
        if translation is not None:
            record.update(actions=translation_actions(MessageModel, translation))
            metrics.add_metric(name="TranslatedCharacters", unit="Count", value=translation.characters)
        return translation

    def _run_commands(
        self, commands: list, conversation: Any, subscriber: Any, sender: str, answer_id: str, at: datetime
    ) -> None:
        """Check every command, then run them; each one's text goes to the resident through the paced
        outbound path (not counted against the city's answer caps: one per command, from its agent)."""
        from text311.audit import entry_id_of

        try:
            check_placement(commands, subscriber.language)
            if self.requests is None:
                raise CommandRefused(
                    catalog().agent_text(
                        subscriber.language, "command_unknown", command=", ".join(_command_words(commands))
                    )
                )
            self.requests.check(commands, conversation, subscriber)
            done = self.requests.run(commands, conversation, subscriber, sender, answer_id)
        except CommandRefused as refused:
            raise AnswerRejected(Rejection.BAD_COMMAND, refused.detail) from None
        opted_out = conversation.resident_opted_out or self.residents_opted_out(conversation.phone_hash)
        city = str(int(conversation.municipality_id))
        for command in done:
            request = command.request
            change = "filed" if len(request.history) == 1 else f"now {request.status}"
            # Written by every delivery, under one id at the answer's time: stored once, even when the
            # delivery that told the agent stopped before its entry.
            self._audit(
                int(conversation.municipality_id),
                conversation.conversation_id,
                sender,
                "request",
                f"{request.reference} ({request.service_code}) {change}, by email",
                at,
                entry_id_of(command.notice_key),
            )
            # Claimed before it is told: told once, even by a redelivery or a concurrent delivery;
            # an earlier delivery that filed and stopped before this point leaves it to this one.
            store = self.requests.store
            if store.claim_once(city, command.notice_key, request.reference, abandoned_after=NOTICE_ABANDONED_AFTER):
                logger.info(
                    "request command run",
                    extra={
                        "conversation_id": conversation.conversation_id,
                        "reference": request.reference,
                        "status": request.status,
                    },
                )
                metrics.add_metric(name="RequestCommands", unit="Count", value=1)
                try:
                    self._tell(conversation, sender, command.agent_notice)
                except Exception:
                    # Given back, so that SES's retry of this mail tells the agent (the claim kept would
                    # make the retry skip the notice for good).
                    store.release_claim(city, command.notice_key)
                    raise
                store.finish_claim(city, command.notice_key)
            if opted_out:
                continue
            # Queued again on a redelivery: the outbound ledger knows the key and texts it once.
            self.sms.send(
                self.decrypt_phone(conversation.phone_encrypted),
                command.resident_text,
                idempotency_key=command.key,
                context={"conversation": conversation.conversation_id, "kind": "dialog"},
            )

    # -- the drainer's callbacks (text311.outbound.drainer) ---------------------------------------

    def answer_sent(self, message: Any, at: float) -> None:
        """The drainer sent a queued SMS: an agent's answer is marked sent, its agent assigned."""
        found = self._queued_answer(message)
        if found is None:
            return
        conversation, record = found
        _set_status_once(record, "sent")  # a delivery event may have come first: never overwrite it
        # once: the drainer calls once; written_at: a transfer since then keeps the conversation where it went
        self._sent(conversation, str(record.author or ""), int(message.parts), written_at=record.created_at)

    def answer_failed(self, message: Any, reason: Any) -> None:
        """The drainer gave up on a queued SMS (``FailureReason``): recorded, and the agent told once."""
        found = self._queued_answer(message)
        if found is None:
            logger.warning("queued SMS not sent", extra={"outbound_id": message.id, "reason": str(reason)})
            return
        conversation, record = found
        rejection = _REJECTION_OF.get(str(reason), Rejection.UNDELIVERABLE)
        if self._settle_failure(record, conversation, rejection):
            count_rejected_answer(rejection)
            self._tell(conversation, record.author, lambda language: rejection_notice(language, rejection, str(reason)))

    def _queued_answer(self, message: Any) -> tuple[Any, Any] | None:
        context = getattr(message, "context", None) or {}
        conversation_id, key = context.get("conversation"), context.get("message")
        if not conversation_id or not key:
            return None  # a dialog or keyword SMS: no answer record to update
        correlate(conversation_id)
        conversation = self.store.get(municipality_of(conversation_id), conversation_id)
        record = MessageModel.get(conversation_id, key) if conversation is not None else None
        return (conversation, record) if record is not None else None

    def _sent(self, conversation: Any, author: str, parts: int, written_at: datetime | None = None) -> None:
        if author:
            self._assign(conversation, author, written_at)
        metrics.add_metric(name="AnswersSent", unit="Count", value=1)
        metrics.add_metric(name="SmsSegmentsSent", unit="Count", value=parts)
        logger.info("agent answer sent by SMS", extra={"conversation_id": conversation.conversation_id, "parts": parts})

    def _tell(self, conversation: Any, agent: str | None, text_in: Callable[[str], str]) -> None:
        """A notice in the thread to the agent who wrote the answer (the owner or the city's inbox
        when the answer has no author), written by ``text_in`` in the city's language."""
        subscriber = self.subscribers.get(int(conversation.municipality_id))
        if subscriber is not None:
            self.notify(conversation, subscriber, text_in(subscriber.language), to=agent or None)

    def _language(self, municipality_id: int) -> str:
        """The city's language for what is written to its agents."""
        subscriber = self.subscribers.get(municipality_id)
        return subscriber.language if subscriber is not None else catalog().default

    def _send_failed(self, record: Any, conversation: Any, exc: Exception) -> None:
        """Map the SMS sender's errors: permanent ones are recorded and explained, never retried."""
        from text311.adapters.sms_sender import PermanentSendFailure, RecipientOptedOut, SendInDoubt
        from text311.sms import ReplyTooLong

        for kind, rejection in (
            (RecipientOptedOut, Rejection.OPTED_OUT),
            (ReplyTooLong, Rejection.TOO_LONG),
            (SendInDoubt, Rejection.IN_DOUBT),
            (PermanentSendFailure, Rejection.UNDELIVERABLE),
        ):
            if isinstance(exc, kind):
                self._settle_failure(record, conversation, rejection)
                raise AnswerRejected(rejection, "" if rejection is Rejection.OPTED_OUT else str(exc)) from exc

    def _settle_failure(self, record: Any, conversation: Any, rejection: Rejection) -> bool:
        """What an answer that cannot be sent leaves behind, whether the sender refused it now or the
        drainer later: an opted-out resident is flagged on the conversation and the opt-out list; an
        answer that may have gone out is ``in_doubt`` (never resent: at most once); any other is
        ``failed``. False when the record was settled before (the agent was told then)."""
        if not _set_status_once(record, "in_doubt" if rejection is Rejection.IN_DOUBT else "failed"):
            return False
        if rejection is Rejection.OPTED_OUT:
            conversation.update(actions=[type(conversation).resident_opted_out.set(True)], add_version_condition=False)
            try:
                self.mark_opted_out(conversation.phone_hash)
            except Exception as exc:  # noqa: BLE001 - the conversation's flag already stops later answers
                logger.error("opt-out not recorded on the resident", extra={"error": f"{type(exc).__name__}: {exc}"})
        return True

    def _assign(self, conversation: Any, sender: str, written_at: datetime | None = None) -> None:
        """The first verified agent to answer owns the conversation; later answers by others are
        accepted and noted in the thread. An answer written (``written_at``) before the conversation's last
        transfer and sent after it takes nothing: the agent transferred it, to someone or to a department."""
        model = type(conversation)
        # No version condition in these updates: a text or a console change landing since this conversation
        # was read must not cost the answer its owner (each update has the condition it needs).
        if not conversation.first_response_at:
            answered_at = datetime.now(UTC)
            try:
                conversation.update(
                    actions=[model.first_response_at.set(answered_at)],
                    condition=model.first_response_at.does_not_exist(),
                    add_version_condition=False,
                )
                waited = (answered_at - conversation.opened_at).total_seconds()
                record_first_response(int(conversation.municipality_id), waited)
            except UpdateError as exc:
                if exc.cause_response_code != "ConditionalCheckFailedException":
                    raise
                conversation.refresh()  # another answer was first, and counted
        owner = self._owner(conversation)
        transferred_since = written_at is not None and (conversation.transferred_at or written_at) > written_at
        if owner is None and transferred_since:
            return
        if owner is None:  # no owner, or a stored one that is not one agent of the city: free to take
            stored = conversation.owner_email
            free = model.owner_email.does_not_exist()
            if stored:
                free = free | (model.owner_email == stored)
            if written_at is not None:  # nor transferred between this read and the update
                free = free & (model.transferred_at.does_not_exist() | (model.transferred_at <= written_at))
            try:
                conversation.update(
                    actions=[model.owner_email.set(sender)], condition=free, add_version_condition=False
                )
                return
            except Exception:  # noqa: BLE001 - someone else claimed it first; fall through to the note
                conversation.refresh()
                owner = self._owner(conversation)
        if owner is not None and owner != sender.strip().lower():
            self.store.claim_message(
                conversation.conversation_id,
                f"note-{datetime.now(UTC).timestamp()}",
                datetime.now(UTC),
                direction="note",
                channel="email",
                body=catalog().agent_text(
                    self._language(int(conversation.municipality_id)), "answered_by", sender=sender, owner=owner
                ),
                author=sender,
            )

    def _owner(self, conversation: Any) -> str | None:
        """The conversation's owner when it is one agent of its city (``Subscriber.agent_owner``);
        the stored value as it is when the city is gone and no rule can be read."""
        subscriber = self.subscribers.get(int(conversation.municipality_id))
        stored: str | None = conversation.owner_email
        return subscriber.agent_owner(stored) if subscriber is not None else stored

    def _explain(self, message: EmailMessage, sender: str, rejected: AnswerRejected, language: str) -> None:
        notice = EmailMessage()
        notice["From"] = self.sender_address
        notice["To"] = sender
        subject = str(message.get("Subject", ""))
        notice["Subject"] = subject if subject.lower().startswith("re:") else f"Re: {subject}".strip()
        if message.get("Message-ID"):
            notice["In-Reply-To"] = str(message["Message-ID"])
            notice["References"] = f"{message.get('References', '')} {message['Message-ID']}".strip()
        notice["Auto-Submitted"] = "auto-replied"  # RFC 3834: robots must not answer this
        text = rejection_notice(language, rejected.reason, rejected.detail, rejected.__cause__)
        if rejected.commands_ran:
            text = f"{text}\n\n{catalog().agent_text(language, 'rejected_after_commands')}"
        notice.set_content(text)
        self.mailer.send(notice)


# The drainer's FailureReason (text311.outbound.errors) → what the agent is told.
_REJECTION_OF = {"opted_out": Rejection.OPTED_OUT, "in_doubt": Rejection.IN_DOUBT}
_OPEN_STATUSES = ("pending", "queued")


def _set_status_once(record: Any, status: str) -> bool:
    """Move an answer out of ``pending``/``queued`` once: False when something settled it before."""
    from pynamodb.exceptions import UpdateError

    try:
        record.update(actions=[MessageModel.status.set(status)], condition=MessageModel.status.is_in(*_OPEN_STATUSES))
        return True
    except UpdateError as exc:
        if exc.cause_response_code != "ConditionalCheckFailedException":
            raise
        return False


def _single_from(message: EmailMessage) -> str | None:
    """The one author a message names, or None. DMARC authenticates one From address, so a mail
    that names more (two From headers, a list, a group) or that the parser had to guess at
    (``agent@city <mallory@evil>`` reads as agent@city with a defect) names no one we can trust.
    Obsolete syntax RFC 5322 §4 requires readers to accept (an unquoted ``J. Smith``) is no defect;
    nor is 8-bit UTF-8 in the header (RFC 6532), read as UTF-8."""
    values = [value for name, value in message.raw_items() if name.lower() == "from"]
    if len(values) != 1 or not isinstance(values[0], str):
        return None
    return _one_address(_as_utf8(values[0]))


def _as_utf8(value: str) -> str:
    """A header value parsed from bytes, its 8-bit bytes (kept as surrogates) read as UTF-8; as it
    was when they are not UTF-8 (the parser then reports them as a defect)."""
    try:
        return value.encode("utf-8", "surrogateescape").decode("utf-8")
    except UnicodeError:
        return value


def _one_address(value: str) -> str | None:
    """The one address a From header's value names, lower-cased, or None (see ``_single_from``)."""
    try:
        header = default_policy.header_factory("From", re.sub(r"[\r\n]", "", value))
        if not isinstance(header, AddressHeader):
            return None
        defects = [d for d in getattr(header, "defects", ()) if not isinstance(d, ObsoleteHeaderDefect)]
        groups = header.groups
    except Exception:  # noqa: BLE001 - a From the parser cannot read names no one
        return None
    if defects or len(groups) != 1 or groups[0].display_name is not None or len(groups[0].addresses) != 1:
        return None
    address = groups[0].addresses[0]
    if not address.username or not address.domain:
        return None
    return str(address.addr_spec).lower()


def _from_lines(raw: bytes) -> int:
    """From header lines in the raw header block, in any form a reader (SES's DMARC check among
    them) may take as one, whether or not Python's parser keeps it."""
    return len(_FROM_LINE.findall(_HEADER_BLOCK_END.split(raw, maxsplit=1)[0]))


def mask_address(address: str) -> str:
    name, _, domain = parseaddr(address)[1].partition("@")
    return f"{name[:1]}***@{domain}" if domain else "***"


def _command_words(commands: list) -> list[str]:
    names = {FileRequest: "#request", SetStatus: "#status"}
    return [getattr(c, "word", None) or names[type(c)] for c in commands]


def preview_key(now: datetime, language: str, text: str) -> str:
    """A preview item's message key: the UTC month first, so that text311.usage's Query of the month's
    messages counts it; then the text and its target language, so that the same text finds it again."""
    digest = hashlib.sha256(f"{language}\n{text}".encode()).hexdigest()[:32]
    return f"{now.astimezone(UTC):%Y-%m}-preview#{digest}"


def _previewed(conversation_id: str, now: datetime, source: str, language: str, text: str) -> Any:
    """The translation kept by a preview of the same text this month (``characters`` 0: paid then)."""
    from pynamodb.exceptions import DoesNotExist

    from text311.translation import Translation

    try:
        item = MessageModel.get(conversation_id, preview_key(now, language, text))
    except DoesNotExist:
        return None
    if not item.translation:
        return None
    return Translation(item.translation, source, language, str(item.translation_engine), 0)


def sms_parts(text: str) -> int:
    """SMS the sender will send for ``text`` (what a city's cap counts)."""
    from text311.sms import SmsSegmenter

    return max(1, SmsSegmenter().count(text).parts)
