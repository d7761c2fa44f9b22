"""The language bench's measures (bench/languages.py): issue 21's "wrong language" (a detection that names another
language than the text's) is counted apart from "not sure" and from "answered in another language", which also
counts a "not sure" that fell back on another language."""

from __future__ import annotations

from pathlib import Path

from harness import load_script

BENCH = Path(__file__).resolve().parents[2] / "bench" / "languages.py"


bench = load_script("languages_bench", BENCH)


def test_a_not_sure_text_answered_in_another_language_is_no_wrong_language():
    # given four French texts: detected French, detected English, not sure and answered in English, not sure and
    # answered in French
    outcomes = {
        "le trottoir est brisé": ("fr", "fr"),
        "la rue est fermée": ("en", "en"),
        "il y a un trou": ("en", None),
        "nid de poule ici": ("fr", None),
    }
    # when they are scored for the first text
    figures = bench.score(list(outcomes), "fr", "first text", lambda text, label: outcomes[text])
    # then two were answered in another language, two not sure, and one a wrong language
    assert (figures["other"], figures["unsure"], figures["wrong"]) == (0.5, 0.5, 0.25)
    assert figures["long"] == 0.5
