"""The local SMS sink refuses like the real line: above its MPS (ThrottlingException) and to a number on the
opt-out list the local number keeps (ConflictException DESTINATION_PHONE_NUMBER_OPTED_OUT); nothing sent."""

from __future__ import annotations

import pytest

from localrun.number import LocalNumber
from localrun.sms_sink import PhoneLog, SmsSink
from stacks.keywords import STOP_MESSAGE
from text311.adapters.sms_sender import RecipientOptedOut, SendThrottled
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


def test_the_sink_refuses_a_number_opted_out_by_its_stop_until_its_start() -> None:
    # given the local number and the sink sharing the opt-out list, as the local run wires them
    phones, clock = PhoneLog(), Clock()
    sink = SmsSink(phones, "+15145550100", lambda event: None, mps=100.0, clock=clock)
    number = LocalNumber("text311.ca", phones, sink.recorder.opted_out)
    # when the resident texts STOP, then is sent an answer
    assert number.receive(PHONE, "Stop") == "STOP"
    with pytest.raises(RecipientOptedOut) as refused:
        sink.send(PHONE, "An answer from the city", idempotency_key="a")
    # then End User Messaging's refusal, and the phone has only the number's confirmation
    assert (refused.value.code, refused.value.reason) == ("ConflictException", "DESTINATION_PHONE_NUMBER_OPTED_OUT")
    assert [m.body for m in phones.messages(PHONE)] == [STOP_MESSAGE]
    # and after START the same send goes through
    number.receive(PHONE, "START")
    clock.now += 1
    sink.send(PHONE, "An answer from the city", idempotency_key="b")
    assert [m.body for m in phones.messages(PHONE)][-1] == "An answer from the city"


def test_a_text_that_only_mentions_a_keyword_is_not_one() -> None:
    number = LocalNumber("text311.ca", PhoneLog(), set())
    assert number.receive(PHONE, "The stop sign on Main St is down") is None  # not the first word
    assert number.receive(PHONE, "Arrêt! je veux arrêter") == "ARRET"  # the first word, accent and case folded
