"""The city's language for the city's mail (issue 18): everything written to a city's agents (the
thread mail, its notices, rejection explanations) is in the subscriber's language, from the
"agents" section of the language files."""

from __future__ import annotations

import dataclasses
import importlib
import re
import string
from datetime import UTC, datetime

import pytest
from aws_events import inbound_sms_event, two_way_sms
from harness import (
    GATINEAU,
    KINGSTON,
    OUR_NUMBER,
    LambdaContext,
    bound_subscribers_table,
    sent_mails,
    setup_region,
    text_of,
)
from moto import mock_aws
from typer.testing import CliRunner

from text311.adapters.dynamodb import ResidentModel, SubscriberModel
from text311.answers import _EXPLAINED, Rejection, rejection_notice
from text311.cli import app
from text311.i18n import catalog
from text311.mail import ThreadMail, build_thread_mail, thread_subject
from text311.sms import ReplyTooLong
from text311.subscribers import Subscriber, SubscriberError, SubscriberRepository


def city(**overrides) -> Subscriber:
    values = dict(
        geonameid=1,
        display_name="X",
        country="CA",
        region_code="ON",
        contact_emails=("a@x.ca",),
        agent_allow_list=("@x.ca",),
        time_zone="America/Toronto",
    )
    values.update(overrides)
    return Subscriber(**values)


@pytest.mark.parametrize(
    ("overrides", "language"),
    [
        ({"region_code": "QC", "languages": ("en",)}, "fr"),  # Quebec: French, whatever its residents speak
        ({"region_code": "ON", "languages": ("fr", "en")}, "fr"),  # residents' first language is French
        ({"region_code": "NB", "languages": ("en", "fr")}, "en"),
        ({"region_code": "ON"}, "en"),
        ({"country": "US", "region_code": "ME", "languages": ("fr",)}, "fr"),
        ({"region_code": "QC", "language": "en"}, "en"),  # the city's own choice wins
    ],
)
def test_a_city_writes_to_its_agents_in_french_in_quebec_or_when_its_residents_speak_french_first(overrides, language):
    assert city(**overrides).language == language


def test_a_city_language_outside_the_language_files_is_refused():
    with pytest.raises(SubscriberError, match="language"):
        city(language="es")


def test_a_city_whose_residents_write_spanish_first_is_accepted_and_writes_to_its_agents_in_english():
    # Residents may write in any language with a file; agents are written to in English or French.
    assert city(languages=("es", "en")).language == "en"
    with pytest.raises(SubscriberError, match="languages"):
        city(languages=("xx",))


def thread_mail(language: str) -> ThreadMail:
    return ThreadMail(
        conversation_id="5959974-k3j9x2p4ab",
        sequence=1,
        subject="[Text311 #K3J9X2P4] Gatineau: Nid de poule",
        sender="Text311 <notify@text311.example.ca>",
        to=("311@gatineau.example.ca",),
        cc=(),
        reply_to="r+x@reply.example",
        city="Gatineau",
        masked_phone="+1******0123",
        body="Nid de poule rue Laurier",
        received_at=datetime(2026, 11, 26, 15, 4, tzinfo=UTC),
        time_zone="America/Toronto",
        console_url="https://console.example",
        urgent=True,
        resident_opted_out=True,
        language=language,
    )


def test_a_french_citys_mail_is_in_french_in_both_parts():
    msg = build_thread_mail(thread_mail("fr"))
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    assert text.startswith("URGENT : le résident a employé un mot d'urgence")
    assert "Le résident s'est désabonné des textos (ARRET)" in text
    assert "Texto reçu du +1******0123 le 2026-11-26 10:04 EST (Gatineau) :" in text
    assert "Répondez à ce courriel pour texter le résident." in text
    assert re.search(r"^Conversation : https://console\.example/#/\S+/5959974-k3j9x2p4ab$", text, re.MULTILINE)
    assert "Texto reçu du <b>+1******0123</b> le 2026-11-26 10:04 EST (Gatineau) :" in html
    assert "Répondez à ce courriel pour texter le résident." in html
    assert ">Ouvrir la conversation</a>" in html
    for english in ("Reply to this email", "Text from", "opted out", "Open the conversation"):
        assert english not in text and english not in html


