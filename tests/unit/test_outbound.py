"""The paced outbound scheduler (issue 12) on a fake clock: pacing, priority, fairness, AIMD,
at-most-once sending and failures. No real time passes and no socket opens."""

from __future__ import annotations

import itertools
import json

import pytest
from botocore.exceptions import ClientError, ReadTimeoutError
from hypothesis import given, settings
from hypothesis import strategies as st

from text311.outbound import (
    NO_CITY,
    Aimd,
    FailureReason,
    FakeClock,
    InMemoryLedger,
    InMemorySource,
    Kind,
    LedgerState,
    MpsLimit,
    OutboundMessage,
    OutboundScheduler,
    Outcome,
    Priority,
    SendStatus,
    about_minutes,
    classify,
    count_parts,
)
from text311.outbound.errors import Throttled, TransientFailure
from text311.outbound.message import SCHEMA_VERSION, NewerSchema
from text311.outbound.pacing import max_in_window, part_slots
from text311.outbound.scheduler import part_key
from text311.sms import SmsSegmenter

IDENTITY = "+15145550100"
BUSY, QUIET = 6077243, 6127749
_ids = itertools.count()


def message(kind: Kind = Kind.AGENT, city: int | None = BUSY, parts: int = 1, id: str | None = None) -> OutboundMessage:
    body = "x" * (160 if parts == 1 else 153 * parts)  # GSM-7: exactly `parts` parts
    return OutboundMessage.create(id=id or f"m{next(_ids)}", identity=IDENTITY, city=city, kind=kind,
                                  destination="+15145550199", body=body, enqueued_at=0.0)


class FakeSender:
    """Records every call at the clock's time; can be told to fail the next calls."""

    def __init__(self, clock: FakeClock, failures: list[Exception] | None = None) -> None:
        self.clock = clock
        self.failures = list(failures or [])
        self.calls: list[tuple[float, str, int]] = []  # (time, message id, parts) of calls that succeeded
        self.keys: list[str] = []  # the idempotency key of each call that succeeded ("<id>#<part>")
        self.bodies: list[str] = []
        self.attempts: list[str] = []  # the message id of every call, failed or not

    def send(self, destination, body, *, idempotency_key, context):
        message_id = idempotency_key.rsplit("#", 1)[0]
        self.attempts.append(message_id)
        if self.failures:
            raise self.failures.pop(0)
        self.calls.append((self.clock.now(), message_id, count_parts(body)))
        self.keys.append(idempotency_key)
        self.bodies.append(body)
        return type("Result", (), {"message_id": f"sms-{len(self.calls)}"})()


def scheduler(mps: float = 1, failures: list[Exception] | None = None, ledger=None, **kwargs):
    clock = FakeClock()
    sender = FakeSender(clock, failures)
    failed: list[tuple[str, FailureReason]] = []
    sched = OutboundScheduler(IDENTITY, mps, sender, ledger or InMemoryLedger(), clock,
                              on_failed=lambda m, reason: failed.append((m.id, reason)), **kwargs)
    return sched, sender, clock, failed


def drain(sched: OutboundScheduler, clock: FakeClock, limit: int = 100_000) -> list:
    """Send everything queued, sleeping the fake clock until the line is free each time."""
    results = []
    for _ in range(limit):
        if not sched.queue:
            return results
        clock.sleep(sched.pacer.delay(clock.now()))
        results.append(sched.send_next())
    raise AssertionError("did not drain")


# -- pacing ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("mps", [1, 3, 100])
def test_pacing_never_exceeds_the_mps_in_any_sliding_second_when_the_queue_is_full(mps):
    # given 400 messages of 1 to 4 parts queued at once
    sched, sender, clock, _ = scheduler(mps)
    for i in range(400):
        sched.enqueue(message(parts=1 + i % 4, city=BUSY + i % 3))
    # when it drains
    drain(sched, clock)
    # then no one-second window holds more than MPS parts on the line, and the drain is the physical limit
    total = sum(parts for _, _, parts in sender.calls)
    assert max_in_window(part_slots([(t, p) for t, _, p in sender.calls], mps)) <= mps
    last_t, _, last_parts = sender.calls[-1]
    assert last_t + last_parts / mps == pytest.approx(total / mps)


@settings(max_examples=40, deadline=None)
@given(mps=st.sampled_from([1, 2, 3, 10, 100]),
       plan=st.lists(st.tuples(st.integers(1, 5), st.floats(0, 3)), min_size=1, max_size=60))
