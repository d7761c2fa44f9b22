"""Each translation is paid once and counted once: a retried answer reuses the translation its record
holds, and a console preview is kept (and counted) so that sending the same text costs nothing more.
Kingston with translation on, a Spanish-speaking resident, the local phrasebook (test_translation_flow)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from harness import KINGSTON, agent_answer
from moto import mock_aws
from test_translation_flow import AGENT, ANSWER, SPANISH, messages, region_with

from text311.adapters.dynamodb import ConversationModel, MessageModel
from text311.auth import Caller, Role
from text311.translation import TranslationFailed


class CountingTranslator:
    """The configured engine, counted; ``broken`` makes every call fail as an engine outage would."""

    def __init__(self, inner) -> None:
        self.inner, self.calls, self.broken = inner, 0, False

    def translate(self, text: str, source: str, target: str):
        self.calls += 1
        if self.broken:
            raise TranslationFailed("Amazon Translate: ThrottlingException")
        return self.inner.translate(text, source, target)


@pytest.fixture
def kingston(aws_env, monkeypatch):
    with mock_aws():
        answers, sms, mail = region_with(monkeypatch, aws_env, translate=True)
        from text311 import services

        translations = services.translations()
        engine = CountingTranslator(translations.translator)
        object.__setattr__(translations, "translator", engine)  # the services' one, as the handlers use it
        engine.calls = 0  # the resident's texts were translated on the way in
        yield answers, sms, mail, engine, services


def conversation() -> ConversationModel:
    [found] = list(ConversationModel.query(KINGSTON.geonameid))
    return found


def month_usage(services):
    from text311.usage import usage_for

    return usage_for(KINGSTON.geonameid, datetime.now(UTC).strftime("%Y-%m"))


def test_a_retried_answer_reuses_its_recorded_translation_and_never_calls_the_engine_again(kingston):
    _, sms, _, engine, services = kingston
    service = services.answer_service()
    queue = service.sms.send
    calls = {"n": 0}

    def queued_then_throttled(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("SQS throttled")  # transient: the invocation is retried
        return queue(*args, **kwargs)

    service.sms.send = queued_then_throttled
    at = datetime.now(UTC)
    with pytest.raises(RuntimeError):
        service.send_answer(conversation(), AGENT, ANSWER, "console-r1", at, channel="console")
    [record] = messages("out")
    first_chars = record.translated_chars
    engine.broken = True  # the retry must not need the engine at all

    outcome = service.send_answer(conversation(), AGENT, ANSWER, "console-r1", at, channel="console")

    assert outcome.sent is True and engine.calls == 1
    [record] = messages("out")
    assert record.status in ("queued", "sent") and record.translation == SPANISH
    assert record.translated_chars == first_chars
    assert sms.to("+16135550142")[-1] == SPANISH


def test_previews_of_one_text_are_paid_once_counted_once_and_its_unchanged_send_costs_nothing_more(kingston):
    answers, sms, mail, engine, services = kingston
    caller = Caller(email=AGENT, municipality_id=KINGSTON.geonameid, role=Role.AGENT)
    console = services.console_service()
    inbound_chars = month_usage(services).translated_characters
    for _ in range(3):
        shown = console.preview(caller, conversation().conversation_id, ANSWER)
        assert shown["translation"]["text"] == SPANISH

    assert engine.calls == 1
    previewed = month_usage(services).translated_characters - inbound_chars
    assert previewed > 0  # the paid preview is in the month's durable count

    assert agent_answer(answers, mail, ANSWER, sender=AGENT)["sent"] is True

    assert engine.calls == 1 and sms.to("+16135550142")[-1] == SPANISH
    [record] = messages("out")
    assert record.translation == SPANISH and record.translated_chars == 0
    assert month_usage(services).translated_characters - inbound_chars == previewed
    thread = console.thread(caller, conversation().conversation_id)
    assert {m["direction"] for m in thread["messages"]} == {"in", "out"}  # previews are not messages


def test_a_changed_text_is_a_new_paid_preview_and_is_counted(kingston):
    _, _, _, engine, services = kingston
    caller = Caller(email=AGENT, municipality_id=KINGSTON.geonameid, role=Role.AGENT)
    console = services.console_service()
    before = month_usage(services).translated_characters
    console.preview(caller, conversation().conversation_id, "Thank you for your report.")
    console.preview(caller, conversation().conversation_id, ANSWER)

    assert engine.calls == 2
    kept = [m for m in MessageModel.query(conversation().conversation_id) if m.direction == "preview"]
    assert len(kept) == 2
    assert month_usage(services).translated_characters - before == sum(m.translated_chars for m in kept)
