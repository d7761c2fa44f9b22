"""One Logger, Tracer and Metrics for the whole service, named once.

Correlation: every log line about a conversation carries ``correlation_id`` = the conversation id,
from the resident's text (inbound_sms) to the city's mail, the agent's answer (inbound_email or
console_api) and the SMS delivery event (delivery_status, through the SMS context). One Logs
Insights query over the four log groups follows a message there and back (docs/observability.md).
"""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit, single_metric

SERVICE = "text311"
NAMESPACE = "Text311"

logger = Logger(service=SERVICE)
tracer = Tracer(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)


def count_rejection(reason: str) -> None:
    """One AnswerRejected data point with the reason as its dimension: the dashboard splits by
    reason and the alarm watches the sum (a spike means forged or misrouted mail)."""
    with single_metric(name="AnswerRejected", unit=MetricUnit.Count, value=1, namespace=NAMESPACE) as metric:
        metric.add_dimension(name="reason", value=str(reason))


def correlate(conversation_id: str | None) -> None:
    """Tag the following log lines with the conversation they are about (None: no conversation yet).
    Called once per record, so a warm container never carries the last record's id into the next."""
    logger.set_correlation_id(conversation_id)


def count_rejected_answer(reason: str) -> None:
    """The reason split (dashboard) and the total (``AnswersRejected``, one fixed dimension, which an
    alarm can watch: CloudWatch alarms cannot sum over a dimension's values)."""
    count_rejection(reason)
    metrics.add_metric(name="AnswersRejected", unit=MetricUnit.Count, value=1)


def record_first_response(city_id: int, seconds: float) -> None:
    """Seconds from a resident's first text to the city's first answer, per city (geonameid)."""
    with single_metric(
        name="FirstResponseTime", unit=MetricUnit.Seconds, value=max(seconds, 0.0), namespace=NAMESPACE
    ) as metric:
        metric.add_dimension(name="city", value=str(city_id))
