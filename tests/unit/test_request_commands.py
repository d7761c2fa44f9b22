"""#request and #status lines atop an agent's emailed answer, through the inbound_sms and inbound_email
handlers in moto: the request filed once, the resident texted its reference and each status change,
a command line never texted, a command that cannot run explained to the agent."""

from __future__ import annotations

import importlib
import uuid
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

import boto3
import pytest
from aws_events import inbound_sms_event, ses_receipt, two_way_sms
from harness import OUR_NUMBER, REGION, LambdaContext, sent_mails, setup_region, text_of
from moto import mock_aws

from text311 import services
from text311.request_commands import FileRequest, Misplaced, SetStatus, Unknown, split_commands

RESIDENT = "+18195550123"
AGENT = "marie.tremblay@gatineau.example.ca"
BUCKET = "text311-raw-mail-test"
GATINEAU = "5959974"
ADDRESS_FILE = "config/local-addresses.yaml"


# -- reading the commands ------------------------------------------------------------------------


def test_command_lines_are_split_from_the_answer_that_follows():
    commands, rest = split_commands(
        "#request pothole 100 rue Laurier\n\n#STATUS in-progress Crew Tuesday\nWe are on it."
    )

    assert commands == [FileRequest("pothole", "100 rue Laurier"), SetStatus("in_progress", "Crew Tuesday")]
    assert rest == "We are on it."


def test_a_command_line_after_the_text_began_is_misplaced_never_part_of_the_text_alone():
    assert split_commands("Thanks!\n#request pothole") == ([Misplaced("#request")], "Thanks!\n#request pothole")
    assert split_commands("#request pothole\nOn it.\n  #ÉTAT closed")[0] == [
        FileRequest("pothole", ""),
        Misplaced("#ÉTAT"),
    ]


def test_an_answer_without_command_words_has_no_commands():
    assert split_commands("Thanks!\n#5 bus stop, #hashtag") == ([], "Thanks!\n#5 bus stop, #hashtag")


def test_a_greeting_may_come_before_the_commands_and_stays_in_the_text():
    commands, rest = split_commands("Bonjour,\n\n#request pothole\nUne équipe passera demain.")

    assert commands == [FileRequest("pothole", "")]
    assert rest == "Bonjour,\n\nUne équipe passera demain."


def test_a_greeting_alone_after_the_commands_is_no_text():
    assert split_commands("#request pothole\nBonjour,") == ([FileRequest("pothole", "")], "")
    assert split_commands("Bonjour Marie,\n#status closed") == ([SetStatus("closed", "")], "")


def test_an_unknown_hash_word_is_an_unknown_command():
    assert split_commands("#urgent\nHello") == ([Unknown("#urgent")], "Hello")


# -- through the handlers ------------------------------------------------------------------------


@pytest.fixture
def region(aws_env, monkeypatch):
    monkeypatch.setenv("GEOCODER", "address-file")
    monkeypatch.setenv("ADDRESS_FILE", ADDRESS_FILE)
    with mock_aws():
        sms = setup_region(aws_env, monkeypatch)
        boto3.client("s3", region_name=REGION).create_bucket(
            Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION}
        )
        inbound = importlib.import_module("functions.inbound_sms.handler")
        inbound.process_once.cache_clear()
        answers = importlib.import_module("functions.inbound_email.handler")
        answers.process_once.cache_clear()
        for body in ["Il y a un gros nid de poule devant le 100 rue Laurier", "Gatineau"]:
            inbound.lambda_handler(inbound_sms_event(two_way_sms(body, RESIDENT, OUR_NUMBER)), LambdaContext())
        [city_mail] = sent_mails()
        yield answers, sms, city_mail


def answer(answers, city_mail, text: str, *, message_id: str | None = None) -> dict:
    """The agent's reply as SES delivers it; a second delivery of one mail reuses its Message-ID."""
    msg = EmailMessage()
    msg["From"] = AGENT
    msg["To"] = str(city_mail["Reply-To"])
    msg["Subject"] = f"RE: {city_mail['Subject']}"
    msg["Message-ID"] = message_id or f"<{uuid.uuid4()}@gatineau.example.ca>"
    msg.set_content(f"{text}\n\nMarie Tremblay\nAgente 311\n")
    ses_id = uuid.uuid4().hex
    boto3.client("s3", region_name=REGION).put_object(Bucket=BUCKET, Key=f"inbound/{ses_id}", Body=msg.as_bytes())
    event = ses_receipt(message_id=ses_id, recipient=str(city_mail["Reply-To"]), sender=AGENT)
    [outcome] = answers.lambda_handler(event, LambdaContext("inbound-email"))
    return outcome


