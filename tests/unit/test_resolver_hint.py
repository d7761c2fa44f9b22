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
    assert [p.label for p in res.choices] == ["Montreal, WI", "Montréal, QC"]  # the phone's first


# -- issue 18 item 9: a namesake across a border is a question, not a guess -------------------

HOUSTON_BC_PHONE = "+12505550123"  # 250: British Columbia outside the Lower Mainland
DUNDALK_ON_PHONE = "+15195550123"  # 519: southwestern Ontario
NEW_BRUNSWICK_PHONE = "+15065550123"  # 506
MONTREAL_PHONE = "+15145550123"  # 514
CANADIAN_NON_GEOGRAPHIC_PHONE = "+16005550123"  # 600: Canada, no province


@pytest.mark.parametrize(
    ("text", "phone", "home", "dominant"),
    [
        ("Houston", HOUSTON_BC_PHONE, "Houston, BC", "Houston, TX"),
        ("I'm in Houston", HOUSTON_BC_PHONE, "Houston, BC", "Houston, TX"),
        ("Dundalk", DUNDALK_ON_PHONE, "Dundalk, ON", "Dundalk, MD"),
        ("Dundalk, pothole on main", DUNDALK_ON_PHONE, "Dundalk, ON", "Dundalk, MD"),
        ("Saint-Léonard", NEW_BRUNSWICK_PHONE, "Saint-Léonard, NB", "Saint-Léonard, QC"),
    ],
)
def test_a_dominant_namesake_in_another_province_is_a_question_with_the_phones_namesake_first(
    text, phone, home, dominant
):
    res = resolve_municipality(text, phone=phone)
    assert res.status == "choose"
    assert [p.label for p in res.choices][:2] == [home, dominant]


def test_the_dominant_namesake_is_still_a_match_from_its_own_province():
    res = resolve_municipality("Saint-Léonard", phone=MONTREAL_PHONE)
    assert (res.status, label(res)) == ("match", "Saint-Léonard, QC")
    assert label(resolve_municipality("Houston", phone="+17135550123")) == "Houston, TX"  # 713: Texas


@pytest.mark.parametrize(
    ("text", "country", "phone"),
    [("Houston", "CA", None), ("Houston", None, CANADIAN_NON_GEOGRAPHIC_PHONE), ("Dundalk", "CA", None)],
)
def test_a_dominant_namesake_in_another_country_than_the_phones_is_a_question(text, country, phone):
    # no province to go by, but the country: a Canadian resident's Houston may well be in BC
    res = resolve_municipality(text, country, phone=phone)
    assert res.status == "choose"
    assert res.choices[0].country == "CA"
    assert res.choices[1].country == "US"


def test_a_dominant_namesake_outside_the_deployments_countries_is_a_question():
    # no phone to go by, in a deployment that serves Canada only: Dundalk, MD cannot be its city
    res = resolve_municipality("Dundalk", served=("CA",))
    assert [p.label for p in res.choices] == ["Dundalk, ON", "Dundalk, MD"]
    assert label(resolve_municipality("Dundalk", served=("CA", "US"))) == "Dundalk, MD"


@pytest.mark.parametrize(
    ("text", "phone", "region"),
    [
        ("Ville-Marie", "+18195550123", "QC"),  # the Montréal borough and the Témiscamingue town
        ("Shelby", "+15175550123", "MI"),  # the township of 74,000 and the village of 2,000
    ],
)
def test_two_namesakes_in_the_phones_province_are_a_question_with_both_first(text, phone, region):
    # a province-wide hint cannot tell them apart; the bigger one is not taken for the resident's
    res = resolve_municipality(text, phone=phone)
    assert res.status == "choose"
    assert [p.region_code for p in res.choices[:2]] == [region, region]


def test_a_list_keeps_the_phones_countrys_namesakes_when_its_province_has_none():
    # 204 (Manitoba) has no Hudson; the five biggest Hudsons are all American
    res = resolve_municipality("Hudson", phone="+12045550123")
    assert res.status == "choose"
    assert {"Hudson, QC", "Hudson, AB"} <= {p.label for p in res.choices}

def test_a_province_the_resident_wrote_still_wins_over_the_phone():
    res = resolve_municipality("Houston TX", phone=HOUSTON_BC_PHONE)
    assert (res.status, label(res)) == ("match", "Houston, TX")


def test_without_any_hint_the_dominant_namesake_is_still_a_match():
    assert label(resolve_municipality("Houston")) == "Houston, TX"


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


def test_the_dialogs_resolvers_are_told_the_countries_the_deployment_serves(monkeypatch):
    from types import SimpleNamespace

    from text311 import services

    monkeypatch.setattr(services, "settings", lambda: SimpleNamespace(countries=frozenset({"CA"})))
    assert [p.label for p in services._resolver()("Dundalk", None).choices] == ["Dundalk, ON", "Dundalk, MD"]
    # a number whose country is not known (the hint adds nothing) in the same deployment
    phoned = services._phone_resolver()("Dundalk", None, "+33123456789")
    assert [p.label for p in phoned.choices] == ["Dundalk, ON", "Dundalk, MD"]
