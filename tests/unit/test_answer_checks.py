"""What an emailed answer must be before it reaches a phone (issue 17): one authenticated author, written
by a person, and texted once however many times it is delivered."""

from __future__ import annotations

import email
import socket
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.policy import default as default_policy
from email.utils import format_datetime

import boto3
import pytest
from aws_events import ses_receipt
from harness import REGION, sent_mails
from test_inbound_email_handler import (
    AGENT,
    ANSWER,
    BUCKET,
    CONTEXT,
    RESIDENT,
    agent_reply,
    deliver,
    from_headers,
    region,
)

from text311 import answers
from text311.adapters.dynamodb import ConversationModel, MessageModel
from text311.answers import (
    ReceivedMail,
    Rejection,
    _aligned,
    _from_lines,
    _single_from,
    answer_identity,
    machine_mail,
)
from text311.conversations import ConversationStore

__all__ = ["region"]  # the inbound_email fixture, shared with test_inbound_email_handler

RECEIVED_AT = datetime(2025, 3, 4, 15, 0, 2, tzinfo=UTC)


def parsed(headers: str, body: str = "Hello") -> EmailMessage:
    return email.message_from_bytes(f"{headers}\n\n{body}".encode(), policy=default_policy)


def received(ses_message_id: str = "ses-1", *, at: datetime = RECEIVED_AT, return_path: str = AGENT) -> ReceivedMail:
    return ReceivedMail(ses_message_id=ses_message_id, recipients=("r@reply.example",), header_from=(AGENT,),
                        return_path=return_path,
                        spf="PASS", dkim="PASS", dmarc="PASS", spam="PASS", virus="PASS", received_at=at,
                        bucket="b", object_key=f"inbound/{ses_message_id}")


# -- item 3: one sender, aligned on the organisational domain -----------------------------------------------

SMUGGLED_FROMS = (
    "marie.tremblay@gatineau.example.ca <mallory@evil.example.com>",
    "<marie.tremblay@gatineau.example.ca>mallory@evil.example.com",
    "marie.tremblay@gatineau.example.ca;mallory@evil.example.com",
)


@pytest.mark.parametrize(
    "headers",
    [
        *(f"From: {value}" for value in SMUGGLED_FROMS),
        "From: marie.tremblay@gatineau.example.ca, mallory@evil.example.com",
        "From: Agents: marie.tremblay@gatineau.example.ca;",
        "From: <>",
        "From: marie.tremblay",
        "From: marie.tremblay@gatineau.example.ca\nFrom: mallory@evil.example.com",
        "Subject: no From at all",
    ],
)
def test_a_from_that_is_not_exactly_one_address_names_no_sender(headers: str) -> None:
    assert _single_from(parsed(headers)) is None


@pytest.mark.parametrize(
    ("headers", "sender"),
    [
        ("From: Marie Tremblay <Marie.Tremblay@Gatineau.example.ca>", "marie.tremblay@gatineau.example.ca"),
        ('From: "Tremblay, Marie" <marie.tremblay@gatineau.example.ca>', "marie.tremblay@gatineau.example.ca"),
        ("From: J. Smith <jsmith@kingston.example.ca>", "jsmith@kingston.example.ca"),  # obsolete, still valid
    ],
)
def test_a_from_with_one_address_names_that_sender(headers: str, sender: str) -> None:
    assert _single_from(parsed(headers)) == sender


@pytest.mark.parametrize(
    ("envelope", "author"),
    [
        ("bounce.levis.qc.ca", "gatineau.qc.ca"),
        ("mail.chicago.il.us", "ville.springfield.il.us"),
        ("mailer.evil.co.uk", "city.example.co.uk"),
        ("qc.ca", "qc.ca"),  # a public suffix is no one's domain
    ],
)
def test_domains_that_share_only_a_public_suffix_are_not_aligned(envelope: str, author: str) -> None:
    assert _aligned(envelope, author) is False


@pytest.mark.parametrize(
    ("envelope", "author"),
    [("bounce.gatineau.qc.ca", "ville.gatineau.qc.ca"), ("Gatineau.QC.CA.", "gatineau.qc.ca")],
)
def test_subdomains_of_one_organisational_domain_are_aligned(envelope: str, author: str) -> None:
    assert _aligned(envelope, author) is True


def test_the_public_suffix_list_is_read_from_the_package_never_fetched(monkeypatch) -> None:
    def no_network(*args, **kwargs):
        raise AssertionError("the Public Suffix List must not be fetched at run time")

    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(socket.socket, "connect", no_network)
    answers._public_suffixes.cache_clear()

    assert answers.organisational_domain("bounce.ville.gatineau.qc.ca") == "gatineau.qc.ca"


