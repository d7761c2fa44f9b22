"""Translation through the handlers, in moto: a Spanish-speaking resident and Kingston, an English city
with translation on, translated by the local phrasebook (TRANSLATOR=local-phrasebook, as `make run`)."""

from __future__ import annotations

import dataclasses
import importlib

import pytest
from harness import KINGSTON, OUR_NUMBER, LambdaContext, agent_answer, sent_mails, setup_region, text_of
from moto import mock_aws

from text311.adapters.dynamodb import ConversationModel, MessageModel
from text311.translation import LOCAL_LABEL

RESIDENT = "+16135550142"
AGENT = "sam.chen@kingston.example.ca"
REPORT = "Hay un bache enorme frente a mi casa."
ANSWER = "Thank you for your report. A crew will be at 1200 Princess Street at 10:30. Your reference is KIN-1042."
SPANISH = (
    f"{LOCAL_LABEL} Gracias por su reporte. Un equipo estará en 1200 Princess Street a las 10:30. "
    "Su referencia es KIN-1042."
)


def region_with(monkeypatch, aws_env, *, translate: bool):
    monkeypatch.setenv("TRANSLATOR", "local-phrasebook")
    sms = setup_region(aws_env, monkeypatch, subscribers=(dataclasses.replace(KINGSTON, translate=translate),))
    inbound = importlib.import_module("functions.inbound_sms.handler")
    inbound.process_once.cache_clear()
    answers = importlib.import_module("functions.inbound_email.handler")
    answers.process_once.cache_clear()
    from aws_events import inbound_sms_event, two_way_sms

    for body in [REPORT, "Kingston"]:
        inbound.lambda_handler(inbound_sms_event(two_way_sms(body, RESIDENT, OUR_NUMBER)), LambdaContext("in"))
    mails = [m for m in sent_mails() if REPORT in text_of(m)]
    assert len(mails) == 1, [text_of(m) for m in sent_mails()]
    return answers, sms, mails[0]


@pytest.fixture
def translated(aws_env, monkeypatch):
    with mock_aws():
        yield region_with(monkeypatch, aws_env, translate=True)


def messages(direction: str) -> list[MessageModel]:
    [conversation] = list(ConversationModel.query(KINGSTON.geonameid))
    return [m for m in MessageModel.query(conversation.conversation_id) if m.direction == direction]


def test_the_citys_mail_shows_the_original_and_the_marked_machine_translation(translated):
    _, _, mail = translated
    text = text_of(mail)
    assert REPORT in text
    label = "Machine translation (local phrasebook, not a real translation), from Español:"
    assert f"{label}\n{LOCAL_LABEL} There is a huge pothole in front of my house." in text
    [record] = messages("in")
    assert record.body == REPORT
    assert record.translation == f"{LOCAL_LABEL} There is a huge pothole in front of my house."
    assert record.translation_language == "en"
    assert record.translated_chars == len(REPORT)


def test_the_agents_english_answer_reaches_the_resident_in_spanish_and_the_thread_keeps_both(translated):
    answers, sms, mail = translated
    outcome = agent_answer(answers, mail, ANSWER, sender=AGENT)
    assert outcome["sent"] is True, outcome
    assert sms.to(RESIDENT)[-1] == SPANISH
    [record] = messages("out")
    assert record.body == ANSWER
    assert record.translation == SPANISH
    assert record.translation_language == "es"
    assert record.translated_chars and record.translated_chars > 0


def test_an_answer_that_cannot_be_translated_reaches_no_phone_and_the_agent_is_told(translated):
    answers, sms, mail = translated
    before = len(sms.to(RESIDENT))
    mails_before = len(sent_mails())
    outcome = agent_answer(answers, mail, "We will send a crew when the snow melts.", sender=AGENT)
    assert outcome["sent"] is False
    assert outcome["reason"] == "translation_failed"
    assert len(sms.to(RESIDENT)) == before
    [record] = messages("out")
    assert record.status == "failed"
    [notice] = sent_mails()[mails_before:]
    assert str(notice["To"]) == AGENT
    assert "could not be translated into the resident's language" in text_of(notice)


def test_the_console_previews_the_translation_before_sending(translated):
    from text311 import services
    from text311.auth import Caller, Role

    [conversation] = list(ConversationModel.query(KINGSTON.geonameid))
    caller = Caller(email=AGENT, municipality_id=KINGSTON.geonameid, role=Role.AGENT)
    shown = services.console_service().preview(caller, conversation.conversation_id, ANSWER)
    engine = "local phrasebook, not a real translation"
    assert shown == {
        "translated": True,
        "label": f"The resident will receive this machine translation ({engine}), in Español:",
        "translation": {"text": SPANISH, "engine": engine, "language": "es"},
    }
    # Nothing sent: only the paid preview is kept, for billing (test_translation_cost), never shown.
    kept = [m for m in MessageModel.query(conversation.conversation_id) if m.direction not in ("in", "preview")]
    assert kept == []
    thread = services.console_service().thread(caller, conversation.conversation_id)
    [text] = [m for m in thread["messages"] if m["direction"] == "in"]
    assert text["translation"]["text"].startswith(LOCAL_LABEL)


def test_a_city_without_translation_gets_the_text_alone_and_sends_the_answer_as_written(aws_env, monkeypatch):
    with mock_aws():
        answers, sms, mail = region_with(monkeypatch, aws_env, translate=False)
        assert "Machine translation" not in text_of(mail)
        assert agent_answer(answers, mail, ANSWER, sender=AGENT)["sent"] is True
        assert sms.to(RESIDENT)[-1] == ANSWER
