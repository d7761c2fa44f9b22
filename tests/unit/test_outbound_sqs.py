"""SqsMessageSource over moto's SQS: receive, acknowledge, give back, unreadable bodies."""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

from text311.outbound import FakeClock, Kind, OutboundMessage
from text311.outbound.sqs_source import SqsMessageSource

REGION = "ca-central-1"


def message(n: int) -> OutboundMessage:
    return OutboundMessage.create(id=f"m{n}", identity="+15145550100", city=5959974, kind=Kind.AGENT,
                                  destination="sealed-number", body=f"answer {n}", enqueued_at=1.0)


@pytest.fixture
def queue():
    with mock_aws():
        sqs = boto3.client("sqs", region_name=REGION)
        url = sqs.create_queue(QueueName="outbound")["QueueUrl"]
        yield sqs, url


def visible(sqs, url) -> int:
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    return int(attributes["Attributes"]["ApproximateNumberOfMessages"])


def test_received_messages_are_parsed_and_hidden_for_the_drainers_life(queue):
    sqs, url = queue
    sqs.send_message(QueueUrl=url, MessageBody=message(1).to_json())
    source = SqsMessageSource(sqs, url, FakeClock(), visibility=lambda: 600, long_poll=False)

    [got] = source.receive(0.0)

    assert got == message(1) and got.receipt
    assert source.receive(0.0) == []  # hidden while this drainer may still send it
    assert visible(sqs, url) == 0


def test_ack_deletes_and_abandon_gives_the_message_back(queue):
    sqs, url = queue
    for n in (1, 2):
        sqs.send_message(QueueUrl=url, MessageBody=message(n).to_json())
    source = SqsMessageSource(sqs, url, FakeClock(), visibility=lambda: 600, long_poll=False)
    first, second = sorted(source.receive(0.0), key=lambda m: m.id)

    source.ack(first)
    source.abandon(second, delay=0.0)

    assert [m.id for m in source.receive(0.0)] == ["m2"]


def test_everything_the_queue_offers_is_taken_in_one_receive(queue):
    sqs, url = queue
    for n in range(25):
        sqs.send_message(QueueUrl=url, MessageBody=message(n).to_json())
    source = SqsMessageSource(sqs, url, FakeClock(), visibility=lambda: 600, long_poll=False)

    assert len(source.receive(0.0)) == 25  # more than one batch of 10: priority needs the whole backlog


def test_an_unreadable_body_is_deleted_not_received_forever(queue):
    sqs, url = queue
    sqs.send_message(QueueUrl=url, MessageBody="{not json")
    sqs.send_message(QueueUrl=url, MessageBody='{"id": "x"}')  # JSON, but not a message
    sqs.send_message(QueueUrl=url, MessageBody=message(1).to_json())
    source = SqsMessageSource(sqs, url, FakeClock(), visibility=lambda: 0, long_poll=False)

    assert [m.id for m in source.receive(0.0)] == ["m1"]
    assert source.unreadable == 2
    # Visibility 0: anything not deleted would be visible again at once; only m1 is.
    assert [m.id for m in source.receive(0.0)] == ["m1"]


def test_a_short_wait_sleeps_on_the_clock_and_idle_time_is_tracked(queue):
    sqs, url = queue
    clock = FakeClock(100.0)
    source = SqsMessageSource(sqs, url, clock, visibility=lambda: 600, long_poll=True)

    assert source.receive(0.4) == []  # under a second: no long poll, the clock sleeps the remainder
    assert clock.now() == pytest.approx(100.4)
    assert source.empty_since == pytest.approx(100.4)
    sqs.send_message(QueueUrl=url, MessageBody=message(1).to_json())
    assert len(source.receive(0.0)) == 1 and source.empty_since is None