def test_pacing_stays_within_the_mps_whatever_the_arrivals_and_idle_gaps(mps, plan):
    # given messages arriving with idle gaps in between (an idle line must not save up a burst)
    sched, sender, clock, _ = scheduler(mps)
    for parts, gap in plan:
        clock.sleep(gap)
        sched.enqueue(message(parts=parts))
        clock.sleep(sched.pacer.delay(clock.now()))
        sched.send_next()
    drain(sched, clock)
    # then every sliding second is within the MPS, and the service (bucket of one second) never refuses
    assert max_in_window(part_slots([(t, p) for t, _, p in sender.calls], mps)) <= mps
    service = MpsLimit(mps)
    assert all(service.try_acquire(parts, t) for t, _, parts in sender.calls)


class SlowClaimLedger(InMemoryLedger):
    """A ledger whose claims take time on the clock, as a DynamoDB round trip does, longer for some."""

    def __init__(self, clock: FakeClock, latencies: list[float]) -> None:
        super().__init__()
        self.clock, self.latencies = clock, itertools.cycle(latencies)

    def claim(self, message_id: str, identity: str):
        self.clock.sleep(next(self.latencies))
        return super().claim(message_id, identity)


@pytest.mark.parametrize("mps", [1, 3, 100])
def test_no_two_calls_start_closer_than_one_part_time_when_claims_take_time(mps):
    # given claims whose round trip varies (12 ms, then 4 ms...), as DynamoDB's does
    clock = FakeClock()
    sender = FakeSender(clock)
    sched = OutboundScheduler(IDENTITY, mps, sender, SlowClaimLedger(clock, [0.012, 0.004]), clock)
    for _ in range(40):
        sched.enqueue(message())

    drain(sched, clock)

    # then the slot is the call's own instant: every call starts at least 1/MPS after the one before
    starts = [t for t, _, _ in sender.calls]
    assert len(starts) == 40
    assert min(b - a for a, b in itertools.pairwise(starts)) >= 1 / mps - 1e-9
    assert max_in_window(starts) <= mps


def test_long_message_goes_as_numbered_parts_one_part_time_apart():
    # given a 3-part message and a 1-part one on a 1-MPS long code
    sched, sender, clock, _ = scheduler(1)
    long, short = message(parts=3), message(parts=1)
    sched.enqueue(long)
    sched.enqueue(short)
    # when both are sent
    drain(sched, clock)
    # then the long one is three calls of one numbered part each, a second apart, and the next waits them out
    assert [t for t, _, _ in sender.calls] == [0.0, 1.0, 2.0, 3.0]
    assert sender.keys == [f"{long.id}#1", f"{long.id}#2", f"{long.id}#3", f"{short.id}#1"]
    assert sender.bodies[:3] == SmsSegmenter().split(long.body)
    assert [b[:4] for b in sender.bodies[:3]] == ["1/3 ", "2/3 ", "3/3 "]


# -- priority and fairness ----------------------------------------------------------------------------


def test_stop_confirmation_goes_next_when_enqueued_behind_1000_agent_parts():
    # given 1,000 agent parts queued and a few already sent
    sched, sender, clock, _ = scheduler(1)
    for _ in range(500):
        sched.enqueue(message(parts=2))
    for _ in range(3):
        clock.sleep(sched.pacer.delay(clock.now()))
        sched.send_next()
    # when a STOP confirmation arrives
    stop = message(Kind.KEYWORD, city=None)
    arrived = clock.now()
    sched.enqueue(stop)
    clock.sleep(sched.pacer.delay(clock.now()))
    result = sched.send_next()
    # then it is the very next message, sent as soon as the line is free (≤ one message's part-time)
    assert result.message.id == stop.id
    assert result.at - arrived <= 2.0


def test_classes_are_strict_urgent_then_answers_then_notices():
    sched, sender, clock, _ = scheduler(10)
    notice, agent, dialog, emergency = (message(Kind.FAILURE_NOTICE), message(Kind.AGENT),
                                        message(Kind.DIALOG, city=None), message(Kind.EMERGENCY))
    for m in (notice, agent, dialog, emergency):
        sched.enqueue(m)
    drain(sched, clock)
    order = [mid for _, mid, _ in sender.calls]
    assert order[0] == emergency.id and order[-1] == notice.id
    assert set(order[1:3]) == {agent.id, dialog.id}


