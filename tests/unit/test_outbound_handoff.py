"""The planned 15-minute hand-off between two drainer lives (issue 19, fifth pass): it used to leave the
line idle 2-10 s (the ending life waited for its receiver's long poll, gave back every held message
ten a call one after the other, and only then invoked its successor), and a STOP that arrived 0.1 s
before it waited 5.7 s in the bench. Two real Drainers on the simulated clock, moto DynamoDB for the
lease, a fake SQS that keeps visibility and long polls, and a fake Lambda that starts the successor
0.5 s after its invoke while the first life may still be ending. Sixth pass: a send still under way
at the stop (a lost response waits out its 10-s read timeout) no longer holds the lease; it settles
after the release, its message hidden meanwhile."""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError, ReadTimeoutError
from harness import create_key_table
from moto import mock_aws
from test_outbound_pipeline import SEND_S, LoggingSender, SlowLedger

from text311.outbound import InMemoryLedger, Kind, OutboundMessage, OutboundScheduler, SystemClock
from text311.outbound.drainer import Drainer, Successor
from text311.outbound.lease import Lease, StatusBoard
from text311.outbound.ledger import LedgerState
from text311.outbound.scheduler import STRAGGLER_HIDE
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


def message(message_id: str, kind: Kind = Kind.AGENT, body: str = "answer {id}", at: float = 0.0) -> str:
    return OutboundMessage.create(
        id=message_id, identity=IDENTITY, city=5959974, kind=kind, destination="+18195550123",
        body=body.format(id=message_id), enqueued_at=at,
    ).to_json()


@contextmanager
def lease_table() -> Iterator[tuple[Any, SimClock]]:
    """moto's DynamoDB with the key table the lease, the status board and the ledger share, and a clock."""
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="ca-central-1")
        create_key_table(dynamodb, TABLE)
        yield dynamodb, SimClock(1_000.0)


def drainer_on(
    dynamodb: Any, clock: SimClock, sqs: VisibleSqs, line: LoggingSender, *, ledger: SlowLedger | None = None,
    lease: Lease | None = None, max_idle: float = 0.0, successor: Successor | None = None,
) -> Drainer:
    """A drainer as the Lambda builds it, over these fakes (its own ledger and lease unless given)."""
    return Drainer(
        sqs=sqs, queue_url=QUEUE, identity=IDENTITY, mps=MPS, line=line, ledger=ledger or SlowLedger(clock),
        lease=lease or Lease(dynamodb, TABLE, IDENTITY, now=clock.now),
        board=StatusBoard(dynamodb, TABLE, IDENTITY, now=clock.now), clock=clock, max_idle=max_idle,
        stop_margin=STOP_MARGIN, successor=successor,
    )


@dataclass
class HandOff:
    """Two lives over one backlog: the first hands off at its deadline, the second runs a whole life."""

    log: list[tuple[float, float, str, int]]  # (start, end, part key, life) of every call
    lives: dict[int, dict]
    invoker: StartingLambda
    stop_at: float  # when the first life stops taking messages
    ledger: SlowLedger


def hand_off(first_line=None, body: str = "answer {id}") -> HandOff:
    """1,500 answers at 3 MPS (the first life holds about 1,300 of them at its end) and a STOP that
    arrives 0.1 s before the first life stops taking messages. ``first_line(clock, log, stop_at)``: the
    first life's sender (default: every call takes SEND_S)."""
    with lease_table() as (dynamodb, clock):
        ledger = SlowLedger(clock)  # one ledger for both lives, as the table is
        log: list[tuple[float, float, str, int]] = []
        lives: dict[int, dict] = {}
        stop_at = clock.now() + SENDING
        sqs = VisibleSqs(clock, [message(f"answer-{i:04d}", body=body, at=i / 100) for i in range(1_500)],
                         [(stop_at - 0.1, message("stop-1", Kind.KEYWORD, at=stop_at - 0.1))])

        def life(n: int, successor: Successor | None) -> None:
            began = clock.now()
            line = first_line(clock, log, stop_at) if n == 1 and first_line else LifeSender(clock, n, log)
            drainer = drainer_on(dynamodb, clock, sqs, line, ledger=ledger, max_idle=math.inf, successor=successor)
            lives[n] = {"report": drainer.drain(lambda: began + SENDING + STOP_MARGIN - clock.now())}
            lives[n]["ended"] = clock.now()

        invoker = StartingLambda(clock, lambda: life(2, None))  # the second life starts no third
        life(1, Successor(invoker, "text311-sms-drainer"))
        ceiling = clock.now() + 3 * SENDING
        while 2 not in lives and clock.now() < ceiling:
            clock.sleep(1.0)
        return HandOff(log, lives, invoker, stop_at, ledger)


