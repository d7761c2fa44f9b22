"""Service requests in the console (issue 20, items 3 and 6; issue 22, item 6), through the console_api
handler in moto: the thread's suggestion, filing once per click with the resident texted its reference,
status changes texted once, the city's list with filters and pages, the supervisors' CSV, the search
by reference, and that nothing of one city can be read or changed through another city's session."""

from __future__ import annotations

import csv
import importlib
import io
import json
from datetime import UTC, datetime, timedelta

import pytest
from aws_events import http_api_request, inbound_sms_event, two_way_sms
from harness import GATINEAU, KINGSTON, OUR_NUMBER, LambdaContext, setup_region
from moto import mock_aws

from text311 import services
from text311.service_requests import ServiceRequestStore

CONTEXT = LambdaContext("console-api", 30_000)
RESIDENT = "+18195550123"
KINGSTON_RESIDENT = "+16135550188"
CITY = str(GATINEAU.geonameid)
AGENT = {"email": "marie@gatineau.example.ca", "custom:municipality_id": CITY, "custom:role": "agent"}
SUPERVISOR = {**AGENT, "email": "chef@gatineau.example.ca", "custom:role": "supervisor"}
KINGSTON_AGENT = {
    "email": "sam@kingston.example.ca",
    "custom:municipality_id": str(KINGSTON.geonameid),
    "custom:role": "agent",
}
KINGSTON_SUPERVISOR = {**KINGSTON_AGENT, "email": "boss@kingston.example.ca", "custom:role": "supervisor"}


@pytest.fixture
def region(aws_env, monkeypatch):
    monkeypatch.setenv("GEOCODER", "address-file")
    monkeypatch.setenv("ADDRESS_FILE", "config/local-addresses.yaml")
    with mock_aws():
        sms = setup_region(aws_env, monkeypatch)
        inbound = importlib.import_module("functions.inbound_sms.handler")
        inbound.process_once.cache_clear()
        texts = {
            RESIDENT: ["Gatineau", "Il y a un gros nid de poule devant le 100 rue Laurier"],
            KINGSTON_RESIDENT: ["Kingston ON", "Garbage missed on Princess St"],
        }
        for number, bodies in texts.items():
            for body in bodies:
                inbound.lambda_handler(inbound_sms_event(two_way_sms(body, number, OUR_NUMBER)), CONTEXT)
        api = importlib.import_module("functions.console_api.handler")
        api.answer_once.cache_clear()
        api.console_requests.cache_clear()
        yield api, sms


def call(api, method, path, claims, body=None, query=None, key=None):
    headers = {"idempotency-key": key} if key else None
    response = api.lambda_handler(
        http_api_request(method, path, claims=claims, body=body, query=query, headers=headers), CONTEXT
    )
    raw = response.get("body") or ""
    if response.get("headers", {}).get("Content-Type", "").startswith("text/csv"):
        return response["statusCode"], raw
    return response["statusCode"], json.loads(raw) if raw else None


def conversation_of(api, claims) -> str:
    status, body = call(api, "GET", "/conversations", claims)
    assert status == 200
    [conversation] = body["conversations"]
    return conversation["id"]


def file(api, claims, conversation_id, key="click-1", **body):
    return call(
        api, "POST", f"/conversations/{conversation_id}/requests", claims, {"service_code": "pothole", **body}, key=key
    )


def audit_details(api, conversation_id) -> list[str]:
    _, thread = call(api, "GET", f"/conversations/{conversation_id}", AGENT)
    return [h["detail"] for h in thread["history"] if h["action"] == "request"]


def store_request(store: ServiceRequestStore, code: str = "graffiti", address: str | None = None) -> str:
    return store.file(
        city_id=CITY,
        prefix="GAT",
        service_code=code,
        description="",
        address=address,
        lat=None,
        lon=None,
        conversation_id=None,
        source="open311",
        by="open311",
    ).reference


# -- the thread ----------------------------------------------------------------------------------


