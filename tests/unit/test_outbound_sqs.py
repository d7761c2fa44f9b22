"""SqsMessageSource over moto's SQS: receive, acknowledge, give back, unreadable bodies."""

from __future__ import annotations

import json

import boto3
import pytest
from moto import mock_aws

from text311.outbound import FakeClock, Kind, OutboundMessage, sqs_source
from text311.outbound.sim_clock import SimClock
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


def dead_lettered(sqs, max_receive_count: int = 2) -> tuple[str, str]:
    """A queue that redrives to a DLQ after ``max_receive_count`` receives, as the stack makes it."""
    dlq = sqs.create_queue(QueueName="outbound-dlq")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    url = sqs.create_queue(QueueName="outbound-redriven", Attributes={"RedrivePolicy": json.dumps(
        {"deadLetterTargetArn": arn, "maxReceiveCount": str(max_receive_count)})})["QueueUrl"]
    return url, dlq


def test_an_unreadable_body_reaches_the_dlq_never_the_void(queue, monkeypatch):
    sqs, _ = queue
    url, dlq = dead_lettered(sqs)
    monkeypatch.setattr(sqs_source, "UNREADABLE_RETRY", 0)  # given back at once (60 s on AWS)
    sqs.send_message(QueueUrl=url, MessageBody="{not json")
    sqs.send_message(QueueUrl=url, MessageBody='{"id": "x"}')  # JSON, but not a message
    sqs.send_message(QueueUrl=url, MessageBody=message(1).to_json())
    source = SqsMessageSource(sqs, url, FakeClock(), visibility=lambda: 600, long_poll=False)

    first = source.receive(0.0)
    for _ in range(3):  # each receive counts; past the redrive's count SQS moves the body to the DLQ
        source.receive(0.0)

    assert [m.id for m in first] == ["m1"] and source.unreadable >= 2
    dead = sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10)["Messages"]
    assert sorted(m["Body"] for m in dead) == sorted(["{not json", '{"id": "x"}'])


def test_a_message_of_a_newer_schema_is_given_back_for_a_newer_drainer(queue, monkeypatch):
    sqs, url = queue
    monkeypatch.setattr(sqs_source, "UNREADABLE_RETRY", 0)
    newer = {**json.loads(message(1).to_json()), "v": 2, "kind": "carrier_pigeon"}
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps(newer))
    source = SqsMessageSource(sqs, url, FakeClock(), visibility=lambda: 600, long_poll=False)

    assert source.receive(0.0) == []

    assert source.newer == 1 and source.unreadable == 0  # expected during a deploy: not the alarm's metric
    [back] = sqs.receive_message(QueueUrl=url)["Messages"]  # still on the queue, for the new drainer
    assert json.loads(back["Body"])["v"] == 2


def test_a_short_wait_sleeps_on_the_clock_and_idle_time_is_tracked(queue):
    sqs, url = queue
    clock = FakeClock(100.0)
    source = SqsMessageSource(sqs, url, clock, visibility=lambda: 600, long_poll=True)

    assert source.receive(0.4) == []  # under a second: no long poll, the clock sleeps the remainder
    assert clock.now() == pytest.approx(100.4)
    assert source.empty_since == pytest.approx(100.4)
    sqs.send_message(QueueUrl=url, MessageBody=message(1).to_json())
    assert len(source.receive(0.0)) == 1 and source.empty_since is None


def test_in_the_last_second_before_the_stop_the_queue_is_polled_every_quarter_second():
    with mock_aws():
        sqs = boto3.client("sqs", region_name=REGION)
        url = sqs.create_queue(QueueName="outbound")["QueueUrl"]
        clock = FakeClock(100.0)
        stop_at = 100.9
        source = SqsMessageSource(sqs, url, clock, visibility=lambda: 600, long_poll=True,
                                  poll_for=lambda: stop_at - clock.now())

        # given 0.9 s left before the stop (no long poll fits) and a long wait asked for
        assert source.receive(20.0) == []
        # then it polled after a quarter second, not at the stop
        assert clock.now() == pytest.approx(100.25)

        # so an answer that arrives now is read 0.25 s later, before the stop
        sqs.send_message(QueueUrl=url, MessageBody=message(1).to_json())
        assert len(source.receive(20.0)) == 1 and clock.now() == pytest.approx(100.5)
        assert source.receive(20.0) == [] and source.receive(20.0) == []
        assert clock.now() == pytest.approx(100.9)  # the last nap ends at the stop, not past it


def test_a_hand_off_gives_back_what_it_holds_ten_messages_a_call():
    class CountingSqs:
        def __init__(self, client):
            self.client, self.batches = client, 0

        def __getattr__(self, name):
            return getattr(self.client, name)

        def change_message_visibility_batch(self, **request):
            self.batches += 1
            return self.client.change_message_visibility_batch(**request)

    with mock_aws():
        sqs = boto3.client("sqs", region_name=REGION)
        url = sqs.create_queue(QueueName="outbound")["QueueUrl"]
        for n in range(25):
            sqs.send_message(QueueUrl=url, MessageBody=message(n).to_json())
        counting = CountingSqs(sqs)
        source = SqsMessageSource(counting, url, FakeClock(), visibility=lambda: 600, long_poll=False)
        held = source.receive(0.0)

        source.abandon_many(held, delay=0.0)

        assert counting.batches == 3 and visible(sqs, url) == 25  # 25 messages back in three calls


@pytest.mark.parametrize("count", [15, 45])
def test_a_hand_off_gives_back_the_soonest_ten_before_the_others_are_begun(count):
    """The successor reads oldest-visible first: the ten due next must be visible before any of the
    rest, or a chunk of a flood's backlog could be read before a small city's answer that was next."""

    class TimedSqs:
        def __init__(self, client, clock):
            self.client, self.clock, self.calls = client, clock, []

        def __getattr__(self, name):
            return getattr(self.client, name)

        def change_message_visibility_batch(self, **request):
            started = self.clock.now()
            self.clock.sleep(0.015)  # one call's latency, on the simulated clock
            self.calls.append((started, self.clock.now(), [e["ReceiptHandle"] for e in request["Entries"]]))
            return self.client.change_message_visibility_batch(**request)

    with mock_aws():
        sqs = boto3.client("sqs", region_name=REGION)
        url = sqs.create_queue(QueueName="outbound")["QueueUrl"]
        for n in range(count):
            sqs.send_message(QueueUrl=url, MessageBody=message(n).to_json())
        clock = SimClock()
        timed = TimedSqs(sqs, clock)
        source = SqsMessageSource(timed, url, clock, visibility=lambda: 600, long_poll=False)
        held = source.receive(0.0)
        soonest = {m.receipt for m in held[:10]}

        source.abandon_many(held, delay=0.0)

        first = next(call for call in timed.calls if set(call[2]) == soonest)
        others = [call for call in timed.calls if call is not first]
        assert len(others) == (count - 1) // 10 and all(call[0] >= first[1] for call in others)
        assert max(call[0] for call in others) < first[1] + 0.015  # the rest still go back together
        assert visible(sqs, url) == count
