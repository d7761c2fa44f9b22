"""A Text311 region in moto, with the real handlers, the real SMS sender over a simulated End User
Messaging endpoint, and a fault plan on every AWS call (no fault until a test scripts one)."""

from __future__ import annotations

import importlib
import json
import uuid
from dataclasses import dataclass
from email.message import EmailMessage
from types import ModuleType
from typing import Any

import boto3
import pytest
from aws_events import QUEUE, TOPIC, ses_receipt, sns_notification, sqs_record, two_way_sms
from harness import OUR_NUMBER, RAW_MAIL_BUCKET, REGION, LambdaContext, sent_mails, setup_region, text_of
from moto import mock_aws
from ses_events import SesSendEvents

from text311 import services

from .simulation import FaultPlan, SimulatedEndUserMessaging, inject_faults, quiet_output

RESIDENT = "+18195550123"  # a Gatineau-area number
AGENT = "marie.tremblay@gatineau.example.ca"
# Redelivery comes after the visibility timeout, when the invocation that held a record is over.
EXPIRED_CONTEXT_MS = -1_000


def sms_record(body: str, *, number: str = RESIDENT, message_id: str | None = None) -> dict:
    """One SQS record carrying one two-way SMS in its SNS notification (tests/aws_events.py shapes)."""
    payload = two_way_sms(body, number, OUR_NUMBER, message_id=message_id)
    return sqs_record(json.dumps(sns_notification(json.dumps(payload), TOPIC)), QUEUE)


def failed_ids(response: dict) -> list[str]:
    return [item["itemIdentifier"] for item in response["batchItemFailures"]]


def city_mails() -> list[EmailMessage]:
    return [mail for mail in sent_mails() if mail["X-Text311-Conversation"]]


def mails_containing(text: str) -> int:
    return sum(text in text_of(mail) for mail in city_mails())


@dataclass
class Region:
    inbound: ModuleType
    answers: ModuleType
    mail_events: ModuleType
    ses: SesSendEvents
    eum: SimulatedEndUserMessaging
    plan: FaultPlan
    monkeypatch: Any

    def publish_ses_events(self) -> None:
        """SES's Send events for the mails it took since last time, through the mail_events function.
        They take seconds; SQS gives a record back after its visibility timeout (minutes): so they
        come first. A record the function fails is delivered again until it passes."""
        batch = self.ses.pending()
        while batch is not None:
            with quiet_output():
                response = self.mail_events.lambda_handler(batch, LambdaContext("mail-events"))
            failed = set(failed_ids(response))
            batch = {"Records": [r for r in batch["Records"] if r["messageId"] in failed]} if failed else None

    def deliver(self, *records: dict, ses_events_first: bool = True) -> dict:
        """One inbound_sms invocation with these records as its SQS batch (after SES's pending events)."""
        if ses_events_first:
            self.publish_ses_events()
        with quiet_output():
            return self.inbound.lambda_handler(
                {"Records": list(records)}, LambdaContext("inbound-sms", remaining_ms=EXPIRED_CONTEXT_MS))

    def text(self, body: str, *, number: str = RESIDENT, message_id: str | None = None) -> dict:
        return self.deliver(sms_record(body, number=number, message_id=message_id))

    def connect(self, number: str = RESIDENT, city: str = "Gatineau") -> None:
        assert self.text(city, number=number) == {"batchItemFailures": []}

    def answer_event(self, city_mail: EmailMessage, text: str, *, sender: str = AGENT,
                     verdicts: dict[str, str] | None = None) -> dict:
        """An agent's reply stored in S3 by SES's S3 action, and SES's receipt event for it."""
        msg = EmailMessage()
        msg["From"] = sender
        msg["To"] = str(city_mail["Reply-To"])
        msg["Subject"] = f"RE: {city_mail['Subject']}"
        msg["Message-ID"] = f"<{uuid.uuid4()}@gatineau.example.ca>"
        msg.set_content(f"{text}\n\nMarie\n")
        ses_id = uuid.uuid4().hex
        boto3.client("s3", region_name=REGION).put_object(
            Bucket=RAW_MAIL_BUCKET, Key=f"inbound/{ses_id}", Body=msg.as_bytes())
        return ses_receipt(message_id=ses_id, recipient=str(city_mail["Reply-To"]), sender=sender,
                           verdicts=verdicts)

    def invoke_answers(self, event: dict) -> list[dict]:
        with quiet_output():
            return self.answers.lambda_handler(event, LambdaContext("inbound-email", remaining_ms=EXPIRED_CONTEXT_MS))

    def cold_start(self) -> None:
        """A new Lambda container: services built again, a new SMS sender (its in-memory ledger empty)."""
        sender = self.eum.sender()
        self.monkeypatch.setattr(services, "sms_sender", lambda: sender)
        services.inbound_sms_service.cache_clear()
        services.answer_service.cache_clear()


@pytest.fixture
def region(aws_env, monkeypatch) -> Region:
    with mock_aws():
        setup_region(aws_env, monkeypatch)
        boto3.client("s3", region_name=REGION).create_bucket(
            Bucket=RAW_MAIL_BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        eum = SimulatedEndUserMessaging()
        sender = eum.sender()
        monkeypatch.setattr(services, "sms_sender", lambda: sender)
        plan = inject_faults(monkeypatch, FaultPlan())
        inbound = importlib.import_module("functions.inbound_sms.handler")
        answers = importlib.import_module("functions.inbound_email.handler")
        mail_events = importlib.import_module("functions.mail_events.handler")
        inbound.process_once.cache_clear()
        answers.process_once.cache_clear()
        ses = SesSendEvents().attach(services.clients().sesv2)
        yield Region(inbound, answers, mail_events, ses, eum, plan, monkeypatch)
