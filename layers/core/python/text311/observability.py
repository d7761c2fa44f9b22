"""One Logger, Tracer and Metrics for the whole service, named once."""

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
