from dataclasses import dataclass, field

import pytest

from text311.dialog import MAX_ATTEMPTS, Dialog, ResidentState, State
from text311.i18n import catalog


@dataclass(frozen=True)
class Place:
    geonameid: int
    name: str
    region_code: str


@dataclass(frozen=True)
class Resolution:
    status: str
    match: Place | None = None
    choices: tuple = ()


@dataclass(frozen=True)
class Sub:
    display_name: str
    web_page: str | None = None
    status: str = "active"

    @property
    def active(self) -> bool:
        return self.status == "active"


GATINEAU = Place(5_959_974, "Gatineau", "QC")
RICHMOND_BC = Place(6_122_085, "Richmond", "BC")
RICHMOND_VA = Place(4_781_708, "Richmond", "VA")
LAVAL = Place(6_050_610, "Laval", "QC")
RICHMONDS = (RICHMOND_BC.geonameid, RICHMOND_VA.geonameid)


@dataclass
class FakeDirectory:
    calls: list = field(default_factory=list)

    def resolve(self, text, country):
        self.calls.append((text, country))
        t = text.lower()
        if "gatineau" in t:
            return Resolution("match", GATINEAU)
        if "richmond" in t:
            return Resolution("choose", choices=(RICHMOND_BC, RICHMOND_VA))
        if "laval" in t:
            return Resolution("match", LAVAL)
        return Resolution("none")


SUBSCRIBERS = {
    GATINEAU.geonameid: Sub("Gatineau"),
    RICHMOND_BC.geonameid: Sub("Richmond, BC"),
}


@pytest.fixture
def directory():
    return FakeDirectory()


@pytest.fixture
def dialog(directory):
    return Dialog(
        catalog=catalog(),
        resolve=directory.resolve,
        subscriber=SUBSCRIBERS.get,
        support_contact="text311.ca",
        answer_keywords=True,
        place_name=lambda gid: {RICHMOND_VA.geonameid: "Richmond"}.get(gid, "?"),
    )


def test_first_text_is_held_and_the_resident_asked_for_a_municipality(dialog):
    turn = dialog.handle(ResidentState(), "There is a pothole on Elm St")
    assert turn.state.state is State.ASKING
    assert turn.replies == ("Text311: which municipality are you in? Reply with your city or town.",)
    assert turn.state.pending == ("There is a pothole on Elm St",)
    assert turn.forwards == ()


def test_first_text_in_french_gets_the_question_in_french(dialog):
    turn = dialog.handle(ResidentState(), "Bonjour, il y a un nid de poule sur ma rue")
    assert turn.state.language == "fr"
    assert "quelle municipalité" in turn.replies[0]


def test_match_connects_and_forwards_the_held_first_message(dialog):
    asked = dialog.handle(ResidentState(), "Pothole on Elm St").state
    turn = dialog.handle(asked, "I'm in Gatineau")
    assert turn.state.state is State.CONNECTED
    assert turn.state.municipality_id == GATINEAU.geonameid
    assert turn.forwards == ("Pothole on Elm St",)
    assert turn.replies[0].startswith("You're connected to Gatineau 311.")
    assert turn.state.pending == ()


def test_match_without_a_held_message_asks_what_is_needed(dialog):
    turn = dialog.handle(ResidentState(state=State.ASKING), "gatineau")
    assert turn.forwards == ()
    assert "What can we help you with?" in turn.replies[0]


def test_connected_resident_texts_go_straight_to_the_city(dialog, directory):
    state = ResidentState(state=State.CONNECTED, municipality_id=GATINEAU.geonameid)
    turn = dialog.handle(state, "Garbage was not picked up")
    assert turn.forwards == ("Garbage was not picked up",)
    assert turn.replies == ()
    assert directory.calls == []  # no resolution once connected


def test_ambiguous_name_gives_a_numbered_list_and_a_number_picks(dialog):
    turn = dialog.handle(ResidentState(state=State.ASKING, pending=("Tree down",)), "Richmond")
    assert turn.state.state is State.CHOOSING
    assert turn.replies == ("Which one? 1) Richmond, BC; 2) Richmond, VA. Reply with the number or the name.",)
    picked = dialog.handle(turn.state, "1")
    assert picked.state.municipality_id == RICHMOND_BC.geonameid
    assert picked.forwards == ("Tree down",)


