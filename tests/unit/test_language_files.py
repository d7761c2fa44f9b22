"""Every language file says everything English says (issue 21.2): each of en.json's resident messages, with the
same placeholders and no others; text that an SMS carries without bidi controls; the carrier keywords for all."""

from __future__ import annotations

import json
import unicodedata
from dataclasses import replace
from importlib import resources
from string import Formatter

import pytest

from text311.dialog import Dialog, ResidentState, State
from text311.i18n import catalog
from text311.keywords import Keyword, classify_keyword, is_emergency

FOLDER = resources.files("text311") / "templates"
FILES = sorted(p.name for p in FOLDER.iterdir() if p.name.endswith(".json") and p.name != "common.json")
NEW_LANGUAGES = ("es", "zh-Hans", "zh-Hant", "ar", "pa", "tl", "pt", "vi", "it", "uk")
# What opening_hours.spoken_opening offers an "opening_time": each language writes its clock with some of them.
CLOCK = frozenset({"weekday", "hour", "minute", "h12", "ampm"})


def _file(name: str) -> dict:
    return json.loads((FOLDER / name).read_text(encoding="utf-8"))


def _placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in Formatter().parse(template) if name}


ENGLISH = _file("en.json")["messages"]


def test_every_language_of_the_issue_has_a_file():
    assert {f"{code}.json" for code in NEW_LANGUAGES} <= set(FILES)


@pytest.mark.parametrize("name", FILES)
def test_a_language_file_has_every_message_english_has(name):
    messages = _file(name)["messages"]
    assert sorted(set(ENGLISH) - set(messages)) == []
    assert sorted(set(messages) - set(ENGLISH)) == []


@pytest.mark.parametrize("name", FILES)
def test_a_language_file_uses_the_placeholders_english_uses_and_no_others(name):
    for key, template in _file(name)["messages"].items():
        mine, english = _placeholders(template), _placeholders(ENGLISH[key])
        if key == "opening_time":
            assert {"weekday", "minute"} <= mine <= CLOCK, name
        else:
            assert mine == english, f"{name}: {key}"


@pytest.mark.parametrize("name", FILES)
def test_a_language_file_names_seven_weekdays_monday_first(name):
    assert len(_file(name)["messages"]["weekdays"].split(",")) == 7


@pytest.mark.parametrize("name", FILES)
def test_no_message_carries_an_invisible_format_character(name):
    # Bidi marks and isolates (U+200E, U+2066...) are stripped by the sender and would only hide text: right-to-left
    # text is stored in logical order and left to the phone's bidi algorithm.
    for key, template in _file(name)["messages"].items():
        assert [c for c in template if unicodedata.category(c) == "Cf"] == [], f"{name}: {key}"


# Pieces of other messages, which start where their message puts them.
FRAGMENTS = frozenset({"choose_option", "status_item", "opening_time", "not_subscriber_web"})


@pytest.mark.parametrize("key", sorted(set(_file("ar.json")["messages"]) - FRAGMENTS))
def test_every_arabic_message_starts_with_an_arabic_letter_so_the_phone_lays_it_out_right_to_left(key):
    # The first strong character sets a paragraph's direction (Unicode bidi, P2): a Latin "Text311:" or a Latin
    # city name first would lay the whole message out left to right. Placeholders are filled with Latin text.
    filled = "".join(
        text + ("Kingston" if name else "") for text, name, _, _ in Formatter().parse(_file("ar.json")["messages"][key])
    )
    first_strong = next(c for c in filled if unicodedata.bidirectional(c) in ("L", "R", "AL"))
    assert unicodedata.bidirectional(first_strong) == "AL"


def _keyword_dialog() -> Dialog:
    return Dialog(
        catalog=catalog(), resolve=lambda text, hint: None, subscriber=lambda gid: None, support_contact="text311.ca"
    )


@pytest.mark.parametrize("code", NEW_LANGUAGES)
def test_the_carrier_keywords_work_whatever_the_residents_language(code):
    # given a resident whose language is ``code``
    resident = ResidentState(language=code, state=State.CONNECTED, municipality_id=1)
    dialog = _keyword_dialog()
    # then STOP opts them out, HELP answers in their language and START opts them back in, in their language
    assert dialog.handle(resident, "STOP").state.opted_out is True
    help_turn = dialog.handle(resident, "HELP")
    assert help_turn.event == "help"
    assert help_turn.replies == (catalog().message(code, "help", support="text311.ca"),)
    assert dialog.handle(replace(resident, opted_out=True), "START").replies == (catalog().message(code, "opted_in"),)
    assert classify_keyword("STOP", catalog())[0] is Keyword.OPT_OUT


