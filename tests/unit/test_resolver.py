"""resolve_municipality: what a resident writes → one place, a short list, or nothing."""

from __future__ import annotations

import pytest

from text311.directory import Resolution, resolve_municipality


def label(res: Resolution) -> str | None:
    return res.match.label if res.match else None


def labels(res: Resolution) -> list[str]:
    return [p.label for p in res.choices]


# -- the issue's examples ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("montreal", "Montréal, QC"),
        ("Montréal", "Montréal, QC"),
        ("MONTREAL", "Montréal, QC"),
        ("st johns nl", "St. John's, NL"),
        ("I'm in Trois Rivieres", "Trois-Rivières, QC"),
        ("bonjour je suis à Gatineau", "Gatineau, QC"),
        ("Kingston ON", "Kingston, ON"),
        ("kingston, nova scotia", "Kingston, NS"),
    ],
)
def test_issue_examples_match_when_the_text_settles_the_place(text, expected):
    res = resolve_municipality(text)
    assert (res.status, label(res)) == ("match", expected)


@pytest.mark.parametrize(
    ("text", "first_two"),
    [
        ("richmond", {"Richmond, VA", "Richmond, BC"}),
        ("Sault Ste Marie", {"Sault Ste. Marie, ON", "Sault Ste. Marie, MI"}),
        ("Springfield", {"Springfield, MO", "Springfield, MA"}),
        ("Kingston", {"Kingston, ON", "Kingston, NY"}),
    ],
)
def test_same_name_places_give_choose_biggest_first_when_the_text_does_not_settle_it(text, first_two):
    res = resolve_municipality(text)
    assert res.status == "choose"
    assert set(labels(res)[:2]) == first_two
    assert 2 <= len(res.choices) <= 5
    populations = [p.population for p in res.choices]
    assert populations == sorted(populations, reverse=True)


@pytest.mark.parametrize(
    "text", ["pothole on main st", "help", "yes", "stop", "no", "ok", "thanks", "merci", "oui"]
)
def test_non_places_give_none(text):
    assert resolve_municipality(text).status == "none"


# -- normalisation -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Trois-Rivières", "Trois-Rivières, QC"),
        ("trois rivieres", "Trois-Rivières, QC"),
        ("TROIS-RIVIERES!!", "Trois-Rivières, QC"),
        ("St-Jérôme", "Saint-Jérôme, QC"),
        ("Saint Jerome", "Saint-Jérôme, QC"),
        ("Ste-Julie", "Sainte-Julie, QC"),
        ("sainte julie", "Sainte-Julie, QC"),
        ("Mt Pearl", "Mount Pearl, NL"),
        ("Mount Pearl", "Mount Pearl, NL"),
        ("Ft McMurray", "Fort McMurray, AB"),
        ("N Vancouver", "North Vancouver, BC"),
        ("Lévis", "Lévis, QC"),
        ("levis", "Lévis, QC"),
        ("Quebec City", "Québec, QC"),
        ("Montreal.", "Montréal, QC"),
    ],
)
def test_case_accents_punctuation_and_abbreviations_do_not_matter(text, expected):
    assert label(resolve_municipality(text)) == expected


# -- province or state written by the resident -----------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Richmond BC", "Richmond, BC"),
        ("Richmond, B.C.", "Richmond, BC"),
        ("richmond british columbia", "Richmond, BC"),
        ("Richmond, Colombie-Britannique", "Richmond, BC"),
        ("Richmond VA", "Richmond, VA"),
        ("Richmond, Virginia", "Richmond, VA"),
        ("Kingston (Ontario)", "Kingston, ON"),
        ("Kingston, Nouvelle-Écosse", "Kingston, NS"),
        ("Springfield IL", "Springfield, IL"),
        ("Springfield, Illinois", "Springfield, IL"),
        ("Sault Ste Marie ON", "Sault Ste. Marie, ON"),
        ("Sault Ste. Marie, Michigan", "Sault Ste. Marie, MI"),
        ("Saint John NB", "Saint John, NB"),
        ("St. John's, Newfoundland", "St. John's, NL"),
        ("Québec, QC", "Québec, QC"),
        ("London, Ontario, Canada", "London, ON"),
        ("Richmond, Canada", "Richmond, BC"),
        ("Hungry Horse MT", "Hungry Horse, MT"),
        ("washington dc", "Washington, DC"),
    ],
)
def test_a_province_or_state_as_code_or_name_settles_same_name_places(text, expected):
    res = resolve_municipality(text)
    assert (res.status, label(res)) == ("match", expected)


def test_a_province_that_has_no_such_place_asks_rather_than_guesses():
    res = resolve_municipality("Kingston, Alberta")
    assert res.status == "choose"
    assert "Kingston, ON" in labels(res)


def test_a_two_letter_word_after_a_name_is_not_taken_for_a_state_when_no_such_place_is_there():
    assert label(resolve_municipality("Gatineau la")) == "Gatineau, QC"  # 'là', not Louisiana


