"""Satisfaction (issue 22, item 3): one survey text when an agent closes a conversation of a city
that opted in, never after an emergency or an opt-out; the 1-5 reply is recorded against the
conversation and its agent and never reaches the city. Console API and inbound_sms handler in moto."""

from __future__ import annotations

import importlib
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from aws_events import http_api_request, inbound_sms_event, two_way_sms
from harness import GATINEAU, KINGSTON, OUR_NUMBER, LambdaContext, sent_mails, setup_region
from moto import mock_aws

from text311.adapters.dynamodb import ConversationModel
from text311.conversations import ConversationStore
from text311.satisfaction import parse_score

CONTEXT = LambdaContext("console-api", 30_000)
RESIDENT = "+18195550123"
AGENT = {"email": "marie@gatineau.example.ca", "custom:municipality_id": str(GATINEAU.geonameid),
         "custom:role": "agent"}
SURVEY_EN = "Text311: how did we do? Reply with a number from 1 (poor) to 5 (very good)."
SURVEYING_GATINEAU = replace(GATINEAU, survey=True)


def _region(aws_env, monkeypatch, gatineau):
    sms = setup_region(aws_env, monkeypatch, subscribers=(gatineau, KINGSTON))
    importlib.import_module("functions.inbound_sms.handler").process_once.cache_clear()
    api = importlib.import_module("functions.console_api.handler")
    api.answer_once.cache_clear()
    return api, sms


@pytest.fixture
def region(aws_env, monkeypatch):
    with mock_aws():
        yield _region(aws_env, monkeypatch, SURVEYING_GATINEAU)


def resident_texts(body: str, at: datetime | None = None, message_id: str | None = None) -> None:
    inbound = importlib.import_module("functions.inbound_sms.handler")
    payload = two_way_sms(body, RESIDENT, OUR_NUMBER, message_id=message_id)
    assert inbound.lambda_handler(inbound_sms_event(payload, at=at), CONTEXT) == {"batchItemFailures": []}


def call(api, path, body=None, headers=None):
    response = api.lambda_handler(http_api_request("POST", path, claims=AGENT, body=body, headers=headers), CONTEXT)
    return response["statusCode"], json.loads(response["body"]) if response.get("body") else None


def answered_conversation(api, report: str = "Pothole on rue Laurier") -> str:
    """A resident's report that an agent answered from the console: the agent owns it."""
    resident_texts("Gatineau")
    resident_texts(report)
    [conversation] = [c for c in ConversationModel.query(GATINEAU.geonameid) if c.status == "open"]
    status, _ = call(api, f"/conversations/{conversation.conversation_id}/answer", {"text": "A crew is on its way."},
                     headers={"idempotency-key": "click-answer"})
    assert status == 200
    return conversation.conversation_id


def close(api, conversation_id: str) -> None:
    status, body = call(api, f"/conversations/{conversation_id}/close")
    assert status == 200 and body["status"] == "closed"


def surveys(sms) -> list[str]:
    return [t for t in sms.to(RESIDENT) if "how did we do" in t or "comment avons-nous fait" in t]


def conversations() -> list[ConversationModel]:
    return list(ConversationModel.query(GATINEAU.geonameid))


# -- the score ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("reply, score", [("5", 5), ("5!", 5), (" 4 ", 4), ("1.", 1), ("3)", 3)])
def test_a_digit_from_1_to_5_is_a_score(reply, score):
    assert parse_score(reply) == score


@pytest.mark.parametrize("reply", ["0", "6", "10", "five", "cinq", "5 stars but the hole is back", "4/5", ""])
def test_words_out_of_range_numbers_and_sentences_are_no_score(reply):
    assert parse_score(reply) is None


# -- the survey ---------------------------------------------------------------------------------------

def test_closing_an_answered_conversation_sends_one_survey_in_its_language(region):
    api, sms = region
    conversation_id = answered_conversation(api)
    close(api, conversation_id)
    assert surveys(sms) == [SURVEY_EN]
    assert ConversationModel.get(GATINEAU.geonameid, conversation_id).survey_sent_at is not None


def test_closing_again_after_a_reopen_sends_no_second_survey(region):
    api, sms = region
    conversation_id = answered_conversation(api)
    close(api, conversation_id)
    call(api, f"/conversations/{conversation_id}/reopen")
    close(api, conversation_id)
    close(api, conversation_id)
    assert len(surveys(sms)) == 1


def test_no_survey_when_the_city_has_not_opted_in(aws_env, monkeypatch):
    with mock_aws():
        api, sms = _region(aws_env, monkeypatch, GATINEAU)
        close(api, answered_conversation(api))
        assert surveys(sms) == []