@pytest.mark.parametrize("smuggled", SMUGGLED_FROMS)
def test_an_answer_whose_from_smuggles_a_second_address_reaches_no_phone_and_gets_no_notice(region, smuggled):
    handler, sms, city_mail = region
    raw = agent_reply(city_mail, ANSWER).replace(f"From: Marie Tremblay <{AGENT}>".encode(),
                                                 f"From: {smuggled}".encode())
    texts, mails = len(sms.sent), len(sent_mails())

    [outcome] = deliver(handler, raw, recipient=str(city_mail["Reply-To"]))

    assert outcome["reason"] == "unauthenticated"
    assert len(sms.sent) == texts and len(sent_mails()) == mails


HIDDEN_FROM = b"From : mallory@evil.example\r\n"


@pytest.mark.parametrize("hidden", [HIDDEN_FROM, b"from\t: mallory@evil.example\r\n", b"FROM:mallory@evil.example\r\n"])
def test_every_from_line_of_the_raw_header_block_is_counted(hidden: bytes) -> None:
    raw = b"From: jean@city.example\r\n" + hidden + b"Subject: s\r\n\r\nFrom: in the body\r\n"

    assert _from_lines(raw) == 2


def test_an_answer_with_a_from_line_pythons_parser_hides_reaches_no_phone(region):
    handler, sms, city_mail = region
    raw = agent_reply(city_mail, ANSWER)
    head, _, body = raw.partition(b"\n")  # the first line is the answer's own From
    assert head.startswith(b"From: ")
    hidden = head + b"\n" + HIDDEN_FROM + body
    assert _single_from(email.message_from_bytes(hidden, policy=default_policy)) == AGENT  # what Python sees
    texts, mails = len(sms.sent), len(sent_mails())

    [outcome] = deliver(handler, hidden, recipient=str(city_mail["Reply-To"]))

    assert outcome["reason"] == "unauthenticated"
    assert len(sms.sent) == texts and len(sent_mails()) == mails


@pytest.mark.parametrize(
    "ses_from",
    [["mallory@evil.example"], [f"Marie Tremblay <{AGENT}>", "mallory@evil.example"], [], [f"{AGENT}, m@evil.example"]],
)
def test_an_answer_whose_from_ses_read_is_not_the_one_we_read_reaches_no_phone(region, ses_from):
    handler, sms, city_mail = region
    texts = len(sms.sent)

    [outcome] = deliver(handler, agent_reply(city_mail, ANSWER), recipient=str(city_mail["Reply-To"]),
                        ses_from=ses_from)

    assert outcome["reason"] == "unauthenticated" and len(sms.sent) == texts


def test_a_from_ses_read_with_another_case_and_display_name_is_the_same_sender(region):
    handler, sms, city_mail = region

    [outcome] = deliver(handler, agent_reply(city_mail, ANSWER), recipient=str(city_mail["Reply-To"]),
                        ses_from=[f"=?utf-8?q?Marie_Tr=C3=A9mblay?= <{AGENT.upper()}>"])

    assert outcome["sent"] is True


def test_an_8bit_utf8_display_name_names_its_sender() -> None:
    raw = "From: Rémi Tremblay <remi.tremblay@gatineau.example.ca>\r\nSubject: s\r\n\r\nBonjour".encode()

    assert _single_from(email.message_from_bytes(raw, policy=default_policy)) == "remi.tremblay@gatineau.example.ca"


@pytest.mark.parametrize(
    "from_line",
    [
        b"From: R\xe9mi Tremblay <remi.tremblay@gatineau.example.ca>",  # Latin-1: not UTF-8
        "From: Rémi <rémi.tremblay@gatineau.example.ca>".encode(),  # the address itself is not ASCII
        *(f"From: Rémi {value}".encode() for value in SMUGGLED_FROMS),
    ],
)
def test_8bit_from_that_is_not_utf8_or_not_one_clean_address_names_no_sender(from_line: bytes) -> None:
    raw = from_line + b"\r\nSubject: s\r\n\r\nBonjour"

    assert _single_from(email.message_from_bytes(raw, policy=default_policy)) is None