def test_the_thread_shows_the_suggested_category_and_the_geocoded_place_of_the_residents_texts(region):
    api, _ = region
    conversation_id = conversation_of(api, AGENT)

    status, body = call(api, "GET", f"/conversations/{conversation_id}/requests", AGENT, query={"lang": "en"})

    assert status == 200
    assert body["suggestion"]["service"] == {"code": "pothole", "name": "Pothole"}
    place = body["suggestion"]["location"]
    assert (place["kind"], place["lat"], place["lon"]) == ("address", 45.42985, -75.70927)
    assert place["address"] == "100 rue Laurier"
    assert {"code": "pothole", "name": "Pothole"} in body["services"] and body["requests"] == []


def test_filing_from_the_console_files_once_per_click_and_texts_the_reference_once(region):
    api, sms = region
    conversation_id = conversation_of(api, AGENT)

    first = file(api, AGENT, conversation_id)
    again = file(api, AGENT, conversation_id)  # the browser retries the same click

    assert first[0] == again[0] == 200
    request = first[1]["request"]
    assert request["reference"] == again[1]["request"]["reference"] == "GAT-1001"
    assert (request["lat"], request["lon"], request["address"]) == (45.42985, -75.70927, "100 rue Laurier")
    assert request["conversation_id"] == conversation_id and first[1]["texted"] is True
    filed = [t for t in sms.to(RESIDENT) if "GAT-1001" in t]
    assert len(filed) == 1 and "Nid-de-poule" in filed[0]
    assert audit_details(api, conversation_id) == ["GAT-1001 (pothole) filed, from the console"]
    _, listed = call(api, "GET", f"/conversations/{conversation_id}/requests", AGENT)
    assert [r["reference"] for r in listed["requests"]] == ["GAT-1001"]


def test_an_address_the_agent_edits_is_geocoded_and_one_not_found_is_kept_without_a_point(region):
    api, _ = region
    conversation_id = conversation_of(api, AGENT)

    _, found = file(api, AGENT, conversation_id, key="click-1", address="100, rue Laurier")
    _, words = file(api, AGENT, conversation_id, key="click-2", address="derrière l'aréna")

    assert (found["request"]["lat"], found["request"]["lon"]) == (45.42985, -75.70927)
    assert words["request"]["address"] == "derrière l'aréna"
    assert (words["request"]["lat"], words["request"]["lon"]) == (None, None)


def test_filing_needs_a_click_key_and_one_of_the_citys_service_codes(region):
    api, sms = region
    conversation_id = conversation_of(api, AGENT)
    before = len(sms.sent)

    no_key = call(api, "POST", f"/conversations/{conversation_id}/requests", AGENT, {"service_code": "pothole"})
    unknown = file(api, AGENT, conversation_id, service_code="teleport")

    assert no_key[0] == 400 and "Idempotency-Key" in no_key[1]["message"]
    assert unknown[0] == 400 and unknown[1]["message"].startswith("service_code:")
    assert call(api, "GET", "/requests", AGENT)[1]["requests"] == [] and len(sms.sent) == before


# -- status changes ------------------------------------------------------------------------------


def test_a_status_change_from_the_console_is_recorded_and_texted_once_per_click(region):
    api, sms = region
    conversation_id = conversation_of(api, AGENT)
    file(api, AGENT, conversation_id)
    change = {"status": "closed", "note": "Filled this morning."}

    for _ in range(2):
        status, body = call(api, "POST", "/requests/GAT-1001/status", AGENT, change, key="click-close")
        assert status == 200

    history = body["request"]["history"]
    assert [(h["status"], h["note"], h["by"]) for h in history] == [
        ("open", "", AGENT["email"]),
        ("closed", "Filled this morning.", AGENT["email"]),
    ]
    assert [r["status"] for r in call(api, "GET", "/requests", AGENT)[1]["requests"]] == ["closed"]
    closed = [t for t in sms.to(RESIDENT) if "GAT-1001" in t and "Filled this morning." in t]
    assert len(closed) == 1
    assert audit_details(api, conversation_id)[-1] == "GAT-1001 (pothole) now closed, from the console"


