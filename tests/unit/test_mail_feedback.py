"""A city inbox that bounces must not swallow texts (issue 18): SES's Bounce, Complaint, DeliveryDelay
and Delivery events reach the text's status, a per-city metric, and after a permanent bounce the
resident, once (text311.mail_feedback through the mail_events function)."""

from __future__ import annotations

import importlib
import json

import pytest
from aws_events import inbound_sms_event, two_way_sms
from harness import GATINEAU, OUR_NUMBER, LambdaContext, setup_region
from moto import mock_aws
from ses_events import SesSendEvents

from text311 import services
from text311.adapters.dynamodb import ConversationModel, MessageModel
from text311.conversations import ConversationStore
from text311.i18n import catalog

RESIDENT = "+18195550123"
OK = {"batchItemFailures": []}


@pytest.fixture
def region(aws_env, monkeypatch, capsys):
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "text311")
    with mock_aws():
        sms = setup_region(aws_env, monkeypatch)
        inbound = importlib.import_module("functions.inbound_sms.handler")
        inbound.process_once.cache_clear()
        events = importlib.import_module("functions.mail_events.handler")
        ses = SesSendEvents().attach(services.clients().sesv2)
        yield inbound, events, ses, sms


def text(inbound, body: str, resident: str = RESIDENT) -> dict:
    return inbound.lambda_handler(inbound_sms_event(two_way_sms(body, resident, OUR_NUMBER)),
                                  LambdaContext("inbound-sms"))


def publish(events, batch: dict) -> dict:
    return events.lambda_handler(batch, LambdaContext("mail-events"))


def connect(inbound, report: str = "Pothole on Main St", resident: str = RESIDENT) -> None:
    text(inbound, report, resident)
    text(inbound, "Gatineau", resident)


def the_conversation() -> ConversationModel:
    [conversation] = list(ConversationModel.query(GATINEAU.geonameid))
    return conversation


def statuses() -> list[str]:
    conversation = the_conversation()
    return [m.status for m in MessageModel.query(conversation.conversation_id) if m.direction == "in"]


def notices(sms, resident: str = RESIDENT) -> list[str]:
    language = the_conversation().language
    notice = catalog().message(language, "city_unreachable", city=GATINEAU.display_name)
    return [t for t in sms.to(resident) if t == notice]


def emf_points(out: str, name: str) -> list[dict]:
    points = []
    for line in out.splitlines():
        if not line.startswith("{"):
            continue
        doc = json.loads(line)
        for directive in doc.get("_aws", {}).get("CloudWatchMetrics", []):
            if any(m["Name"] == name for m in directive["Metrics"]):
                dimensions = {d: doc[d] for group in directive["Dimensions"] for d in group}
                values = doc[name] if isinstance(doc[name], list) else [doc[name]]
                points += [{"value": v, **dimensions} for v in values]
    return points


def test_a_permanent_bounce_marks_the_text_bounced_and_tells_the_resident_once(region):
    inbound, events, ses, sms = region
    connect(inbound)
    text(inbound, "Also a broken bench")
    assert statuses() == ["emailed", "emailed"]

    # SES reports both mails bounced, and publishes the first bounce twice
    assert publish(events, ses.feedback("Bounce")) == OK
    assert publish(events, ses.feedback("Bounce", ses.accepted[:1])) == OK

    assert statuses() == ["bounced", "bounced"]
    assert len(notices(sms)) == 1


def test_the_resident_is_told_in_the_language_of_their_conversation(region):
    inbound, events, ses, sms = region
    connect(inbound, "Il y a un nid de poule sur la rue Principale")
    assert the_conversation().language == "fr"

    publish(events, ses.feedback("Bounce"))

    [notice] = notices(sms)
    assert "Composez le 311" in notice and "Gatineau" in notice


def test_an_address_on_the_account_suppression_list_is_a_permanent_bounce_and_the_resident_is_told(region):
    inbound, events, ses, sms = region
    connect(inbound)

    publish(events, ses.feedback("Bounce", bounceType="Permanent", bounceSubType="OnAccountSuppressionList"))

    assert statuses() == ["bounced"]
    assert len(notices(sms)) == 1


def test_a_transient_bounce_marks_the_text_bounced_but_does_not_text_the_resident(region):
    inbound, events, ses, sms = region
    connect(inbound)

    publish(events, ses.feedback("Bounce", bounceType="Transient", bounceSubType="MailboxFull"))

    assert statuses() == ["bounced"]
    assert notices(sms) == []


def test_a_resident_who_opted_out_is_not_texted_about_a_bounce(region):
    inbound, events, ses, sms = region
    connect(inbound)
    text(inbound, "STOP")

    publish(events, ses.feedback("Bounce"))

    assert statuses() == ["bounced"]
    assert notices(sms) == []


def test_a_complaint_marks_the_text_complained(region):
    inbound, events, ses, _ = region
    connect(inbound)

    publish(events, ses.feedback("Complaint"))

    assert statuses() == ["complained"]


