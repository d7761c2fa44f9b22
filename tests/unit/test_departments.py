"""A city's departments (text311.departments) through the console API: a supervisor adds, changes and removes
them; an agent or supervisor transfers a conversation to one, and the resident's next texts are mailed to its
inbox (through the inbound SMS handler) until it is removed."""

from __future__ import annotations

import importlib
import itertools
import json
import time
from datetime import UTC, datetime

import boto3
import pytest
from aws_events import http_api_request, inbound_sms_event, two_way_sms
from harness import GATINEAU, KINGSTON, OUR_NUMBER, REGION, LambdaContext, sent_mails, setup_region
from moto import mock_aws
from test_agents import user_pool

from text311 import services
from text311.adapters.dynamodb import ConversationModel, MessageModel
from text311.audit import AuditLog
from text311.subscribers import SubscriberRepository

CONTEXT = LambdaContext("console-api", 30_000)
SUPERVISOR = {
    "email": "chef@gatineau.example.ca",
    "custom:municipality_id": str(GATINEAU.geonameid),
    "custom:role": "supervisor",
}
AGENT = {**SUPERVISOR, "email": "marie@gatineau.example.ca", "custom:role": "agent"}
KINGSTON_SUPERVISOR = {
    "email": "chef@kingston.example.ca",
    "custom:municipality_id": str(KINGSTON.geonameid),
    "custom:role": "supervisor",
}
RESIDENT = "+18195550123"  # 819: a Gatineau-area number
WORKS = {"name": "Travaux publics", "inbox": "travaux@gatineau.example.ca", "agents": ["marie@gatineau.example.ca"]}


@pytest.fixture
def api(aws_env, monkeypatch):
    with mock_aws():
        setup_region(aws_env, monkeypatch)
        monkeypatch.setenv("USER_POOL_ID", user_pool(boto3.client("cognito-idp", region_name=REGION)))
        services.reset()  # the settings now name the pool
        handler = importlib.import_module("functions.console_api.handler")
        # Marie is on Gatineau's roster: a department's agents are the city's agents.
        assert call(handler, "POST", "/settings/agents", SUPERVISOR, {"email": AGENT["email"]})[0] == 200
        yield handler
        services.reset()


def call(api, method, path, claims, body=None):
    response = api.lambda_handler(http_api_request(method, path, claims=claims, body=body), CONTEXT)
    return response["statusCode"], json.loads(response["body"]) if response.get("body") else None


def city(geonameid: int = GATINEAU.geonameid):
    return SubscriberRepository().get(geonameid)


def department_entries(geonameid: int = GATINEAU.geonameid) -> list[tuple[str, str, str]]:
    entries = AuditLog().entries(geonameid, datetime(2020, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))
    return [(e.actor, e.action, e.detail) for e in entries if e.action in ("settings.department", "transfer")]


def add_works(api) -> str:
    status, body = call(api, "POST", "/settings/departments", SUPERVISOR, WORKS)
    assert status == 200, body
    return body["id"]


def test_a_supervisor_adds_renames_and_removes_a_department_each_change_recorded(api):
    department_id = add_works(api)
    [stored] = city().departments
    assert (stored.name, stored.inbox, stored.agents) == ("Travaux publics", WORKS["inbox"], (AGENT["email"],))
    assert call(api, "GET", "/settings", SUPERVISOR)[1]["departments"] == [{"id": department_id, **WORKS}]

    renamed = {**WORKS, "name": "  Voirie  ", "inbox": "Voirie@Gatineau.example.ca", "agents": []}
    status, body = call(api, "POST", f"/settings/departments/{department_id}", SUPERVISOR, renamed)
    assert status == 200 and (body["id"], body["name"], body["inbox"]) == (
        department_id,
        "Voirie",
        "voirie@gatineau.example.ca",
    )
    # Saved again unchanged (a retried click): recorded once.
    assert call(api, "POST", f"/settings/departments/{department_id}", SUPERVISOR, renamed)[0] == 200
    assert call(api, "POST", f"/settings/departments/{department_id}/remove", SUPERVISOR)[0] == 200
    assert city().departments == ()
    assert department_entries() == [
        (
            "chef@gatineau.example.ca",
            "settings.department",
            "added Travaux publics (travaux@gatineau.example.ca, 1 agent(s))",
        ),
        (
            "chef@gatineau.example.ca",
            "settings.department",
            "changed Voirie: renamed from Travaux publics; inbox travaux@gatineau.example.ca to "
            "voirie@gatineau.example.ca; agents 1 to 0",
        ),
        ("chef@gatineau.example.ca", "settings.department", "removed Voirie"),
    ]
    # Removed already: an unknown department.
    assert call(api, "POST", f"/settings/departments/{department_id}/remove", SUPERVISOR)[0] == 404


