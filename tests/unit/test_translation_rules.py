"""When a text is translated and what an engine may give back: a city's every language is read, an
answer already in the resident's language is sent as written, markup the engine adds fails the
translation, an intersection keeps only its street names, and too many addresses fail it."""

from __future__ import annotations

import dataclasses

import boto3
import pytest
from botocore.stub import Stubber
from harness import GATINEAU, KINGSTON

from text311.translation import (
    AmazonTranslateTranslator,
    PhrasebookTranslator,
    TranslationFailed,
    Translations,
    protect,
    restore,
)


class RefusingTranslator:
    """An engine that must not be called."""

    calls = 0

    def translate(self, text: str, source: str, target: str):
        self.calls += 1
        raise TranslationFailed("not in the local phrasebook")


@pytest.mark.parametrize(("language", "needed"), [("en", False), ("fr", False), ("es", True)])
def test_a_city_is_translated_for_only_in_a_language_none_of_its_agents_read(language, needed):
    gatineau = dataclasses.replace(GATINEAU, translate=True)  # languages fr, en; its mail in French
    assert gatineau.language == "fr"

    assert Translations.needed(gatineau, language) is needed


def test_an_english_answer_from_gatineau_reaches_an_english_resident_as_written():
    engine = RefusingTranslator()
    gatineau = dataclasses.replace(GATINEAU, translate=True)

    assert Translations(engine).for_resident("Thank you, a crew comes tomorrow.", "en", gatineau) is None
    assert engine.calls == 0


def test_an_answer_already_written_in_the_residents_language_is_sent_as_written():
    engine = RefusingTranslator()
    kingston = dataclasses.replace(KINGSTON, translate=True)
    spanish = "Gracias por su reporte. Un equipo pasará mañana a las 10:30."

    assert Translations(engine).for_resident(spanish, "es", kingston) is None
    assert engine.calls == 0


def test_an_answer_in_the_citys_language_is_still_translated():
    kingston = dataclasses.replace(KINGSTON, translate=True)
    done = Translations(PhrasebookTranslator()).for_resident("Thank you for your report.", "es", kingston)

    assert done is not None and done.target == "es"


@pytest.mark.parametrize(
    "returned",
    [
        'Su referencia es <span translate="no" dir="ltr">⟦0⟧</span>. Gracias',
        'Su referencia es <span translate="no">⟦0⟧</span><span translate="no"></span>. Gracias',
        "Su referencia es ⟦0⟧.<br>Gracias",
    ],
)
def test_markup_the_engine_adds_fails_the_translation(returned):
    client = boto3.client("translate", region_name="ca-central-1", aws_access_key_id="x", aws_secret_access_key="x")
    stub = Stubber(client)
    protected = protect("Your reference is KIN-1042. Thanks")
    stub.add_response(
        "translate_text", {"TranslatedText": returned, "SourceLanguageCode": "en", "TargetLanguageCode": "es"}
    )
    with stub, pytest.raises(TranslationFailed, match="markup"):
        AmazonTranslateTranslator(client).translate(protected.text, "en", "es")


def test_a_less_than_sign_of_the_text_itself_comes_back_as_written():
    client = boto3.client("translate", region_name="ca-central-1", aws_access_key_id="x", aws_secret_access_key="x")
    stub = Stubber(client)
    protected = protect("Your reference is KIN-1042 <3")
    stub.add_response(
        "translate_text",
        {
            "TranslatedText": 'Su referencia es <span translate="no">⟦0⟧</span> &lt;3',
            "SourceLanguageCode": "en",
            "TargetLanguageCode": "es",
        },
    )
    with stub:
        done = AmazonTranslateTranslator(client).translate(protected.text, "en", "es")

    assert restore(done.text, protected) == "Su referencia es KIN-1042 <3"


def test_an_intersection_keeps_only_its_street_names_from_translation():
    protected = protect("The crew is at the corner of Princess and Division tonight.")

    assert protected.values == ("Princess", "Division")
    assert protected.text == "The crew is at the corner of ⟦0⟧ and ⟦1⟧ tonight."


def test_more_addresses_than_can_be_kept_fail_the_translation_rather_than_translate_some():
    six = "1200 Princess Street, 14 King Street East, 3 Queen St, 5 Union St, 7 Barrie St and 9 Earl St"

    with pytest.raises(TranslationFailed, match="addresses"):
        protect(f"Crews are at {six} today.")
    assert len(protect("Crews are at 1200 Princess Street and 14 King Street East today.").values) == 2
