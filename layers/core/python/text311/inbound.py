"""Inbound SMS: one resident text in, the right city's inbox and the resident's answer out."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from text311.adapters.phone_vault import PhoneVault
from text311.conversations import ConversationStore, Mailed, ResidentRecord, new_conversation_id
from text311.dialog import Dialog, State, Turn
from text311.guided_intake import asks_where, claim_question
from text311.keywords import Keyword, classify_keyword, request_reference
from text311.limits import FloodLimiter, Window
from text311.mail import ThreadMail, build_thread_mail, ses_reference, thread_subject
from text311.mail_confirmations import mail_tags
from text311.observability import correlate, logger, metrics
from text311.opening_hours import spoken_opening
from text311.phone import InvalidPhoneNumber, classify, mask, normalize_e164
from text311.request_hints import RequestHints, hint_lines
from text311.request_status import StatusAnswers
from text311.satisfaction import parse_score, record_score_metric
from text311.tokens import TokenSigner
from text311.visible_text import visible_text


class UnknownDestination(ValueError):
    """The text was sent to a number that is not this deployment's: nothing to route it by."""


class BadOrigin(ValueError):
    """The sender is not a phone number we can answer."""


@dataclass(frozen=True)
class InboundSms:
    """A two-way SMS as End User Messaging publishes it, with the SNS publish time."""

    message_id: str  # inboundMessageId
    origination: str  # the resident
    destination: str  # our number
    body: str
    received_at: datetime
    keyword: str | None = None


@dataclass(frozen=True)
class Outcome:
    event: str
    conversation_id: str | None = None
    emails: int = 0
    replies: int = 0


class Mailer(Protocol):
    def send(self, message: Any, tags: dict[str, str] | None = None) -> str: ...


class SmsSenderLike(Protocol):
    def send(
        self, destination: str, body: str, *, idempotency_key: str, context: dict[str, str] | None = None
    ) -> Any: ...


class SubscriberSource(Protocol):
    def get(self, geonameid: int) -> Any: ...


def clean_body(text: str) -> str:
    """A text as stored and mailed: as the resident wrote it, minus invisible controls (which can
    hide content in a mail client), every line break a newline (text311.visible_text)."""
    return visible_text(text)