def test_quiet_city_is_not_starved_when_a_busy_city_has_a_backlog():
    # given a busy city with 1,000 parts queued first and a quiet city with 10 one-part answers after
    sched, sender, clock, _ = scheduler(1)
    for _ in range(500):
        sched.enqueue(message(city=BUSY, parts=2))
    quiet = [message(city=QUIET) for _ in range(10)]
    for m in quiet:
        sched.enqueue(m)
    # when the queue drains
    drain(sched, clock)
    # then the quiet city's answers go within about twice their own line time (fair share), not after 1,000 s
    sent_at = {mid: t for t, mid, _ in sender.calls}
    last_quiet = max(sent_at[m.id] for m in quiet)
    assert last_quiet <= 2 * 10 + 4  # its 10 parts interleaved with the busy city's, plus one quantum
    assert min(t for t, mid, _ in sender.calls if mid in sent_at and mid in {m.id for m in quiet}) <= 4


def test_cities_share_parts_not_messages_when_one_sends_long_answers():
    # given one city sending 4-part answers and one sending 1-part answers, both backlogged
    sched, sender, clock, _ = scheduler(10)
    for _ in range(100):
        sched.enqueue(message(city=BUSY, parts=4))
    for _ in range(400):
        sched.enqueue(message(city=QUIET, parts=1))
    # when the first 400 parts go
    sent: dict[int, int] = {BUSY: 0, QUIET: 0}
    city_of = {m.id: m.city for m in sched.queue}
    while sum(sent.values()) < 400:
        clock.sleep(sched.pacer.delay(clock.now()))
        result = sched.send_next()
        sent[city_of[result.message.id]] += 1  # each step sends one part
    # then each got half the parts, within one quantum
    assert abs(sent[BUSY] - sent[QUIET]) <= sched.quantum


def test_dialog_answers_without_a_city_get_a_fair_share_of_their_own():
    sched, sender, clock, _ = scheduler(1)
    for _ in range(50):
        sched.enqueue(message(city=BUSY))
    dialog = message(Kind.DIALOG, city=None)
    sched.enqueue(dialog)
    assert dialog.city == NO_CITY
    drain(sched, clock)
    assert [mid for _, mid, _ in sender.calls].index(dialog.id) <= sched.quantum


# -- throttling (AIMD) --------------------------------------------------------------------------------


def test_throttling_slows_the_pace_and_requeues_the_message_at_the_head():
    # given a service that throttles the first two calls
    sched, sender, clock, failed = scheduler(10, failures=[Throttled(), Throttled()])
    first, second = message(), message()
    sched.enqueue(first)
    sched.enqueue(second)
    # when the queue drains
    results = drain(sched, clock)
    # then the throttled message was retried first, each throttle cut the pace, nothing was lost
    assert [r.status for r in results] == [SendStatus.THROTTLED, SendStatus.THROTTLED, SendStatus.SENT,
                                           SendStatus.SENT]
    assert [mid for _, mid, _ in sender.calls] == [first.id, second.id]
    assert sched.pacer.throttles == 2 and failed == []
    gap = sender.calls[1][0] - sender.calls[0][0]
    assert gap > 1 / 10  # slower than the MPS right after the throttles


def test_pace_recovers_to_the_mps_after_throttling_stops():
    sched, sender, clock, _ = scheduler(100, failures=[Throttled()] * 3, aimd=Aimd(decrease=0.5))
    for _ in range(40):
        sched.enqueue(message())
    drain(sched, clock)
    assert sched.pacer.rate == pytest.approx(100)  # additive recovery, capped at the MPS
    assert len(sender.calls) == 40


def test_pace_never_falls_below_its_floor():
    sched, sender, clock, _ = scheduler(10, failures=[Throttled()] * 30)
    sched.enqueue(message())
    drain(sched, clock)
    assert sched.pacer.rate >= 0.1 * 10 and len(sender.calls) == 1


# -- never twice --------------------------------------------------------------------------------------


def test_redelivery_of_a_queued_message_sends_one_sms():
    # given the same message delivered twice by the queue (before and after it was sent)
    sched, sender, clock, _ = scheduler(1)
    m = message(id="ses-0001")
    sched.enqueue(m)
    sched.enqueue(m)
    drain(sched, clock)
    sched.enqueue(m)
    results = drain(sched, clock)
    # then one SMS; the copies are acknowledged as duplicates without using the line
    assert [mid for _, mid, _ in sender.calls] == ["ses-0001"]
    assert results[-1].status is SendStatus.DUPLICATE


class Crash(Exception):
    pass


class CrashingLedger(InMemoryLedger):
    def mark_sent(self, message_id, sms_message_id, parts):
        raise Crash("the drainer died after SendTextMessage returned, before the record")


