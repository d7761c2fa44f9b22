"""SMS delivery events → the message's status, and a failed answer reported to its agent.

Each SMS Text311 sends carries ``context`` {"conversation", "message"} (see SendTextMessage's
Context), which End User Messaging returns in every event about it: no look-up by SMS id.
Events may arrive out of order and more than once: a final status is never overwritten by a
later intermediate one, and the agent is told of a failure once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pynamodb.exceptions import DoesNotExist, UpdateError

from text311.adapters.dynamodb import MessageModel
from text311.conversations import municipality_of
from text311.observability import correlate, logger, metrics

DELIVERED = frozenset({"SUCCESSFUL", "DELIVERED"})
IN_FLIGHT = frozenset({"PENDING", "QUEUED"})


@dataclass(frozen=True)
class SmsEvent:
    sms_message_id: str
    status: str
    description: str
    final: bool
    conversation_id: str | None
    message_key: str | None


@dataclass
class DeliveryStatusService:
    conversations: Any  # ConversationStore
    subscribers: Any
    notify: Any  # (conversation, subscriber, text) -> None: mails the agent in the thread

    def record(self, event: SmsEvent) -> str:
        correlate(event.conversation_id)  # the SMS context carries it from the answer to its delivery
        if not event.conversation_id or not event.message_key:
            logger.info("delivery event without Text311 context (not ours)", extra={"sms": event.sms_message_id})
            return "ignored"
        status = event.status.lower()
        try:
            message = MessageModel.get(event.conversation_id, event.message_key)
        except DoesNotExist:
            logger.warning("delivery event for an unknown message", extra={"conversation_id": event.conversation_id})
            return "unknown_message"
        if message.status in ("delivered", "undelivered"):
            return "already_final"  # a late or repeated event never overwrites a final status
        new_status = "delivered" if event.status in DELIVERED else (
            "undelivered" if event.final and event.status not in IN_FLIGHT else status)
        try:
            message.update(actions=[MessageModel.status.set(new_status)],
                           condition=MessageModel.status.is_in("sending", "sent", "pending", *_intermediate()))
        except UpdateError:
            return "already_final"
        metrics.add_metric(name=f"Sms{new_status.capitalize()}", unit="Count", value=1)
        logger.info("sms status", extra={"conversation_id": event.conversation_id, "status": new_status,
                                         "sms_message_id": event.sms_message_id})
        if new_status == "undelivered":
            self._report(event)
        return new_status

    def _report(self, event: SmsEvent) -> None:
        assert event.conversation_id is not None
        municipality_id = municipality_of(event.conversation_id)
        conversation = self.conversations.get(municipality_id, event.conversation_id)
        subscriber = self.subscribers.get(municipality_id)
        if conversation is None or subscriber is None:
            return
        self.notify(conversation, subscriber,
                    f"Text311: your answer could not be delivered to the resident by SMS "
                    f"({event.status}: {event.description or 'no detail from the carrier'}).")


def _intermediate() -> tuple[str, ...]:
    return tuple(s.lower() for s in IN_FLIGHT)
