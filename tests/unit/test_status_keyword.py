"""A resident's STATUS / ÉTAT text: the latest status of their requests by SMS, never mailed to the city."""

from __future__ import annotations

import importlib
from datetime import UTC, datetime, timedelta

import pytest
from aws_events import inbound_sms_event, two_way_sms
from harness import OUR_NUMBER, LambdaContext, sent_mails, setup_region
from moto import mock_aws

from text311 import services
from text311.geo import CityArea, Point
from text311.geocoders import AddressFileGeocoder
from text311.keywords import Keyword, classify_keyword, request_reference
from text311.request_hints import RequestHints
from text311.subscribers import Subscriber

RESIDENT = "+18195550123"
NEIGHBOUR = "+18195550188"
GATINEAU = "5959974"


@pytest.mark.parametrize(
    ("text", "keyword", "rest"),
    [
        ("STATUS", Keyword.STATUS, ""),
        ("status?", Keyword.STATUS, ""),
        ("ÉTAT GAT-1042", Keyword.STATUS, "GAT-1042"),
        ("etat gat1042", Keyword.STATUS, "gat1042"),
        ("Statut", Keyword.STATUS, ""),
        ("Status of the pothole on Main St?", None, "Status of the pothole on Main St?"),
    ],
)
def test_status_is_the_whole_text_or_followed_by_one_reference(text, keyword, rest):
    assert classify_keyword(text) == (keyword, rest)


def test_a_reference_is_read_as_stored():
    assert [request_reference(t) for t in ("gat1042", "GAT-1042.", "pothole")] == ["GAT-1042", "GAT-1042", None]


def test_status_is_not_a_keyword_registered_with_the_carrier():
    from stacks.keywords import number_keywords

    assert not {"STATUS", "ETAT", "STATUT"} & {k.keyword for k in number_keywords("text311.ca")}


@pytest.fixture
def region(aws_env, monkeypatch):
    with mock_aws():
        sms = setup_region(aws_env, monkeypatch)
        inbound = importlib.import_module("functions.inbound_sms.handler")
        inbound.process_once.cache_clear()

        def text(body: str, sender: str = RESIDENT) -> None:
            inbound.lambda_handler(inbound_sms_event(two_way_sms(body, sender, OUR_NUMBER)), LambdaContext())

        yield text, sms


def file_for(phone: str, service_code: str = "pothole") -> str:
    """A request filed from the resident's conversation, as an agent's #request files it."""
    vault = services.phone_vault()
    record = services.inbound_sms_service().store.resident(vault.hash(phone))
    request = services.service_requests().file(
        city_id=GATINEAU,
        prefix="GAT",
        service_code=service_code,
        description="",
        address=None,
        lat=None,
        lon=None,
        conversation_id=record.item.conversation_id,
        source="sms",
        by="agent@gatineau.example.ca",
    )
    return request.reference


def test_status_with_no_request_answers_so_and_mails_nothing(region):
    text, sms = region

    text("STATUS")

    assert sms.to(RESIDENT) == ["Text311: we have no request on file from this number."]
    assert sent_mails() == []


def test_etat_answers_the_latest_status_of_each_request_in_french(region):
    text, sms = region
    text("Il y a un nid de poule devant chez moi")
    text("Gatineau")
    mails = len(sent_mails())
    first = file_for(RESIDENT)
    second = file_for(RESIDENT, "graffiti")
    services.service_requests().set_status(GATINEAU, first, "in_progress", "", "agent@gatineau.example.ca")

    text("ÉTAT")

    assert sms.to(RESIDENT)[-1] == ("Text311 : GAT-1001 (Nid-de-poule) : en cours; GAT-1002 (Graffiti) : ouverte")
    assert second == "GAT-1002"
    assert len(sent_mails()) == mails  # not mailed to the city


