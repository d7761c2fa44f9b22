"""SES's event publishing in the local run, with its mailbox simulator addresses.

moto takes every mail and publishes nothing. Here each mail the handlers send through SES v2 (their
own botocore client, hooked: the code under test is unchanged) gets the events the configuration set
would publish to its topic (stacks/email.py), and the topic's queue feeds the mail_events function on
the bus, as in AWS. The outcome is chosen by the recipient, as SES's mailbox simulator does (SES
Developer Guide, "Using the mailbox simulator"; a ``+label`` after the local part is allowed):

- ``bounce@simulator.amazonses.com``: Send, then a permanent bounce (General);
- ``complaint@…``: Send, Delivery, then a complaint;
- ``ooto@…``: Send and Delivery (the out-of-office reply goes to the Return-Path, not to events);
- ``suppressionlist@…``: Send, then a permanent bounce, sub-type ``OnAccountSuppressionList``;
- any other address: Send and Delivery.

Events are built from the documented samples in tests/events (SOURCES.md there).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from localrun.bus import EventBus, SqsQueue
from localrun.events import ACCOUNT, sample
from localrun.lambdas import Function

SIMULATOR_DOMAIN = "simulator.amazonses.com"
SAMPLES = {"Send": "ses_send_event.json", "Delivery": "ses_delivery_event.json",
           "Bounce": "ses_bounce_event.json", "Complaint": "ses_complaint_event.json"}
# simulator local part → what SES reports after Send, in order (event type, bounce fields)
OUTCOMES: dict[str, list[tuple[str, dict[str, str]]]] = {
    "bounce": [("Bounce", {"bounceType": "Permanent", "bounceSubType": "General"})],
    "complaint": [("Delivery", {}), ("Complaint", {})],
    "ooto": [("Delivery", {})],
    "suppressionlist": [("Bounce", {"bounceType": "Permanent", "bounceSubType": "OnAccountSuppressionList"})],
}
DELIVERED: list[tuple[str, dict[str, str]]] = [("Delivery", {})]


def outcome(recipient: str) -> list[tuple[str, dict[str, str]]]:
    local, _, domain = recipient.lower().rpartition("@")
    if domain != SIMULATOR_DOMAIN:
        return DELIVERED
    return OUTCOMES.get(local.partition("+")[0], DELIVERED)


def sending_event(kind: str, ses_message_id: str, destination: list[str], recipients: list[str],
                  tags: dict[str, str], **fields: str) -> dict[str, Any]:
    """SES's record of ``kind`` for one mail: the sample with this mail's id, every recipient
    (``destination``: To, Cc and Bcc), the ``recipients`` this event is about, and its tags."""
    payload = sample(SAMPLES[kind])
    mail = payload["mail"]
    mail.update(messageId=ses_message_id, destination=destination)
    own = {name: values for name, values in mail["tags"].items() if name.startswith("ses:")}
    mail["tags"] = own | {name: [value] for name, value in tags.items()}
    if kind == "Bounce":
        payload["bounce"].update(fields)
        payload["bounce"]["bouncedRecipients"] = [{"emailAddress": r, "action": "failed", "status": "5.1.1",
                                                   "diagnosticCode": "smtp; 550 5.1.1 user unknown"}
                                                  for r in recipients]
    elif kind == "Complaint":
        payload["complaint"]["complainedRecipients"] = [{"emailAddress": r} for r in recipients]
    elif kind == "Delivery":
        payload["delivery"]["recipients"] = recipients
    return payload


@dataclass
class SesSimulator:
    bus: EventBus
    topic_arn: str

    @classmethod
    def start(cls, bus: EventBus, mail_events: Function, sesv2_client: Any) -> SesSimulator:
        """The events topic → its queue → mail_events on ``bus``; hooks ``sesv2_client`` (the handlers')."""
        region = mail_events.region
        topic = f"arn:aws:sns:{region}:{ACCOUNT}:text311-email-events"
        queue = SqsQueue("email-events", f"arn:aws:sqs:{region}:{ACCOUNT}:text311-email-events", mail_events,
                         bus.dead_letters)
        bus.subscribe(topic, queue)
        simulator = cls(bus, topic)
        events = sesv2_client.meta.events
        events.register("provide-client-params.sesv2.SendEmail", simulator._before)
        events.register("after-call.sesv2.SendEmail", simulator._after)
        return simulator

    def _before(self, params: dict, context: dict, **_: Any) -> None:
        destination = params.get("Destination", {})
        recipients = [address for field in ("ToAddresses", "CcAddresses", "BccAddresses")
                      for address in destination.get(field, [])]
        context["localrun_ses"] = (recipients, {t["Name"]: t["Value"] for t in params.get("EmailTags", [])})

    def _after(self, http_response: Any, parsed: dict, context: dict, **_: Any) -> None:
        if getattr(http_response, "status_code", 500) >= 300 or "MessageId" not in parsed:
            return  # SES took nothing: no event
        recipients, tags = context.get("localrun_ses", ([], {}))
        self.publish(parsed["MessageId"], recipients, tags)

    def publish(self, ses_message_id: str, recipients: Iterable[str], tags: dict[str, str]) -> None:
        recipients = list(recipients)
        self._send(sending_event("Send", ses_message_id, recipients, recipients, tags))
        # one event per outcome, each naming the recipients it is about (as SES groups them)
        groups: dict[tuple[str, str], list[str]] = {}
        for recipient in recipients:
            for kind, fields in outcome(recipient):
                groups.setdefault((kind, json.dumps(fields, sort_keys=True)), []).append(recipient)
        for (kind, fields), about in groups.items():
            self._send(sending_event(kind, ses_message_id, recipients, about, tags, **json.loads(fields)))

    def _send(self, payload: dict[str, Any]) -> None:
        self.bus.publish(self.topic_arn, json.dumps(payload))
