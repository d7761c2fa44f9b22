"""A resident's STATUS (ÉTAT, STATUT) text: the latest status of their requests, answered by SMS in the
inbound path instead of being mailed to the city. STATUS is our keyword, not the carrier's: it is not
registered on the number (stacks/keywords.py registers only the carrier kinds).

A resident's requests are those filed from their recent conversations (``by-resident`` index of the
conversations, then each one's requests): the store keeps no phone number. ``STATUS GAT-1042`` answers
only for a request of theirs; another resident's reference reads as unknown.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from text311.adapters.dynamodb import ConversationModel
from text311.i18n import catalog
from text311.request_texts import service_name, status_reply
from text311.service_requests import ServiceRequest, ServiceRequestStore

# A resident's conversations read for STATUS, newest first: older requests are the city's to tell.
CONVERSATIONS_READ = 10


def recent_conversations(phone_hash: str) -> list[tuple[int, str]]:
    """(city, conversation id) of the resident's latest conversations, newest first."""
    found = ConversationModel.by_resident.query(phone_hash, scan_index_forward=False, limit=CONVERSATIONS_READ)
    return [(int(c.municipality_id), c.conversation_id) for c in found]


@dataclass
class StatusAnswers:
    store: ServiceRequestStore
    subscribers: Any  # .get(geonameid) -> Subscriber | None
    conversations: Callable[[str], list[tuple[int, str]]] = recent_conversations

    def answer(self, phone_hash: str, language: str, reference: str | None) -> str:
        requests = self.requests_of(phone_hash)
        if reference is not None:
            requests = [r for r in requests if r.reference == reference]
            if not requests:
                return catalog().message(language, "status_not_found", reference=reference)
        names: dict[str, str] = {}
        for request in requests:
            subscriber = self.subscribers.get(int(request.city_id))
            names.setdefault(request.service_code, service_name(subscriber, request.service_code, language))
        return status_reply(language, requests, names)

    def requests_of(self, phone_hash: str) -> list[ServiceRequest]:
        found: list[ServiceRequest] = []
        for city, conversation_id in self.conversations(phone_hash)[:CONVERSATIONS_READ]:
            found.extend(self.store.for_conversation(str(city), conversation_id))
        return found