def mails_to_agent() -> list[str]:
    return [text_of(m) for m in sent_mails() if AGENT in str(m["To"])]


def requests_filed() -> list:
    now = datetime.now(UTC)
    return services.service_requests().list(GATINEAU, start=now - timedelta(days=1), end=now + timedelta(days=1))


def test_the_city_mail_shows_the_suggested_category_and_the_geocoded_place(region):
    _, _, city_mail = region

    body = text_of(city_mail)

    assert body.startswith("Suggestion : pothole (Nid-de-poule)  Lieu : 45.42985,-75.70927 (100 rue Laurier)\n")
    assert "#request pothole" in body


def test_request_files_once_and_texts_the_reference_and_the_answer_not_the_command(region):
    answers, sms, city_mail = region

    outcome = answer(answers, city_mail, "#request pothole\nUne équipe passera demain.")

    [request] = requests_filed()
    assert outcome["sent"] is True
    assert (request.reference, request.service_code, request.status) == ("GAT-1001", "pothole", "open")
    assert (request.lat, request.lon, request.address) == (45.42985, -75.70927, "100 rue Laurier")
    assert "nid de poule devant le 100 rue Laurier" in request.description
    texts = sms.to(RESIDENT)
    assert "Une équipe passera demain." in texts
    assert any(t.startswith("Text311 : demande GAT-1001 enregistrée (Nid-de-poule).") for t in texts)
    assert not any("#request" in t for t in texts)
    assert any("GAT-1001" in m for m in mails_to_agent())


def test_a_redelivered_answer_files_nothing_more_and_texts_nothing_more(region):
    answers, sms, city_mail = region
    message_id = "<same-answer@gatineau.example.ca>"
    answer(answers, city_mail, "#request pothole\nUne équipe passera demain.", message_id=message_id)
    first = sms.to(RESIDENT)

    answer(answers, city_mail, "#request pothole\nUne équipe passera demain.", message_id=message_id)

    assert [r.reference for r in requests_filed()] == ["GAT-1001"]
    assert sms.to(RESIDENT) == first


def test_a_new_answer_with_commands_reads_no_earlier_record(region, monkeypatch):
    # The earlier-answer read is for a refusal about to be given (closed, opted out), not for every answer.
    from text311.conversations import ConversationStore

    answers, sms, city_mail = region
    reads = []
    monkeypatch.setattr(ConversationStore, "recorded_message", lambda self, *args: reads.append(args))

    answer(answers, city_mail, "#request pothole\nUne équipe passera demain.")

    assert [r.reference for r in requests_filed()] == ["GAT-1001"]
    assert reads == []


def test_a_redelivered_answer_with_commands_after_a_close_is_a_duplicate_and_texts_nothing(region):
    from text311.adapters.dynamodb import ConversationModel

    answers, sms, city_mail = region
    message_id = "<late-command-answer@gatineau.example.ca>"
    answer(answers, city_mail, "#request pothole\nUne équipe passera demain.", message_id=message_id)
    texts = sms.to(RESIDENT)
    [conversation] = list(ConversationModel.query(int(GATINEAU)))
    conversation.update(actions=[ConversationModel.status.set("closed")])
    told = mails_to_agent()

    outcome = answer(answers, city_mail, "#request pothole\nUne équipe passera demain.", message_id=message_id)

    assert (outcome["sent"], outcome["reason"]) == (True, "duplicate")
    assert [r.reference for r in requests_filed()] == ["GAT-1001"]
    assert sms.to(RESIDENT) == texts
    assert mails_to_agent() == told  # no "refused" notice for an answer that was sent


