"""Faults around the inbound_sms handler: throttling and 5xx from DynamoDB, SES and End User Messaging,
a Lambda timeout in the middle of a batch, duplicate and out-of-order deliveries."""

from __future__ import annotations

import pytest
from harness import GATINEAU, sent_mails

from text311.adapters.dynamodb import ConversationModel

from .conftest import RESIDENT, failed_ids, mails_containing, sms_record
from .simulation import SimulatedLambdaTimeout

IDEMPOTENCY = "test-idempotency"
CONVERSATIONS = "test-conversations"
REPORT = "Pothole at 12 rue Laurier, deep enough to break a wheel"


@pytest.mark.parametrize(
    ("service", "operation", "table", "code", "status"),
    [
        ("dynamodb", "BatchGetItem", None, "ProvisionedThroughputExceededException", 400),  # resident + flood count
        ("dynamodb", "PutItem", CONVERSATIONS, "InternalServerError", 500),
        ("dynamodb", "PutItem", IDEMPOTENCY, "ThrottlingException", 400),
        ("sesv2", "SendEmail", None, "ServiceUnavailable", 503),
    ],
)
def test_a_failed_call_before_the_mail_reports_the_record_and_its_redelivery_mails_once(
    region, service, operation, table, code, status
):
    region.connect()
    record = sms_record(REPORT)
    region.plan.fail(service, operation, code=code, status=status, table=table)

    first = region.deliver(record)
    second = region.deliver(record)  # SQS gives the reported record back

    assert failed_ids(first) == [record["messageId"]]
    assert region.plan.injected[f"{service} {code}"] == 1
    assert second == {"batchItemFailures": []}
    assert mails_containing(REPORT) == 1


def test_ses_throttling_is_retried_in_place_because_ses_took_nothing(region):
    region.connect()
    record = sms_record(REPORT)
    region.plan.fail("sesv2", "SendEmail", code="TooManyRequestsException", status=429, times=2)

    assert region.deliver(record) == {"batchItemFailures": []}

    assert region.plan.injected["sesv2 TooManyRequestsException"] == 2
    assert mails_containing(REPORT) == 1


def test_a_failing_record_is_reported_alone_and_the_rest_of_its_batch_is_mailed(region):
    region.connect()
    records = [sms_record(f"report number {n}: broken bench") for n in range(4)]
    region.plan.fail("sesv2", "SendEmail", code="ServiceUnavailable", status=503, skip=1)

    response = region.deliver(*records)

    assert failed_ids(response) == [records[1]["messageId"]]
    assert [mails_containing(f"report number {n}:") for n in range(4)] == [1, 0, 1, 1]


def test_end_user_messaging_throttling_on_a_reply_is_retried_by_the_sender_and_sent_once(region):
    region.plan.fail("pinpoint-sms-voice-v2", "SendTextMessage", code="ThrottlingException", status=400, times=2)
    region.plan.fail("pinpoint-sms-voice-v2", "SendTextMessage", code="InternalServerException", status=500)

    assert region.text("Gatineau") == {"batchItemFailures": []}

    [reply] = region.eum.to(RESIDENT)
    assert "Gatineau" in reply
    assert len(region.eum.backoff) == 3  # three backoffs, four calls, one SMS


def test_end_user_messaging_down_loses_only_the_reply_and_the_resident_stays_connected(region):
    region.plan.fail("pinpoint-sms-voice-v2", "SendTextMessage", code="InternalServerException", status=500,
                     times=4)

    assert region.text("Gatineau") == {"batchItemFailures": []}
    assert region.text(REPORT) == {"batchItemFailures": []}

    assert region.eum.to(RESIDENT) == []  # the connected reply is lost, by design: the turn is not re-run
    assert mails_containing(REPORT) == 1


def test_a_timeout_between_two_records_redelivers_the_batch_and_each_text_is_mailed_once(region):
    region.connect()
    records = [sms_record(f"report number {n}: graffiti on the wall") for n in range(4)]
    # The second record's completion is recorded, then the invocation is out of time.
    region.plan.time_out_after("dynamodb", "UpdateItem", table=IDEMPOTENCY, skip=1)

    with pytest.raises(SimulatedLambdaTimeout):
        region.deliver(*records)
    assert [mails_containing(f"report number {n}:") for n in range(4)] == [1, 1, 0, 0]
    again = region.deliver(*records)  # no response: SQS gives the whole batch back

    assert again == {"batchItemFailures": []}
    assert [mails_containing(f"report number {n}:") for n in range(4)] == [1, 1, 1, 1]