@dataclass
class InboundSmsService:
    store: ConversationStore
    vault: PhoneVault
    subscribers: SubscriberSource
    dialog: Dialog
    mailer: Mailer
    sms: SmsSenderLike
    signer: TokenSigner
    sender_address: str
    reply_domain: str
    region: str
    countries: frozenset[str]
    our_numbers: frozenset[str] = frozenset()
    console_url: str = ""
    # resolve(text, country, phone): lets the resolver use the area code to break ties.
    phone_resolver: Callable[[str, str | None, str], Any] | None = None
    # None: no flood limit (and no counter read or write).
    flood: FloodLimiter | None = None
    # The suggested category and place shown atop each mail; None: no hint.
    hints: RequestHints | None = None
    # Answers a resident's STATUS text; None: STATUS is an ordinary text.
    status: StatusAnswers | None = None
    # Machine translation for the cities that opted in (text311.translation.Translations); None: never.
    translations: Any = None
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))

    def handle(self, sms: InboundSms) -> Outcome:
        if self.our_numbers and _e164_or_none(sms.destination) not in self.our_numbers:
            raise UnknownDestination(f"destination {mask(sms.destination)} is not a Text311 number here")
        try:
            number = normalize_e164(sms.origination)
        except InvalidPhoneNumber as exc:
            raise BadOrigin(f"origination {mask(sms.origination)} is not a phone number") from exc
        log = {"resident": mask(number), "inbound_message_id": sms.message_id}
        correlate(None)  # set once the text belongs to a conversation
        check = classify(number, self.countries)
        if not check.allowed:
            # SMS pumping protection: a number from elsewhere (+1 876 is Jamaica) or of a premium or
            # special type (+1 900) is neither answered nor forwarded; the outbound guard agrees.
            from text311.sms_guards import count_refused_number

            count_refused_number(number, check, "inbound", inbound_message_id=sms.message_id)
            return Outcome("refused_number")
        country = check.country

        body = clean_body(sms.body)
        phone_hash = self.vault.hash(number)
        window = self.flood.window(phone_hash, sms.received_at) if self.flood else None
        texts_so_far = 0
        if window is None:
            record = self.store.resident(phone_hash)
        else:
            record, texts_so_far = self.store.resident_and_count(phone_hash, window)
        if record is not None and sms.message_id in (record.item.handled or ()):
            # Its turn was saved already; Powertools could not record that it completed. Running it
            # again would hold a text twice or read "Gatineau" as a report.
            logger.info("text already handled: redelivery ignored", extra=log)
            return Outcome("duplicate")
        if window is not None and self.flood and not self.flood.allows(texts_so_far):
            if not self.dialog.is_consent_keyword(body):
                return self._hold(record, window, sms, body, number)
        if record is not None and not record.state.opted_out and record.state.state is State.CONNECTED:
            # (A resident choosing among numbered places answers with a digit too: that is a choice.)
            scored = self._survey_reply(record, sms, body)
            if scored is not None:
                return scored
        if self.status is not None:
            status = self._status(record, sms, body, number, window)
            if status is not None:
                return status
        is_new = record is None
        if record is None:
            record = self.store.new_resident(phone_hash, self.vault.encrypt(number))
        dialog = self.dialog
        if self.phone_resolver is not None:
            resolver = self.phone_resolver
            dialog = replace(dialog, resolve=lambda text, hint: resolver(text, hint, number))
        turn = dialog.handle(record.state, body, country_hint=country)
        if turn.dropped:
            logger.warning("too many texts held before a city was chosen", extra={**log, "dropped": turn.dropped})
        logger.info("dialog turn", extra={**log, "event": turn.event, "urgent": turn.urgent})
        metrics.add_metric(name="InboundSms", unit="Count", value=1)

        conversation_id, emails, closed_notice, ask_where = None, 0, None, None
        changed = record.apply(turn.state)
        must_save = is_new or changed
        uncounted = window
        if turn.forwards:
            # An unchanged resident's activity and the flood count ride on the thread's write.
            thread_before = record.item.conversation_id
            conversation_id, emails, counted, closed_notice, ask_where = self._forward(
                record, turn, sms, number, refresh=None if must_save else record, count=window
            )
            uncounted = None if counted else window
            # A new thread (the old one idle), or nothing written (all redelivered): save as before.
            must_save = must_save or record.item.conversation_id != thread_before or not counted
        if must_save:
            self.store.save_resident(record, sms.received_at, count=uncounted, handled_id=sms.message_id)
        elif uncounted is not None:
            self.store.count(uncounted)
        replies = self._reply(number, record, turn, sms.message_id)
        if closed_notice and conversation_id and not record.state.opted_out:
            # After the dialog's replies (the 911 notice goes first); keyed on the conversation, so
            # a redelivery or a later text of it sends nothing more.
            replies += self._send(
                number,
                closed_notice,
                f"{conversation_id}:closed",
                sms.message_id,
                kind="dialog",
                city=record.state.municipality_id,
            )
        if ask_where is not None and not record.state.opted_out:
            replies += self._ask_where(number, ask_where, turn.state.language, sms, record.state.municipality_id)
        return Outcome(turn.event, conversation_id, emails, replies)

    # -- satisfaction -----------------------------------------------------------------------------

    def _survey_reply(self, record: ResidentRecord, sms: InboundSms, body: str) -> Outcome | None:
        """A 1-5 reply to the survey of the resident's conversation just closed: recorded against
        it and its agent, never forwarded. None: not such a reply, the text goes on as any other."""
        score = parse_score(body)
        if score is None:
            return None  # read nothing more: most texts are not a score
        conversation = self.store.awaiting_score(record, sms.received_at)
        if conversation is None:
            return None
        correlate(conversation.conversation_id)
        if conversation.survey_reply_id == sms.message_id:
            return Outcome("duplicate", conversation.conversation_id)  # recorded by an earlier delivery
        if not self.store.record_satisfaction(conversation, score, sms.message_id):
            return None  # scored already by another text: this one is an ordinary text
        city = int(conversation.municipality_id)
        logger.info("survey reply recorded", extra={"conversation_id": conversation.conversation_id, "score": score})
        record_score_metric(city, score)
        return Outcome("survey_reply", conversation.conversation_id)

    # -- STATUS -----------------------------------------------------------------------------------

    def _status(
        self, record: ResidentRecord | None, sms: InboundSms, body: str, number: str, window: Window | None
    ) -> Outcome | None:
        """The answer to a STATUS text (never mailed to the city); None: not such a text. Counted
        in the resident's flood window first, so STATUS texts past the limit are held as any other."""
        assert self.status is not None
        keyword, rest = classify_keyword(body, self.dialog.catalog)
        if keyword is not Keyword.STATUS:
            return None
        if window is not None:
            self.store.count(window)
        if record is not None and record.state.opted_out:
            return Outcome("status")  # no SMS reaches an opted-out number
        language = record.state.language if record is not None else _keyword_language(self.dialog.catalog, body)
        phone_hash = record.item.phone_hash if record is not None else self.vault.hash(number)
        text = self.status.answer(phone_hash, language, request_reference(rest) if rest else None)
        city = record.state.municipality_id if record is not None else None
        metrics.add_metric(name="StatusAsked", unit="Count", value=1)
        return Outcome(
            "status",
            None,
            0,
            self._send(number, text, f"{sms.message_id}:status", sms.message_id, kind="dialog", city=city),
        )

    # -- flood ------------------------------------------------------------------------------------

    def _hold(self, record: ResidentRecord | None, window: Window, sms: InboundSms, body: str, number: str) -> Outcome:
        """A text beyond the resident's limit for this minute: kept in their conversation as
        ``throttled`` (or, with no conversation yet, logged by id), counted, never mailed. The
        first held text of the window answers with one notice."""
        assert self.flood is not None
        log = {"resident": mask(number), "inbound_message_id": sms.message_id}
        conversation_id = record.item.conversation_id if record is not None else None
        correlate(conversation_id)
        if conversation_id and body:
            self.store.hold_message(conversation_id, sms.message_id, sms.received_at, body)
        logger.warning("text held: resident over the flood limit", extra={**log, "conversation_id": conversation_id})
        metrics.add_metric(name="FloodThrottled", unit="Count", value=1)
        first = self.flood.hold(window, sms.message_id)
        replies = 0
        if first and record is not None and not record.state.opted_out:
            notice = self.dialog.catalog.message(record.state.language, "flood_throttled", limit=self.flood.per_minute)
            replies = self._send(
                number,
                notice,
                f"{sms.message_id}:flood",
                sms.message_id,
                kind="failure_notice",
                city=record.state.municipality_id,
            )
        return Outcome("throttled", conversation_id, 0, replies)

    # -- to the city ------------------------------------------------------------------------------

    def _forward(
        self,
        record: ResidentRecord,
        turn: Turn,
        sms: InboundSms,
        number: str,
        *,
        refresh: ResidentRecord | None,
        count: Window | None,
    ) -> tuple[str, int, bool, str | None, Any]:
        """Mail each forwarded text into the thread. Returns (conversation id, mails sent, whether
        ``refresh`` and ``count`` were written: they go with the last text's record, the notice
        for a conversation opened while the city is closed, the conversation just opened when its
        resident is to be asked where it is: guided intake)."""
        municipality_id = turn.state.municipality_id
        if municipality_id is None:
            raise ValueError("forward without a municipality")
        subscriber = self.subscribers.get(municipality_id)
        if subscriber is None:
            raise LookupError(f"subscriber {municipality_id} is gone")
        now = sms.received_at
        conversation = self.store.current(record, municipality_id, now)
        closed_notice, ask_where = None, False
        if conversation is None:
            # Named after the resident and the thread it follows, not after this text: every text
            # that finds no open thread before the resident is saved (a redelivery, a text that
            # overtook it) opens the same one, where SES's confirmation of an earlier mail waits.
            follows = f"{record.item.phone_hash}#{record.item.conversation_id or ''}"
            conversation_id = new_conversation_id(municipality_id, opened_by=follows)
            subject = thread_subject(conversation_id, subscriber.display_name, turn.forwards[0], subscriber.language)
            conversation = self.store.open(
                record, conversation_id, subject, turn.state.language, now, phone_masked=mask(number)
            )
            refresh = None  # the resident now points at a new thread: the caller saves it whole
            try:
                closed_notice = self._closed_notice(subscriber, turn.state.language, now)
            except Exception as exc:  # noqa: BLE001 - a notice must never cost the city the resident's text
                logger.error(
                    "closed notice not built",
                    extra={"municipality": municipality_id, "error": f"{type(exc).__name__}: {exc}"},
                )
            ask_where = asks_where(subscriber, turn.event, turn.urgent, turn.forwards)
        correlate(conversation.conversation_id)
        sent, written = 0, False
        last = len(turn.forwards) - 1
        forwards = zip(turn.forwards, turn.urgent_forwards, _forward_ids(sms.message_id, turn), strict=True)
        for index, (text, urgent, external_id) in enumerate(forwards):
            if self.store.mailed_already(conversation, external_id):
                continue  # done by an earlier delivery of this same text
            final = index == last
            self._email(
                conversation,
                subscriber,
                external_id,
                text,
                urgent,
                turn,
                mask(number),
                now + timedelta(milliseconds=index),
                resident=refresh if final else None,
                count=count if final else None,
            )
            written = written or final
            sent += 1
        return conversation.conversation_id, sent, written, closed_notice, conversation if ask_where else None

    def _closed_notice(self, subscriber: Any, language: str, at: datetime) -> str | None:
        """The notice for a text that opens a conversation outside the city's hours, else None."""
        if not subscriber.is_closed(at):
            return None
        opens = subscriber.opening_hours.next_opening(at)
        if opens is None:
            logger.warning(
                "city closed with no opening within a year: no notice", extra={"municipality": subscriber.geonameid}
            )
            return None
        catalog = self.dialog.catalog
        return catalog.message(
            language, "closed", city=subscriber.display_name, opens=spoken_opening(catalog, language, opens)
        )

    def _ask_where(self, number: str, conversation: Any, language: str, sms: InboundSms, city: int | None) -> int:
        """Guided intake's one question, after the text was mailed: noted on the conversation first
        (conditionally), so no delivery of any of its texts asks again; keyed on the conversation."""
        try:
            if not claim_question(conversation, sms.received_at):
                return 0
            text = self.dialog.catalog.message(language, "where_is_it")
        except Exception as exc:  # noqa: BLE001 - the text is with the city: a lost question costs nothing
            logger.error("location question not sent", extra={"error": f"{type(exc).__name__}: {exc}"})
            return 0
        metrics.add_metric(name="LocationAsked", unit="Count", value=1)
        key = f"{conversation.conversation_id}:where"
        return self._send(number, text, key, sms.message_id, kind="dialog", city=city)

    def _email(
        self,
        conversation: Any,
        subscriber: Any,
        external_id: str,
        text: str,
        urgent: bool,
        turn: Turn,
        masked_phone: str,
        now: datetime,
        *,
        resident: ResidentRecord | None = None,
        count: Window | None = None,
    ) -> None:
        owner = subscriber.agent_owner(conversation.owner_email)  # not one agent of the city: the inbox
        # Its owner, else its department's inbox (text311.departments), else the city's contact addresses.
        to, cc = subscriber.recipients(owner, getattr(conversation, "department", None))
        mail = ThreadMail(
            conversation_id=conversation.conversation_id,
            sequence=int(conversation.message_count) + 1,
            subject=conversation.subject,
            sender=self.sender_address,
            to=to,
            cc=cc,
            reply_to=self.signer.address(conversation.conversation_id, self.reply_domain),
            city=subscriber.display_name,
            masked_phone=masked_phone,
            body=text,
            received_at=now,
            time_zone=subscriber.time_zone,
            console_url=self.console_url,
            urgent=urgent,
            resident_opted_out=turn.state.opted_out,
            references=tuple(conversation.references or ()),
            in_reply_to=conversation.last_message_id,
            domain=self.reply_domain,
            language=subscriber.language,
            hint=self._hint(text, turn.state.language, subscriber),
        )
        entry = self.store.inbound_entry(external_id, now)
        ses_id = self.store.confirmed_mail(conversation, external_id)
        translation = None
        if ses_id is None:
            translation, mail = self._translated(mail, text, turn.state.language, subscriber)
            ses_id = self.mailer.send(build_thread_mail(mail), tags=mail_tags(conversation.conversation_id, entry))
        else:
            # An earlier delivery mailed it and stopped before recording it: SES's Send event says so.
            logger.info(
                "mail confirmed by SES, recorded without sending",
                extra={"conversation_id": conversation.conversation_id, "ses_message_id": ses_id},
            )
        references = list(mail.references) + [mail.message_id]
        if not conversation.first_message_id:
            # SES may have replaced our Message-ID: the thread's root is known under both.
            references.append(ses_reference(ses_id, self.region))
        message = self.store.record_mailed(
            conversation,
            Mailed(
                external_id=external_id,
                received_at=now,
                body=text,
                urgent=urgent,
                email_message_id=mail.message_id,
                ses_message_id=ses_id,
                references=references,
            ),
            resident=resident,
            count=count,
        )
        if translation is not None:
            from text311.translation import record_translation

            record_translation(message, translation)
        logger.info(
            "mailed the city",
            extra={
                "conversation_id": conversation.conversation_id,
                "ses_message_id": ses_id,
                "urgent": urgent,
            },
        )
        metrics.add_metric(name="EmailsToCity", unit="Count", value=1)

    def _translated(self, mail: ThreadMail, text: str, language: str, subscriber: Any) -> tuple[Any, ThreadMail]:
        """The text's machine translation into the city's language, and the mail showing it under the
        original; the mail says why when there is none. A failed translation never costs the city the text."""
        from text311.translation import TranslationFailed

        if self.translations is None or not self.translations.needed(subscriber, language):
            return None, mail
        words = self.dialog.catalog
        known = words.languages.get(language)
        name = known.name if known is not None and known.name else language
        try:
            done = self.translations.for_agents(text, language, subscriber)
        except Exception as exc:  # noqa: BLE001 - TranslationFailed, or an engine's unexpected error
            detail = str(exc) if isinstance(exc, TranslationFailed) else type(exc).__name__
            logger.warning("text not translated for the city", extra={"error": type(exc).__name__})
            metrics.add_metric(name="TranslationFailed", unit="Count", value=1)
            label = words.agent_text(subscriber.language, "translation_unavailable", language_name=name, detail=detail)
            return None, replace(mail, translation_label=label)
        metrics.add_metric(name="TranslatedCharacters", unit="Count", value=done.characters)
        label = words.agent_text(subscriber.language, "machine_translation", engine=done.engine, language_name=name)
        return done, replace(mail, translation_label=label, translation=done.text)

    def _hint(self, text: str, language: str, subscriber: Any) -> tuple[str, ...]:
        if self.hints is None:
            return ()
        try:
            return tuple(hint_lines(self.hints.for_text(text, language, subscriber), subscriber.language, language))
        except Exception as exc:  # noqa: BLE001 - a hint must never cost the city the resident's text
            logger.error("request hint not built", extra={"error": f"{type(exc).__name__}: {exc}"})
            return ()

    # -- to the resident --------------------------------------------------------------------------

    def _reply(self, number: str, record: ResidentRecord, turn: Turn, inbound_id: str) -> int:
        if record.state.opted_out:
            if turn.replies:
                logger.info("reply withheld: resident opted out", extra={"resident": mask(number)})
            return 0
        sent = 0
        for index, text in enumerate(turn.replies):
            sent += self._send(
                number,
                text,
                f"{inbound_id}:r{index}",
                inbound_id,
                kind=_reply_kind(turn, index),
                city=record.state.municipality_id,
            )
        return sent

    def _send(
        self, number: str, text: str, idempotency_key: str, inbound_id: str, *, kind: str, city: int | None
    ) -> int:
        # kind and city place the SMS in the outbound queue (priority, the city's fair share).
        context = {"inbound": inbound_id[:64], "kind": kind, **({"city": str(city)} if city else {})}
        try:
            self.sms.send(number, text, idempotency_key=idempotency_key, context=context)
            return 1
        except Exception as exc:  # noqa: BLE001 - a lost answer must not re-run the dialog
            # The resident's own text is safe (stored and mailed); re-running the turn on retry
            # would answer a question twice. Logged and counted for the alarm.
            logger.error("reply not sent", extra={"resident": mask(number), "error": type(exc).__name__})
            metrics.add_metric(name="ReplyFailed", unit="Count", value=1)
            return 0


