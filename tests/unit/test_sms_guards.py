"""The country guard lets served countries through and refuses every other destination, sending nothing."""

from __future__ import annotations

import json

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


@pytest.mark.parametrize(
    "number",
    [
        "+18765551234",  # Jamaica: +1, but not the US (once every non-Canadian +1 number was "US")
        "+18095551234",  # the Dominican Republic
        "+19005551234",  # US premium rate
        "+18005550123",  # US toll free
    ],
)
def test_a_plus_one_number_abroad_or_premium_is_refused_when_canada_and_the_us_are_served(number):
    sms = RecordingSmsSender()

    with pytest.raises(PermanentSendFailure) as refused:
        DestinationCountryGuard(sms, {"CA", "US"}).send(number, "Hello", idempotency_key="k1")

    assert refused.value.reason == BLOCKED_COUNTRY
    assert sms.sent == []


def emf(out: str) -> list[dict]:
    return [d for d in (json.loads(line) for line in out.splitlines() if line.startswith("{")) if "_aws" in d]


@pytest.mark.parametrize(
    ("number", "reason"),
    [("+19005551234", "premium_rate"), ("+18765551234", "country_not_served"), ("+18005550123", "toll_free")],
)
def test_a_refused_destination_is_counted_by_reason_and_logged_masked(number, reason, capsys, caplog):
    with pytest.raises(PermanentSendFailure):
        DestinationCountryGuard(RecordingSmsSender(), {"CA", "US"}).send(number, "Hello", idempotency_key="k1")

    [point] = [d for d in emf(capsys.readouterr().out) if "NumberRefused" in d]
    assert (point["direction"], point["reason"]) == ("outbound", reason)
    [record] = caplog.records
    assert (record.number, record.reason) == ("+1******" + number[-4:], reason)
    assert number[2:] not in json.dumps(vars(record), default=str)
