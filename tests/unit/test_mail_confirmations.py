"""One mail per resident text even when the invocation stops after SES accepted it: the SES Send
event (mail_events function) notes the mail on its conversation, and the redelivered text records
it instead of mailing it again (text311.mail_confirmations)."""

from __future__ import annotations

import importlib

import pytest
from aws_events import inbound_sms_event, two_way_sms
from harness import GATINEAU, OUR_NUMBER, LambdaContext, sent_mails, setup_region, text_of
from moto import mock_aws
from ses_events import SesSendEvents

from text311 import services
from text311.adapters.dynamodb import ConversationModel, MessageModel
from text311.conversations import ConversationStore
from text311.mail_confirmations import MailConfirmations, SendEvent, entry_of, mail_tags

RESIDENT = "+18195550123"


class StoppedAfterSend(Exception):
    """The invocation ended between SendEmail and the write that records it (a Lambda timeout)."""


@pytest.fixture
def region(aws_env, monkeypatch):
    with mock_aws():
        setup_region(aws_env, monkeypatch)
        inbound = importlib.import_module("functions.inbound_sms.handler")
        inbound.process_once.cache_clear()
        events = importlib.import_module("functions.mail_events.handler")
        ses = SesSendEvents().attach(services.clients().sesv2)
        yield inbound, events, ses


_DELIVERED: dict[str, dict] = {}


def text(inbound, payload) -> dict:
    """Deliver a text; delivering the same payload again is SQS redelivering the same record (the
    same SNS envelope and timestamp, as AWS does), not a new notification."""
    event = _DELIVERED.setdefault(payload["inboundMessageId"], inbound_sms_event(payload))
    return inbound.lambda_handler(event, LambdaContext("inbound-sms"))


def connect(inbound) -> None:
    text(inbound, two_way_sms("Pothole on Main St", RESIDENT, OUR_NUMBER))
    text(inbound, two_way_sms("Gatineau", RESIDENT, OUR_NUMBER))


