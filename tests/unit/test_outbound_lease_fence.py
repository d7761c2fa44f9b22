"""A holder whose lease renewal stalls past the lease's end sends nothing more (issue 19 review): the
short busy lease (1.5 s at 100 MPS) leaves little slack, and a successor may take the lease at its end.
The real Drainer, LeaseKeeper and Lease on the simulated clock, moto DynamoDB, the fake line's call log."""

from __future__ import annotations

import math

import boto3
from harness import create_key_table
from moto import mock_aws
from test_outbound_pipeline import LoggingSender, SlowLedger
from test_outbound_recovery import QUEUE, RecordingSqs

from text311.outbound import Kind, OutboundMessage
from text311.outbound.drainer import Drainer
from text311.outbound.lease import Lease, StatusBoard
from text311.outbound.sim_clock import SimClock

TABLE, IDENTITY = "outbound-fence", "+15145550100"


class StallingRenewals:
    """DynamoDB whose next UpdateItem (a lease renewal) after ``stall_from`` takes 3 s: throttled and retried."""

    def __init__(self, client, clock) -> None:
        self.client, self.clock, self.stall_from = client, clock, None

    def __getattr__(self, name):
        attr = getattr(self.client, name)
        if name != "update_item":
            return attr

        def call(**kwargs):
            if self.stall_from is not None and self.clock.now() >= self.stall_from:
                self.stall_from = None
                self.clock.sleep(3.0)
            return attr(**kwargs)

        return call


def answers(prefix: str, count: int) -> list[str]:
    return [
        OutboundMessage.create(id=f"{prefix}{i:04d}", identity=IDENTITY, city=5959974, kind=Kind.AGENT,
                               destination="+18195550123", body=f"answer {i}", enqueued_at=0.0).to_json()
        for i in range(count)
    ]


def test_a_holder_whose_renewal_stalls_sends_nothing_once_a_successor_may_hold_the_lease():
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="ca-central-1")
        create_key_table(dynamodb, TABLE)
        clock = SimClock(1_000.0)
        stalling = StallingRenewals(dynamodb, clock)
        line = LoggingSender(clock)

        def drainer(owner: str, messages: list[str]):
            start = clock.now()
            made = Drainer(sqs=RecordingSqs(messages), queue_url=QUEUE, identity=IDENTITY, mps=100.0, line=line,
                           ledger=SlowLedger(clock), lease=Lease(stalling, TABLE, IDENTITY, now=clock.now, owner=owner),
                           board=StatusBoard(dynamodb, TABLE, IDENTITY, now=clock.now), clock=clock,
                           long_poll=False, max_idle=math.inf, stop_margin=0.0)
            return made, (lambda: 40.0 - (clock.now() - start))

        holder, holder_left = drainer("holder", answers("a", 2000))
        reports: dict = {}

        def successor() -> None:
            # given a busy 100-MPS line whose holder's renewal stalls 3 s at +25 s, and a tick at +27 s
            clock.sleep(25.0)
            stalling.stall_from = clock.now()
            clock.sleep(2.0)
            tick, left = drainer("tick", answers("b", 3000))
            reports["taken_at"] = clock.now()
            reports["tick"] = tick.drain(left)

        clock.spawn(successor, "tick")
        reports["holder"] = holder.drain(holder_left)
        while "tick" not in reports:
            clock.sleep(1.0)

        # then the tick took the lease (the holder's had run out), and the holder started no call after that
        taken = reports["taken_at"]
        assert reports["tick"].lease_held and reports["tick"].sent > 0
        holder_calls = [start for start, _, key in line.calls if key.startswith("a")]
        assert holder_calls and not [start for start in holder_calls if start >= taken]
