"""Language detection on short texts, second tuning (issue 21, accuracy): the priors that keep the model's
neighbour languages from taking a resident's text, Vietnamese typed without its marks, and the names a known
resident quotes."""

from __future__ import annotations

import pytest

from text311 import language
from text311.dialog import Dialog, ResidentState
from text311.i18n import catalog
from text311.language import Detection

CITY = ("en", "fr")
ANSWERABLE = ("en", "fr", "es", "pt", "it", "tl", "vi", "uk")


class FixedModel:
    """Stands in for py3langid: gives the probabilities it was told, whatever the text."""

    def __init__(self, **scores: float) -> None:
        self.scores = scores

    def rank(self, text: str) -> list[tuple[str, float]]:
        return sorted(self.scores.items(), key=lambda item: -item[1])


def detect(text: str, model: FixedModel, answerable: tuple[str, ...] = ()) -> Detection:
    return language.detect(
        text,
        previous=None,
        city_languages=CITY,
        candidates=language.candidate_set(answerable or CITY),
        answerable=answerable,
        detector=model,
    )


def test_a_neighbour_language_the_model_knows_does_not_take_a_candidates_text():
    # given a Portuguese text that the model shares with Galician, which no candidate is
    model = FixedModel(pt=0.45, gl=0.40, es=0.15)
    # when it is detected, then Portuguese is named rather than "not sure"
    assert detect("o bueiro da rua entupiu de novo", model).language == "pt"


def test_a_language_we_answer_in_outweighs_a_common_one_we_do_not():
    # given a Ukrainian text that the model leans to Russian on, in a deployment that answers in Ukrainian
    model = FixedModel(ru=0.55, uk=0.45)
    # when it is detected, then it is Ukrainian
    assert detect("можете прислати когось полагодити тротуар", model, ANSWERABLE).language == "uk"


@pytest.mark.parametrize(
    "text",
    [
        "nuoc may nha toi co mui la",
        "cho toi hoi ai don rac o day",
        "hom qua xe rac khong den duong nha toi",
    ],
)
def test_vietnamese_typed_without_marks_is_told_by_its_syllables(text):
    assert language.vietnamese_syllables(text)


@pytest.mark.parametrize(
    "text",
    [
        "the bus shelter glass is smashed",
        "hay una fuga de agua en la esquina",
        "may butas po sa kalsada namin",
        "il lampione sotto casa non funziona",
        "nước máy nhà tôi có mùi lạ",  # with its marks: the model knows it
        "ok cam",  # two words tell nothing
    ],
)
def test_other_texts_are_not_vietnamese_syllables(text):
    assert not language.vietnamese_syllables(text)


def test_vietnamese_syllables_outweigh_the_models_guess_of_another_language():
    # given an unaccented Vietnamese text the model gives to Tagalog and Italian
    model = FixedModel(tl=0.6, it=0.3, vi=0.1)
    # when it is detected, then it is Vietnamese
    assert detect("nuoc may nha toi co mui la", model, ANSWERABLE).language == "vi"


def test_a_first_text_that_is_a_street_name_is_not_sure():
    # "Rua das Flores" is three words, but two of them a name: the model must be as sure as on two words
    assert detect("Rua das Flores", FixedModel(pt=0.6, gl=0.3, es=0.1)).language is None


def test_the_short_words_that_lead_into_a_name_are_part_of_it():
    assert language.without_names("streetlight out on chemin de la Montagne") == "streetlight out on chemin"


def test_a_known_resident_naming_a_street_with_its_particles_keeps_their_language():
    assert language.remembered("en", Detection("fr", 0.95), "chemin de la Montagne") == "en"


def test_a_texts_capitalised_first_word_is_the_residents_own():
    # phones capitalise the first word: "Hay un bache" is three words of Spanish, not a name and two words
    assert language.without_names("Hay un bache en Main Street") == "Hay un bache"
    assert language.remembered("en", Detection("es", 0.95), "Hay un bache") == "es"


def test_the_dialog_weighs_the_languages_it_answers_in():
    # given a new resident's Ukrainian text that the model leans to Russian on, which we cannot answer in
    dialog = Dialog(
        catalog=catalog(),
        resolve=lambda text, hint: None,
        subscriber=lambda geonameid: None,
        support_contact="text311.ca",
        region_languages=CITY,
        detector=FixedModel(ru=0.55, uk=0.45),
    )
    # when the dialog follows their language, then they are answered in Ukrainian, not in the region's English
    assert dialog.follow_language(ResidentState(), "можете прислати когось полагодити тротуар").language == "uk"


@pytest.mark.parametrize(
    "text",
    [
        "cong thoat nuoc truoc nha toi bi nghet",
        "xe rac tuan nay khong den lay rac",
        "den giao thong o nga tu bi hong roi",
    ],
)
def test_the_bundled_model_with_the_syllables_names_unaccented_vietnamese(text):
    found = language.detect(
        text, previous=None, city_languages=CITY, candidates=language.candidate_set(ANSWERABLE), answerable=ANSWERABLE
    )
    assert found.language == "vi"


def test_a_known_english_resident_writing_unaccented_vietnamese_switches():
    # given a resident known to write English, in an English and French city, writing Vietnamese without marks
    text = "cong thoat nuoc truoc nha toi bi nghet"
    found = language.detect(
        text, previous="en", city_languages=CITY, candidates=language.candidate_set(ANSWERABLE), answerable=ANSWERABLE
    )
    # then they switch to Vietnamese
    assert language.remembered("en", found, text) == "vi"

