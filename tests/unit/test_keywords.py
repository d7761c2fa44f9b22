import pytest

from text311.i18n import catalog
from text311.keywords import Keyword, classify_keyword, is_emergency


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("STOP", Keyword.OPT_OUT),
        ("stop", Keyword.OPT_OUT),
        (" Stop. ", Keyword.OPT_OUT),
        ("ARRÊT", Keyword.OPT_OUT),
        ("arret", Keyword.OPT_OUT),
        ("Arrêt!", Keyword.OPT_OUT),
        ("unsubscribe", Keyword.OPT_OUT),
        ("OPT-OUT", Keyword.OPT_OUT),
        ("td", Keyword.OPT_OUT),
        ("Quit", Keyword.OPT_OUT),
        ("cancel", Keyword.OPT_OUT),
        ("END", Keyword.OPT_OUT),
        ("START", Keyword.OPT_IN),
        ("unstop", Keyword.OPT_IN),
        ("HELP", Keyword.HELP),
        ("help?", Keyword.HELP),
        ("Aide", Keyword.HELP),
        ("INFO", Keyword.HELP),
        ("CHANGE", Keyword.CHANGE),
        ("changer", Keyword.CHANGE),
        ("Change.", Keyword.CHANGE),
    ],
)
def test_keyword_is_recognised_whatever_the_case_and_accents(text, expected):
    assert classify_keyword(text)[0] is expected


@pytest.mark.parametrize(
    "text",
    [
        "pothole on Main St",
        "the bus did not stop",
        "I need help",
        "Montréal",
        "",
        "   ",
        "stopped",
        "helpful",
        "Change the bulb on Elm St please",
        "changer la lumière de la rue",
    ],
)
def test_no_keyword_when_the_first_word_is_not_one(text):
    assert classify_keyword(text)[0] is None


def test_carrier_keyword_as_first_word_counts_like_end_user_messaging_does():
    keyword, rest = classify_keyword("Stop sign knocked down at Elm and 3rd")
    assert keyword is Keyword.OPT_OUT
    assert rest == "sign knocked down at Elm and 3rd"


@pytest.mark.parametrize(
    "text",
    [
        "There's a fire in the park",
        "Il y a le FEU chez le voisin",
        "call 911",
        "EMERGENCY",
        "urgence!",
        "I smell gas in the street",
        "quelqu'un saigne",
        "fuite de gaz rue Principale",
        "Fumée noire au coin",
    ],
)
def test_emergency_words_are_found_in_english_and_french(text):
    assert is_emergency(text)


@pytest.mark.parametrize(
    "text",
    [
        "The fire hydrant on Oak is leaking",
        "Le feu rouge est brisé au coin",
        "feux de circulation en panne",
        "fireworks noise all night",
        "garbage not picked up",
        "non urgent: feu de circulation lent",
        "smoke detector pickup day?",
        "firefly season",
    ],
)
def test_harmless_phrases_are_not_emergencies(text):
    assert not is_emergency(text)


def test_help_text_is_bilingual_and_fits_one_gsm7_segment():
    text = catalog().help_text("text311.ca")
    assert "STOP" in text and "ARRET" in text and "Help" in text and "Aide" in text
    assert "text311.ca" in text
    assert len(text) <= 160
    assert text.isascii()  # plain ASCII is inside GSM-7's basic set: one 160-character segment


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("bonjour je suis à Gatineau", "fr"),
        ("Il y a un nid de poule sur ma rue", "fr"),
        ("There is a pothole on my street", "en"),
        ("Montreal", "en"),
        ("allo, les ordures?", "fr"),
        ("", "en"),
    ],
)
def test_language_is_detected_from_the_first_text(text, language):
    assert catalog().detect_language(text) == language


def test_every_language_file_has_every_message():
    cat = catalog()
    keys = set(cat.languages[cat.default].messages)
    for code, lang in cat.languages.items():
        assert set(lang.messages) == keys, code


@pytest.mark.parametrize(("word", "code"), [("AYUDA", "es"), ("AJUDA", "pt"), ("AIUTO", "it"), ("AIDE", "fr")])
def test_the_number_answers_a_local_help_word_in_its_own_language(word, code):
    from stacks.keywords import number_keywords

    answers = {k.keyword: k.message for k in number_keywords("text311.ca")}
    assert answers[word] == catalog().message(code, "help", support="text311.ca")
    assert answers["HELP"] == answers["INFO"] == catalog().help_text("text311.ca")


def test_every_languages_help_names_the_support_contact_and_how_to_opt_out():
    cat = catalog()
    for code in cat.languages:
        text = cat.help_text("text311.ca", code)
        assert "text311.ca" in text and ("STOP" in text or "ARRET" in text), code


def test_folding_writes_vietnamese_d_bar_as_d_as_residents_type_it_without_accents():
    from text311.i18n import fold, words

    assert fold("Đường Lê Lợi") == "duong le loi"
    assert words("Không được dọn rác") == ["khong", "duoc", "don", "rac"]