def stop_once_after_send(monkeypatch) -> None:
    real = ConversationStore.record_mailed
    calls = {"n": 0}

    def record_mailed(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise StoppedAfterSend()
        return real(self, *args, **kwargs)

    monkeypatch.setattr(ConversationStore, "record_mailed", record_mailed)


def the_conversation() -> ConversationModel:
    [conversation] = list(ConversationModel.query(GATINEAU.geonameid))
    return conversation


def test_tags_carry_the_conversation_and_the_text_and_decode_back():
    tags = mail_tags("5959974-abc23", "1764201600#cae173d2-66b9-564c-8309-21f858e9fb84:1")
    assert all(set(v) <= set("0123456789abcdefghijklmnopqrstuvwxyz-") for v in tags.values())
    assert entry_of({k: [v] for k, v in tags.items()}) == ("5959974-abc23",
                                                           "1764201600#cae173d2-66b9-564c-8309-21f858e9fb84:1")
    assert mail_tags("5959974-abc23", "1#" + "x" * 200) == {}  # would not fit a tag value: untagged
    assert entry_of({"ses:configuration-set": ["text311-email"]}) is None
    assert entry_of({"text311-conversation": ["1-a"], "text311-inbound": ["not hex"]}) is None


def test_only_send_events_of_tagged_mails_are_noted():
    noted = []

    class Store:
        def confirm_mailed(self, *args):
            noted.append(args)
            return True

    confirmations = MailConfirmations(Store())
    tags = {k: [v] for k, v in mail_tags("1-a", "10#x").items()}
    assert confirmations.record(SendEvent("Delivery", "ses-1", tags)) == "ignored"
    assert confirmations.record(SendEvent("Send", "ses-1", {"ses:configuration-set": ["c"]})) == "untagged"
    assert confirmations.record(SendEvent("Send", "ses-1", tags)) == "noted"
    assert noted == [("1-a", "10#x", "ses-1")]


def test_every_text_mail_is_sent_with_its_tags_and_a_late_send_event_changes_nothing(region):
    inbound, events, ses = region
    connect(inbound)

    [accepted] = ses.accepted
    conversation = the_conversation()
    assert entry_of({k: [v] for k, v in accepted.tags.items()})[0] == conversation.conversation_id
    assert events.lambda_handler(ses.batch(), LambdaContext("mail-events")) == {"batchItemFailures": []}

    again = the_conversation()
    assert again.mail_confirmed is None  # recorded before the event came: nothing to note
    assert again.version == conversation.version


def test_a_text_whose_invocation_stopped_after_ses_accepted_it_is_recorded_not_mailed_again(region, monkeypatch):
    inbound, events, ses = region
    connect(inbound)
    stop_once_after_send(monkeypatch)
    report = two_way_sms("The light at Laurier and Main is out", RESIDENT, OUR_NUMBER)

    assert len(text(inbound, report)["batchItemFailures"]) == 1  # SQS will deliver it again
    assert len(sent_mails()) == 2
    lost_write = ses.accepted[-1]
    assert events.lambda_handler(ses.batch([lost_write]), LambdaContext("mail-events")) == {"batchItemFailures": []}
    assert the_conversation().mail_confirmed  # noted, waiting for the redelivery

    assert text(inbound, report) == {"batchItemFailures": []}

    assert len(sent_mails()) == 2  # not mailed twice
    conversation = the_conversation()
    assert conversation.message_count == 2 and conversation.mail_confirmed is None
    [message] = [m for m in MessageModel.query(conversation.conversation_id) if "Laurier" in m.body]
    assert message.ses_message_id == lost_write.ses_message_id and message.status == "emailed"
    # and the next text threads under the mail SES did send
    text(inbound, two_way_sms("Still out tonight", RESIDENT, OUR_NUMBER))
    assert sent_mails()[-1]["In-Reply-To"] == message.email_message_id


def test_without_a_send_event_the_redelivered_text_is_mailed_again_never_lost(region, monkeypatch):
    inbound, _, _ = region
    connect(inbound)
    stop_once_after_send(monkeypatch)
    report = two_way_sms("Graffiti on the library", RESIDENT, OUR_NUMBER)

    assert len(text(inbound, report)["batchItemFailures"]) == 1
    text(inbound, report)  # SES never confirmed (it did not take the mail, or its event is late)

    assert sum("Graffiti on the library" in m.as_string() for m in sent_mails()) == 2
    assert the_conversation().message_count == 2


def test_a_duplicate_send_event_is_noted_once_and_an_event_for_an_erased_conversation_is_dropped(region,
                                                                                              monkeypatch):
    inbound, events, ses = region
    connect(inbound)
    stop_once_after_send(monkeypatch)
    assert len(text(inbound, two_way_sms("Noise at night", RESIDENT, OUR_NUMBER))["batchItemFailures"]) == 1
    batch = ses.batch([ses.accepted[-1]])

    events.lambda_handler(batch, LambdaContext("mail-events"))
    events.lambda_handler(batch, LambdaContext("mail-events"))
    assert len(the_conversation().mail_confirmed) == 1

    the_conversation().delete()
    assert events.lambda_handler(batch, LambdaContext("mail-events")) == {"batchItemFailures": []}
    assert list(ConversationModel.query(GATINEAU.geonameid)) == []  # not recreated by the note


def test_opening_the_same_thread_twice_gives_the_one_thread_and_a_closed_one_is_not_reused(region):
    from datetime import UTC, datetime

    from text311.conversations import new_conversation_id

    store = ConversationStore(retention_days=30, idle_days=7)
    resident = store.new_resident("phone-hash", "sealed-number")
    now = datetime.now(UTC)
    follows = new_conversation_id(GATINEAU.geonameid, opened_by="phone-hash#")
    assert follows == new_conversation_id(GATINEAU.geonameid, opened_by="phone-hash#")
    assert follows != new_conversation_id(GATINEAU.geonameid, opened_by="phone-hash#5959974-previous")

    first = store.open(resident, follows, "subject", "fr", now)
    again = store.open(resident, follows, "subject", "fr", now)  # an attempt that stopped before the resident
    assert again.conversation_id == follows and again.version == first.version

    first.update(actions=[ConversationModel.status.set("closed")])
    fresh = store.open(resident, follows, "subject", "fr", now)
    assert fresh.conversation_id != follows
    assert ConversationModel.get(GATINEAU.geonameid, fresh.conversation_id).status == "open"


def test_a_held_text_mailed_before_a_stop_is_not_mailed_again_when_another_text_was_held_meanwhile(
    region, monkeypatch
):
    inbound, events, ses = region
    text(inbound, two_way_sms("Pothole on Main St", RESIDENT, OUR_NUMBER))  # held: which city?
    city = two_way_sms("Gatineau", RESIDENT, OUR_NUMBER)
    stop_once_after_send(monkeypatch)

    assert len(text(inbound, city)["batchItemFailures"]) == 1  # mailed the held text, then stopped
    events.lambda_handler(ses.batch(), LambdaContext("mail-events"))
    text(inbound, two_way_sms("Also a broken bench", RESIDENT, OUR_NUMBER))  # still no city saved: held too
    assert text(inbound, city) == {"batchItemFailures": []}  # the redelivery forwards both held texts

    bodies = [text_of(m) for m in sent_mails()]
    assert sum("Pothole on Main St" in b for b in bodies) == 1
    assert sum("Also a broken bench" in b for b in bodies) == 1
    assert the_conversation().message_count == 2


def test_a_text_published_again_in_a_new_envelope_after_a_stop_is_recorded_not_mailed_again(region, monkeypatch):
    from datetime import UTC, datetime, timedelta

    inbound, events, ses = region
    connect(inbound)
    stop_once_after_send(monkeypatch)
    report = two_way_sms("Fallen tree on Rue Principale", RESIDENT, OUR_NUMBER)
    first = datetime.now(UTC) - timedelta(seconds=30)

    inbound.lambda_handler(inbound_sms_event(report, at=first), LambdaContext("inbound-sms"))  # stops after SES
    events.lambda_handler(ses.batch([ses.accepted[-1]]), LambdaContext("mail-events"))
    # End User Messaging published the same text again: a new SNS notification, 5 seconds later
    again = inbound_sms_event(report, at=first + timedelta(seconds=5))
    assert inbound.lambda_handler(again, LambdaContext("inbound-sms")) == {"batchItemFailures": []}

    assert sum("Fallen tree on Rue Principale" in text_of(m) for m in sent_mails()) == 1
    assert the_conversation().mail_confirmed is None
