"""Inbound SMS: SQS batch of SNS notifications carrying End User Messaging two-way SMS.

Each record is parsed through the exact envelopes (SQS record → SNS notification → two-way
payload) and handed to the core once: Powertools Idempotency keys on ``inboundMessageId``,
so a redelivered text sends no second email and no second SMS. A record that fails is
reported alone (partial batch response) and SQS retries it, then moves it to the DLQ.

Cold start: the pydantic envelope models (Powertools' parser imports every AWS event model at
once) and the core are imported by the first record, not at import (bench/coldstart.py).
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC
from functools import cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from text311 import services
from text311.observability import logger, metrics, tracer

if TYPE_CHECKING:
    from text311.inbound import InboundSms

# Always answer with the partial batch response, even when every record failed: same retries,
# one documented shape.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
idempotency_config = IdempotencyConfig(event_key_jmespath="message_id", expires_after_seconds=7 * 24 * 3600)


def parse_sms(record: SQSRecord) -> InboundSms:
    from aws_lambda_powertools.utilities.parser.models import SnsNotificationModel

    from text311.events import TwoWaySmsPayload
    from text311.inbound import InboundSms

    notification = SnsNotificationModel.model_validate_json(record.body)
    payload = TwoWaySmsPayload.model_validate_json(notification.Message)
    return InboundSms(
        message_id=payload.inboundMessageId,
        origination=payload.originationNumber,
        destination=payload.destinationNumber,
        body=payload.messageBody,
        keyword=payload.messageKeyword,
        received_at=notification.Timestamp.astimezone(UTC),
    )


@cache
def process_once() -> Any:
    persistence = DynamoDBPersistenceLayer(
        table_name=services.settings().idempotency_table, boto3_client=services.clients().dynamodb
    )

    @idempotent_function(
        data_keyword_argument="sms", config=idempotency_config, persistence_store=persistence
    )
    def process(sms: InboundSms) -> dict:
        return asdict(services.inbound_sms_service().handle(sms))

    return process


def handle_record(record: SQSRecord) -> None:
    sms = parse_sms(record)
    logger.append_keys(inbound_message_id=sms.message_id)
    process_once()(sms=sms)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    idempotency_config.register_lambda_context(context)
    return process_partial_response(
        event=event, record_handler=handle_record, processor=processor, context=context
    )
