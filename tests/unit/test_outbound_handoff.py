"""The planned 15-minute hand-off between two drainer lives (issue 19, fifth pass): it used to leave the
line idle 2-10 s (the ending life waited for its receiver's long poll, gave back every held message
ten a call one after the other, and only then invoked its successor), and a STOP that arrived 0.1 s
before it waited 5.7 s in the bench. Two real Drainers on the simulated clock, moto DynamoDB for the
lease, a fake SQS that keeps visibility and long polls, and a fake Lambda that starts the successor
0.5 s after its invoke while the first life may still be ending."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import boto3
from harness import create_key_table
from moto import mock_aws
from test_outbound_pipeline import SEND_S, LoggingSender, SlowLedger

from text311.outbound import Kind, OutboundMessage
from text311.outbound.drainer import Drainer, Successor
from text311.outbound.lease import Lease, StatusBoard
from text311.outbound.sim_clock import SimClock

TABLE, IDENTITY = "outbound-handoff", "+15145550100"
QUEUE = "https://sqs.ca-central-1.amazonaws.com/123456789012/outbound"
MPS = 3.0
SQS_S = 0.015  # one SQS call's round trip
START_S = 0.5  # an asynchronous invocation's start (the bench's)
STOP_MARGIN = 45.0
SENDING = 60.0  # seconds each life sends before it stops at its deadline (less the stop margin)


@dataclass
class Held:
    body: str
    visible_at: float
    receipt: str = ""


class VisibleSqs:
    """A standard queue as far as the drainer sees it: a received message is hidden for the poll's
    VisibilityTimeout under a new receipt; a change by a stale receipt fails; a long poll returns at the
    first visible message or at its end. ``arrivals``: (instant, body) put on the queue then."""

    def __init__(self, clock: SimClock, bodies: list[str], arrivals: list[tuple[float, str]]) -> None:
        self.clock = clock
        self.messages = {json.loads(b)["id"]: Held(b, 0.0) for b in bodies}
        self.messages.update({json.loads(b)["id"]: Held(b, at) for at, b in arrivals})
        self.receives = 0

    def _visible(self, most: int) -> list[Held]:
        now = self.clock.now()
        return sorted((m for m in self.messages.values() if m.visible_at <= now), key=lambda m: m.visible_at)[:most]

    def receive_message(self, *, QueueUrl, MaxNumberOfMessages, WaitTimeSeconds, VisibilityTimeout) -> dict:  # noqa: N803
        self.clock.sleep(SQS_S)
        end = self.clock.now() + WaitTimeSeconds
        while not (batch := self._visible(MaxNumberOfMessages)) and self.clock.now() < end:
            self.clock.sleep(min(0.05, end - self.clock.now()))
        out = []
        for held in batch:
            self.receives += 1
            held.receipt = f"{json.loads(held.body)['id']}#{self.receives}"
            held.visible_at = self.clock.now() + VisibilityTimeout
            out.append({"MessageId": held.receipt, "ReceiptHandle": held.receipt, "Body": held.body})
        return {"Messages": out}

    def _change(self, receipt: str, seconds: float) -> bool:
        held = self.messages.get(receipt.split("#")[0])
        if held is None or held.receipt != receipt:
            return False
        held.visible_at = self.clock.now() + seconds
        return True

    def change_message_visibility_batch(self, *, QueueUrl, Entries) -> dict:  # noqa: N803
        self.clock.sleep(SQS_S)
        failed = [e for e in Entries if not self._change(e["ReceiptHandle"], e["VisibilityTimeout"])]
        return {"Successful": [], "Failed": [{"Id": e["Id"], "Code": "ReceiptHandleIsInvalid"} for e in failed]}

    def change_message_visibility(self, *, QueueUrl, ReceiptHandle, VisibilityTimeout) -> dict:  # noqa: N803
        self.clock.sleep(SQS_S)
        self._change(ReceiptHandle, VisibilityTimeout)
        return {}

    def delete_message(self, *, QueueUrl, ReceiptHandle) -> dict:  # noqa: N803
        self.clock.sleep(SQS_S)
        held = self.messages.get(ReceiptHandle.split("#")[0])
        if held is not None and held.receipt == ReceiptHandle:
            del self.messages[ReceiptHandle.split("#")[0]]
        return {}


class LifeSender(LoggingSender):
    """One life's line: every call logged, with which life made it."""

    def __init__(self, clock: SimClock, life: int, log: list[tuple[float, float, str, int]]) -> None:
        super().__init__(clock)
        self.life, self.log = life, log

    def send(self, destination: str, body: str, *, idempotency_key: str, context) -> dict:
        started = self.clock.now()
        result = super().send(destination, body, idempotency_key=idempotency_key, context=context)
        self.log.append((started, self.clock.now(), idempotency_key, self.life))
        return result