def test_a_planned_hand_off_leaves_the_line_idle_about_one_lambda_start_and_a_stop_just_before_it_goes_within_2_s():
    # given a backlog at 3 MPS and a STOP that arrives 0.1 s before the first life's deadline
    # when the first life reaches its deadline and hands off
    run = hand_off()

    # then one successor ran, and took the lease: no two lives sent at once, no part twice
    log, lives = run.log, run.lives
    assert lives[1]["report"].handed_off is True and len(run.invoker.invoked_at) == 1
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
    assert stop_sent - (run.stop_at - 0.1) <= 2.0


class StragglingSender(LifeSender):
    """The first life's line, whose first call of a message's first part that starts within a second
    of the stop (one starts every 1/MPS) hangs ``hang`` s, then ends as ``outcome``: a lost response
    (the client's read timeout) or a late success."""

    def __init__(self, clock: SimClock, log: list, stop_at: float, hang: float, outcome: str) -> None:
        super().__init__(clock, 1, log)
        self.hang_from, self.hang, self.outcome = stop_at - 1.0, hang, outcome
        self.hung: str | None = None  # the part key of the call that hung

    def send(self, destination: str, body: str, *, idempotency_key: str, context) -> dict:
        if self.hung is not None or self.clock.now() < self.hang_from or not idempotency_key.endswith("#1"):
            return super().send(destination, body, idempotency_key=idempotency_key, context=context)
        self.hung, started = idempotency_key, self.clock.now()
        self.clock.sleep(self.hang)
        self.log.append((started, self.clock.now(), idempotency_key, self.life))
        if self.outcome == "lost":
            raise ReadTimeoutError(endpoint_url="https://sms-voice.ca-central-1.amazonaws.com")
        return {"MessageId": "sms-late"}


def test_a_call_whose_response_is_lost_at_the_hand_off_does_not_hold_the_successor_and_settles_in_doubt():
    senders: list[StragglingSender] = []

    def straggling(clock, log, stop_at):
        senders.append(StragglingSender(clock, log, stop_at, hang=10.0, outcome="lost"))
        return senders[0]

    # given a call under way at the first life's deadline whose response is lost (10-s read timeout)
    run = hand_off(straggling)

    # then the successor did not wait for it: its first part, and the STOP, went about one Lambda
    # start after the stop (before: after the read timeout, 10 s)
    hung = senders[0].hung
    assert hung is not None
    first_start_2 = min(start for start, _, _, life in run.log if life == 2)
    assert first_start_2 - run.stop_at <= START_S + 1.0
    stop_sent = min(start for start, _, key, _ in run.log if key.startswith("stop-1"))
    assert stop_sent - (run.stop_at - 0.1) <= 2.0
    # and the hung part was settled by its own life, in doubt, once: never sent again by the successor
    assert [key for _, _, key, _ in run.log].count(hung) == 1
    assert not any(key.split("#")[0] == hung.split("#")[0] for _, _, key, life in run.log if life == 2)
    assert run.ledger.entries[hung].state is LedgerState.IN_DOUBT
    assert run.lives[1]["report"].in_doubt == 1
    # the first life returned only once its straggler had settled (a frozen sandbox would else end it)
    assert run.lives[1]["ended"] >= max(end for _, end, key, _ in run.log if key == hung)
    # and every other part went once
    keys = [key for _, _, key, _ in run.log]
    assert len(keys) == len(set(keys))