def test_crash_between_send_and_record_does_not_send_twice_and_tells_the_agent():
    # given a drainer that dies right after the service accepted the message
    crashing = CrashingLedger()
    sched, sender, clock, _ = scheduler(1, ledger=crashing)
    m = message(id="ses-0002")
    sched.enqueue(m)
    with pytest.raises(Crash):
        sched.send_next()
    # when the queue redelivers it to the next drainer (same ledger, fresh memory)
    ledger = InMemoryLedger()
    ledger.entries = crashing.entries
    next_sched, next_sender, next_clock, failed = scheduler(1, ledger=ledger)
    next_sched.enqueue(m)
    result = next_sched.send_next()
    # then at most once: not resent, recorded in doubt, and the agent is told once
    assert len(sender.calls) == 1 and next_sender.attempts == []
    assert result.status is SendStatus.IN_DOUBT
    assert ledger.entries["ses-0002#1"].state is LedgerState.IN_DOUBT
    assert failed == [("ses-0002", FailureReason.IN_DOUBT)]


def test_read_timeout_after_the_request_left_is_in_doubt_and_never_resent():
    timeout = ReadTimeoutError(endpoint_url="https://sms-voice.ca-central-1.amazonaws.com")
    sched, sender, clock, failed = scheduler(1, failures=[timeout])
    sched.enqueue(message(id="ses-0003"))
    drain(sched, clock)
    assert sender.attempts == ["ses-0003"]
    assert failed == [("ses-0003", FailureReason.IN_DOUBT)]


# -- never retried forever ----------------------------------------------------------------------------


def _client_error(code: str, reason: str | None = None) -> ClientError:
    response = {"Error": {"Code": code, "Message": code}}
    if reason:
        response["Reason"] = reason
    return ClientError(response, "SendTextMessage")


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (_client_error("ConflictException", "DESTINATION_PHONE_NUMBER_OPTED_OUT"), FailureReason.OPTED_OUT),
        (_client_error("ValidationException", "CANNOT_PARSE"), FailureReason.INVALID_NUMBER),
        (_client_error("ServiceQuotaExceededException", "MONTHLY_SPEND_LIMIT_REACHED_FOR_TEXT"),
         FailureReason.SPEND_LIMIT),
    ],
)
def test_permanent_failure_calls_on_failed_once_and_is_not_retried(error, reason):
    sched, sender, clock, failed = scheduler(1, failures=[error])
    m = message()
    sched.enqueue(m)
    results = drain(sched, clock)
    sched.enqueue(m)  # and a redelivery of it changes nothing
    results += drain(sched, clock)
    assert sender.attempts == [m.id]
    assert failed == [(m.id, reason)]
    assert [r.status for r in results] == [SendStatus.FAILED, SendStatus.DUPLICATE]
    assert sched.ledger.entries[part_key(m.id, 1)].state is LedgerState.FAILED


def test_transient_failure_backs_off_then_gives_the_message_back_to_the_queue():
    # given a service answering InternalServerException every time
    sched, sender, clock, failed = scheduler(10, failures=[_client_error("InternalServerException")] * 10,
                                             max_transient_attempts=3)
    m = message()
    sched.enqueue(m)
    results = drain(sched, clock)
    # then two backed-off retries, then the durable queue has it again (redrive → DLQ), nobody told yet
    assert [r.status for r in results] == [SendStatus.RETRY, SendStatus.RETRY, SendStatus.ABANDONED]
    assert clock.now() >= 1.0 + 2.0 and failed == []
    assert m.id not in sched.ledger.entries  # released: a redelivery may send it


def test_classify_knows_the_adapter_errors_by_name():
    class RecipientOptedOut(Exception):
        pass

    class SmsThrottlingError(Exception):
        pass

    class TransientSendFailure(Exception):
        pass

    assert classify(RecipientOptedOut()).reason is FailureReason.OPTED_OUT
    assert classify(SmsThrottlingError()).outcome is Outcome.THROTTLED
    assert classify(TransientFailure()).outcome is Outcome.TRANSIENT
    assert classify(TransientSendFailure()).outcome is Outcome.TRANSIENT
    assert classify(RuntimeError("unknown")).outcome is Outcome.IN_DOUBT  # unknown: never resent


# -- visibility ----------------------------------------------------------------------------------------


