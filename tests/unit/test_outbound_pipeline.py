"""The pipelined scheduler (issue 19) on a simulated clock shared by its threads (SimClock), with the
latency real calls have: every figure is read from the fake sender's own log of call starts."""

from __future__ import annotations

import math
import random
from collections.abc import Callable

import pytest

from text311.outbound import InMemoryLedger, Kind, OutboundMessage, OutboundScheduler
from text311.outbound.pacing import max_in_window
from text311.outbound.scheduler import CLAIM_LEAD, QUANTUM, claim_lead_for, in_flight_for
from text311.outbound.sim_clock import SimClock

IDENTITY = "+15145550100"
FLOOD, SMALL = 6077243, 5959974
SEND_S, LEDGER_S, RECEIVE_S = 0.060, 0.008, 0.015


class LoggingSender:
    """Stands in for End User Messaging: each call takes ``SEND_S`` and is logged with its start and end."""

    def __init__(self, clock: SimClock) -> None:
        self.clock = clock
        self.calls: list[tuple[float, float, str]] = []  # (start, end, part key)

    def send(self, destination: str, body: str, *, idempotency_key: str, context) -> dict:
        started = self.clock.now()
        self.clock.sleep(SEND_S)
        self.calls.append((started, self.clock.now(), idempotency_key))
        return {"MessageId": f"sms-{len(self.calls)}"}


class SlowLedger(InMemoryLedger):
    """Every ledger call is one DynamoDB round trip."""

    def __init__(self, clock: SimClock) -> None:
        super().__init__()
        self.clock = clock

    def claim(self, message_id, identity):
        self.clock.sleep(LEDGER_S)
        return super().claim(message_id, identity)

    def mark_sent(self, message_id, sms_message_id, parts):
        self.clock.sleep(LEDGER_S)
        super().mark_sent(message_id, sms_message_id, parts)


class TimedSource:
    """A queue whose messages arrive at given instants; a receive takes ``RECEIVE_S`` and, given a wait,
    returns at the next arrival (a long poll)."""

    def __init__(self, clock: SimClock, arrivals: list[tuple[float, OutboundMessage]]) -> None:
        self.clock = clock
        self.arrivals = sorted(arrivals, key=lambda a: a[0])
        self.acked: list[str] = []

    def receive(self, wait: float) -> list[OutboundMessage]:
        self.clock.sleep(RECEIVE_S)
        due = self._due()
        if due or wait <= 0:
            return due
        next_at = self.arrivals[0][0] if self.arrivals else math.inf
        self.clock.sleep(max(0.0, min(wait, next_at - self.clock.now())))
        return self._due()

    def _due(self) -> list[OutboundMessage]:
        due = [m for at, m in self.arrivals if at <= self.clock.now()]
        self.arrivals = self.arrivals[len(due) :]
        return due

    def ack(self, message: OutboundMessage) -> None:
        self.acked.append(message.id)

    def abandon(self, message: OutboundMessage, delay: float) -> None:
        self.arrivals.append((self.clock.now() + delay, message))
        self.arrivals.sort(key=lambda a: a[0])


def message(n: int, *, parts: int = 1, kind: Kind = Kind.AGENT, city: int | None = FLOOD) -> OutboundMessage:
    body = " ".join(f"w{n}x{i}" for i in range(40 * parts))[: 150 * parts]
    m = OutboundMessage.create(
        id=f"m{n}",
        identity=IDENTITY,
        city=city,
        kind=kind,
        destination="+18195550123",
        body=body if parts > 1 else f"answer {n}",
        enqueued_at=0.0,
    )
    assert m.parts == parts
    return m


def drain(
    mps: float,
    arrivals: list[tuple[float, OutboundMessage]],
    in_flight: int | None = None,
    claim_lead: float = CLAIM_LEAD,
) -> tuple[LoggingSender, TimedSource, float]:
    clock = SimClock()
    sender, source = LoggingSender(clock), TimedSource(clock, arrivals)
    scheduler = OutboundScheduler(
        IDENTITY, mps, sender, SlowLedger(clock), clock, long_polls=True, claim_lead=claim_lead
    )
    total = len(arrivals)

    def done() -> bool:
        return len(source.acked) >= total or clock.now() > 100_000

    scheduler.run(source, done, idle_wait=20.0, in_flight=in_flight or in_flight_for(mps))
    return sender, source, clock.now()


def burst(parts: int, seed: int = 3) -> list[tuple[float, OutboundMessage]]:
    rng, out, total, n = random.Random(seed), [], 0, 0
    while total < parts:
        size = min(parts - total, rng.choice((1, 1, 2, 3)))
        out.append((0.0, message(n, parts=size)))
        total, n = total + size, n + 1
    return out


@pytest.mark.parametrize(("mps", "parts"), [(1, 60), (3, 180), (100, 2_000)])
def test_pipelined_line_fills_the_mps_and_no_sliding_second_holds_more_call_starts(mps, parts):
    sender, _, _ = drain(mps, burst(parts), claim_lead=claim_lead_for(mps, QUANTUM))

    starts = sorted(start for start, _, _ in sender.calls)
    assert len(starts) == parts
    assert max_in_window(starts) <= mps
    assert starts[-1] + 1 / mps <= 1.05 * parts / mps  # the line is kept full despite 76 ms per part


