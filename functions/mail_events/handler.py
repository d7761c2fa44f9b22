"""SES sending events: SQS batch of SNS notifications from the email configuration set's event
destination. A ``Send`` event for a resident text's mail is noted on its conversation, so a
redelivered text that SES already mailed is recorded instead of mailed twice
(text311.mail_confirmations); ``Bounce``, ``Complaint``, ``DeliveryDelay`` and ``Delivery`` set what
became of the mail on the text, and a permanent bounce tells the resident once to call 311
(text311.mail_feedback). Idempotent by nature (a set ADD, a conditional status, an SMS id per
conversation), so no idempotency table."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from text311 import services
from text311.observability import logger, metrics, tracer

if TYPE_CHECKING:
    from text311.mail_confirmations import SendEvent
    from text311.mail_feedback import FeedbackEvent

processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


def parse_event(record: SQSRecord) -> SendEvent | FeedbackEvent:
    # Imported by the first record, not at cold start: the pydantic models (bench/coldstart.py).
    from aws_lambda_powertools.utilities.parser.models import SnsNotificationModel

    from text311.events import SesSendingEvent
    from text311.mail_confirmations import SendEvent
    from text311.mail_feedback import FEEDBACK_TYPES, FeedbackEvent

    notification = SnsNotificationModel.model_validate_json(record.body)
    payload = SesSendingEvent.model_validate_json(notification.Message)
    mail = payload.mail
    if payload.eventType not in FEEDBACK_TYPES:
        return SendEvent(event_type=payload.eventType, ses_message_id=mail.messageId, tags=mail.tags)
    bounce, complaint, delay = payload.bounce, payload.complaint, payload.deliveryDelay
    recipients = (bounce.bouncedRecipients if bounce else complaint.complainedRecipients if complaint
                  else delay.delayedRecipients if delay else [])
    return FeedbackEvent(
        event_type=payload.eventType, ses_message_id=mail.messageId, tags=mail.tags,
        bounce_type=bounce.bounceType if bounce else "", bounce_sub_type=bounce.bounceSubType if bounce else "",
        recipients=tuple(r.emailAddress for r in recipients), destination=tuple(mail.destination),
    )


def handle_record(record: SQSRecord) -> None:
    from text311.mail_confirmations import SendEvent

    event = parse_event(record)
    if isinstance(event, SendEvent):
        services.mail_confirmations().record(event)
    else:
        services.mail_feedback().record(event)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return process_partial_response(event=event, record_handler=handle_record, processor=processor, context=context)
