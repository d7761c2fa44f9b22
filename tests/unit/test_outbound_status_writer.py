"""The status item is written off the control loop (issue 19, third pass): a status write that hangs
(a throttled table, a read timeout) must not hold up the visibility heartbeat, or what the drainer
holds reappears on the queue while it still means to send it. The real Drainer on the simulated
clock, moto DynamoDB for the lease; the fake SQS records every visibility it was given."""

from __future__ import annotations

import json
import math

import boto3
from harness import create_key_table
from moto import mock_aws
from test_outbound_pipeline import LoggingSender, SlowLedger

from text311.outbound import Kind, OutboundMessage
from text311.outbound.drainer import Drainer
from text311.outbound.lease import Lease, StatusBoard
from text311.outbound.sim_clock import SimClock

TABLE, IDENTITY = "outbound-status", "+15145550100"
QUEUE = "https://sqs.ca-central-1.amazonaws.com/123456789012/outbound"
STUCK_FOR = 30.0


class VisibilityLog:
    """SQS handing out one message a receive (as it may: it never reports a backlog), logging for each
    receipt every instant its visibility was set and until when, and when it was deleted."""

    def __init__(self, clock: SimClock, bodies: list[str]) -> None:
        self.clock = clock
        self.bodies = bodies
        self.hidden: dict[str, list[tuple[float, float]]] = {}  # receipt → [(set at, hidden until)]
        self.deleted: dict[str, float] = {}

    def _hide(self, receipt: str, seconds: float) -> None:
        now = self.clock.now()
        self.hidden.setdefault(receipt, []).append((now, now + seconds))

    def receive_message(self, **request) -> dict:
        self.clock.sleep(0.015)
        if not self.bodies:
            self.clock.sleep(request["WaitTimeSeconds"])  # a long poll that finds nothing
            return {}
        body = self.bodies.pop(0)
        receipt = f"receipt-{json.loads(body)['id']}"
        self._hide(receipt, request["VisibilityTimeout"])
        return {"Messages": [{"MessageId": receipt, "ReceiptHandle": receipt, "Body": body}]}

    def change_message_visibility_batch(self, *, QueueUrl: str, Entries: list[dict]) -> dict:  # noqa: N803
        for entry in Entries:
            self._hide(entry["ReceiptHandle"], entry["VisibilityTimeout"])
        return {"Successful": [{"Id": e["Id"]} for e in Entries], "Failed": []}

    def delete_message(self, *, QueueUrl: str, ReceiptHandle: str) -> dict:  # noqa: N803
        self.deleted[ReceiptHandle] = self.clock.now()
        return {}

    def lapses(self) -> list[tuple[str, float]]:
        """(receipt, instant) where a message became visible again before the drainer deleted it,
        gave it back or extended it: another receiver could have taken it."""
        found = []
        for receipt, settings in self.hidden.items():
            ends = [until for _, until in settings]
            nexts = [at for at, _ in settings[1:]] + [self.deleted.get(receipt, math.inf)]
            found += [(receipt, until) for until, nxt in zip(ends, nexts, strict=True) if nxt > until]
        return found


class StuckBoard(StatusBoard):
    """DynamoDB takes ``STUCK_FOR`` seconds to answer the first status write."""

    def __init__(self, *args, clock: SimClock, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.clock = clock
        self.written: list[float] = []

    def write(self, status: dict) -> None:
        if not self.written:
            self.clock.sleep(STUCK_FOR)
        super().write(status)
        self.written.append(self.clock.now())


def test_a_status_write_stuck_for_30_s_does_not_let_any_held_message_reappear_when_the_heartbeat_is_due():
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="ca-central-1")
        create_key_table(dynamodb, TABLE)
        clock = SimClock(1_000.0)
        # given 40 answers at 1 MPS, each hidden 10 s when received: most wait longer for their turn,
        # so only the heartbeat keeps them hidden
        bodies = [
            OutboundMessage.create(id=f"m{i:03d}", identity=IDENTITY, city=5959974, kind=Kind.AGENT,
                                   destination="+18195550123", body=f"answer {i}", enqueued_at=0.0).to_json()
            for i in range(40)
        ]
        sqs = VisibilityLog(clock, bodies)
        line = LoggingSender(clock)
        board = StuckBoard(dynamodb, TABLE, IDENTITY, now=clock.now, clock=clock)
        drainer = Drainer(sqs=sqs, queue_url=QUEUE, identity=IDENTITY, mps=1.0, line=line, ledger=SlowLedger(clock),
                          lease=Lease(dynamodb, TABLE, IDENTITY, now=clock.now), board=board, clock=clock,
                          max_idle=math.inf, stop_margin=0.0)
        started = clock.now()

        # when its first status write hangs for 30 s
        report = drainer.drain(lambda: 50.0 - (clock.now() - started))

        # then the heartbeat went on beside it: no held message became visible again
        assert board.written and board.written[0] - started >= STUCK_FOR
        assert report.sent == 40 and len(line.calls) == 40
        assert sqs.lapses() == []
