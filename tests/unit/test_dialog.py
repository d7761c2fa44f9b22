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
    assert turn.replies == (
        "Which one? 1) Richmond, BC; 2) Richmond, VA. Reply with the number or the name.",
    )
    picked = dialog.handle(turn.state, "1")
    assert picked.state.municipality_id == RICHMOND_BC.geonameid
    assert picked.forwards == ("Tree down",)


def test_a_number_out_of_range_is_resolved_as_text_and_asks_again(dialog):
    choosing = ResidentState(
        state=State.CHOOSING, pending_choices=(RICHMOND_BC.geonameid, RICHMOND_VA.geonameid)
    )
    turn = dialog.handle(choosing, "7")
    assert turn.state.state is State.ASKING
    assert turn.event == "asked_again"


def test_choosing_a_place_that_is_not_a_subscriber_says_so(dialog):
    choosing = ResidentState(
        state=State.CHOOSING, pending_choices=(RICHMOND_BC.geonameid, RICHMOND_VA.geonameid)
    )
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
    assert "Help/Aide" in turn.replies[0]
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


@pytest.mark.parametrize("word", ["HELP", "aide", "Info"])
def test_help_answers_the_bilingual_help_text(dialog, word):
    turn = dialog.handle(ResidentState(), word)
    assert turn.replies == (catalog().help_text("text311.ca"),)
    assert turn.state == ResidentState()


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
