"""SES's side of event publishing, for tests: moto publishes no SES events, so this publishes the
configuration set's Send event for every mail moto's SES actually stored, with the tags of the call
that stored it, and on demand what SES reports later (a bounce, a complaint, a delay, a delivery).
"Stored" is what SES accepting means, also when the client never heard back (a 5xx or a timeout
after SES acted). Hooked on the botocore client: the code under test is unchanged."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aws_events import mail_events_batch, sample, ses_sending_event
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends


@dataclass(frozen=True)
class AcceptedMail:
    ses_message_id: str
    tags: dict[str, str]
    recipients: tuple[str, ...] = ()  # To, Cc and Bcc: SES's mail.destination


@dataclass
class SesSendEvents:
    region: str = "ca-central-1"
    accepted: list[AcceptedMail] = field(default_factory=list)
    published: int = 0  # how many of ``accepted`` went out as events through ``pending``

    def attach(self, sesv2_client: Any) -> SesSendEvents:
        events = sesv2_client.meta.events
        events.register("provide-client-params.sesv2.SendEmail", self._before)
        events.register("after-call.sesv2.SendEmail", self._after)
        return self

    def _stored(self) -> list[Any]:
        return ses_backends[DEFAULT_ACCOUNT_ID][self.region].sent_messages

    def _before(self, params: dict, context: dict, **_: Any) -> None:
        context["text311_tags"] = {t["Name"]: t["Value"] for t in params.get("EmailTags", [])}
        context["text311_stored"] = len(self._stored())
        destination = params.get("Destination", {})
        context["text311_recipients"] = tuple(address for field in ("ToAddresses", "CcAddresses", "BccAddresses")
                                              for address in destination.get(field, []))

    def _after(self, context: dict, **_: Any) -> None:
        for message in self._stored()[context.get("text311_stored", 0):]:
            self.accepted.append(AcceptedMail(message.id, context.get("text311_tags", {}),
                                              context.get("text311_recipients", ())))

    def batch(self, mails: list[AcceptedMail] | None = None) -> dict:
        """The SQS batch the mail_events function receives for these mails (default: all)."""
        chosen = self.accepted if mails is None else mails
        return mail_events_batch(*(ses_sending_event(m.ses_message_id, m.tags) for m in chosen))

    def pending(self) -> dict | None:
        """The batch of Send events not yet published, or None; marks them published."""
        new = self.accepted[self.published:]
        self.published = len(self.accepted)
        return self.batch(new) if new else None

    def feedback(self, kind: str, mails: list[AcceptedMail] | None = None, about: list[str] | None = None,
                 **bounce: str) -> dict:
        """The batch of ``kind`` events (Bounce, Complaint, DeliveryDelay, Delivery) for these mails
        (default: all), each about the recipients ``about`` (default: every recipient of the mail);
        ``bounce`` overrides the Bounce sample's fields (bounceType, bounceSubType)."""
        chosen = self.accepted if mails is None else mails
        return mail_events_batch(*(feedback_event(kind, m.ses_message_id, m.tags, m.recipients,
                                                  m.recipients if about is None else tuple(about), **bounce)
                                   for m in chosen))


FEEDBACK_SAMPLES = {"Bounce": "ses_bounce_event.json", "Complaint": "ses_complaint_event.json",
                    "DeliveryDelay": "ses_delivery_delay_event.json", "Delivery": "ses_delivery_event.json"}


# where each sample names the recipients its event is about
ABOUT = {"Bounce": ("bounce", "bouncedRecipients"), "Complaint": ("complaint", "complainedRecipients"),
         "DeliveryDelay": ("deliveryDelay", "delayedRecipients")}


def feedback_event(kind: str, ses_message_id: str, tags: dict[str, str], destination: tuple[str, ...] = (),
                   about: tuple[str, ...] = (), **bounce: str) -> dict:
    """SES's documented record of ``kind`` for one mail sent with ``tags`` to ``destination``, about
    the recipients ``about`` (tests/events/SOURCES.md); without a destination, the sample's own."""
    payload = sample(FEEDBACK_SAMPLES[kind])
    payload["mail"]["messageId"] = ses_message_id
    own = {name: values for name, values in payload["mail"]["tags"].items() if name.startswith("ses:")}
    payload["mail"]["tags"] = own | {name: [value] for name, value in tags.items()}
    if destination:
        payload["mail"]["destination"] = list(destination)
        if kind in ABOUT:
            section, field = ABOUT[kind]
            sample_recipient = payload[section][field][0]
            payload[section][field] = [{**sample_recipient, "emailAddress": address} for address in about]
        elif kind == "Delivery":
            payload["delivery"]["recipients"] = list(about)
    if bounce:
        payload["bounce"].update(bounce)
    return payload