def test_a_number_out_of_range_is_resolved_as_text_and_asks_again(dialog):
    choosing = ResidentState(state=State.CHOOSING, pending_choices=(RICHMOND_BC.geonameid, RICHMOND_VA.geonameid))
    turn = dialog.handle(choosing, "7")
    assert turn.state.state is State.ASKING
    assert turn.event == "asked_again"


def test_choosing_a_place_that_is_not_a_subscriber_says_so(dialog):
    choosing = ResidentState(state=State.CHOOSING, pending_choices=(RICHMOND_BC.geonameid, RICHMOND_VA.geonameid))
    turn = dialog.handle(choosing, "2")
    assert turn.event == "not_subscriber"
    assert turn.replies[0].startswith("Richmond is not on Text311 yet.")
    assert turn.state.municipality_id is None


def test_place_that_is_not_a_subscriber_gets_a_clear_answer_not_another_city(dialog):
    turn = dialog.handle(ResidentState(state=State.ASKING), "Laval")
    assert turn.event == "not_subscriber"
    assert turn.state.state is State.ASKING
    assert "Laval is not on Text311 yet. Please call 311" in turn.replies[0]


def test_unknown_place_is_asked_again_then_help_after_three_tries(dialog):
    state = ResidentState(state=State.ASKING)
    events = []
    for text in ["asdf", "qwerty", "zzz"]:
        turn = dialog.handle(state, text)
        events.append(turn.event)
        state = turn.state
    assert events == ["asked_again"] * (MAX_ATTEMPTS - 1) + ["gave_up"]
    assert turn.replies[0] == "City not found. " + catalog().help_text("text311.ca", "en")
    assert state.attempts == 0


def test_a_request_arriving_before_the_answer_is_held_not_lost(dialog):
    # Out of order: the request comes in after the question but before the city name.
    state = dialog.handle(ResidentState(), "hello").state
    state = dialog.handle(state, "streetlight out at 5th and Main").state
    turn = dialog.handle(state, "Gatineau")
    assert turn.forwards == ("hello", "streetlight out at 5th and Main")


def test_stop_opts_out_without_a_reply_because_the_service_confirms_it(dialog):
    turn = dialog.handle(ResidentState(state=State.CONNECTED, municipality_id=1), "STOP")
    assert turn.state.opted_out is True
    assert turn.replies == ()
    assert turn.forwards == ()


def test_stop_as_first_word_of_a_report_opts_out_and_still_reaches_the_city(dialog):
    connected = ResidentState(state=State.CONNECTED, municipality_id=GATINEAU.geonameid)
    turn = dialog.handle(connected, "Stop sign down at Elm and 3rd")
    assert turn.state.opted_out is True
    assert turn.forwards == ("Stop sign down at Elm and 3rd",)


def test_start_opts_back_in_and_confirms(dialog):
    turn = dialog.handle(ResidentState(opted_out=True), "START")
    assert turn.state.opted_out is False
    assert turn.keyword_reply and "again" in turn.replies[0]


@pytest.mark.parametrize("word", ["HELP", "Info"])
def test_help_from_a_resident_we_know_nothing_of_answers_the_bilingual_help_text(dialog, word):
    turn = dialog.handle(ResidentState(), word)
    assert turn.replies == (catalog().help_text("text311.ca"),)
    assert (turn.state.state, turn.state.language, turn.state.municipality_id) == (State.NEW, "en", None)


@pytest.mark.parametrize(("word", "code"), [("AYUDA", "es"), ("ajuda", "pt"), ("Aiuto", "it"), ("aide", "fr")])
def test_a_local_help_word_is_answered_in_its_own_language(dialog, word, code):
    turn = dialog.handle(ResidentState(), word)
    assert turn.replies == (catalog().help_text("text311.ca", code),)
    assert turn.replies[0] != catalog().help_text("text311.ca")


