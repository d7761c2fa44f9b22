"""Location from a resident's text (text311.location) and the geocoders behind it (text311.geocoders)."""

from __future__ import annotations

import threading
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber

from text311.geo import CityArea, Point, city_area
from text311.geocoders import AddressFileGeocoder, AmazonLocationGeocoder
from text311.location import find_location, locate

GATINEAU, KINGSTON, BURLINGTON = 5959974, 5992500, 5234372
PARLIAMENT = Point(45.4215, -75.6972)


@pytest.mark.parametrize(
    "text",
    [
        "geo:45.4215,-75.6972",
        "Nid de poule ici geo:45.4215,-75.6972;u=12 merci",
        "geo:45.4215,-75.6972,70;crs=wgs84",
        "geo:0,0?q=45.4215,-75.6972(Pothole)",  # Android's share
        "https://www.google.com/maps/@45.4215,-75.6972,17z",
        "https://maps.google.com/?q=45.4215,-75.6972",
        "https://maps.google.com/?ll=45.4215,-75.6972&z=16",
        "https://www.google.com/maps/search/?api=1&query=45.4215%2C-75.6972",
        "https://maps.apple.com/?ll=45.4215,-75.6972&q=Dropped%20Pin",
        "https://maps.apple.com/?q=45.4215,-75.6972",
        "https://maps.apple.com/?sll=45.4215,-75.6972&z=10",
        "https://maps.apple.com/place?coordinate=45.4215,-75.6972&name=Marked%20Location",
        "pothole right here 45.4215, -75.6972 thanks",
        "45.4215 -75.6972",
        "45.4215° N, 75.6972° W",
        "45.4215 N 75.6972 O",
    ],
)
def test_a_shared_point_is_found_when_the_text_carries_coordinates(text):
    found = find_location(text)
    assert found is not None and found.kind == "point"
    assert found.point == PARLIAMENT
    assert found.text in text


def test_google_place_pin_wins_over_the_maps_centre_when_a_place_link_has_both():
    link = (
        "https://www.google.com/maps/place/Parliament+Hill/@45.42,-75.70,17z/"
        "data=!3m1!4b1!4m6!3m5!1s0x4cce05:0x1!8m2!3d45.4236!4d-75.7009"
    )
    assert find_location(f"look {link}").point == Point(45.4236, -75.7009)


def test_the_brief_coordinates_with_two_decimals_are_a_point():
    assert find_location("45.42, -75.69").point == Point(45.42, -75.69)


@pytest.mark.parametrize(
    "text",
    [
        "call me back at 613-555-0142",
        "it happened at 12:30 today",
        "lat 95.42, -75.69",  # no latitude beyond 90
        "45.42, -195.69",  # no longitude beyond 180
        "geo:0,0",  # a placeholder, not a place
        "geo:45.4215,-75.6972;crs=nad27",  # another reference system
        "version 1.2.3 of the app",
        "it cost $12.50, 3.25 with tax",
        "https://goo.gl/maps/Xk2pLq9",  # a short link holds no coordinates
        "https://example.com/?q=45.4215,-75.6972",  # not a maps link
        "the pothole is huge and my car is damaged",
        "I waited 2 hours on the street",
        "there are 3 big holes on my street",
    ],
)
def test_nothing_is_found_when_the_text_names_no_place(text):
    assert find_location(text) is None


@pytest.mark.parametrize(
    ("text", "written"),
    [
        ("123 Main St has a pothole", "123 Main St"),
        ("there is a pothole in front of 216 Ontario Street.", "216 Ontario Street"),
        ("light out at 145 Bank Street West since Monday", "145 Bank Street West"),
        ("12 rue Laurier il y a un trou", "12 rue Laurier"),
        ("Nid de poule au 12, rue Laurier", "12, rue Laurier"),
        ("100 boul. Saint-Joseph, devant le dépanneur", "100 boul. Saint-Joseph"),
        ("1200 chemin de la Montagne est bloqué", "1200 chemin de la Montagne"),
        ("3 rue des Érables", "3 rue des Érables"),
        ("12 rue principale", "12 rue principale"),
    ],
)
def test_a_civic_address_is_found_as_written_without_a_point(text, written):
    found = find_location(text)
    assert found is not None and (found.kind, found.text, found.point) == ("address", written, None)


@pytest.mark.parametrize(
    ("text", "streets"),
    [
        ("pothole at the corner of Bank and Somerset near the school", ("Bank", "Somerset")),
        ("intersection of Church St and College St", ("Church St", "College St")),
        ("Princess St & Division St light is out", ("Princess St", "Division St")),
        ("coin Laurier et Saint-Joseph, devant le dépanneur", ("Laurier", "Saint-Joseph")),
        ("au coin de la rue Laurier et du boulevard Maisonneuve", ("rue Laurier", "boulevard Maisonneuve")),
    ],
)
def test_an_intersection_is_found_with_its_two_streets(text, streets):
    found = find_location(text)
    assert found is not None and found.kind == "intersection" and found.point is None
    assert found.streets == streets
    assert found.query == " & ".join(streets)