class StartingLambda:
    """``lambda.invoke`` of the drainer's own function: the next life starts ``START_S`` later, on a
    fiber of its own, whether or not the life that invoked it has ended."""

    def __init__(self, clock: SimClock, start_life) -> None:
        self.clock, self.start_life = clock, start_life
        self.invoked_at: list[float] = []

    def invoke(self, **request) -> dict:
        self.invoked_at.append(self.clock.now())

        def next_life() -> None:
            self.clock.sleep(START_S)
            self.start_life()

        self.clock.spawn(next_life, "outbound-next-life")
        return {"StatusCode": 202}


def message(message_id: str, kind: Kind = Kind.AGENT) -> str:
    return OutboundMessage.create(
        id=message_id, identity=IDENTITY, city=5959974, kind=kind, destination="+18195550123",
        body=f"answer {message_id}", enqueued_at=0.0,
    ).to_json()


def test_a_planned_hand_off_leaves_the_line_idle_about_one_lambda_start_and_a_stop_just_before_it_goes_within_2_s():
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="ca-central-1")
        create_key_table(dynamodb, TABLE)
        clock = SimClock(1_000.0)
        ledger = SlowLedger(clock)  # one ledger for both lives, as the table is
        log: list[tuple[float, float, str, int]] = []
        lives: dict[int, dict] = {}
        # given a backlog of 1,500 answers at 3 MPS (the first life holds about 1,300 of them at its end)
        # and a STOP that arrives 0.1 s before the first life stops taking messages
        stop_at = clock.now() + SENDING
        sqs = VisibleSqs(clock, [message(f"answer-{i:04d}") for i in range(1_500)],
                         [(stop_at - 0.1, message("stop-1", Kind.KEYWORD))])

        def life(n: int, successor: Successor | None) -> None:
            began = clock.now()
            drainer = Drainer(
                sqs=sqs, queue_url=QUEUE, identity=IDENTITY, mps=MPS, line=LifeSender(clock, n, log),
                ledger=ledger, lease=Lease(dynamodb, TABLE, IDENTITY, now=clock.now),
                board=StatusBoard(dynamodb, TABLE, IDENTITY, now=clock.now), clock=clock,
                max_idle=math.inf, stop_margin=STOP_MARGIN, successor=successor,
            )
            lives[n] = {"report": drainer.drain(lambda: began + SENDING + STOP_MARGIN - clock.now())}
            lives[n]["ended"] = clock.now()

        invoker = StartingLambda(clock, lambda: life(2, None))  # the second life starts no third

        # when the first life reaches its deadline and hands off
        life(1, Successor(invoker, "text311-sms-drainer"))
        ceiling = clock.now() + 3 * SENDING
        while 2 not in lives and clock.now() < ceiling:
            clock.sleep(1.0)

        # then one successor ran, and took the lease: no two lives sent at once, no part twice
        assert lives[1]["report"].handed_off is True and len(invoker.invoked_at) == 1
        assert lives[2]["report"].lease_held is True and lives[2]["report"].sent > 0
        first = [call for call in log if call[3] == 1]
        second = [call for call in log if call[3] == 2]
        last_end_1 = max(end for _, end, _, _ in first)
        first_start_2 = min(start for start, _, _, _ in second)
        assert first_start_2 >= last_end_1
        keys = [key for _, _, key, _ in log]
        assert len(keys) == len(set(keys))
        # the line was idle about one Lambda start (plus a part's call and the successor's first calls),
        # not the first life's whole wind-down and then the start
        idle = first_start_2 - last_end_1 + SEND_S
        assert idle <= START_S + 0.5
        # the STOP, which arrived 0.1 s before the stop, went within 2 s
        stop_sent = min(start for start, _, key, _ in log if key.startswith("stop-1"))
        assert stop_sent - (stop_at - 0.1) <= 2.0


