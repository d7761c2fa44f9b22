"""Opening hours (issue 22, item 2): open or closed at a given instant in the city's time zone, the
next opening across daylight-saving changes and holidays, and the one notice a resident gets for a
conversation opened while the city is closed."""

from __future__ import annotations

import importlib
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from aws_events import inbound_sms_event, two_way_sms
from harness import GATINEAU, KINGSTON, OUR_NUMBER, LambdaContext, sent_mails, setup_region
from moto import mock_aws

from text311.i18n import catalog
from text311.opening_hours import HoursError, from_json, from_specs, spoken_opening, to_json

WEEKDAYS_8_30 = ["mon-fri=08:30-16:30"]
RESIDENT = "+18195550123"
CONTEXT = LambdaContext("inbound-sms")


def toronto_hours(*holidays: str):
    return from_specs("America/Toronto", WEEKDAYS_8_30, holidays)


def test_open_and_closed_follow_the_citys_wall_clock_when_daylight_saving_changes():
    hours = toronto_hours()
    # Monday 9 March 2026, the day after clocks went forward: 08:35 EDT is 12:35 UTC
    assert hours.is_open(datetime(2026, 3, 9, 12, 35, tzinfo=UTC))
    # Monday 2 November 2026, the day after clocks went back: 12:15 UTC is 07:15 EST
    assert not hours.is_open(datetime(2026, 11, 2, 12, 15, tzinfo=UTC))
    assert hours.is_open(datetime(2026, 11, 2, 13, 35, tzinfo=UTC))


def test_next_opening_after_a_weekend_spanning_the_spring_change_is_monday_at_the_local_hour():
    hours = toronto_hours()
    # Saturday 7 March 2026, 20:00 EST; the clocks go forward on Sunday
    opens = hours.next_opening(datetime(2026, 3, 8, 1, 0, tzinfo=UTC))
    assert opens is not None
    assert opens.astimezone(UTC) == datetime(2026, 3, 9, 12, 30, tzinfo=UTC)  # 08:30 EDT, not 08:30 EST
    assert (opens.hour, opens.minute, opens.weekday()) == (8, 30, 0)


def test_the_same_instant_is_open_in_one_time_zone_and_closed_in_another():
    at = datetime(2026, 6, 10, 13, 0, tzinfo=UTC)  # a Wednesday: 10:00 in Halifax, 06:00 in Vancouver
    assert from_specs("America/Halifax", WEEKDAYS_8_30).is_open(at)
    assert not from_specs("America/Vancouver", WEEKDAYS_8_30).is_open(at)


def test_a_holiday_is_closed_and_the_next_opening_skips_it():
    hours = toronto_hours("2026-12-25")
    christmas_morning = datetime(2026, 12, 25, 15, 0, tzinfo=UTC)  # Friday 10:00 EST
    assert not hours.is_open(christmas_morning)
    opens = hours.next_opening(christmas_morning)
    assert opens is not None and opens.astimezone(UTC) == datetime(2026, 12, 28, 13, 30, tzinfo=UTC)


def test_a_lunch_break_is_closed_and_the_afternoon_is_the_next_opening():
    hours = from_specs("America/Toronto", ["mon-fri=08:30-12:00,13:00-16:30"])
    noon_thirty = datetime(2026, 6, 10, 16, 30, tzinfo=UTC)  # 12:30 EDT
    assert not hours.is_open(noon_thirty)
    assert hours.next_opening(noon_thirty) == datetime(2026, 6, 10, 17, 0, tzinfo=UTC)


@pytest.mark.parametrize("spec, holidays, complaint", [
    (["mon=16:30-08:30"], [], "opens at 16:30 but closes at 08:30"),
    (["mon=08:00-12:00,11:00-13:00"], [], "overlap"),
    (["funday=08:00-12:00"], [], "not a weekday"),
    (["mon=8h-12h"], [], "HH:MM"),
    (["mon=24:00-08:00"], [], "HH:MM"),  # 24:00 ends a day; it opens none
    (["mon-fri=closed"], [], "no weekday"),
    (["mon=08:00-12:00"], ["25/12/2026"], "YYYY-MM-DD"),
])
def test_hours_that_make_no_sense_are_refused_with_what_is_wrong(spec, holidays, complaint):
    with pytest.raises(HoursError, match=complaint):
        from_specs("America/Toronto", spec, holidays)


def test_a_city_open_around_the_clock_is_open_in_the_last_minute_of_the_day():
    hours = from_specs("America/Toronto", ["mon-sun=00:00-24:00"])
    # Monday 9 March 2026, 23:59:30 EDT
    assert hours.is_open(datetime(2026, 3, 10, 3, 59, 30, tzinfo=UTC))
    assert from_json("America/Toronto", to_json(hours)) == hours
    assert '"24:00"' in to_json(hours)