def test_a_link_wins_over_an_address_in_the_same_text():
    found = find_location("12 rue Laurier https://maps.apple.com/?ll=45.4215,-75.6972")
    assert found is not None and found.kind == "point"


# --- geocoding ---------------------------------------------------------------------------------


def _gatineau() -> CityArea:
    area = city_area(GATINEAU, language="fr")
    assert area is not None
    return area


@pytest.fixture
def local_addresses() -> AddressFileGeocoder:
    return AddressFileGeocoder.from_file(Path(__file__).parents[2] / "config" / "local-addresses.yaml")


def test_locate_gives_an_address_the_file_geocoders_point_and_keeps_the_words(local_addresses):
    found = locate("Nid de poule au 100, rue Laurier", local_addresses, _gatineau())
    assert found is not None
    assert (found.kind, found.text, found.label) == ("address", "100, rue Laurier", "100 rue Laurier")
    assert found.point == Point(45.42985, -75.70927)


def test_locate_finds_an_intersection_written_in_another_order_and_form(local_addresses):
    kingston = city_area(KINGSTON)
    found = locate("light out at the corner of Division Street and Princess", local_addresses, kingston)
    assert found is not None and found.point == Point(44.2334, -76.4887)


def test_locate_keeps_the_text_without_a_point_when_the_address_is_unknown(local_addresses):
    found = locate("trou au 999 rue Inconnue", local_addresses, _gatineau())
    assert found is not None and found.text == "999 rue Inconnue" and found.point is None


def test_the_file_geocoder_answers_only_for_the_city_asked(local_addresses):
    # Burlington's "149 Church St" is not Kingston's: no point from another city's list.
    assert local_addresses.geocode("149 Church St", city_area(KINGSTON)) is None
    assert local_addresses.geocode("149 Church Street", city_area(BURLINGTON)) is not None


def test_the_file_geocoder_refuses_an_entry_outside_the_citys_area():
    far = AddressFileGeocoder({GATINEAU: [{"address": "1 rue Loin", "latitude": 46.81, "longitude": -71.21}]})
    assert far.geocode("1 rue Loin", _gatineau()) is None


def test_every_demo_address_lies_inside_its_city(local_addresses):
    import yaml

    raw = yaml.safe_load((Path(__file__).parents[2] / "config" / "local-addresses.yaml").read_text())
    for geonameid, entries in raw.items():
        area = city_area(geonameid)
        for entry in entries:
            query = entry["address"]
            assert local_addresses.geocode(query, area) is not None, (geonameid, query)


