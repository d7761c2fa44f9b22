"""Agent answers by email → SMS, through the inbound_email Lambda in moto (S3, DynamoDB, SES)."""

from __future__ import annotations

import email
import importlib
import uuid
from email.message import EmailMessage
from email.policy import default as default_policy

import boto3
import pytest
from aws_events import ses_receipt
from harness import OUR_NUMBER, REGION, LambdaContext, sent_mails, setup_region
from moto import mock_aws

from text311.adapters.dynamodb import ConversationModel

CONTEXT = LambdaContext("inbound-email")

RESIDENT = "+18195550123"
AGENT = "marie.tremblay@gatineau.example.ca"
BUCKET = "text311-raw-mail-test"




@pytest.fixture
def region(aws_env, monkeypatch):
    with mock_aws():
        sms = setup_region(aws_env, monkeypatch)
        boto3.client("s3", region_name=REGION).create_bucket(
            Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION}
        )
        inbound = importlib.import_module("functions.inbound_sms.handler")
        inbound.process_once.cache_clear()
        answers = importlib.import_module("functions.inbound_email.handler")
        answers.process_once.cache_clear()
        from aws_events import inbound_sms_event, two_way_sms

        for body in ["Il y a un nid de poule devant le 12 rue Laurier", "Gatineau"]:
            inbound.lambda_handler(inbound_sms_event(two_way_sms(body, RESIDENT, OUR_NUMBER)), CONTEXT)
        [city_mail] = sent_mails()
        yield answers, sms, city_mail


def agent_reply(city_mail, text: str, *, sender: str = AGENT, headers: dict | None = None) -> bytes:
    msg = EmailMessage()
    msg["From"] = f"Marie Tremblay <{sender}>"
    msg["To"] = str(city_mail["Reply-To"])
    msg["Subject"] = f"RE: {city_mail['Subject']}"
    msg["Message-ID"] = f"<{uuid.uuid4()}@gatineau.example.ca>"
    msg["In-Reply-To"] = str(city_mail["Message-ID"])
    for name, value in (headers or {}).items():
        msg[name] = value
    quoted = "\n".join("> " + line for line in city_mail.get_body(("plain",)).get_content().splitlines())
    msg.set_content(f"{text}\n\nMarie Tremblay\nAgente 311 | Ville de Gatineau\n819-555-0199\n\n"
                    f"On Mon, Nov 23, 2026 at 10:12 AM Text311 <notify@text311.example.ca> wrote:\n{quoted}\n")
    return msg.as_bytes()


def from_headers(raw: bytes) -> list[str]:
    """The From values SES reports in ``mail.commonHeaders.from``: each From header of the mail, as written."""
    message = email.message_from_bytes(raw, policy=default_policy)
    return [value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
            for name, value in message.raw_items() if name.lower() == "from"]


def deliver(answers, raw: bytes, *, recipient: str, sender: str = AGENT, message_id: str | None = None,
            verdicts: dict | None = None, return_path: str | None = None, ses_from: list[str] | None = None):
    """SES delivering ``raw``: ``sender`` is the envelope's, ``ses_from`` what SES read in From (the mail's own)."""
    message_id = message_id or uuid.uuid4().hex
    boto3.client("s3", region_name=REGION).put_object(Bucket=BUCKET, Key=f"inbound/{message_id}", Body=raw)
    event = ses_receipt(message_id=message_id, recipient=recipient, sender=sender, verdicts=verdicts,
                        return_path=return_path)
    event["Records"][0]["ses"]["mail"]["commonHeaders"]["from"] = from_headers(raw) if ses_from is None else ses_from
    return answers.lambda_handler(event, CONTEXT)


ANSWER = "Bonjour, une équipe passera demain matin pour réparer le nid de poule. Merci!"


def test_an_agent_answer_with_quoted_history_sends_only_the_new_text(region):
    answers, sms, city_mail = region
    [outcome] = deliver(answers, agent_reply(city_mail, ANSWER), recipient=str(city_mail["Reply-To"]))
    assert outcome["sent"] is True
    assert sms.to(RESIDENT)[-1] == ANSWER


def test_the_first_agent_to_answer_owns_the_conversation_and_later_texts_go_to_them(region):
    answers, sms, city_mail = region
    deliver(answers, agent_reply(city_mail, ANSWER), recipient=str(city_mail["Reply-To"]))
    [conversation] = list(ConversationModel.query(5959974))
    assert conversation.owner_email is None  # queued: the agent owns it once the drainer has sent it
    sms.flush()
    [conversation] = list(ConversationModel.query(5959974))
    assert conversation.owner_email == AGENT


def test_the_same_mail_delivered_twice_sends_one_sms(region):
    answers, sms, city_mail = region
    raw = agent_reply(city_mail, ANSWER)
    before = len(sms.sent)
    deliver(answers, raw, recipient=str(city_mail["Reply-To"]), message_id="ses-dup-1")
    deliver(answers, raw, recipient=str(city_mail["Reply-To"]), message_id="ses-dup-1")
    assert len(sms.sent) == before + 1


