"""AWS events, built from the documented samples in ``tests/events`` (sources in SOURCES.md there).

The same samples the unit tests build their events from: the handlers see here exactly the shapes
Lambda hands them in AWS (SQS record → SNS notification → payload; SES receipt; SMS event).
"""

from __future__ import annotations

import copy
import hashlib
import json
import uuid
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import getaddresses
from functools import cache
from typing import Any
from urllib.parse import parse_qs

from localrun import ROOT

SAMPLES = ROOT / "tests" / "events"
ACCOUNT = "123456789012"


@cache
def _sample(name: str) -> str:
    return (SAMPLES / name).read_text(encoding="utf-8")


def sample(name: str) -> Any:
    return json.loads(_sample(name))


def iso_ms(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def two_way_sms(*, body: str, origination: str, destination: str, message_id: str,
                keyword: str | None = None) -> dict[str, Any]:
    """End User Messaging's two-way payload (published to SNS as the Message string); ``keyword``:
    the number's keyword the text began with, if any."""
    payload = sample("two_way_sms.json")
    payload.update(originationNumber=origination, destinationNumber=destination, messageBody=body,
                   messageKeyword=keyword, inboundMessageId=message_id)
    payload.pop("previousPublishedMessageId", None)  # only present when AWS republishes
    return payload


def sns_notification(message: str, topic_arn: str, at: datetime | None = None) -> dict[str, Any]:
    note = sample("sns_notification.json")
    note.pop("Subject")  # End User Messaging publishes without a subject
    region = topic_arn.split(":")[3]
    note.update(Message=message, MessageId=str(uuid.uuid4()), TopicArn=topic_arn,
                Timestamp=iso_ms(at or datetime.now(UTC)),
                SigningCertURL=note["SigningCertURL"].replace("us-west-2", region),
                UnsubscribeURL=f"https://sns.{region}.amazonaws.com/?Action=Unsubscribe"
                               f"&SubscriptionArn={topic_arn}:{uuid.uuid4()}")
    return note


def sqs_record(*, message_id: str, body: str, queue_arn: str, receive_count: int, sent_at_ms: int,
               first_receive_ms: int) -> dict[str, Any]:
    """One record of an SQS event source batch; the same message keeps its id across receives."""
    record = copy.deepcopy(sample("sqs_event.json")["Records"][0])
    record.update(messageId=message_id, receiptHandle=uuid.uuid4().hex, body=body,
                  md5OfBody=hashlib.md5(body.encode()).hexdigest(), eventSourceARN=queue_arn,
                  awsRegion=queue_arn.split(":")[3])
    record["attributes"].update(ApproximateReceiveCount=str(receive_count), SentTimestamp=str(sent_at_ms),
                                ApproximateFirstReceiveTimestamp=str(first_receive_ms))
    return record


def sms_event(*, message_id: str, status: str, final: bool, origination: str, destination: str,
              context: dict[str, str] | None, parts: int, encoding: str, requested_ms: int) -> dict[str, Any]:
    """One SMS event as a configuration set's event destination publishes it."""
    now_ms = int(datetime.now(UTC).timestamp() * 1000)
    payload = sample("sms_delivery_event.json")
    payload.update(eventType=f"TEXT_{status}", eventTimestamp=now_ms, isFinal=final, messageId=message_id,
                   messageStatus=status, messageStatusDescription=_DESCRIPTIONS.get(status, status.lower()),
                   originationPhoneNumber=origination, destinationPhoneNumber=destination,
                   messageRequestTimestamp=requested_ms, messageType="TRANSACTIONAL", messageEncoding=encoding,
                   context=dict(context or {}), totalMessageParts=parts, totalMessagePrice=0.0,
                   isInternationalSend=False)
    return payload


_DESCRIPTIONS = {
    "SUCCESSFUL": "Message has been accepted by phone carrier",
    "DELIVERED": "Message has been accepted by phone",
}


def ses_receipt(*, message_id: str, message: EmailMessage, recipients: list[str], envelope_to: list[str],
                mail_from: str, verdicts: dict[str, str], function_arn: str,
                at: datetime | None = None) -> dict[str, Any]:
    """The SES receipt rule's Lambda-action event for one received message (the message itself is
    in S3: SES puts no body in the event)."""
    at = at or datetime.now(UTC)
    event = sample("ses_receipt_lambda.json")
    ses = event["Records"][0]["ses"]
    mail, receipt = ses["mail"], ses["receipt"]
    headers = [{"name": name, "value": str(value).strip()} for name, value in message.items()]
    mail.update(timestamp=iso_ms(at), source=mail_from, messageId=message_id, destination=list(envelope_to),
                headers=[{"name": "Return-Path", "value": f"<{mail_from}>"}, *headers], headersTruncated=False)
    common = {
        "returnPath": mail_from,
        "from": message.get_all("From", []),
        "to": [str(v) for v in message.get_all("To", [])],
        "subject": str(message.get("Subject", "")).strip(),
        "messageId": str(message.get("Message-ID", "")),
    }
    if message.get("Date"):
        common["date"] = str(message["Date"])
    mail["commonHeaders"] = {k: ([str(x) for x in v] if isinstance(v, list) else v) for k, v in common.items()}
    receipt.update(timestamp=iso_ms(at), recipients=list(recipients), processingTimeMillis=12)
    for name, status in verdicts.items():
        receipt[f"{name}Verdict"] = {"status": status}
    receipt["action"]["functionArn"] = function_arn
    return event


def addresses(message: EmailMessage, *headers: str) -> list[str]:
    values: list[str] = []
    for header in headers:
        values += [str(v) for v in message.get_all(header, [])]
    return [addr for _, addr in getaddresses(values) if "@" in addr]


def http_api_request(*, method: str, path: str, query: str, headers: dict[str, str], body: str | None) -> dict:
    """An HTTP API (payload 2.0) request as API Gateway passes it to the console function."""
    event = sample("apigw_http_v2.json")
    event.update(routeKey="$default", rawPath=path, rawQueryString=query, cookies=[], headers=headers,
                 queryStringParameters={k: ",".join(v) for k, v in parse_qs(query).items()} or None,
                 body=body, pathParameters=None, stageVariables=None, isBase64Encoded=False)
    del event["requestContext"]["authorizer"]  # locally the session is verified by the function itself
    event["requestContext"]["http"].update(method=method, path=path)
    event["requestContext"]["requestId"] = str(uuid.uuid4())
    return event
