"""A small city behind a flooding one (issue 19): its message waits for at most one quantum of the
flood's parts, counted part by part from the sender's own log, whatever the sizes of the flood's
answers and whenever the small city's message comes in."""

from __future__ import annotations

import random
import threading
from dataclasses import replace

import pytest

from tests.unit.test_outbound_pipeline import SMALL, LoggingSender, TimedSource, _first_start, drain, message
from text311.outbound import (
    FairQueue,
    FakeClock,
    InMemoryLedger,
    InMemorySource,
    Kind,
    OutboundMessage,
    OutboundScheduler,
)
from text311.outbound.scheduler import CLAIM_LEAD, FIRST_READ_LONGEST, claim_lead_for, in_flight_for
from text311.outbound.sim_clock import SimClock

IDENTITY = "+15145550100"
FLOOD = 6077243
QUANTUM = 4


class KeySender:
    """Records the idempotency key ("<message id>#<part>") of every call."""

    def __init__(self) -> None:
        self.keys: list[str] = []

    def send(self, destination, body, *, idempotency_key, context):
        self.keys.append(idempotency_key)
        return {"MessageId": f"sms-{len(self.keys)}"}


def flood(sizes: list[int]) -> list[OutboundMessage]:
    return [message(n, parts=size) for n, size in enumerate(sizes)]


def parts_before(keys: list[str], joined_after: int, message_id: str) -> int:
    """The flood's parts sent after the first ``joined_after`` calls and before ``message_id``'s first part."""
    first = next(i for i, key in enumerate(keys) if key.startswith(message_id + "#"))
    return sum(1 for key in keys[joined_after:first] if not key.startswith("m9"))


@pytest.mark.parametrize("sizes", [[3] * 30, [4, 2] * 15, [2, 3, 4] * 10, [1, 4, 4, 3] * 8])
def test_a_small_citys_answer_waits_for_at_most_one_quantum_of_the_flood_whatever_its_answers_lengths(sizes):
    worst = 0
    for joined_after in range(40):  # the small city's answer comes in after each part of the flood in turn
        # given a flooding city's answers of several parts on a serial line
        clock = FakeClock()
        sender = KeySender()
        scheduler = OutboundScheduler(IDENTITY, 1, sender, InMemoryLedger(), clock, quantum=QUANTUM)
        for m in flood(sizes):
            scheduler.enqueue(m)
        for _ in range(joined_after):
            clock.sleep(scheduler.delay())
            scheduler.send_next()
        # when a small city's one-part answer comes in
        small = message(9_000 + joined_after, city=SMALL)
        scheduler.enqueue(small)
        while small.id + "#1" not in sender.keys:
            clock.sleep(scheduler.delay())
            scheduler.send_next()
        worst = max(worst, parts_before(sender.keys, joined_after, small.id))

    # then no more than one quantum of the flood's parts went before it (DRR by whole messages: up to 7)
    assert worst <= QUANTUM


def test_a_citys_visit_is_one_quantum_of_parts_and_a_long_answer_goes_on_at_its_next_visit():
    # given a flood of 3-part answers and a small city with a backlog of one-part answers
    queue = FairQueue(QUANTUM)
    for m in flood([3] * 4):
        queue.push(m)
    for n in range(8):
        queue.push(message(9_100 + n, city=SMALL))

    # when parts are taken one by one, each answer's rest given back as the scheduler does
    order: list[int] = []
    left: dict[str, int] = {}
    while (taken := queue.pop()) is not None:
        order.append(taken.city)
        rest = left.get(taken.id, taken.parts) - 1
        if rest:
            left[taken.id] = rest
            queue.push_next(taken, rest)
        else:
            queue.settled(taken)

    # then the cities alternate four parts at a time, the flood's third answer split between two visits
    assert order[:16] == [FLOOD] * 4 + [SMALL] * 4 + [FLOOD] * 4 + [SMALL] * 4
    assert order[16:] == [FLOOD] * 4


