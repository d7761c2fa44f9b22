"""SES sending events: SQS batch of SNS notifications from the email configuration set's event
destination. A ``Send`` event for a resident text's mail is noted on its conversation, so a
redelivered text that SES already mailed is recorded instead of mailed twice
(text311.mail_confirmations). Idempotent by nature (a set ADD), so no idempotency table."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from text311 import services
from text311.observability import logger, metrics, tracer

if TYPE_CHECKING:
    from text311.mail_confirmations import SendEvent

processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


def parse_event(record: SQSRecord) -> SendEvent:
    # Imported by the first record, not at cold start: the pydantic models (bench/coldstart.py).
    from aws_lambda_powertools.utilities.parser.models import SnsNotificationModel

    from text311.events import SesSendingEvent
    from text311.mail_confirmations import SendEvent

    notification = SnsNotificationModel.model_validate_json(record.body)
    payload = SesSendingEvent.model_validate_json(notification.Message)
    return SendEvent(event_type=payload.eventType, ses_message_id=payload.mail.messageId, tags=payload.mail.tags)


def handle_record(record: SQSRecord) -> None:
    services.mail_confirmations().record(parse_event(record))


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return process_partial_response(event=event, record_handler=handle_record, processor=processor, context=context)
