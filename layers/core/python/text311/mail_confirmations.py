"""Exactly one mail per resident text, although SES SendEmail takes no idempotency key.

The gap: an invocation that stops after SES accepted a text's mail and before our write recorded
it (a Lambda timeout, a 5xx returned after SES acted) leaves the text unrecorded, so its redelivery
would mail it again. The configuration set publishes a ``Send`` event for every mail SES accepts;
each text's mail carries two message tags naming its conversation and its text, and
:class:`MailConfirmations` notes the event on the conversation. The redelivered text finds the note
(``ConversationStore.confirmed_mail``), records the mail under SES's id and sends nothing.

What remains: a Send event slower than the inbound queue's visibility timeout (minutes; SES
events take seconds) still lets the redelivery mail again. docs/observability.md has the figures.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from text311.observability import correlate, logger, metrics

TAG_CONVERSATION = "text311-conversation"
TAG_INBOUND = "text311-inbound"
_TAG_VALUE_MAX = 256  # SES message tag values: 256 characters of [A-Za-z0-9_-]


def mail_tags(conversation_id: str, entry: str) -> dict[str, str]:
    """The tags of one text's mail. The entry ("<epoch>#<external id>") is hex-encoded: tag values
    allow only letters, digits, ``_`` and ``-``, and the text ids are not ours to restrict.
    Empty when it would not fit: that mail is then at least once, as before."""
    encoded = entry.encode().hex()
    if len(encoded) > _TAG_VALUE_MAX or len(conversation_id) > _TAG_VALUE_MAX:
        return {}
    return {TAG_CONVERSATION: conversation_id, TAG_INBOUND: encoded}


def entry_of(tags: Mapping[str, list[str]]) -> tuple[str, str] | None:
    """(conversation id, entry) from an event's tags, or None for a mail that is not a text's
    (notices to agents carry no tags) or tags that do not decode."""
    conversation = tags.get(TAG_CONVERSATION) or []
    inbound = tags.get(TAG_INBOUND) or []
    if len(conversation) != 1 or len(inbound) != 1:
        return None
    try:
        return conversation[0], bytes.fromhex(inbound[0]).decode()
    except ValueError:
        return None


@dataclass(frozen=True)
class SendEvent:
    event_type: str
    ses_message_id: str
    tags: Mapping[str, list[str]]


class ConfirmationStore(Protocol):
    def confirm_mailed(self, conversation_id: str, entry: str, ses_message_id: str) -> bool: ...


@dataclass
class MailConfirmations:
    store: ConfirmationStore

    def record(self, event: SendEvent) -> str:
        """Note a Send event; returns what happened (for logs and tests). Idempotent: a duplicate
        event adds the same set element, and an event for a recorded mail changes nothing."""
        if event.event_type != "Send":
            return "ignored"
        named = entry_of(event.tags)
        if named is None:
            return "untagged"
        conversation_id, entry = named
        correlate(conversation_id)
        noted = self.store.confirm_mailed(conversation_id, entry, event.ses_message_id)
        if noted:
            # Usually the write after SendEmail wins the race; a note means it had not happened yet.
            metrics.add_metric(name="MailConfirmedBeforeRecord", unit="Count", value=1)
        logger.info("SES send event", extra={"conversation_id": conversation_id, "noted": noted})
        return "noted" if noted else "recorded_already"
