"""Is each city's inbox taking Text311's mail? Read by ``text311 municipality show`` and ``text311 doctor``.

Two signs, both reads:
- an address on the account's suppression list (SES v2 ``GetSuppressedDestination``): the
  configuration set keeps suppression on for bounces and complaints, so SES refuses every mail to
  it (a ``Bounce`` event, sub-type ``OnAccountSuppressionList``) until someone removes it;
- bounces and complaints of texts' mail in the last days, per city: the ``CityMailBounced`` and
  ``CityMailComplained`` metrics (text311.mail_feedback), which also show a full inbox (a transient
  bounce) that the suppression list never holds.
An API the endpoint does not implement (moto has no suppression list) or refuses is reported as
not checked, never as healthy.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from text311.observability import NAMESPACE

LOOKBACK = timedelta(days=7)
FEEDBACK_METRICS = {"bounced": "CityMailBounced", "complained": "CityMailComplained"}
SERVICE = "text311"  # the metrics' service dimension (POWERTOOLS_SERVICE_NAME)


@dataclass(frozen=True)
class InboxReport:
    geonameid: int
    name: str
    suppressed: dict[str, str] = field(default_factory=dict)  # address → SES's reason (BOUNCE, COMPLAINT)
    recent: dict[str, int] = field(default_factory=dict)  # "bounced"/"complained" → texts, last 7 days
    not_checked: tuple[str, ...] = ()  # what could not be read, and why

    @property
    def problems(self) -> list[str]:
        found = [f"{address} is on the account's suppression list ({reason})"
                 for address, reason in sorted(self.suppressed.items())]
        found += [f"{count} text(s) {kind} in the last {LOOKBACK.days} days"
                  for kind, count in self.recent.items() if count]
        return found

    def as_json(self) -> dict[str, Any]:
        return {"suppressed": self.suppressed, f"last_{LOOKBACK.days}_days": self.recent,
                "problems": self.problems, "not_checked": list(self.not_checked)}


def suppression_reason(sesv2: Any, address: str) -> str | None:
    """SES's reason for suppressing ``address`` (BOUNCE, COMPLAINT), or None when it is not suppressed."""
    try:
        found = sesv2.get_suppressed_destination(EmailAddress=address)
    except sesv2.exceptions.NotFoundException:
        return None
    return str(found["SuppressedDestination"]["Reason"])


def recent_feedback(cloudwatch: Any, geonameid: int, now: datetime) -> dict[str, int]:
    """Texts bounced and complained about in the last ``LOOKBACK``, summed over daily points. The end is
    a minute ahead: a point stored this very second (timestamps are whole seconds) still counts."""
    counts = {}
    for kind, metric in FEEDBACK_METRICS.items():
        stats = cloudwatch.get_metric_statistics(
            Namespace=NAMESPACE, MetricName=metric, StartTime=now - LOOKBACK, EndTime=now + timedelta(minutes=1),
            Dimensions=[{"Name": "municipality", "Value": str(geonameid)}, {"Name": "service", "Value": SERVICE}],
            Period=int(timedelta(days=1).total_seconds()), Statistics=["Sum"],
        )
        counts[kind] = int(sum(point["Sum"] for point in stats.get("Datapoints", [])))
    return counts


def inbox_report(subscriber: Any, sesv2: Any, cloudwatch: Any, now: datetime | None = None) -> InboxReport:
    now = now or datetime.now(UTC)
    suppressed: dict[str, str] = {}
    not_checked: list[str] = []
    try:
        for address in subscriber.contact_emails:
            reason = suppression_reason(sesv2, address)
            if reason:
                suppressed[address] = reason
    except Exception as exc:  # noqa: BLE001 - not implemented (moto), refused, throttled: said, not hidden
        not_checked.append(f"suppression list: {_why(exc)}")
    recent: dict[str, int] = {}
    try:
        recent = recent_feedback(cloudwatch, subscriber.geonameid, now)
    except Exception as exc:  # noqa: BLE001 - same
        not_checked.append(f"bounce metrics: {_why(exc)}")
    return InboxReport(subscriber.geonameid, subscriber.display_name, suppressed, recent, tuple(not_checked))


def _why(exc: Exception) -> str:
    text = str(exc).splitlines()[0][:160] if str(exc) else ""
    return text or type(exc).__name__


# -- text311 doctor ---------------------------------------------------------------------------------


def inbox_check(subscribers: Callable[[Any], Iterable[Any]], cloudwatch: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """The doctor's check over every subscribing city; ``subscribers`` and ``cloudwatch`` take the
    doctor's context (its region) and return the cities and a CloudWatch client."""

    def city_inboxes_take_mail(ctx: Any) -> Any:
        from text311.cli.doctor import Finding

        cities = list(subscribers(ctx))
        reports = [inbox_report(sub, ctx.sesv2, cloudwatch(ctx)) for sub in cities]
        failing = [f"{r.name} ({r.geonameid}): {'; '.join(r.problems)}" for r in reports if r.problems]
        fix = ("correct the address (text311 municipality add … with the right --email) or ask the city to fix "
               "its inbox, then remove it from the suppression list (aws sesv2 delete-suppressed-destination)")
        if failing:
            return Finding("city inboxes", "missing", " | ".join(failing), fix)
        unchecked = sorted({n for r in reports for n in r.not_checked})
        if unchecked:
            return Finding("city inboxes", "unknown", f"could not check: {'; '.join(unchecked)}")
        return Finding("city inboxes", "ok", f"{len(reports)} cities: no suppressed address, no bounce in "
                                            f"{LOOKBACK.days} days")

    return city_inboxes_take_mail


def _subscribers_from_environment(ctx: Any) -> Iterable[Any]:
    """The subscribers table the ``municipality`` commands use (SUBSCRIBERS_TABLE, AWS_ENDPOINT_URL)."""
    from text311.cli.municipality import DEFAULT_TABLE, _bind

    table = os.environ.get("SUBSCRIBERS_TABLE") or DEFAULT_TABLE
    return _bind(table, ctx.plan.region, os.environ.get("AWS_ENDPOINT_URL") or None).all()


def _cloudwatch_from_environment(ctx: Any) -> Any:
    import boto3

    return boto3.client("cloudwatch", region_name=ctx.plan.region,
                        endpoint_url=os.environ.get("AWS_ENDPOINT_URL") or None)


city_inboxes_take_mail = inbox_check(_subscribers_from_environment, _cloudwatch_from_environment)
