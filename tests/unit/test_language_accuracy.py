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


def region_dialog(detector: FixedModel | None = None) -> Dialog:
    """The dialog of an English and French region that knows no city; ``detector`` None: the bundled model."""
    return Dialog(
        catalog=catalog(),
        resolve=lambda text, hint: None,
        subscriber=lambda geonameid: None,
        support_contact="text311.ca",
        region_languages=CITY,
        detector=detector,
    )


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
    dialog = region_dialog(FixedModel(ru=0.55, uk=0.45))
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


# -- third tuning (issue 21, "wrong language"): Vietnamese spelling, codes, a new resident's names ---------------


def test_a_word_only_vietnamese_spells_outweighs_a_confident_guess_of_another_language():
    # given an unaccented Vietnamese text ("duong": street) that the model gives to Tagalog at 93 %
    model = FixedModel(tl=0.93, la=0.03, it=0.02, en=0.018, vi=0.002)
    # when it is detected, then it is Vietnamese
    assert detect("mat nap cong o duong so 3", model, ANSWERABLE).language == "vi"


@pytest.mark.parametrize(
    ("text", "spelt"),
    [
        ("mat nap cong o duong so 3", True),  # uo
        ("phan nan tieng on hang xom", True),  # ie
        ("lam on toi nhanh", True),  # an initial nh
        ("can i pay a fine", False),  # Vietnamese-shaped syllables, none spelt as only Vietnamese spells
        ("no heat in my unit", False),
        ("hay un bache en la calle", False),
    ],
)
def test_vietnamese_spelling_is_told_by_its_initials_and_vowel_pairs(text, spelt):
    assert language.vietnamese_spelling(text) is spelt


def test_codes_are_not_telling_words():
    # a unit, a postal code or a reference is no word of any language
    assert language.without_names("noise complaint 4 apt 3B") == "noise complaint apt"
    assert language.telling_words("Noise complaint on King St (3f9a0c1e)") == 2


def test_a_new_residents_text_is_judged_without_the_names_it_quotes_when_three_words_are_left():
    assert language.judged_text("Montée Paiement has a huge pothole", known=False) == "Montée has a huge pothole"
    # fewer than three telling words without the names: the whole text is all there is to judge
    assert language.judged_text("Noise complaint on King St (3f9a0c1e)", known=False) == (
        "Noise complaint on King St (3f9a0c1e)"
    )
    # a text that names nothing is judged whole, punctuation included
    assert language.judged_text("good morning po, follow up lang", known=False) == "good morning po, follow up lang"


def test_a_new_residents_english_text_naming_a_french_street_is_english_with_the_bundled_model():
    # given a resident we know nothing of, in an English and French region, the bundled model
    dialog = region_dialog()
    # when their first text names a French street (the model gives the whole text to French), then it is English
    assert dialog.follow_language(ResidentState(), "Montée Paiement has a huge pothole").language == "en"
    # and the end-to-end tests' texts keep their language: two telling words and a code, a French text
    assert dialog.follow_language(ResidentState(), "Noise complaint on King St (3f9a0c1e)").language == "en"
    assert dialog.follow_language(ResidentState(), "Il y a un nid de poule rue Laurier").language == "fr"


def test_the_dialog_reads_a_not_sure_text_apart_from_the_language_it_falls_back_on():
    # given a new resident's text the model gives to German, which we cannot answer in, with no marker word
    dialog = region_dialog(FixedModel(de=0.9, en=0.1))
    # when the dialog reads it
    reading = dialog.read_language(ResidentState(), "das ist kaputt hier")
    # then the detection is "not sure" and the language the region's first, told by no text
    assert (reading.detection.language, reading.language, reading.told) == (None, "en", False)


# -- fourth tuning (issue 21, the known misses of held-out set 3): Arabizi, romanized Punjabi, greetings alone,
# Chinese in characters common to both forms ----------------------------------------------------------------------


@pytest.mark.parametrize("word", ["7ofra", "3andi", "sama7t", "mfawwa2", "wa7ed"])
def test_a_word_of_arabics_chat_alphabet_is_told_by_its_digits(word):
    assert language.arabizi_word(word)


@pytest.mark.parametrize(
    "word",
    [
        "3B",  # a unit
        "H3Z",  # half a postal code
        "a3f9c7e5",  # a reference code
        "2day",  # English's 2 comes first
        "gr8",  # English's 8
        "5ans",  # French: five years old
        "3eme",  # French: third
        "3pm",
    ],
)
def test_codes_and_english_or_french_shorthand_are_not_chat_alphabet_words(word):
    assert not language.arabizi_word(word)


def test_arabic_in_the_chat_alphabet_is_arabic_whatever_the_model_says():
    # given a text of Arabic in Latin letters, which the model (trained on Arabic script) gives to Hungarian
    model = FixedModel(hu=0.5, tr=0.3, en=0.2, ar=0.0)
    # when it is detected, then it is Arabic
    assert detect("fi 7ofra kbira 2odam el bet", model, ANSWERABLE + ("ar",)).language == "ar"


def test_a_new_residents_chat_alphabet_text_is_answered_in_arabic_with_the_bundled_model():
    # the digits are letters there: the text is not judged without them as it is without a unit's "3B"
    assert language.without_names("fi 7ofra kbira 2odam el bet") == "fi 7ofra kbira el bet"
    assert region_dialog().follow_language(ResidentState(), "fi 7ofra kbira 2odam el bet").language == "ar"


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("bonsoir", "fr"),
        ("buonasera", "it"),
        ("si va bene", "it"),
        ("kumusta po", "tl"),
        ("opo", "tl"),
        ("ok valeu", "pt"),
        ("obg", "pt"),
        ("vâng", "vi"),
        ("si porfa", "es"),
        ("sadi gali vich bahut vada toya hai ji", "pa"),  # Punjabi in Latin letters: the model cannot read it
    ],
)
def test_a_greeting_or_thanks_sent_alone_is_answered_in_its_language(text, code):
    # given a resident we know nothing of, whose text the model cannot be sure of, in an English and French region
    # when the dialog follows their language, then the language file's marker words tell it
    assert region_dialog().follow_language(ResidentState(), text).language == code


ANSWERABLE_CHINESE = ("en", "fr", "zh-Hans", "zh-Hant")


def chinese_form(text: str, model: FixedModel) -> str | None:
    return language.detect(
        text,
        previous=None,
        city_languages=CITY,
        candidates=language.candidate_set(ANSWERABLE_CHINESE),
        answerable=ANSWERABLE_CHINESE,
        detector=model,
    ).language


def test_a_new_residents_chinese_in_common_characters_read_as_cantonese_is_traditional():
    # 隔壁每天晚上都好吵 ("next door is noisy every night") uses no character that tells the form
    assert chinese_form("隔壁每天晚上都好吵", FixedModel(yue=0.5, zh=0.4, wuu=0.1)) == "zh-Hant"
    # read as Mandarin, the same characters keep the first form, Simplified
    assert chinese_form("隔壁每天晚上都好吵", FixedModel(zh=0.6, yue=0.3, wuu=0.1)) == "zh-Hans"
