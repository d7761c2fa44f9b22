"""The local SMS sink keeps to its MPS like the real line: above it, a ThrottlingException and nothing sent."""

from __future__ import annotations

import pytest

from localrun.sms_sink import PhoneLog, SmsSink
from text311.adapters.sms_sender import SendThrottled
from text311.outbound.errors import Outcome, classify

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

PHONE = "+16135559001"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _sink(mps: float, clock: Clock) -> tuple[SmsSink, PhoneLog, list[str]]:
    phones, events = PhoneLog(), []
    return SmsSink(phones, "+15145550100", events.append, mps=mps, clock=clock), phones, events


def test_a_send_above_the_mps_is_throttled_and_reaches_no_phone() -> None:
    # given a 1-MPS sink that has just sent one part
    clock = Clock()
    sink, phones, events = _sink(1.0, clock)
    sink.send(PHONE, "first", idempotency_key="a")
    # when a second part comes half a second later
    clock.now += 0.5
    with pytest.raises(SendThrottled) as refused:
        sink.send(PHONE, "second", idempotency_key="b")
    # then it is the throttling the drainer slows down for, and the phone has only the first
    assert classify(refused.value).outcome is Outcome.THROTTLED
    assert [m.body for m in phones.messages(PHONE)] == ["first"]
    assert len(events) == 1 and sink.throttled == 1


def test_a_send_one_part_time_later_goes_through() -> None:
    clock = Clock()
    sink, phones, _ = _sink(2.0, clock)
    sink.send(PHONE, "first", idempotency_key="a")
    clock.now += 0.5  # one part at 2 MPS
    sink.send(PHONE, "second", idempotency_key="b")
    assert [m.body for m in phones.messages(PHONE)] == ["first", "second"]
    assert sink.throttled == 0