def test_a_city_that_joins_just_after_a_visit_ends_goes_before_the_next_visit():
    # given a flood whose first visit has just been taken in full
    queue = FairQueue(QUANTUM)
    for m in flood([1] * 12):
        queue.push(m)
    for _ in range(QUANTUM):
        queue.settled(queue.pop())

    # when a small city's answer comes in, then a STOP-free second small city's
    small, other = message(9_200, city=SMALL), message(9_201, city=SMALL + 1)
    queue.push(small)
    queue.push(other)

    # then they go next, in the order they came, before the flood's next visit
    assert [queue.pop().id for _ in range(3)] == [small.id, other.id, "m4"]


@pytest.mark.parametrize("mps", [1, 3])
def test_on_the_pipelined_line_a_small_citys_answer_waits_behind_at_most_one_quantum_of_the_flood(mps):
    rng = random.Random(6)
    worst = 0
    for _ in range(20):
        # given a flood of answers of 1 to 4 parts queued at once, and a small city's answer coming in later
        arrivals = [(0.0, m) for m in flood([rng.choice((1, 2, 3, 4)) for _ in range(30)])]
        at = rng.uniform(1.0, 30.0 / mps)
        small = message(9_300, city=SMALL)
        arrivals.append((at, small))

        # when the pipelined drainer sends them (claims, calls and records take time)
        sender, _, _ = drain(mps, arrivals)

        # then the flood's calls that started after it came in and before its own, from the sender's log
        started = _first_start(sender, small.id)
        worst = max(worst, sum(1 for s, _, key in sender.calls if at <= s < started and key.startswith("m") and
                               not key.startswith(small.id)))
    assert worst <= QUANTUM


def _most_flood_calls_before_an_answer(lead: float) -> int:
    """At 100 MPS, parts taken ``lead`` s before their slot: the most flood calls that started between a
    small city's answer's arrival and its own call (the sender's log), over answers arriving mid-flood."""
    rng = random.Random(7)
    worst = 0
    for _ in range(4):
        arrivals = [(0.0, m) for m in flood([rng.choice((1, 2, 3, 4)) for _ in range(100)])]
        at = rng.uniform(0.5, 2.0)
        small = message(9_600, city=SMALL)
        sender, _, _ = drain(100, [*arrivals, (at, small)], claim_lead=lead)
        started = _first_start(sender, small.id)
        worst = max(worst, sum(1 for s, _, key in sender.calls if at <= s < started and not key.startswith(small.id)))
    return worst


def test_at_100_mps_the_drainers_claim_lead_takes_one_quantum_ahead_so_an_answer_waits_two_at_most():
    # given a 100-MPS line in a flood, with the drainer's claim lead and with the old 0.1 s
    ours, old = claim_lead_for(100, QUANTUM), CLAIM_LEAD

    # when a small city's answer comes in, then the flood's calls before its own are the parts already
    # taken when it came (one quantum of line time with the drainer's lead) and at most one DRR visit
    assert _most_flood_calls_before_an_answer(ours) <= 2 * QUANTUM
    # (the old lead took ten parts ahead at 100 MPS: three quanta)
    assert _most_flood_calls_before_an_answer(old) > 2 * QUANTUM


def test_an_urgent_message_still_goes_before_a_city_that_joins():
    queue = FairQueue(QUANTUM)
    for m in flood([2] * 3):
        queue.push(m)
    queue.pop()
    small, stop = message(9_400, city=SMALL), message(9_401, kind=Kind.KEYWORD, city=None)
    queue.push(small)
    queue.push(stop)

    assert queue.pop().id == stop.id


def test_a_message_given_back_regains_its_place_in_its_city_but_never_passes_one_under_way():
    # given a city's backlog of one-part answers enqueued a second apart, and a two-part answer under way
    queue = FairQueue(QUANTUM)
    under_way = replace(message(1, parts=2), enqueued_at=50.0)
    queue.push(under_way)
    assert queue.pop() is under_way
    queue.push_next(under_way, 1)
    for n in range(10, 20):
        queue.push(replace(message(n), enqueued_at=float(n)))

    # when an older answer comes back (given back by a life that ended, delivered again)
    queue.push(replace(message(5), enqueued_at=5.0))

    # then it goes right after the answer under way, ahead of the backlog enqueued after it
    order = []
    while (taken := queue.pop()) is not None:
        order.append(taken.id)
        queue.settled(taken)
    assert order[:3] == ["m1", "m5", "m10"]
    assert order[3:] == [f"m{n}" for n in range(11, 20)]


