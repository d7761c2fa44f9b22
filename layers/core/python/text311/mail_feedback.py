"""What SES says of a resident text's mail after taking it: a city inbox that bounces must not
swallow texts while the conversation says "emailed".

The configuration set publishes ``Bounce``, ``Complaint``, ``DeliveryDelay`` and ``Delivery`` events
with the mail's tags (text311.mail_confirmations names the conversation and the text). Each one:
- moves the text's status: ``bounced``, ``complained``, ``delayed``, or back to ``emailed`` when a
  delayed mail is delivered after all; never backwards (a duplicate or late event changes nothing);
- but a bounce, complaint or delay about only some of the mail's recipients (the owner bounces,
  the city inbox in Cc took it) leaves the status and the resident alone: the city has the text.
  It is still counted and logged with the failing addresses (agents' and inboxes', no resident's):
  that inbox is broken;
- is counted per city (``CityMail<Outcome>``, dimension ``municipality``) and in a total the alarms
  watch (``MailBounced``, ``MailComplained``);
- after a permanent bounce of every recipient in one event (a wrong or closed address, or one on
  the account's suppression list), tells the resident once per conversation, in their language,
  that the city could not be reached and to call 311: one SMS through the outbound queue, its id
  derived from the conversation, so the bounces of every text of the thread (and SES's duplicates)
  send it once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from aws_lambda_powertools.metrics import MetricUnit, single_metric

from text311.conversations import municipality_of
from text311.mail_confirmations import entry_of
from text311.observability import NAMESPACE, correlate, logger, metrics

if TYPE_CHECKING:  # the inbound path's own protocols; importing inbound at run time would cost mail_events
    from text311.inbound import SmsSenderLike, SubscriberSource

# event type → (the text's new status, the statuses it replaces)
TRANSITIONS: Mapping[str, tuple[str, tuple[str, ...]]] = {
    "Bounce": ("bounced", ("emailed", "delayed", "complained")),
    "Complaint": ("complained", ("emailed", "delayed")),
    "DeliveryDelay": ("delayed", ("emailed",)),
    "Delivery": ("emailed", ("delayed",)),  # delivered after a delay
}
FEEDBACK_TYPES = frozenset(TRANSITIONS)
# Per-city metric of each outcome (none for a delivery: that is the normal case).
CITY_METRIC = {"Bounce": "CityMailBounced", "Complaint": "CityMailComplained", "DeliveryDelay": "CityMailDelayed"}
# Totals with the service dimension only: an alarm cannot sum over the cities' dimension.
TOTAL_METRIC = {"Bounce": "MailBounced", "Complaint": "MailComplained"}
NOTICE_TEMPLATE = "city_unreachable"


class TextNotRecordedYet(RuntimeError):
    """The event came before the write that records its text: retried later (a batch item failure)."""


@dataclass(frozen=True)
class FeedbackEvent:
    event_type: str  # Bounce, Complaint, DeliveryDelay, Delivery
    ses_message_id: str
    tags: Mapping[str, list[str]]
    bounce_type: str = ""  # Permanent, Transient, Undetermined
    bounce_sub_type: str = ""  # General, NoEmail, Suppressed, OnAccountSuppressionList, MailboxFull…
    recipients: tuple[str, ...] = ()  # the addresses the event is about
    destination: tuple[str, ...] = ()  # every recipient of the mail (SES's mail.destination)

    @property
    def permanent_bounce(self) -> bool:
        return self.event_type == "Bounce" and self.bounce_type == "Permanent"

    @property
    def about_every_recipient(self) -> bool:
        """Whether the event names each address the mail went to. An event without a destination
        (none from SES has been seen) is taken to be about the whole mail."""
        named = {address.lower() for address in self.recipients}
        return all(address.lower() in named for address in self.destination)


class FeedbackStore(Protocol):
    def mark_mail_status(self, conversation_id: str, entry: str, status: str, replaces: Any) -> str: ...

    def get(self, municipality_id: int, conversation_id: str) -> Any: ...

    def opted_out(self, phone_hash: str) -> bool: ...


class MessageCatalog(Protocol):
    def message(self, language: str, key: str, **values: object) -> str: ...


@dataclass
class MailFeedback:
    store: FeedbackStore
    sms: SmsSenderLike
    decrypt_phone: Callable[[str], str]
    subscribers: SubscriberSource
    catalog: MessageCatalog

    def record(self, event: FeedbackEvent) -> str:
        """Apply one event; returns what happened (for logs and tests): ``changed``, ``unchanged``,
        ``partial`` (about some of the mail's recipients: counted, nothing changed), ``missing`` (the
        text is not recorded: erased, or not yet written), ``untagged`` (a notice to an agent, which
        names no text) or ``ignored``."""
        transition = TRANSITIONS.get(event.event_type)
        if transition is None:
            return "ignored"
        named = entry_of(event.tags)
        log = {"event_type": event.event_type, "ses_message_id": event.ses_message_id,
               "bounce_type": event.bounce_type, "bounce_sub_type": event.bounce_sub_type,
               "recipients": list(event.recipients), "destination": list(event.destination)}
        if named is None:
            correlate(None)
            self._count_total(event)
            if event.event_type != "Delivery":
                logger.warning("SES feedback on an untagged mail (a notice to an agent)", extra=log)
            return "untagged"
        conversation_id, entry = named
        correlate(conversation_id)
        if event.event_type != "Delivery" and not event.about_every_recipient:
            # the other recipients have the text: the city was reached, only this inbox is broken
            self._count_total(event)
            self._count_for_city(event, conversation_id, {**log, "outcome": "partial"})
            return "partial"
        status, replaces = transition
        outcome = self.store.mark_mail_status(conversation_id, entry, status, replaces)
        if outcome == "missing" and self._recorded_later(conversation_id, entry):
            # SES acted before our write (an invocation that stopped after SendEmail): the redelivered
            # text records it within minutes; SQS gives this event back after its visibility timeout.
            raise TextNotRecordedYet(f"{conversation_id}: {event.event_type} before its text was recorded")
        self._count_total(event)
        self._count_for_city(event, conversation_id, {**log, "outcome": outcome})
        if event.permanent_bounce and outcome != "missing":
            self._tell_resident(conversation_id)
        return outcome

    @staticmethod
    def _count_total(event: FeedbackEvent) -> None:
        if event.event_type in TOTAL_METRIC:
            metrics.add_metric(name=TOTAL_METRIC[event.event_type], unit=MetricUnit.Count, value=1)

    @staticmethod
    def _count_for_city(event: FeedbackEvent, conversation_id: str, log: dict[str, Any]) -> None:
        if event.event_type not in CITY_METRIC:
            return
        name, city = CITY_METRIC[event.event_type], str(municipality_of(conversation_id))
        with single_metric(name=name, unit=MetricUnit.Count, value=1, namespace=NAMESPACE) as metric:
            metric.add_dimension(name="municipality", value=city)
        logger.warning("a city's mail was not delivered as sent", extra={**log, "metric": name, "municipality": city})

    def _recorded_later(self, conversation_id: str, entry: str) -> bool:
        """Whether the text will still be recorded: its thread exists and has not recorded it yet.
        A thread that is gone was erased (or expired): nothing will come, the event is dropped."""
        conversation = self.store.get(municipality_of(conversation_id), conversation_id)
        return conversation is not None and entry not in (conversation.recent_inbound or ())

    def _tell_resident(self, conversation_id: str) -> bool:
        """The one notice of the conversation: its id is the conversation's, so every later bounce
        in the thread (another text, SES's duplicate, this record's retry) enqueues the same id and
        the drainer's ledger sends it once."""
        city_id = municipality_of(conversation_id)
        conversation = self.store.get(city_id, conversation_id)
        if conversation is None:
            return False
        if conversation.resident_opted_out or self.store.opted_out(conversation.phone_hash):
            logger.info("city unreachable: resident opted out, not told")
            return False
        subscriber = self.subscribers.get(city_id)
        city = subscriber.display_name if subscriber is not None else str(city_id)
        text = self.catalog.message(conversation.language, NOTICE_TEMPLATE, city=city)
        self.sms.send(self.decrypt_phone(conversation.phone_encrypted), text,
                      idempotency_key=f"{conversation_id}:city-unreachable",
                      context={"conversation": conversation_id, "kind": "failure_notice", "city": str(city_id)})
        logger.info("resident told the city could not be reached by email")
        return True
