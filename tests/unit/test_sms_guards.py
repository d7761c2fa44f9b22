"""The country guard lets served countries through and refuses every other destination, sending nothing."""

from __future__ import annotations

import pytest

from text311.adapters.sms_sender import PermanentSendFailure, RecordingSmsSender
from text311.sms_guards import BLOCKED_COUNTRY, DestinationCountryGuard


@pytest.mark.parametrize("number", ["+18195550123", "+16135550142"])  # Gatineau, Kingston
def test_a_served_country_is_sent(number):
    sms = RecordingSmsSender()

    DestinationCountryGuard(sms, {"CA"}).send(number, "Bonjour", idempotency_key="k1")

    assert sms.to(number) == ["Bonjour"]


@pytest.mark.parametrize(
    "number",
    [
        "+18025550188",  # Burlington, VT: the US, not served by a Canadian region
        "+441632960001",  # the UK
        "+88213000000",  # an international premium range, the SMS-pumping target
    ],
)
def test_any_other_destination_is_refused_permanently_and_nothing_is_sent(number):
    sms = RecordingSmsSender()

    with pytest.raises(PermanentSendFailure) as refused:
        DestinationCountryGuard(sms, {"CA"}).send(number, "Bonjour", idempotency_key="k1")

    assert refused.value.reason == BLOCKED_COUNTRY
    assert sms.sent == []


def test_a_region_serving_both_countries_sends_to_both():
    sms = RecordingSmsSender()
    guard = DestinationCountryGuard(sms, {"CA", "US"})

    guard.send("+18025550188", "Hello", idempotency_key="k1")
    guard.send("+18195550123", "Bonjour", idempotency_key="k2")

    assert len(sms.sent) == 2