@pytest.mark.parametrize("word", ["DOI", "doi", "ĐỔI", "đổi"])
def test_vietnamese_change_is_understood_with_or_without_its_accents(word):
    assert classify_keyword(word, catalog())[0] is Keyword.CHANGE


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("hay un incendio en la casa de al lado", "es"),
        ("c'è un incendio nel palazzo", "it"),
        ("tem um incêndio na rua", "pt"),
        ("may sunog sa kanto namin", "tl"),
        ("cần cấp cứu gấp", "vi"),
        ("我家着火了", "zh-Hans"),
        ("我家著火了", "zh-Hant"),
        ("يوجد حريق في الشارع", "ar"),
        ("ਘਰ ਨੂੰ ਅੱਗ ਲੱਗੀ ਹੈ", "pa"),
        ("у будинку пожежа", "uk"),
    ],
)
def test_an_emergency_word_in_each_language_is_an_emergency(text, code):
    assert code in catalog().languages
    assert is_emergency(text, catalog())


def test_a_harmless_phrase_with_an_emergency_word_is_not_an_emergency():
    assert not is_emergency("el detector de humo hace ruido", catalog())


def test_only_english_and_french_speak_to_agents_and_others_fall_back_on_the_default():
    cat = catalog()
    assert {code for code, lang in cat.languages.items() if lang.agents} == {"en", "fr"}
    assert cat.agent_template("es", "no_text") == cat.agent_template("en", "no_text")


@pytest.mark.parametrize(
    "text",
    [
        "ਇਹ ਐਮਰਜੈਂਸੀ ਹੈ",  # vowel signs are marks: a \b fell inside the word
        "ਰਸੋਈ ਵਿੱਚ ਧੂੰਆਂ",
        "ਦਿਲ ਦਾ ਦੌਰਾ ਪਿਆ",
        "ਉਹ ਸਾਹ ਨਹੀਂ ਲੈ ਰਿਹਾ",
        "ਘਰ ਨੂੰ ਅੱਗ ਲੱਗੀ ਹੈ",
        "我家着火了",  # each Han character a word of its own
        "厨房冒烟了",
        "廚房冒煙了",
        "يوجد دخان في المطبخ",
        "будинок горить, швидко",
        "у під'їзді щось горить",
        "nhà hàng xóm bốc cháy",
        "có đám cháy ở góc đường",
        "c'è stato un incidente stradale in via Roma",
        "hubo un choque de autos en la esquina",
        "may usok sa kusina namin",
        "tem fumaça saindo da casa",
    ],
)
def test_emergency_words_are_found_in_every_script(text):
    assert is_emergency(text, catalog())


# Ordinary 311 reports, in each language: none is an emergency. Every language's list applies to every text, so a
# word that is harmless in one language ("choqué", "chảy") must not be another's emergency word.
ORDINARY_REPORTS = {
    "en": ["The streetlight on Elm is out", "garbage was not picked up on Oak Street"],
    "fr": ["Je suis choqué, les ordures sont encore là", "Le lampadaire est éteint rue Principale"],
    "es": ["hay un bache enfrente de mi casa", "un incidente con la basura", "no pasaron a recoger la basura"],
    "it": ["c'è una buca in via Roma", "i rifiuti non sono stati raccolti"],
    "pt": ["tem um buraco na minha rua", "o lixo não foi recolhido"],
    "tl": ["may lubak sa kalsada namin", "hindi kinuha ang basura kahapon"],
    "vi": ["nước đang chảy trên đường", "xe buýt đang chạy trễ", "có ổ gà trước nhà tôi"],
    "uk": ["ліхтар не горить", "на дорозі велика яма", "сміття не вивезли"],
    "ar": ["يوجد حفرة في الشارع", "لم يتم جمع القمامة"],
    "pa": ["ਘਰ ਦੇ ਅੱਗੇ ਟੋਆ ਹੈ", "ਕੂੜਾ ਨਹੀਂ ਚੁੱਕਿਆ ਗਿਆ"],
    "zh-Hans": ["我家门前有个坑", "垃圾没有收", "火车站附近的路灯坏了"],
    "zh-Hant": ["路燈壞了", "垃圾沒有收"],
}


@pytest.mark.parametrize(("code", "text"), [(code, text) for code, texts in ORDINARY_REPORTS.items() for text in texts])
def test_an_ordinary_report_in_any_language_is_not_an_emergency(code, text):
    assert code in catalog().languages
    assert not is_emergency(text, catalog())
