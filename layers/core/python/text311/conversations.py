"""Residents, conversations and messages in DynamoDB (pynamodb models bound at cold start).

Key design (see README, "Data"):
- residents: ``phone_hash`` → dialog state, the number KMS-encrypted, the open conversation.
- conversations: ``municipality_id`` + ``conversation_id``. The tenant is the partition key,
  so no read can cross cities; ``by-activity`` (LSI) lists a city's inbox by last activity,
  ``by-resident`` (GSI) finds a resident's threads for erasure.
- messages: ``conversation_id`` + ``<ISO time>#<external id>``: ordered, and the same inbound
  message always maps to the same key, which makes a redelivery visible as a conditional failure.
  An emailed answer's own id is also claimed alone, under ``<conversation>#answer-ids``
  (``answer_time``): SES's receipt time differs between two deliveries of one mail.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pynamodb.exceptions import DoesNotExist, PutError, TransactWriteError, UpdateError
from pynamodb.expressions.update import Action
from pynamodb.transactions import TransactWrite

from text311.adapters.dynamodb import ConversationModel, LimitModel, MessageModel, ResidentModel
from text311.dialog import ResidentState, State
from text311.limits import Window

# Inbound ids kept on the resident: far more than SQS redelivers before the DLQ (5 receives).
HANDLED_KEPT = 20
# Tries of the write that follows a sent mail (each one after botocore's own retries).
MAILED_WRITE_ATTEMPTS = 5

# Inbound ids kept on a conversation to recognise a redelivered text (see ``mailed_already``):
# enough for any redelivery SQS can make, a few KB at most.
RECENT_INBOUND_KEPT = 50

# The partition (after the conversation id) of the ids answers are claimed by (``answer_time``).
ANSWER_IDS = "#answer-ids"

# A score texted later than this after the survey is an ordinary text (a new conversation).
SURVEY_REPLY_WINDOW = timedelta(hours=24)

_ID_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no look-alikes: ids are read aloud on the phone


def new_conversation_id(municipality_id: int, opened_by: str | None = None) -> str:
    """A new thread's id: random, or derived from ``opened_by`` so that every attempt to open the
    same thread (``inbound.py`` names it after the resident and their previous thread) gets the same
    id, and a redelivery after a stop finds the thread, and the mail SES confirmed in it, instead of
    opening a second one."""
    if opened_by is None:
        tail = "".join(secrets.choice(_ID_ALPHABET) for _ in range(10))
    else:
        digest = int.from_bytes(hashlib.sha256(f"{municipality_id}#{opened_by}".encode()).digest()[:16], "big")
        tail = ""
        for _ in range(10):
            digest, index = divmod(digest, len(_ID_ALPHABET))
            tail += _ID_ALPHABET[index]
    return f"{municipality_id}-{tail}"


def municipality_of(conversation_id: str) -> int:
    head, _, _ = conversation_id.partition("-")
    if not head.isdigit():
        raise ValueError(f"not a conversation id: {conversation_id!r}")
    return int(head)


def expiry(now: datetime, days: int) -> datetime:
    return now + timedelta(days=days)


def message_key(received_at: datetime, external_id: str) -> str:
    return f"{received_at.astimezone(UTC).isoformat(timespec='milliseconds')}#{external_id}"


@dataclass(frozen=True)
class Mailed:
    """An inbound text mailed into its thread: what the thread and the message record."""

    external_id: str
    received_at: datetime
    body: str
    urgent: bool
    email_message_id: str
    ses_message_id: str
    references: Sequence[str]  # the thread's References after this mail


@dataclass
class ResidentRecord:
    """A resident as stored: the dialog state plus what the store needs."""

    item: ResidentModel

    @property
    def state(self) -> ResidentState:
        i = self.item
        return ResidentState(
            language=i.language,
            state=State(i.dialog_state),
            municipality_id=int(i.municipality_id) if i.municipality_id is not None else None,
            pending_choices=tuple(int(c) for c in i.pending_choices or ()),
            pending=tuple(i.pending or ()),
            attempts=int(i.attempts),
            opted_out=bool(i.opted_out),
            language_detected=i.language_detected is not False,
        )

    def apply(self, state: ResidentState) -> bool:
        """Copy a new dialog state in; return whether anything changed."""
        if state == self.state:
            return False
        i = self.item
        i.language = state.language
        i.dialog_state = state.state.value
        i.municipality_id = state.municipality_id
        i.pending_choices = list(state.pending_choices) or None
        i.pending = list(state.pending) or None
        i.attempts = state.attempts
        i.opted_out = state.opted_out
        i.language_detected = state.language_detected
        return True


class ConversationStore:
    def __init__(self, retention_days: int, idle_days: int) -> None:
        self.retention_days = retention_days
        self.idle_days = idle_days

    # -- residents ------------------------------------------------------------------------------

    def resident(self, phone_hash: str, phone_encrypted: str | None = None) -> ResidentRecord | None:
        try:
            return ResidentRecord(ResidentModel.get(phone_hash))
        except DoesNotExist:
            return None

    def new_resident(self, phone_hash: str, phone_encrypted: str) -> ResidentRecord:
        return ResidentRecord(ResidentModel(phone_hash=phone_hash, phone_encrypted=phone_encrypted))

    def resident_and_count(self, phone_hash: str, window: Window) -> tuple[ResidentRecord | None, int]:
        """The resident and the texts counted in their flood window, in one BatchGetItem."""
        residents, limits = ResidentModel.Meta.table_name, LimitModel.Meta.table_name
        request: dict[str, Any] = {
            residents: {"Keys": [{"phone_hash": {"S": phone_hash}}]},
            limits: {"Keys": [{"key": {"S": window.key}}], "ConsistentRead": True},
        }
        client = ResidentModel._get_connection().connection.client
        found: dict[str, list[dict]] = {residents: [], limits: []}
        for _ in range(5):  # UnprocessedKeys only under throttling; each retry is one more call
            response = client.batch_get_item(RequestItems=request)
            for table, items in response.get("Responses", {}).items():
                found[table] += items
            request = response.get("UnprocessedKeys") or {}
            if not request:
                break
        else:
            raise RuntimeError("DynamoDB left keys unprocessed five times in a row")
        record = ResidentRecord(ResidentModel.from_raw_data(found[residents][0])) if found[residents] else None
        count = int(found[limits][0]["hits"]["N"]) if found[limits] else 0
        return record, count

    def save_resident(
        self, record: ResidentRecord, now: datetime, count: Window | None = None, handled_id: str | None = None
    ) -> None:
        """Save with optimistic locking: a concurrent update makes this raise, and the
        message is retried with fresh state instead of overwriting the other update.
        ``count``: a flood window to count the text in, in the same call (a transaction).
        ``handled_id``: the inbound text whose turn this saves, kept with the state it produced."""
        if handled_id is not None:
            record.item.handled = [*(record.item.handled or [])[-(HANDLED_KEPT - 1):], handled_id]
        record.item.last_message_at = now
        record.item.expires_at = expiry(now, self.retention_days)
        if count is None:
            record.item.save()
            return
        with TransactWrite(connection=ResidentModel._get_connection().connection) as transaction:
            transaction.save(record.item)
            transaction.update(LimitModel(key=count.key), count.count_actions())

    def count(self, window: Window) -> None:
        """Count a text that writes nothing else (a keyword, an empty text)."""
        LimitModel(key=window.key).update(actions=window.count_actions())

    def opted_out(self, phone_hash: str) -> bool:
        record = self.resident(phone_hash)
        return bool(record and record.item.opted_out)

    def mark_opted_out(self, phone_hash: str) -> None:
        """End User Messaging refused a send as opted out: keep our state in step with its list."""
        # Not read first, so no version to check; an erased resident is not brought back.
        try:
            ResidentModel(phone_hash=phone_hash).update(actions=[ResidentModel.opted_out.set(True)],
                                                        condition=ResidentModel.phone_hash.exists(),
                                                        add_version_condition=False)
        except UpdateError as exc:
            if not _condition_failed(exc):
                raise

    # -- conversations --------------------------------------------------------------------------

    def get(self, municipality_id: int, conversation_id: str) -> ConversationModel | None:
        try:
            return ConversationModel.get(municipality_id, conversation_id)
        except DoesNotExist:
            return None

    def is_idle(self, conversation: ConversationModel, now: datetime) -> bool:
        return now - conversation.last_message_at > timedelta(days=self.idle_days)

    def current(self, resident: ResidentRecord, municipality_id: int, now: datetime) -> ConversationModel | None:
        """The resident's open conversation with this city, closing it first when idle too long."""
        conversation_id = resident.item.conversation_id
        if not conversation_id or municipality_of(conversation_id) != municipality_id:
            return None
        conversation = self.get(municipality_id, conversation_id)
        if conversation is None or conversation.status != "open":
            return None
        if self.is_idle(conversation, now):
            model = ConversationModel  # closed_at: time to close (text311.response_targets)
            conversation.update(actions=[model.status.set("closed"), model.closed_at.set(now)])
            return None
        return conversation

    def open(
        self,
        resident: ResidentRecord,
        conversation_id: str,
        subject: str,
        language: str,
        now: datetime,
        phone_masked: str | None = None,
    ) -> ConversationModel:
        municipality_id = municipality_of(conversation_id)
        conversation = ConversationModel(
            municipality_id=municipality_id,
            conversation_id=conversation_id,
            phone_hash=resident.item.phone_hash,
            phone_encrypted=resident.item.phone_encrypted,
            status="open",
            opened_at=now,
            last_message_at=now,
            subject=subject,
            language=language,
            phone_masked=phone_masked,
            expires_at=expiry(now, self.retention_days),
        )
        try:
            conversation.save(condition=ConversationModel.conversation_id.does_not_exist())
        except PutError as exc:
            if not _condition_failed(exc):
                raise
            # Opened by an earlier attempt that stopped before saving the resident: carry on in
            # that thread (it may hold the mail SES confirmed).
            existing = self.get(municipality_id, conversation_id)
            if existing is None:
                raise
            if existing.status == "open":
                conversation = existing
            else:  # that thread was used and closed since: a fresh one
                conversation.conversation_id = new_conversation_id(municipality_id)
                conversation.save(condition=ConversationModel.conversation_id.does_not_exist())
        resident.item.conversation_id = conversation.conversation_id
        return conversation

    # -- satisfaction -----------------------------------------------------------------------------

    def close_with_survey(self, conversation: ConversationModel, now: datetime) -> bool:
        """Close an open conversation and note that its survey goes out, in one conditional write:
        False (nothing written) when it was closed already or was surveyed before (one survey each)."""
        model = ConversationModel
        try:
            conversation.update(
                actions=[model.status.set("closed"), model.last_message_at.set(now), model.survey_sent_at.set(now),
                         model.closed_at.set(now)],
                condition=(model.status == "open") & model.survey_sent_at.does_not_exist(),
                add_version_condition=False,  # a resident's text landing meanwhile must not undo the close
            )
        except UpdateError as exc:
            if not _condition_failed(exc):
                raise
            conversation.refresh()
            return False
        return True

    def note_survey(self, resident: ResidentRecord, conversation_id: str) -> None:
        """Remember on the resident which conversation was surveyed, for the reply to find it."""
        # No version condition: a text saved meanwhile must not lose the note (its own stale save
        # fails on the version this update moves, and is redelivered).
        resident.item.update(actions=[ResidentModel.surveyed_conversation_id.set(conversation_id)],
                             add_version_condition=False)

    def awaiting_score(self, resident: ResidentRecord, at: datetime) -> ConversationModel | None:
        """The resident's last conversation when it is closed and its survey went out at most
        ``SURVEY_REPLY_WINDOW`` before ``at`` (scored or not: the caller tells a redelivery apart)."""
        conversation_id = resident.item.surveyed_conversation_id or resident.item.conversation_id
        if not conversation_id:
            return None
        conversation = self.get(municipality_of(conversation_id), conversation_id)
        if conversation is None or conversation.status != "closed" or conversation.survey_sent_at is None:
            return None
        if not timedelta(0) <= at - conversation.survey_sent_at <= SURVEY_REPLY_WINDOW:
            return None
        return conversation

    def record_satisfaction(self, conversation: ConversationModel, score: int, reply_id: str) -> bool:
        """The resident's score, against the agent who owns the conversation: only the first reply
        counts. True when this text's score is the one recorded (now, or by an earlier delivery)."""
        model = ConversationModel
        actions: list[Action] = [model.satisfaction.set(score), model.survey_reply_id.set(reply_id)]
        if conversation.owner_email:
            actions.append(model.satisfaction_agent.set(conversation.owner_email))
        try:
            conversation.update(actions=actions, condition=model.satisfaction.does_not_exist(),
                                add_version_condition=False)
        except UpdateError as exc:
            if not _condition_failed(exc):
                raise
            conversation.refresh()
            return conversation.survey_reply_id == reply_id
        return True

    # -- messages -------------------------------------------------------------------------------

    @staticmethod
    def inbound_entry(external_id: str, received_at: datetime) -> str:
        """How an inbound text is named in ``recent_inbound`` (and in its mail's SES tags)."""
        return f"{int(received_at.timestamp())}#{external_id}"

    @staticmethod
    def confirmed_mail(conversation: ConversationModel, external_id: str) -> str | None:
        """The SES message id of this text's mail when SES confirmed sending it before we recorded
        it (an invocation that stopped right after SendEmail), else None. Matched on the text's id
        alone, as ``mailed_already`` is: a text End User Messaging published twice comes back in a
        new SNS envelope, with another timestamp."""
        for confirmed in conversation.mail_confirmed or ():
            head, _, ses_message_id = confirmed.rpartition("#")
            if head.partition("#")[2] == external_id:
                return ses_message_id
        return None

    def confirm_mailed(self, conversation_id: str, entry: str, ses_message_id: str) -> bool:
        """SES's Send event for a text's mail: note it on the conversation unless the mail is
        already recorded (the usual case: the event comes after our write). One conditional
        UpdateItem; a duplicate event adds the same set element again. Returns whether noted."""
        item = ConversationModel(municipality_of(conversation_id), conversation_id)
        condition = ConversationModel.conversation_id.exists() & ~ConversationModel.recent_inbound.contains(entry)
        try:
            item.update(actions=[ConversationModel.mail_confirmed.add({f"{entry}#{ses_message_id}"})],
                        condition=condition, add_version_condition=False)
        except UpdateError as exc:
            if _condition_failed(exc):
                return False  # recorded already, or the conversation is gone (erased)
            raise
        return True

    def mark_mail_status(self, conversation_id: str, entry: str, status: str, replaces: Collection[str]) -> str:
        """What SES said of a text's mail after taking it (bounced, complained, delayed, delivered
        after a delay): the message's status becomes ``status`` if it is one of ``replaces``, so a
        duplicate or a late event never moves it back. ``entry`` is the mail's tag (``inbound_entry``):
        its second names the message key's second, so one Query of that second finds the message.
        Returns ``changed``, ``unchanged`` (a duplicate, or a status past this one) or ``missing``."""
        epoch, _, external_id = entry.partition("#")
        try:
            second = datetime.fromtimestamp(int(epoch), UTC).isoformat(timespec="seconds").removesuffix("+00:00")
        except (ValueError, OverflowError, OSError):
            return "missing"
        found = MessageModel.query(conversation_id, MessageModel.message_key.startswith(f"{second}."),
                                   filter_condition=MessageModel.external_id == external_id)
        message = next(iter(found), None)
        if message is None:
            return "missing"
        try:
            message.update(actions=[MessageModel.status.set(status)],
                           condition=MessageModel.status.is_in(*replaces))
        except UpdateError as exc:
            if _condition_failed(exc):
                return "unchanged"
            raise
        return "changed"

    @staticmethod
    def mailed_already(conversation: ConversationModel, external_id: str) -> bool:
        """Whether this inbound text was already mailed into the thread (a redelivery), read from
        the conversation item itself: no read of the message is needed before mailing."""
        return any(entry.partition("#")[2] == external_id for entry in conversation.recent_inbound or ())

    def record_mailed(
        self,
        conversation: ConversationModel,
        mailed: Mailed,
        *,
        resident: ResidentRecord | None = None,
        count: Window | None = None,
    ) -> MessageModel:
        """After the mail went out: the message (status ``emailed``), the thread's new state and
        its recent inbound ids, and optionally the resident's activity and the flood count, in ONE
        TransactWriteItems. The thread's update carries no version condition, so a concurrent text
        cannot cancel it after the mail was sent (the count is an atomic ADD; last Message-ID and
        References are last-writer-wins, which threading tolerates); it still bumps the version,
        so a console write based on older state fails and re-reads.
        ``resident``: refresh its activity and expiry without a version condition (its dialog
        state is unchanged; a concurrent state change wins, as it should)."""
        now = mailed.received_at
        message = self._message(
            conversation.conversation_id, mailed.external_id, now, direction="in", channel="sms",
            body=mailed.body, urgent=mailed.urgent, status="emailed",
        )
        message.email_message_id = mailed.email_message_id
        message.ses_message_id = mailed.ses_message_id
        recent = sorted(conversation.recent_inbound or (), key=lambda e: int(e.partition("#")[0]))
        entry = self.inbound_entry(mailed.external_id, now)
        recent = recent[-(RECENT_INBOUND_KEPT - 1):] + [entry]
        model = ConversationModel
        changes: dict[str, Any] = {
            "last_message_id": mailed.email_message_id,
            "last_message_at": now,
            "references": list(mailed.references),
            "recent_inbound": set(recent),
        }
        if not conversation.first_message_id:
            changes |= {"first_message_id": mailed.email_message_id, "first_ses_message_id": mailed.ses_message_id}
        if mailed.urgent:
            changes["urgent"] = True
        thread: list[Action] = [model.message_count.add(1)]
        thread += [getattr(model, name).set(value) for name, value in changes.items()]
        # Confirmations now recorded (this one, and any an early Send event left behind) go.
        recorded = {e.partition("#")[2] for e in recent}
        settled = {c for c in conversation.mail_confirmed or () if c.rpartition("#")[0].partition("#")[2] in recorded}
        if settled:
            thread.append(model.mail_confirmed.delete(settled))
        # The mail is out: this write must not fail on a passing error, or the redelivered text is
        # mailed again. Retried with one client request token, so DynamoDB applies it once.
        token = hashlib.sha256(f"{conversation.conversation_id}#{mailed.external_id}".encode()).hexdigest()[:36]
        for attempt in range(1, MAILED_WRITE_ATTEMPTS + 1):
            try:
                with TransactWrite(
                    connection=ConversationModel._get_connection().connection, client_request_token=token
                ) as transaction:
                    transaction.save(message, condition=MessageModel.message_key.does_not_exist())
                    # a copy: pynamodb appends its version action to the list it is given
                    transaction.update(conversation, list(thread), add_version_condition=False)
                    if resident is not None:
                        item = resident.item
                        activity: list[Action] = [
                            ResidentModel.last_message_at.set(now),
                            ResidentModel.expires_at.set(expiry(now, self.retention_days)),
                        ]
                        transaction.update(item, activity, condition=ResidentModel.phone_hash.exists(),
                                           add_version_condition=False)
                    if count is not None:
                        transaction.update(LimitModel(key=count.key), count.count_actions())
                break
            except TransactWriteError as exc:
                first = exc.cancellation_reasons[0] if exc.cancellation_reasons else None
                if first is not None and first.code == "ConditionalCheckFailed":
                    # The message is already recorded: an earlier delivery of this text finished its write.
                    return message
                if attempt == MAILED_WRITE_ATTEMPTS:
                    raise
                time.sleep(min(2.0, 0.1 * 2**attempt))
        # The transaction returns nothing: keep the local item in step for the next mail of this turn.
        for name, value in changes.items():
            setattr(conversation, name, value)
        conversation.mail_confirmed = (set(conversation.mail_confirmed or ()) - settled) or None
        conversation.message_count = int(conversation.message_count) + 1
        return message

    def hold_message(self, conversation_id: str, external_id: str, received_at: datetime, body: str) -> None:
        """Keep a text we will not mail (flood): in its conversation, status ``throttled``."""
        message = self._message(
            conversation_id, external_id, received_at, direction="in", channel="sms", body=body, status="throttled"
        )
        _save_once(message)

    def _message(
        self,
        conversation_id: str,
        external_id: str,
        received_at: datetime,
        *,
        direction: str,
        channel: str,
        body: str,
        status: str,
        urgent: bool = False,
        author: str | None = None,
    ) -> MessageModel:
        return MessageModel(
            conversation_id=conversation_id,
            message_key=message_key(received_at, external_id),
            direction=direction,
            channel=channel,
            body=body,
            author=author,
            external_id=external_id,
            status=status,
            urgent=urgent,
            created_at=received_at,
            expires_at=expiry(received_at, self.retention_days),
        )

    def answer_time(self, conversation_id: str, external_id: str, at: datetime) -> datetime:
        """The time an answer known by an id of its own (an emailed answer's Message-ID) is recorded
        at, so that every delivery of it claims one message key whatever its receipt time: ``at`` for
        the first delivery to ask, the first one's time for every later one. One conditional put of
        an item keyed by the id alone; a put that loses a race reads the winner's time. The item lives
        in its own partition (``<conversation>#answer-ids``), so a thread's query never lists it; it
        holds the conversation's id, the answer's id and a time, and expires with the answer."""
        anchor = MessageModel(
            conversation_id=f"{conversation_id}{ANSWER_IDS}", message_key=external_id, direction="claim",
            channel="email", body="", external_id=external_id, created_at=at,
            expires_at=expiry(at, self.retention_days),
        )
        if _save_once(anchor):
            return at
        first: datetime = MessageModel.get(anchor.conversation_id, external_id, consistent_read=True).created_at
        return first

    def recorded_message(self, conversation_id: str, external_id: str, received_at: datetime) -> MessageModel | None:
        """The message recorded under this id and time, if any (strongly consistent: a redelivery reads
        what the first delivery wrote)."""
        try:
            return MessageModel.get(conversation_id, message_key(received_at, external_id), consistent_read=True)
        except MessageModel.DoesNotExist:
            return None

    def claim_message(
        self,
        conversation_id: str,
        external_id: str,
        received_at: datetime,
        *,
        direction: str,
        channel: str,
        body: str,
        urgent: bool = False,
        author: str | None = None,
        ses_message_id: str | None = None,
    ) -> tuple[MessageModel, bool]:
        """Record a message once. Returns (message, new): ``new`` is False when the same
        external id was already recorded, so the caller skips work already done."""
        message = self._message(
            conversation_id, external_id, received_at, direction=direction, channel=channel, body=body,
            status="pending", urgent=urgent, author=author,
        )
        message.ses_message_id = ses_message_id  # an emailed answer's received mail (erasure deletes it)
        if _save_once(message):
            return message, True
        return MessageModel.get(conversation_id, message.message_key), False


def _save_once(message: MessageModel) -> bool:
    """Write the message unless its key exists (a redelivery): True when this call wrote it."""
    try:
        message.save(condition=MessageModel.message_key.does_not_exist())
        return True
    except PutError as exc:
        if not _condition_failed(exc):
            raise
        return False


def _condition_failed(exc: PutError | UpdateError) -> bool:
    """DynamoDB refused the write on its condition (the item exists, or is not as expected)."""
    return exc.cause_response_code == "ConditionalCheckFailedException"