@pytest.mark.parametrize("code", ["es", "zh-Hant", "ar", "pa", "vi", "uk"])
def test_help_is_answered_in_the_language_of_a_resident_we_know(dialog, code):
    known = ResidentState(language=code, state=State.CONNECTED, municipality_id=GATINEAU.geonameid)
    turn = dialog.handle(known, "HELP")
    assert turn.replies == (catalog().message(code, "help", support="text311.ca"),)


def test_the_help_after_too_many_tries_is_in_the_residents_language(dialog):
    state = ResidentState(language="es", state=State.ASKING, attempts=MAX_ATTEMPTS - 1)
    turn = dialog.handle(state, "zzzz qqqq xxxx")
    assert turn.event == "gave_up"
    assert turn.replies[-1] == "Ciudad no encontrada. " + catalog().message("es", "help", support="text311.ca")


def test_help_keywords_are_left_to_the_service_when_it_answers_them(directory):
    quiet = Dialog(
        catalog=catalog(),
        resolve=directory.resolve,
        subscriber=SUBSCRIBERS.get,
        support_contact="x",
        answer_keywords=False,
    )
    assert quiet.handle(ResidentState(), "HELP").replies == ()


def test_change_resets_the_municipality(dialog):
    connected = ResidentState(state=State.CONNECTED, municipality_id=GATINEAU.geonameid, language="fr")
    turn = dialog.handle(connected, "CHANGER")
    assert turn.state.state is State.ASKING and turn.state.municipality_id is None
    assert turn.replies == ("D'accord. Dans quelle municipalité vous trouvez-vous?",)


def test_emergency_gets_the_911_notice_and_still_goes_to_the_city_flagged_urgent(dialog):
    connected = ResidentState(state=State.CONNECTED, municipality_id=GATINEAU.geonameid)
    turn = dialog.handle(connected, "There is a fire behind the arena")
    assert turn.urgent
    assert turn.replies[0].startswith("Text311 is not for emergencies")
    assert turn.forwards == ("There is a fire behind the arena",)


def test_emergency_before_a_city_is_known_gets_the_notice_first(dialog):
    turn = dialog.handle(ResidentState(), "URGENCE il y a le feu")
    assert turn.urgent
    assert "911" in turn.replies[0] and "quelle municipalité" in turn.replies[1]


def test_an_emergency_held_before_the_city_is_known_is_forwarded_flagged_urgent(dialog):
    first = dialog.handle(ResidentState(), "There is a fire in the park")
    second = dialog.handle(first.state, "Pothole on Main St")
    turn = dialog.handle(second.state, "Gatineau")
    assert turn.event == "connected" and not turn.urgent  # "Gatineau" itself is no emergency
    assert turn.forwards == ("There is a fire in the park", "Pothole on Main St")
    assert turn.urgent_forwards == (True, False)


def test_empty_text_from_a_connected_resident_is_not_forwarded(dialog):
    turn = dialog.handle(ResidentState(state=State.CONNECTED, municipality_id=1), "  ")
    assert turn.event == "empty" and turn.forwards == () and turn.replies == ()


def test_held_texts_are_capped_and_the_overflow_reported(dialog):
    state = ResidentState(state=State.ASKING, pending=tuple(f"t{i}" for i in range(5)))
    turn = dialog.handle(state, "qwerty")
    assert turn.dropped == 1
    assert len(turn.state.pending) == 5


def test_a_first_text_that_is_only_a_city_connects_without_asking(dialog):
    turn = dialog.handle(ResidentState(), "Gatineau")
    assert turn.state.state is State.CONNECTED
    assert turn.forwards == ()
    assert "What can we help you with?" in turn.replies[0]


def test_a_first_text_naming_a_city_inside_a_request_connects_and_forwards_it(dialog):
    turn = dialog.handle(ResidentState(), "Big pothole on Elm St in Gatineau")
    assert turn.state.municipality_id == GATINEAU.geonameid
    assert turn.forwards == ("Big pothole on Elm St in Gatineau",)


def test_a_first_text_with_an_ambiguous_city_offers_the_choices_and_keeps_the_request(dialog):
    turn = dialog.handle(ResidentState(), "Tree down on my street in Richmond")
    assert turn.state.state is State.CHOOSING
    assert turn.state.pending == ("Tree down on my street in Richmond",)
    assert dialog.handle(turn.state, "1").forwards == ("Tree down on my street in Richmond",)


