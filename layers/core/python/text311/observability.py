"""One Logger, Tracer and Metrics for the whole service, named once.

Correlation: every log line about a conversation carries ``correlation_id`` = the conversation id,
from the resident's text (inbound_sms) to the city's mail, the agent's answer (inbound_email or
console_api) and the SMS delivery event (delivery_status, through the SMS context). One Logs
Insights query over the four log groups follows a message there and back (docs/observability.md).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit, single_metric

SERVICE = "text311"
NAMESPACE = "Text311"



class LazyTracer:
    """Powertools' Tracer, built at the first traced invocation instead of at import.

    Building a Tracer imports the X-Ray SDK, whose recorder creates two botocore clients for its
    sampling poller on import: ~110 ms on our 2-core machine, close to ``import boto3`` itself
    (bench/coldstart.py). Where tracing is off (tests, the local run, POWERTOOLS_TRACE_DISABLED) it is
    never built; in AWS it is built once, on the first invocation, and traces exactly as before."""

    def __init__(self, service: str) -> None:
        self._service = service
        self._tracer: Tracer | None = None

    @property
    def real(self) -> Tracer:
        if self._tracer is None:
            self._tracer = Tracer(service=self._service)
        return self._tracer

    def capture_lambda_handler(self, handler: Callable | None = None, **options: Any) -> Any:
        if handler is None:  # used as @tracer.capture_lambda_handler(capture_response=False)
            return functools.partial(self.capture_lambda_handler, **options)
        chosen: Callable | None = None

        @functools.wraps(handler)
        def traced(event: Any, context: Any) -> Any:
            nonlocal chosen
            if chosen is None:
                # Powertools' own rule (env var, Lambda or not, SAM local), read without building a Tracer.
                off = Tracer._is_tracer_disabled()
                chosen = handler if off else self.real.capture_lambda_handler(handler, **options)
            return chosen(event, context)

        return traced

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


logger = Logger(service=SERVICE)
tracer = LazyTracer(SERVICE)
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
