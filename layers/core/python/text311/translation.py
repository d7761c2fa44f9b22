"""Machine translation between a resident and a city's agents, with what must not change protected.

A city that opts in (``Subscriber.translate``) reads a resident who writes in a language its agents
do not (``Subscriber.language``) in both: the original and a machine translation, marked as such; its
agents' answers are translated into the resident's language before they are queued. See
docs/languages.md ("Translation").

Before a text goes to an engine, reference numbers, URLs, e-mail addresses, phone numbers, numeric
times and dates and civic addresses are swapped for placeholders (``⟦0⟧``, ``⟦1⟧``...) and put back
after. A translation that does not give every placeholder back exactly once is a failure: an answer
with a mangled reference or address is never sent.

Engines: Amazon Translate (``AmazonTranslateTranslator``) in AWS; ``PhrasebookTranslator`` in the local
run, which knows only the demo's phrases and says so in every text it returns.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Protocol

import phonenumbers

# Our language codes (the catalog's file names) → Amazon Translate's (docs: "Supported languages and
# language codes"). Chinese is "zh" (Simplified) and "zh-TW" (Traditional); a city's French agents are
# Canadian ("fr-CA"); "pt" is Amazon's Brazilian Portuguese, its default Portuguese.
AMAZON_LANGUAGE_CODES = {
    "en": "en",
    "fr": "fr-CA",
    "es": "es",
    "it": "it",
    "pt": "pt",
    "tl": "tl",
    "vi": "vi",
    "zh-Hans": "zh",
    "zh-Hant": "zh-TW",
    "ar": "ar",
    "pa": "pa",
    "uk": "uk",
}

_PLACEHOLDER = "⟦{}⟧"
_TOKEN = re.compile(r"⟦(\d+)⟧")
_URL = re.compile(r"(?:https?://|www\.)[^\s<>\"]+", re.IGNORECASE)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_REFERENCE = re.compile(r"\b[A-Za-z]{3}-\d{1,9}\b")  # a service request's reference (GAT-1042)
# Numeric times and dates only: 10:30, 9h30, 2 p.m., 2026-03-14, 14/03/2026. A month or a weekday is a
# word the resident should read in their own language, so it is translated.
_TIME_OR_DATE = re.compile(
    r"\b\d{4}-\d{2}-\d{2}\b|\b\d{1,2}/\d{1,2}(?:/\d{2,4})?\b"
    r"|\b\d{1,2}[:h]\d{2}(?:\s?[ap]\.?m\b\.?)?|\b\d{1,2}\s?[ap]\.?m\b\.?",
    re.IGNORECASE,
)
_TRAILING = ".,;:!?)]}'\""
_MAX_ADDRESSES = 5


class TranslationFailed(Exception):
    """No usable translation: the engine refused or failed, or a protected value did not come back."""


@dataclass(frozen=True)
class Translation:
    text: str
    source: str  # our language codes (the catalog's)
    target: str
    engine: str  # how the agents are told who translated it: "Amazon Translate", "local phrasebook"
    characters: int  # what the engine counted (Amazon Translate bills per character sent)


class Translator(Protocol):
    """One engine: ``text`` carries placeholders (``⟦n⟧``) the engine must give back as they are."""

    def translate(self, text: str, source: str, target: str) -> Translation: ...


@dataclass(frozen=True)
class Protected:
    text: str  # with placeholders
    values: tuple[str, ...]  # what placeholder n stands for


def _spans(text: str, region: str) -> list[tuple[int, int]]:
    """Where the values that must not change are, longest first among overlapping ones."""
    found: list[tuple[int, int]] = []
    for pattern in (_URL, _EMAIL):
        for match in pattern.finditer(text):
            end = match.end()
            while end > match.start() and text[end - 1] in _TRAILING:
                end -= 1
            found.append((match.start(), end))
    for number in phonenumbers.PhoneNumberMatcher(text, region):
        found.append((number.start, number.end))
    for pattern in (_REFERENCE, _TIME_OR_DATE):
        found += [(m.start(), m.end()) for m in pattern.finditer(text)]
    found += _addresses(text)
    kept: list[tuple[int, int]] = []
    for start, end in sorted(found, key=lambda span: (span[0], -(span[1] - span[0]))):
        if kept and start < kept[-1][1]:
            continue  # inside (or across) a value already kept
        kept.append((start, end))
    return kept


def _addresses(text: str) -> list[tuple[int, int]]:
    """Civic addresses and intersections as text311.location reads them, every one in the text. Of an
    intersection only its two street names are kept ("at the corner of" is words the resident reads in
    their language). TranslationFailed beyond ``_MAX_ADDRESSES``: the rest would go to the engine bare."""
    from text311.location import find_location

    spans: list[tuple[int, int]] = []
    rest = text
    for found_count in range(_MAX_ADDRESSES + 1):
        found = find_location(rest)
        if found is None or found.kind not in ("address", "intersection") or found.text not in rest:
            break
        if found_count == _MAX_ADDRESSES:
            raise TranslationFailed(f"more than {_MAX_ADDRESSES} addresses to keep as written")
        start = rest.index(found.text)
        end = start + len(found.text)
        spans += _street_spans(rest, start, end, found.streets) if found.kind == "intersection" else [(start, end)]
        rest = rest[:start] + " " * (end - start) + rest[end:]
    return spans


def _street_spans(text: str, start: int, end: int, streets: tuple[str, ...]) -> list[tuple[int, int]]:
    """Where an intersection's street names are between ``start`` and ``end``; the whole of it when a
    name is not found there as written (kept whole rather than half protected)."""
    spans: list[tuple[int, int]] = []
    position = start
    for street in streets:
        at = text.find(street, position, end)
        if not street or at < 0:
            return [(start, end)]
        spans.append((at, at + len(street)))
        position = at + len(street)
    return spans


def protect(text: str, region: str = "CA") -> Protected:
    """``text`` with each value that must survive translation swapped for a placeholder."""
    if _TOKEN.search(text):
        raise TranslationFailed("the text already holds a placeholder")
    parts: list[str] = []
    values: list[str] = []
    position = 0
    for start, end in _spans(text, region):
        parts += [text[position:start], _PLACEHOLDER.format(len(values))]
        values.append(text[start:end])
        position = end
    parts.append(text[position:])
    return Protected("".join(parts), tuple(values))


def restore(translated: str, protected: Protected) -> str:
    """The translation with its values back; TranslationFailed unless each placeholder came back once."""
    indexes = [int(n) for n in _TOKEN.findall(translated)]
    if sorted(indexes) != list(range(len(protected.values))):
        raise TranslationFailed(
            f"protected values lost or repeated: {len(protected.values)} sent, placeholders {indexes} returned"
        )
    return _TOKEN.sub(lambda match: protected.values[int(match.group(1))], translated)


def translate_protected(translator: Translator, text: str, source: str, target: str) -> Translation:
    """Protect, translate, restore: the only way a text goes through an engine."""
    protected = protect(text)
    done = translator.translate(protected.text, source, target)
    text_out = restore(done.text, protected).strip()
    if not text_out:
        raise TranslationFailed("the engine returned no text")
    return Translation(text_out, source, target, done.engine, done.characters)


# -- Amazon Translate ---------------------------------------------------------------------------------

_SPAN_OPEN = '<span translate="no">'
# Amazon Translate gives the element back; its quoting may differ from ours.
_KEPT_SPAN = re.compile(r"<span\s+translate\s*=\s*[\"']?no[\"']?\s*>\s*(⟦\d+⟧)\s*</span>", re.IGNORECASE)


class AmazonTranslateTranslator:
    """TranslateText with each placeholder inside ``<span translate="no">``: Amazon Translate's
    documented do-not-translate for the real-time API. The rest of the text is escaped as HTML, since
    the engine then reads the text as HTML, and unescaped on the way back. ``client``: boto3
    ``translate``, from outside."""

    engine = "Amazon Translate"

    def __init__(self, client: Any) -> None:
        self.client = client

    def translate(self, text: str, source: str, target: str) -> Translation:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            source_code, target_code = AMAZON_LANGUAGE_CODES[source], AMAZON_LANGUAGE_CODES[target]
        except KeyError as exc:
            raise TranslationFailed(f"no Amazon Translate code for {exc.args[0]!r}") from None
        pieces = _TOKEN.split(text)  # text, index, text, index, ..., text
        marked = "".join(
            html.escape(piece, quote=False) if i % 2 == 0 else f"{_SPAN_OPEN}{_PLACEHOLDER.format(piece)}</span>"
            for i, piece in enumerate(pieces)
        )
        try:
            answer = self.client.translate_text(
                Text=marked, SourceLanguageCode=source_code, TargetLanguageCode=target_code
            )
        except (ClientError, BotoCoreError) as exc:
            code = exc.response.get("Error", {}).get("Code", "") if isinstance(exc, ClientError) else ""
            raise TranslationFailed(f"Amazon Translate: {code or type(exc).__name__}") from exc
        kept = _KEPT_SPAN.sub(r"\1", str(answer.get("TranslatedText", "")))
        if "<" in kept:  # markup we did not send as ours (the text's own "<" went out as "&lt;")
            raise TranslationFailed("Amazon Translate returned unexpected markup")
        return Translation(html.unescape(kept), source, target, self.engine, len(marked))


# -- local phrasebook -----------------------------------------------------------------------------------

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")
_SLOT = "⟦⟧"
LOCAL_LABEL = "[local phrasebook]"


@cache
def _phrasebook() -> dict[str, dict[str, str]]:
    data = json.loads((Path(__file__).parent / "data" / "local_phrasebook.json").read_text(encoding="utf-8"))
    return {pair: {_key(source): target for source, target in phrases.items()} for pair, phrases in data.items()}


def _key(sentence: str) -> str:
    """A sentence as the phrasebook looks it up: placeholders as slots, case and spacing ignored."""
    return re.sub(r"\s+", " ", _TOKEN.sub(_SLOT, sentence)).strip().casefold()


class PhrasebookTranslator:
    """The local run's translator: the demo's phrases, sentence by sentence, from a file; any other
    sentence is a failure (never a guess, never a network call). Every text it returns starts with
    ``[local phrasebook]`` so that no one takes it for a real translation."""

    engine = "local phrasebook, not a real translation"

    def translate(self, text: str, source: str, target: str) -> Translation:
        phrases = _phrasebook().get(f"{source}>{target}", {})
        out = []
        for sentence in filter(None, (s.strip() for s in _SENTENCE_END.split(text))):
            known = phrases.get(_key(sentence))
            if known is None:
                raise TranslationFailed(f"not in the local phrasebook ({source} to {target}): {sentence[:60]!r}")
            out.append(_fill_slots(known, _TOKEN.findall(sentence)))
        return Translation(f"{LOCAL_LABEL} {' '.join(out)}", source, target, self.engine, len(text))


def _fill_slots(phrase: str, indexes: list[str]) -> str:
    """A phrasebook translation with the sentence's placeholders in its slots, in order; a slot with no
    placeholder left becomes one no text has, so that the translation fails its check."""
    slots = iter(indexes)
    return re.sub(re.escape(_SLOT), lambda _: _PLACEHOLDER.format(next(slots, "?")), phrase)


# -- when to translate ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Translations:
    """When a city's agents and one of its residents need a translation, and the translation itself."""

    translator: Translator

    @staticmethod
    def needed(subscriber: Any, resident_language: str | None) -> bool:
        """Translation is on for the city and the resident writes in a language the city does not read:
        none of its languages (``Subscriber.languages``: Gatineau's agents read French and English)."""
        city_reads = (*getattr(subscriber, "languages", ()), subscriber.language)
        return bool(
            getattr(subscriber, "translate", False)
            and resident_language
            and resident_language not in city_reads
            and resident_language in AMAZON_LANGUAGE_CODES
        )

    def for_agents(self, text: str, resident_language: str, subscriber: Any) -> Translation | None:
        """A resident's text in the city's language; None when none is needed. TranslationFailed."""
        if not self.needed(subscriber, resident_language):
            return None
        return translate_protected(self.translator, text, resident_language, subscriber.language)

    def for_resident(self, text: str, resident_language: str, subscriber: Any) -> Translation | None:
        """An agent's answer in the resident's language; None when none is needed. TranslationFailed."""
        if not self.needed(subscriber, resident_language) or written_in(text, resident_language):
            return None
        return translate_protected(self.translator, text, subscriber.language, resident_language)