@pytest.mark.parametrize(
    ("change", "fault"),
    [
        ({"name": ""}, "name: a name of 1 to 60"),
        ({"name": "x" * 61}, "name: a name of 1 to 60"),
        ({"name": 7}, "name: "),
        ({"name": "travaux PUBLICS"}, "name: the city already has a department named"),
        ({"inbox": "travaux@gatineau.example.ca, mallory@evil.example"}, "inbox: exactly one address"),
        ({"inbox": "Travaux <travaux@gatineau.example.ca>"}, "inbox: only the bare address"),
        ({"inbox": "travaux@kingston.example.ca"}, "inbox: travaux@kingston.example.ca is outside the city's"),
        ({"inbox": None}, "inbox: "),
        ({"agents": ["lea@gatineau.example.ca"]}, "agents: lea@gatineau.example.ca is not an enabled agent"),
        ({"agents": ["chef@kingston.example.ca"]}, "agents: chef@kingston.example.ca is not an enabled agent"),
        ({"agents": "marie@gatineau.example.ca"}, "agents: a list"),
    ],
)
def test_a_department_that_breaks_a_rule_is_refused_naming_the_field(api, change, fault):
    add_works(api)  # its name is taken
    other = {"name": "Loisirs", "inbox": "loisirs@gatineau.example.ca", "agents": [], **change}
    status, body = call(api, "POST", "/settings/departments", SUPERVISOR, other)
    assert status == 400 and body["message"].startswith(fault), body
    assert [d.name for d in city().departments] == ["Travaux publics"] and len(department_entries()) == 1


def test_a_disabled_agent_cannot_join_a_department(api):
    call(api, "POST", "/settings/agents/disable", SUPERVISOR, {"email": AGENT["email"]})
    status, body = call(api, "POST", "/settings/departments", SUPERVISOR, WORKS)
    assert status == 400 and body["message"].startswith("agents: marie@gatineau.example.ca is not an enabled")


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/settings/departments", {**WORKS, "name": "Loisirs"}),
        ("POST", "/settings/departments/{id}", {**WORKS, "name": "Loisirs"}),
        ("POST", "/settings/departments/{id}/remove", None),
    ],
)
def test_an_agent_is_refused_and_another_citys_supervisor_changes_nothing(api, method, path, body):
    department_id = add_works(api)
    before = city().departments
    assert call(api, method, path.format(id=department_id), AGENT, body)[0] == 403
    status, _ = call(api, method, path.format(id=department_id), KINGSTON_SUPERVISOR, body)
    assert status in (400, 404)  # Kingston knows no such department, nor Gatineau's addresses
    assert city().departments == before and len(department_entries()) == 1
    assert city(KINGSTON.geonameid).departments == () and department_entries(KINGSTON.geonameid) == []


# -- transfer and the next texts' mail ---------------------------------------------------------------


@pytest.fixture
def inbound(api):
    handler = importlib.import_module("functions.inbound_sms.handler")
    handler.process_once.cache_clear()
    # A warm container trusts a city it read for SUBSCRIBER_CACHE_SECONDS (a department's change reaches it
    # within them): here every read of the city comes that long after the last one.
    ticks = itertools.count(time.monotonic(), 61)
    services.subscribers().clock = lambda: next(ticks)
    return handler


def resident_texts(handler, body: str) -> None:
    payload = two_way_sms(body, RESIDENT, OUR_NUMBER)
    assert handler.lambda_handler(inbound_sms_event(payload), LambdaContext("inbound-sms")) == {"batchItemFailures": []}


