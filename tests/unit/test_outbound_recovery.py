"""Recovery in seconds (issue 19): a short visibility extended by heartbeat, a short lease, and a
successor started by Lambda's on-failure destination that waits out the dead drainer's lease."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from tests.unit.test_outbound_drainer import IDENTITY, TABLE, World, answer
from text311.outbound import FakeClock, Kind, OutboundMessage
from text311.outbound.drainer import failed_invocation, replaces_a_failed_drainer
from text311.outbound.lease import LEASE_SECONDS, Lease
from text311.outbound.sqs_source import HEARTBEAT_BATCHES, HOLD_FIRST, HOLD_LONGEST, HOLD_MARGIN, SqsMessageSource

QUEUE = "https://sqs.ca-central-1.amazonaws.com/123456789012/outbound"


class RecordingSqs:
    """The SQS calls the source makes, answered as SQS does; each visibility change is recorded."""

    def __init__(self, bodies: list[str]) -> None:
        self.bodies = bodies
        self.extended: list[tuple[str, int]] = []  # (receipt, VisibilityTimeout)
        self.batch_calls = 0

    def receive_message(self, **request) -> dict:
        batch, self.bodies = (
            self.bodies[: request["MaxNumberOfMessages"]],
            self.bodies[request["MaxNumberOfMessages"] :],
        )
        self.first_visibility = request["VisibilityTimeout"]
        receipts = [f"receipt-{json.loads(body)['id']}" for body in batch]
        return {
            "Messages": [{"MessageId": r, "ReceiptHandle": r, "Body": b} for r, b in zip(receipts, batch, strict=True)]
        }

    def change_message_visibility_batch(self, *, QueueUrl: str, Entries: list[dict]) -> dict:  # noqa: N803
        self.batch_calls += 1
        self.extended += [(e["ReceiptHandle"], e["VisibilityTimeout"]) for e in Entries]
        return {"Successful": [{"Id": e["Id"]} for e in Entries], "Failed": []}

    def delete_message(self, **request) -> dict:
        return {}


def message(n: int) -> OutboundMessage:
    return OutboundMessage.create(
        id=f"m{n:04d}",
        identity=IDENTITY,
        city=5959974,
        kind=Kind.AGENT,
        destination="+18195550123",
        body=f"answer {n}",
        enqueued_at=0.0,
    )


def held_for(seconds: float, count: int = 3) -> tuple[FakeClock, RecordingSqs, SqsMessageSource, list]:
    clock = FakeClock(100.0)
    sqs = RecordingSqs([message(n).to_json() for n in range(count)])
    source = SqsMessageSource(sqs, QUEUE, clock, visibility=lambda: HOLD_FIRST, long_poll=False)
    held = source.receive(0.0)
    clock.sleep(seconds)
    return clock, sqs, source, held


def test_a_received_message_is_hidden_for_seconds_not_for_the_drainers_life():
    _, sqs, _, held = held_for(0.0)

    assert len(held) == 3 and sqs.first_visibility == HOLD_FIRST <= 15


def test_the_heartbeat_extends_what_is_held_before_it_reappears_and_leaves_the_rest_alone():
    clock, sqs, source, held = held_for(HOLD_FIRST - 4.0)

    source.heartbeat(held, due_within=6.0)  # 4 s left of HOLD_FIRST: due
    assert sorted(v for _, v in sqs.extended) == [int(HOLD_FIRST)] * 3 and sqs.batch_calls == 1

    sqs.extended.clear()
    clock.sleep(2.0)
    source.heartbeat(held, due_within=6.0)  # HOLD_FIRST - 2 s left: not yet
    assert sqs.extended == []


def test_a_message_held_long_is_extended_by_as_long_as_it_has_waited_within_bounds():
    clock, sqs, source, held = held_for(40.0, count=1)

    source.heartbeat(held, due_within=6.0)
    clock.sleep(4_000.0)
    source.heartbeat(held, due_within=6.0)

    assert [v for _, v in sqs.extended] == [40, int(HOLD_LONGEST)]


def test_an_acknowledged_message_is_no_longer_extended():
    _, sqs, source, held = held_for(10.0, count=2)
    source.ack(held[0])

    source.heartbeat(held, due_within=6.0)

    assert [r for r, _ in sqs.extended] == [held[1].receipt]


class TimedLease(Lease):
    taken_at: float | None = None

    def acquire(self, seconds: float | None = None, replacing: str | None = None) -> bool:
        taken = super().acquire(seconds, replacing)
        if taken and self.taken_at is None:
            self.taken_at = self.now()
        return taken


@pytest.fixture
def world():
    with mock_aws():
        yield World()


def test_a_successor_started_after_a_crash_takes_over_when_the_dead_drainers_lease_expires(world):
    # given a drainer that died holding the lease (it will never renew or release it)
    dead = Lease(world.dynamodb, TABLE, IDENTITY, now=world.clock.now, owner="dead")
    assert dead.acquire()
    world.clock.sleep(3.0)  # Lambda starts the on-failure destination within seconds
    world.put(answer())
    world.accepts()
    started = world.clock.now()

    # when Lambda's on-failure destination starts the next life
    successor = TimedLease(world.dynamodb, TABLE, IDENTITY, now=world.clock.now)
    report = world.drainer(lease=successor).drain(lambda: 600.0, wait_for_lease=True)

    # then it waits only for the rest of the dead lease, and sends
    assert report.lease_held and report.sent == 1 and world.sent == ["ses-1"]
    assert successor.taken_at is not None and successor.taken_at - started <= LEASE_SECONDS - 3.0 + 0.1


def test_the_record_of_the_failed_life_lets_its_successor_take_its_lease_at_once(world):
    # given a life that died holding the lease, which it took as invocation "req-dead" 1 s ago
    dead = Lease(world.dynamodb, TABLE, IDENTITY, now=world.clock.now, owner="dead")
    dead.invocation = "req-dead"
    assert dead.acquire()
    world.clock.sleep(1.0)
    world.put(answer())
    world.accepts()
    started = world.clock.now()

    # when Lambda's on-failure destination starts the next life with that invocation's record
    successor = TimedLease(world.dynamodb, TABLE, IDENTITY, now=world.clock.now)
    report = world.drainer(lease=successor).drain(
        lambda: 600.0, wait_for_lease=True, invocation="req-next", replacing=failed_invocation(
            {**FAILURE_RECORD, "requestContext": {**FAILURE_RECORD["requestContext"], "requestId": "req-dead"}}
        ),
    )

    # then it takes the lease at once, not when the dead one's would have expired (9 s later), and sends
    assert report.lease_held and world.sent == ["ses-1"]
    assert successor.taken_at == started
    item = world.dynamodb.get_item(TableName=TABLE, Key=successor.key, ConsistentRead=True)["Item"]
    assert item["invocation"]["S"] == "req-next"


def test_a_record_of_another_invocation_does_not_take_a_live_lease(world):
    # given a lease held by a life that runs (a tick that took over meanwhile), as "req-alive"
    alive = Lease(world.dynamodb, TABLE, IDENTITY, now=world.clock.now, owner="alive")
    alive.invocation = "req-alive"
    assert alive.acquire()

    # when a life starts with the record of some other failed invocation
    taken = Lease(world.dynamodb, TABLE, IDENTITY, now=world.clock.now).acquire(replacing="req-dead")

    # then the live holder keeps its lease
    assert not taken
    assert alive.renew()


def test_a_tick_that_finds_a_live_lease_still_returns_at_once(world):
    Lease(world.dynamodb, TABLE, IDENTITY, now=world.clock.now, owner="alive").acquire()
    started = world.clock.now()

    report = world.drainer(lease=Lease(world.dynamodb, TABLE, IDENTITY, now=world.clock.now)).drain(lambda: 600.0)

    assert not report.lease_held and world.clock.now() == started


# The invocation record Lambda sends to an on-failure destination ("Capturing records of Lambda
# asynchronous invocations", AWS Lambda Developer Guide; the same shape as the CDK destinations README).
FAILURE_RECORD = {
    "version": "1.0",
    "timestamp": "2026-11-24T23:08:25.651Z",
    "requestContext": {
        "requestId": "c2a6f2ae-7dbb-4d22-8782-d0485c9877e2",
        "functionArn": "arn:aws:lambda:ca-central-1:123456789012:function:text311-sms-drainer:$LATEST",
        "condition": "RetriesExhausted",
        "approximateInvokeCount": 1,
    },
    "requestPayload": {"handoff": True},
    "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
    "responsePayload": {
        "errorMessage": "RequestId: c2a6f2ae Error: Runtime exited with error: signal: killed",
        "errorType": "Runtime.ExitError",
    },
}
SCHEDULED_EVENT = {
    "version": "0",
    "id": "53dc4d37",
    "detail-type": "Scheduled Event",
    "source": "aws.events",
    "account": "123456789012",
    "time": "2026-11-24T23:08:00Z",
    "region": "ca-central-1",
    "resources": ["arn:aws:events:ca-central-1:123456789012:rule/DrainerSchedule"],
    "detail": {},
}


@pytest.mark.parametrize(
    ("event", "waits"),
    [
        (FAILURE_RECORD, True),
        (
            {**FAILURE_RECORD, "requestContext": {**FAILURE_RECORD["requestContext"], "condition": "EventAgeExceeded"}},
            True,
        ),
        ({**FAILURE_RECORD, "requestContext": {**FAILURE_RECORD["requestContext"], "condition": "Success"}}, False),
        (SCHEDULED_EVENT, False),
        ({"handoff": True}, False),
    ],
)
def test_only_lambdas_record_of_a_failed_life_makes_the_drainer_wait_for_the_lease(event, waits):
    assert replaces_a_failed_drainer(event) is waits
    assert failed_invocation(event) == ("c2a6f2ae-7dbb-4d22-8782-d0485c9877e2" if waits else None)


def test_the_lease_is_short_so_a_dead_drainer_is_replaced_within_seconds():
    with mock_aws():
        client = boto3.client("dynamodb", region_name="ca-central-1")
        client.create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        clock = FakeClock(50.0)
        Lease(client, TABLE, IDENTITY, now=clock.now, owner="dead").acquire()
        clock.sleep(LEASE_SECONDS + 0.01)

        assert LEASE_SECONDS <= 10 and Lease(client, TABLE, IDENTITY, now=clock.now).acquire()


def test_the_status_item_is_written_once_a_minute_while_the_metrics_line_goes_out_every_10_seconds(world, capsys):
    # given an idle drainer that stays 5 minutes
    drainer = world.drainer(max_idle=300.0)
    writes: list[float] = []
    write = drainer.board.write
    drainer.board.write = lambda status: (writes.append(world.clock.now()), write(status))  # type: ignore[method-assign]
    started = world.clock.now()

    drainer.drain(lambda: 600.0)

    # then one DynamoDB write a minute (and the last one at the end), several EMF lines a minute
    lines = [line for line in capsys.readouterr().out.splitlines() if '"class":"ANSWER"' in line]
    assert len(writes) <= 300 / 60 + 2
    assert all(b - a >= 60 for a, b in zip(writes, writes[1:-1], strict=False))
    assert len(lines) >= 300 / 20  # at least every long poll (20 s) in this single-threaded drainer
    assert world.clock.now() - started >= 300


class FlakyRenewal(Lease):
    """DynamoDB answers the first renewal with a 500."""

    failed = False

    def renew(self) -> bool:
        if not self.failed:
            self.failed = True
            raise ClientError({"Error": {"Code": "InternalServerError", "Message": "try again"}}, "UpdateItem")
        return super().renew()


def test_a_renewal_that_fails_once_is_tried_again_and_the_drainer_goes_on_sending(world):
    for n in range(3):
        world.put(answer(f"ses-{n}", body=f"Answer {n}"))
        world.accepts(f"sms-{n}")
    lease = FlakyRenewal(world.dynamodb, TABLE, IDENTITY, now=world.clock.now)

    report = world.drainer(lease=lease, renew_every=0.0).drain(lambda: 600.0)

    assert lease.failed and report.lease_held and report.sent == 3


def test_one_heartbeat_makes_a_bounded_number_of_calls_the_soonest_to_reappear_first():
    # given a burst received over a few seconds, all of it due at the same heartbeat
    clock = FakeClock(100.0)
    sqs = RecordingSqs([message(n).to_json() for n in range(1_200)])
    source = SqsMessageSource(sqs, QUEUE, clock, visibility=lambda: HOLD_FIRST, long_poll=False, max_batches=1)
    held = []
    for _ in range(120):
        held += source.receive(0.0)
        clock.sleep(0.1)

    source.heartbeat(held, due_within=HOLD_FIRST)

    # then the lease's renewal beside it is not held up: a capped number of calls, the oldest first
    assert sqs.batch_calls == HEARTBEAT_BATCHES <= 100
    assert [r for r, _ in sqs.extended] == [m.receipt for m in held[: HEARTBEAT_BATCHES * 10]]


def test_with_turns_the_heartbeat_hides_each_message_until_about_its_turn_not_for_as_long_as_it_waited():
    # given three messages held 10 s; one is on the line, one is due in 3 s, one in 500 s
    clock, sqs, source, held = held_for(10.0)
    turns = {held[1].id: 3.0, held[2].id: 500.0}  # held[0]: on the line (no turn)

    source.heartbeat(held, due_within=6.0, turns=turns)

    # then each reappears (after a crash) about when it would have been sent, plus a margin
    assert dict(sqs.extended) == {
        held[0].receipt: int(HOLD_MARGIN),
        held[1].receipt: int(3 + HOLD_MARGIN),
        held[2].receipt: int(500 + HOLD_MARGIN),
    }


def test_a_message_hidden_far_past_its_turn_is_brought_back_to_its_turn_and_one_hidden_about_right_is_left():
    # given two messages received in a burst and hidden 60 s, as if behind the whole burst
    clock = FakeClock(100.0)
    sqs = RecordingSqs([message(n).to_json() for n in range(2)])
    source = SqsMessageSource(sqs, QUEUE, clock, visibility=lambda: 60.0, long_poll=False)
    held = source.receive(0.0)
    # one is a small city's answer, due in half a second; the other is the burst's, due in 58 s
    turns = {held[0].id: 0.5, held[1].id: 58.0}

    source.heartbeat(held, due_within=1.5, turns=turns, margin=2.0)

    # then the first reappears (after a crash) 3 s from now, not 60 s; the second is not touched
    assert sqs.extended == [(held[0].receipt, 3)]


def test_while_the_lease_is_short_what_is_held_is_hidden_about_as_long_as_the_lease_past_its_turn(world):
    # given a drainer whose lease a busy 100-MPS line made short (1.5 s), then a long one (idle)
    drainer = world.drainer()
    drainer.lease.seconds = 1.5
    short = drainer._hold_margin()
    drainer.lease.seconds = LEASE_SECONDS

    # then a crash leaves its messages hidden about the time the successor needs to take the lease
    assert short <= 2.0 < drainer._hold_margin() == HOLD_MARGIN
    assert drainer._beat_every() * 3 <= HOLD_MARGIN  # (a due window of three beats never exceeds it)
