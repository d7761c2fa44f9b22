"""The console API in moto: what an agent can see and do, and that one city never sees another."""

from __future__ import annotations

import importlib
import json

import pytest
from aws_events import http_api_request, inbound_sms_event, two_way_sms
from harness import GATINEAU, KINGSTON, OUR_NUMBER, LambdaContext, sent_mails, setup_region
from moto import mock_aws

from text311 import services
from text311.adapters.dynamodb import ConversationModel
from text311.auth import LocalSessionVerifier, Unauthorized

CONTEXT = LambdaContext("console-api", 30_000)

GATINEAU_AGENT = {"email": "marie@gatineau.example.ca", "custom:municipality_id": str(GATINEAU.geonameid),
                  "custom:role": "agent"}
GATINEAU_SUPERVISOR = {**GATINEAU_AGENT, "email": "chef@gatineau.example.ca", "custom:role": "supervisor"}
GATINEAU_OTHER_AGENT = {**GATINEAU_AGENT, "email": "luc@gatineau.example.ca"}
RESIDENT = "+18195550123"
# Transfers that end in the city's domain but name someone else too (issue 17, item 2).
INJECTED_AGENTS = ["mallory@evil.example, marie@gatineau.example.ca",
                   "x@evil\nbcc: marie@gatineau.example.ca",
                   "a@evil@gatineau.example.ca",
                   "Mallory <marie@gatineau.example.ca>"]
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


def call(api, method, path, claims, body=None, query=None, headers=None, raw_body=None):
    event = http_api_request(method, path, claims=claims, body=body, query=query, headers=headers)
    if raw_body is not None:
        event["body"] = raw_body
    response = api.lambda_handler(event, CONTEXT)
    return response["statusCode"], json.loads(response["body"]) if response.get("body") else None


def conversation(conversation_id: str) -> ConversationModel:
    return ConversationModel.get(GATINEAU.geonameid, conversation_id)


def text_again(body: str) -> None:
    inbound = importlib.import_module("functions.inbound_sms.handler")
    inbound.lambda_handler(inbound_sms_event(two_way_sms(body, RESIDENT, OUR_NUMBER)), CONTEXT)


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
    status, _ = call(api, "POST", f"/conversations/{kingston_id}/answer", GATINEAU_AGENT, {"text": "hello"},
                     headers={"idempotency-key": "click-other-city"})
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
    status, body = call(api, "POST", path, GATINEAU_AGENT, {"agent": "sam@kingston.example.ca"})
    assert status == 400 and "not an agent of this city" in body["message"]
    status, body = call(api, "POST", path, GATINEAU_AGENT, {"agent": "luc@gatineau.example.ca"})
    assert status == 200 and body["owner"] == "luc@gatineau.example.ca"


def test_close_reopen_and_notes(region):
    api, _ = region
    [conversation_id] = ids(api, GATINEAU_AGENT)
    assert call(api, "POST", f"/conversations/{conversation_id}/close", GATINEAU_AGENT)[1]["status"] == "closed"
    assert ids(api, GATINEAU_AGENT) == [] and ids(api, GATINEAU_AGENT, status="closed") == [conversation_id]
    status, answer = call(api, "POST", f"/conversations/{conversation_id}/answer", GATINEAU_AGENT, {"text": "hi"},
                          headers={"idempotency-key": "click-closed"})
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
    call(api, "POST", f"/conversations/{conversation_id}/answer", GATINEAU_AGENT, {"text": "On it."},
         headers={"idempotency-key": "click-stats"})
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
    status, body = call(api, "POST", f"/conversations/{conversation_id}/answer", GATINEAU_AGENT, {"txt": "x"},
                        headers={"idempotency-key": "click-bad"})
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


@pytest.mark.parametrize("agent", INJECTED_AGENTS)
def test_a_transfer_to_anything_but_one_bare_address_is_400_and_changes_nothing(region, agent):
    api, _ = region
    [conversation_id] = ids(api, GATINEAU_AGENT)

    status, body = call(api, "POST", f"/conversations/{conversation_id}/assign", GATINEAU_AGENT, {"agent": agent})

    assert status == 400 and body["message"].startswith("agent: ")
    assert conversation(conversation_id).owner_email is None
    _, thread = call(api, "GET", f"/conversations/{conversation_id}", GATINEAU_AGENT)
    assert [m for m in thread["messages"] if m["direction"] == "note"] == []