def test_expected_wait_is_the_parts_ahead_at_the_current_pace():
    # given 300 agent parts from one city queued on a 1-MPS long code
    sched, sender, clock, _ = scheduler(1)
    for _ in range(150):
        sched.enqueue(message(city=BUSY, parts=2))
    # then a new answer from that city waits 300 s ("about 5 minutes"); another city's far less;
    # a STOP confirmation nothing
    assert sched.expected_wait_seconds(Priority.ANSWER, BUSY) == pytest.approx(300)
    assert about_minutes(sched.expected_wait_seconds(Priority.ANSWER, BUSY)) == 5
    assert sched.expected_wait_seconds(Priority.ANSWER, QUIET) == pytest.approx(1)
    assert about_minutes(sched.expected_wait_seconds(Priority.URGENT)) is None
    status = sched.status()
    assert (status.messages, status.parts, status.parts_by_priority["ANSWER"]) == (150, 300, 300)


def test_wait_estimate_grows_when_throttling_slows_the_pace():
    sched, sender, clock, _ = scheduler(10, failures=[Throttled()])
    for _ in range(100):
        sched.enqueue(message())
    before = sched.expected_wait_seconds(Priority.ANSWER)
    sched.send_next()
    assert sched.expected_wait_seconds(Priority.ANSWER) > before


# -- the message and its parts ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "parts"),
    [
        ("a" * 160, 1), ("a" * 161, 2), ("a" * 306, 2),
        ("a" * 307, 2),  # 3 parts as one concatenated SMS; 2 numbered SMS as the sender splits it
        ("€" * 80, 1), ("€" * 81, 2),  # an extension character is two septets
        ("é" * 160, 1),  # in the GSM-7 alphabet
        ("ê" * 70, 1), ("ê" * 71, 2), ("ê" * 135, 3),  # not in GSM-7: UCS-2
        ("🌧" * 35, 1), ("🌧" * 36, 2),  # two UTF-16 units each, never split
        ("", 1),
    ],
)
def test_parts_are_counted_as_the_sender_splits_them(body, parts):
    assert count_parts(body) == parts


@pytest.mark.parametrize("body", ["word " * 100, "Réponse: la rue sera déneigée ce soir. " * 12, "x" * 2000])
def test_the_pacer_counts_exactly_the_sms_the_sender_sends(body):
    assert count_parts(body) == len(SmsSegmenter(max_parts=99).split(body))


def test_message_round_trips_through_the_queue_body_without_its_receipt():
    m = OutboundMessage.create(id="ses-1", identity=IDENTITY, city=BUSY, kind="agent", destination="+15145550199",
                               body="Réponse: la rue sera déneigée ce soir.", enqueued_at=1.5,
                               context={"conversation": "6077243-abc"})
    back = OutboundMessage.from_json(m.with_receipt("handle-1").to_json(), receipt="handle-2")
    assert back == m and back.receipt == "handle-2" and back.priority is Priority.ANSWER


def test_a_version_1_body_is_read_by_the_drainer_from_before_versions():
    # During the deploy that brings versions, the old drainer holds the lease for up to 15 minutes and
    # reads new producers' bodies as it always did: every field into the constructor.
    def previous_reader(text: str) -> OutboundMessage:
        data = json.loads(text)
        data["kind"] = Kind(data["kind"])
        data["context"] = dict(data.get("context") or {})
        return OutboundMessage(**data, receipt=None)

    m = OutboundMessage.create(id="ses-1", identity=IDENTITY, city=BUSY, kind="agent", destination="+15145550199",
                               body="Bonjour", enqueued_at=1.5)
    assert SCHEMA_VERSION == 1
    assert previous_reader(m.to_json()) == m


def test_a_body_from_a_newer_producer_with_fields_this_drainer_does_not_know_is_read():
    # A new producer added a field during a deploy; the old drainer still sends the message.
    m = OutboundMessage.create(id="ses-1", identity=IDENTITY, city=BUSY, kind="agent", destination="+15145550199",
                               body="Bonjour", enqueued_at=1.5)
    body = {**json.loads(m.to_json()), "channel": "sms", "sent_by": "console"}

    assert OutboundMessage.from_json(json.dumps(body)) == m


def test_a_body_written_before_versions_existed_is_version_1():
    m = OutboundMessage.create(id="ses-1", identity=IDENTITY, city=BUSY, kind="dialog", destination="+15145550199",
                               body="Which city?", enqueued_at=1.5)
    old = {k: v for k, v in json.loads(m.to_json()).items() if k != "v"}

    assert OutboundMessage.from_json(json.dumps(old)) == m