def test_an_answer_signed_with_an_8bit_utf8_name_reaches_the_resident(region):
    handler, sms, city_mail = region
    raw = agent_reply(city_mail, ANSWER).replace(b"From: Marie Tremblay <", "From: Marie-Hélène Tremblay <".encode())
    assert "Marie-Hélène".encode() in raw  # 8-bit in the header, as many mailers send it

    [outcome] = deliver(handler, raw, recipient=str(city_mail["Reply-To"]))

    assert outcome["sent"] is True
    assert sms.to(RESIDENT)[-1] == ANSWER


# -- item 4: machine mail never reaches a phone -------------------------------------------------------------

@pytest.mark.parametrize(
    ("headers", "return_path", "reason"),
    [
        ("Content-Type: multipart/report; report-type=delivery-status; boundary=b", AGENT, Rejection.DELIVERY_REPORT),
        ("Content-Type: text/plain", "<>", Rejection.DELIVERY_REPORT),
        ("Return-Path: <>", AGENT, Rejection.DELIVERY_REPORT),
        ("Precedence: bulk", AGENT, Rejection.BULK),
        ("Precedence: junk", AGENT, Rejection.BULK),
        ("Precedence: list", AGENT, Rejection.MAILING_LIST),
        ("List-Id: Travaux publics <tp.gatineau.example.ca>", AGENT, Rejection.MAILING_LIST),
        ("List-Unsubscribe: <mailto:leave@lists.example.ca>", AGENT, Rejection.MAILING_LIST),
        ("X-Autoreply: yes", AGENT, Rejection.AUTO_REPLY),
        ("X-Autorespond: on", AGENT, Rejection.AUTO_REPLY),
        ("Auto-Submitted: auto-replied", AGENT, Rejection.AUTO_REPLY),
        ("Subject: Automatic reply: [Text311 #4TRM] Gatineau: Pothole", AGENT, Rejection.AUTO_REPLY),
        ("Subject: Réponse automatique : [Text311 #4TRM] Gatineau", AGENT, Rejection.AUTO_REPLY),
        ("Subject: Out of Office AutoReply: [Text311 #4TRM]", AGENT, Rejection.AUTO_REPLY),
        ("Subject: Absent du bureau", AGENT, Rejection.AUTO_REPLY),
    ],
)
def test_machine_mail_is_named_by_its_kind(headers: str, return_path: str, reason: Rejection) -> None:
    assert machine_mail(received(return_path=return_path), parsed(f"From: {AGENT}\n{headers}")) is reason


@pytest.mark.parametrize(
    "headers",
    [
        "Subject: RE: [Text311 #4TRM] Gatineau: Automatic reply from the resident's phone?\nAuto-Submitted: no",
        "Subject: RE: [Text311 #4TRM] Gatineau: Pothole\nThread-Topic: Pothole\nImportance: normal\n"
        "X-MS-Has-Attach:\nContent-Language: fr-CA\nX-Mailer: Microsoft Outlook 16.0",
    ],
)
def test_a_persons_mail_is_no_machine_mail(headers: str) -> None:
    assert machine_mail(received(), parsed(f"From: {AGENT}\n{headers}")) is None


def delivery_report(city_mail: EmailMessage) -> bytes:
    """A bounce as Exchange writes it: multipart/report, no Auto-Submitted header."""
    return (
        "From: Microsoft Outlook <postmaster@gatineau.example.ca>\r\n"
        f"To: {city_mail['Reply-To']}\r\nSubject: Undeliverable: RE: {city_mail['Subject']}\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="r"\r\n\r\n'
        "--r\r\nContent-Type: text/plain\r\n\r\nDelivery has failed to these recipients.\r\n"
        "--r\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; gatineau.example.ca\r\n\r\n"
        "Final-Recipient: rfc822; 311@gatineau.example.ca\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        "--r--\r\n"
    ).encode()


def with_header(raw: bytes, name: str, value: str) -> bytes:
    message = email.message_from_bytes(raw, policy=default_policy)
    del message[name]
    message[name] = value
    return message.as_bytes()