def test_an_emailed_answer_and_its_command_are_audited_once_even_when_ses_delivers_the_mail_twice(region):
    from text311.audit import AuditLog

    answers, _, city_mail = region
    message_id = "<audited-answer@gatineau.example.ca>"
    for _ in range(2):
        answer(answers, city_mail, "#request pothole\nUne équipe passera demain.", message_id=message_id)

    # The answer's entry is at the answer's own time: the sample SES event's receipt time (2019).
    entries = list(AuditLog().entries(int(GATINEAU), datetime(2019, 1, 1, tzinfo=UTC), datetime.now(UTC)))
    assert sorted((e.action, e.actor) for e in entries) == [("answer", AGENT), ("request", AGENT)]
    [filed] = [e for e in entries if e.action == "request"]
    assert filed.detail == "GAT-1001 (pothole) filed, by email"
    [conversation_id] = {e.conversation_id for e in entries}
    assert conversation_id is not None and conversation_id.startswith(f"{GATINEAU}-")
    assert all(RESIDENT[-4:] not in e.detail for e in entries)


def test_the_address_the_agent_gives_is_the_requests_place(region):
    answers, _, city_mail = region

    answer(answers, city_mail, "#request pothole 25 rue Laurier")

    [request] = requests_filed()
    assert (request.address, request.lat, request.lon) == ("25 rue Laurier", 45.4277, -75.7132)


def test_status_alone_texts_the_change_with_the_note_and_no_answer(region):
    answers, sms, city_mail = region
    answer(answers, city_mail, "#request pothole")
    before = len(sms.to(RESIDENT))

    outcome = answer(answers, city_mail, "#status closed Réparé ce matin.")

    [request] = requests_filed()
    assert outcome == {**outcome, "sent": True, "reason": "commands"}
    assert [(c.status, c.note) for c in request.history] == [("open", ""), ("closed", "Réparé ce matin.")]
    assert sms.to(RESIDENT)[before:] == [
        "Text311 : la demande GAT-1001 (Nid-de-poule) est maintenant fermée. Réparé ce matin."
    ]


@pytest.mark.parametrize(
    ("text", "explained"),
    [
        ("#status closed\nC'est réglé.", "pas encore de demande"),
        ("#urgent\nC'est réglé.", "#urgent n'est pas une commande"),
        ("#request trou\nC'est réglé.", "trou n'est pas un code de service de Gatineau"),
        ("#request\nC'est réglé.", "#request exige un code de service"),
        ("#status done\nC'est réglé.", "pas « done »"),
    ],
)
def test_a_command_that_cannot_run_is_explained_and_nothing_is_texted_or_filed(region, text, explained):
    answers, sms, city_mail = region
    before = sms.to(RESIDENT)

    outcome = answer(answers, city_mail, text)

    assert (outcome["sent"], outcome["reason"]) == (False, "bad_command")
    assert sms.to(RESIDENT) == before
    assert requests_filed() == []
    assert any(explained in m for m in mails_to_agent())


def test_a_greeting_before_the_commands_is_texted_with_the_answer_never_the_command_line(region):
    answers, sms, city_mail = region

    outcome = answer(answers, city_mail, "Bonjour,\n\n#request pothole\nUne équipe passera demain.")

    assert (outcome["sent"], [r.reference for r in requests_filed()]) == (True, ["GAT-1001"])
    texts = sms.to(RESIDENT)
    assert "Bonjour,\n\nUne équipe passera demain." in texts
    assert not any("#request" in t for t in texts)


@pytest.mark.parametrize(
    "text",
    ["Thanks!\n#request pothole", "Bonjour,\nUne équipe passera.\n#STATUS closed", "#request pothole\nOK\n#demande x"],
)
def test_a_command_line_after_the_text_refuses_the_whole_answer(region, text):
    answers, sms, city_mail = region
    before = sms.to(RESIDENT)

    outcome = answer(answers, city_mail, text)

    assert (outcome["sent"], outcome["reason"]) == (False, "bad_command")
    assert sms.to(RESIDENT) == before
    assert requests_filed() == []
    assert any("doivent venir en premier" in m for m in mails_to_agent())