# -- the resident's language (issue 21.2) -----------------------------------------------------------------------


def test_a_first_text_in_spanish_gets_the_question_in_spanish(dialog):
    turn = dialog.handle(ResidentState(), "Hola, hay un bache enorme enfrente de mi casa")
    assert turn.state.language == "es"
    assert turn.replies == (catalog().message("es", "ask_municipality"),)
    assert "municipio" in turn.replies[0]


def test_a_first_text_in_traditional_chinese_is_answered_in_traditional_chinese(dialog):
    turn = dialog.handle(ResidentState(), "我家門口的路燈壞了")
    assert turn.state.language == "zh-Hant"


def test_a_short_text_keeps_the_residents_language(dialog):
    spanish = ResidentState(language="es", state=State.ASKING)
    turn = dialog.handle(spanish, "ok")
    assert turn.state.language == "es"
    assert turn.replies == (catalog().message("es", "ask_again"),)


def test_the_911_notice_is_in_the_language_of_the_text(dialog):
    turn = dialog.handle(ResidentState(), "Hay un incendio en el edificio de al lado")
    assert turn.replies[0] == "Text311 no es para emergencias. Si es una emergencia, llame al 911 ahora."


@pytest.fixture
def canadian(directory):
    """A dialog in a region whose residents write English and French first."""
    return Dialog(
        catalog=catalog(),
        resolve=directory.resolve,
        subscriber=SUBSCRIBERS.get,
        support_contact="text311.ca",
        region_languages=("en", "fr"),
    )


@pytest.mark.parametrize(
    "text",
    [
        "1455 boulevard de Maisonneuve Ouest",
        "1200 rue de la Gauchetière",
        "boulevard des Allumettières",
        "rue de l'Hôtel-de-Ville",
        "pothole at 1455 boulevard de Maisonneuve Ouest",
    ],
)
def test_an_english_resident_naming_a_french_street_stays_english(canadian, text):
    english = ResidentState(language="en", state=State.CONNECTED, municipality_id=GATINEAU.geonameid)
    assert canadian.follow_language(english, text).language == "en"


def test_an_english_resident_writing_a_french_sentence_switches_to_french(canadian):
    english = ResidentState(language="en", state=State.CONNECTED, municipality_id=GATINEAU.geonameid)
    assert canadian.follow_language(english, "il y a un nid de poule sur ma rue").language == "fr"


@pytest.mark.parametrize(
    "text",
    [
        "Richmond VA",
        "Arlington VA",
        "May 5",
        "Los Angeles",
        "El Paso",
        "no",
        "OK no problem",
        "Via Rail",
        "Rua das Flores",
    ],
)
def test_a_new_residents_place_name_or_english_word_is_no_marker_of_another_language(canadian, text):
    assert canadian.follow_language(ResidentState(), text).language == "en"


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("hola", "es"),
        ("Hola", "es"),
        ("gracias", "es"),
        ("obrigado", "pt"),
        ("grazie", "it"),
        ("salamat", "tl"),
        ("مرحبا", "ar"),
    ],
)
def test_a_new_residents_greeting_still_tells_their_language(canadian, text, code):
    assert canadian.follow_language(ResidentState(), text).language == code


def test_a_resident_whose_language_was_only_a_fallback_switches_on_a_fairly_clear_text(canadian):
    # given a resident answered in English only because nothing told their language (a place name, "ok")
    first = canadian.handle(ResidentState(), "Gatineau")
    assert (first.state.language, first.state.language_detected) == ("en", False)
    # when they write a Spanish text the model is only fairly sure of
    turn = canadian.handle(first.state, "hay un bache enfrente de mi casa")
    # then the guess gives way: they are answered in Spanish from now on
    assert (turn.state.language, turn.state.language_detected) == ("es", True)


def test_a_detected_language_still_holds_against_a_fairly_clear_text(canadian):
    english = ResidentState(language="en", state=State.CONNECTED, municipality_id=GATINEAU.geonameid)
    assert canadian.follow_language(english, "hay un bache enfrente de mi casa").language == "en"
