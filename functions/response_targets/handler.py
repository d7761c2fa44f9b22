"""First-response targets: an EventBridge schedule runs this every few minutes; each city with a target
gets one mail per conversation that has waited beyond it (text311.response_targets). Safe to run twice
or at once: each breach is claimed by a conditional write before its mail."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent
from aws_lambda_powertools.utilities.typing import LambdaContext

from text311 import services
from text311.observability import logger, metrics, tracer

if TYPE_CHECKING:
    from text311.response_targets import ResponseTargetCheck


@cache
def response_target_check() -> ResponseTargetCheck:
    """The check with the region's SES and tables. Built here: the check is this function's only service."""
    from text311.adapters.ses_mailer import SesMailer
    from text311.i18n import catalog
    from text311.mail import build_thread_notice
    from text311.response_targets import ResponseTargetCheck

    s = services.tables_bound()
    mailer = SesMailer(services.clients().sesv2, s.ses_configuration_set)

    def notify(conversation: Any, to: tuple[str, ...], text: str) -> None:
        mailer.send(
            build_thread_notice(
                sender=s.sender_address,
                to=to,
                cc=(),
                subject=conversation.subject,
                in_reply_to=conversation.last_message_id,
                references=tuple(conversation.references or ()),
                text=text,
            )
        )

    return ResponseTargetCheck(
        subscribers=services.subscribers(),
        notify=notify,
        console_url=s.console_url,
        overdue_text=lambda language, values: catalog().agent_notice(language, "overdue", **values),
    )


def scheduled_at(event: dict) -> datetime:
    """The schedule's own time: a retried delivery of one tick checks the same instant."""
    return datetime.fromisoformat(EventBridgeEvent(event).time.replace("Z", "+00:00")).astimezone(UTC)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return {"mailed": response_target_check().run(scheduled_at(event))}