def test_an_english_citys_mail_stays_in_english():
    msg = build_thread_mail(thread_mail("en"))
    text = msg.get_body(("plain",)).get_content()
    assert text.startswith("URGENT: the resident used an emergency word and was told to call 911.")
    assert "Text from +1******0123 at 2026-11-26 10:04 EST (Gatineau):" in text
    assert (
        "Reply to this email to answer the resident by SMS. Write only your answer: quoted\n"
        "history and your signature are removed before sending."
    ) in text
    assert ">Open the conversation</a>" in msg.get_body(("html",)).get_content()


def test_a_subject_without_text_says_so_in_the_citys_language():
    assert thread_subject("5959974-k3j9x2p4ab", "Gatineau", " ", "fr") == "[Text311 #K3J9X2P4] Gatineau: (sans texte)"
    assert thread_subject("5992500-k3j9x2p4ab", "Kingston", "", "en") == "[Text311 #K3J9X2P4] Kingston: (no text)"


def test_a_rejection_is_explained_in_the_citys_language():
    assert rejection_notice("fr", Rejection.CLOSED) == (
        "Text311 : Cette conversation est fermée : votre réponse n'a donc pas été envoyée. "
        "Le résident peut texter de nouveau pour en ouvrir une autre."
    )
    assert rejection_notice("en", Rejection.CLOSED) == (
        "Text311: This conversation is closed, so your answer was not sent. "
        "The resident can text again to open a new one."
    )


def test_a_reply_too_long_is_explained_in_french_with_its_numbers():
    too_long = ReplyTooLong(5, 3)
    notice = rejection_notice("fr", Rejection.TOO_LONG, str(too_long), too_long)
    assert "il en faudrait 5 et au plus 3 sont envoyés" in notice
    assert "the reply needs" not in notice


def test_every_language_has_every_agent_text_and_every_explained_rejection():
    languages = catalog().languages
    # Only the languages a city's mail may be in (English, French) speak to agents; the others have no agents
    # section and fall back on the default's texts (i18n.Catalog.agent_template).
    keys = {code: set(lang.agents) for code, lang in languages.items() if lang.agents}
    assert all(found == keys[catalog().default] for found in keys.values()), keys
    assert {f"rejected_{reason.value}" for reason in _EXPLAINED} <= keys[catalog().default]
    for lang in languages.values():  # a template names only values its callers give
        for key, template in lang.agents.items():
            names = {name for _, name, _, _ in string.Formatter().parse(template) if name}
            assert names <= {
                "text",
                "minutes",
                "sender",
                "owner",
                "status",
                "description",
                "detail",
                "phone",
                "when",
                "city",
                "link",
                "parts_needed",
                "max_parts",
                "subject",
                "target",
                "service",
                "location",
                "code",
                "name",
                "place",
                "point",
                "label",
                "command",
                "codes",
                "reference",
                "engine",
                "language_name",
            }, (lang.code, key)


CONTEXT = LambdaContext("inbound-sms")


@pytest.fixture
def region(aws_env, monkeypatch):
    quebec_speaks_english_first = dataclasses.replace(GATINEAU, languages=("en", "fr"), language="")
    with mock_aws():
        setup_region(aws_env, monkeypatch, subscribers=(quebec_speaks_english_first, KINGSTON))
        handler = importlib.import_module("functions.inbound_sms.handler")
        handler.process_once.cache_clear()
        yield handler


def text(handler, body: str, number: str) -> None:
    handler.lambda_handler(inbound_sms_event(two_way_sms(body, number, OUR_NUMBER)), CONTEXT)