def _reply_kind(turn: Turn, index: int) -> str:
    """The outbound kind of a dialog reply: carrier keyword confirmations and the emergency notice
    (always the first reply of an urgent turn) go before anything queued; the rest is dialog."""
    if turn.keyword_reply:
        return "keyword"
    return "emergency" if turn.urgent and index == 0 else "dialog"


def _forward_ids(message_id: str, turn: Turn) -> list[str]:
    """The id each forwarded text is mailed and recorded under. The text itself: its own message id.
    Texts held until the city was chosen: named by their content under the text that released them,
    not by position, since a redelivery may find one more held text than the first attempt did, and
    must still know the ones already mailed."""
    if turn.event != "connected":
        return [message_id] if len(turn.forwards) == 1 else [f"{message_id}:{i}" for i in range(len(turn.forwards))]
    seen: dict[str, int] = {}
    ids = []
    for text in turn.forwards:
        digest = hashlib.sha256(text.encode()).hexdigest()[:12]
        seen[digest] = seen.get(digest, 0) + 1
        ids.append(f"{message_id}:{digest}" + (f"-{seen[digest]}" if seen[digest] > 1 else ""))
    return ids


def _keyword_language(catalog: Any, body: str) -> str:
    """The language whose STATUS word a resident unknown to us used (ETAT: French)."""
    from text311.i18n import fold

    first = fold(body.split(maxsplit=1)[0]).strip(".!?,;:") if body.split() else ""
    for code, language in catalog.languages.items():
        if first in language.keywords.get(Keyword.STATUS.value, ()):
            return str(code)
    return str(catalog.default)


def _e164_or_none(number: str) -> str | None:
    try:
        return normalize_e164(number)
    except InvalidPhoneNumber:
        return None