def test_parts_of_one_message_go_in_order_and_never_overlap_on_the_line():
    sender, _, _ = drain(100, burst(600, seed=5))

    by_message: dict[str, list[tuple[int, float, float]]] = {}
    for start, end, key in sender.calls:
        message_id, _, part = key.rpartition("#")
        by_message.setdefault(message_id, []).append((int(part), start, end))
    for calls in by_message.values():
        ordered = sorted(calls, key=lambda c: c[1])
        assert [part for part, _, _ in ordered] == list(range(1, len(ordered) + 1))
        assert all(nxt[1] >= prev[2] for prev, nxt in zip(ordered, ordered[1:], strict=False))


def _first_start(sender: LoggingSender, message_id: str) -> float:
    return min(start for start, _, key in sender.calls if key.startswith(message_id + "#"))


@pytest.mark.parametrize("mps", [1, 3, 100])
def test_a_stop_arriving_during_a_burst_goes_before_the_queued_answers(mps):
    arrivals = burst(int(20 * mps))
    stop = message(9_999, kind=Kind.KEYWORD, city=None)
    arrivals.append((5.0, stop))

    sender, _, _ = drain(mps, arrivals)

    waited = _first_start(sender, stop.id) - 5.0
    assert waited <= 2 / mps + 0.2  # the line's next slot, the parts already taken, a receive and a claim
    later = [start for start, _, key in sender.calls if start > _first_start(sender, stop.id)]
    assert len(later) >= 10 * mps  # sent while most of the burst was still queued


def test_a_small_citys_answer_waits_for_one_quantum_not_behind_the_flood():
    mps = 3
    arrivals = burst(300)
    small = message(8_888, city=SMALL)
    arrivals.append((10.0, small))

    sender, _, _ = drain(mps, arrivals)

    assert _first_start(sender, small.id) - 10.0 <= 4 / mps + 1.0  # one quantum (4 parts) of the flood


def test_the_simulated_clock_runs_threads_one_at_a_time_in_the_order_of_their_events():
    clock = SimClock()
    seen: list[tuple[str, float]] = []

    def fiber(name: str, pause: float) -> Callable[[], None]:
        def run() -> None:
            for _ in range(3):
                clock.sleep(pause)
                seen.append((name, clock.now()))

        return run

    clock.spawn(fiber("slow", 0.5), "slow")
    clock.spawn(fiber("fast", 0.25), "fast")
    clock.sleep(0.9)

    # a tie goes to the fiber that started waiting first
    assert seen == [("fast", 0.25), ("slow", 0.5), ("fast", 0.5), ("fast", 0.75)]
    assert clock.now() == 0.9


class BatchedSource(TimedSource):
    """Like SQS: a receive reads at most 10 messages a poll (``RECEIVE_S`` each) and up to ten polls while
    they come back full, oldest first, and says whether its last poll was full (``backlogged``)."""

    backlogged = False

    def receive(self, wait: float) -> list[OutboundMessage]:
        got: list[OutboundMessage] = []
        for _ in range(10):
            self.clock.sleep(RECEIVE_S)
            batch = self._due()[:10]
            self.arrivals = [(at, m) for at, m in self.arrivals if m not in batch]
            got += batch
            self.backlogged = len(batch) == 10
            if not self.backlogged:
                break
        if got or wait <= 0:
            return got
        next_at = self.arrivals[0][0] if self.arrivals else math.inf
        self.clock.sleep(max(0.0, min(wait, next_at - self.clock.now())))
        return self._due()[:10]

    def _due(self) -> list[OutboundMessage]:
        return [m for at, m in self.arrivals if at <= self.clock.now()]


def test_a_stop_queued_behind_a_burst_of_thousands_is_read_and_sent_within_two_seconds():
    # given 5,000 one-part answers on the queue (50 s at 100 MPS; read 100 a receive, one receive
    # chain alone takes 7.5 s to reach the end), and a STOP queued right behind them
    mps = 100
    arrivals = [(0.0, message(n)) for n in range(5_000)]
    stop = message(9_999, kind=Kind.KEYWORD, city=None)
    arrivals.append((0.05, stop))
    clock = SimClock()
    sender, source = LoggingSender(clock), BatchedSource(clock, arrivals)
    scheduler = OutboundScheduler(IDENTITY, mps, sender, SlowLedger(clock), clock, long_polls=True)

    def stop_sent() -> bool:
        return any(key.startswith(stop.id + "#") for _, _, key in sender.calls) or clock.now() > 1_000

    # when the pipelined drainer runs (several receivers while the queue reports a backlog)
    scheduler.run(source, stop_sent, idle_wait=20.0, in_flight=in_flight_for(mps))

    # then the STOP went out within 2 s of its arrival, the MPS kept
    assert _first_start(sender, stop.id) - 0.05 <= 2.0
    assert max_in_window(sorted(start for start, _, _ in sender.calls)) <= mps


def test_each_queued_message_has_an_expected_turn_from_the_parts_fair_queuing_sends_before_it():
    clock = SimClock()
    scheduler = OutboundScheduler(IDENTITY, 2, LoggingSender(clock), SlowLedger(clock), clock)
    for n in range(100):
        scheduler.enqueue(message(n))  # the flood: 100 parts
    scheduler.enqueue(message(500, city=SMALL))
    scheduler.enqueue(message(600, kind=Kind.KEYWORD, city=None))

    turns = scheduler.turns()

    assert turns["m600"] == 0.0  # urgent: first
    assert turns["m500"] == pytest.approx(2 / 2)  # the STOP and one flood part (DRR), at 2 MPS
    assert turns["m0"] <= 2 / 2  # (an estimate: within a quantum of where DRR puts it)
    assert turns["m99"] == pytest.approx((1 + 99 + 1) / 2)  # the STOP, 99 flood parts, the small one