@pytest.mark.parametrize("version", [2, "2", None])
def test_a_body_of_a_newer_or_unknown_schema_is_refused_as_newer_not_guessed(version):
    m = OutboundMessage.create(id="ses-1", identity=IDENTITY, city=BUSY, kind="agent", destination="+15145550199",
                               body="Bonjour", enqueued_at=1.5)
    with pytest.raises(NewerSchema):
        OutboundMessage.from_json(json.dumps({**json.loads(m.to_json()), "v": version}))


# -- one part per turn: a STOP between two parts of an answer ---------------------------------------


def run_line(sched: OutboundScheduler, clock: FakeClock, arrivals: dict[float, list[OutboundMessage]] | None = None,
             limit: int = 10_000) -> list:
    """Send until empty, waiting each time for the line as the drainer does (an urgent head waits
    only for the MPS); ``arrivals`` are enqueued at their instants, even in the middle of a wait."""
    pending = sorted((arrivals or {}).items())
    results = []
    for _ in range(limit):
        if not sched.queue and not pending:
            return results
        wake = clock.now() + sched.delay() if sched.queue else float("inf")
        if pending and pending[0][0] <= wake:
            at, messages = pending.pop(0)
            clock.set(at)
            for m in messages:
                sched.enqueue(m)
            continue
        clock.set(wake)
        results.append(sched.send_next())
    raise AssertionError("did not drain")


def with_callbacks(mps: float = 1, **kwargs):
    sent: list[tuple[str, float]] = []
    sched, sender, clock, failed = scheduler(mps, on_sent=lambda m, at: sent.append((m.id, at)), **kwargs)
    return sched, sender, clock, failed, sent


def test_stop_enqueued_during_a_4_part_answer_goes_right_after_the_current_part():
    # given a 4-part answer on a 1-MPS long code, its first part on the line at t=0
    sched, sender, clock, failed, sent = with_callbacks(1)
    answer = message(parts=4, id="answer")
    stop = message(Kind.KEYWORD, city=None, id="stop")
    sched.enqueue(answer)
    # when a STOP confirmation arrives 0.3 s later
    run_line(sched, clock, {0.3: [stop]})
    # then it goes at t=1, between parts 1 and 2, and the answer's parts follow in order
    assert sender.keys == ["answer#1", "stop#1", "answer#2", "answer#3", "answer#4"]
    assert [t for t, _, _ in sender.calls] == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert [b[:4] for b in sender.bodies if b[1] == "/"] == ["1/4 ", "2/4 ", "3/4 ", "4/4 "]
    # and each message is reported sent once, the answer when its last part is through
    assert sent == [("stop", 1.0), ("answer", 4.0)] and failed == []


def test_parts_of_an_answer_are_not_interleaved_with_another_answer():
    # given two 3-part answers from different cities (DRR would alternate cities message by message)
    sched, sender, clock, _, sent = with_callbacks(10)
    first, second = message(parts=3, city=BUSY, id="first"), message(parts=3, city=QUIET, id="second")
    sched.enqueue(first)
    sched.enqueue(second)
    run_line(sched, clock)
    # then one answer's parts all go before the other's start: only an urgent message may cut in
    assert sender.keys == ["first#1", "first#2", "first#3", "second#1", "second#2", "second#3"]
    assert [mid for mid, _ in sent] == ["first", "second"]


def test_depth_counts_the_parts_still_to_send_of_an_answer_under_way():
    sched, sender, clock, _ = scheduler(1)
    sched.enqueue(message(parts=4))
    sched.send_next()
    assert sched.depth()[Priority.ANSWER] == (1, 3)
    assert sched.expected_wait_seconds(Priority.ANSWER) == pytest.approx(1 + 3)


def test_redelivery_after_a_partial_send_resumes_at_the_first_unsent_part():
    # given a drainer that sent 2 parts of a 4-part answer, then reached the end of its life
    ledger = InMemoryLedger()
    source = InMemorySource()
    first, first_sender, first_clock, _, first_sent = with_callbacks(1, ledger=ledger)
    first._source = source
    answer = message(parts=4, id="answer")
    first.enqueue(answer)
    for _ in range(2):
        first_clock.sleep(first.delay())
        assert first.send_next().status is SendStatus.PART
    assert first.release_all() == 1
    # when the queue delivers it to the next drainer (same ledger)
    second, second_sender, second_clock, failed, second_sent = with_callbacks(1, ledger=ledger)
    second._source = source
    for m in source.receive(0.0):
        second.enqueue(m)
    run_line(second, second_clock)
    # then it sends parts 3 and 4 only, and the message is acknowledged and reported sent once
    assert first_sender.keys == ["answer#1", "answer#2"]
    assert second_sender.keys == ["answer#3", "answer#4"]
    assert [b[:4] for b in second_sender.bodies] == ["3/4 ", "4/4 "]
    assert first_sent == [] and [mid for mid, _ in second_sent] == ["answer"]
    assert source.acked == ["answer"] and failed == []


