"""The whole product on one machine: a resident's texts, the city's mail, the agent's answer by SMTP."""

from __future__ import annotations

import re
import smtplib
import uuid
from email.message import EmailMessage

import pytest
from conftest import LocalRun, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

KINGSTON = "contactus@cityofkingston.example"
AGENT = "sam.chen@cityofkingston.example"
ANSWER = "Thanks for letting us know. A road crew will fill the pothole tomorrow morning."
SIGNATURE = "Sam Chen\nCustomer Service Representative\nCity of Kingston 311 | 613-555-0199"


def connect_to_kingston(run: LocalRun, phone: str, first_text: str) -> dict:
    """A new resident's first text, the follow-up question, the city picked; returns the city's first mail."""
    question = run.exchange(phone, first_text)
    assert "which municipality" in question.lower(), question
    reply = run.exchange(phone, "Kingston")
    if "Kingston, ON" in reply and "connected" not in reply.lower():
        # Several Kingstons: the resident picks Ontario's from the numbered list.
        number = re.search(r"(\d)\D{0,4}Kingston, ON", reply)
        assert number, reply
        reply = run.exchange(phone, number.group(1))
    assert "connected to Kingston" in reply, reply
    [mail] = wait_for(lambda: run.mails(KINGSTON, first_text), what="the city's first mail")
    return mail


def agent_answer(city_mail: dict, text: str, *, sender: str = AGENT, to: str | None = None) -> EmailMessage:
    """An answer as a mail client writes it: Re: subject, threading headers, signature, quoted history."""
    msg = EmailMessage()
    msg["From"] = f"Sam Chen <{sender}>"
    msg["To"] = to or city_mail["reply_to"]
    msg["Subject"] = f"RE: {city_mail['subject']}"
    msg["Message-ID"] = f"<{uuid.uuid4()}@cityofkingston.example>"
    msg["In-Reply-To"] = city_mail["message_id"]
    msg["References"] = city_mail["message_id"]
    quoted = "\n".join("> " + line for line in city_mail["text"].splitlines())
    msg.set_content(f"{text}\n\n{SIGNATURE}\n\nOn Thu, Nov 26, 2026 at 3:41 PM Text311 <notify@text311.test> wrote:\n"
                    f"{quoted}\n")
    return msg


def smtp_send(run: LocalRun, msg: EmailMessage) -> None:
    with smtplib.SMTP("127.0.0.1", run.smtp_port, timeout=10) as smtp:
        smtp.send_message(msg)


def test_a_new_resident_picks_the_city_from_a_follow_up_question_and_the_city_gets_a_threaded_mail(
        local_run, new_phone):
    phone = new_phone("613")
    first = f"There is a deep pothole on Princess Street at Division ({uuid.uuid4().int % 10**8:08d})"

    mail = connect_to_kingston(local_run, phone, first)

    assert re.fullmatch(r"\[Text311 #[A-Z0-9]{8}\] Kingston: There is a deep pothole on.*", mail["subject"])
    assert mail["to"] == [KINGSTON]
    assert re.fullmatch(r"r\+5992500-[a-z0-9]+\.k1-[a-z0-9]+@reply\.text311\.test", mail["reply_to"])
    assert first in mail["text"]
    assert f"+1******{phone[-4:]}" in mail["text"]
    assert phone not in mail["raw"] and phone[2:] not in mail["raw"]  # only the masked number reaches the city
    assert mail["message_id"].startswith("<") and mail["in_reply_to"] == ""


def test_an_agent_answer_by_smtp_with_quoted_history_and_a_signature_reaches_the_resident_alone(
        local_run, new_phone):
    phone = new_phone("613")
    mail = connect_to_kingston(local_run, phone, f"Streetlight out on Johnson St ({uuid.uuid4().int % 10**8:08d})")
    before = len(local_run.answers(phone))

    smtp_send(local_run, agent_answer(mail, ANSWER))

    assert local_run.next_answer(phone, before) == ANSWER
    local_run.idle()
    assert len(local_run.answers(phone)) == before + 1
    [received] = [r for r in local_run.get("/sim/received") if r["reply_to"] == "" and r["to"] == [mail["reply_to"]]]
    # inbound_email queues the SMS (the drainer sends it); an idle queue means no "about N minutes"
    assert received["outcome"] == [{"sent": True, "reason": "queued", "conversation_id": received["outcome"][0][
        "conversation_id"], "parts": 1, "wait_minutes": None}]