def test_a_quebec_citys_mail_is_french_and_an_ontario_citys_english_end_to_end(region):
    text(region, "Pothole in front of 12 Laurier street", "+18195550123")
    text(region, "Gatineau", "+18195550123")
    text(region, "Pothole in front of 12 Princess street", "+16135550123")
    text(region, "Kingston ON", "+16135550123")
    gatineau, kingston = sent_mails()
    assert gatineau["To"] == "311@gatineau.example.ca"
    assert "Répondez à ce courriel pour texter le résident." in text_of(gatineau)
    assert kingston["To"] == "contactus@kingston.example.ca"
    assert "Reply to this email to answer the resident by SMS." in text_of(kingston)


@pytest.fixture
def subscribers_table(monkeypatch):
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("SUBSCRIBERS_TABLE", raising=False)
    with bound_subscribers_table("language-test-subscribers"):
        yield


def municipality(*args: str):
    options = ["--table", "language-test-subscribers", "--region", "ca-central-1"]
    return CliRunner().invoke(app, ["municipality", *args, *options])


def test_onboarding_stores_the_default_language_or_the_one_given(subscribers_table):
    added = municipality("add", "5959974", "--email", "311@gatineau.ca", "--agents", "@gatineau.ca")
    assert added.exit_code == 0, added.output
    assert "mail to agents in fr" in added.output
    chosen = municipality(
        "add",
        "5992500",
        "--email",
        "a@kingston.ca",
        "--agents",
        "@kingston.ca",
        "--language",
        "fr",
        "--mail-language",
        "en",
    )
    assert chosen.exit_code == 0, chosen.output
    assert {item.geonameid: item.language for item in SubscriberModel.scan()} == {5959974: "fr", 5992500: "en"}
    assert '"language": "en"' in municipality("show", "5992500").output


def test_a_subscriber_stored_before_it_had_a_language_gets_the_default(subscribers_table):
    SubscriberModel(
        geonameid=5959974,
        display_name="Gatineau",
        country="CA",
        region_code="QC",
        contact_emails=["311@gatineau.ca"],
        agent_allow_list=["@gatineau.ca"],
        languages=["en"],
        time_zone="America/Toronto",
    ).save()
    assert SubscriberRepository().get(5959974).language == "fr"


# -- the resident's language, end to end (issue 21.2) ----------------------------------------------------------

SPEAKER = "+16135550188"  # 613: a Kingston-area number


@pytest.fixture
def english_city(aws_env, monkeypatch):
    with mock_aws():
        sms = setup_region(aws_env, monkeypatch, subscribers=(KINGSTON,))
        handler = importlib.import_module("functions.inbound_sms.handler")
        handler.process_once.cache_clear()
        yield handler, sms


def test_a_resident_texting_in_spanish_is_asked_for_the_municipality_in_spanish(english_city):
    # given an English-speaking city and a resident we know nothing of
    handler, sms = english_city
    # when their first text is in Spanish
    text(handler, "Hola, hay un bache muy grande enfrente de mi casa", SPEAKER)
    # then the question is in Spanish, and the city's mail stays in the city's language
    assert sms.to(SPEAKER) == ["Text311: ¿en qué municipio se encuentra? Responda con el nombre de su ciudad o pueblo."]
    text(handler, "Kingston ON", SPEAKER)
    assert sms.to(SPEAKER)[-1].startswith("Conectado al 311 de Kingston.")
    [mail] = sent_mails()
    assert "Reply to this email to answer the resident by SMS." in text_of(mail)
    assert "hay un bache muy grande" in text_of(mail)


def test_stop_still_opts_out_a_spanish_speaking_resident(english_city):
    handler, _ = english_city
    text(handler, "Hola, hay un bache muy grande enfrente de mi casa", SPEAKER)
    text(handler, "STOP", SPEAKER)
    [resident] = list(ResidentModel.scan())
    assert resident.opted_out is True
    assert resident.language == "es"  # a keyword changes no one's language


def test_an_emergency_word_in_spanish_gets_the_911_notice_in_spanish(english_city):
    handler, sms = english_city
    text(handler, "Hay un incendio en el edificio de al lado", SPEAKER)
    assert sms.to(SPEAKER)[0] == "Text311 no es para emergencias. Si es una emergencia, llame al 911 ahora."
