"""An agent's click and the conversation's other writers at once. A resident's text threaded into the
conversation, or the drainer recording a sent answer, moves the item's version between the moment the console
(or the drainer) read it and the moment it writes. That is no conflict for a change of one attribute: the click
succeeds and the answer keeps its owner. (Seen in the e2e run: a transfer clicked while the answer's send was
being recorded came back 500 and changed nothing.)"""

from __future__ import annotations

import pytest
from aws_events import http_api_request
from harness import GATINEAU, LambdaContext
from test_console_api import GATINEAU_AGENT, GATINEAU_SUPERVISOR, call, conversation, ids, region  # noqa: F401
from test_departments import AGENT, add_works, api, conversation_of_resident, inbound, resident_texts  # noqa: F401
from test_departments import call as departments_call

from text311 import services
from text311.adapters.dynamodb import ConversationModel
from text311.console import ConsoleService
from text311.conversations import ConversationStore


def a_text_is_threaded(conversation_id: str) -> None:
    """What the inbound path writes when a text joins the thread: a count moved, the version with it."""
    ConversationModel.get(GATINEAU.geonameid, conversation_id).update(
        actions=[ConversationModel.message_count.add(1)], add_version_condition=False
    )


@pytest.fixture
def a_write_after_every_read(monkeypatch):
    """Every read of a conversation is followed by another writer's update before the reader writes."""

    def then_written(read):
        def reading(*args, **kwargs):
            found = read(*args, **kwargs)
            if found is not None:
                a_text_is_threaded(found.conversation_id)
            return found

        return reading

    monkeypatch.setattr(ConsoleService, "_conversation", then_written(ConsoleService._conversation))
    monkeypatch.setattr(ConversationStore, "get", then_written(ConversationStore.get))


@pytest.mark.parametrize(
    ("claims", "action", "body", "expected"),
    [
        (GATINEAU_AGENT, "claim", None, {"owner": GATINEAU_AGENT["email"]}),
        (GATINEAU_AGENT, "assign", {"agent": "luc@gatineau.example.ca"}, {"owner": "luc@gatineau.example.ca"}),
        (GATINEAU_AGENT, "close", None, {"status": "closed"}),
        (GATINEAU_SUPERVISOR, "close", None, {"status": "closed"}),
    ],
)
def test_a_console_change_succeeds_when_a_text_lands_between_its_read_and_its_write(
    region, a_write_after_every_read, claims, action, body, expected  # noqa: F811
):
    console_api, _ = region
    [conversation_id] = ids(console_api, GATINEAU_AGENT)
    status, view = call(console_api, "POST", f"/conversations/{conversation_id}/{action}", claims, body)
    assert status == 200, view
    assert {key: view[key] for key in expected} == expected
    stored = conversation(conversation_id)
    assert {key: getattr(stored, {"owner": "owner_email"}.get(key, key)) for key in expected} == expected


def test_a_reopen_succeeds_when_a_text_lands_between_its_read_and_its_write(
    region, a_write_after_every_read  # noqa: F811
):
    console_api, _ = region
    [conversation_id] = ids(console_api, GATINEAU_AGENT)
    assert call(console_api, "POST", f"/conversations/{conversation_id}/close", GATINEAU_AGENT)[0] == 200
    status, view = call(console_api, "POST", f"/conversations/{conversation_id}/reopen", GATINEAU_AGENT)
    assert (status, view["status"], conversation(conversation_id).status) == (200, "open", "open")


def test_a_transfer_to_a_department_succeeds_when_a_text_lands_between_its_read_and_its_write(
    api, inbound, a_write_after_every_read  # noqa: F811
):
    resident_texts(inbound, "Il y a un nid de poule devant le 12 rue Laurier")
    resident_texts(inbound, "Gatineau")
    conversation_id = conversation_of_resident(api)
    department_id = add_works(api)
    status, view = departments_call(
        api, "POST", f"/conversations/{conversation_id}/transfer", AGENT, {"department": department_id}
    )
    assert status == 200, view
    assert (view["department"], view["owner"]) == ("Travaux publics", None)
    stored = ConversationModel.get(GATINEAU.geonameid, conversation_id)
    assert (stored.department, stored.owner_email) == (department_id, None)


def test_an_answer_sent_while_texts_land_gets_its_owner_and_first_response_time(
    region, a_write_after_every_read  # noqa: F811
):
    console_api, sms = region
    [conversation_id] = ids(console_api, GATINEAU_AGENT)
    status, result = call(
        console_api, "POST", f"/conversations/{conversation_id}/answer", GATINEAU_AGENT,
        {"text": "A crew comes tomorrow."}, headers={"idempotency-key": "click-race"},
    )
    assert status == 200 and result["sent"], result
    assert sms.to("+18195550123").count("A crew comes tomorrow.") == 1
    stored = conversation(conversation_id)
    assert stored.owner_email == GATINEAU_AGENT["email"]
    assert stored.first_response_at is not None


def test_an_answer_sent_after_the_agent_transferred_the_conversation_does_not_take_it_back(api, inbound):  # noqa: F811
    """The e2e case: the agent sends an answer, then transfers the conversation to a department before the line
    sent it. The send, recorded after the transfer, must not make the agent the owner again (the department's
    inbox would lose the resident's next texts to them)."""
    resident_texts(inbound, "Il y a un nid de poule devant le 12 rue Laurier")
    resident_texts(inbound, "Gatineau")
    conversation_id = conversation_of_resident(api)
    department_id = add_works(api)
    event = http_api_request(
        "POST", f"/conversations/{conversation_id}/answer", claims=AGENT,
        body={"text": "Une équipe passe demain."}, headers={"idempotency-key": "click-then-transfer"},
    )
    response = api.lambda_handler(event, LambdaContext("console-api", 30_000))
    assert response["statusCode"] == 200, response
    status, view = departments_call(
        api, "POST", f"/conversations/{conversation_id}/transfer", AGENT, {"department": department_id}
    )
    assert status == 200, view

    line = services.sms_line()
    assert "Une équipe passe demain." in line.to("+18195550123")  # the drainer sends it now, after the transfer
    stored = ConversationModel.get(GATINEAU.geonameid, conversation_id)
    assert (stored.department, stored.owner_email) == (department_id, None)
    assert stored.first_response_at is not None
