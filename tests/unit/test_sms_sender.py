"""The End User Messaging sender against a real ``pinpoint-sms-voice-v2`` client and botocore's
Stubber (requests validated against the service model, the service's own error shapes, no socket),
and the recording sender."""

from __future__ import annotations

import logging

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ConnectTimeoutError, ReadTimeoutError
from botocore.stub import Stubber

from text311.adapters.sms_sender import (
    DynamoDBPartLedger,
    EndUserMessagingSender,
    InMemoryPartLedger,
    PermanentSendFailure,
    RecipientOptedOut,
    RecordingSmsSender,
    SendInDoubt,
    SendResult,
    SendThrottled,
    SmsSender,
    TransientSendFailure,
    client_config,
)
from text311.sms import ReplyTooLong, SmsSegmenter

IDENTITY = "+15145550100"
RESIDENT = "+15145550199"
LONG_REPLY = " ".join(f"mot{i:03d}" for i in range(60))  # three GSM-7 parts


@pytest.fixture
def sms():
    client = boto3.client("pinpoint-sms-voice-v2", region_name="ca-central-1", config=client_config())
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def sender(client, sleeps=None, ledger=None, max_attempts=3) -> EndUserMessagingSender:
    return EndUserMessagingSender(
        client,
        IDENTITY,
        "text311-sms",
        SmsSegmenter(),
        max_attempts=max_attempts,
        sleep=sleeps if sleeps is not None else Sleeps(),
        ledger=ledger,
        jitter=lambda: 1.0,
    )


def request(body: str, part: str = "1/1", key: str = "ses-42") -> dict:
    return {
        "DestinationPhoneNumber": RESIDENT,
        "OriginationIdentity": IDENTITY,
        "MessageBody": body,
        "MessageType": "TRANSACTIONAL",
        "ConfigurationSetName": "text311-sms",
        "Context": {"conversation": "6077243-abcdefghjk", "idempotency_key": key, "part": part},
    }


def send(s: EndUserMessagingSender, body: str, key: str = "ses-42") -> SendResult:
    return s.send(RESIDENT, body, idempotency_key=key, context={"conversation": "6077243-abcdefghjk"})


def test_one_part_request_has_the_exact_shape(sms):
    client, stubber = sms
    stubber.add_response(
        "send_text_message", {"MessageId": "m-1"}, request("Votre rue sera déneigée ce soir.")
    )

    result = send(sender(client), "Votre rue sera déneigée ce soir.")

    assert result == SendResult(message_ids=["m-1"], parts=1, encoding="GSM-7")


def test_long_reply_is_sent_as_numbered_parts_in_order(sms):
    client, stubber = sms
    parts = SmsSegmenter().split(LONG_REPLY)
    for number, part in enumerate(parts, 1):
        stubber.add_response("send_text_message", {"MessageId": f"m-{number}"}, request(part, f"{number}/3"))

    result = send(sender(client), LONG_REPLY)

    assert parts[0].startswith("1/3 ") and parts[2].startswith("3/3 ")
    assert result == SendResult(message_ids=["m-1", "m-2", "m-3"], parts=3, encoding="GSM-7")


def test_throttled_part_is_retried_with_growing_backoff(sms):
    client, stubber = sms
    body = "Merci, c'est noté."
    stubber.add_client_error("send_text_message", "ThrottlingException", "Rate exceeded", 400)
    stubber.add_client_error("send_text_message", "ThrottlingException", "Rate exceeded", 400)
    stubber.add_response("send_text_message", {"MessageId": "m-1"}, request(body))
    sleeps = Sleeps()

    result = send(sender(client, sleeps), body)

    assert result.message_ids == ["m-1"]
    assert sleeps == [0.25, 0.5]  # base 0.25 s doubled, jitter pinned at its maximum


def test_internal_server_error_is_retried(sms):
    client, stubber = sms
    stubber.add_client_error("send_text_message", "InternalServerException", "oops", 500)
    stubber.add_response("send_text_message", {"MessageId": "m-1"}, request("Merci."))

    assert send(sender(client), "Merci.").message_ids == ["m-1"]


def test_retries_exhausted_raise_transient_failure_with_the_cause(sms):
    client, stubber = sms
    for _ in range(3):
        stubber.add_client_error("send_text_message", "InternalServerException", "oops", 500)
    sleeps = Sleeps()

    with pytest.raises(TransientSendFailure) as raised:
        send(sender(client, sleeps), "Merci.")

    assert not isinstance(raised.value, SendThrottled)
    assert raised.value.code == "InternalServerException"
    assert raised.value.__cause__.response["Error"]["Code"] == "InternalServerException"
    assert len(sleeps) == 2  # no sleep after the last attempt