@pytest.mark.parametrize("change", ["closed", "opted out"])
def test_an_answer_redelivered_after_a_close_or_a_stop_is_reported_sent_not_refused(region, change):
    answers, sms, city_mail = region
    raw = agent_reply(city_mail, ANSWER)
    [first] = deliver(answers, raw, recipient=str(city_mail["Reply-To"]), message_id="ses-late-1")
    [conversation] = list(ConversationModel.query(5959974))
    action = (ConversationModel.status.set("closed") if change == "closed"
              else ConversationModel.resident_opted_out.set(True))
    conversation.update(actions=[action])
    mails, texts = len(sent_mails()), len(sms.sent)

    # The same mail (one Message-ID) received again by SES under a new id: the handler's idempotency
    # record does not know it, the answer's record does.
    [again] = deliver(answers, raw, recipient=str(city_mail["Reply-To"]), message_id="ses-late-2")

    assert first["sent"] is True
    assert (again["sent"], again["reason"]) == (True, "duplicate")
    assert len(sms.sent) == texts  # nothing sent twice
    assert len(sent_mails()) == mails  # and no "your answer was refused" notice to the agent


def test_a_new_answer_to_a_closed_conversation_is_still_refused(region):
    answers, sms, city_mail = region
    [conversation] = list(ConversationModel.query(5959974))
    conversation.update(actions=[ConversationModel.status.set("closed")])

    [outcome] = deliver(answers, agent_reply(city_mail, ANSWER), recipient=str(city_mail["Reply-To"]))

    assert (outcome["sent"], outcome["reason"]) == (False, "closed")


@pytest.mark.parametrize(
    ("case", "kwargs", "reason"),
    [
        ("forged From", {"sender": "mallory@evil.example.com"}, "not_allowed"),
        ("DMARC FAIL", {"verdicts": {"dmarc": "FAIL"}}, "unauthenticated"),
        ("virus FAIL", {"verdicts": {"virus": "FAIL"}}, "virus"),
        ("spam FAIL", {"verdicts": {"spam": "FAIL"}}, "spam"),
        ("SPF and DKIM fail", {"verdicts": {"spf": "FAIL", "dkim": "FAIL", "dmarc": "GRAY"}}, "unauthenticated"),
        ("no DMARC, unaligned envelope", {"verdicts": {"dmarc": "GRAY"}, "return_path": "bounce@mailer.example"},
         "unauthenticated"),
    ],
)
def test_rejected_answers_reach_no_phone(region, case, kwargs, reason):
    answers, sms, city_mail = region
    before = len(sms.sent)
    sender = kwargs.pop("sender", AGENT)
    raw = agent_reply(city_mail, "Please call me back", sender=sender)
    [outcome] = deliver(answers, raw, recipient=str(city_mail["Reply-To"]), sender=sender, **kwargs)
    assert outcome == {"sent": False, "reason": reason, "conversation_id": None, "parts": 0,
                       "wait_minutes": None}, case
    assert len(sms.sent) == before


def test_a_bad_token_reaches_no_phone_and_gets_no_answer(region):
    answers, sms, city_mail = region
    token = str(city_mail["Reply-To"])
    forged = token.replace(token.split(".")[-3][-4:], "zzzz")
    before, mails = len(sms.sent), len(sent_mails())
    [outcome] = deliver(answers, agent_reply(city_mail, ANSWER), recipient=forged)
    assert outcome["reason"] == "bad_token"
    assert len(sms.sent) == before and len(sent_mails()) == mails  # no backscatter


def test_a_verified_agent_not_on_the_allow_list_is_told_why(region):
    answers, sms, city_mail = region
    outsider = "bob@contractor.example.com"
    [outcome] = deliver(answers, agent_reply(city_mail, ANSWER, sender=outsider),
                        recipient=str(city_mail["Reply-To"]), sender=outsider,
                        return_path=outsider)
    assert outcome["reason"] == "not_allowed"
    notice = sent_mails()[-1]
    assert notice["To"] == outsider and notice["Auto-Submitted"] == "auto-replied"
    assert "n'est pas sur la liste des agents" in notice.get_content()  # Gatineau's mail is in French


def test_an_out_of_office_reply_never_reaches_the_resident(region):
    answers, sms, city_mail = region
    before = len(sms.sent)
    raw = agent_reply(city_mail, "I am out of the office until Monday.", headers={"Auto-Submitted": "auto-replied"})
    [outcome] = deliver(answers, raw, recipient=str(city_mail["Reply-To"]))
    assert outcome["reason"] == "auto_reply" and len(sms.sent) == before