def conversation_of_resident(api) -> str:
    [conversation] = call(api, "GET", "/conversations", AGENT)[1]["conversations"]
    return conversation["id"]


def test_a_transfer_to_a_department_mails_the_next_text_to_its_inbox_until_it_is_removed(api, inbound):
    resident_texts(inbound, "Il y a un nid de poule devant le 12 rue Laurier")
    resident_texts(inbound, "Gatineau")
    conversation_id = conversation_of_resident(api)
    assert call(api, "POST", f"/conversations/{conversation_id}/claim", AGENT)[0] == 200
    department_id = add_works(api)

    assert call(api, "GET", "/departments", AGENT)[1] == {
        "departments": [{"id": department_id, "name": "Travaux publics"}]
    }
    status, view = call(api, "POST", f"/conversations/{conversation_id}/transfer", AGENT, {"department": department_id})
    assert status == 200 and (view["department"], view["owner"]) == ("Travaux publics", None)
    # a retried click: one note, one entry
    assert (
        call(api, "POST", f"/conversations/{conversation_id}/transfer", AGENT, {"department": department_id})[0] == 200
    )
    [listed] = call(api, "GET", "/conversations", AGENT)[1]["conversations"]
    assert listed["department"] == "Travaux publics"

    resident_texts(inbound, "Le trou est plus gros ce matin")
    mail = sent_mails()[-1]
    assert (mail["To"], mail["Cc"]) == ("travaux@gatineau.example.ca", None)

    # Claimed again by one agent: the owner first, the city's inbox copied.
    assert call(api, "POST", f"/conversations/{conversation_id}/claim", AGENT)[0] == 200
    resident_texts(inbound, "Merci")
    assert (sent_mails()[-1]["To"], sent_mails()[-1]["Cc"]) == (AGENT["email"], "311@gatineau.example.ca")

    # Transferred back to the department, then the department removed: the city's inbox again.
    call(api, "POST", f"/conversations/{conversation_id}/transfer", AGENT, {"department": department_id})
    assert call(api, "POST", f"/settings/departments/{department_id}/remove", SUPERVISOR)[0] == 200
    resident_texts(inbound, "Toujours là")
    assert sent_mails()[-1]["To"] == "311@gatineau.example.ca"
    assert call(api, "GET", f"/conversations/{conversation_id}", AGENT)[1]["conversation"]["department"] is None

    notes = [m.body for m in MessageModel.query(conversation_id) if m.direction == "note"]
    assert notes == [
        "Transferred to the department Travaux publics by marie@gatineau.example.ca.",
        "Transferred to the department Travaux publics by marie@gatineau.example.ca.",
    ]
    transfers = [(actor, detail) for actor, action, detail in department_entries() if action == "transfer"]
    assert transfers == [
        ("marie@gatineau.example.ca", "from marie@gatineau.example.ca to department Travaux publics"),
        ("marie@gatineau.example.ca", "from marie@gatineau.example.ca to department Travaux publics"),
    ]


def test_a_transfer_to_an_unknown_or_another_citys_department_is_404_and_changes_nothing(api, inbound):
    resident_texts(inbound, "Il y a un nid de poule devant le 12 rue Laurier")
    resident_texts(inbound, "Gatineau")
    conversation_id = conversation_of_resident(api)
    kingston = {"name": "Works", "inbox": "works@kingston.example.ca", "agents": []}
    status, kingston_department = call(api, "POST", "/settings/departments", KINGSTON_SUPERVISOR, kingston)
    assert status == 200

    for department in (kingston_department["id"], "nothing"):
        status, _ = call(api, "POST", f"/conversations/{conversation_id}/transfer", AGENT, {"department": department})
        assert status == 404
    assert call(api, "POST", f"/conversations/{conversation_id}/transfer", AGENT, {})[0] == 400
    # Nor may Kingston's supervisor move Gatineau's conversation to their department.
    status, _ = call(
        api,
        "POST",
        f"/conversations/{conversation_id}/transfer",
        KINGSTON_SUPERVISOR,
        {"department": kingston_department["id"]},
    )
    assert status == 404
    assert ConversationModel.get(GATINEAU.geonameid, conversation_id).department is None
    assert [a for a in department_entries() if a[1] == "transfer"] == []