def test_a_delay_shows_until_the_mail_is_delivered_and_never_overrides_a_bounce(region):
    inbound, events, ses, _ = region
    connect(inbound)
    text(inbound, "Also a broken bench")
    first, second = ses.accepted

    publish(events, ses.feedback("DeliveryDelay"))
    assert statuses() == ["delayed", "delayed"]

    publish(events, ses.feedback("Delivery", [first]))
    publish(events, ses.feedback("Bounce", [second]))
    publish(events, ses.feedback("DeliveryDelay", [second]))  # late: the bounce stands
    assert statuses() == ["emailed", "bounced"]


def test_a_bounce_is_counted_for_its_city_and_in_the_alarmed_total(region, capsys):
    inbound, events, ses, _ = region
    connect(inbound)
    capsys.readouterr()

    publish(events, ses.feedback("Bounce"))

    out = capsys.readouterr().out
    # the dimensions the dashboard's SEARCH and the alarm read (stacks/observability.py)
    assert emf_points(out, "CityMailBounced") == [
        {"value": 1.0, "municipality": str(GATINEAU.geonameid), "service": "text311"}]
    assert emf_points(out, "MailBounced") == [{"value": 1.0, "service": "text311"}]


def test_a_bounce_of_an_untagged_mail_changes_no_text(region):
    inbound, events, ses, sms = region
    connect(inbound)
    untagged = type(ses.accepted[0])(ses.accepted[0].ses_message_id, {})

    assert publish(events, ses.feedback("Bounce", [untagged])) == OK

    assert statuses() == ["emailed"]
    assert notices(sms) == []


def test_a_bounce_before_its_text_is_recorded_is_retried_and_applied_after_the_record(region, monkeypatch):
    inbound, events, ses, sms = region
    connect(inbound)
    real = ConversationStore.record_mailed
    calls = {"n": 0}

    def stops_once(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("stopped after SendEmail")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(ConversationStore, "record_mailed", stops_once)
    report = two_way_sms("Graffiti on the library", RESIDENT, OUR_NUMBER)
    event = inbound_sms_event(report)
    assert len(inbound.lambda_handler(event, LambdaContext("inbound-sms"))["batchItemFailures"]) == 1
    bounce = ses.feedback("Bounce", [ses.accepted[-1]])

    assert len(publish(events, bounce)["batchItemFailures"]) == 1  # SQS gives it back later
    inbound.lambda_handler(event, LambdaContext("inbound-sms"))  # the redelivered text is recorded
    assert publish(events, bounce) == OK

    by_body = {m.body: m.status for m in MessageModel.query(the_conversation().conversation_id)}
    assert by_body == {"Pothole on Main St": "emailed", "Graffiti on the library": "bounced"}
    assert len(notices(sms)) == 1


AGENT = "lise.tremblay@gatineau.example.ca"
CITY_INBOX = GATINEAU.contact_emails[0]


def owned_text(inbound, ses) -> list[str]:
    """A conversation an agent owns, and its next text: mailed To the agent, Cc the city's inbox."""
    connect(inbound)
    conversation = the_conversation()
    conversation.update(actions=[ConversationModel.owner_email.set(AGENT)])
    text(inbound, "Also a broken bench")
    return list(ses.accepted[-1].recipients)


def test_a_bounce_of_one_recipient_of_several_changes_no_status_and_texts_no_one_but_is_counted(region, capsys,
                                                                                                  caplog):
    inbound, events, ses, sms = region
    assert owned_text(inbound, ses) == [AGENT, CITY_INBOX]
    capsys.readouterr()

    # the agent's mailbox is gone; the city's inbox in Cc took the mail
    assert publish(events, ses.feedback("Bounce", ses.accepted[-1:], about=[AGENT])) == OK

    assert statuses() == ["emailed", "emailed"]
    assert notices(sms) == []
    out = capsys.readouterr().out
    assert emf_points(out, "CityMailBounced") == [
        {"value": 1.0, "municipality": str(GATINEAU.geonameid), "service": "text311"}]
    assert emf_points(out, "MailBounced") == [{"value": 1.0, "service": "text311"}]
    [logged] = [r for r in caplog.records if getattr(r, "outcome", None) == "partial"]
    assert logged.recipients == [AGENT]  # the broken inbox, named for the city's administrator


def test_a_bounce_of_every_recipient_in_one_event_marks_the_text_bounced_and_tells_the_resident(region):
    inbound, events, ses, sms = region
    owned_text(inbound, ses)

    publish(events, ses.feedback("Bounce", ses.accepted[-1:], about=[AGENT, CITY_INBOX.upper()]))

    assert statuses() == ["emailed", "bounced"]
    assert len(notices(sms)) == 1


def test_a_complaint_of_one_recipient_of_several_leaves_the_text_emailed(region):
    inbound, events, ses, _ = region
    owned_text(inbound, ses)

    publish(events, ses.feedback("Complaint", ses.accepted[-1:], about=[CITY_INBOX]))

    assert statuses() == ["emailed", "emailed"]
