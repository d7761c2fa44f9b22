"""The console API in moto: what an agent can see and do, and that one city never sees another."""

from __future__ import annotations

import importlib
import json

import pytest
from aws_events import http_api_request, inbound_sms_event, two_way_sms
from harness import GATINEAU, KINGSTON, OUR_NUMBER, LambdaContext, setup_region
from moto import mock_aws

from text311.auth import LocalSessionVerifier, Unauthorized

CONTEXT = LambdaContext("console-api", 30_000)

GATINEAU_AGENT = {"email": "marie@gatineau.example.ca", "custom:municipality_id": str(GATINEAU.geonameid),
                  "custom:role": "agent"}
GATINEAU_SUPERVISOR = {**GATINEAU_AGENT, "email": "chef@gatineau.example.ca", "custom:role": "supervisor"}
KINGSTON_AGENT = {"email": "sam@kingston.example.ca", "custom:municipality_id": str(KINGSTON.geonameid),
                  "custom:role": "agent"}




@pytest.fixture
def region(aws_env, monkeypatch):
    with mock_aws():
        sms = setup_region(aws_env, monkeypatch)
        inbound = importlib.import_module("functions.inbound_sms.handler")
        inbound.process_once.cache_clear()
        for number, texts in {"+18195550123": ["Gatineau", "Pothole on rue Laurier"],
                              "+16135550188": ["Kingston ON", "Garbage missed on Princess St"]}.items():
            for body in texts:
                inbound.lambda_handler(inbound_sms_event(two_way_sms(body, number, OUR_NUMBER)), CONTEXT)
        api = importlib.import_module("functions.console_api.handler")
        api.answer_once.cache_clear()
        yield api, sms


def call(api, method, path, claims, body=None, query=None, headers=None):
    response = api.lambda_handler(http_api_request(method, path, claims=claims, body=body, query=query,
                                                   headers=headers), CONTEXT)
    return response["statusCode"], json.loads(response["body"]) if response.get("body") else None


def ids(api, claims, **query):
    status, body = call(api, "GET", "/conversations", claims, query=query or None)
    assert status == 200
    return [c["id"] for c in body["conversations"]]


def test_an_agent_lists_only_their_citys_conversations(region):
    api, _ = region
    gatineau, kingston = ids(api, GATINEAU_AGENT), ids(api, KINGSTON_AGENT)
    assert len(gatineau) == 1 and len(kingston) == 1
    assert gatineau[0].startswith(f"{GATINEAU.geonameid}-") and kingston[0].startswith(f"{KINGSTON.geonameid}-")


def test_reading_another_citys_conversation_by_id_is_404(region):
    api, _ = region
    [kingston_id] = ids(api, KINGSTON_AGENT)
    assert call(api, "GET", f"/conversations/{kingston_id}", GATINEAU_AGENT)[0] == 404
    assert call(api, "GET", f"/conversations/{kingston_id}", KINGSTON_AGENT)[0] == 200


def test_answering_another_citys_conversation_is_refused_and_sends_nothing(region):
    api, sms = region
    [kingston_id] = ids(api, KINGSTON_AGENT)
    before = len(sms.sent)
    status, _ = call(api, "POST", f"/conversations/{kingston_id}/answer", GATINEAU_AGENT, {"text": "hello"})
    assert status == 404 and len(sms.sent) == before


def test_an_answer_from_the_console_reaches_the_phone_once_and_shows_in_the_thread(region):
    api, sms = region
    [conversation_id] = ids(api, GATINEAU_AGENT)
    headers = {"idempotency-key": "click-1"}
    for _ in range(2):  # the browser retries the same click
        status, body = call(api, "POST", f"/conversations/{conversation_id}/answer", GATINEAU_AGENT,
                            {"text": "A crew will fix it tomorrow."}, headers=headers)
        assert status == 200
    assert sms.to("+18195550123").count("A crew will fix it tomorrow.") == 1
    _, thread = call(api, "GET", f"/conversations/{conversation_id}", GATINEAU_AGENT)
    assert thread["conversation"]["owner"] == GATINEAU_AGENT["email"]
    assert thread["conversation"]["resident"] == "+1******0123"
    assert [m["body"] for m in thread["messages"] if m["direction"] == "out"] == ["A crew will fix it tomorrow."]
    assert ids(api, GATINEAU_AGENT, view="mine") == [conversation_id]
    assert ids(api, GATINEAU_AGENT, view="unassigned") == []


