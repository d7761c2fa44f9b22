"""A delivery event settles an SMS part the drainer left in doubt (issue 12, docs/outbound.md)."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from moto import mock_aws

from text311 import services
from text311.adapters.dynamodb import MessageModel, create_tables
from text311.delivery import DeliveryStatusService, SmsEvent
from text311.outbound.ledger import LedgerState
from text311.outbound.parts import count_parts
from text311.outbound.table_ledger import TableLedger

IDENTITY = "+15145550100"
CONVERSATION = "5959974-a1b2c3"
KEY = "2026-01-10T14:00:00#ses-1"
SHORT = "Une équipe passe demain."
LONG = "Bonjour. " + "Nous avons bien reçu votre signalement concernant le nid-de-poule. " * 3


class World:
    def __init__(self, table: str) -> None:
        self.ledger = TableLedger(services.clients().dynamodb, table)
        self.told: list[str] = []
        conversation = SimpleNamespace(conversation_id=CONVERSATION)
        self.service = DeliveryStatusService(
            conversations=SimpleNamespace(get=lambda city, conversation_id: conversation),
            subscribers=SimpleNamespace(
                get=lambda city: SimpleNamespace(contact_emails=("city@example.ca",), language="en")),
            notify=lambda conversation, subscriber, text: self.told.append(text),
            ledger=self.ledger,
        )

    def answer(self, body: str, status: str) -> None:
        MessageModel(CONVERSATION, KEY, direction="out", channel="email", body=body, status=status,
                     created_at=datetime.now(UTC)).save()

    def in_doubt(self, message_id: str, parts_sent: int) -> None:
        """The drainer's ledger after parts 1..parts_sent-1 went out and part ``parts_sent`` is in doubt."""
        for part in range(1, parts_sent):
            self.ledger.claim(f"{message_id}#{part}", IDENTITY)
            self.ledger.mark_sent(f"{message_id}#{part}", f"sms-{part}", 1)
        self.ledger.claim(f"{message_id}#{parts_sent}", IDENTITY)
        self.ledger.mark_in_doubt(f"{message_id}#{parts_sent}")

    def event(self, key: str | None, status: str = "DELIVERED", final: bool = True) -> str:
        return self.service.record(SmsEvent("sms-9", status, status.lower(), final, CONVERSATION, KEY, key))

    def status(self) -> str:
        return MessageModel.get(CONVERSATION, KEY).status

    def state(self, key: str) -> LedgerState:
        entry = self.ledger.get(key)
        assert entry is not None
        return entry.state


@pytest.fixture
def world(aws_env, monkeypatch):
    with mock_aws():
        for name, value in aws_env.items():
            monkeypatch.setenv(name, value)
        services.reset()
        services.tables_bound()
        create_tables()
        yield World(aws_env["IDEMPOTENCY_TABLE"])
        services.reset()


def test_a_delivery_event_for_an_in_doubt_answer_settles_its_part_and_its_status(world):
    world.answer(SHORT, "in_doubt")
    world.in_doubt("ses-1", parts_sent=1)

    outcome = world.event("ses-1#1")

    assert outcome == "delivered" and world.status() == "delivered"
    assert world.state("ses-1#1") is LedgerState.SENT
    assert world.ledger.get("ses-1#1").sms_message_id == "sms-9"
    [notice] = world.told  # the agent was told "may not have been delivered": now told it was sent
    assert "no need to send it again" in notice


def test_a_failed_delivery_of_a_settled_answer_is_reported_like_any_other(world):
    world.answer(SHORT, "in_doubt")
    world.in_doubt("ses-1", parts_sent=1)

    outcome = world.event("ses-1#1", status="CARRIER_UNREACHABLE")

    assert outcome == "undelivered" and world.status() == "undelivered"
    assert world.state("ses-1#1") is LedgerState.SENT  # it was sent, then not delivered
    [notice] = world.told
    assert "could not be delivered" in notice


