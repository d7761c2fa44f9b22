"""The inbound_sms Lambda end to end in moto: SQS batch → SNS envelope → two-way SMS → mail and SMS."""

from __future__ import annotations

import importlib
import json
import re
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from aws_events import inbound_sms_event, two_way_sms
from harness import GATINEAU, OUR_NUMBER, REGION, LambdaContext, sent_mails, setup_region, text_of
from moto import mock_aws

from text311.adapters.dynamodb import ConversationModel, MessageModel, ResidentModel

CONTEXT = LambdaContext("inbound-sms")

RESIDENT = "+18195550123"  # 819: a Gatineau-area number




@pytest.fixture
def region(aws_env, monkeypatch):
    with mock_aws():
        sms = setup_region(aws_env, monkeypatch)
        handler = importlib.import_module("functions.inbound_sms.handler")
        handler.process_once.cache_clear()
        yield handler, sms


def text(handler, body, *, number=RESIDENT, message_id=None, at=None):
    payload = two_way_sms(body, number, OUR_NUMBER, message_id=message_id)
    return handler.lambda_handler(inbound_sms_event(payload, at=at), CONTEXT)


def test_new_resident_is_asked_then_connected_and_the_city_gets_the_first_text(region):
    handler, sms = region
    assert text(handler, "Il y a un nid de poule devant le 12 rue Laurier") == {"batchItemFailures": []}
    assert sms.to(RESIDENT) == [
        "Text311 : dans quelle municipalité vous trouvez-vous? Répondez avec le nom de votre ville."
    ]
    assert sent_mails() == []

    text(handler, "Gatineau")
    assert sms.to(RESIDENT)[-1].startswith("Message transmis au 311 de Gatineau.")
    [mail] = sent_mails()
    assert mail["To"] == "311@gatineau.example.ca"
    subject = r"\[Text311 #[A-Z0-9]{8}\] Gatineau: Il y a un nid de poule devant…"
    assert re.fullmatch(subject, str(mail["Subject"]))
    assert "Il y a un nid de poule devant le 12 rue Laurier" in text_of(mail)
    assert "+1******0123" in text_of(mail)
    assert RESIDENT not in mail.as_string() and "8195550123" not in mail.as_string()
    reply_to = r"r\+5959974-[a-z0-9]+\.k1-[a-z0-9]+@reply\.text311\.example\.ca"
    assert re.fullmatch(reply_to, str(mail["Reply-To"]))
    assert mail.get_body(preferencelist=("html",)) is not None


def test_three_texts_make_one_thread_with_threading_headers(region):
    handler, _ = region
    for body in ["Pothole on Main St", "Gatineau", "It is still there", "And now a second one"]:
        text(handler, body)
    first, second, third = sent_mails()
    assert first["In-Reply-To"] is None and first["References"] is None
    assert second["In-Reply-To"] == first["Message-ID"]
    assert third["In-Reply-To"] == second["Message-ID"]
    refs = str(third["References"]).split()
    assert refs[0] == first["Message-ID"]
    assert re.fullmatch(r"<[^@]+@ca-central-1\.amazonses\.com>", refs[1])  # the root under SES's id too
    assert refs[-1] == second["Message-ID"]
    assert first["Subject"] == second["Subject"] == third["Subject"]
    assert first["Reply-To"] == third["Reply-To"]
    [conversation] = list(ConversationModel.query(GATINEAU.geonameid))
    assert conversation.message_count == 3
    assert conversation.first_message_id == first["Message-ID"]


def test_redelivery_of_the_same_batch_sends_one_email_and_no_second_sms(region):
    handler, sms = region
    text(handler, "Pothole on Main St")
    text(handler, "Gatineau")
    payload = two_way_sms("Still there", RESIDENT, OUR_NUMBER, message_id="dup-1")
    event = inbound_sms_event(payload)
    before = len(sms.sent)
    assert handler.lambda_handler(event, CONTEXT) == {"batchItemFailures": []}
    assert handler.lambda_handler(event, CONTEXT) == {"batchItemFailures": []}
    assert len(sent_mails()) == 2
    assert len(sms.sent) == before


def test_a_poison_record_is_reported_alone_and_the_rest_of_the_batch_goes_through(region):
    handler, _ = region
    text(handler, "Pothole on Main St")
    good = two_way_sms("Gatineau", RESIDENT, OUR_NUMBER)
    event = inbound_sms_event(good)
    poison = json.loads(json.dumps(event["Records"][0]))
    poison["messageId"] = "poison-1"
    poison["body"] = json.dumps({**json.loads(poison["body"]), "Message": "{not json"})
    event["Records"].insert(0, poison)
    assert handler.lambda_handler(event, CONTEXT) == {"batchItemFailures": [{"itemIdentifier": "poison-1"}]}
    assert len(sent_mails()) == 1