@pytest.mark.parametrize(
    ("build", "return_path", "reason"),
    [
        (delivery_report, "postmaster@gatineau.example.ca", "delivery_report"),
        (lambda mail: agent_reply(mail, ANSWER), "<>", "delivery_report"),
        (lambda mail: agent_reply(mail, ANSWER, headers={"Precedence": "bulk"}), None, "bulk"),
        (lambda mail: agent_reply(mail, ANSWER, headers={"List-Id": "<tp.gatineau.example.ca>"}), None,
         "mailing_list"),
        (lambda mail: agent_reply(mail, ANSWER, headers={"List-Unsubscribe": "<mailto:u@gatineau.example.ca>"}),
         None, "mailing_list"),
        (lambda mail: with_header(agent_reply(mail, "Je suis absente jusqu'au 10 mars."), "Subject",
                                  f"Réponse automatique : {mail['Subject']}"), None, "auto_reply"),
    ],
)
def test_machine_mail_reaches_no_phone_is_counted_by_kind_and_gets_no_notice(region, monkeypatch, build,
                                                                             return_path, reason):
    handler, sms, city_mail = region
    counted: list[str] = []
    monkeypatch.setattr(answers, "count_rejected_answer", counted.append)
    texts, mails = len(sms.sent), len(sent_mails())

    [outcome] = deliver(handler, build(city_mail), recipient=str(city_mail["Reply-To"]), return_path=return_path)

    assert outcome["reason"] == reason and counted == [reason]
    assert len(sms.sent) == texts and len(sent_mails()) == mails


def test_an_agents_answer_from_outlook_with_none_of_these_marks_is_sent(region):
    handler, sms, city_mail = region
    outlook = {"Thread-Topic": "Nid de poule", "Thread-Index": "AQHbjK2x", "X-MS-Has-Attach": "",
               "Content-Language": "fr-CA", "Importance": "normal", "X-Mailer": "Microsoft Outlook 16.0"}

    [outcome] = deliver(handler, agent_reply(city_mail, ANSWER, headers=outlook), recipient=str(city_mail["Reply-To"]))

    assert outcome["sent"] is True
    assert sms.to(RESIDENT)[-1] == ANSWER


# -- item 5: the same mail twice is one SMS -----------------------------------------------------------------

def test_one_mail_delivered_twice_has_one_identity_in_its_conversation() -> None:
    message = parsed(f"From: {AGENT}\nMessage-ID: <a1@gatineau.example.ca>\nDate: {format_datetime(RECEIVED_AT)}")

    first = answer_identity(received("ses-1"), message, "5959974-abc")
    again = answer_identity(received("ses-2", at=RECEIVED_AT + timedelta(minutes=3)), message, "5959974-abc")

    assert first == again and first[0] not in ("ses-1", "ses-2")
    assert answer_identity(received("ses-1"), message, "5959974-xyz")[0] != first[0]


def test_a_mail_without_message_id_is_known_by_its_ses_message_id_and_receipt() -> None:
    assert answer_identity(received("ses-1"), parsed(f"From: {AGENT}"), "5959974-abc") == ("ses-1", RECEIVED_AT)


def test_a_date_in_minus_0000_is_read_as_utc() -> None:
    written = RECEIVED_AT - timedelta(minutes=2)
    message = parsed(f"From: {AGENT}\nMessage-ID: <a1@x>\nDate: {written.strftime('%a, %d %b %Y %H:%M:%S')} -0000")

    assert answer_identity(received(), message, "5959974-abc")[1] == written


def test_a_date_far_from_the_receipt_is_not_trusted_as_the_answers_time() -> None:
    message = parsed(f"From: {AGENT}\nMessage-ID: <a1@x>\nDate: {format_datetime(RECEIVED_AT - timedelta(days=9))}")

    assert answer_identity(received(), message, "5959974-abc")[1] == RECEIVED_AT


def deliver_at(handler, raw: bytes, *, recipient: str, ses_message_id: str, at: datetime) -> dict:
    """SES delivering ``raw`` under its own message id and receipt time."""
    boto3.client("s3", region_name=REGION).put_object(Bucket=BUCKET, Key=f"inbound/{ses_message_id}", Body=raw)
    event = ses_receipt(message_id=ses_message_id, recipient=recipient, sender=AGENT)
    event["Records"][0]["ses"]["receipt"]["timestamp"] = at.isoformat().replace("+00:00", "Z")
    event["Records"][0]["ses"]["mail"]["commonHeaders"]["from"] = from_headers(raw)
    [outcome] = handler.lambda_handler(event, CONTEXT)
    return outcome


def test_the_same_mail_delivered_under_two_ses_message_ids_sends_one_sms(region):
    handler, sms, city_mail = region
    now = datetime.now(UTC).replace(microsecond=0)
    raw = agent_reply(city_mail, ANSWER, headers={"Date": format_datetime(now)})
    texts = len(sms.sent)

    first = deliver_at(handler, raw, recipient=str(city_mail["Reply-To"]), ses_message_id="ses-a", at=now)
    second = deliver_at(handler, raw, recipient=str(city_mail["Reply-To"]), ses_message_id="ses-b",
                        at=now + timedelta(seconds=40))

    assert first["sent"] is True
    assert (second["sent"], second["reason"]) == (True, "duplicate")
    assert len(sms.sent) == texts + 1


