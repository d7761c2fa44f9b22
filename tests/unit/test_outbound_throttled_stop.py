"""Refused calls (ThrottlingException) in the pipelined line (issue 19, third and fourth passes). A
refused call sends no part: an urgent one gives its slot back (at 1 MPS a STOP refused twice in a row had
waited a whole slot after each refusal, then the AIMD pace: 2.9 s in the bench), and so does any other
refused once since the last accepted call (it had cost the line a whole slot on top of AIMD's cut). A
refused part keeps its claim, so it is not chosen again behind what the other workers chose while its
call was out (at 100 MPS a small city's answer refused once had 16 to 25 flood parts chosen ahead of
it). The pipelined scheduler on the simulated clock with the latency real calls have; every figure from
the fakes' own logs."""

from __future__ import annotations

from test_outbound_pipeline import FLOOD, SEND_S, SMALL, SlowLedger, TimedSource, burst, message

from text311.outbound import Kind, MpsLimit, OutboundScheduler
from text311.outbound.errors import Throttled
from text311.outbound.pacing import max_in_window
from text311.outbound.scheduler import in_flight_for
from text311.outbound.sim_clock import SimClock


class RefusingLine:
    """End User Messaging that refuses the first ``refusals`` calls for one message (ThrottlingException);
    each call takes ``SEND_S`` and is logged with its start and whether it was accepted."""

    def __init__(self, clock: SimClock, refused_id: str, refusals: int) -> None:
        self.clock, self.refused_id, self.refusals = clock, refused_id, refusals
        self.calls: list[tuple[float, str, bool]] = []  # (start, part key, accepted)

    def send(self, destination: str, body: str, *, idempotency_key: str, context) -> dict:
        started = self.clock.now()
        self.clock.sleep(SEND_S)
        refuse = idempotency_key.startswith(self.refused_id + "#") and self.refusals > 0
        self.calls.append((started, idempotency_key, not refuse))
        if refuse:
            self.refusals -= 1
            raise Throttled("ThrottlingException")
        return {"MessageId": f"sms-{len(self.calls)}"}


def test_a_stop_refused_twice_at_1_mps_goes_within_two_seconds_and_sent_parts_stay_one_second_apart():
    # given a 1-MPS line busy with a city's answers, and a STOP that arrives just after a part went
    mps, clock = 1.0, SimClock()
    stop = message(9_000, kind=Kind.KEYWORD, city=None)
    arrivals = [(0.0, message(n, city=FLOOD)) for n in range(12)] + [(5.05, stop)]
    line, source = RefusingLine(clock, stop.id, refusals=2), TimedSource(clock, arrivals)
    scheduler = OutboundScheduler("+15145550100", mps, line, SlowLedger(clock), clock, long_polls=True)

    # when the service refuses the STOP's first two calls
    scheduler.run(source, lambda: len(source.acked) == len(arrivals) or clock.now() > 100,
                  idle_wait=20.0, in_flight=in_flight_for(mps))

    # then its third call went within 2 s of its arrival, not a slot after each refusal
    stop_calls = [(start, accepted) for start, key, accepted in line.calls if key.startswith(stop.id + "#")]
    assert [accepted for _, accepted in stop_calls] == [False, False, True]
    assert stop_calls[-1][0] - 5.05 <= 2.0
    # and the parts sent (the calls the service accepted) stayed at least 1/MPS apart: never above the MPS
    sent = sorted(start for start, _, accepted in line.calls if accepted)
    assert len(sent) == len(arrivals)
    assert max_in_window(sent) <= mps and min(b - a for a, b in zip(sent, sent[1:], strict=False)) >= 1 / mps - 1e-9


def test_an_answer_refused_once_at_1_mps_goes_at_the_cut_pace_after_the_part_before_it_not_a_slot_later():
    # given a 1-MPS line busy with a city's answers
    mps, clock = 1.0, SimClock()
    arrivals = [(0.0, message(n, city=FLOOD)) for n in range(12)]
    refused = arrivals[5][1]
    line, source = RefusingLine(clock, refused.id, refusals=2), TimedSource(clock, arrivals)
    scheduler = OutboundScheduler("+15145550100", mps, line, SlowLedger(clock), clock, long_polls=True)

    # when the service refuses one answer's first two calls in a row
    scheduler.run(source, lambda: len(source.acked) == len(arrivals) or clock.now() > 100,
                  idle_wait=20.0, in_flight=in_flight_for(mps))

    # then the first refusal gave its slot back: the retry went 1/(0.75 x MPS) after the part sent before
    # it (AIMD's cut applied from there), not a whole slot after the refused call (2.33 s after that part)
    calls = sorted(line.calls)
    tries = [(start, accepted) for start, key, accepted in calls if key.startswith(refused.id + "#")]
    assert [accepted for _, accepted in tries] == [False, False, True]
    before = max(start for start, _, accepted in calls if accepted and start < tries[0][0])
    assert tries[1][0] - before <= 1 / (0.75 * mps) + 1e-6
    # and the second refusal in a row (an overload, not a stray refusal) kept its slot at the cut pace
    assert tries[2][0] - tries[1][0] >= 1 / (0.75 * mps) - 1e-6
    # and the parts sent stayed at least 1/MPS apart: never above the MPS
    sent = [start for start, _, accepted in calls if accepted]
    assert len(sent) == len(arrivals)
    assert max_in_window(sent) <= mps and min(b - a for a, b in zip(sent, sent[1:], strict=False)) >= 1 / mps - 1e-9


