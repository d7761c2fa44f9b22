"""Refused calls (ThrottlingException) in the pipelined line (issue 19, third pass). A refused call sends
no part: an urgent one gives its slot back (at 1 MPS a STOP refused twice in a row had waited a whole
slot after each refusal, then the AIMD pace: 2.9 s in the bench). A refused part keeps its claim, so it
is not chosen again behind what the other workers chose while its call was out (at 100 MPS a small
city's answer refused once had 16 to 25 flood parts chosen ahead of it). The pipelined scheduler on the
simulated clock with the latency real calls have; every figure from the fakes' own logs."""

from __future__ import annotations

from test_outbound_pipeline import FLOOD, SEND_S, SMALL, SlowLedger, TimedSource, burst, message

from text311.outbound import Kind, OutboundScheduler
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