def test_cities_read_together_join_fewest_parts_first_so_a_successors_first_read_puts_the_answer_first():
    # given a successor's first read after a hand-off: the flood's backlog listed before a small city's
    # answer that the ending life was about to send (the queue lists what it hands out in no order of ours)
    clock = FakeClock()
    sender = KeySender()
    scheduler = OutboundScheduler(IDENTITY, 1, sender, InMemoryLedger(), clock, quantum=QUANTUM)
    small = message(9_500, city=SMALL)
    source = InMemorySource()
    for m in [*flood([3, 1, 2, 4, 1, 1, 2, 3, 1]), small]:
        source.put(m)

    # when the drainer reads them in one receive and sends its first part
    scheduler.run(source, should_stop=lambda: bool(sender.keys))

    # then the small city's answer goes first, not after a whole visit of the flood
    assert sender.keys == [f"{small.id}#1"]


class PolledBacklog(TimedSource):
    """SQS after a hand-off: everything already visible, handed out ten a poll in a fixed order, with
    ``backlogged`` as SqsMessageSource reports it (the poll came back full)."""

    def __init__(self, clock, messages: list[OutboundMessage]) -> None:
        super().__init__(clock, [])
        self.waiting = list(messages)
        self.backlogged = False

    def receive(self, wait: float) -> list[OutboundMessage]:
        self.clock.sleep(0.015)
        got, self.waiting = self.waiting[:10], self.waiting[10:]
        self.backlogged = len(got) == 10
        if not got:
            self.clock.sleep(min(wait, 1.0))
        return got


def test_a_lifes_first_read_is_queued_whole_so_an_answer_in_its_second_poll_is_not_put_behind_the_flood():
    # given a successor's queue: a message that arrived during the hand-off, then the flood's backlog given
    # back, and in the second poll of ten the small city's answer that the ending life was about to send
    clock = SimClock()
    arrived_meanwhile, answer = message(9_700, city=SMALL + 1), message(9_701, city=SMALL)
    backlog = flood([2] * 20)
    source = PolledBacklog(clock, [arrived_meanwhile, *backlog[:9], answer, *backlog[9:]])
    sender = LoggingSender(clock)
    scheduler = OutboundScheduler(IDENTITY, 1, sender, InMemoryLedger(), clock, long_polls=True)

    # when the pipelined drainer starts on it and sends its first parts
    scheduler.run(source, should_stop=lambda: len(sender.calls) >= 3, in_flight=in_flight_for(1))

    # then both small cities go before the flood's first visit: the first read is queued whole
    assert [key for _, _, key in sender.calls][:2] == [f"{arrived_meanwhile.id}#1", f"{answer.id}#1"]


class StuckHelperPoll(PolledBacklog):
    """Polls of 0.2 s, and one burst receiver's first poll waits out a 10-s read timeout (a lost
    response): reading the whole backlog takes about 2 s."""

    stuck = False

    def receive(self, wait: float) -> list[OutboundMessage]:
        helper = threading.current_thread().name == "outbound-receiver-1"
        self.clock.sleep(10.0 if helper and not self.stuck else 0.2)
        self.stuck = self.stuck or helper
        return super().receive(wait)


def test_a_burst_receiver_stuck_in_its_first_poll_does_not_hold_the_line():
    # given a backlog, and the first poll of one burst receiver stuck for 10 s (a lost response)
    clock = SimClock()
    source = StuckHelperPoll(clock, flood([1] * 600))
    sender = LoggingSender(clock)
    scheduler = OutboundScheduler(IDENTITY, 3, sender, InMemoryLedger(), clock, long_polls=True)

    # when the pipelined drainer starts on it
    scheduler.run(source, should_stop=lambda: bool(sender.calls), in_flight=in_flight_for(3))

    # then its first part starts at the first read's deadline (0.25 s after the first poll returned at
    # 0.215 s), neither when the stuck poll returns, nor when another receiver's poll next returns
    # (0.645 s), nor when the backlog is read (2.15 s)
    assert sender.calls[0][0] == pytest.approx(0.215 + FIRST_READ_LONGEST, abs=0.01)
