"""The phone hint: an area code suggests a province or state; it breaks ties, never overrides."""

from __future__ import annotations

import pytest

from text311.area_codes import AREA_CODE_REGIONS, CANADIAN_AREA_CODES, regions_of_area_code
from text311.directory import hint_from, resolve_municipality

VANCOUVER_PHONE = "+16045550123"  # 604: British Columbia
RICHMOND_VA_PHONE = "+18045550123"  # 804: Virginia
GREEN_BAY_PHONE = "+19205550123"  # 920: Wisconsin
TORONTO_PHONE = "+14165550123"


def label(res):
    return res.match.label if res.match else None


def test_hint_breaks_a_tie_for_richmond_with_a_604_number():
    res = resolve_municipality("Richmond", phone=VANCOUVER_PHONE)
    assert (res.status, label(res), res.reason) == ("match", "Richmond, BC", "hint_region")


def test_hint_does_not_override_a_state_the_resident_wrote():
    res = resolve_municipality("Richmond VA", phone=VANCOUVER_PHONE)
    assert (res.status, label(res)) == ("match", "Richmond, VA")


def test_hint_does_not_override_a_unique_name():
    res = resolve_municipality("Gatineau", phone=RICHMOND_VA_PHONE)
    assert label(res) == "Gatineau, QC"


def test_hint_pointing_away_from_a_dominant_city_turns_the_match_into_a_question():
    # Montréal, QC dwarfs Montreal, WI; a Wisconsin number makes the small one plausible
    res = resolve_municipality("Montreal", phone=GREEN_BAY_PHONE)
    assert res.status == "choose"
    assert [p.label for p in res.choices] == ["Montréal, QC", "Montreal, WI"]


def test_hint_from_the_same_province_keeps_the_dominant_match():
    assert label(resolve_municipality("London", phone=TORONTO_PHONE)) == "London, ON"


def test_country_hint_alone_breaks_a_tie_between_countries():
    assert label(resolve_municipality("Richmond", country="CA")) == "Richmond, BC"
    assert label(resolve_municipality("Saint John", country="CA")) == "Saint John, NB"


def test_country_hint_does_not_pick_a_much_smaller_place_over_a_bigger_foreign_one():
    res = resolve_municipality("Vancouver", country="US")  # Vancouver WA is a third of Vancouver BC
    assert res.status == "choose"


def test_hint_that_does_not_settle_the_tie_keeps_its_places_in_the_list():
    res = resolve_municipality("Springfield", phone="+15085550123")  # 508: Massachusetts
    assert res.status in ("match", "choose")
    if res.status == "choose":
        assert any(p.region_code == "MA" for p in res.choices)
    else:
        assert res.match.region_code == "MA"


def test_no_hint_without_a_phone_or_country():
    assert not hint_from()
    assert resolve_municipality("Richmond").status == "choose"


@pytest.mark.parametrize(
    ("phone", "country", "regions"),
    [
        ("+16045550123", "CA", {"BC"}),
        ("604-555-0123", "CA", {"BC"}),
        ("+15145550123", "CA", {"QC"}),
        ("+19025550123", "CA", {"NS", "PE"}),
        ("+18675550123", "CA", {"YT", "NT", "NU"}),
        ("+16005550123", "CA", set()),  # non-geographic
        ("+12125550123", "US", {"NY"}),
        ("+33123456789", None, set()),  # not North American
    ],
)
def test_hint_from_a_phone_number(phone, country, regions):
    hint = hint_from(phone=phone)
    assert (hint.country, set(hint.regions)) == (country, regions)


def test_a_stated_country_that_disagrees_with_the_phone_drops_the_phone_region():
    hint = hint_from(country="US", phone=VANCOUVER_PHONE)
    assert (hint.country, hint.regions) == ("US", frozenset())


def test_every_canadian_region_code_is_a_canadian_area_code():
    canadian = {"AB", "BC", "MB", "NB", "NL", "NS", "PE", "ON", "QC", "SK", "YT", "NT", "NU"}
    for code, regions in AREA_CODE_REGIONS.items():
        assert (code in CANADIAN_AREA_CODES) == bool(regions & canadian), code
    assert regions_of_area_code("999") == frozenset()