def test_a_late_success_at_the_hand_off_lets_the_successor_send_the_messages_next_part_after_it():
    senders: list[StragglingSender] = []

    def straggling(clock, log, stop_at):
        senders.append(StragglingSender(clock, log, stop_at, hang=5.0, outcome="ok"))
        return senders[0]

    # given answers of several parts, and the first part of one under way at the deadline, accepted 5 s
    # later
    run = hand_off(straggling, body="answer {id} " + "x" * 200)

    # then the successor sent its second part once, after the first part's call ended
    hung = senders[0].hung
    assert hung is not None and run.stop_at - 1.0 <= min(s for s, _, key, _ in run.log if key == hung) <= run.stop_at
    hung_end = max(end for _, end, key, _ in run.log if key == hung)
    second = [start for start, _, key, _ in run.log if key == hung[:-1] + "2"]
    assert len(second) == 1 and second[0] >= hung_end
    assert run.lives[1]["report"].in_doubt == 0
    # and no part went twice
    keys = [key for _, _, key, _ in run.log]
    assert len(keys) == len(set(keys))


def test_a_starter_that_finds_the_lease_handed_off_waits_for_it_and_any_other_holder_sends_it_away():
    with lease_table() as (dynamodb, clock):
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
        report = drainer_on(dynamodb, clock, sqs, LifeSender(clock, 1, log)).drain(lambda: 600.0)

        # then it waited for the lease, took it as soon as it was dropped, and sent
        assert report.lease_held is True and report.sent == 1
        assert log[0][0] - started <= 0.3 + 0.5
        # and a starter that finds a lease held without the mark (a running life) returns at once
        running = Lease(dynamodb, TABLE, IDENTITY, now=clock.now)
        assert running.acquire()
        sqs.messages.clear()
        before = clock.now()
        assert drainer_on(dynamodb, clock, sqs, LifeSender(clock, 1, log)).drain(lambda: 600.0).lease_held is False
        assert clock.now() == before


def test_a_successor_sends_its_first_part_no_sooner_than_its_predecessors_line_allows():
    with lease_table() as (dynamodb, clock):
        log: list[tuple[float, float, str, int]] = []
        # given a lease its holder dropped with its line free again 0.3 s from now (its last part's start
        # + 1/MPS): what Lease.release(line_free_in=0.3) leaves
        dynamodb.put_item(TableName=TABLE, Item={
            "id": {"S": f"lease#{IDENTITY}"}, "owner": {"S": "the-ending-life"}, "until": {"N": repr(clock.now() - 1)},
            "line_free": {"N": repr(clock.now() + 0.3)}, "expiration": {"N": str(int(clock.now()) + 3600)},
        })
        started = clock.now()

        # when the successor starts at once and finds a part to send
        sqs = VisibleSqs(clock, [message("answer-1")], [])
        report = drainer_on(dynamodb, clock, sqs, LifeSender(clock, 1, log)).drain(lambda: 600.0)

        # then its first call waits for the line (the service would refuse it sooner, and AIMD cut the pace)
        assert report.sent == 1 and log[0][0] >= started + 0.3


class HeldSource:
    """An in-memory queue with SQS's verbs for the end of a life (``abandon_many`` with a delay, ``ack``):
    what the scheduler gave back, hid and deleted, each with its delay."""

    def __init__(self, messages: list[OutboundMessage]) -> None:
        self.waiting = list(messages)
        self.acked: list[str] = []
        self.given_back: list[tuple[str, float]] = []

    def receive(self, wait: float) -> list[OutboundMessage]:
        got, self.waiting = self.waiting, []
        if not got:
            time.sleep(min(wait, 0.01))
        return got

    def ack(self, message: OutboundMessage) -> None:
        self.acked.append(message.id)

    def abandon(self, message: OutboundMessage, delay: float) -> None:
        self.given_back.append((message.id, delay))

    def abandon_many(self, messages: list[OutboundMessage], delay: float) -> None:
        self.given_back.extend((m.id, delay) for m in messages)