def test_no_plain_phone_number_in_the_tables_or_the_logs(region, caplog):
    handler, _ = region
    caplog.set_level("DEBUG")
    text(handler, "Pothole on Main St")
    text(handler, "Gatineau")
    text(handler, "still there")
    client = boto3.client("dynamodb", region_name=REGION)
    dumped = ""
    for model in (ResidentModel, ConversationModel, MessageModel):
        dumped += json.dumps(client.scan(TableName=model.Meta.table_name)["Items"])
    assert dumped, "the tables hold the conversation"
    # Every field of every record, structured extras included, as Powertools would serialise them.
    logs = "\n".join(json.dumps(vars(r), default=str) for r in caplog.records)
    for form in (RESIDENT, RESIDENT[1:], RESIDENT[2:], "819-555-0123", "5550123"):
        assert form not in dumped
        assert form not in logs
    assert '"resident": "+1******0123"' in logs


def test_an_emergency_is_answered_at_once_and_mailed_flagged_urgent(region):
    handler, sms = region
    text(handler, "Gatineau")
    assert sms.to(RESIDENT)[-1].startswith("You're connected")  # the drainer sent the dialog answer
    text(handler, "There is a fire in the park behind the arena")
    assert sms.to(RESIDENT)[-1].startswith("Text311 is not for emergencies")
    mail = sent_mails()[-1]
    assert mail["Importance"] == "high"
    assert text_of(mail).startswith("URGENT")


def test_an_emergency_sent_before_the_city_is_known_is_mailed_urgent_once_the_city_is_chosen(region):
    handler, sms = region
    text(handler, "There is a fire in the park")
    assert "911" in sms.to(RESIDENT)[0]  # the notice at once, before the question
    text(handler, "Gatineau")
    [mail] = sent_mails()
    assert mail["Importance"] == "high"
    assert text_of(mail).startswith("URGENT")
    [conversation] = list(ConversationModel.query(GATINEAU.geonameid))
    assert conversation.urgent
    [message] = [m for m in MessageModel.query(conversation.conversation_id) if m.direction == "in"]
    assert message.urgent


def test_a_conversation_silent_longer_than_the_idle_days_closes_and_a_new_thread_opens(region):
    handler, _ = region
    start = datetime.now(UTC) - timedelta(days=30)
    text(handler, "Pothole", at=start)
    text(handler, "Gatineau", at=start)
    text(handler, "Another one, a month later")
    first, second = sent_mails()
    assert second["In-Reply-To"] is None
    assert first["Subject"] != second["Subject"]
    statuses = sorted(c.status for c in ConversationModel.query(GATINEAU.geonameid))
    assert statuses == ["closed", "open"]


def test_stop_keeps_our_opt_out_in_step_and_sends_nothing(region):
    handler, sms = region
    text(handler, "Gatineau")
    before = len(sms.sent)
    text(handler, "STOP")
    text(handler, "is anyone there?")  # still reaches the city; no SMS can go back
    assert len(sms.sent) == before
    assert "désabonné" in text_of(sent_mails()[-1])  # Gatineau's mail is in French


@pytest.mark.parametrize(
    ("body", "expected_mail_text"),
    [
        ("🚧🕳️ big hole here 🚗💥", "🚧🕳️ big hole here 🚗💥"),
        ("bad\x00 control\x07 chars\u200b here", "bad control chars here"),
        ("x" * 1600, "x" * 1600),
        # Emoji sequences whole: a family (ZWJ), a skin tone, a variation selector, a subdivision flag.
        ("\U0001f468\u200d\U0001f469\u200d\U0001f467 \U0001f44d\U0001f3fd \u2764\ufe0f "
         "\U0001f3f4\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f",
         "\U0001f468\u200d\U0001f469\u200d\U0001f467 \U0001f44d\U0001f3fd \u2764\ufe0f "
         "\U0001f3f4\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f"),
        # Separators break the line instead of merging the words on either side.
        ("Pothole\u2028on Main\u2029Still there\x0bnear\x0cthe school",
         "Pothole\non Main\nStill there\nnear\nthe school"),
        # A byte-order mark, bidirectional overrides and hidden tag text are dropped.
        ("\ufeffLeak at \u202e12\u202c Elm\U000e0069\U000e0067\U000e006e\U000e006f\U000e0072\U000e0065",
         "Leak at 12 Elm"),
    ],
)
def test_unusual_bodies_reach_the_city_intact_or_cleaned(region, body, expected_mail_text):
    handler, _ = region
    text(handler, "Gatineau")
    text(handler, body)
    assert expected_mail_text in text_of(sent_mails()[-1])


def test_an_empty_body_from_a_connected_resident_is_accepted_and_not_mailed(region):
    handler, sms = region
    text(handler, "Gatineau")
    before = len(sms.sent)
    assert text(handler, "") == {"batchItemFailures": []}
    assert sent_mails() == [] and len(sms.sent) == before