def written_in(text: str, language: str) -> bool:
    """The text is clearly in ``language`` already (an agent who writes the resident's language): a sure
    detection by text311.language, as sure as it must be to switch a resident's language."""
    from text311.language import SWITCH, base, candidate_set, detect

    found = detect(text, previous=None, city_languages=(), candidates=candidate_set(tuple(AMAZON_LANGUAGE_CODES)))
    return found.language is not None and found.confidence >= SWITCH and base(found.language) == base(language)


def translation_actions(model: Any, translation: Translation) -> list[Any]:
    """The update of a message record (``MessageModel``) that keeps its translation."""
    return [
        model.translation.set(translation.text),
        model.translation_engine.set(translation.engine),
        model.translation_language.set(translation.target),
        model.translated_chars.set(translation.characters),
    ]


def record_translation(message: Any, translation: Translation) -> bool:
    """Keep a translation on its message record (``MessageModel``): its text, engine and language, and
    the characters billed, which text311.usage counts per city. False when the write failed: the text
    is mailed or the answer queued already, so the gap is logged and counted, never raised."""
    from text311.observability import logger, metrics

    try:
        message.update(actions=translation_actions(type(message), translation))
        return True
    except Exception as exc:  # noqa: BLE001 - the message is out; only its record of the translation is missing
        logger.error("translation not recorded", extra={"error": type(exc).__name__})
        metrics.add_metric(name="TranslationNotRecorded", unit="Count", value=1)
        return False