def test_hours_survive_their_stored_form():
    hours = from_specs("America/Toronto", ["mon-fri=08:30-12:00,13:00-16:30", "sat=09:00-12:00"], ["2026-12-25"])
    assert from_json("America/Toronto", to_json(hours)) == hours


@pytest.mark.parametrize("language, expected", [("en", "Monday 8:30 AM"), ("fr", "lundi 8 h 30"),
                                                ("en", "Friday 1:05 PM")])
def test_the_opening_is_written_in_the_residents_language(language, expected):
    moment = datetime(2026, 3, 9, 8, 30) if expected.startswith(("Monday", "lundi")) else datetime(2026, 3, 13, 13, 5)
    assert spoken_opening(catalog(), language, moment) == expected


# -- the closed notice, through the inbound_sms handler in moto --------------------------------------

GATINEAU_WEEKDAYS = replace(GATINEAU, opening_hours=from_specs("America/Toronto", WEEKDAYS_8_30))
SATURDAY_NIGHT = datetime(2026, 3, 8, 1, 0, tzinfo=UTC)  # Saturday 20:00 in Gatineau


@pytest.fixture
def region(aws_env, monkeypatch):
    with mock_aws():
        sms = setup_region(aws_env, monkeypatch, subscribers=(GATINEAU_WEEKDAYS, KINGSTON))
        handler = importlib.import_module("functions.inbound_sms.handler")
        handler.process_once.cache_clear()
        yield handler, sms


def text(handler, body, at, message_id=None):
    payload = two_way_sms(body, RESIDENT, OUR_NUMBER, message_id=message_id)
    return handler.lambda_handler(inbound_sms_event(payload, at=at), CONTEXT)


def closed_notices(sms) -> list[str]:
    return [t for t in sms.to(RESIDENT) if "is closed now" in t or "est fermé" in t]


def test_a_first_text_while_closed_gets_one_notice_with_the_next_opening_and_still_reaches_the_city(region):
    handler, sms = region
    text(handler, "Gatineau", SATURDAY_NIGHT)
    text(handler, "Pothole on rue Laurier", SATURDAY_NIGHT.replace(minute=1))
    assert closed_notices(sms) == [
        "Text311: Gatineau 311 is closed now and opens Monday 8:30 AM. Your text was passed on. "
        "In an emergency, call 911."
    ]
    [mail] = sent_mails()
    assert "Pothole on rue Laurier" in mail.get_body(preferencelist=("plain",)).get_content()


def test_later_texts_and_a_redelivery_of_the_same_closed_conversation_get_no_second_notice(region):
    handler, sms = region
    text(handler, "Gatineau", SATURDAY_NIGHT)
    for minute, message_id in ((1, "first"), (1, "first"), (5, "second"), (30, "third")):
        text(handler, f"Pothole, text {message_id}", SATURDAY_NIGHT.replace(minute=minute), message_id=message_id)
    assert len(closed_notices(sms)) == 1
    assert len(sent_mails()) == 3


def test_an_emergency_opening_a_closed_conversation_gets_the_911_notice_first_then_the_closed_notice(region):
    handler, sms = region
    text(handler, "Gatineau", SATURDAY_NIGHT)
    text(handler, "There is a fire on rue Laurier", SATURDAY_NIGHT.replace(minute=1))
    texts = sms.to(RESIDENT)
    emergency = next(i for i, t in enumerate(texts) if "911 now" in t)
    closed = next(i for i, t in enumerate(texts) if "is closed now" in t)
    assert emergency < closed


def test_a_text_during_opening_hours_gets_no_notice(region):
    handler, sms = region
    monday_morning = datetime(2026, 3, 9, 13, 0, tzinfo=UTC)  # 09:00 EDT
    text(handler, "Gatineau", monday_morning)
    text(handler, "Pothole on rue Laurier", monday_morning.replace(minute=1))
    assert closed_notices(sms) == [] and len(sent_mails()) == 1


def test_a_city_without_hours_is_always_open(aws_env, monkeypatch):
    with mock_aws():
        sms = setup_region(aws_env, monkeypatch)  # GATINEAU as stored today: no hours
        handler = importlib.import_module("functions.inbound_sms.handler")
        handler.process_once.cache_clear()
        text(handler, "Gatineau", SATURDAY_NIGHT)
        text(handler, "Pothole on rue Laurier", SATURDAY_NIGHT.replace(minute=1))
        assert closed_notices(sms) == [] and len(sent_mails()) == 1