def test_an_intermediate_event_settles_the_part_and_the_final_one_still_lands(world):
    world.answer(SHORT, "in_doubt")
    world.in_doubt("ses-1", parts_sent=1)

    assert world.event("ses-1#1", status="PENDING", final=False) == "pending"
    assert world.event("ses-1#1", status="DELIVERED") == "delivered"
    assert world.event("ses-1#1", status="DELIVERED") == "already_final"  # redelivered event

    assert world.status() == "delivered" and len(world.told) == 1


def test_an_answer_whose_middle_part_was_in_doubt_stays_in_doubt(world):
    assert count_parts(LONG) >= 3
    world.answer(LONG, "in_doubt")
    world.in_doubt("ses-1", parts_sent=2)  # parts 3.. were never sent: the resident has half of it

    outcome = world.event("ses-1#2")

    assert world.state("ses-1#2") is LedgerState.SENT  # that part did go out
    assert outcome == "already_final" and world.status() == "in_doubt" and world.told == []


def test_an_in_doubt_answer_is_not_moved_by_an_event_without_a_settled_last_part(world):
    world.answer(SHORT, "in_doubt")
    world.in_doubt("ses-1", parts_sent=1)

    no_key = world.event(None)
    foreign = world.event("not-a-part-key")

    assert no_key == foreign == "already_final" and world.status() == "in_doubt"
    assert world.state("ses-1#1") is LedgerState.IN_DOUBT and world.told == []


def test_an_event_for_a_part_recorded_sent_changes_nothing_in_the_ledger(world):
    world.answer(SHORT, "queued")
    world.ledger.claim("ses-1#1", IDENTITY)
    world.ledger.mark_sent("ses-1#1", "sms-1", 1)

    outcome = world.event("ses-1#1")

    assert outcome == "delivered" and world.ledger.get("ses-1#1").sms_message_id == "sms-1"
    assert world.told == []


def test_the_deployed_handler_reads_the_part_key_and_its_service_holds_the_ledger(aws_env, monkeypatch):
    import importlib

    from aws_events import sms_delivery_event
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

    handler = importlib.import_module("functions.delivery_status.handler")
    event = sms_delivery_event("sms-9", "DELIVERED", final=True,
                               context={"conversation": CONVERSATION, "message": KEY, "idempotency_key": "ses-1#2"})
    assert handler.parse_event(SQSRecord(event["Records"][0])).idempotency_key == "ses-1#2"
    for name, value in aws_env.items():
        monkeypatch.setenv(name, value)
    services.reset()
    with mock_aws():
        assert isinstance(services.delivery_status_service().ledger, TableLedger)
    services.reset()


CHINESE = "感谢您的报告。维修队将于明天上午十点到达您家门前修补路面坑洞，请您留意现场安全并保持车道畅通。" * 2


def test_a_translated_answer_in_doubt_is_settled_by_the_last_part_of_its_translation(world):
    # English original: one GSM-7 part; its Chinese translation, the SMS sent: two UCS-2 parts.
    assert count_parts("Thank you, a crew comes tomorrow.") == 1 and count_parts(CHINESE) == 2
    MessageModel(CONVERSATION, KEY, direction="out", channel="console", body="Thank you, a crew comes tomorrow.",
                 translation=CHINESE, status="in_doubt", created_at=datetime.now(UTC)).save()
    world.in_doubt("ses-1", parts_sent=2)

    assert world.event("ses-1#2") == "delivered" and world.status() == "delivered"


def test_a_translated_answer_whose_first_part_only_is_settled_stays_in_doubt(world):
    MessageModel(CONVERSATION, KEY, direction="out", channel="console", body="Thank you, a crew comes tomorrow.",
                 translation=CHINESE, status="in_doubt", created_at=datetime.now(UTC)).save()
    world.in_doubt("ses-1", parts_sent=1)

    assert world.event("ses-1#1") == "already_final" and world.status() == "in_doubt"