def drainer_on(dynamodb, clock: SimClock, sqs: VisibleSqs, log: list) -> Drainer:
    return Drainer(
        sqs=sqs, queue_url=QUEUE, identity=IDENTITY, mps=MPS, line=LifeSender(clock, 1, log),
        ledger=SlowLedger(clock), lease=Lease(dynamodb, TABLE, IDENTITY, now=clock.now),
        board=StatusBoard(dynamodb, TABLE, IDENTITY, now=clock.now), clock=clock, max_idle=0.0, stop_margin=STOP_MARGIN,
    )


def test_a_starter_that_finds_the_lease_handed_off_waits_for_it_and_any_other_holder_sends_it_away():
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="ca-central-1")
        create_key_table(dynamodb, TABLE)
        clock = SimClock(1_000.0)
        sqs = VisibleSqs(clock, [message("answer-1")], [])
        log: list[tuple[float, float, str, int]] = []
        # given a life still winding down after it marked its lease handed off, dropping it 0.3 s later
        ending = Lease(dynamodb, TABLE, IDENTITY, now=clock.now)
        assert ending.acquire()
        dynamodb.update_item(TableName=TABLE, Key=ending.key, UpdateExpression="SET handoff = :yes",
                             ExpressionAttributeValues={":yes": {"BOOL": True}})  # what Lease.hand_off writes

        def wind_down() -> None:
            clock.sleep(0.3)
            ending.release()

        clock.spawn(wind_down, "ending-life")
        started = clock.now()

        # when its successor starts (a hand-off event is not a failure record: no wait asked)
        report = drainer_on(dynamodb, clock, sqs, log).drain(lambda: 600.0)

        # then it waited for the lease, took it as soon as it was dropped, and sent
        assert report.lease_held is True and report.sent == 1
        assert log[0][0] - started <= 0.3 + 0.5
        # and a starter that finds a lease held without the mark (a running life) returns at once
        running = Lease(dynamodb, TABLE, IDENTITY, now=clock.now)
        assert running.acquire()
        sqs.messages.clear()
        before = clock.now()
        assert drainer_on(dynamodb, clock, sqs, log).drain(lambda: 600.0).lease_held is False
        assert clock.now() == before


def test_a_successor_sends_its_first_part_no_sooner_than_its_predecessors_line_allows():
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="ca-central-1")
        create_key_table(dynamodb, TABLE)
        clock = SimClock(1_000.0)
        log: list[tuple[float, float, str, int]] = []
        # given a lease its holder dropped with its line free again 0.3 s from now (its last part's start
        # + 1/MPS): what Lease.release(line_free_in=0.3) leaves
        dynamodb.put_item(TableName=TABLE, Item={
            "id": {"S": f"lease#{IDENTITY}"}, "owner": {"S": "the-ending-life"}, "until": {"N": repr(clock.now() - 1)},
            "line_free": {"N": repr(clock.now() + 0.3)}, "expiration": {"N": str(int(clock.now()) + 3600)},
        })
        started = clock.now()

        # when the successor starts at once and finds a part to send
        report = drainer_on(dynamodb, clock, VisibleSqs(clock, [message("answer-1")], []), log).drain(lambda: 600.0)

        # then its first call waits for the line (the service would refuse it sooner, and AIMD cut the pace)
        assert report.sent == 1 and log[0][0] >= started + 0.3
