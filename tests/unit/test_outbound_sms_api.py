"""The paced scheduler against a real ``pinpoint-sms-voice-v2`` client with botocore's Stubber:
the service's own error shapes, no socket."""

from __future__ import annotations

import boto3
import pytest
from botocore.stub import ANY, Stubber

from text311.outbound import FailureReason, FakeClock, InMemoryLedger, OutboundMessage, OutboundScheduler, SendStatus
from text311.outbound.sms_api import EndUserMessagingApi, no_retry_config

IDENTITY = "+15145550100"


@pytest.fixture
def client():
    sms = boto3.client("pinpoint-sms-voice-v2", region_name="ca-central-1", config=no_retry_config())
    with Stubber(sms) as stubber:
        yield sms, stubber
        stubber.assert_no_pending_responses()


def answer(id: str = "ses-42") -> OutboundMessage:
    return OutboundMessage.create(id=id, identity=IDENTITY, city=6077243, kind="agent", destination="+15145550199",
                                  body="La rue Sainte-Catherine sera déneigée cette nuit.", enqueued_at=0.0,
                                  context={"conversation": "6077243-abcdefghjk"})


def expected(message: OutboundMessage) -> dict:
    return {
        "DestinationPhoneNumber": "+15145550199", "OriginationIdentity": IDENTITY, "MessageBody": message.body,
        "MessageType": "TRANSACTIONAL", "ConfigurationSetName": "text311-sms",
        "Context": {"conversation": "6077243-abcdefghjk", "outbound": f"{message.id}#1"},
    }


def paced(sms, mps: float = 3):
    clock = FakeClock()
    failed = []
    sched = OutboundScheduler(IDENTITY, mps, EndUserMessagingApi(sms, IDENTITY, "text311-sms"), InMemoryLedger(),
                              clock, on_failed=lambda m, reason: failed.append((m.id, reason)))
    return sched, clock, failed


def run(sched, clock):
    results = []
    while sched.queue:
        clock.sleep(sched.pacer.delay(clock.now()))
        results.append(sched.send_next())
    return results


def test_throttled_api_slows_the_pace_without_losing_the_message(client):
    # given End User Messaging answering ThrottlingException twice, then accepting
    sms, stubber = client
    m = answer()
    for _ in range(2):
        stubber.add_client_error("send_text_message", "ThrottlingException", "Rate exceeded", 400,
                                 expected_params=expected(m))
    stubber.add_response("send_text_message", {"MessageId": "sms-1"}, expected(m))
    sched, clock, failed = paced(sms)
    # when the scheduler sends it
    sched.enqueue(m)
    results = run(sched, clock)
    # then it went once, after two slowed-down attempts, and the ledger says sent
    assert [r.status for r in results] == [SendStatus.THROTTLED, SendStatus.THROTTLED, SendStatus.SENT]
    assert sched.pacer.rate < 3 and sched.pacer.throttles == 2
    # the first refusal gave its slot back (no part went), the second in a row kept its slot at the pace the
    # first cut left (3 x 0.75 MPS), so the call that went waited that turn; nothing was lost
    assert results[-1].at >= 1 / (0.75 * 3) - 1e-9
    assert sched.ledger.entries["ses-42#1"].sms_message_id == "sms-1" and failed == []


def test_opted_out_recipient_is_recorded_and_reported_once(client):
    sms, stubber = client
    m = answer("ses-43")
    stubber.add_client_error("send_text_message", "ConflictException", "opted out", 400,
                             expected_params={**expected(m), "Context": ANY},
                             modeled_fields={"Message": "opted out", "Reason": "DESTINATION_PHONE_NUMBER_OPTED_OUT",
                                             "ResourceType": "opt-out-list", "ResourceId": "Default"})
    sched, clock, failed = paced(sms)
    sched.enqueue(m)
    sched.enqueue(m)  # redelivered: no second call (the Stubber would fail on one)
    results = run(sched, clock)
    assert [r.status for r in results] == [SendStatus.FAILED, SendStatus.DUPLICATE]
    assert failed == [("ses-43", FailureReason.OPTED_OUT)]