def test_throttling_to_the_end_raises_send_throttled(sms):
    client, stubber = sms
    stubber.add_client_error("send_text_message", "ThrottlingException", "Rate exceeded", 400)

    with pytest.raises(SendThrottled):
        send(sender(client, max_attempts=1), "Merci.")


def test_opted_out_conflict_raises_recipient_opted_out(sms):
    client, stubber = sms
    stubber.add_client_error(
        "send_text_message",
        "ConflictException",
        "The destination phone number is opted out",
        400,
        modeled_fields={"Reason": "DESTINATION_PHONE_NUMBER_OPTED_OUT"},
    )
    sleeps = Sleeps()

    with pytest.raises(RecipientOptedOut) as raised:
        send(sender(client, sleeps), "Merci.")

    assert raised.value.reason == "DESTINATION_PHONE_NUMBER_OPTED_OUT"
    assert sleeps == []


def test_validation_error_raises_permanent_failure_without_retry(sms):
    client, stubber = sms
    stubber.add_client_error(
        "send_text_message",
        "ValidationException",
        "Invalid destination",
        400,
        modeled_fields={"Reason": "CANNOT_PARSE"},
    )
    sleeps = Sleeps()

    with pytest.raises(PermanentSendFailure) as raised:
        send(sender(client, sleeps), "Merci.")

    assert not isinstance(raised.value, RecipientOptedOut)
    assert (raised.value.code, raised.value.reason) == ("ValidationException", "CANNOT_PARSE")
    assert sleeps == []


def test_spend_limit_is_permanent_not_retried(sms):
    client, stubber = sms
    stubber.add_client_error(
        "send_text_message",
        "ServiceQuotaExceededException",
        "Monthly spend limit reached",
        402,
        modeled_fields={"Reason": "MONTHLY_SPEND_LIMIT_REACHED_FOR_TEXT"},
    )

    with pytest.raises(PermanentSendFailure) as raised:
        send(sender(client), "Merci.")

    assert raised.value.reason == "MONTHLY_SPEND_LIMIT_REACHED_FOR_TEXT"


def test_resume_after_a_crash_sends_only_the_remaining_parts(sms):
    client, stubber = sms
    parts = SmsSegmenter().split(LONG_REPLY)
    ledger = InMemoryPartLedger()
    stubber.add_response("send_text_message", {"MessageId": "m-1"}, request(parts[0], "1/3"))
    stubber.add_client_error("send_text_message", "ThrottlingException", "Rate exceeded", 400)
    with pytest.raises(SendThrottled) as raised:
        send(sender(client, ledger=ledger, max_attempts=1), LONG_REPLY)
    assert raised.value.message_ids == ["m-1"]

    stubber.add_response("send_text_message", {"MessageId": "m-2"}, request(parts[1], "2/3"))
    stubber.add_response("send_text_message", {"MessageId": "m-3"}, request(parts[2], "3/3"))
    result = send(sender(client, ledger=ledger), LONG_REPLY)

    assert result.message_ids == ["m-1", "m-2", "m-3"]


def test_a_completed_send_is_not_sent_again(sms):
    client, stubber = sms
    ledger = InMemoryPartLedger()
    stubber.add_response("send_text_message", {"MessageId": "m-1"}, request("Merci."))
    send(sender(client, ledger=ledger), "Merci.")

    again = send(sender(client, ledger=ledger), "Merci.")  # the Stubber would fail on a second call

    assert again.message_ids == ["m-1"]


def test_a_part_claimed_and_never_recorded_is_in_doubt_and_never_sent_again(sms):
    client, _ = sms  # the Stubber has no response queued: any SendTextMessage call would fail the test
    ledger = InMemoryPartLedger()
    ledger.claim_part("ses-1", 1)  # the last run stopped between SendTextMessage and its record

    with pytest.raises(SendInDoubt):
        sender(client, ledger=ledger).send("+15145550199", "Merci.", idempotency_key="ses-1")


