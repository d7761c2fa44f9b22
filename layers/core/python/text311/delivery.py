"""SMS delivery events → the message's status, and a failed answer reported to its agent.

Each SMS Text311 sends carries ``context`` {"conversation", "message"} (see SendTextMessage's
Context), which End User Messaging returns in every event about it: no look-up by SMS id.
Events may arrive out of order and more than once: a final status is never overwritten by a
later intermediate one, and the agent is told of a failure once.

An event also settles a send the drainer left ``in_doubt`` (a read timeout, or a drainer that died
between the call and its record): the SMS adapter puts the part's ledger key ("<outbound id>#<n>")
in every SMS's context as ``idempotency_key``, so an event naming it proves that part went out. Its
ledger record becomes ``sent``; and when it was the answer's last part (the drainer sends parts in
order and stops at one in doubt, so the whole answer went out), the answer leaves ``in_doubt`` like
any sent answer, and its agent, who was told "may not have been delivered", is told it was sent.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from pynamodb.exceptions import DoesNotExist, UpdateError

from text311.adapters.dynamodb import MessageModel
from text311.conversations import municipality_of
from text311.i18n import catalog
from text311.observability import correlate, logger, metrics
from text311.outbound.ledger import LedgerEntry, LedgerState
from text311.outbound.parts import count_parts

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
    idempotency_key: str | None = None  # the context's "idempotency_key": a drainer send's part key


class PartLedger(Protocol):
    """The drainer's sent ledger as seen here (``text311.outbound.table_ledger.TableLedger``)."""

    def get(self, message_id: str) -> LedgerEntry | None: ...

    def settle(self, message_id: str, sms_message_id: str) -> None: ...


@dataclass
class DeliveryStatusService:
    conversations: Any  # ConversationStore
    subscribers: Any
    notify: Any  # (conversation, subscriber, text) -> None: mails the agent in the thread
    ledger: PartLedger | None = None  # None: in-doubt sends are never settled (no drainer ledger)

    def record(self, event: SmsEvent) -> str:
        correlate(event.conversation_id)  # the SMS context carries it from the answer to its delivery
        part = self._proven_part(event)
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
        # An answer in doubt moves only on proof that all of it went out: its last part was sent.
        # The parts are those of the text sent: a translated answer's translation, not its original.
        sent_text = message.translation or message.body or ""
        was_in_doubt = message.status == "in_doubt" and part == count_parts(sent_text)
        new_status = "delivered" if event.status in DELIVERED else (
            "undelivered" if event.final and event.status not in IN_FLIGHT else status)
        movable = ("sending", "queued", "sent", "pending", *_intermediate(), *(("in_doubt",) if was_in_doubt else ()))
        try:
            message.update(actions=[MessageModel.status.set(new_status)], condition=MessageModel.status.is_in(*movable))
        except UpdateError:
            return "already_final"
        metrics.add_metric(name=f"Sms{new_status.capitalize()}", unit="Count", value=1)
        logger.info("sms status", extra={"conversation_id": event.conversation_id, "status": new_status,
                                         "sms_message_id": event.sms_message_id})
        if new_status == "undelivered":
            self._report(event)
        elif was_in_doubt:
            # They were told it may not have gone out, and would answer again: say it did.
            self._tell(event, lambda language: catalog().agent_notice(language, "reached_after_all"))
        return new_status

    def _proven_part(self, event: SmsEvent) -> int | None:
        """The outbound part (from 1) this event proves was sent, its ledger record settled from
        ``in_doubt`` if it was; None when the event names no drainer part the ledger holds as sent."""
        key = event.idempotency_key or ""
        outbound_id, _, number = key.rpartition("#")
        if self.ledger is None or not outbound_id or not number.isdigit():
            return None
        entry = self.ledger.get(key)
        if entry is not None and entry.state is LedgerState.IN_DOUBT:
            self.ledger.settle(key, event.sms_message_id)
            metrics.add_metric(name="OutboundInDoubtSettled", unit="Count", value=1)
            logger.info("in-doubt SMS part settled by its delivery event",
                        extra={"outbound_key": key, "sms_message_id": event.sms_message_id})
            return int(number)
        # Already sent: recorded by the drainer, or settled by an earlier event of the same SMS.
        return int(number) if entry is not None and entry.state is LedgerState.SENT else None

    def _report(self, event: SmsEvent) -> None:
        words = catalog()
        self._tell(event, lambda language: words.agent_notice(
            language, "undelivered", status=event.status,
            description=event.description or words.agent_text(language, "no_carrier_detail")))

    def _tell(self, event: SmsEvent, text_in: Callable[[str], str]) -> None:
        """A notice in the thread, written by ``text_in`` in the city's language."""
        assert event.conversation_id is not None
        municipality_id = municipality_of(event.conversation_id)
        conversation = self.conversations.get(municipality_id, event.conversation_id)
        subscriber = self.subscribers.get(municipality_id)
        if conversation is None or subscriber is None:
            return
        self.notify(conversation, subscriber, text_in(subscriber.language))


def _intermediate() -> tuple[str, ...]:
    return tuple(s.lower() for s in IN_FLIGHT)