def test_commands_followed_by_a_greeting_alone_text_no_greeting(region):
    answers, sms, city_mail = region
    before = len(sms.to(RESIDENT))

    outcome = answer(answers, city_mail, "#request pothole\nBonjour,")

    assert outcome == {**outcome, "sent": True, "reason": "commands"}
    [filed] = sms.to(RESIDENT)[before:]
    assert filed.startswith("Text311 : demande GAT-1001 enregistrée")


def test_request_and_status_in_one_answer_change_the_request_just_filed_even_if_the_index_lags(region, monkeypatch):
    from text311.service_requests import ServiceRequestStore

    answers, sms, city_mail = region
    answer(answers, city_mail, "#request pothole")
    listed = ServiceRequestStore.for_conversation
    # An index that has not caught up: the conversation's requests without the one filed last.
    monkeypatch.setattr(
        ServiceRequestStore,
        "for_conversation",
        lambda self, city, conversation: [r for r in listed(self, city, conversation) if r.reference != "GAT-1002"],
    )

    outcome = answer(answers, city_mail, "#request graffiti\n#status in_progress Équipe mardi")

    assert outcome["sent"] is True
    statuses = {r.reference: r.status for r in requests_filed()}
    assert statuses == {"GAT-1001": "open", "GAT-1002": "in_progress"}
    assert "Text311 : la demande GAT-1002 (Graffiti) est maintenant en cours. Équipe mardi" in sms.to(RESIDENT)


def test_an_answer_too_long_for_sms_files_nothing(region):
    answers, sms, city_mail = region
    before = sms.to(RESIDENT)

    outcome = answer(answers, city_mail, "#request pothole\n" + "Une équipe passera demain. " * 60)

    assert (outcome["sent"], outcome["reason"]) == (False, "too_long")
    assert requests_filed() == []
    assert sms.to(RESIDENT) == before


def test_an_answer_refused_after_its_commands_ran_tells_the_agent_not_to_repeat_them(region, monkeypatch):
    from text311.answers import AnswerRejected, AnswerService, Rejection

    def city_cap(*args, **kwargs):
        raise AnswerRejected(Rejection.CITY_CAP, "per hour or per day")

    answers, _, city_mail = region
    monkeypatch.setattr(AnswerService, "send_answer", city_cap)

    outcome = answer(answers, city_mail, "#request pothole\nUne équipe passera demain.")

    assert (outcome["sent"], outcome["reason"]) == (False, "city_cap")
    assert [r.reference for r in requests_filed()] == ["GAT-1001"]
    [notice] = [m for m in mails_to_agent() if "limite de textos" in m]
    assert "ne répétez pas ces lignes" in notice


def test_the_agent_is_told_of_a_filing_by_the_delivery_after_a_crash_and_once(region, monkeypatch):
    from text311.service_requests import ServiceRequestStore

    answers, _, city_mail = region
    message_id = "<crashed-answer@gatineau.example.ca>"
    claim = ServiceRequestStore.claim_once

    def crash(self, city, key, reference, **kwargs):
        raise RuntimeError("stopped after filing, before the notice")

    monkeypatch.setattr(ServiceRequestStore, "claim_once", crash)
    try:
        answer(answers, city_mail, "#request pothole", message_id=message_id)
    except RuntimeError:
        pass  # the invocation fails: SES's retry delivers the same mail again
    assert [r.reference for r in requests_filed()] == ["GAT-1001"]
    monkeypatch.setattr(ServiceRequestStore, "claim_once", claim)
    for _ in range(2):
        answer(answers, city_mail, "#request pothole", message_id=message_id)

    assert [r.reference for r in requests_filed()] == ["GAT-1001"]
    assert len([m for m in mails_to_agent() if "demande GAT-1001 enregistrée" in m]) == 1


class Died(BaseException):
    """The invocation stopped where it stood (a timeout, the process gone): no except clause of ours runs."""


