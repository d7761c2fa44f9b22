"""QueuedSmsSender: what producers send through puts one message on the identity's queue."""

from __future__ import annotations

import json

import boto3
import pytest
from moto import mock_aws

from text311.adapters.sms_sender import PermanentSendFailure
from text311.outbound import Kind, OutboundMessage, count_parts
from text311.outbound.parts import split_parts
from text311.outbound.queued import QueuedSmsSender
from text311.sms import ReplyTooLong
from text311.sms_guards import DestinationCountryGuard

REGION = "ca-central-1"
RESIDENT = "+18195550123"


class Status:
    def __init__(self, status=None) -> None:
        self.status = status
        self.reads = 0

    def read(self, fresh_within: float):
        self.reads += 1
        return self.status


@pytest.fixture
def queue():
    with mock_aws():
        sqs = boto3.client("sqs", region_name=REGION)
        yield sqs, sqs.create_queue(QueueName="outbound")["QueueUrl"]


def sender(queue, status=None, mps=1.0) -> QueuedSmsSender:
    sqs, url = queue
    return QueuedSmsSender(sqs=sqs, queue_url=url, identity="+15145550100", split=split_parts, clock=lambda: 42.0,
                           status=status or Status(), mps=mps, seal=lambda number: f"sealed:{number}")


def queued(queue) -> list[OutboundMessage]:
    sqs, url = queue
    raw = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    return [OutboundMessage.from_json(m["Body"]) for m in raw]


def test_an_answer_is_queued_under_the_producers_key_with_its_kind_and_city(queue):
    result = sender(queue).send(RESIDENT, "Une équipe passe demain.", idempotency_key="ses-1",
                                context={"conversation": "c1", "message": "k1", "kind": "agent", "city": "5959974"})

    [message] = queued(queue)
    assert (message.id, message.kind, message.city) == ("ses-1", Kind.AGENT, 5959974)
    assert message.context == {"conversation": "c1", "message": "k1"}  # kind and city are the queue's
    assert message.destination == f"sealed:{RESIDENT}"  # no plain number on the queue
    assert message.parts == count_parts("Une équipe passe demain.") == result.parts
    assert result.queued is True and result.message_ids == [] and message.enqueued_at == 42.0


def test_the_same_key_sent_twice_queues_the_same_id_twice_for_the_ledger_to_send_once(queue):
    queued_sender = sender(queue)
    for _ in range(2):
        queued_sender.send(RESIDENT, "Which city?", idempotency_key="in-1:r0", context={"inbound": "in-1"})

    assert [m.id for m in queued(queue)] == ["in-1:r0", "in-1:r0"]


def test_a_text_too_long_for_sms_fails_before_anything_is_queued(queue):
    with pytest.raises(ReplyTooLong):
        sender(queue).send(RESIDENT, "word " * 2000, idempotency_key="ses-2", context={"kind": "agent"})
    assert queued(queue) == []


def test_a_refused_country_fails_before_anything_is_queued(queue):
    guarded = DestinationCountryGuard(sender(queue), {"CA"})
    with pytest.raises(PermanentSendFailure):
        guarded.send("+441632960961", "Hello", idempotency_key="ses-3", context={"kind": "agent"})
    assert queued(queue) == []


def test_an_agent_is_told_the_wait_when_it_exceeds_a_minute(queue):
    status = Status({"rate": 1.0, "wait_by_priority": {"URGENT": 0.0, "ANSWER": 300.0, "NOTICE": 900.0}})
    result = sender(queue, status).send(RESIDENT, "On it.", idempotency_key="ses-4", context={"kind": "agent"})
    assert result.wait_minutes == 6  # 300 s ahead + its own part at 1 part/s: 301 s, about 6 minutes


def test_no_wait_is_announced_for_a_minute_or_less_or_with_no_drainer_status(queue):
    short = Status({"rate": 1.0, "wait_by_priority": {"ANSWER": 30.0}})
    assert sender(queue, short).send(RESIDENT, "On it.", idempotency_key="a", context={"kind": "agent"}).wait_minutes \
        is None
    assert sender(queue, Status(None)).send(RESIDENT, "On it.", idempotency_key="b",
                                            context={"kind": "agent"}).wait_minutes is None


def test_dialog_and_keyword_texts_read_no_status(queue):
    status = Status({"rate": 1.0, "wait_by_priority": {"ANSWER": 3000.0}})
    queued_sender = sender(queue, status)
    queued_sender.send(RESIDENT, "Which city?", idempotency_key="in-2:r0", context={"kind": "dialog"})
    queued_sender.send(RESIDENT, "You are opted in.", idempotency_key="in-3:r0", context={"kind": "keyword"})
    assert status.reads == 0  # nobody is told a dialog's wait: no extra call per inbound text
    assert sorted(m.kind for m in queued(queue)) == [Kind.DIALOG, Kind.KEYWORD]


def test_the_body_on_the_queue_is_the_messages_json(queue):
    sender(queue).send(RESIDENT, "Bonjour", idempotency_key="ses-5", context={"kind": "agent"})
    sqs, url = queue
    [raw] = sqs.receive_message(QueueUrl=url)["Messages"]
    assert json.loads(raw["Body"])["kind"] == "agent"


def groups(queue) -> dict[str, str | None]:
    """Message id → the MessageGroupId the queue holds it under (None: sent without one)."""
    sqs, url = queue
    raw = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageSystemAttributeNames=["All"])
    return {OutboundMessage.from_json(m["Body"]).id: m.get("Attributes", {}).get("MessageGroupId")
            for m in raw.get("Messages", [])}


def test_each_message_is_queued_under_its_city_as_the_fair_queues_tenant(queue):
    """The city is the message group, so SQS's fair queues hand a small city's answer out before a
    flooding city's backlog; a message of no city goes without one (SQS: a tenant of its own)."""
    send = sender(queue).send
    send(RESIDENT, "Une équipe passe demain.", idempotency_key="answer", context={"kind": "agent", "city": "5959974"})
    send(RESIDENT, "Réponse.", idempotency_key="dialog", context={"conversation": "6077243-abc"})
    send(RESIDENT, "Vous êtes désabonné.", idempotency_key="stop", context={"kind": "keyword"})

    assert groups(queue) == {"answer": "5959974", "dialog": "6077243", "stop": None}