def test_a_number_from_a_country_we_do_not_serve_gets_no_answer_and_no_mail(region):
    handler, sms = region
    assert text(handler, "Gatineau", number="+447700900123") == {"batchItemFailures": []}
    assert sms.sent == [] and sent_mails() == []


def test_a_text_to_an_unknown_destination_fails_so_it_ends_in_the_dlq(region):
    handler, _ = region
    payload = two_way_sms("Gatineau", RESIDENT, "+15145559999", message_id="wrong-dest")
    event = inbound_sms_event(payload)
    result = handler.lambda_handler(event, CONTEXT)
    assert result == {"batchItemFailures": [{"itemIdentifier": event["Records"][0]["messageId"]}]}


def test_the_area_code_settles_a_name_shared_by_several_places(region):
    handler, sms = region
    # Springfield MA and Springfield MO are the same size: without the hint this is a question.
    massachusetts = "+14135550100"  # 413: western Massachusetts
    text(handler, "Springfield", number=massachusetts)
    assert sms.to(massachusetts)[-1].startswith("Springfield is not on Text311 yet.")


def test_the_area_code_never_overrides_what_the_resident_wrote(region):
    handler, sms = region
    kingston_resident = "+16135550188"
    text(handler, "Kingston NY", number=kingston_resident)
    assert sms.to(kingston_resident)[-1].startswith("Kingston is not on Text311 yet.")


@pytest.fixture
def flood_region(aws_env, monkeypatch):
    with mock_aws():
        sms = setup_region({**aws_env, "FLOOD_LIMIT_PER_MINUTE": "3"}, monkeypatch)
        handler = importlib.import_module("functions.inbound_sms.handler")
        handler.process_once.cache_clear()
        yield handler, sms


def held_messages() -> list[MessageModel]:
    [conversation] = list(ConversationModel.query(GATINEAU.geonameid))
    return [m for m in MessageModel.query(conversation.conversation_id) if m.status == "throttled"]


def test_texts_beyond_the_flood_limit_are_held_not_mailed_and_answered_once(flood_region, capsys):
    handler, sms = flood_region
    minute = datetime.now(UTC).replace(second=1, microsecond=0)
    text(handler, "Gatineau", at=minute)  # 1 of 3 this minute
    before = len(sms.sent)
    for i in range(5):
        text(handler, f"flood {i}", at=minute + timedelta(seconds=i))
    assert [text_of(m).count("flood") for m in sent_mails()] == [1, 1]  # "flood 0" and "flood 1" only
    assert sms.to(RESIDENT)[before:] == [
        "Text311: more than 3 texts in a minute. Further texts are kept but not sent to the city. "
        "Please wait a minute."
    ]
    assert sorted(m.body for m in held_messages()) == ["flood 2", "flood 3", "flood 4"]
    assert capsys.readouterr().out.count('"FloodThrottled":[1.0]') == 3


def test_the_flood_notice_follows_the_residents_language(flood_region):
    handler, sms = flood_region
    minute = datetime.now(UTC).replace(second=1, microsecond=0)
    text(handler, "Bonjour, je suis à Gatineau", at=minute)
    for i in range(3):
        text(handler, f"encore {i}", at=minute)
    assert sms.to(RESIDENT)[-1].startswith("Text311 : plus de 3 textos en une minute.")


def test_the_next_minute_is_mailed_again(flood_region):
    handler, _ = flood_region
    minute = datetime.now(UTC).replace(second=1, microsecond=0) - timedelta(minutes=2)
    for body in ("Gatineau", "burst 1", "burst 2", "burst 3"):
        text(handler, body, at=minute)
    mailed = len(sent_mails())
    text(handler, "a minute later", at=minute + timedelta(minutes=1))
    assert len(sent_mails()) == mailed + 1 and "a minute later" in text_of(sent_mails()[-1])


def test_stop_is_honoured_even_over_the_flood_limit(flood_region):
    handler, sms = flood_region
    minute = datetime.now(UTC).replace(second=1, microsecond=0)
    for body in ("Gatineau", "one", "two", "three", "STOP"):
        text(handler, body, at=minute)
    [resident] = list(ResidentModel.scan())
    assert resident.opted_out is True


def test_a_redelivered_held_text_is_held_once(flood_region):
    handler, sms = flood_region
    minute = datetime.now(UTC).replace(second=1, microsecond=0)
    for body in ("Gatineau", "one", "two"):
        text(handler, body, at=minute)
    payload = two_way_sms("held twice", RESIDENT, OUR_NUMBER, message_id="held-dup")
    event = inbound_sms_event(payload, at=minute)
    handler.lambda_handler(event, CONTEXT)
    handler.lambda_handler(event, CONTEXT)
    assert [m.body for m in held_messages()] == ["held twice"]
    assert len(sent_mails()) == 2