def test_redelivery_of_a_fully_sent_answer_sends_nothing():
    sched, sender, clock, _, sent = with_callbacks(1)
    answer = message(parts=3, id="answer")
    sched.enqueue(answer)
    run_line(sched, clock)
    sched.enqueue(answer)
    results = run_line(sched, clock)
    assert len(sender.calls) == 3 and [r.status for r in results] == [SendStatus.DUPLICATE]
    assert [mid for mid, _ in sent] == ["answer"]


class CrashOnPart(InMemoryLedger):
    def __init__(self, key: str) -> None:
        super().__init__()
        self.key = key

    def mark_sent(self, message_id, sms_message_id, parts):
        if message_id == self.key:
            raise Crash("the drainer died after this part's call, before its record")
        super().mark_sent(message_id, sms_message_id, parts)


def test_crash_after_a_part_leaves_it_in_doubt_and_the_rest_unsent():
    # given a drainer that dies between part 2's call and its record
    crashing = CrashOnPart("answer#2")
    sched, sender, clock, _ = scheduler(1, ledger=crashing)
    answer = message(parts=4, id="answer")
    sched.enqueue(answer)
    with pytest.raises(Crash):
        run_line(sched, clock)
    # when the next drainer gets the redelivery
    ledger = InMemoryLedger()
    ledger.entries = crashing.entries
    nxt, next_sender, next_clock, failed, sent = with_callbacks(1, ledger=ledger)
    nxt.enqueue(answer)
    results = run_line(nxt, next_clock)
    # then nothing is sent again (part 2 may be out, parts 3-4 are withheld) and the agent is told once
    assert sender.keys == ["answer#1", "answer#2"] and next_sender.attempts == []
    assert [(r.status, r.part) for r in results] == [(SendStatus.IN_DOUBT, 2)]
    assert ledger.entries["answer#2"].state is LedgerState.IN_DOUBT
    assert failed == [("answer", FailureReason.IN_DOUBT)] and sent == []


def test_opted_out_between_parts_fails_the_answer_once_and_sends_no_more_parts():
    # given a resident who replied STOP while their 3-part answer was going out
    opted_out = _client_error("ConflictException", "DESTINATION_PHONE_NUMBER_OPTED_OUT")
    sched, sender, clock, failed, sent = with_callbacks(1)
    sched.sender.failures = []
    answer = message(parts=3, id="answer")
    sched.enqueue(answer)
    sched.send_next()
    sender.failures = [opted_out]
    results = run_line(sched, clock)
    sched.enqueue(answer)  # a redelivery changes nothing
    results += run_line(sched, clock)
    assert sender.keys == ["answer#1"] and sender.attempts == ["answer", "answer"]
    assert [r.status for r in results] == [SendStatus.FAILED, SendStatus.DUPLICATE]
    assert failed == [("answer", FailureReason.OPTED_OUT)] and sent == []


def test_throttled_part_is_retried_before_the_next_part_and_a_stop_can_still_cut_in():
    sched, sender, clock, failed, sent = with_callbacks(1)
    answer, stop = message(parts=3, id="answer"), message(Kind.KEYWORD, city=None, id="stop")
    sched.enqueue(answer)
    sched.send_next()  # part 1 at t=0
    sender.failures = [Throttled()]
    clock.sleep(sched.delay())
    assert sched.send_next().status is SendStatus.THROTTLED  # part 2 refused at t=1: its retry is due at 1/0.75 s
    run_line(sched, clock, {1.2: [stop]})
    assert sender.keys == ["answer#1", "stop#1", "answer#2", "answer#3"]
    assert sched.depth()[Priority.ANSWER] == (0, 0) and [m for m, _ in sent] == ["stop", "answer"]


# -- urgent messages are spaced at the MPS, not at the AIMD pace --------------------------------------