def test_claim_is_exclusive(region):
    api, _ = region
    [conversation_id] = ids(api, GATINEAU_AGENT)
    other = {**GATINEAU_AGENT, "email": "luc@gatineau.example.ca"}
    assert call(api, "POST", f"/conversations/{conversation_id}/claim", GATINEAU_AGENT)[0] == 200
    assert call(api, "POST", f"/conversations/{conversation_id}/claim", other)[0] == 409


def test_transfer_only_to_an_agent_of_the_same_city(region):
    api, _ = region
    [conversation_id] = ids(api, GATINEAU_AGENT)
    path = f"/conversations/{conversation_id}/assign"
    assert call(api, "POST", path, GATINEAU_AGENT, {"agent": "sam@kingston.example.ca"})[0] == 403
    status, body = call(api, "POST", path, GATINEAU_AGENT, {"agent": "luc@gatineau.example.ca"})
    assert status == 200 and body["owner"] == "luc@gatineau.example.ca"


def test_close_reopen_and_notes(region):
    api, _ = region
    [conversation_id] = ids(api, GATINEAU_AGENT)
    assert call(api, "POST", f"/conversations/{conversation_id}/close", GATINEAU_AGENT)[1]["status"] == "closed"
    assert ids(api, GATINEAU_AGENT) == [] and ids(api, GATINEAU_AGENT, status="closed") == [conversation_id]
    status, answer = call(api, "POST", f"/conversations/{conversation_id}/answer", GATINEAU_AGENT, {"text": "hi"})
    assert answer == {"sent": False, "reason": "closed", "detail": ""}
    call(api, "POST", f"/conversations/{conversation_id}/reopen", GATINEAU_AGENT)
    call(api, "POST", f"/conversations/{conversation_id}/notes", GATINEAU_AGENT, {"text": "Called the roads crew"})
    _, thread = call(api, "GET", f"/conversations/{conversation_id}", GATINEAU_AGENT)
    assert thread["conversation"]["status"] == "open"
    assert any(m["direction"] == "note" and m["body"] == "Called the roads crew" for m in thread["messages"])


def test_text_search_stays_inside_the_city(region):
    api, _ = region
    assert len(ids(api, GATINEAU_AGENT, q="laurier")) == 1
    assert ids(api, GATINEAU_AGENT, q="princess") == []


def test_supervisors_see_open_counts_and_first_response_times_agents_do_not(region):
    api, sms = region
    [conversation_id] = ids(api, GATINEAU_AGENT)
    call(api, "POST", f"/conversations/{conversation_id}/answer", GATINEAU_AGENT, {"text": "On it."})
    sms.flush()  # sent by the drainer: the answer counts, its agent owns the conversation
    assert call(api, "GET", "/stats", GATINEAU_AGENT)[0] == 403
    status, stats = call(api, "GET", "/stats", GATINEAU_SUPERVISOR)
    assert status == 200
    [row] = stats["agents"]
    assert row["agent"] == GATINEAU_AGENT["email"] and row["open"] == 1 and row["answered"] == 1
    assert row["median_first_response_minutes"] is not None


@pytest.mark.parametrize("claims", [None, {"email": "x@y.z"}, {**GATINEAU_AGENT, "custom:role": "admin"},
                                    {**GATINEAU_AGENT, "custom:municipality_id": "gatineau"}])
def test_requests_without_valid_claims_are_401(region, claims):
    api, _ = region
    assert call(api, "GET", "/conversations", claims)[0] == 401


def test_bad_bodies_are_400_naming_the_field(region):
    api, _ = region
    [conversation_id] = ids(api, GATINEAU_AGENT)
    status, body = call(api, "POST", f"/conversations/{conversation_id}/answer", GATINEAU_AGENT, {"txt": "x"})
    assert status == 400 and "text" in body["message"]


def test_local_sessions_verify_and_reject_tampering():
    verifier = LocalSessionVerifier(b"local-key")
    token = verifier.issue(GATINEAU_AGENT)
    assert verifier.claims({"headers": {"Authorization": f"Bearer {token}"}})["email"] == GATINEAU_AGENT["email"]
    forged = token[:-2] + ("00" if not token.endswith("00") else "11")
    with pytest.raises(Unauthorized):
        verifier.claims({"headers": {"Authorization": f"Bearer {forged}"}})
    expired = verifier.issue(GATINEAU_AGENT, now=0)
    with pytest.raises(Unauthorized):
        verifier.claims({"headers": {"Authorization": f"Bearer {expired}"}})
