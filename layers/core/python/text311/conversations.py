"""Residents, conversations and messages in DynamoDB (pynamodb models bound at cold start).

Key design (see README, "Data"):
- residents: ``phone_hash`` → dialog state, the number KMS-encrypted, the open conversation.
- conversations: ``municipality_id`` + ``conversation_id``. The tenant is the partition key,
  so no read can cross cities; ``by-activity`` (LSI) lists a city's inbox by last activity,
  ``by-resident`` (GSI) finds a resident's threads for erasure.
- messages: ``conversation_id`` + ``<ISO time>#<external id>``: ordered, and the same inbound
  message always maps to the same key, which makes a redelivery visible as a conditional failure.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pynamodb.exceptions import DoesNotExist, PutError

from text311.adapters.dynamodb import ConversationModel, MessageModel, ResidentModel
from text311.dialog import ResidentState, State

_ID_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no look-alikes: ids are read aloud on the phone


def new_conversation_id(municipality_id: int) -> str:
    tail = "".join(secrets.choice(_ID_ALPHABET) for _ in range(10))
    return f"{municipality_id}-{tail}"


def municipality_of(conversation_id: str) -> int:
    head, _, _ = conversation_id.partition("-")
    if not head.isdigit():
        raise ValueError(f"not a conversation id: {conversation_id!r}")
    return int(head)


def expiry(now: datetime, days: int) -> datetime:
    return now + timedelta(days=days)


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

    def save_resident(self, record: ResidentRecord, now: datetime) -> None:
        """Save with optimistic locking: a concurrent update makes this raise, and the
        message is retried with fresh state instead of overwriting the other update."""
        record.item.last_message_at = now
        record.item.expires_at = expiry(now, self.retention_days)
        record.item.save()

    def opted_out(self, phone_hash: str) -> bool:
        record = self.resident(phone_hash)
        return bool(record and record.item.opted_out)

    def mark_opted_out(self, phone_hash: str) -> None:
        """End User Messaging refused a send as opted out: keep our state in step with its list."""
        ResidentModel(phone_hash=phone_hash).update(actions=[ResidentModel.opted_out.set(True)])

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
            conversation.update(actions=[ConversationModel.status.set("closed")])
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
        conversation = ConversationModel(
            municipality_id=municipality_of(conversation_id),
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
        conversation.save()
        resident.item.conversation_id = conversation.conversation_id
        return conversation

    # -- messages -------------------------------------------------------------------------------

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
    ) -> tuple[MessageModel, bool]:
        """Record a message once. Returns (message, new): ``new`` is False when the same
        external id was already recorded, so the caller skips work already done."""
        key = f"{received_at.astimezone(UTC).isoformat(timespec='milliseconds')}#{external_id}"
        message = MessageModel(
            conversation_id=conversation_id,
            message_key=key,
            direction=direction,
            channel=channel,
            body=body,
            author=author,
            external_id=external_id,
            status="pending",
            urgent=urgent,
            created_at=received_at,
            expires_at=expiry(received_at, self.retention_days),
        )
        try:
            message.save(condition=MessageModel.message_key.does_not_exist())
            return message, True
        except PutError as exc:
            if exc.cause_response_code != "ConditionalCheckFailedException":
                raise
            return MessageModel.get(conversation_id, key), False