def test_a_status_change_of_a_request_posted_through_open311_texts_no_one(region):
    api, sms = region
    reference = store_request(services.service_requests())
    before = len(sms.sent)

    status, body = call(api, "POST", f"/requests/{reference}/status", AGENT, {"status": "in_progress"}, key="k")

    assert status == 200 and body["request"]["status"] == "in_progress" and body["texted"] is False
    assert len(sms.sent) == before


def test_a_status_that_is_not_one_of_the_three_is_refused(region):
    api, _ = region
    reference = store_request(services.service_requests())

    status, body = call(api, "POST", f"/requests/{reference}/status", AGENT, {"status": "done"}, key="k")

    assert status == 400 and body["message"].startswith("status:")
    assert services.service_requests().get(CITY, reference).status == "open"


# -- the city's list -----------------------------------------------------------------------------


def test_the_list_filters_by_status_category_and_days(region):
    api, _ = region
    store = services.service_requests()
    old_store = ServiceRequestStore(clock=lambda: datetime.now(UTC) - timedelta(days=40))
    old = store_request(old_store, "graffiti")
    pothole, graffiti = store_request(store, "pothole"), store_request(store, "graffiti")
    store.set_status(CITY, graffiti, "closed", "", "chef@gatineau.example.ca")

    def listed(**query):
        status, body = call(api, "GET", "/requests", AGENT, query=query or None)
        assert status == 200
        return [r["reference"] for r in body["requests"]]

    today = datetime.now(UTC).date()
    assert listed() == [graffiti, pothole, old]
    assert listed(status="open") == [pothole, old]
    assert listed(service_code="graffiti") == [graffiti, old]
    recent = (today - timedelta(days=7)).isoformat()
    assert listed(**{"from": recent, "to": (today + timedelta(days=1)).isoformat()}) == [graffiti, pothole]
    assert call(api, "GET", "/requests", AGENT, query={"from": "2026-13-01"})[0] == 400


def test_the_list_pages_past_fifty_with_a_cursor(region):
    api, _ = region
    store = services.service_requests()
    references = [store_request(store) for _ in range(53)]

    _, first = call(api, "GET", "/requests", AGENT)
    _, second = call(api, "GET", "/requests", AGENT, query={"cursor": first["cursor"]})

    shown = [r["reference"] for r in first["requests"] + second["requests"]]
    assert len(first["requests"]) == 50 and sorted(shown) == sorted(references) and len(set(shown)) == 53
    assert second["cursor"] is None


def test_one_request_shows_its_conversation_place_and_history(region):
    api, _ = region
    conversation_id = conversation_of(api, AGENT)
    file(api, AGENT, conversation_id)
    call(
        api, "POST", "/requests/GAT-1001/status", SUPERVISOR, {"status": "in_progress", "note": "Crew Tuesday"}, key="k"
    )

    status, body = call(api, "GET", "/requests/GAT-1001", AGENT)

    assert status == 200 and body["conversation_id"] == conversation_id
    assert body["address"] == "100 rue Laurier" and body["lat"] == 45.42985
    assert [(h["status"], h["by"], h["note"]) for h in body["history"]][-1] == (
        "in_progress",
        SUPERVISOR["email"],
        "Crew Tuesday",
    )


# -- the export ----------------------------------------------------------------------------------


def test_a_supervisor_exports_the_list_as_csv_with_formula_cells_as_text(region):
    api, _ = region
    conversation_id = conversation_of(api, AGENT)
    file(api, AGENT, conversation_id, address='=HYPERLINK("http://x.example")')

    status, body = call(api, "GET", "/requests.csv", SUPERVISOR)

    assert status == 200
    rows = list(csv.DictReader(io.StringIO(body)))
    assert [r["reference"] for r in rows] == ["GAT-1001"]
    assert rows[0]["address"] == '\'=HYPERLINK("http://x.example")'
    assert rows[0]["conversation"] == conversation_id and RESIDENT[-4:] not in body


