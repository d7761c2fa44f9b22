"""Erase one resident: everything Text311 holds about a phone number, everywhere it holds it.

Residents are found by the keyed hash of their number; their conversations by the
``by-resident`` index; messages by conversation. The mails already delivered to a city's
mailbox are the city's records and out of Text311's reach: the report says how many threads
the city should be told about.
"""

from __future__ import annotations

from dataclasses import dataclass

from text311.adapters.dynamodb import ConversationModel, MessageModel, ResidentModel


@dataclass(frozen=True)
class ErasureReport:
    resident: bool
    conversations: int
    messages: int
    municipalities: tuple[int, ...]


def forget_resident(phone_hash: str) -> ErasureReport:
    """Delete the resident, their conversations and every message in them. Safe to run twice."""
    conversations = list(ConversationModel.by_resident.query(phone_hash))
    messages = 0
    for conversation in conversations:
        with MessageModel.batch_write() as batch:
            for message in MessageModel.query(conversation.conversation_id):
                batch.delete(message)
                messages += 1
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
        municipalities=tuple(sorted({int(c.municipality_id) for c in conversations})),
    )
