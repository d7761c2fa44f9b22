"""text311.translation: Amazon Translate's request (Stubber, on botocore's model), placeholders that
survive or fail the translation, the local phrasebook, and when a city's residents are translated."""

from __future__ import annotations

import re

import boto3
import pytest
from botocore.stub import Stubber
from hypothesis import given, settings
from hypothesis import strategies as st

from text311.subscribers import Subscriber
from text311.translation import (
    AMAZON_LANGUAGE_CODES,
    LOCAL_LABEL,
    AmazonTranslateTranslator,
    PhrasebookTranslator,
    Translation,
    TranslationFailed,
    Translations,
    protect,
    restore,
    translate_protected,
)

ANSWER = (
    "Thank you for your report. A crew will be at 1200 Princess Street at 10:30. Your reference is KIN-1042. "
    "For more information, call 613-555-0142. See https://cityofkingston.example/311."
)


def translate_client() -> tuple[object, Stubber]:
    client = boto3.client("translate", region_name="ca-central-1", aws_access_key_id="x", aws_secret_access_key="x")
    return client, Stubber(client)


def kingston(translate: bool = True) -> Subscriber:
    return Subscriber(
        geonameid=5992500,
        display_name="Kingston",
        country="CA",
        region_code="ON",
        contact_emails=("contactus@kingston.example.ca",),
        agent_allow_list=("@kingston.example.ca",),
        time_zone="America/Toronto",
        translate=translate,
    )


# -- Amazon Translate ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ours", "amazons"),
    [("zh-Hans", "zh"), ("zh-Hant", "zh-TW"), ("tl", "tl"), ("pa", "pa"), ("es", "es"), ("ar", "ar"), ("fr", "fr-CA")],
)
def test_translate_text_is_called_with_amazon_translates_own_language_codes(ours, amazons):
    client, stub = translate_client()
    stub.add_response(
        "translate_text",
        {"TranslatedText": "translated", "SourceLanguageCode": "en", "TargetLanguageCode": amazons},
        {"Text": "Thank you.", "SourceLanguageCode": "en", "TargetLanguageCode": amazons},
    )
    with stub:
        done = AmazonTranslateTranslator(client).translate("Thank you.", "en", ours)
    stub.assert_no_pending_responses()
    assert done == Translation("translated", "en", ours, "Amazon Translate", len("Thank you."))


def test_every_language_we_answer_in_has_an_amazon_translate_code():
    from text311.i18n import catalog

    assert set(catalog().languages) <= set(AMAZON_LANGUAGE_CODES)


def test_protected_values_go_to_amazon_translate_inside_do_not_translate_spans_and_come_back_bare():
    client, stub = translate_client()
    protected = protect("Your reference is KIN-1042 & see https://k.example/a.")
    sent = 'Your reference is <span translate="no">⟦0⟧</span> &amp; see <span translate="no">⟦1⟧</span>.'
    stub.add_response(
        "translate_text",
        # the engine's own quoting of the attribute, and an entity it kept
        {
            "TranslatedText": "Su referencia es <span translate=no>⟦0⟧</span> &amp; vea <span translate=no>⟦1⟧</span>.",
            "SourceLanguageCode": "en",
            "TargetLanguageCode": "es",
        },
        {"Text": sent, "SourceLanguageCode": "en", "TargetLanguageCode": "es"},
    )
    with stub:
        done = AmazonTranslateTranslator(client).translate(protected.text, "en", "es")
    assert restore(done.text, protected) == "Su referencia es KIN-1042 & vea https://k.example/a."
    assert done.characters == len(sent)


def test_an_amazon_translate_error_is_a_failed_translation():
    client, stub = translate_client()
    stub.add_client_error("translate_text", "ServiceUnavailableException", http_status_code=503)
    with stub, pytest.raises(TranslationFailed, match="ServiceUnavailableException"):
        AmazonTranslateTranslator(client).translate("Thank you.", "en", "es")


# -- placeholders -------------------------------------------------------------------------------------

