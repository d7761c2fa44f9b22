"""Guards in front of the SMS sender: every SMS Text311 sends passes them, whoever sends it.

``DestinationCountryGuard`` refuses a destination outside the region's served countries. Residents
only reach us from a served country (inbound texts from elsewhere are refused), so a refusal here
means a bug or an attack: SMS pumping sends traffic to premium-rate numbers abroad, and a guard in
our own code holds even where the account's protect configuration was never set up.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from text311.adapters.sms_sender import PermanentSendFailure
from text311.observability import logger, metrics
from text311.phone import country_of, mask

BLOCKED_COUNTRY = "DESTINATION_COUNTRY_NOT_SERVED"


@dataclass
class DestinationCountryGuard:
    inner: Any  # an SmsSender: .send(destination, body, *, idempotency_key, context)
    countries: Collection[str]  # ISO codes, e.g. {"CA"}

    def send(
        self, destination: str, body: str, *, idempotency_key: str, context: Mapping[str, str] | None = None
    ) -> Any:
        country = country_of(destination)
        if country not in self.countries:
            metrics.add_metric(name="SmsBlockedCountry", unit="Count", value=1)
            logger.warning("SMS to a country not served refused",
                           extra={"destination": mask(destination), "country": country or "unknown"})
            raise PermanentSendFailure(
                f"{BLOCKED_COUNTRY}: {country or 'a number outside North America'} is not served here",
                code="DestinationCountryBlocked", reason=BLOCKED_COUNTRY,
            )
        return self.inner.send(destination, body, idempotency_key=idempotency_key, context=context)
