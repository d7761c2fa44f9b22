"""Erase one resident: everything Text311 holds about a phone number, everywhere it holds it.

Residents are found by the keyed hash of their number; their conversations by the
``by-resident`` index; messages by conversation; the raw agents' emails that answered them
(stored by SES in S3, and quoting the resident) by the SES message id each answer recorded.
The mails already delivered to a city's mailbox are the city's records and out of Text311's
reach: the report says which cities to tell. What stays, and why, is in docs/retention.md.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from text311.adapters.dynamodb import ConversationModel, MessageModel, ResidentModel
from text311.conversations import ANSWER_IDS


@dataclass(frozen=True)
class ErasureReport:
    resident: bool
    conversations: int
    messages: int
    raw_mails: int
    municipalities: tuple[int, ...]


def forget_resident(phone_hash: str, delete_raw_mail: Callable[[str], None] | None = None) -> ErasureReport:
    """Delete the resident, their conversations, every message in them (translation previews and
    answer-time anchors too, not counted as messages) and the raw emails of the agents' answers
    (``delete_raw_mail(ses_message_id)``). Safe to run twice; a run cut short is
    finished by the next, since conversations go last, after their messages and raw mails."""
    conversations = list(ConversationModel.by_resident.query(phone_hash))
    messages = raw_mails = 0
    for conversation in conversations:
        with MessageModel.batch_write() as batch:
            for message in MessageModel.query(conversation.conversation_id):
                ses_message_id = _answer_mail_id(message)
                if delete_raw_mail is not None and ses_message_id:
                    delete_raw_mail(ses_message_id)
                    raw_mails += 1
                batch.delete(message)
                # A translation preview is a record of a draft (billing), not a message of the thread.
                messages += message.direction != "preview"
            # The emailed answers' time anchors (``ConversationStore.answer_time``) have their own partition.
            for anchor in MessageModel.query(f"{conversation.conversation_id}{ANSWER_IDS}"):
                batch.delete(anchor)
        conversation.delete()
    resident_found = False
    try:
        ResidentModel.get(phone_hash).delete()
        resident_found = True
    except ResidentModel.DoesNotExist:
        pass
    return ErasureReport(
        resident=resident_found,
        conversations=len(conversations),
        messages=messages,
        raw_mails=raw_mails,
        municipalities=tuple(sorted({int(c.municipality_id) for c in conversations})),
    )


def _answer_mail_id(message: MessageModel) -> str | None:
    """The SES message id of an agent's emailed answer: recorded with it, or, for answers recorded
    before that (and those without a Message-ID), the key's "<time>#<SES message id>"
    (``external_id`` holds the SMS ids once the answer is sent)."""
    if message.channel != "email" or message.direction != "out":
        return None
    return message.ses_message_id or message.message_key.split("#", 1)[1] or None