def test_a_stored_owner_that_is_not_one_agent_is_no_owner_for_the_next_mail(region):
    api, _ = region
    [conversation_id] = ids(api, GATINEAU_AGENT)
    conversation(conversation_id).update(actions=[ConversationModel.owner_email.set(INJECTED_AGENTS[0])])

    text_again("Still a pothole on rue Laurier")

    mail = sent_mails()[-1]
    assert "Still a pothole" in mail.get_body(preferencelist=("plain",)).get_content()
    assert str(mail["To"]) == "311@gatineau.example.ca" and mail["Cc"] is None
    _, thread = call(api, "GET", f"/conversations/{conversation_id}", GATINEAU_AGENT)
    assert thread["conversation"]["owner"] is None


def test_an_agent_takes_a_conversation_whose_stored_owner_is_not_one_agent(region):
    api, _ = region
    [conversation_id] = ids(api, GATINEAU_AGENT)
    conversation(conversation_id).update(actions=[ConversationModel.owner_email.set(INJECTED_AGENTS[1])])

    status, body = call(api, "POST", f"/conversations/{conversation_id}/claim", GATINEAU_AGENT)

    assert (status, body["owner"]) == (200, GATINEAU_AGENT["email"])


def test_a_notice_for_a_stored_owner_that_is_not_one_agent_goes_to_the_city_inbox(region):
    api, _ = region
    [conversation_id] = ids(api, GATINEAU_AGENT)
    conversation(conversation_id).update(actions=[ConversationModel.owner_email.set(INJECTED_AGENTS[2])])

    services.notify_thread(conversation(conversation_id), GATINEAU, "The answer was not delivered.")

    assert str(sent_mails()[-1]["To"]) == "311@gatineau.example.ca"


def test_sending_an_sms_without_an_idempotency_key_is_400_and_sends_nothing(region):
    api, sms = region
    [conversation_id] = ids(api, GATINEAU_AGENT)
    before = len(sms.flush().sent)

    status, body = call(api, "POST", f"/conversations/{conversation_id}/answer", GATINEAU_AGENT, {"text": "On it."})

    assert status == 400 and "Idempotency-Key" in body["message"]
    assert len(sms.flush().sent) == before


@pytest.mark.parametrize(("raw", "message"), [("{not json", "the body is not valid JSON"),
                                              ('["agent"]', "the body must be a JSON object")])
def test_a_malformed_body_is_400_with_a_short_message(region, raw, message):
    api, _ = region
    [conversation_id] = ids(api, GATINEAU_AGENT)

    status, body = call(api, "POST", f"/conversations/{conversation_id}/notes", GATINEAU_AGENT, raw_body=raw)

    assert (status, body["message"]) == (400, message)


def test_an_agent_cannot_close_a_conversation_another_agent_owns(region):
    api, _ = region
    [conversation_id] = ids(api, GATINEAU_AGENT)
    call(api, "POST", f"/conversations/{conversation_id}/claim", GATINEAU_OTHER_AGENT)

    status, _ = call(api, "POST", f"/conversations/{conversation_id}/close", GATINEAU_AGENT)

    assert status == 403 and conversation(conversation_id).status == "open"


def test_an_agent_closes_their_own_conversation_or_an_unowned_one(region):
    api, _ = region
    [conversation_id] = ids(api, GATINEAU_AGENT)
    assert call(api, "POST", f"/conversations/{conversation_id}/close", GATINEAU_AGENT)[0] == 200  # unowned
    call(api, "POST", f"/conversations/{conversation_id}/reopen", GATINEAU_AGENT)
    call(api, "POST", f"/conversations/{conversation_id}/claim", GATINEAU_AGENT)
    assert call(api, "POST", f"/conversations/{conversation_id}/close", GATINEAU_AGENT)[0] == 200  # own


def test_a_supervisor_closes_any_conversation_of_the_city(region):
    api, _ = region
    [conversation_id] = ids(api, GATINEAU_AGENT)
    call(api, "POST", f"/conversations/{conversation_id}/claim", GATINEAU_OTHER_AGENT)

    status, body = call(api, "POST", f"/conversations/{conversation_id}/close", GATINEAU_SUPERVISOR)

    assert status == 200 and body["status"] == "closed"


def test_the_thread_shows_the_resident_opted_out_after_stop(region):
    api, _ = region
    [conversation_id] = ids(api, GATINEAU_AGENT)
    assert call(api, "GET", f"/conversations/{conversation_id}", GATINEAU_AGENT)[1]["conversation"][
        "resident_opted_out"] is False

    text_again("STOP")

    _, thread = call(api, "GET", f"/conversations/{conversation_id}", GATINEAU_AGENT)
    assert thread["conversation"]["resident_opted_out"] is True


