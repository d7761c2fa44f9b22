"""A city's Open311 services (text311.city_services): the default list, the Open311 shape, storage
with the subscriber, and the category suggestion."""

from __future__ import annotations

import pytest
from harness import bound_subscribers_table

from text311.adapters.dynamodb import SubscriberModel
from text311.city_services import (
    Service,
    ServiceError,
    ServiceText,
    default_services,
    from_json,
    merge,
    parse_open311_list,
    suggest_service,
    to_json,
)
from text311.subscribers import Subscriber, UnknownSubscriber

OPEN311_FIELDS = ["service_code", "service_name", "description", "metadata", "type", "keywords", "group"]
# The shape of a real endpoint's services.json (GeoReport v2): keywords one comma-separated string.
ENDPOINT_SERVICES = [
    {
        "service_code": "001",
        "service_name": "Cans left out 24x7",
        "description": "Garbage or recycling cans left out",
        "metadata": True,
        "type": "realtime",
        "keywords": "lorem, ipsum, dolor",
        "group": "sanitation",
    },
    {
        "service_code": "002",
        "metadata": False,
        "type": "batch",
        "keywords": "",
        "group": "street",
        "service_name": "Construction plate shifted",
        "description": "Metal construction plate covering the street",
    },
]


def _by_code(services) -> dict[str, Service]:
    return {s.service_code: s for s in services}


def test_the_default_list_has_the_common_municipal_services_in_english_and_french():
    services = _by_code(default_services())
    for code in (
        "pothole",
        "streetlight",
        "graffiti",
        "missed_collection",
        "noise",
        "abandoned_vehicle",
        "water_leak",
        "tree",
        "snow_removal",
        "sidewalk",
        "park",
        "animal",
        "parking",
        "other",
    ):
        assert code in services
    for service in services.values():
        assert set(service.languages) == {"en", "fr"}
        assert service.type == "realtime"
        if service.service_code != "other":
            assert service.languages["en"].keywords and service.languages["fr"].keywords


def test_a_service_in_open311_shape_has_exactly_the_specifications_fields_and_types():
    entry = _by_code(default_services())["pothole"].as_open311("fr")
    assert list(entry) == OPEN311_FIELDS
    assert (entry["service_name"], entry["group"], entry["type"], entry["metadata"]) == (
        "Nid-de-poule",
        "Voirie",
        "realtime",
        False,
    )
    assert isinstance(entry["keywords"], str) and "nid de poule" in entry["keywords"].split(",")


def test_an_endpoints_services_json_is_read_in_the_language_given():
    first, second = parse_open311_list(ENDPOINT_SERVICES, "en")
    assert first.service_code == "001" and first.metadata is True
    assert first.languages["en"] == ServiceText(
        "Cans left out 24x7", "Garbage or recycling cans left out", "sanitation", ("lorem", "ipsum", "dolor")
    )
    assert second.type == "batch" and second.languages["en"].keywords == ()
    assert first.as_open311("en")["keywords"] == "lorem,ipsum,dolor"


@pytest.mark.parametrize(
    ("document", "field"),
    [
        ({"service_code": "x"}, "list"),
        ([{"service_code": "", "service_name": "No code"}], "service_code"),
        ([{"service_code": "a b", "service_name": "Space"}], "service_code"),
        ([{"service_code": "x", "service_name": ""}], "service_name"),
        ([{"service_code": "x", "service_name": "X", "type": "sometimes"}], "type"),
        ([{"service_code": "x", "service_name": "X", "metadata": "maybe"}], "metadata"),
        ([{"service_code": "x", "service_name": "X"}, {"service_code": "x", "service_name": "Y"}], "twice"),
    ],
)
def test_a_bad_services_json_is_refused_naming_the_problem(document, field):
    with pytest.raises(ServiceError, match=field):
        parse_open311_list(document, "en")


def test_merge_adds_a_language_to_a_known_code_and_appends_a_new_one():
    pothole_es = Service("pothole", {"fr": ServiceText("Trou dans la chaussée", keywords=("trou",))})
    bench = Service("bench", {"en": ServiceText("Bench")})
    merged = _by_code(merge(default_services(), [pothole_es, bench]))
    assert merged["pothole"].languages["fr"].service_name == "Trou dans la chaussée"
    assert merged["pothole"].languages["en"].service_name == "Pothole"  # kept
    assert list(merged)[-1] == "bench"


def test_the_stored_form_reads_back_the_same_services():
    assert from_json(to_json(default_services())) == default_services()