def test_stop_after_a_throttle_cut_waits_one_part_time_at_the_mps_not_at_the_cut_pace():
    # given a 1-MPS line whose pace a throttle cut below the MPS
    sched, sender, clock, _, _ = with_callbacks(1, failures=[Throttled()])
    sched.enqueue(message(id="a"))
    sched.enqueue(message(id="b"))
    sched.send_next()  # throttled at t=0: the slot is given back (no part went)
    clock.sleep(sched.delay())
    sched.send_next()  # "a" at t=0, reserved at the cut pace: the next answer part is due 1/0.75 s later
    assert sched.pacer.ready_at == pytest.approx(1 / 0.75) and sched.pacer.rate == pytest.approx(0.8)
    # when a STOP arrives just after
    run_line(sched, clock, {0.01: [message(Kind.KEYWORD, city=None, id="stop")]})
    # then it goes at t=1 (one part-time at the MPS), the answer after it at the (recovering) cut pace
    assert [(mid, t) for t, mid, _ in sender.calls] == [("a", 0.0), ("stop", 1.0), ("b", pytest.approx(1 + 1 / 0.8))]


def test_a_stop_throttled_once_still_goes_within_two_seconds_at_1_mps():
    sched, sender, clock, _, sent = with_callbacks(1)
    sched.enqueue(message(parts=4, id="answer"))
    sched.send_next()  # part 1 at t=0
    sender.failures = [Throttled()]  # the STOP's first call is refused
    run_line(sched, clock, {0.001: [message(Kind.KEYWORD, city=None, id="stop")]})
    stop_at = dict(sent)["stop"]
    assert stop_at - 0.001 <= 2.0 and sender.attempts[:3] == ["answer", "stop", "stop"]


def test_urgent_messages_slow_down_too_when_the_service_keeps_throttling_them():
    # given a service that refused the last three urgent calls in a row (the first two gave their slot back)
    sched, sender, clock, _, _ = with_callbacks(1, failures=[Throttled(), Throttled(), Throttled()])
    sched.enqueue(message(Kind.KEYWORD, city=None, id="stop"))
    run_line(sched, clock)
    # then the fourth try waits the AIMD pace after three cuts (1 / 0.5625 s from the third), not 1 / MPS
    assert sender.attempts == ["stop"] * 4 and sender.calls[0][0] == pytest.approx(1.0 / 0.5625)


@settings(max_examples=40, deadline=None)
@given(mps=st.sampled_from([1, 3, 100]),
       plan=st.lists(st.tuples(st.integers(1, 4), st.booleans(), st.floats(0, 2), st.booleans()),
                     min_size=1, max_size=40))
def test_part_by_part_sending_keeps_mps_order_and_once_whatever_the_mix(mps, plan):
    # given answers of 1 to 4 parts and STOPs arriving at random, and throttles at random
    sched, sender, clock, failed, sent = with_callbacks(mps)
    arrivals: dict[float, list[OutboundMessage]] = {}
    at = 0.0
    expected_parts: dict[str, int] = {}
    for i, (parts, urgent, gap, throttle) in enumerate(plan):
        at += gap
        m = message(Kind.KEYWORD, city=None, id=f"s{i}") if urgent else message(parts=parts, city=BUSY + i % 3,
                                                                                  id=f"a{i}")
        arrivals.setdefault(at, []).append(m)
        expected_parts[m.id] = m.parts
        if throttle:
            sender.failures.append(Throttled())
    run_line(sched, clock, arrivals)
    # then every part went once, in order, each message reported once, and never above the MPS
    assert len(sender.keys) == len(set(sender.keys)) == sum(expected_parts.values())
    for mid, parts in expected_parts.items():
        assert [k for k in sender.keys if k.rsplit("#", 1)[0] == mid] == [f"{mid}#{p}" for p in range(1, parts + 1)]
    assert sorted(mid for mid, _ in sent) == sorted(expected_parts) and failed == []
    assert max_in_window(part_slots([(t, p) for t, _, p in sender.calls], mps)) <= mps


@settings(max_examples=60, deadline=None)
@given(words=st.lists(st.sampled_from(["rue", "déneigée", "ê", "the", "🌧", "€", "x" * 170, "a\n\nb", "ça",
                                       "«ok»", "\u00a0", "e\u0301", "  "]), min_size=1, max_size=90))
def test_a_numbered_part_given_back_to_a_sender_that_splits_is_sent_unchanged(words):
    # the drainer sends part by part through the adapter, which splits again: it must not renumber
    try:
        parts = SmsSegmenter(max_parts=99).split(" ".join(words))
    except ValueError:
        return  # blank: nothing is sent
    assert all(SmsSegmenter().split(part) == [part] for part in parts)
