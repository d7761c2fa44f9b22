"""Abuse and spend limits (text311.limits): counters in DynamoDB windows, in moto."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from harness import setup_region
from moto import mock_aws

from text311 import services
from text311.adapters.dynamodb import LimitModel
from text311.limits import CityOutboundLimiter, FloodLimiter

NOON = datetime(2026, 11, 26, 12, 0, 30, tzinfo=UTC)
GATINEAU, KINGSTON = 5959974, 5992500


@pytest.fixture
def region(aws_env, monkeypatch):
    with mock_aws():
        setup_region(aws_env, monkeypatch)
        yield


def test_a_flood_window_is_one_clock_minute_per_number_and_does_not_name_the_resident():
    flood = FloodLimiter(per_minute=20)
    window = flood.window("phone-hash-1", NOON)
    assert window == flood.window("phone-hash-1", NOON + timedelta(seconds=29))
    assert window != flood.window("phone-hash-1", NOON + timedelta(seconds=30))  # 12:01:00
    assert window != flood.window("phone-hash-2", NOON)
    assert "phone-hash-1" not in window.key
    assert window.expires_at == datetime(2026, 11, 26, 13, 1, tzinfo=UTC)  # an hour after the minute ends


def test_the_limit_allows_exactly_per_minute_texts():
    flood = FloodLimiter(per_minute=20)
    assert flood.allows(19) and not flood.allows(20)


def test_only_the_first_held_text_of_a_window_sends_the_notice_and_every_one_is_counted(region):
    flood = FloodLimiter(per_minute=2)
    window = flood.window("phone-hash-1", NOON)
    assert [flood.hold(window, f"in-{i}") for i in range(4)] == [True, False, False, False]
    assert flood.hold(window, "in-0") is True  # the same text redelivered: same notice, same SMS key
    assert int(LimitModel.get(window.key).hits) == 5


def test_the_next_minute_starts_a_new_count(region):
    flood = FloodLimiter(per_minute=2)
    flood.hold(flood.window("phone-hash-1", NOON), "in-1")
    assert flood.hold(flood.window("phone-hash-1", NOON + timedelta(minutes=1)), "in-2") is True


def test_a_city_may_send_its_hourly_allowance_and_not_one_more(region):
    limiter = CityOutboundLimiter(per_hour=3, per_day=100)
    assert [limiter.allow_outbound(GATINEAU, at=NOON) for _ in range(4)] == [True, True, True, False]
    assert limiter.used(GATINEAU, at=NOON) == (3, 3)  # the refused answer took nothing


def test_the_daily_cap_holds_across_hours(region):
    limiter = CityOutboundLimiter(per_hour=3, per_day=4)
    sent = [limiter.allow_outbound(GATINEAU, at=NOON + timedelta(hours=h)) for h in (0, 0, 0, 1, 1)]
    assert sent == [True, True, True, True, False]


def test_a_new_hour_opens_a_new_allowance(region):
    limiter = CityOutboundLimiter(per_hour=1, per_day=100)
    assert limiter.allow_outbound(GATINEAU, at=NOON)
    assert not limiter.allow_outbound(GATINEAU, at=NOON)
    assert limiter.allow_outbound(GATINEAU, at=NOON + timedelta(hours=1))


def test_one_city_spending_its_allowance_does_not_touch_another(region):
    limiter = CityOutboundLimiter(per_hour=1, per_day=100)
    assert limiter.allow_outbound(GATINEAU, at=NOON)
    assert not limiter.allow_outbound(GATINEAU, at=NOON)
    assert limiter.allow_outbound(KINGSTON, at=NOON)


def test_a_multipart_answer_takes_its_parts_and_is_refused_whole_when_they_do_not_fit(region):
    limiter = CityOutboundLimiter(per_hour=5, per_day=100)
    assert limiter.allow_outbound(GATINEAU, count=3, at=NOON)
    assert not limiter.allow_outbound(GATINEAU, count=3, at=NOON)
    assert limiter.allow_outbound(GATINEAU, count=2, at=NOON)


def test_the_limiters_are_built_from_the_settings(aws_env, monkeypatch):
    with mock_aws():
        setup_region({**aws_env, "FLOOD_LIMIT_PER_MINUTE": "7", "CITY_SMS_PER_HOUR": "40",
                      "CITY_SMS_PER_DAY": "90"}, monkeypatch)
        assert services.flood_limiter() == FloodLimiter(per_minute=7)
        assert services.city_outbound_limiter() == CityOutboundLimiter(per_hour=40, per_day=90)
        assert services.inbound_sms_service().flood == FloodLimiter(per_minute=7)