def test_no_survey_after_an_emergency(region):
    api, sms = region
    close(api, answered_conversation(api, "There is a fire on rue Laurier"))
    assert surveys(sms) == []


def test_no_survey_to_a_resident_who_opted_out(region):
    api, sms = region
    conversation_id = answered_conversation(api)
    resident_texts("STOP")
    close(api, conversation_id)
    assert surveys(sms) == []


def test_an_idle_conversation_closed_by_a_new_text_gets_no_survey(region):
    api, sms = region
    answered_conversation(api)
    resident_texts("Another pothole", at=datetime.now(UTC) + timedelta(days=60))
    assert [c.status for c in sorted(conversations(), key=lambda c: c.opened_at)] == ["closed", "open"]
    assert surveys(sms) == []


# -- the reply ----------------------------------------------------------------------------------------

def test_a_score_is_recorded_against_the_conversation_and_its_agent_and_never_reaches_the_city(region):
    api, sms = region
    conversation_id = answered_conversation(api)
    close(api, conversation_id)
    sms.flush()  # the answer and the survey go out (the agent is assigned) before the resident replies
    mails = len(sent_mails())
    resident_texts("5!", message_id="score-1")
    resident_texts("5!", message_id="score-1")  # redelivered
    conversation = ConversationModel.get(GATINEAU.geonameid, conversation_id)
    assert (conversation.satisfaction, conversation.satisfaction_agent) == (5, AGENT["email"])
    assert len(sent_mails()) == mails
    assert [c.conversation_id for c in conversations()] == [conversation_id]


def test_a_digit_that_picks_a_place_from_a_list_is_a_choice_not_a_score(region):
    api, sms = region
    conversation_id = answered_conversation(api)
    close(api, conversation_id)
    sms.flush()
    resident_texts("CHANGE")
    resident_texts("Richmond")  # several places: a numbered list
    resident_texts("1")
    assert ConversationModel.get(GATINEAU.geonameid, conversation_id).satisfaction is None


@pytest.mark.parametrize("reply", ["five", "6", "The hole is back"])
def test_any_other_reply_reaches_the_city_as_today(region, reply):
    api, sms = region
    conversation_id = answered_conversation(api)
    close(api, conversation_id)
    mails = len(sent_mails())
    resident_texts(reply)
    assert ConversationModel.get(GATINEAU.geonameid, conversation_id).satisfaction is None
    assert len(sent_mails()) == mails + 1 and len(conversations()) == 2


def test_a_late_score_reaches_the_city_as_a_new_conversation(region):
    api, sms = region
    conversation_id = answered_conversation(api)
    close(api, conversation_id)
    mails = len(sent_mails())
    resident_texts("4", at=datetime.now(UTC) + timedelta(hours=25))
    assert ConversationModel.get(GATINEAU.geonameid, conversation_id).satisfaction is None
    assert len(sent_mails()) == mails + 1


def test_a_second_score_is_an_ordinary_text(region):
    api, sms = region
    conversation_id = answered_conversation(api)
    close(api, conversation_id)
    resident_texts("2")
    mails = len(sent_mails())
    resident_texts("4")
    assert ConversationModel.get(GATINEAU.geonameid, conversation_id).satisfaction == 2
    assert len(sent_mails()) == mails + 1


def test_a_text_landing_while_the_agent_closes_does_not_undo_the_close(region):
    api, sms = region
    conversation_id = answered_conversation(api)
    stale = ConversationModel.get(GATINEAU.geonameid, conversation_id)  # what the console read
    ConversationModel.get(GATINEAU.geonameid, conversation_id).update(
        actions=[ConversationModel.message_count.add(1)])  # the resident's text, written meanwhile
    assert ConversationStore(retention_days=30, idle_days=7).close_with_survey(stale, datetime.now(UTC))
    assert ConversationModel.get(GATINEAU.geonameid, conversation_id).status == "closed"


def test_no_survey_when_the_resident_has_since_texted_another_city(region):
    api, sms = region
    conversation_id = answered_conversation(api)
    resident_texts("CHANGE")
    resident_texts("Kingston")
    resident_texts("Streetlight out on Princess St")  # their current conversation is Kingston's now
    close(api, conversation_id)
    sms.flush()
    assert surveys(sms) == []


def test_a_score_after_a_thanks_is_still_recorded_against_the_surveyed_conversation(region):
    api, sms = region
    conversation_id = answered_conversation(api)
    close(api, conversation_id)
    sms.flush()
    resident_texts("Thanks!")  # opens a new conversation: a real text, mailed to the city
    mails = len(sent_mails())
    resident_texts("5")
    assert ConversationModel.get(GATINEAU.geonameid, conversation_id).satisfaction == 5
    assert len(sent_mails()) == mails  # the score is not mailed into the new conversation
