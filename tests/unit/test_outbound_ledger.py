"""The DynamoDB sent ledger (conditional writes, in moto) and the drainer's loop over a source."""

from __future__ import annotations

import threading
import time

import pytest
from moto import mock_aws

from text311.outbound import (
    DynamoDbLedger,
    FailureReason,
    FakeClock,
    InMemoryLedger,
    InMemorySource,
    LedgerState,
    OutboundMessage,
    OutboundScheduler,
    SystemClock,
)
from text311.outbound.ledger import OutboundLedgerModel, bind_ledger_table

IDENTITY = "+15145550100"


@pytest.fixture
def ledger():
    with mock_aws():
        bind_ledger_table("test-outbound-ledger", region="ca-central-1")
        OutboundLedgerModel.create_table(billing_mode="PAY_PER_REQUEST", wait=True)
        yield DynamoDbLedger()


def answer(id: str, body: str = "Votre demande est réglée.") -> OutboundMessage:
    return OutboundMessage.create(id=id, identity=IDENTITY, city=6077243, kind="agent", destination="+15145550199",
                                  body=body, enqueued_at=0.0)


class CountingSender:
    def __init__(self) -> None:
        self.sent: list[str] = []

    def send(self, destination, body, *, idempotency_key, context):
        self.sent.append(idempotency_key)
        return type("Result", (), {"message_id": f"sms-{len(self.sent)}"})()


def test_claim_is_granted_once_and_reports_the_state_after(ledger):
    assert ledger.claim("ses-1", IDENTITY).state is LedgerState.NEW
    assert ledger.claim("ses-1", IDENTITY).state is LedgerState.SENDING  # a second claimant does not send
    ledger.mark_sent("ses-1", "sms-9", 2)
    entry = ledger.claim("ses-1", IDENTITY)
    assert (entry.state, entry.sms_message_id) == (LedgerState.SENT, "sms-9")


def test_released_claim_can_be_claimed_again_after_a_throttle(ledger):
    ledger.claim("ses-2", IDENTITY)
    ledger.release("ses-2")
    assert ledger.claim("ses-2", IDENTITY).state is LedgerState.NEW


def test_release_never_undoes_a_recorded_send(ledger):
    ledger.claim("ses-3", IDENTITY)
    ledger.mark_sent("ses-3", "sms-1", 1)
    ledger.release("ses-3")  # a late release (conditional on SENDING) is a no-op
    assert ledger.get("ses-3").state is LedgerState.SENT


def test_in_doubt_message_is_settled_by_its_delivery_event(ledger):
    ledger.claim("ses-4", IDENTITY)
    ledger.mark_in_doubt("ses-4")
    ledger.settle("ses-4", "sms-77")
    assert ledger.get("ses-4").state is LedgerState.SENT
    item = OutboundLedgerModel.get("ses-4")
    assert item.expires_at is not None and item.identity == IDENTITY


def test_redelivery_through_the_dynamodb_ledger_sends_one_sms_even_from_a_new_drainer(ledger):
    # given a message sent by one drainer
    sender = CountingSender()
    first = OutboundScheduler(IDENTITY, 10, sender, ledger, FakeClock())
    first.enqueue(answer("ses-5"))
    first.send_next()
    # when the queue delivers it again to the next drainer
    second = OutboundScheduler(IDENTITY, 10, sender, ledger, FakeClock())
    second.enqueue(answer("ses-5"))
    second.send_next()
    # then one SMS (its one part's key)
    assert sender.sent == ["ses-5#1"]


def test_stuck_sending_record_is_in_doubt_for_the_next_drainer(ledger):
    ledger.claim("ses-6#1", IDENTITY)  # a drainer claimed its part, called the API and died
    failed = []
    sched = OutboundScheduler(IDENTITY, 10, CountingSender(), ledger, FakeClock(),
                              on_failed=lambda m, reason: failed.append(reason))
    sched.enqueue(answer("ses-6"))
    sched.send_next()
    assert failed == [FailureReason.IN_DOUBT] and ledger.get("ses-6#1").state is LedgerState.IN_DOUBT


def test_local_run_drains_an_in_memory_source_in_a_thread_urgent_first():
    # given the local run's sender thread over an in-process queue, at 200 MPS on the real clock
    source = InMemorySource()
    sender = CountingSender()
    sched = OutboundScheduler(IDENTITY, 200, sender, InMemoryLedger(), SystemClock())
    stop = threading.Event()
    for i in range(5):
        source.put(answer(f"a{i}"))
    source.put(OutboundMessage.create(id="stop", identity=IDENTITY, city=None, kind="keyword",
                                      destination="+15145550199", body="Désabonné.", enqueued_at=0.0))
    thread = threading.Thread(target=sched.run, args=(source, stop.is_set), kwargs={"idle_wait": 0.05})
    # when it runs until everything is acknowledged
    thread.start()
    deadline = time.monotonic() + 60  # a ceiling: the poll ends as soon as all six are acknowledged
    while len(source.acked) < 6 and time.monotonic() < deadline:
        time.sleep(0.01)
    stop.set()
    thread.join(timeout=60)
    # then everything went, the STOP confirmation first (all six arrived in one receive)
    assert sender.sent[0] == "stop#1" and sorted(sender.sent[1:]) == [f"a{i}#1" for i in range(5)]
    assert not thread.is_alive()