def minus_0000(at: datetime) -> str:
    return f"{at.strftime('%a, %d %b %Y %H:%M:%S')} -0000"


@pytest.mark.parametrize(
    ("case", "date_of"),
    [
        ("Date at the first receipt", format_datetime),
        ("no Date", None),
        ("Date in -0000", minus_0000),
        ("Date two days old", lambda now: format_datetime(now - timedelta(days=2))),
    ],
)
def test_the_same_mail_received_25_hours_apart_under_two_ses_ids_sends_one_sms(region, case, date_of):
    handler, sms, city_mail = region
    now = datetime.now(UTC).replace(microsecond=0)
    raw = agent_reply(city_mail, ANSWER, headers={"Date": date_of(now)} if date_of else None)
    reply_to, texts = str(city_mail["Reply-To"]), len(sms.sent)

    first = deliver_at(handler, raw, recipient=reply_to, ses_message_id="ses-a", at=now)
    second = deliver_at(handler, raw, recipient=reply_to, ses_message_id="ses-b", at=now + timedelta(hours=25))

    assert first["sent"] is True, case
    assert (second["sent"], second["reason"]) == (True, "duplicate"), case
    assert len(sms.sent) == texts + 1, case
    [answer] = emailed_answers()
    assert answer.ses_message_id == "ses-a"  # erasure deletes the first delivery's raw mail


def test_every_delivery_of_an_answer_gets_the_time_the_first_one_claimed(region):
    store = ConversationStore(retention_days=30, idle_days=7)
    first, later = RECEIVED_AT, RECEIVED_AT + timedelta(hours=30)

    assert store.answer_time("5959974-abc", "mail-1", first) == first
    assert store.answer_time("5959974-abc", "mail-1", later) == first
    assert store.answer_time("5959974-abc", "mail-2", later) == later  # another answer, its own time
    assert store.answer_time("5959974-xyz", "mail-1", later) == later  # another conversation


def test_an_answers_id_claim_is_not_in_its_conversations_thread(region):
    handler, sms, city_mail = region
    deliver(handler, agent_reply(city_mail, ANSWER), recipient=str(city_mail["Reply-To"]))
    [conversation] = list(ConversationModel.query(5959974))

    assert {m.direction for m in MessageModel.query(conversation.conversation_id)} <= {"in", "out", "note"}


def emailed_answers() -> list[MessageModel]:
    [conversation] = list(ConversationModel.query(5959974))
    return [m for m in MessageModel.query(conversation.conversation_id) if m.channel == "email"]


def test_an_answer_without_message_id_is_still_recorded_under_its_ses_message_id(region):
    handler, sms, city_mail = region
    raw = agent_reply(city_mail, ANSWER).replace(b"Message-ID:", b"X-Old-Message-ID:")

    deliver(handler, raw, recipient=str(city_mail["Reply-To"]), message_id="ses-no-mid")

    [answer] = emailed_answers()
    assert answer.message_key.endswith("#ses-no-mid") and answer.ses_message_id == "ses-no-mid"


def test_erasure_still_deletes_the_raw_mail_of_an_answer_known_by_its_message_id(region):
    from text311.erasure import forget_resident

    handler, sms, city_mail = region
    deliver(handler, agent_reply(city_mail, ANSWER), recipient=str(city_mail["Reply-To"]), message_id="ses-erase")
    [conversation] = list(ConversationModel.query(5959974))
    deleted: list[str] = []

    forget_resident(conversation.phone_hash, delete_raw_mail=deleted.append)

    assert deleted == ["ses-erase"]


# -- the owner an answer finds -------------------------------------------------------------------------------

def test_a_stored_owner_who_is_not_an_agent_of_the_city_is_no_owner_to_the_answering_agent(region):
    handler, sms, city_mail = region
    [conversation] = list(ConversationModel.query(5959974))
    conversation.update(actions=[ConversationModel.owner_email.set("mallory@evil.example.com")])

    [outcome] = deliver(handler, agent_reply(city_mail, ANSWER), recipient=str(city_mail["Reply-To"]))
    sms.flush()  # the drainer sends the answer and assigns its agent

    assert outcome["sent"] is True
    [conversation] = list(ConversationModel.query(5959974))
    assert conversation.owner_email == AGENT
    assert [m for m in MessageModel.query(conversation.conversation_id) if m.direction == "note"] == []