def test_a_second_text_lands_in_the_same_thread(local_run, new_phone):
    phone = new_phone("613")
    garbage = f"Garbage was not picked up on Union St ({uuid.uuid4().int % 10**8:08d})"
    first = connect_to_kingston(local_run, phone, garbage)
    second_text = f"It is still on the curb today ({uuid.uuid4().int % 10**8:08d})"

    local_run.text(phone, second_text)

    [second] = wait_for(lambda: local_run.mails(KINGSTON, second_text), what="the second mail")
    assert second["subject"] == first["subject"]
    assert second["reply_to"] == first["reply_to"]
    assert second["in_reply_to"] == first["message_id"]
    assert second["references"][0] == first["message_id"]
    assert second_text in second["text"]


@pytest.mark.parametrize(
    ("case", "expected_reason"),
    [("wrong sender", "not_allowed"), ("bad token", "bad_token"), ("DMARC FAIL", "unauthenticated")],
)
def test_a_forged_answer_reaches_no_phone(local_run, new_phone, case, expected_reason):
    phone = new_phone("613")
    mail = connect_to_kingston(local_run, phone, f"Noise complaint on King St ({uuid.uuid4().int % 10**8:08d})")
    local_run.idle()
    before = local_run.answers(phone)
    verdicts = {"spf": "PASS", "dkim": "PASS", "dmarc": "PASS", "spam": "PASS", "virus": "PASS"}
    if case == "wrong sender":
        forged = agent_answer(mail, "Call me at 555-0000 now", sender="mallory@evil.example")
    elif case == "bad token":
        token = mail["reply_to"]
        forged = agent_answer(mail, "Call me at 555-0000 now", to=token.replace(token[-24:-20], "zzzz"))
    else:
        forged = agent_answer(mail, "Call me at 555-0000 now")
        verdicts["dmarc"] = "FAIL"

    ses_id = local_run.post("/sim/email", {"raw": forged.as_string(), "verdicts": verdicts})["id"]

    [received] = wait_for(lambda: [r for r in local_run.get("/sim/received") if r["id"] == ses_id and r["outcome"]],
                          what="inbound_email's outcome")
    assert received["outcome"][0]["sent"] is False, case
    assert received["outcome"][0]["reason"] == expected_reason, case
    local_run.idle()
    assert local_run.answers(phone) == before, case


def test_a_redelivered_sms_makes_no_second_mail_and_no_second_answer(local_run, new_phone):
    phone = new_phone("613")
    connect_to_kingston(local_run, phone, f"Broken swing at the park ({uuid.uuid4().int % 10**8:08d})")
    local_run.idle()
    again = f"The swing is still broken ({uuid.uuid4().int % 10**8:08d})"
    answers_before = local_run.answers(phone)
    message_id = f"inbound-{uuid.uuid4()}"

    local_run.text(phone, again, message_id=message_id)
    wait_for(lambda: local_run.mails(KINGSTON, again), what="the mail of the first delivery")
    local_run.text(phone, again, message_id=message_id)  # End User Messaging delivers it again
    local_run.idle()

    assert len(local_run.mails(KINGSTON, again)) == 1
    assert local_run.answers(phone) == answers_before
    assert [m["body"] for m in local_run.phone(phone) if m["direction"] == "in"].count(again) == 1


def test_a_text_that_keeps_failing_is_received_five_times_then_parked_in_the_dlq(local_run, new_phone):
    phone = new_phone("613")
    marker = f"to a number that is not ours ({uuid.uuid4().int % 10**8:08d})"

    message_id = local_run.text(phone, marker, to="+15145559999")

    [dead] = wait_for(lambda: [d for d in local_run.get("/sim/dlq") if message_id in d["body"]],
                      what="the record in the DLQ")
    assert dead["queue"] == "inbound-sms" and dead["receive_count"] == 5
    assert local_run.answers(phone) == []