class HalfSpeedLine(RefusingLine):
    """End User Messaging whose identity takes ``real_mps`` parts a second (a bucket of one second's
    worth), fewer than the drainer is configured for: every call above it is refused."""

    def __init__(self, clock: SimClock, real_mps: float) -> None:
        super().__init__(clock, refused_id="", refusals=0)
        self.limit = MpsLimit(real_mps)

    def send(self, destination: str, body: str, *, idempotency_key: str, context) -> dict:
        started = self.clock.now()
        accepted = self.limit.try_acquire(1, started)
        self.clock.sleep(SEND_S)
        self.calls.append((started, idempotency_key, accepted))
        if not accepted:
            raise Throttled("ThrottlingException")
        return {"MessageId": f"sms-{len(self.calls)}"}


def drain_burst(mps: float, parts: int, line_for) -> RefusingLine:
    clock = SimClock()
    arrivals = burst(parts)
    line, source = line_for(clock, arrivals), TimedSource(clock, arrivals)
    scheduler = OutboundScheduler("+15145550100", mps, line, SlowLedger(clock), clock, long_polls=True)
    scheduler.run(source, lambda: len(source.acked) == len(arrivals) or clock.now() > 1_000,
                  idle_wait=20.0, in_flight=in_flight_for(mps))
    return line


def test_a_stray_refusal_at_100_mps_costs_its_slot_not_the_pace_and_an_overload_still_slows_the_line():
    # given a 100-MPS line busy with a burst, where several calls are out when a refusal comes back
    mps = 100.0

    # when the service refuses one part's first call (a stray refusal)
    line = drain_burst(mps, 600, lambda clock, arrivals: RefusingLine(clock, arrivals[300][1].id, refusals=1))

    # then its slot was lost (a part in its place would put MPS + 1 in the second after it), and that was
    # the whole back-off: the parts after it went at the MPS, not at a pace cut to 0.75 x MPS
    calls = sorted(line.calls)
    refused_at = next(start for start, _, accepted in calls if not accepted)
    sent = [start for start, _, accepted in calls if accepted]
    after = [b - a for a, b in zip(sent, sent[1:], strict=False) if refused_at < a < refused_at + 0.5]
    assert len(after) > 20 and max(after) <= 1 / mps + 1e-6
    assert max_in_window(sent) <= mps

    # and a service that takes only half the configured MPS (an overload: refusals close together) still
    # gets AIMD's back-off: most calls are accepted, not every other one
    line = drain_burst(mps, 1_000, lambda clock, arrivals: HalfSpeedLine(clock, mps / 2))
    refused = sum(1 for _, _, accepted in line.calls if not accepted)
    assert refused <= len(line.calls) / 3


class ClaimLog(SlowLedger):
    """The ledger, with every claim logged at its start: the moment the drainer chose a part."""

    def __init__(self, clock: SimClock) -> None:
        super().__init__(clock)
        self.claims: list[tuple[float, str]] = []

    def claim(self, message_id, identity):
        self.claims.append((self.clock.now(), message_id))
        return super().claim(message_id, identity)


def test_a_small_citys_answer_refused_once_has_at_most_one_quantum_of_flood_parts_chosen_ahead_of_it():
    # given a 100-MPS line busy with a flooding city's 2,000 parts, and a small city's answer at 5 s
    mps, clock = 100.0, SimClock()
    small = message(8_888, city=SMALL)
    arrivals = burst(2_000) + [(5.0, small)]
    line, source, ledger = RefusingLine(clock, small.id, refusals=1), TimedSource(clock, arrivals), ClaimLog(clock)
    scheduler = OutboundScheduler("+15145550100", mps, line, ledger, clock, long_polls=True)

    # when the service refuses the answer's first call
    scheduler.run(source, lambda: small.id in source.acked or clock.now() > 100,
                  idle_wait=20.0, in_flight=in_flight_for(mps))

    # then no more than one quantum of flood parts was chosen after it arrived and before it was chosen
    # for the call that went (each flood part counted at its first claim)
    assert [accepted for _, key, accepted in line.calls if key.startswith(small.id + "#")] == [False, True]
    chosen = max(at for at, key in ledger.claims if key.startswith(small.id + "#"))
    first_claim: dict[str, float] = {}
    for at, key in ledger.claims:
        first_claim.setdefault(key, at)
    flood_chosen = [key for key, at in first_claim.items() if 5.0 < at < chosen and not key.startswith(small.id)]
    assert len(flood_chosen) <= scheduler.quantum
