"""Inbound email: SES received an agent's answer, stored it in S3, and invokes us (asynchronously).

The receipt event carries SES's verdicts but not the message; the core checks the verdicts,
reads the message from S3 and sends the answer by SMS. Idempotent on SES's message id: SES or
Lambda delivering the same mail twice sends one SMS. Failures raise, so Lambda retries and then
parks the event on the function's on-failure destination.
"""

from __future__ import annotations

from dataclasses import asdict
from functools import cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from text311 import services
from text311.observability import logger, metrics, tracer

if TYPE_CHECKING:
    from text311.answers import ReceivedMail
    from text311.events import SesRecord

idempotency_config = IdempotencyConfig(
    event_key_jmespath="ses_message_id", expires_after_seconds=7 * 24 * 3600
)


def received_mail(record: SesRecord) -> ReceivedMail:
    from text311.answers import ReceivedMail

    mail, receipt = record.ses.mail, record.ses.receipt
    settings = services.settings()
    return ReceivedMail(
        ses_message_id=mail.messageId,
        recipients=tuple(receipt.recipients),
        header_from=tuple(mail.commonHeaders.header_from),
        return_path=mail.commonHeaders.returnPath,
        spf=receipt.spfVerdict.status,
        dkim=receipt.dkimVerdict.status,
        dmarc=receipt.dmarcVerdict.status,
        spam=receipt.spamVerdict.status,
        virus=receipt.virusVerdict.status,
        received_at=receipt.timestamp,
        bucket=settings.raw_mail_bucket,
        object_key=f"{settings.raw_mail_prefix}{mail.messageId}",
    )


@cache
def process_once() -> Any:
    persistence = DynamoDBPersistenceLayer(
        table_name=services.settings().idempotency_table, boto3_client=services.clients().dynamodb
    )

    @idempotent_function(
        data_keyword_argument="mail", config=idempotency_config, persistence_store=persistence
    )
    def process(mail: ReceivedMail) -> dict:
        return asdict(services.answer_service().handle(mail))

    return process


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict, context: LambdaContext) -> list[dict]:
    # Imported by the first event, not at cold start: the pydantic models (bench/coldstart.py).
    from aws_lambda_powertools.utilities.parser import parse

    from text311.events import SesReceiptEvent

    idempotency_config.register_lambda_context(context)
    outcomes = []
    for record in parse(event=event, model=SesReceiptEvent).Records:
        logger.append_keys(ses_message_id=record.ses.mail.messageId)
        outcomes.append(process_once()(mail=received_mail(record)))
    return outcomes