def test_smtp_refuses_mail_for_any_other_domain(local_run):
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = AGENT, "someone@elsewhere.example", "hello"
    msg.set_content("not for Text311")

    with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        smtp_send(local_run, msg)
    assert refused.value.recipients["someone@elsewhere.example"][0] == 550


def test_the_config_names_the_number_the_reply_domain_and_the_three_demo_cities(local_run):
    config = local_run.get("/sim/config")

    assert config["sms_number"] == "+15145550100"
    assert config["reply_domain"] == "reply.text311.test"
    # Montréal and Ottawa: added at run time by test_add_municipality and test_bounces in this session.
    cities = {m["geonameid"]: (m["name"], m["email"]) for m in config["municipalities"]
              if m["geonameid"] not in (6077243, 6094817)}
    assert cities == {
        5959974: ("Gatineau", "311@gatineau.example"),
        5992500: ("Kingston", "contactus@cityofkingston.example"),
        5234372: ("Burlington", "311@burlingtonvt.example"),
    }


RAW_WITHOUT_RECIPIENT = "From: a@b.example\r\nTo: c@d.example\r\nSubject: x\r\n\r\nhello\r\n"


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("POST", "/sim/sms", {"body": "hi"}, "from"),
        ("POST", "/sim/sms", {"from": "6135550100", "body": "hi"}, "from"),
        ("POST", "/sim/sms", {"from": "+16135550100"}, "body"),
        ("POST", "/sim/sms", {"from": "+16135550100", "body": 42}, "body"),
        ("POST", "/sim/sms", {"from": "+16135550100", "body": "hi", "id": ""}, "id"),
        ("POST", "/sim/sms", ["not", "an", "object"], "body"),
        ("POST", "/sim/email", {}, "raw"),
        ("POST", "/sim/email", {"raw": RAW_WITHOUT_RECIPIENT}, "raw"),
        ("POST", "/sim/email", {"raw": RAW_WITHOUT_RECIPIENT, "verdicts": {"dmarc": "MAYBE"}}, "verdicts.dmarc"),
        ("POST", "/sim/email", {"raw": RAW_WITHOUT_RECIPIENT, "verdicts": {"arc": "PASS"}}, "verdicts.arc"),
        ("GET", "/sim/phones/12345/messages", None, "e164"),
        ("GET", "/sim/mailbox?to=nobody", None, "to"),
    ],
)
def test_a_bad_request_gets_a_400_naming_the_field(local_run, method, path, body, field):
    response = local_run.request(method, path, body)

    assert response.status == 400, response
    assert response.body["field"] == field
    assert response.body["error"].startswith(f"{field}: ")


def number_answers() -> dict[str, str]:
    """What the number itself answers (stacks/keywords.py, set on the number by stacks/messaging.py)."""
    from localrun.seed import DEFAULT_SEED, load_seed
    from stacks.keywords import STOP_MESSAGE
    from text311.i18n import catalog

    support = load_seed(DEFAULT_SEED).deployment.support_contact
    help_text = catalog().help_text(support)
    # HELP is answered in both languages; AIDE, a French word, in French (stacks/keywords.py).
    return {"STOP": STOP_MESSAGE, "ARRÊT": STOP_MESSAGE, "HELP": help_text, "AIDE": catalog().help_text(support, "fr"),
            "START": catalog().message("en", "opted_in")}


@pytest.mark.parametrize("keyword", ["STOP", "ARRÊT", "HELP", "AIDE", "START"])
def test_a_keyword_gets_the_numbers_own_answer_once(local_run, new_phone, keyword):
    phone = new_phone("613")

    answers = local_run.exchange(phone, keyword)

    assert answers == number_answers()[keyword]  # the number's answer, and no second one from the functions


def test_an_opted_out_resident_gets_no_answer_until_start(local_run, new_phone):
    # given a resident who texted STOP
    phone = new_phone("613")
    local_run.exchange(phone, "STOP")
    before = len(local_run.answers(phone))

    # when they text a request, then START
    local_run.text(phone, "Pothole on Princess Street")
    local_run.idle()
    after_request = len(local_run.answers(phone))
    resumed = local_run.exchange(phone, "start")

    # then the request got no answer, and START the number's confirmation
    assert after_request == before
    assert resumed == number_answers()["START"]
