"""The Open311 GeoReport v2 API (text311.open311.api) against moto: every method in JSON and XML with
the specification's field and element names, each error, and nothing personal in open data."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode
from xml.etree import ElementTree

import pytest
from harness import GATINEAU, KINGSTON
from moto import mock_aws

from text311.adapters.dynamodb import SubscriberModel
from text311.adapters.requests_table import RequestModel
from text311.open311.api import Answer, Open311Api
from text311.open311.keys import Open311SettingsStore
from text311.service_requests import ServiceRequestStore, reference_prefix
from text311.subscribers import SubscriberRepository

JURISDICTION = str(GATINEAU.geonameid)
T0 = datetime(2025, 3, 4, 14, 0, tzinfo=UTC)
# GET Service List, the service element
SERVICE_FIELDS = ["service_code", "service_name", "description", "metadata", "type", "keywords", "group"]
# GET Service Requests / GET Service Request, the request element
REQUEST_FIELDS = [
    "service_request_id",
    "status",
    "status_notes",
    "service_name",
    "service_code",
    "description",
    "agency_responsible",
    "service_notice",
    "requested_datetime",
    "updated_datetime",
    "expected_datetime",
    "address",
    "address_id",
    "zipcode",
    "lat",
    "long",
    "media_url",
]
# POST Service Request, the request element (realtime: an id, no token)
POSTED_FIELDS = ["service_request_id", "service_notice", "account_id"]
RESIDENT_PHONE, RESIDENT_EMAIL = "819-555-0143", "jeanne.tremblay@example.com"


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


class City:
    """The API of a region with Gatineau (its api_key known) and Kingston."""

    def __init__(self) -> None:
        self.clock = Clock()
        self.settings = Open311SettingsStore()
        self.store = ServiceRequestStore(clock=self.clock)
        self.api = Open311Api(
            subscribers=SubscriberRepository().get,
            settings=self.settings,
            requests=self.store,
            reference_prefix=reference_prefix,
            clock=self.clock,
        )
        self.key = self.settings.rotate_key(GATINEAU.geonameid)

    def call(self, method: str, path: str, form: dict[str, str] | None = None, **query: str) -> Answer:
        query.setdefault("jurisdiction_id", JURISDICTION)
        return self.api.answer(method, path, query, form=urlencode(form) if form is not None else None)

    def post(self, fmt: str = "json", **fields: str) -> Answer:
        form = {
            "jurisdiction_id": JURISDICTION,
            "api_key": self.key,
            "service_code": "pothole",
            "lat": "45.4286",
            "long": "-75.7134",
            "address_string": "12 rue Laurier",
            "description": "Nid-de-poule profond",
            **fields,
        }
        return self.api.answer("POST", f"requests.{fmt}", {}, form=urlencode(form))

    def filed(self, **fields: str) -> str:
        answer = self.post(**fields)
        assert answer.status == 200, answer.body
        return json.loads(answer.body)[0]["service_request_id"]


@pytest.fixture
def city() -> Iterator[City]:
    with mock_aws():
        for model, name in ((SubscriberModel, "open311-subscribers"), (RequestModel, "open311-requests")):
            model.Meta.table_name, model.Meta.region, model.Meta.host = name, "ca-central-1", None
            model._connection = None
            model.create_table(billing_mode="PAY_PER_REQUEST", wait=True)
        for subscriber in (GATINEAU, KINGSTON):
            SubscriberRepository().add(subscriber)
        try:
            yield City()
        finally:
            SubscriberModel._connection = RequestModel._connection = None


def xml_root(answer: Answer) -> ElementTree.Element:
    assert answer.content_type == "text/xml; charset=utf-8"
    assert answer.body.startswith('<?xml version="1.0" encoding="utf-8"?>')
    return ElementTree.fromstring(answer.body.encode("utf-8"))


def json_body(answer: Answer):
    assert answer.content_type == "application/json; charset=utf-8"
    return json.loads(answer.body)


def errors_of(answer: Answer, fmt: str) -> list[tuple[int, str]]:
    if fmt == "json":
        return [(e["code"], e["description"]) for e in json_body(answer)]
    root = xml_root(answer)
    assert root.tag == "errors" and [e.tag for e in root] == ["error"] * len(root)
    return [(int(e.findtext("code")), e.findtext("description")) for e in root]


# -- GET Service List ------------------------------------------------------------------------------


def test_services_json_lists_the_citys_services_with_the_specs_fields(city):
    answer = city.call("GET", "services.json")

    services = json_body(answer)
    assert answer.status == 200
    assert [list(s) for s in services] == [SERVICE_FIELDS] * len(services)
    pothole = next(s for s in services if s["service_code"] == "pothole")
    assert pothole["service_name"] == "Nid-de-poule"  # Gatineau's first language
    assert pothole["metadata"] is False and pothole["type"] == "realtime"


def test_services_xml_is_services_of_service_elements_with_the_specs_names(city):
    root = xml_root(city.call("GET", "services.xml", locale="en"))

    assert root.tag == "services"
    assert {child.tag for child in root} == {"service"}
    assert [field.tag for field in root[0]] == SERVICE_FIELDS
    pothole = next(s for s in root if s.findtext("service_code") == "pothole")
    assert pothole.findtext("service_name") == "Pothole"
    assert pothole.findtext("metadata") == "false"


# -- GET Service Definition ------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_a_service_without_metadata_has_no_definition(city, fmt):
    answer = city.call("GET", f"services/pothole.{fmt}")

    assert answer.status == 404
    [(code, description)] = errors_of(answer, fmt)
    assert code == 404 and "metadata is false" in description


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_an_unknown_service_code_is_not_found(city, fmt):
    answer = city.call("GET", f"services/sinkhole.{fmt}")

    assert answer.status == 404
    assert "service_code 'sinkhole' was not found" in errors_of(answer, fmt)[0][1]


# -- jurisdiction_id ------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_a_missing_jurisdiction_id_is_a_bad_request(city, fmt):
    answer = city.api.answer("GET", f"services.{fmt}", {})

    assert answer.status == 400
    assert errors_of(answer, fmt)[0][0] == 400


@pytest.mark.parametrize("jurisdiction", ["6077243", "gatineau.ca"])
def test_an_unknown_jurisdiction_is_not_found(city, jurisdiction):
    answer = city.call("GET", "requests.xml", jurisdiction_id=jurisdiction)

    assert answer.status == 404
    assert "was not found" in errors_of(answer, "xml")[0][1]


# -- POST Service Request -------------------------------------------------------------------------


def test_post_files_a_request_and_answers_its_service_request_id(city):
    answer = city.post()

    posted = json_body(answer)
    assert answer.status == 200
    assert [list(r) for r in posted] == [POSTED_FIELDS]
    assert posted[0]["service_request_id"] == "GAT-1001"
    stored = city.store.get(JURISDICTION, "GAT-1001")
    assert (stored.source, stored.conversation_id, stored.service_code) == ("open311", None, "pothole")
    assert (stored.lat, stored.lon, stored.address) == (45.4286, -75.7134, "12 rue Laurier")


def test_post_xml_answers_service_requests_of_one_request(city):
    root = xml_root(city.post("xml"))

    assert root.tag == "service_requests"
    [request] = root
    assert request.tag == "request"
    assert [field.tag for field in request] == POSTED_FIELDS
    assert request.findtext("service_request_id") == "GAT-1001"


def test_post_with_an_address_only_files_a_request_without_a_point(city):
    reference = city.filed(lat="", long="")

    stored = city.store.get(JURISDICTION, reference)
    assert (stored.lat, stored.lon, stored.address) == (None, None, "12 rue Laurier")


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_post_without_an_api_key_is_forbidden(city, fmt):
    answer = city.post(fmt, api_key="")

    assert answer.status == 403
    assert errors_of(answer, fmt)[0][0] == 403
    assert city.store.get(JURISDICTION, "GAT-1001") is None


def test_post_with_another_key_is_forbidden(city):
    answer = city.post(api_key=city.key[:-1] + ("A" if city.key[-1] != "A" else "B"))

    assert answer.status == 403
    assert "Invalid api_key" in errors_of(answer, "json")[0][1]


def test_a_rotated_key_replaces_the_previous_one(city):
    previous = city.key
    city.key = city.settings.rotate_key(GATINEAU.geonameid)

    assert city.post(api_key=previous).status == 403
    assert city.post().status == 200


def test_one_citys_key_files_nothing_in_another_city(city):
    answer = city.post(jurisdiction_id=str(KINGSTON.geonameid))  # Kingston has no key

    assert answer.status == 403


def test_the_stored_key_is_its_sha256_not_the_key(city):
    stored = SubscriberModel.get(GATINEAU.geonameid).open311_key_hash

    assert stored != city.key and len(stored) == 64
    assert city.key not in json.dumps(SubscriberModel.get(GATINEAU.geonameid).attribute_values, default=str)


@pytest.mark.parametrize(
    ("fields", "status", "words"),
    [
        ({"service_code": ""}, 400, "service_code was not provided"),
        ({"service_code": "sinkhole"}, 404, "service_code 'sinkhole' was not found"),
        ({"lat": "", "long": "", "address_string": ""}, 400, "a location was not provided"),
        ({"lat": "", "long": "", "address_string": "", "address_id": "545483"}, 400, "address_id"),
        ({"long": ""}, 400, "lat and long must both be sent"),
        ({"lat": "91"}, 400, "not a WGS84 latitude"),
        ({"long": "nan"}, 400, "not a WGS84 longitude"),
        ({"description": "x" * 4001}, 400, "at most 4000 characters"),
        ({"jurisdiction_id": ""}, 400, "jurisdiction_id was not provided"),
    ],
)
def test_a_bad_post_is_refused_with_the_specs_status(city, fields, status, words):
    answer = city.post("xml", **fields)

    assert answer.status == status
    [(code, description)] = errors_of(answer, "xml")
    assert code == status and words in description
    assert city.store.get(JURISDICTION, "GAT-1001") is None


# -- GET Service Request(s) -----------------------------------------------------------------------


def test_a_request_reads_back_with_every_field_of_the_spec_in_json(city):
    reference = city.filed()

    [request] = json_body(city.call("GET", f"requests/{reference}.json"))

    assert list(request) == REQUEST_FIELDS
    assert request["service_request_id"] == reference
    assert (request["status"], request["status_notes"]) == ("open", None)
    assert (request["service_code"], request["service_name"]) == ("pothole", "Nid-de-poule")
    assert (request["lat"], request["long"], request["address"]) == (45.4286, -75.7134, "12 rue Laurier")
    assert request["requested_datetime"] == request["updated_datetime"] == "2025-03-04T14:00:00Z"
    assert request["description"] is None  # not published unless the city opts in


def test_a_request_reads_back_as_service_requests_of_one_request_in_xml(city):
    reference = city.filed()

    root = xml_root(city.call("GET", f"requests/{reference}.xml"))

    assert root.tag == "service_requests"
    [request] = root
    assert request.tag == "request"
    assert [field.tag for field in request] == REQUEST_FIELDS
    assert request.findtext("lat") == "45.4286" and request.findtext("long") == "-75.7134"
    assert request.findtext("description") == ""  # an empty element


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_an_unknown_request_is_not_found(city, fmt):
    answer = city.call("GET", f"requests/GAT-9999.{fmt}")

    assert answer.status == 404
    assert "service_request_id 'GAT-9999' was not found" in errors_of(answer, fmt)[0][1]


def test_another_citys_request_is_not_found(city):
    reference = city.filed()

    answer = city.call("GET", f"requests/{reference}.json", jurisdiction_id=str(KINGSTON.geonameid))

    assert answer.status == 404


def test_requests_lists_the_last_90_days_newest_first(city):
    city.clock.now = T0 - timedelta(days=100)
    old = city.filed()
    city.clock.now = T0 - timedelta(days=2)
    older = city.filed()
    city.clock.now = T0
    newer = city.filed()

    listed = [r["service_request_id"] for r in json_body(city.call("GET", "requests.json"))]

    assert listed == [newer, older]
    assert old not in listed


def test_requests_between_start_and_end_date(city):
    city.clock.now = T0 - timedelta(days=100)
    old = city.filed()
    city.clock.now = T0

    answer = city.call("GET", "requests.xml", start_date="2024-11-01T00:00:00Z", end_date="2024-12-01T00:00:00-05:00")

    assert [r.findtext("service_request_id") for r in xml_root(answer)] == [old]


@pytest.mark.parametrize(
    ("dates", "words"),
    [
        ({"start_date": "2024-01-01T00:00:00Z", "end_date": "2024-06-01T00:00:00Z"}, "more than 90 days"),
        ({"start_date": "2024-02-01T00:00:00Z", "end_date": "2024-01-01T00:00:00Z"}, "after end_date"),
        ({"start_date": "2024-01-01T00:00:00"}, "with its zone"),
        ({"end_date": "yesterday"}, "not a w3 date-time"),
    ],
)
def test_bad_dates_are_a_bad_request(city, dates, words):
    answer = city.call("GET", "requests.json", **dates)

    assert answer.status == 400
    assert words in errors_of(answer, "json")[0][1]


def test_in_progress_is_published_open_with_its_note_and_closed_as_closed(city):
    city.settings.set_publish(GATINEAU.geonameid, True)
    working, done = city.filed(), city.filed()
    city.store.set_status(JURISDICTION, working, "in_progress", "Équipe envoyée", "agent@gatineau.example.ca")
    city.store.set_status(JURISDICTION, done, "closed", "Réparé", "agent@gatineau.example.ca")

    published = {r["service_request_id"]: r for r in json_body(city.call("GET", "requests.json"))}

    assert (published[working]["status"], published[working]["status_notes"]) == ("open", "En cours: Équipe envoyée")
    assert (published[done]["status"], published[done]["status_notes"]) == ("closed", "Réparé")


def test_status_filters_on_the_published_status(city):
    new, working, done = city.filed(), city.filed(), city.filed()
    city.store.set_status(JURISDICTION, working, "in_progress", "", "agent@gatineau.example.ca")
    city.store.set_status(JURISDICTION, done, "closed", "", "agent@gatineau.example.ca")

    def listed(status: str) -> set[str]:
        return {r["service_request_id"] for r in json_body(city.call("GET", "requests.json", status=status))}

    assert listed("open") == {new, working}
    assert listed("closed") == {done}
    assert listed("open,closed") == {new, working, done}
    assert city.call("GET", "requests.json", status="in_progress").status == 400


def test_service_code_filters_a_comma_list(city):
    pothole, graffiti = city.filed(), city.filed(service_code="graffiti")
    city.filed(service_code="noise")

    answer = city.call("GET", "requests.json", service_code="pothole,graffiti")

    assert {r["service_request_id"] for r in json_body(answer)} == {pothole, graffiti}


def test_service_request_ids_override_every_other_argument(city):
    city.clock.now = T0 - timedelta(days=200)
    old = city.filed()
    city.clock.now = T0
    new = city.filed()

    answer = city.call("GET", "requests.json", service_request_id=f"{old}, {new},GAT-9999", status="closed")

    assert {r["service_request_id"] for r in json_body(answer)} == {old, new}


def test_at_most_1000_requests_are_returned(city):
    class ManyRequests:
        def __init__(self, real: ServiceRequestStore, reference: str) -> None:
            self.one = real.get(JURISDICTION, reference)

        def list(self, city_id, **_):
            return [type(self.one)(**{**self.one.__dict__, "reference": f"GAT-{n}"}) for n in range(1500)]

    city.api.requests = ManyRequests(city.store, city.filed())

    assert len(json_body(city.call("GET", "requests.json"))) == 1000


# -- open data: nothing personal ------------------------------------------------------------------

CONTACTS = {
    "description": f"Nid-de-poule, appelez-moi au {RESIDENT_PHONE} ou {RESIDENT_EMAIL}",
    "address_string": f"12 rue Laurier (tél. {RESIDENT_PHONE})",
    "email": RESIDENT_EMAIL,
    "phone": RESIDENT_PHONE,
    "first_name": "Jeanne",
    "last_name": "Tremblay",
}


@pytest.mark.parametrize("publish", [False, True])
@pytest.mark.parametrize("path", ["requests.json", "requests.xml", "requests/GAT-1001.json", "requests/GAT-1001.xml"])
def test_no_phone_email_or_name_is_ever_published(city, publish, path):
    city.settings.set_publish(GATINEAU.geonameid, publish)
    reference = city.filed(**CONTACTS)
    city.store.set_status(JURISDICTION, reference, "in_progress", f"Rappeler au {RESIDENT_PHONE}", "agent@x.ca")

    body = city.call("GET", path).body

    for personal in (RESIDENT_PHONE, "5550143", RESIDENT_EMAIL, "example.com", "Jeanne", "Tremblay"):
        assert personal not in body


def test_descriptions_are_published_masked_only_when_the_city_opts_in(city):
    reference = city.filed(**CONTACTS)

    hidden = json_body(city.call("GET", f"requests/{reference}.json"))[0]["description"]
    city.settings.set_publish(GATINEAU.geonameid, True)
    shown = json_body(city.call("GET", f"requests/{reference}.json"))[0]["description"]

    assert hidden is None
    assert shown == "Nid-de-poule, appelez-moi au [phone] ou [e-mail]"


def test_status_notes_are_published_only_when_the_city_opts_in_else_only_the_status_label(city):
    working, done = city.filed(), city.filed()
    note = "Jeanne Tremblay sera chez elle au 14 rue Bériault mardi"
    city.store.set_status(JURISDICTION, working, "in_progress", note, "agent@gatineau.example.ca")
    city.store.set_status(JURISDICTION, done, "closed", note, "agent@gatineau.example.ca")

    hidden = {r["service_request_id"]: r["status_notes"] for r in json_body(city.call("GET", "requests.json"))}
    city.settings.set_publish(GATINEAU.geonameid, True)
    shown = {r["service_request_id"]: r["status_notes"] for r in json_body(city.call("GET", "requests.json"))}

    assert hidden == {working: "En cours", done: None}
    assert shown == {working: f"En cours: {note}", done: note}


def test_personal_fields_of_a_post_are_not_stored(city):
    reference = city.filed(**CONTACTS)

    stored = RequestModel.get(JURISDICTION, f"request#{reference}").attribute_values

    assert not {"Jeanne", "Tremblay"} & {str(v) for v in stored.values()}
    assert RESIDENT_EMAIL not in json.dumps(stored, default=str).replace(CONTACTS["description"], "")


# -- paths and methods ----------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["tokens/123.json", "services.csv", "requests", ""])
def test_an_unknown_path_is_not_found_in_the_specs_format(city, path):
    answer = city.call("GET", path)

    assert answer.status == 404
    assert errors_of(answer, "json" if path.endswith(".json") else "xml")[0][0] == 404


def test_a_method_other_than_get_or_post_is_a_bad_request(city):
    answer = city.call("DELETE", "requests/GAT-1001.json")

    assert answer.status == 400
    assert errors_of(answer, "json")[0][0] == 400


# -- a public route: what one call may cost, and who may still file ---------------------------------------


class CountingStore:
    """The real store, counting the reads one GET makes."""

    def __init__(self, real: ServiceRequestStore) -> None:
        self.real, self.reads = real, 0

    def get(self, city_id: str, reference: str):
        self.reads += 1
        return self.real.get(city_id, reference)

    def list(self, city_id: str, **filters):
        self.reads += 1
        return self.real.list(city_id, **filters)


def test_made_up_service_codes_are_refused_before_any_read(city):
    counting = CountingStore(city.store)
    city.api.requests = counting
    codes = ",".join(f"code{n}" for n in range(700))

    answer = city.call("GET", "requests.json", service_code=f"pothole,{codes}", status="open,closed")

    assert answer.status == 404
    assert "code0" in json_body(answer)[0]["description"]
    assert counting.reads == 0


def test_one_get_names_at_most_100_request_ids(city):
    counting = CountingStore(city.store)
    city.api.requests = counting
    ids = ",".join(f"GAT-{1001 + n}" for n in range(101))

    assert city.call("GET", "requests.json", service_request_id=ids).status == 400
    assert counting.reads == 0
    assert city.call("GET", "requests.json", service_request_id=ids.rsplit(",", 1)[0]).status == 200


def test_a_suspended_city_takes_no_new_request_but_its_requests_stay_readable(city):
    reference = city.filed()
    SubscriberModel(GATINEAU.geonameid).update(actions=[SubscriberModel.status.set("suspended")])

    refused = city.post()

    assert refused.status == 403
    assert city.call("GET", f"requests/{reference}.json").status == 200
    assert [r["service_request_id"] for r in json_body(city.call("GET", "requests.json"))] == [reference]
