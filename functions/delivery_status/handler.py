"""SMS delivery events: SQS batch of SNS notifications from the SMS configuration set's event
destination. Each event updates its message's status; a final failure is reported to the agent.
Events are idempotent by nature (a final status is never overwritten), so no idempotency table."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from text311 import services
from text311.observability import logger, metrics, tracer

if TYPE_CHECKING:
    from text311.delivery import SmsEvent

processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


def parse_event(record: SQSRecord) -> SmsEvent:
    # Imported by the first record, not at cold start: the pydantic models (bench/coldstart.py).
    from aws_lambda_powertools.utilities.parser.models import SnsNotificationModel

    from text311.delivery import SmsEvent
    from text311.events import SmsEventPayload

    notification = SnsNotificationModel.model_validate_json(record.body)
    payload = SmsEventPayload.model_validate_json(notification.Message)
    return SmsEvent(
        sms_message_id=payload.messageId,
        status=payload.messageStatus,
        description=payload.messageStatusDescription,
        final=payload.isFinal,
        conversation_id=payload.context.get("conversation"),
        message_key=payload.context.get("message"),
        idempotency_key=payload.context.get("idempotency_key"),
    )


def handle_record(record: SQSRecord) -> None:
    services.delivery_status_service().record(parse_event(record))


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return process_partial_response(event=event, record_handler=handle_record, processor=processor, context=context)