references = st.from_regex(r"[A-Z]{3}-[1-9][0-9]{0,6}", fullmatch=True)
urls = st.from_regex(r"https://[a-z]{3,10}\.example/[a-z0-9]{1,8}", fullmatch=True)
phones = st.from_regex(r"(613|819|514|416)-555-0[0-9]{3}", fullmatch=True)
addresses = st.builds(
    lambda number, street, kind: f"{number} {street} {kind}",
    st.integers(1, 9999),
    st.sampled_from(["Princess", "Brock", "King", "Division", "Bagot"]),
    st.sampled_from(["Street", "Avenue", "Road"]),
)
times = st.builds(lambda h, m: f"{h}:{m:02d}", st.integers(1, 12), st.integers(0, 59))


@settings(max_examples=60, deadline=None)
@given(reference=references, url=urls, phone=phones, address=addresses, time=times)
def test_references_urls_phones_addresses_and_times_are_protected_and_restored_unchanged(
    reference, url, phone, address, time
):
    text = f"A crew will be at {address} at {time}. Your reference is {reference}. Call {phone} or see {url}."

    protected = protect(text)

    assert sorted(protected.values) == sorted([address, time, reference, phone, url])
    assert not any(value in protected.text for value in (reference, url, phone, address))
    # an engine that reorders the sentence and keeps every placeholder: every value comes back as it was
    shuffled = " ".join(reversed(re.findall(r"⟦\d+⟧", protected.text)))
    restored = restore(shuffled, protected)
    for value in (address, time, reference, phone, url):
        assert value in restored


@pytest.mark.parametrize(
    "mangled",
    ["Su referencia es ⟦0⟧.", "⟦0⟧ ⟦1⟧ ⟦1⟧ ⟦2⟧ ⟦3⟧ ⟦4⟧", "⟦0⟧ ⟦1⟧ ⟦2⟧ ⟦3⟧ [4]", "⟦0⟧ ⟦1⟧ ⟦2⟧ ⟦3⟧ ⟦4⟧ ⟦5⟧"],
    ids=["lost", "repeated", "rewritten", "invented"],
)
def test_a_translation_that_loses_repeats_or_invents_a_placeholder_fails(mangled):
    protected = protect(ANSWER)
    assert len(protected.values) == 5
    with pytest.raises(TranslationFailed):
        restore(mangled, protected)


def test_an_engine_that_drops_a_placeholder_fails_the_whole_translation():
    class Dropping:
        def translate(self, text: str, source: str, target: str) -> Translation:
            return Translation(re.sub(r"⟦1⟧", "", text), source, target, "test", len(text))

    with pytest.raises(TranslationFailed):
        translate_protected(Dropping(), ANSWER, "en", "es")


def test_a_text_that_already_holds_a_placeholder_is_refused_rather_than_misread():
    with pytest.raises(TranslationFailed):
        protect("see ⟦0⟧")


# -- the local phrasebook -----------------------------------------------------------------------------


def test_the_local_phrasebook_translates_the_demo_answer_and_says_what_it_is():
    done = translate_protected(PhrasebookTranslator(), ANSWER, "en", "es")
    assert done.text.startswith(LOCAL_LABEL)
    assert done.text == (
        f"{LOCAL_LABEL} Gracias por su reporte. Un equipo estará en 1200 Princess Street a las 10:30. "
        "Su referencia es KIN-1042. Para más información, llame al 613-555-0142. Vea https://cityofkingston.example/311."
    )
    assert "not a real translation" in done.engine


def test_the_local_phrasebook_refuses_a_sentence_it_does_not_know():
    with pytest.raises(TranslationFailed, match="not in the local phrasebook"):
        translate_protected(PhrasebookTranslator(), "We will send a crew when the snow melts.", "en", "es")


# -- when -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("translate", "language", "needed"),
    [(True, "es", True), (True, "en", False), (False, "es", False), (True, "", False)],
)
def test_only_a_city_that_opted_in_translates_and_only_another_language_than_its_agents(translate, language, needed):
    assert Translations.needed(kingston(translate), language) is needed