def test_a_notice_claimed_by_an_invocation_that_died_is_mailed_by_a_later_delivery_once(region, monkeypatch):
    from text311.adapters.requests_table import RequestModel
    from text311.answers import AnswerService

    answers, _, city_mail = region
    message_id = "<died-answer@gatineau.example.ca>"
    tell = AnswerService._tell

    def die(*args, **kwargs):
        raise Died("stopped after claiming the notice, before mailing it")

    monkeypatch.setattr(AnswerService, "_tell", die)
    with pytest.raises(Died):
        answer(answers, city_mail, "#request pothole", message_id=message_id)
    monkeypatch.setattr(AnswerService, "_tell", tell)
    # A delivery while the claim may still be a live invocation's (younger than any can run): left to it.
    answer(answers, city_mail, "#request pothole", message_id=message_id)
    assert not [m for m in mails_to_agent() if "demande GAT-1001 enregistrée" in m]

    # Three minutes pass, as before Lambda's second retry: the claim is older than any invocation lives.
    for claim in RequestModel.query(GATINEAU, RequestModel.item_key.startswith("claim#")):
        if claim.updated_at is not None:
            claim.update(actions=[RequestModel.updated_at.set(claim.updated_at - timedelta(minutes=3))])
    for _ in range(2):  # the retry, and a duplicate of it
        answer(answers, city_mail, "#request pothole", message_id=message_id)

    assert [r.reference for r in requests_filed()] == ["GAT-1001"]
    assert len([m for m in mails_to_agent() if "demande GAT-1001 enregistrée" in m]) == 1


def test_an_emailed_answer_is_audited_once_by_the_delivery_after_a_crash(region, monkeypatch):
    # The first delivery queues the SMS and stops before its audit entry: SES's retry finds the answer
    # recorded ("duplicate") and must still write the entry, once, whatever more deliveries come.
    from text311.answers import AnswerService
    from text311.audit import AuditLog

    answers, _, city_mail = region
    message_id = "<crashed-before-audit@gatineau.example.ca>"
    write = AnswerService._audit

    def crash(self, *args, **kwargs):
        raise RuntimeError("stopped after queuing, before the audit entry")

    monkeypatch.setattr(AnswerService, "_audit", crash)
    with pytest.raises(RuntimeError):
        answer(answers, city_mail, "Une équipe passera demain.", message_id=message_id)
    monkeypatch.setattr(AnswerService, "_audit", write)
    for _ in range(2):
        answer(answers, city_mail, "Une équipe passera demain.", message_id=message_id)

    entries = list(AuditLog().entries(int(GATINEAU), datetime(2019, 1, 1, tzinfo=UTC), datetime.now(UTC)))
    assert [(e.action, e.actor, e.detail) for e in entries] == [("answer", AGENT, "email, retried")]


def test_a_notice_that_fails_to_send_is_sent_by_the_retry_and_audited_once(region, monkeypatch):
    # The first delivery files, claims the notice and fails to send it (SES throttled): its claim is
    # given back, so the retry tells the agent; the audit entry is the same one for every delivery.
    from text311.answers import AnswerService
    from text311.audit import AuditLog

    answers, _, city_mail = region
    message_id = "<notice-failed@gatineau.example.ca>"
    tell = AnswerService._tell
    failures = [RuntimeError("SES throttled")]

    def fail_once(self, *args, **kwargs):
        if failures:
            raise failures.pop()
        tell(self, *args, **kwargs)

    monkeypatch.setattr(AnswerService, "_tell", fail_once)
    with pytest.raises(RuntimeError):
        answer(answers, city_mail, "#request pothole", message_id=message_id)
    for _ in range(2):
        answer(answers, city_mail, "#request pothole", message_id=message_id)

    assert [r.reference for r in requests_filed()] == ["GAT-1001"]
    assert len([m for m in mails_to_agent() if "demande GAT-1001 enregistrée" in m]) == 1
    entries = list(AuditLog().entries(int(GATINEAU), datetime(2019, 1, 1, tzinfo=UTC), datetime.now(UTC)))
    assert [(e.action, e.actor) for e in entries if e.action == "request"] == [("request", AGENT)]


@pytest.mark.parametrize(
    "text",
    ["Hi,\n#5 bus stops are moved for the works.", "#1 priority: we are on it", "# Update\nThe crew is there."],
)
def test_a_line_opening_with_hash_and_no_letter_is_text_not_a_command(text):
    assert split_commands(text) == ([], text)


def test_a_later_command_word_still_refuses_after_a_hash_line_that_is_text():
    assert split_commands("#5 bus stops are moved.\n#status closed") == (
        [Misplaced("#status")],
        "#5 bus stops are moved.\n#status closed",
    )