def test_a_timeout_before_the_mail_went_out_mails_once_on_redelivery(region):
    region.connect()
    record = sms_record(REPORT)
    region.plan.time_out_after("dynamodb", "PutItem", table=CONVERSATIONS)  # thread opened, nothing mailed

    with pytest.raises(SimulatedLambdaTimeout):
        region.deliver(record)
    assert region.deliver(record) == {"batchItemFailures": []}

    assert mails_containing(REPORT) == 1


def test_a_timeout_right_after_the_mail_went_out_sends_no_second_mail_on_redelivery(region):
    region.connect()
    record = sms_record(REPORT)
    region.plan.time_out_after("sesv2", "SendEmail")

    with pytest.raises(SimulatedLambdaTimeout):
        region.deliver(record)
    assert region.deliver(record) == {"batchItemFailures": []}  # SES's Send event was noted first

    assert mails_containing(REPORT) == 1
    [conversation] = list(ConversationModel.query(GATINEAU.geonameid))
    assert conversation.message_count == 1 and conversation.mail_confirmed is None


def test_a_timeout_after_the_mail_whose_send_event_is_late_mails_it_again_never_loses_it(region):
    region.connect()
    record = sms_record(REPORT)
    region.plan.time_out_after("sesv2", "SendEmail")

    with pytest.raises(SimulatedLambdaTimeout):
        region.deliver(record)
    region.deliver(record, ses_events_first=False)  # the Send event is slower than SQS's redelivery

    assert mails_containing(REPORT) == 2  # the window left (docs/observability.md): at least once
    region.publish_ses_events()  # the late event finds the text recorded and changes nothing
    [conversation] = list(ConversationModel.query(GATINEAU.geonameid))
    assert conversation.mail_confirmed is None


def test_a_dynamodb_error_after_the_mail_went_out_is_retried_in_place_and_mails_once(region):
    region.connect()
    record = sms_record(REPORT)
    region.plan.fail("dynamodb", "TransactWriteItems", code="ProvisionedThroughputExceededException", status=400,
                     times=3)

    first = region.deliver(record)
    second = region.deliver(record)

    assert region.plan.injected["dynamodb ProvisionedThroughputExceededException"] == 3
    assert first == second == {"batchItemFailures": []}
    assert mails_containing(REPORT) == 1


def test_a_held_text_is_mailed_once_when_its_completion_could_not_be_recorded(region):
    record = sms_record(REPORT)  # a first text: held while the resident is asked for the city
    # skip=1: the first UpdateItem on that table records the reply SMS's part; the next is Powertools'
    # completion, which fails.
    region.plan.fail("dynamodb", "UpdateItem", code="InternalServerError", status=500, table=IDEMPOTENCY, skip=1)

    first = region.deliver(record)
    second = region.deliver(record)
    region.connect()

    assert failed_ids(first) == [record["messageId"]] and second == {"batchItemFailures": []}
    assert mails_containing(REPORT) == 1


def test_the_city_name_is_not_mailed_to_the_city_when_its_completion_could_not_be_recorded(region):
    record = sms_record("Gatineau")
    region.plan.fail("dynamodb", "UpdateItem", code="ThrottlingException", status=400, table=IDEMPOTENCY, skip=1)

    first = region.deliver(record)
    second = region.deliver(record)

    assert failed_ids(first) == [record["messageId"]] and second == {"batchItemFailures": []}
    assert sent_mails() == []


def test_the_same_text_delivered_twice_in_one_batch_and_again_later_is_mailed_once(region):
    region.connect()
    record = sms_record(REPORT)
    sns_duplicate = {**record, "messageId": "another-sqs-message"}  # SNS delivered the notification twice

    assert region.deliver(record, sns_duplicate) == {"batchItemFailures": []}
    assert region.deliver(record) == {"batchItemFailures": []}

    assert mails_containing(REPORT) == 1


def test_texts_that_arrive_before_the_city_name_are_each_mailed_once_when_it_arrives(region):
    reports = [sms_record(f"report number {n}: tree down on the path") for n in range(3)]
    city = sms_record("Gatineau")

    assert region.deliver(reports[2], reports[0]) == {"batchItemFailures": []}
    assert region.deliver(city, reports[0], reports[1]) == {"batchItemFailures": []}  # a duplicate among them
    assert region.deliver(reports[2], city) == {"batchItemFailures": []}

    assert [mails_containing(f"report number {n}:") for n in range(3)] == [1, 1, 1]
    assert len(sent_mails()) == 3