KINGSTON_SUPERVISOR = {**KINGSTON_AGENT, "email": "chef@kingston.example.ca", "custom:role": "supervisor"}


@pytest.mark.parametrize(("method", "action", "body"), [
    ("GET", "", None), ("POST", "/claim", None), ("POST", "/assign", {"agent": "sam@kingston.example.ca"}),
    ("POST", "/close", None), ("POST", "/reopen", None), ("POST", "/notes", {"text": "peek"}),
])
def test_a_supervisor_of_one_city_can_read_or_change_nothing_of_another(region, method, action, body):
    api, _ = region
    [kingston_id] = ids(api, KINGSTON_AGENT)

    status, _ = call(api, method, f"/conversations/{kingston_id}{action}", GATINEAU_SUPERVISOR, body)

    assert status == 404
    assert kingston_id not in ids(api, GATINEAU_SUPERVISOR, status="all", q="garbage")
    _, thread = call(api, "GET", f"/conversations/{kingston_id}", KINGSTON_SUPERVISOR)
    assert thread["conversation"]["status"] == "open" and thread["conversation"]["owner"] is None
    assert thread["history"] == [] and all(m["direction"] != "note" for m in thread["messages"])


def test_an_agent_cannot_export_the_audit_trail(region):
    api, _ = region
    query = {"from": "2026-12-01", "to": "2026-12-01"}

    def status(claims):
        return api.lambda_handler(http_api_request("GET", "/audit.csv", claims=claims, query=query), CONTEXT)

    assert status(GATINEAU_AGENT)["statusCode"] == 403
    assert status(GATINEAU_SUPERVISOR)["statusCode"] == 200


def test_a_transfer_to_a_disabled_agent_under_the_citys_domain_is_400_and_changes_nothing(region):
    # The allow-list names @gatineau.example.ca; the roster says luc was disabled by a supervisor.
    from text311.adapters.dynamodb import SubscriberModel
    from text311.agents import Agent, roster_to_json

    api, _ = region
    [conversation_id] = ids(api, GATINEAU_AGENT)
    disabled = Agent(GATINEAU_OTHER_AGENT["email"], "agent", False, "2026-01-05T09:00:00", "chef@gatineau.example.ca")
    SubscriberModel(geonameid=GATINEAU.geonameid).update(
        actions=[SubscriberModel.agents.set(roster_to_json((disabled,)))]
    )

    status, body = call(
        api,
        "POST",
        f"/conversations/{conversation_id}/assign",
        GATINEAU_AGENT,
        {"agent": GATINEAU_OTHER_AGENT["email"]},
    )

    assert status == 400 and "disabled" in body["message"]
    assert conversation(conversation_id).owner_email is None
    _, thread = call(api, "GET", f"/conversations/{conversation_id}", GATINEAU_AGENT)
    assert [m for m in thread["messages"] if m["direction"] == "note"] == [] and thread["history"] == []


def test_a_supervisor_sees_their_own_citys_usage_as_the_cli_counts_it_and_an_agent_does_not(region):
    from datetime import UTC, datetime

    from text311.usage import usage_for

    api, sms = region
    [conversation_id] = ids(api, GATINEAU_AGENT)
    call(api, "POST", f"/conversations/{conversation_id}/answer", GATINEAU_AGENT, {"text": "On it."},
         headers={"idempotency-key": "click-usage"})
    sms.flush()
    month = datetime.now(UTC).strftime("%Y-%m")

    assert call(api, "GET", "/usage", GATINEAU_AGENT, query={"month": month})[0] == 403
    assert call(api, "GET", "/usage", GATINEAU_SUPERVISOR, query={"month": "2026-13"})[0] == 400
    # The city is the caller's: a query naming another is not read.
    status, shown = call(api, "GET", "/usage", GATINEAU_SUPERVISOR,
                         query={"month": month, "city": str(KINGSTON.geonameid)})

    assert status == 200
    assert shown["figures"] == usage_for(GATINEAU.geonameid, month).figures()
    assert shown["figures"]["city_id"] == GATINEAU.geonameid
    assert shown["figures"]["inbound_texts"] == 1 and shown["figures"]["sms_sent"] == 1
    unknown = [line for line in shown["costs"] if line["cost"] is None]
    assert shown["unknown_costs"] == len(unknown)