def _geo_places():
    client = boto3.client(
        "geo-places", region_name="ca-central-1", aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    return client, Stubber(client)


def _result(place_type: str, lon: float, lat: float, region: str = "QC", label: str = "100 Rue Laurier") -> dict:
    return {
        "PlaceId": "p1",
        "PlaceType": place_type,
        "Title": label,
        "Position": [lon, lat],
        "Address": {"Label": f"{label}, Gatineau, QC", "Region": {"Code": region, "Name": "Québec"}},
    }


def test_amazon_location_is_asked_biased_to_the_city_filtered_to_its_country_and_for_storage():
    client, stub = _geo_places()
    stub.add_response(
        "geocode",
        {"PricingBucket": "Storage", "ResultItems": [_result("PointAddress", -75.70927, 45.42985)]},
        expected_params={
            "QueryText": "100 rue Laurier, Gatineau, QC",
            "MaxResults": 3,
            "BiasPosition": [-75.70164, 45.47723],  # longitude first, as Amazon Location writes it
            "Filter": {
                "IncludeCountries": ["CA"],
                "IncludePlaceTypes": ["PointAddress", "InterpolatedAddress", "Intersection"],
            },
            "Language": "fr",
            "IntendedUse": "Storage",
        },
    )
    with stub:
        answer = AmazonLocationGeocoder(client).geocode("100 rue Laurier", _gatineau())
    stub.assert_no_pending_responses()
    assert answer == (Point(45.42985, -75.70927), "100 Rue Laurier, Gatineau, QC")


@pytest.mark.parametrize(
    "item",
    [
        _result("PointAddress", -75.69, 45.42, region="ON", label="100 Laurier Ave W"),  # Ottawa, across the river
        _result("PointAddress", -71.21, 46.81),  # Québec City: far outside Gatineau
        _result("Street", -75.70, 45.43),  # a street's centre is not the place of a pothole
    ],
)
def test_amazon_location_results_outside_the_city_or_imprecise_are_refused(item):
    client, stub = _geo_places()
    stub.add_response("geocode", {"PricingBucket": "Storage", "ResultItems": [item]}, expected_params=None)
    with stub:
        assert AmazonLocationGeocoder(client).geocode("100 Laurier", _gatineau()) is None


def test_amazon_location_takes_the_first_result_inside_the_city():
    client, stub = _geo_places()
    items = [_result("PointAddress", -75.69, 45.42, region="ON"), _result("InterpolatedAddress", -75.7093, 45.4299)]
    stub.add_response("geocode", {"PricingBucket": "Storage", "ResultItems": items}, expected_params=None)
    with stub:
        answer = AmazonLocationGeocoder(client).geocode("100 Laurier", _gatineau())
    assert answer is not None and answer[0] == Point(45.4299, -75.7093)


def test_locate_keeps_the_words_when_amazon_location_fails():
    client, stub = _geo_places()
    stub.add_client_error("geocode", service_error_code="ThrottlingException", http_status_code=429)
    with stub:
        found = locate("trou au 100 rue Laurier", AmazonLocationGeocoder(client), _gatineau())
    assert found is not None and found.text == "100 rue Laurier" and found.point is None


@pytest.mark.parametrize(
    "text", ["corner of " + "a" * 1600, "coin " + "a" * 1600, "12 rue " + "a" * 1600, "intersection of " + "ab " * 530]
)
def test_a_long_word_after_a_street_cue_is_read_in_one_pass(text):
    # Words that "\s*" could split anywhere made the intersection pattern backtrack exponentially:
    # 200 letters took seconds, 1,600 (one SMS of 10 parts) never ended. A generous ceiling, not a speed bound.
    done = threading.Event()
    worker = threading.Thread(target=lambda: (find_location(text), done.set()), daemon=True)
    worker.start()
    assert done.wait(timeout=60), "find_location did not return"


# --- intersections and addresses without the usual cues (issue 20 follow-up) ---------------------


@pytest.mark.parametrize(
    ("text", "streets"),
    [
        ("traffic lights are stuck on red at King St & Queen St", ("King St", "Queen St")),  # after "at"
        ("old van sitting at Main St & Park Ave for a month", ("Main St", "Park Ave")),
        ("corner of Maple and 3rd Ave is pitch black", ("Maple", "3rd Ave")),  # a numbered street
        ("coin de la 3e Avenue et de la rue Main", ("3e Avenue", "rue Main")),
        ("Broken water main? Bronson & Gladstone is like a river", ("Bronson", "Gladstone")),  # names only
        ("boul. Riel / rue Carrière grosse branche", ("boul. Riel", "rue Carrière")),  # French types first
    ],
)
def test_an_intersection_is_found_without_corner_of_or_after_a_stop_word(text, streets):
    found = find_location(text)
    assert found is not None and found.kind == "intersection" and found.streets == streets


@pytest.mark.parametrize(
    ("text", "written"),
    [
        ("apt 3, 122 Champlain - theres a pothole at the entrance", "122 Champlain"),
        ("pothole in front of 12 3rd Ave", "12 3rd Ave"),
    ],
)
def test_a_civic_address_without_a_street_type_or_with_a_numbered_street_is_found(text, written):
    found = find_location(text)
    assert found is not None and (found.kind, found.text, found.point) == ("address", written, None)


@pytest.mark.parametrize(
    "text",
    [
        "salt & pepper on the steps",
        "my kids love Tom & Jerry",  # ordinary words, capitalised
        "I have 2 Kids & Dogs at home",
        "I called 3 Times already",
        "it has been there since 12 March",
        "la rue est glacée et la rue Eddy aussi",  # a street type alone is no street
    ],
)
def test_names_without_street_types_are_no_place_when_they_are_ordinary_words(text):
    assert find_location(text) is None


def test_an_apple_maps_link_with_only_an_address_is_read_as_that_address_without_a_point():
    found = find_location("pothole at https://maps.apple.com/?address=330+Kent+St,+Ottawa&name=Marked%20Location")
    assert found is not None and (found.kind, found.text, found.point) == ("address", "330 Kent St", None)


@pytest.mark.parametrize(
    "text",
    [
        "at " + "Ab " * 530 + "St & Queen St",
        "1 " + "Abc " * 530,
        "Abc & " * 300,
        "12 " + "3rd " * 500,
        "corner of " + "3rd " * 500,
        "boul. " + "Ab " * 530 + "/ rue X",
        "rue " + "ab " * 530 + "et",
    ],
)
def test_a_long_text_of_street_like_words_is_read_in_one_pass(text):
    # Each new pattern tried at every word of an SMS of 10 parts; a ceiling for a hang, not a speed bound.
    done = threading.Event()
    worker = threading.Thread(target=lambda: (find_location(text), done.set()), daemon=True)
    worker.start()
    assert done.wait(timeout=60), "find_location did not return"