class GatedSender:
    """Real threads: the call for ``gated`` blocks until ``gate`` is set, every other call returns at once."""

    def __init__(self, gated: str) -> None:
        self.gated, self.gate, self.entered = gated, threading.Event(), threading.Event()
        self.keys: list[str] = []

    def send(self, destination: str, body: str, *, idempotency_key: str, context) -> dict:
        self.keys.append(idempotency_key)
        if idempotency_key.startswith(self.gated + "#"):
            self.entered.set()
            assert self.gate.wait(60), "the test never let the straggler's call end"
        return {"MessageId": f"sms-{len(self.keys)}"}


def test_with_real_threads_a_straggler_is_left_under_way_at_the_stop_hidden_and_settled_after_the_release():
    # given a pipelined scheduler on real threads whose call for a two-part answer hangs at the stop
    answers = [OutboundMessage.from_json(message("slow", body="answer {id} " + "y" * 200, at=0.0))]
    answers += [OutboundMessage.from_json(message(f"quick-{n}", at=1.0 + n)) for n in range(3)]
    source = HeldSource(answers)
    sender = GatedSender("slow")
    scheduler = OutboundScheduler(IDENTITY, 50.0, sender, InMemoryLedger(), SystemClock(), detach_after=0.05)
    stop = threading.Event()
    runner = threading.Thread(
        target=lambda: scheduler.run(source, stop.is_set, idle_wait=0.05, in_flight=3), daemon=True
    )
    runner.start()
    assert sender.entered.wait(30)
    deadline = time.monotonic() + 30
    while len(sender.keys) < 4 and time.monotonic() < deadline:  # the quick answers go meanwhile
        time.sleep(0.01)

    # when the drainer stops while that call still hangs
    stop.set()
    runner.join(30)

    # then the stop returned with the call under way, and the give-back hid its message instead
    assert not runner.is_alive()
    assert scheduler.release_all() == 0
    assert source.given_back == [("slow", STRAGGLER_HIDE)]
    assert sorted(source.acked) == ["quick-0", "quick-1", "quick-2"]
    # and once the call ends (after the lease would be dropped) it settles its part and gives back the rest
    settled: list[int] = []
    settler = threading.Thread(target=lambda: settled.append(scheduler.settle_stragglers()), daemon=True)
    settler.start()
    sender.gate.set()
    settler.join(30)
    assert settled == [1] and source.given_back[-1] == ("slow", 0.0)
    assert sender.keys.count("slow#1") == 1 and "slow#2" not in sender.keys


class FailingRelease(Lease):
    """DynamoDB answers the lease's release with a 500 (after every retry)."""

    def release(self, line_free_in: float | None = None) -> bool:
        raise ClientError({"Error": {"Code": "InternalServerError", "Message": "try again"}}, "UpdateItem")


def test_a_life_whose_lease_release_fails_still_settles_its_straggler_before_it_fails():
    with lease_table() as (dynamodb, clock):
        log: list[tuple[float, float, str, int]] = []
        stop_at = clock.now() + SENDING
        sqs = VisibleSqs(clock, [message(f"answer-{i:04d}", at=i / 100) for i in range(400)], [])
        line = StragglingSender(clock, log, stop_at, hang=5.0, outcome="ok")
        lease = FailingRelease(dynamodb, TABLE, IDENTITY, now=clock.now)
        drainer = drainer_on(dynamodb, clock, sqs, line, lease=lease, max_idle=math.inf)
        began = clock.now()

        # given a send under way at the stop (accepted 5 s later), when dropping the lease fails
        with pytest.raises(ClientError):
            drainer.drain(lambda: began + SENDING + STOP_MARGIN - clock.now())

        # then the life failed only once that call had ended and its message was settled (deleted)
        assert line.hung is not None
        ended = [end for _, end, key, _ in log if key == line.hung]  # (logged when the call returns)
        assert ended and clock.now() >= ended[0]
        assert line.hung.split("#")[0] not in sqs.messages
