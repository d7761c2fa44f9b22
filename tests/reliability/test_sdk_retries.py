"""One transient 5xx at the HTTP layer, under botocore's retry loop. DynamoDB: the SDK retries it
(standard mode, as ``text311.services`` and pynamodb configure their clients) and the application
never sees it, even on the write that follows SES SendEmail. SES SendEmail: never retried by the
SDK (it has no idempotency token); the text goes back to SQS, and SES's Send event decides on the
redelivery whether it is mailed or only recorded. One mail either way."""

from __future__ import annotations

import json
import types

import botocore.endpoint
from botocore.awsrequest import AWSResponse

from .conftest import failed_ids, mails_containing, sms_record

REPORT = "Streetlight out at the corner of Main and Elm"


class _Body:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def stream(self, **_):
        yield self.data


class _WithoutBeforeSend:
    """The endpoint's event emitter minus ``before-send``: moto (a before-send handler) never sees it."""

    def __init__(self, emitter) -> None:
        self.emitter = emitter

    def emit(self, event_name, **kwargs):
        return [] if event_name.startswith("before-send.") else self.emitter.emit(event_name, **kwargs)


def fail_once_at_http(monkeypatch, service: str, operation: str, status: int, body: dict,
                      headers: dict | None = None, *, after_the_service_acted: bool = False) -> list[int]:
    """The next ``service.operation`` request gets ``status`` from the network, without reaching the
    service (moto), or ``after_the_service_acted`` (the answer was lost on the way back); botocore parses
    it and decides on a retry as it would. Returns the status of every HTTP attempt for that operation."""
    original = botocore.endpoint.Endpoint._do_get_response
    statuses: list[int] = []

    def do_get_response(endpoint, request, operation_model, context):
        if (operation_model.service_model.service_id.hyphenize(), operation_model.name) != (service, operation):
            return original(endpoint, request, operation_model, context)
        if statuses:
            statuses.append(200)
            return original(endpoint, request, operation_model, context)
        statuses.append(status)
        if after_the_service_acted:
            original(endpoint, request, operation_model, context)
        emitter = endpoint._event_emitter
        endpoint._event_emitter = _WithoutBeforeSend(emitter)
        endpoint._send = lambda _request: AWSResponse(request.url, status, headers or {},
                                                      _Body(json.dumps(body).encode()))
        try:
            return original(endpoint, request, operation_model, context)
        finally:
            endpoint._event_emitter = emitter
            del endpoint._send

    monkeypatch.setattr(botocore.endpoint.Endpoint, "_do_get_response", do_get_response)
    return statuses


def no_backoff_sleep(monkeypatch) -> list[float]:
    slept: list[float] = []
    monkeypatch.setattr(botocore.endpoint, "time", types.SimpleNamespace(sleep=slept.append))
    return slept


def test_a_503_from_ses_is_not_retried_by_the_sdk_and_the_redelivered_text_is_mailed_once(region, monkeypatch):
    region.connect()
    slept = no_backoff_sleep(monkeypatch)
    attempts = fail_once_at_http(monkeypatch, "sesv2", "SendEmail", 503, {"message": "Service Unavailable"},
                                 {"x-amzn-ErrorType": "ServiceUnavailable"})
    record = sms_record(REPORT)

    assert failed_ids(region.deliver(record)) == [record["messageId"]]  # in doubt: back to SQS
    assert attempts == [503] and slept == []  # SendEmail has no idempotency token: never resent by the SDK
    assert region.deliver(record) == {"batchItemFailures": []}  # no Send event came: SES took nothing

    assert attempts == [503, 200]
    assert mails_containing(REPORT) == 1


def test_a_single_500_on_the_write_after_the_mail_is_retried_by_the_sdk_and_the_text_is_mailed_once(
    region, monkeypatch
):
    region.connect()
    slept = no_backoff_sleep(monkeypatch)
    attempts = fail_once_at_http(monkeypatch, "dynamodb", "TransactWriteItems", 500,
                                 {"__type": "com.amazonaws.dynamodb.v20120810#InternalServerError",
                                  "message": "Internal server error"})

    assert region.text(REPORT) == {"batchItemFailures": []}

    assert attempts == [500, 200] and len(slept) == 1
    assert mails_containing(REPORT) == 1


def test_a_503_after_ses_accepted_the_mail_sends_no_second_mail(region, monkeypatch):
    region.connect()
    attempts = fail_once_at_http(monkeypatch, "sesv2", "SendEmail", 503, {"message": "Service Unavailable"},
                                 {"x-amzn-ErrorType": "ServiceUnavailable"}, after_the_service_acted=True)
    record = sms_record(REPORT)

    assert failed_ids(region.deliver(record)) == [record["messageId"]]
    assert region.deliver(record) == {"batchItemFailures": []}  # SES's Send event was noted first

    assert attempts == [503]  # the redelivery recorded SES's mail and sent nothing
    assert mails_containing(REPORT) == 1
