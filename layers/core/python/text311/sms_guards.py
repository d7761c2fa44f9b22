"""Guards in front of the SMS sender: every SMS Text311 sends passes them, whoever sends it.

``DestinationCountryGuard`` refuses a destination that ``phone.classify`` refuses: outside the
region's served countries, or not a mobile number (premium rate, toll free, shared cost, a type
phonenumbers does not know…). Residents only reach us from numbers we would answer (inbound texts
from the others are refused with the same function), so a refusal here means a bug or an attack: SMS
pumping sends traffic to premium-rate numbers, and a guard in our own code holds even where the
account's protect configuration was never set up.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from aws_lambda_powertools.metrics import MetricUnit, single_metric

from text311.adapters.sms_sender import PermanentSendFailure
from text311.observability import NAMESPACE, logger, metrics
from text311.phone import NumberCheck, classify, mask

BLOCKED_COUNTRY = "DESTINATION_COUNTRY_NOT_SERVED"


def count_refused_number(
    number: str, check: NumberCheck, direction: Literal["inbound", "outbound"], **context: str
) -> None:
    """Count a number we will not answer or text, by direction and reason (``NumberRefused``) and
    in the total an alarm can watch (``NumbersRefused``), and log it masked with ``context``."""
    reason = str(check.refusal)
    with single_metric(name="NumberRefused", unit=MetricUnit.Count, value=1, namespace=NAMESPACE) as metric:
        metric.add_dimension(name="direction", value=direction)
        metric.add_dimension(name="reason", value=reason)
    metrics.add_metric(name="NumbersRefused", unit=MetricUnit.Count, value=1)
    logger.warning("number refused: nothing answered or sent",
                   extra={**context, "number": mask(number), "direction": direction, "reason": reason,
                          "country": check.country or "unknown"})


@dataclass
class DestinationCountryGuard:
    inner: Any  # an SmsSender: .send(destination, body, *, idempotency_key, context)
    countries: Collection[str]  # ISO codes, e.g. {"CA"}

    def send(
        self, destination: str, body: str, *, idempotency_key: str, context: Mapping[str, str] | None = None
    ) -> Any:
        check = classify(destination, self.countries)
        if not check.allowed:
            count_refused_number(destination, check, "outbound")
            raise PermanentSendFailure(
                f"{BLOCKED_COUNTRY}: {check.refusal} ({check.country or 'no country'}) is not texted from here",
                code="DestinationCountryBlocked", reason=BLOCKED_COUNTRY,
            )
        return self.inner.send(destination, body, idempotency_key=idempotency_key, context=context)
