"""Build AWS events from the documented samples in tests/events (see SOURCES.md there)."""

from __future__ import annotations

import copy
import hashlib
import json
import uuid
from datetime import UTC, datetime
from pathlib import Path

EVENTS = Path(__file__).parent / "events"


def sample(name: str) -> dict:
    return json.loads((EVENTS / name).read_text())


def two_way_sms(body: str, origination: str, destination: str, message_id: str | None = None,
                keyword: str | None = None) -> dict:
    payload = sample("two_way_sms.json")
    payload.update(
        originationNumber=origination,
        destinationNumber=destination,
        messageBody=body,
        messageKeyword=keyword,
        inboundMessageId=message_id or str(uuid.uuid4()),
    )
    return payload


def sns_notification(message: str, topic_arn: str, at: datetime | None = None) -> dict:
    note = sample("sns_notification.json")
    note.pop("Subject")  # End User Messaging publishes without a subject
    note.update(
        Message=message,
        MessageId=str(uuid.uuid4()),
        TopicArn=topic_arn,
        Timestamp=(at or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
    )
    return note


def sqs_record(body: str, queue_arn: str, receive_count: int = 1) -> dict:
    record = copy.deepcopy(sample("sqs_event.json")["Records"][0])
    record.update(
        messageId=str(uuid.uuid4()),
        body=body,
        md5OfBody=hashlib.md5(body.encode()).hexdigest(),
        eventSourceARN=queue_arn,
        awsRegion=queue_arn.split(":")[3],
    )
    record["attributes"]["ApproximateReceiveCount"] = str(receive_count)
    return record


TOPIC = "arn:aws:sns:ca-central-1:123456789012:text311-inbound-sms"
QUEUE = "arn:aws:sqs:ca-central-1:123456789012:text311-inbound-sms"


def inbound_sms_event(*payloads: dict, at: datetime | None = None) -> dict:
    """An SQS batch, one record per two-way SMS, each wrapped in its SNS notification."""
    return {
        "Records": [
            sqs_record(json.dumps(sns_notification(json.dumps(p), TOPIC, at)), QUEUE) for p in payloads
        ]
    }


def ses_receipt(*, message_id: str, recipient: str, sender: str, subject: str = "Re: test",
                verdicts: dict[str, str] | None = None, return_path: str | None = None) -> dict:
    """The SES Lambda-action event for one received message, from the documented sample."""
    event = sample("ses_receipt_lambda.json")
    ses = event["Records"][0]["ses"]
    mail, receipt = ses["mail"], ses["receipt"]
    mail.update(messageId=message_id, destination=[recipient], source=return_path or sender)
    mail["commonHeaders"].update(**{"from": [sender], "to": [recipient], "subject": subject,
                                    "returnPath": return_path or sender})
    receipt["recipients"] = [recipient]
    for name, status in {"spf": "PASS", "dkim": "PASS", "dmarc": "PASS", "spam": "PASS", "virus": "PASS",
                         **(verdicts or {})}.items():
        receipt[f"{name}Verdict"] = {"status": status}
    receipt["action"]["functionArn"] = "arn:aws:lambda:ca-central-1:123456789012:function:inbound-email"
    return event


def sms_delivery_event(message_id: str, status: str, *, final: bool, context: dict[str, str],
                       description: str = "") -> dict:
    """An SQS batch with one SMS event from the configuration set's SNS destination."""
    payload = sample("sms_delivery_event.json")
    payload.update(messageId=message_id, messageStatus=status, isFinal=final, context=context,
                   eventType=f"TEXT_{status}", messageStatusDescription=description or status.lower())
    topic = "arn:aws:sns:ca-central-1:123456789012:text311-sms-events"
    body = json.dumps(sns_notification(json.dumps(payload), topic))
    return {"Records": [sqs_record(body, "arn:aws:sqs:ca-central-1:123456789012:text311-sms-events")]}


def ses_sending_event(ses_message_id: str, tags: dict[str, str], *, event_type: str = "Send") -> dict:
    """What SES publishes for one mail sent with our configuration set and ``tags`` (the sample's
    own custom tags replaced by ours; SES's ``ses:*`` tags kept)."""
    payload = sample("ses_send_event.json")
    payload["eventType"] = event_type
    payload["mail"]["messageId"] = ses_message_id
    own = {name: values for name, values in payload["mail"]["tags"].items() if name.startswith("ses:")}
    payload["mail"]["tags"] = own | {name: [value] for name, value in tags.items()}
    return payload


def mail_events_batch(*payloads: dict) -> dict:
    """An SQS batch of SES sending events, each wrapped in its SNS notification."""
    topic = "arn:aws:sns:ca-central-1:123456789012:text311-email-events"
    queue = "arn:aws:sqs:ca-central-1:123456789012:text311-email-events"
    return {"Records": [sqs_record(json.dumps(sns_notification(json.dumps(p), topic)), queue) for p in payloads]}


def http_api_request(method: str, path: str, *, claims: dict[str, str] | None, body: dict | None = None,
                     query: dict[str, str] | None = None, headers: dict[str, str] | None = None) -> dict:
    """An HTTP API (payload 2.0) request as the JWT authorizer passes it on; claims=None: no authorizer."""
    event = sample("apigw_http_v2.json")
    event.update(
        routeKey="$default", rawPath=path, rawQueryString="&".join(f"{k}={v}" for k, v in (query or {}).items()),
        queryStringParameters=query or None, cookies=[],
        headers={"content-type": "application/json", **(headers or {})},
        body=json.dumps(body) if body is not None else None, pathParameters=None, stageVariables=None,
    )
    event["requestContext"]["http"].update(method=method, path=path)
    event["requestContext"]["requestId"] = str(uuid.uuid4())
    if claims is None:
        del event["requestContext"]["authorizer"]
    else:
        event["requestContext"]["authorizer"]["jwt"]["claims"] = claims
    return event
