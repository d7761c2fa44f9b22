"""The service request bench's case files (bench/service_requests/*.tsv) and its keyword additions stay valid.

A mistyped service code, location kind or point in a case file would silently lower or raise the
bench's figures; this catches it in CI instead.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from harness import load_script

from text311.city_services import default_services

BENCH = Path(__file__).resolve().parents[2] / "bench" / "service_requests.py"


bench = load_script("requests_bench", BENCH)
CASES = bench.load_cases()
CODES = {s.service_code for s in default_services()}


def test_the_bench_has_at_least_300_cases_about_half_in_each_language_when_loaded():
    languages = Counter(c.language for c in CASES)
    assert len(CASES) >= 300
    assert set(languages) == {"en", "fr"}
    assert min(languages.values()) >= 0.4 * len(CASES)


def test_about_a_third_of_the_cases_are_held_out_when_loaded():
    sets = Counter(c.set for c in CASES)
    assert set(sets) <= set(bench.SETS)
    assert 0.25 <= sets["heldout"] / len(CASES) <= 0.4


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_each_case_is_labelled_with_known_codes_and_a_valid_place_when_loaded(case):
    assert case.services <= CODES, f"unknown service_code in {sorted(case.services - CODES)}"
    assert case.kind in bench.KINDS
    assert case.text.strip()
    if case.kind == "none":
        assert case.location == ""
    elif case.kind == "point":
        point = bench.expected_point(case)
        assert -90 <= point.latitude <= 90 and -180 <= point.longitude <= 180
    elif case.kind == "intersection":
        assert len(bench.streets(case.location)) == 2
    else:
        assert case.location.strip()


def test_no_text_is_labelled_twice_when_loaded():
    texts = Counter((c.language, c.text) for c in CASES)
    assert [text for text, count in texts.items() if count > 1] == []


def test_a_case_file_with_a_missing_column_is_refused_when_loaded(tmp_path):
    header = "\t".join(bench.COLUMNS)
    (tmp_path / "en.tsv").write_text(f"{header}\ntrain\tpothole\tnone\tpothole on my street\n", encoding="utf-8")
    with pytest.raises(bench.CaseError, match="en.tsv:2"):
        bench.load_cases(tmp_path)


def test_each_keyword_addition_is_in_the_default_list_and_justified_by_training_cases_when_loaded():
    additions = json.loads(bench.ADDITIONS.read_text(encoding="utf-8"))["additions"]
    by_code = {s.service_code: s for s in default_services()}
    by_id = {c.id: c for c in CASES}
    for code, languages in additions.items():
        for language, entries in languages.items():
            for entry in entries:
                assert entry["keyword"] in by_code[code].languages[language].keywords
                assert entry["cases"], f"{entry['keyword']}: no case justifies it"
                for case_id in entry["cases"]:
                    case = by_id[case_id]
                    assert case.set == "train" and case.language == language and code in case.services, case_id
