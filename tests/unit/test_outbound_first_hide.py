"""A small city's answer read while a drainer re-reads a backlog (issue 19, the bench's 734 s at 3 MPS
with crashes): every message of such a poll is first hidden behind every part already held, and a
life that died before its next visibility heartbeat left the answer hidden for the whole backlog's
time. It must come back about its own turn + the margin. The real Drainer on the simulated clock,
moto DynamoDB for the lease; the fake SQS answers full polls and dies at a given instant."""

from __future__ import annotations

import json
import math

import boto3
import pytest
from harness import create_key_table
from moto import mock_aws
from test_outbound_pipeline import LoggingSender, SlowLedger

from text311.outbound import Kind, OutboundMessage
from text311.outbound.drainer import Drainer
from text311.outbound.lease import Lease, StatusBoard
from text311.outbound.sim_clock import SimClock
from text311.outbound.sqs_source import HOLD_MARGIN

TABLE, IDENTITY = "outbound-first-hide", "+15145550100"
QUEUE = "https://sqs.ca-central-1.amazonaws.com/123456789012/outbound"
FLOOD_CITY, SMALL_CITY = 5959974, 2466023
MPS = 3.0
SMALL_ANSWER = "small-answer"


class Died(BaseException):
    """The drainer's process is gone (a sandbox killed): none of its calls reaches AWS any more."""


class DyingSqs:
    """SQS with a backlog of ``bodies`` (so every poll comes back full), that logs every visibility it
    sets, and dies ``dies_after`` seconds after handing out the small city's answer."""

    def __init__(self, clock: SimClock, bodies: list[str], dies_after: float) -> None:
        self.clock = clock
        self.bodies = bodies
        self.dies_after = dies_after
        self.died_at = math.inf
        self.hidden: dict[str, list[tuple[float, float]]] = {}  # receipt → [(set at, hidden until)]
        self.visibility_batches = 0

    def _alive(self) -> None:
        if self.clock.now() >= self.died_at:
            raise Died

    def _hide(self, receipt: str, seconds: float) -> None:
        now = self.clock.now()
        self.hidden.setdefault(receipt, []).append((now, now + seconds))

    def receive_message(self, **request) -> dict:
        self._alive()
        self.clock.sleep(0.015)
        batch, self.bodies = (
            self.bodies[: request["MaxNumberOfMessages"]],
            self.bodies[request["MaxNumberOfMessages"] :],
        )
        messages = []
        for body in batch:
            receipt = f"receipt-{json.loads(body)['id']}"
            self._hide(receipt, request["VisibilityTimeout"])
            messages.append({"MessageId": receipt, "ReceiptHandle": receipt, "Body": body})
            if receipt == f"receipt-{SMALL_ANSWER}":
                self.died_at = self.clock.now() + self.dies_after
        return {"Messages": messages}

    def change_message_visibility_batch(self, *, QueueUrl: str, Entries: list[dict]) -> dict:  # noqa: N803
        self._alive()
        self.visibility_batches += 1
        for entry in Entries:
            self._hide(entry["ReceiptHandle"], entry["VisibilityTimeout"])
        return {"Successful": [{"Id": e["Id"]} for e in Entries], "Failed": []}

    def delete_message(self, **request) -> dict:
        self._alive()
        return {}

    def visible_again_at(self, receipt: str) -> float:
        """When the message reappears on the queue: the last visibility set before the death."""
        return [until for at, until in self.hidden[receipt] if at < self.died_at][-1]


class DyingSender(LoggingSender):
    def __init__(self, clock: SimClock, sqs: DyingSqs) -> None:
        super().__init__(clock)
        self.sqs = sqs

    def send(self, destination: str, body: str, *, idempotency_key: str, context) -> dict:
        self.sqs._alive()
        return super().send(destination, body, idempotency_key=idempotency_key, context=context)


def answer(message_id: str, city: int) -> str:
    return OutboundMessage.create(
        id=message_id,
        identity=IDENTITY,
        city=city,
        kind=Kind.AGENT,
        destination="+18195550123",
        body=f"answer {message_id}",
        enqueued_at=0.0,
    ).to_json()


def test_an_answer_read_behind_a_backlog_reappears_about_its_turn_when_the_drainer_dies_before_its_heartbeat():
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="ca-central-1")
        create_key_table(dynamodb, TABLE)
        clock = SimClock(1_000.0)
        # given a backlog of 600 flood answers with a small city's answer among the later ones (at 3 MPS
        # the whole backlog is about 200 s of sending), read by a drainer whose polls all come back full
        bodies = [answer(f"flood-{i:04d}", FLOOD_CITY) for i in range(600)]
        bodies.insert(405, answer(SMALL_ANSWER, SMALL_CITY))
        sqs = DyingSqs(clock, bodies, dies_after=0.2)
        board = StatusBoard(dynamodb, TABLE, IDENTITY, now=clock.now)
        drainer = Drainer(
            sqs=sqs,
            queue_url=QUEUE,
            identity=IDENTITY,
            mps=MPS,
            line=DyingSender(clock, sqs),
            ledger=SlowLedger(clock),
            lease=Lease(dynamodb, TABLE, IDENTITY, now=clock.now),
            board=board,
            clock=clock,
            max_idle=math.inf,
            stop_margin=0.0,
        )
        started = clock.now()

        # when its life dies 0.2 s after the poll that read the small answer (before any heartbeat)
        with pytest.raises(Died):
            drainer.drain(lambda: 600.0 - (clock.now() - started))

        # then the answer reappears within about its own turn (a visit of the flood: a few parts at
        # 3 MPS) + the margin, not behind the whole backlog (first hidden for over 100 s)
        receipt = f"receipt-{SMALL_ANSWER}"
        first_hide = sqs.hidden[receipt][0][1] - sqs.hidden[receipt][0][0]
        assert first_hide > 100
        assert sqs.visible_again_at(receipt) - sqs.died_at <= HOLD_MARGIN + 5
        # and the flood answers read with it kept their hide: it cost one call, not one a message
        assert sqs.visibility_batches == 1
