"""Guided intake (issue 20, item 3): a city that opts in has a connected resident asked once where it is
when the first text of a new conversation names no place; the text reaches the city at once all the same."""

from __future__ import annotations

import importlib
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from aws_events import inbound_sms_event, two_way_sms
from harness import GATINEAU, KINGSTON, OUR_NUMBER, LambdaContext, bound_subscribers_table, sent_mails, setup_region
from harness import text_of as mail_text
from moto import mock_aws
from typer.testing import CliRunner

from text311.adapters.dynamodb import ConversationModel, SubscriberModel
from text311.guided_intake import claim_question
from text311.i18n import catalog

CONTEXT = LambdaContext("inbound-sms")
RESIDENT = "+18195550123"
WHERE = "Text311: where is it? Reply with an address, an intersection or a map link, or SKIP."


def _region(aws_env, monkeypatch, guided: bool):
    sms = setup_region(aws_env, monkeypatch, subscribers=(replace(GATINEAU, guided_intake=guided), KINGSTON))
    handler = importlib.import_module("functions.inbound_sms.handler")
    handler.process_once.cache_clear()

    def text(body: str, message_id: str | None = None) -> None:
        payload = two_way_sms(body, RESIDENT, OUR_NUMBER, message_id=message_id)
        assert handler.lambda_handler(inbound_sms_event(payload), CONTEXT) == {"batchItemFailures": []}

    # a connected resident whose first conversation an agent has closed: their next text opens a new one
    text("Pothole on Main St")
    text("Gatineau")
    _close_all()
    return text, sms


@pytest.fixture
def guided(aws_env, monkeypatch):
    with mock_aws():
        yield _region(aws_env, monkeypatch, guided=True)


@pytest.fixture
def unguided(aws_env, monkeypatch):
    with mock_aws():
        yield _region(aws_env, monkeypatch, guided=False)


def _asked(sms) -> int:
    return sms.to(RESIDENT).count(WHERE)


def _close_all() -> None:
    for conversation in ConversationModel.query(GATINEAU.geonameid):
        conversation.update(actions=[ConversationModel.status.set("closed")])


def _a_new_conversation_with_no_place_is_asked(text, sms) -> None:
    """The control: the same resident and city are asked when nothing above rules it out."""
    _close_all()
    text("There is graffiti on the wall of the library")
    assert _asked(sms) == 1


def test_a_text_with_no_place_is_mailed_to_the_city_and_the_resident_is_asked_where_once(guided):
    text, sms = guided
    mails = len(sent_mails())

    text("There is graffiti on the wall of the library")

    [mail] = sent_mails()[mails:]
    assert "There is graffiti on the wall of the library" in mail_text(mail)
    assert sms.to(RESIDENT)[-1] == WHERE
    assert _asked(sms) == 1
    [conversation] = [c for c in ConversationModel.query(GATINEAU.geonameid) if c.status == "open"]
    assert conversation.location_asked_at is not None


def test_the_second_text_and_a_skip_ask_nothing_more_and_reach_the_city(guided):
    text, sms = guided
    mails = len(sent_mails())

    text("There is graffiti on the wall of the library")
    text("It is getting worse")
    text("SKIP")

    assert _asked(sms) == 1
    assert sms.to(RESIDENT)[-1] == WHERE  # nothing after the question: SKIP starts nothing
    later = sent_mails()[mails:]
    assert len(later) == 3 and "SKIP" in mail_text(later[-1])


@pytest.mark.parametrize(
    "body",
    [
        "Graffiti here https://maps.google.com/?q=45.4770,-75.7016",
        "Graffiti here geo:45.4770,-75.7016",
        "There is graffiti at 100 Main Street",
        "Graffiti at the corner of Bank and Somerset",
    ],
)
def test_a_text_that_names_a_place_is_not_asked(guided, body):
    text, sms = guided
    mails = len(sent_mails())

    text(body)

    assert len(sent_mails()) == mails + 1
    assert _asked(sms) == 0
    _a_new_conversation_with_no_place_is_asked(text, sms)


def test_a_city_with_guided_intake_off_asks_nothing(unguided):
    text, sms = unguided
    mails = len(sent_mails())

    text("There is graffiti on the wall of the library")

    assert len(sent_mails()) == mails + 1
    assert _asked(sms) == 0


def test_an_emergency_gets_the_911_notice_and_no_question(guided):
    text, sms = guided

    text("There is a fire in the park")

    assert catalog().message("en", "emergency") in sms.to(RESIDENT)
    assert _asked(sms) == 0
    _a_new_conversation_with_no_place_is_asked(text, sms)


def test_a_redelivered_text_asks_once(guided):
    text, sms = guided
    mails = len(sent_mails())

    text("There is graffiti on the wall of the library", message_id="graffiti-1")
    text("There is graffiti on the wall of the library", message_id="graffiti-1")

    assert len(sent_mails()) == mails + 1
    assert _asked(sms) == 1


def test_the_question_is_claimed_once_per_conversation(guided):
    text, _ = guided
    text("There is graffiti on the wall of the library")
    [conversation] = [c for c in ConversationModel.query(GATINEAU.geonameid) if c.status == "open"]

    # a concurrent or redelivered text of the same conversation finds the note and asks nothing
    assert claim_question(conversation, datetime.now(UTC) + timedelta(seconds=1)) is False


def test_french_residents_are_asked_in_french(guided):
    text, sms = guided

    text("Il y a des graffitis sur le mur de la bibliothèque")

    assert sms.to(RESIDENT)[-1] == catalog().message("fr", "where_is_it")
    assert sms.to(RESIDENT)[-1].startswith("Text311 : où est-ce?")


# -- text311 municipality intake on|off ------------------------------------------------------------

TABLE = "intake-cli-subscribers"
OPTIONS = ["--table", TABLE, "--region", "ca-central-1"]


def test_intake_on_and_off_is_stored_and_audited(monkeypatch):
    from text311.audit import AuditLog
    from text311.cli import app

    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("SUBSCRIBERS_TABLE", raising=False)
    recorded: list[tuple[int, str, str]] = []
    monkeypatch.setattr(
        AuditLog,
        "record",
        lambda self, city, conversation, actor, action, detail, at: recorded.append((city, str(action), detail)),
    )
    runner = CliRunner()

    def cli(*args: str):
        return runner.invoke(app, ["municipality", *args, *OPTIONS])

    with bound_subscribers_table(TABLE):
        cli("add", str(GATINEAU.geonameid), "--email", "311@gatineau.ca", "--agents", "@gatineau.ca")
        on = cli("intake", str(GATINEAU.geonameid), "on")
        assert on.exit_code == 0, on.output
        assert "Gatineau: guided intake on" in on.output
        assert SubscriberModel.get(GATINEAU.geonameid).guided_intake is True
        assert cli("intake", str(GATINEAU.geonameid), "off").exit_code == 0
        assert not SubscriberModel.get(GATINEAU.geonameid).guided_intake
        refused = cli("intake", str(GATINEAU.geonameid), "maybe")
        assert refused.exit_code == 1 and "not on or off" in refused.output

    assert [r for r in recorded if r[1] == "settings.intake"] == [
        (GATINEAU.geonameid, "settings.intake", "on"),
        (GATINEAU.geonameid, "settings.intake", "off"),
    ]
