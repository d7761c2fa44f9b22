"""Agent answers through the inbound_email handler with any token, sender, SES verdicts and MIME: a defined
outcome every time, and nothing reaches a phone from a message that fails verification."""

from __future__ import annotations

import uuid

import boto3
import pytest
from aws_events import inbound_sms_event, ses_receipt, two_way_sms
from harness import OUR_NUMBER, RAW_MAIL_BUCKET, REGION, LambdaContext, sent_mails
from hypothesis import given
from hypothesis import strategies as st

from text311.answers import MAX_RAW_BYTES, Rejection
from text311.outbound.parts import split_parts

from .mime_strategies import answers, malformed_messages, nested
from .profile import FUZZ

CONTEXT = LambdaContext("inbound-email")
RESIDENT = "+18195550123"
ALLOWED = "marie.tremblay@gatineau.example.ca"
SENDERS = (ALLOWED, ALLOWED, "bob@evil.example.com", "marie@gatineau.example.ca.evil.com",
           "agent@kingston.example.ca", "marie@sub.gatineau.example.ca",
           # a second address smuggled into From: the allowed one first, as a lax parser would read it
           f"{ALLOWED} <bob@evil.example.com>", f"<{ALLOWED}>bob@evil.example.com", f"{ALLOWED};bob@evil.example.com")
# Marks of mail a robot wrote (auto-reply, bounce, list, bulk): none of it may reach a phone.
ROBOT_HEADERS = ("Auto-Submitted: auto-replied", "Precedence: bulk", "Precedence: list", "List-Id: <tp.example.ca>",
                 "List-Unsubscribe: <mailto:u@example.ca>", "X-Autoreply: yes", "Return-Path: <>",
                 "Content-Type: multipart/report; report-type=delivery-status; boundary=r")
STATUSES = ("PASS", "PASS", "PASS", "FAIL", "GRAY", "PROCESSING_FAILED", "DISABLED")
TOKENS = ("valid", "valid", "tampered", "other_key", "no_token", "other_domain", "other_conversation")
OUTCOMES = {r.value for r in Rejection} | {"sent", "queued", "duplicate"}


def as_sent(answer: str) -> list[tuple[str, str]]:
    """What the resident's phone gets for ``answer``: the drainer sends it as the segmenter's parts."""
    return [(RESIDENT, part) for part in split_parts(answer)]


@pytest.fixture
def conversation(region):
    """(answers handler, SMS fake, the city mail's Reply-To) for one open conversation."""
    inbound, answers_handler, sms = region
    for body in ("Gatineau", "Pothole at 12 rue Laurier"):
        inbound.lambda_handler(inbound_sms_event(two_way_sms(body, RESIDENT, OUR_NUMBER)), LambdaContext())
    [city_mail] = sent_mails()
    return answers_handler, sms, str(city_mail["Reply-To"])


def recipient(token: str, reply_to: str) -> str:
    local, _, domain = reply_to.partition("@")
    return {
        "valid": reply_to,
        "tampered": f"{local[:-1]}{'a' if local[-1] != 'a' else 'b'}@{domain}",
        "other_key": reply_to.replace(".k1-", ".k2-"),
        "no_token": f"311@{domain}",
        "other_domain": f"{local}@evil.example.com",
        "other_conversation": reply_to.replace("5959974-", "5992500-"),
    }[token]


@st.composite
def attempts(draw) -> dict:
    sender = draw(st.sampled_from(SENDERS))
    answer = draw(answers)
    well_formed = draw(st.integers(0, 3)) > 0
    auto_reply = draw(st.integers(0, 5)) == 0
    headers = f"From: {sender}\r\nTo: agent-answer\r\nSubject: RE: Pothole\r\nMIME-Version: 1.0\r\n"
    if auto_reply:
        headers += draw(st.sampled_from(ROBOT_HEADERS)) + "\r\n"
    raw = headers.encode() + draw(nested(answer)) if well_formed else draw(malformed_messages())
    return {
        "sender": sender, "answer": answer, "well_formed": well_formed, "auto_reply": auto_reply, "raw": raw,
        "token": draw(st.sampled_from(TOKENS)),
        "verdicts": {name: draw(st.sampled_from(STATUSES)) for name in ("spf", "dkim", "dmarc", "spam", "virus")},
        "return_path": draw(st.sampled_from((sender, "bounce@mailer.example", "bounces@gatineau.example.ca"))),
    }


@FUZZ
@given(attempt=attempts())
def test_an_answer_reaches_the_phone_only_when_every_check_passes(conversation, attempt):
    handler, sms, reply_to = conversation
    ses_id = uuid.uuid4().hex
    boto3.client("s3", region_name=REGION).put_object(Bucket=RAW_MAIL_BUCKET, Key=f"inbound/{ses_id}",
                                                      Body=attempt["raw"])
    event = ses_receipt(message_id=ses_id, recipient=recipient(attempt["token"], reply_to), sender=attempt["sender"],
                        verdicts=attempt["verdicts"], return_path=attempt["return_path"])
    texts_before = len(sms.sent)

    [outcome] = handler.lambda_handler(event, CONTEXT)

    new_texts = sms.sent[texts_before:]
    verdicts = attempt["verdicts"]
    verified = (
        attempt["token"] == "valid" and verdicts["virus"] != "FAIL" and verdicts["spam"] != "FAIL"
        and verdicts["dmarc"] != "FAIL" and "PASS" in (verdicts["spf"], verdicts["dkim"])
    )
    assert outcome["reason"] in OUTCOMES
    assert outcome["sent"] == bool(new_texts)
    if not verified:
        assert new_texts == [] and outcome["reason"] not in ("sent", "queued")
    if attempt["well_formed"] and (attempt["sender"] != ALLOWED or attempt["auto_reply"]):
        assert new_texts == []
    everything_passes = verdicts == dict.fromkeys(verdicts, "PASS") and attempt["return_path"] == attempt["sender"]
    if attempt["well_formed"] and attempt["sender"] == ALLOWED and attempt["token"] == "valid" \
            and not attempt["auto_reply"] and everything_passes:
        assert [(text.destination, text.body) for text in new_texts] == as_sent(attempt["answer"])


@FUZZ
@given(answer=answers, data=st.data())
def test_a_verified_answer_in_any_well_formed_mime_reaches_the_resident_exactly(conversation, answer, data):
    handler, sms, reply_to = conversation
    ses_id = uuid.uuid4().hex
    raw = (f"From: Marie <{ALLOWED}>\r\nTo: {reply_to}\r\nSubject: RE: Pothole\r\nMIME-Version: 1.0\r\n".encode()
           + data.draw(nested(answer)))
    boto3.client("s3", region_name=REGION).put_object(Bucket=RAW_MAIL_BUCKET, Key=f"inbound/{ses_id}", Body=raw)
    event = ses_receipt(message_id=ses_id, recipient=reply_to, sender=ALLOWED)
    texts_before = len(sms.sent)

    [outcome] = handler.lambda_handler(event, CONTEXT)

    if len(raw) > MAX_RAW_BYTES:  # attachments past the limit: refused unread, as documented
        assert (outcome["reason"], sms.sent[texts_before:]) == ("too_large", [])
    else:
        assert outcome["sent"] is True and outcome["reason"] == "queued"
        assert [(text.destination, text.body) for text in sms.sent[texts_before:]] == as_sent(answer)
