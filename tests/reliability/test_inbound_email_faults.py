"""Faults around the inbound_email handler (SES receipt → answer by SMS): throttling and 5xx from
DynamoDB and End User Messaging, a Lambda timeout, a lost answer from End User Messaging, duplicates."""

from __future__ import annotations

import pytest
from harness import sent_mails

from .conftest import AGENT, RESIDENT, city_mails

ANSWER = "Bonjour, une equipe passera demain matin. Merci!"
MESSAGES = "test-messages"


@pytest.fixture
def answered(region):
    """A connected resident whose report reached the city: (region, the city's mail)."""
    region.connect()
    assert region.text("Pothole at 12 rue Laurier") == {"batchItemFailures": []}
    [city_mail] = city_mails()
    return region, city_mail


def texts_of(region, text: str) -> int:
    return sum(text in body for body in region.eum.to(RESIDENT))


@pytest.mark.parametrize(
    ("service", "operation", "table", "code", "status", "times"),
    [
        ("dynamodb", "GetItem", "test-conversations", "ProvisionedThroughputExceededException", 400, 1),
        ("dynamodb", "PutItem", MESSAGES, "InternalServerError", 500, 1),
        ("dynamodb", "PutItem", "test-idempotency", "ThrottlingException", 400, 1),
        ("pinpoint-sms-voice-v2", "SendTextMessage", None, "ThrottlingException", 400, 4),
        ("pinpoint-sms-voice-v2", "SendTextMessage", None, "InternalServerException", 500, 4),
    ],
)
def test_a_failed_call_before_the_sms_fails_the_invocation_and_lambdas_retry_texts_once(
    answered, service, operation, table, code, status, times
):
    region, city_mail = answered
    event = region.answer_event(city_mail, ANSWER)
    region.plan.fail(service, operation, code=code, status=status, table=table, times=times)

    with pytest.raises(Exception):  # noqa: B017 - any error: Lambda retries the asynchronous invocation
        region.invoke_answers(event)
    [outcome] = region.invoke_answers(event)

    assert region.plan.injected[f"{service} {code}"] == times
    assert outcome["sent"] is True
    assert texts_of(region, ANSWER) == 1


def test_a_dynamodb_error_after_the_sms_went_out_is_retried_without_a_second_sms_in_the_same_container(answered):
    region, city_mail = answered
    event = region.answer_event(city_mail, ANSWER)
    region.plan.fail("dynamodb", "UpdateItem", code="InternalServerError", status=500, table=MESSAGES)

    with pytest.raises(Exception):  # noqa: B017
        region.invoke_answers(event)
    [outcome] = region.invoke_answers(event)

    assert region.plan.injected["dynamodb InternalServerError"] == 1
    assert outcome["sent"] is True
    assert texts_of(region, ANSWER) == 1


def test_a_dynamodb_error_after_the_sms_went_out_is_retried_without_a_second_sms_in_a_new_container(answered):
    region, city_mail = answered
    event = region.answer_event(city_mail, ANSWER)
    region.plan.fail("dynamodb", "UpdateItem", code="InternalServerError", status=500, table=MESSAGES)

    with pytest.raises(Exception):  # noqa: B017
        region.invoke_answers(event)
    region.cold_start()
    [outcome] = region.invoke_answers(event)

    assert region.plan.injected["dynamodb InternalServerError"] == 1
    assert outcome["sent"] is True
    assert texts_of(region, ANSWER) == 1


def test_a_timeout_right_after_the_sms_went_out_is_in_doubt_never_sent_again_and_the_agent_is_told(answered):
    # At most once: the part was claimed and never recorded, so nobody knows whether it went out.
    region, city_mail = answered
    event = region.answer_event(city_mail, ANSWER)
    region.plan.time_out_after("pinpoint-sms-voice-v2", "SendTextMessage")

    with pytest.raises(BaseException):  # noqa: B017 - the simulated Lambda timeout
        region.invoke_answers(event)
    region.cold_start()
    [outcome] = region.invoke_answers(event)

    assert outcome["sent"] is False and outcome["reason"] == "in_doubt"
    assert texts_of(region, ANSWER) == 1
    assert any(mail["To"] == AGENT for mail in sent_mails())


def test_an_answer_end_user_messaging_never_confirmed_is_not_sent_again_and_the_agent_is_told(answered):
    region, city_mail = answered
    event = region.answer_event(city_mail, ANSWER)
    region.eum.lose_answers = 1  # accepted, but the response never came back (read timeout)

    [first] = region.invoke_answers(event)
    [again] = region.invoke_answers(event)  # SES or Lambda delivering the same event again

    assert first == again == {"sent": False, "reason": "in_doubt", "conversation_id": None, "parts": 0,
                               "wait_minutes": None}
    assert texts_of(region, ANSWER) == 1  # at most once
    [notice] = [mail for mail in sent_mails() if mail["To"] == AGENT]
    assert "elle a pu parvenir au résident, ou non" in notice.get_content()  # Gatineau's mail is in French


def test_answers_delivered_twice_and_out_of_order_are_each_texted_once(answered):
    region, city_mail = answered
    events = [region.answer_event(city_mail, f"Answer number {n}: the crew is on its way.") for n in range(3)]

    for event in (events[2], events[0], events[2], events[1], events[0]):
        [outcome] = region.invoke_answers(event)
        assert outcome["sent"] is True

    assert [texts_of(region, f"Answer number {n}:") for n in range(3)] == [1, 1, 1]