def test_the_dynamodb_ledger_claims_once_records_and_releases_only_unsent_parts():
    from moto import mock_aws

    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="ca-central-1")
        dynamodb.create_table(
            TableName="idem", KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST",
        )
        ledger = DynamoDBPartLedger(dynamodb, "idem", now=lambda: 1_000.0)

        assert ledger.claim_part("ses-1", 1) is None
        with pytest.raises(SendInDoubt):
            ledger.claim_part("ses-1", 1)  # another container, same part: claimed, not recorded
        ledger.record_part("ses-1", 1, "m-1")
        assert ledger.claim_part("ses-1", 1) == "m-1"
        ledger.release_part("ses-1", 1)  # a recorded part is never released
        assert ledger.claim_part("ses-1", 1) == "m-1"

        assert ledger.claim_part("ses-1", 2) is None
        ledger.release_part("ses-1", 2)  # refused by the service: free to send again
        assert ledger.claim_part("ses-1", 2) is None
        item = dynamodb.get_item(TableName="idem", Key={"id": {"S": "sms-part#ses-1#2"}})["Item"]
        assert item["expiration"] == {"N": str(1_000 + 7 * 24 * 3600)}


def test_read_timeout_is_in_doubt_and_not_retried(sms):
    client, stubber = sms
    sleeps = Sleeps()

    def timeout(**_):
        raise ReadTimeoutError(endpoint_url="https://sms-voice.ca-central-1.amazonaws.com")

    client.send_text_message = timeout  # the Stubber cannot raise transport errors

    with pytest.raises(SendInDoubt):
        send(sender(client, sleeps), "Merci.")
    assert sleeps == []


def test_connect_timeout_is_retried_because_nothing_left():
    calls = []

    class Client:
        def send_text_message(self, **params):
            calls.append(params)
            if len(calls) == 1:
                raise ConnectTimeoutError(endpoint_url="https://sms-voice.ca-central-1.amazonaws.com")
            return {"MessageId": "m-1"}

    assert send(sender(Client()), "Merci.").message_ids == ["m-1"]
    assert len(calls) == 2


def test_reply_too_long_sends_nothing(sms):
    client, _ = sms
    too_long = EndUserMessagingSender(
        client, IDENTITY, "text311-sms", SmsSegmenter(max_parts=2), sleep=Sleeps()
    )

    with pytest.raises(ReplyTooLong):
        too_long.send(RESIDENT, LONG_REPLY, idempotency_key="ses-42")


def test_context_with_too_many_entries_is_refused_before_sending(sms):
    client, _ = sms
    context = {f"k{i}": "v" for i in range(4)}

    with pytest.raises(ValueError):
        sender(client).send(RESIDENT, "Merci.", idempotency_key="ses-42", context=context)


def test_warns_when_the_client_retries_on_its_own(caplog):
    client = boto3.client(
        "pinpoint-sms-voice-v2", region_name="ca-central-1", config=Config(retries={"max_attempts": 1})
    )

    with caplog.at_level(logging.WARNING):
        EndUserMessagingSender(client, IDENTITY)

    assert "total_max_attempts=2" in caplog.text


# --- the recording sender -----------------------------------------------------------------------


def test_recording_sender_records_parts_per_phone():
    recording: SmsSender = RecordingSmsSender()

    result = recording.send(RESIDENT, LONG_REPLY, idempotency_key="ses-42", context={"conversation": "c-1"})

    assert result.parts == 3
    assert [b[:4] for b in recording.to(RESIDENT)] == ["1/3 ", "2/3 ", "3/3 "]
    assert recording.by_phone()[RESIDENT][1].context == {
        "conversation": "c-1",
        "idempotency_key": "ses-42",
        "part": "2/3",
    }


def test_recording_sender_does_not_duplicate_a_retried_send():
    recording = RecordingSmsSender()
    first = recording.send(RESIDENT, "Merci.", idempotency_key="ses-42")

    again = recording.send(RESIDENT, "Merci.", idempotency_key="ses-42")

    assert again.message_ids == first.message_ids
    assert recording.to(RESIDENT) == ["Merci."]


def test_recording_sender_fails_for_opted_out_and_rejected_numbers():
    recording = RecordingSmsSender(opted_out={RESIDENT}, rejected={"+15145550000": "CANNOT_PARSE"})

    with pytest.raises(RecipientOptedOut):
        recording.send(RESIDENT, "Merci.", idempotency_key="a")
    with pytest.raises(PermanentSendFailure) as raised:
        recording.send("+15145550000", "Merci.", idempotency_key="b")
    assert raised.value.reason == "CANNOT_PARSE"
    assert recording.sent == []


def test_recording_sender_throttles_the_next_n_sends():
    recording = RecordingSmsSender()
    recording.throttle(2)

    for _ in range(2):
        with pytest.raises(SendThrottled):
            recording.send(RESIDENT, "Merci.", idempotency_key="a")
    recording.send(RESIDENT, "Merci.", idempotency_key="a")

    assert recording.to(RESIDENT) == ["Merci."]
