"""Language detection (issue 21.1): not sure on short or unclear texts, the fallback chain, the switching rule."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from text311 import language
from text311.language import Detection

ROOT = Path(__file__).resolve().parents[2]
CITY = ("en", "fr")


class FixedModel:
    """Stands in for py3langid: gives the probabilities it was told, whatever the text."""

    def __init__(self, **scores: float) -> None:
        self.scores = scores

    def rank(self, text: str) -> list[tuple[str, float]]:
        return sorted(self.scores.items(), key=lambda item: -item[1])


def detect(text: str, model: FixedModel, previous: str | None = None) -> Detection:
    return language.detect(
        text, previous=previous, city_languages=CITY, candidates=language.candidate_set(CITY), detector=model
    )


def test_a_clear_text_of_three_words_is_detected():
    found = detect("il y a un nid de poule", FixedModel(fr=0.9, it=0.05, en=0.05))
    assert found.language == "fr"


def test_a_two_word_text_is_not_sure_when_the_model_is_only_fairly_sure():
    assert detect("ok merci", FixedModel(fr=0.7, en=0.3)).language is None


def test_a_two_word_text_in_a_script_of_its_own_is_detected():
    assert detect("ਹਾਂ ਜੀ", FixedModel(pa=0.99, hi=0.01)).language == "pa"


def test_a_text_without_words_is_not_sure():
    assert detect("?? !!", FixedModel(en=1.0)) == Detection(None, 0.0)


def test_a_language_outside_the_candidates_is_not_sure_rather_than_the_nearest_candidate():
    assert detect("jo vull reportar un forat", FixedModel(ca=0.8, es=0.15, fr=0.05)).language is None


def test_a_common_language_we_cannot_answer_in_is_still_named():
    assert detect("hay un bache en mi calle", FixedModel(es=0.9, pt=0.1)).language == "es"


def test_the_residents_previous_language_tips_an_unclear_text():
    unclear = FixedModel(pt=0.4, es=0.35, it=0.25)
    assert detect("o lixo nao foi", unclear).language is None
    assert detect("o lixo nao foi", unclear, previous="pt").language == "pt"


def test_chinese_characters_are_chinese_when_the_model_hesitates_with_japanese():
    found = detect("市政厅几点开门", FixedModel(ja=0.5, zh=0.4, wuu=0.1))
    assert found.language == "zh"


def test_a_candidate_with_a_script_subtag_is_named_as_given():
    found = language.detect(
        "市政厅几点开门",
        previous=None,
        city_languages=CITY,
        candidates=language.candidate_set(("en", "zh-Hans")),
        detector=FixedModel(zh=0.9, ja=0.1),
    )
    assert found.language == "zh-Hans"


@pytest.mark.parametrize(
    ("detected", "previous", "city", "expected"),
    [
        ("es", "fr", ("en",), "es"),  # detected: answered in that language
        (None, "fr", ("en",), "fr"),  # not sure: the resident's last known language
        (None, None, ("fr", "en"), "fr"),  # ... then the city's first language
        (None, None, (), "en"),  # ... then the deployment's default
    ],
)
def test_the_fallback_chain_when_not_sure(detected, previous, city, expected):
    detection = Detection(detected, 0.9 if detected else 0.3)
    assert language.fallback(detection, previous=previous, city_languages=city, default="en") == expected


def test_a_resident_switches_language_on_a_confident_text_of_three_words():
    assert language.remembered("fr", Detection("en", 0.95), "there is a pothole") == "en"


@pytest.mark.parametrize(
    "text",
    ["1455 boulevard de Maisonneuve Ouest", "boulevard des Allumettières", "rue de l'Hôtel-de-Ville", "25 rue Laurier"],
)
def test_a_resident_keeps_their_language_on_a_street_name_in_another(text):
    # a number and the street's capitalised name tell nothing of the resident's language
    assert language.remembered("en", Detection("fr", 0.96), text) == "en"


@pytest.mark.parametrize(
    ("text", "words"),
    [("1455 boulevard de Maisonneuve Ouest", 1), ("IL Y A UN NID DE POULE", 7), ("我家门口的路灯坏了", 5)],
)
def test_telling_words_leave_out_numbers_and_capitalised_names(text, words):
    assert language.telling_words(text) == words


def test_a_text_without_names_keeps_the_residents_own_words():
    assert language.without_names("Pothole at 1200 rue de la Gauchetière, l'Hôtel-de-Ville") == "Pothole at rue"


def test_a_resident_keeps_their_language_on_a_short_text():
    assert language.remembered("fr", Detection("en", 0.99), "ok thanks") == "fr"


def test_a_resident_keeps_their_language_on_an_unsure_detection():
    assert language.remembered("fr", Detection("en", 0.7), "the pothole is still there") == "fr"
    assert language.remembered("fr", Detection(None, 0.4), "the pothole is still there") == "fr"


def test_a_new_resident_takes_the_detected_language_or_none():
    assert language.remembered(None, Detection("es", 0.8), "hola") == "es"
    assert language.remembered(None, Detection(None, 0.4), "hola") is None


@pytest.mark.parametrize(
    ("text", "words"), [("pothole on elm", 3), ("市政厅几点开门", 4), ("elm街上有坑", 3), ("", 0), ("1455 Main", 1)]
)
def test_word_count_counts_two_chinese_characters_as_a_word(text, words):
    assert language.word_count(text) == words


def test_the_bundled_model_detects_offline(monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("language detection opened a socket")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    found = language.detect(
        "there is a huge pothole on elm street",
        previous=None,
        city_languages=CITY,
        candidates=language.candidate_set(CITY),
    )
    assert found.language == "en"


def test_importing_the_module_does_not_load_the_model():
    code = "import sys, text311.language; print('py3langid' in sys.modules, 'numpy' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(ROOT / "layers/core/python")},
    )
    assert out.stdout.split() == ["False", "False"]


ANSWERABLE = ("en", "fr", "zh-Hans", "zh-Hant")


@pytest.mark.parametrize(("text", "form"), [("市政厅几点开门", "zh-Hans"), ("市政廳幾點開門", "zh-Hant")])
def test_simplified_and_traditional_chinese_are_told_apart(text, form):
    found = language.detect(
        text,
        previous=None,
        city_languages=CITY,
        candidates=language.candidate_set(ANSWERABLE),
        detector=FixedModel(zh=0.9, ja=0.1),
    )
    assert found.language == form


def test_characters_common_to_both_chinese_forms_keep_the_residents_form():
    found = language.detect(
        "你好",
        previous="zh-Hant",
        city_languages=CITY,
        candidates=language.candidate_set(ANSWERABLE),
        detector=FixedModel(zh=0.99),
    )
    assert found.language == "zh-Hant"


def test_a_varietys_share_counts_for_its_language():
    assert language.probabilities("x", FixedModel(zh=0.4, wuu=0.3, yue=0.2, ja=0.1)) == pytest.approx(
        {"zh": 0.9, "ja": 0.1}
    )


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("hay un bache enorme enfrente de mi casa", "es"),
        ("there is a huge pothole on elm street", "en"),
        ("il y a un gros nid de poule sur ma rue", "fr"),
        ("may malaking butas sa kalsada namin", "tl"),
        ("يوجد حفرة كبيرة في الشارع", "ar"),
    ],
)
def test_the_bundled_model_names_a_clear_text(text, code):
    found = language.detect(text, previous=None, city_languages=CITY, candidates=language.candidate_set(CITY))
    assert found.language == code