def test_the_export_keeps_a_point_west_of_greenwich_a_number(region):
    api, _ = region
    file(api, AGENT, conversation_of(api, AGENT))

    _, body = call(api, "GET", "/requests.csv", SUPERVISOR)

    [row] = list(csv.DictReader(io.StringIO(body)))
    assert (row["lat"], row["lon"]) == ("45.42985", "-75.70927")


def test_an_agent_cannot_export_the_list(region):
    api, _ = region

    assert call(api, "GET", "/requests.csv", AGENT)[0] == 403


# -- one city never reaches another ------------------------------------------------------------------


def test_a_reference_of_one_city_asked_through_another_citys_session_is_not_found(region):
    api, sms = region
    file(api, AGENT, conversation_of(api, AGENT))
    before = len(sms.sent)

    assert call(api, "GET", "/requests/GAT-1001", KINGSTON_AGENT)[0] == 404
    changed = call(api, "POST", "/requests/GAT-1001/status", KINGSTON_SUPERVISOR, {"status": "closed"}, key="k")

    assert changed[0] == 404 and services.service_requests().get(CITY, "GAT-1001").status == "open"
    assert len(sms.sent) == before
    assert call(api, "GET", "/requests", KINGSTON_AGENT)[1]["requests"] == []
    assert "GAT-1001" not in call(api, "GET", "/requests.csv", KINGSTON_SUPERVISOR)[1]


def test_another_citys_agent_cannot_file_from_a_conversation_or_read_its_suggestion(region):
    api, _ = region
    conversation_id = conversation_of(api, AGENT)

    assert file(api, KINGSTON_AGENT, conversation_id)[0] == 404
    assert call(api, "GET", f"/conversations/{conversation_id}/requests", KINGSTON_AGENT)[0] == 404
    assert call(api, "GET", "/requests", AGENT)[1]["requests"] == []


def test_a_cursor_of_one_citys_list_is_refused_in_another(region):
    api, _ = region
    store = services.service_requests()
    for _ in range(51):
        store_request(store)
    cursor = call(api, "GET", "/requests", AGENT)[1]["cursor"]

    status, body = call(api, "GET", "/requests", KINGSTON_AGENT, query={"cursor": cursor})

    assert status == 400 and "another city" in body["message"]


# -- search by reference (issue 22, item 6) ---------------------------------------------------------


def test_the_search_finds_the_conversation_of_a_reference_even_once_it_is_closed(region):
    api, _ = region
    conversation_id = conversation_of(api, AGENT)
    file(api, AGENT, conversation_id)
    call(api, "POST", f"/conversations/{conversation_id}/close", SUPERVISOR)

    for typed in ("GAT-1001", "gat1001"):
        status, body = call(api, "GET", "/conversations", AGENT, query={"q": typed})
        assert status == 200 and [c["id"] for c in body["conversations"]] == [conversation_id]
    _, kingston = call(api, "GET", "/conversations", KINGSTON_AGENT, query={"q": "GAT-1001", "status": "all"})
    assert kingston["conversations"] == []


def test_a_cursor_asked_with_other_days_is_refused_not_a_server_error(region):
    api, _ = region
    store = services.service_requests()
    for _ in range(51):
        store_request(store)
    cursor = call(api, "GET", "/requests", AGENT)[1]["cursor"]

    status, body = call(
        api, "GET", "/requests", AGENT, query={"cursor": cursor, "from": "2020-01-01", "to": "2020-01-31"}
    )

    assert status == 400 and body["message"].startswith("cursor:")


def test_an_export_of_more_requests_than_it_holds_is_refused_not_cut_short(region, monkeypatch):
    import text311.console_requests

    api, _ = region
    monkeypatch.setattr(text311.console_requests, "EXPORT_MAX", 2)
    store = services.service_requests()
    for _ in range(2):
        store_request(store)
    assert call(api, "GET", "/requests.csv", SUPERVISOR)[0] == 200  # exactly as many as it holds

    store_request(store)
    status, body = call(api, "GET", "/requests.csv", SUPERVISOR)

    assert status == 400 and "narrow the date range" in body["message"]