# --- the suggestion ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "language", "code"),
    [
        ("There's a huge pothole in front of my house", "en", "pothole"),
        ("potholes everywhere on Main", "en", "pothole"),
        ("potholle on bank street", "en", "pothole"),  # one typo
        ("Gros nid-de-poule devant chez moi", "fr", "pothole"),
        ("il y a des nids de poule partout", "fr", "pothole"),
        ("The street light is out on my block", "en", "streetlight"),
        ("Le lampadaire est éteint depuis 3 jours", "fr", "streetlight"),
        ("traffic light is out at the corner", "en", "traffic_signal"),
        ("Mon bac bleu n'a pas été ramassé ce matin", "fr", "missed_collection"),
        ("garbage was not picked up this week", "en", "missed_collection"),
        ("Someone is blocking my driveway", "en", "parking"),
        ("Fuite d'eau sur le trottoir près de la borne-fontaine", "fr", "water_leak"),
        ("My street hasn't been plowed", "en", "snow_removal"),
        ("Un raton laveur mort dans la rue", "fr", "animal"),
        ("the pothole on my street", "fr", "pothole"),  # no French keyword: the English ones
    ],
)
def test_a_text_is_suggested_the_service_whose_keywords_it_uses(text, language, code):
    suggestion = suggest_service(text, language, default_services())
    assert suggestion is not None and suggestion.service_code == code


@pytest.mark.parametrize(
    "text",
    ["Hello, I have a question about my tax bill", "Bonjour", "", "pothole and graffiti"],
)
def test_no_suggestion_when_no_keyword_matches_or_two_services_match_equally(text):
    assert suggest_service(text, "en", default_services()) is None


def test_the_citys_own_keywords_decide_the_suggestion():
    services = [Service("bench", {"en": ServiceText("Bench", keywords=("bench", "seat"))})]
    assert suggest_service("broken seat at the bus stop", "en", services).service_code == "bench"
    assert suggest_service("broken seat at the bus stop", "en", default_services()) is None


# --- stored with the subscriber ------------------------------------------------------------------


def _subscriber(**overrides) -> Subscriber:
    fields = dict(
        geonameid=5959974,
        display_name="Gatineau",
        country="CA",
        region_code="QC",
        contact_emails=("311@gatineau.example",),
        agent_allow_list=("@gatineau.example",),
        time_zone="America/Toronto",
        languages=("fr", "en"),
    )
    return Subscriber(**(fields | overrides))


@pytest.fixture
def table(monkeypatch):
    with bound_subscribers_table("services-test-subscribers") as repository:
        yield repository


def test_a_new_city_is_stored_with_the_default_list(table):
    table.add(_subscriber())
    assert SubscriberModel.get(5959974).services is not None
    assert table.get(5959974).services == default_services()


def test_a_city_stored_before_service_lists_reads_the_default_list(table):
    table.add(_subscriber())
    SubscriberModel(geonameid=5959974).update(actions=[SubscriberModel.services.remove()])
    assert table.get(5959974).services == default_services()


def test_set_services_replaces_the_list_and_keeps_the_other_fields(table):
    table.add(_subscriber(canned_answers={"fr": ("Merci!",)}))
    table.set_services(5959974, ())
    stored = table.get(5959974)
    assert stored.services == () and stored.canned_answers == {"fr": ("Merci!",)}


def test_set_services_of_an_unknown_city_is_refused_and_writes_nothing(table):
    with pytest.raises(UnknownSubscriber):
        table.set_services(5959974, default_services())
    assert list(SubscriberModel.scan()) == []


# --- typos, elisions and places in the suggestion (issue 20 follow-up) ---------------------------


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("the lines on my street are marked wrong", "en"),  # "marked" is no typo of "parked"
        ("how do i get a permit for a garage sale", "en"),  # nor "garage" of "garbage"
        ("the fence next door is leaning", "en"),  # nor "leaning" of "leaking"
    ],
)
def test_an_ordinary_word_is_not_read_as_a_typo_of_a_keyword(text, language):
    assert suggest_service(text, language, default_services()) is None


@pytest.mark.parametrize(
    ("text", "language", "code"),
    [
        ("the barking next door all night", "en", "noise"),  # a noise keyword, not "parking" mistyped
        ("la bordure est brisée devant chez nous", "fr", "sidewalk"),  # a sidewalk keyword, not "ordures"
        ("potholle and graffiti on my street", "en", "graffiti"),  # a keyword as written ranks above a typo
    ],
)
def test_a_keyword_written_exactly_wins_over_a_typo_match(text, language, code):
    suggestion = suggest_service(text, language, default_services())
    assert suggestion is not None and suggestion.service_code == code


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("l'arbre de la ville est mort", "tree"),
        ("larbre devant chez nous penche", "tree"),
        ("pression deau très basse", "water_leak"),
        ("les jeux deau fonctionnent pas", "park"),
    ],
)
def test_a_french_elision_with_or_without_its_apostrophe_reads_as_the_word(text, code):
    suggestion = suggest_service(text, "fr", default_services())
    assert suggestion is not None and suggestion.service_code == code


def test_an_english_word_is_not_read_as_a_french_elision():
    # "nice" would be n'+"ice" if English keywords were read the French way.
    assert suggest_service("nice day, thanks", "en", default_services()) is None


@pytest.mark.parametrize(
    "text",
    [
        "pothole at Main St & Park Ave",  # the street, not the park
        "pothole on Park Ave, huge",
        "pothole https://maps.apple.com/place?coordinate=45.42,-75.69&name=Marked%20Location",  # not "parked"
    ],
)
def test_the_words_of_a_link_or_a_street_name_do_not_suggest_a_service(text):
    suggestion = suggest_service(text, "en", default_services())
    assert suggestion is not None and suggestion.service_code == "pothole"