# -- inside a sentence -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("hi, I live in Sherbrooke", "Sherbrooke, QC"),
        ("I'm from Moncton", "Moncton, NB"),
        ("it's Laval", "Laval, QC"),
        ("the city of Longueuil please", "Longueuil, QC"),
        ("j'habite à Rimouski", "Rimouski, QC"),
        ("c'est Saguenay", "Saguenay, QC"),
        ("Ville de Lévis", "Lévis, QC"),
        ("bonsoir, je suis à Saint-Jean-sur-Richelieu", "Saint-Jean-sur-Richelieu, QC"),
        ("pothole on Elm, Gatineau", "Gatineau, QC"),
        ("there's a pothole on my street in Halifax", "Halifax, NS"),
        ("nid de poule devant chez moi à Drummondville", "Drummondville, QC"),
        ("Burnaby, garbage not picked up", "Burnaby, BC"),
    ],
)
def test_the_place_inside_a_sentence_in_english_or_french_is_found(text, expected):
    res = resolve_municipality(text)
    assert (res.status, label(res)) == ("match", expected)


@pytest.mark.parametrize(
    "text",
    [
        "broken light on Kingston Rd",
        "pothole on Richmond St",
        "nid de poule sur la rue Sherbrooke",
        "déneigement chemin Chambly",
        "garbage not collected on North Miami Beach Ave",
    ],
)
def test_a_place_name_used_as_a_street_is_not_a_place(text):
    assert resolve_municipality(text).status == "none"


@pytest.mark.parametrize("text", ["what a surprise, another pothole", "my mobile is broken", "I hope so"])
def test_common_words_that_are_also_place_names_are_not_places_inside_a_request(text):
    assert resolve_municipality(text).status == "none"


def test_a_common_word_alone_is_a_place_when_it_is_the_whole_answer():
    assert label(resolve_municipality("Mobile")) == "Mobile, AL"


def test_a_reply_word_that_is_also_a_place_needs_its_state():
    assert resolve_municipality("okay").status == "none"  # Okay, Oklahoma
    assert resolve_municipality("start").status == "none"  # Start, Louisiana
    assert label(resolve_municipality("Start, Louisiana")) == "Start, LA"


def test_two_different_places_in_one_text_are_offered_both():
    res = resolve_municipality("Gatineau or Ottawa")
    assert res.status == "choose"
    assert {"Gatineau, QC", "Ottawa, ON"} <= set(labels(res))



def test_a_place_next_to_a_name_shared_by_many_is_still_offered():
    res = resolve_municipality("kingston ottawa")
    assert res.status == "choose"
    assert {"Kingston, ON", "Ottawa, ON"} <= set(labels(res))

# -- typos -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Torontoo", "Toronto, ON"),
        ("Winipeg", "Winnipeg, MB"),
        ("Sherbroke", "Sherbrooke, QC"),
        ("Missisauga", "Mississauga, ON"),
        ("Calgarry", "Calgary, AB"),
        ("Saint-Jean-sur-Richelue", "Saint-Jean-sur-Richelieu, QC"),
        ("je suis à Drumondville", "Drummondville, QC"),
        ("Kingstn ON", "Kingston, ON"),
        # each word alone is some place's old name ('blosom': Blossom, TX); together a misspelt name
        ("blosom park", "Blossom Park, ON"),
    ],
)
def test_small_typos_are_forgiven_when_one_name_is_clearly_nearest(text, expected):
    res = resolve_municipality(text)
    assert (res.status, label(res)) == ("match", expected)


@pytest.mark.parametrize(
    ("text", "truth"),
    [
        ("Lavel", "Laval, QC"),
        ("Gatneau", "Gatineau, QC"),
        ("Kingstn", "Kingston, ON"),
        ("Ottowa", "Ottawa, ON"),
    ],
)
def test_a_typo_near_several_names_is_a_question_never_a_guess(text, truth):
    res = resolve_municipality(text)
    assert res.status == "choose"
    assert truth in labels(res)


def test_short_words_are_not_stretched_into_places():
    assert resolve_municipality("helo").status == "none"
    assert resolve_municipality("garbage").status == "none"


# -- a name that is also a province or state ---------------------------------------------------


def test_a_province_name_alone_is_confirmed_not_assumed():
    res = resolve_municipality("Québec")
    assert res.status == "choose" and labels(res) == ["Québec, QC"]


def test_a_canadian_province_name_from_a_canadian_phone_is_not_a_us_city():
    assert resolve_municipality("Ontario", country="CA").status == "none"
    assert resolve_municipality("Ontario").status == "choose"  # Ontario, California exists


# -- a resident naming a place that is not a subscriber -----------------------------------------


def test_resolution_runs_against_the_whole_directory_not_only_subscribers():
    res = resolve_municipality("Rimouski")
    assert res.status == "match" and res.match is not None and res.match.geonameid == 6354895


def test_an_empty_or_very_long_text_is_handled():
    assert resolve_municipality("").status == "none"
    assert resolve_municipality("   ").status == "none"
    assert resolve_municipality("blah " * 500).status == "none"