def test_an_answer_to_a_closed_conversation_is_refused(region):
    answers, sms, city_mail = region
    [conversation] = list(ConversationModel.query(5959974))
    conversation.update(actions=[ConversationModel.status.set("closed")])
    before = len(sms.sent)
    [outcome] = deliver(answers, agent_reply(city_mail, ANSWER), recipient=str(city_mail["Reply-To"]))
    assert outcome["reason"] == "closed" and len(sms.sent) == before


def test_an_answer_to_an_opted_out_resident_is_refused_and_the_agent_told(region):
    answers, sms, city_mail = region
    [conversation] = list(ConversationModel.query(5959974))
    conversation.update(actions=[ConversationModel.resident_opted_out.set(True)])
    before = len(sms.sent)
    [outcome] = deliver(answers, agent_reply(city_mail, ANSWER), recipient=str(city_mail["Reply-To"]))
    assert outcome["reason"] == "opted_out" and len(sms.sent) == before
    assert "désabonné" in sent_mails()[-1].get_content()


def test_a_failed_delivery_marks_the_message_and_tells_the_agent_once(region):
    answers, sms, city_mail = region
    deliver(answers, agent_reply(city_mail, ANSWER), recipient=str(city_mail["Reply-To"]))
    context = sms.sent[-1].context
    delivery = importlib.import_module("functions.delivery_status.handler")
    from aws_events import sms_delivery_event

    from text311.adapters.dynamodb import MessageModel

    failed = sms_delivery_event("sms-1", "CARRIER_UNREACHABLE", final=True, context=context,
                                description="Carrier could not reach the phone")
    mails_before = len(sent_mails())
    assert delivery.lambda_handler(failed, CONTEXT) == {"batchItemFailures": []}
    assert delivery.lambda_handler(failed, CONTEXT) == {"batchItemFailures": []}  # redelivered
    late = sms_delivery_event("sms-1", "PENDING", final=False, context=context)
    delivery.lambda_handler(late, CONTEXT)

    message = MessageModel.get(context["conversation"], context["message"])
    assert message.status == "undelivered"
    notices = sent_mails()[mails_before:]
    assert len(notices) == 1
    assert notices[0]["To"] == AGENT
    assert notices[0]["In-Reply-To"] is not None
    assert "pas pu être livrée" in notices[0].get_content()


def test_a_delivered_event_marks_the_message_delivered(region):
    answers, sms, city_mail = region
    deliver(answers, agent_reply(city_mail, ANSWER), recipient=str(city_mail["Reply-To"]))
    context = sms.sent[-1].context
    delivery = importlib.import_module("functions.delivery_status.handler")
    from aws_events import sms_delivery_event

    from text311.adapters.dynamodb import MessageModel

    delivery.lambda_handler(sms_delivery_event("sms-2", "DELIVERED", final=True, context=context), CONTEXT)
    assert MessageModel.get(context["conversation"], context["message"]).status == "delivered"


def test_an_answer_whose_send_is_in_doubt_is_not_resent_and_the_agent_is_told(region, monkeypatch):
    from text311.adapters.sms_sender import SendInDoubt

    answers, sms, city_mail = region
    calls = []

    def unsure(destination, body, *, idempotency_key, context=None):
        calls.append(idempotency_key)
        raise SendInDoubt("read timeout after the request was sent")

    sms.flush()  # the dialog's answers, queued before this test
    monkeypatch.setattr(sms, "send", unsure)
    raw = agent_reply(city_mail, ANSWER)
    [first] = deliver(answers, raw, recipient=str(city_mail["Reply-To"]), message_id="ses-doubt")
    sms.flush()  # the drainer's call gets no answer: in doubt
    answers.process_once.cache_clear()  # a fresh container, as Lambda's retry would be
    [second] = deliver(answers, raw, recipient=str(city_mail["Reply-To"]), message_id="ses-doubt")
    sms.flush()
    assert first["reason"] == "queued" and len(calls) == 1  # queued, tried once, never again
    assert second["reason"] in ("queued", "duplicate")
    assert "elle a pu parvenir au résident, ou non" in sent_mails()[-1].get_content()


def test_an_answer_over_the_citys_sms_cap_is_not_sent_and_the_agent_is_told(region, monkeypatch):
    answers, sms, city_mail = region
    monkeypatch.setenv("CITY_SMS_PER_HOUR", "1")
    from text311 import services

    services.reset()
    texts_before = len(sms.sent)
    [first] = deliver(answers, agent_reply(city_mail, "Une équipe passe demain."), recipient=str(city_mail["Reply-To"]))
    [second] = deliver(answers, agent_reply(city_mail, "C'est réparé."), recipient=str(city_mail["Reply-To"]))

    assert first["sent"] is True
    assert second == {"sent": False, "reason": "city_cap", "conversation_id": None, "parts": 0, "wait_minutes": None}
    assert len(sms.sent) == texts_before + 1
    notices = [m for m in sent_mails() if m["To"] == AGENT]
    assert notices and "limite de textos" in notices[-1].get_body(("plain",)).get_content()