def test_status_of_one_reference_answers_only_for_the_residents_own(region):
    text, sms = region
    text("There is a pothole on Main")
    text("Gatineau")
    text("Graffiti on the wall", sender=NEIGHBOUR)
    text("Gatineau", sender=NEIGHBOUR)
    mine, theirs = file_for(RESIDENT), file_for(NEIGHBOUR, "graffiti")

    text(f"status {mine.lower()}")
    text(f"STATUS {theirs}")

    assert sms.to(RESIDENT)[-2:] == [
        "Text311: GAT-1001 (Pothole): open",
        "Text311: we have no request GAT-1002 from this number. Text STATUS for all of yours.",
    ]


# -- the hint's geocoder never costs a text ------------------------------------------------------


class BrokenGeocoder:
    def geocode(self, query: str, area: CityArea):
        raise TimeoutError("geo-places did not answer")


GATINEAU_CITY = Subscriber(
    geonameid=5959974,
    display_name="Gatineau",
    country="CA",
    region_code="QC",
    contact_emails=("311@gatineau.example.ca",),
    agent_allow_list=(),
    time_zone="America/Toronto",
)
AREA = CityArea(5959974, "Gatineau", "CA", "QC", Point(45.47723, -75.70164), "fr")


def test_a_failing_geocoder_leaves_the_address_without_a_point():
    hints = RequestHints(BrokenGeocoder(), area=lambda geonameid, language: AREA)

    hint = hints.for_text("Nid de poule devant le 100 rue Laurier", "fr", GATINEAU_CITY)

    assert hint.service is not None and hint.service.service_code == "pothole"
    assert (hint.location.kind, hint.location.text, hint.location.point) == ("address", "100 rue Laurier", None)


def test_a_shared_point_is_kept_and_an_unknown_address_gets_no_point():
    geocoder = AddressFileGeocoder({5959974: [{"address": "100 rue Laurier", "latitude": 45.43, "longitude": -75.71}]})
    hints = RequestHints(geocoder, area=lambda geonameid, language: AREA)

    shared = hints.locate("Graffiti ici geo:45.4215,-75.6972", "fr", GATINEAU_CITY)
    unknown = hints.locate("Graffiti au 9 rue Inconnue", "fr", GATINEAU_CITY)

    assert shared.point == Point(45.4215, -75.6972)
    assert unknown.point is None


def test_a_failing_geocoder_never_costs_the_residents_text(region, monkeypatch):
    text, _ = region
    monkeypatch.setattr(services.inbound_sms_service(), "hints", RequestHints(BrokenGeocoder()))

    text("Nid de poule devant le 100 rue Laurier")
    text("Gatineau")

    [mail] = sent_mails()
    assert "« 100 rue Laurier » (introuvable sur la carte)" in mail.get_body(("plain",)).get_content()


@pytest.fixture
def flood_region(aws_env, monkeypatch):
    with mock_aws():
        sms = setup_region({**aws_env, "FLOOD_LIMIT_PER_MINUTE": "3"}, monkeypatch)
        inbound = importlib.import_module("functions.inbound_sms.handler")
        inbound.process_once.cache_clear()

        def text(body: str, at: datetime) -> None:
            event = inbound_sms_event(two_way_sms(body, RESIDENT, OUR_NUMBER), at=at)
            inbound.lambda_handler(event, LambdaContext())

        yield text, sms


def test_status_texts_count_towards_the_flood_limit(flood_region):
    text, sms = flood_region
    minute = datetime.now(UTC).replace(second=1, microsecond=0) - timedelta(minutes=5)
    text("Gatineau", minute - timedelta(minutes=1))  # a known resident, in an earlier minute
    before = len(sms.to(RESIDENT))

    for second in range(12):
        text("STATUS", minute + timedelta(seconds=second))

    replies = sms.to(RESIDENT)[before:]
    assert replies.count("Text311: we have no request on file from this number.") == 3
    assert len(replies) == 4 and replies[-1].startswith("Text311: more than 3 texts in a minute.")
