"""A city's Open311 services: what a resident's text can be filed as, in each of the city's languages.

A service is an Open311 GeoReport v2 service (``service_code``, ``service_name``, ``description``,
``metadata``, ``type``, ``keywords``, ``group``) whose text fields exist once per language. The
Open311 JSON shape is what import and export speak (:func:`from_open311`, :meth:`Service.as_open311`:
one language at a time, ``keywords`` a comma-separated string as the specification writes it); our
per-language keyword lists are an extension kept in :attr:`Service.languages`.

Storage: the list is one attribute of the city's subscriber item (``SubscriberModel.services``, compact
JSON like ``canned_answers``), not a table of its own. It is small (the default sixteen services in two
languages are about 9 KB, far under DynamoDB's 400 KB item limit), it is read with the subscriber the
inbound path already reads (no second read per text), and it is written only by operators. A city
stored before the list existed reads as the default list (``Subscriber.services``' default).

:func:`suggest_service` is the bridge to filing requests: the service whose keywords a text uses most,
in the resident's language first; never a guess on a tie.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import cache, lru_cache
from importlib import resources
from typing import Any, Literal

from text311.i18n import words

SERVICE_TYPES = ("realtime", "batch", "blackbox")
TEXT_FIELDS = ("service_name", "description", "group")
_CODE_MAX = 64
# A keyword this long also matches a word one typo away ("potholle", "lampadair").
_FUZZY_MIN = 6


class ServiceError(ValueError):
    """A service that is not a valid Open311 service; the message names the field."""


@dataclass(frozen=True)
class ServiceText:
    """A service's words in one language."""

    service_name: str
    description: str = ""
    group: str = ""
    keywords: tuple[str, ...] = ()


@dataclass(frozen=True)
class Service:
    service_code: str
    languages: Mapping[str, ServiceText] = field(default_factory=dict)
    type: str = "realtime"
    metadata: bool = False  # Open311: whether the service has more attributes to fill (none yet)

    def __post_init__(self) -> None:
        code = self.service_code
        if not code or len(code) > _CODE_MAX or any(c.isspace() or c in "/?#" for c in code):
            raise ServiceError(f"service_code: {code!r} must be 1–{_CODE_MAX} characters, no space, / ? or #")
        if self.type not in SERVICE_TYPES:
            raise ServiceError(f"type: {self.type!r} is not one of {', '.join(SERVICE_TYPES)}")
        if not self.languages:
            raise ServiceError(f"{code}: a service_name in at least one language is required")
        for language, text in self.languages.items():
            if not text.service_name.strip():
                raise ServiceError(f"{code}: service_name ({language}) is empty")

    def text(self, language: str) -> ServiceText:
        """The service's words in ``language``, else in the first language it has."""
        return self.languages.get(language) or next(iter(self.languages.values()))

    def as_open311(self, language: str) -> dict[str, Any]:
        """The GeoReport v2 ``services`` entry, in ``language``."""
        text = self.text(language)
        return {
            "service_code": self.service_code,
            "service_name": text.service_name,
            "description": text.description,
            "metadata": self.metadata,
            "type": self.type,
            "keywords": ",".join(text.keywords),
            "group": text.group,
        }

    def with_language(self, language: str, text: ServiceText) -> Service:
        return replace(self, languages={**self.languages, language: text})


def _text_from(raw: Mapping[str, Any], where: str) -> ServiceText:
    keywords = raw.get("keywords") or ()
    if isinstance(keywords, str):  # Open311 writes them "a,b,c"
        keywords = keywords.split(",")
    if not isinstance(keywords, list | tuple):
        raise ServiceError(f"{where}: keywords must be a list or a comma-separated string")
    return ServiceText(
        service_name=str(raw.get("service_name") or "").strip(),
        description=str(raw.get("description") or "").strip(),
        group=str(raw.get("group") or "").strip(),
        keywords=tuple(k for k in (str(k).strip() for k in keywords) if k),
    )


def _metadata(value: Any, code: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):  # XML and some endpoints
        return value.lower() == "true"
    raise ServiceError(f"{code}: metadata must be true or false, not {value!r}")


def from_open311(entry: Mapping[str, Any], language: str) -> Service:
    """One entry of an Open311 ``services.json``, its text taken as ``language``."""
    if not isinstance(entry, Mapping):
        raise ServiceError(f"not an Open311 service: {entry!r}")
    code = str(entry.get("service_code") or "").strip()
    return Service(
        service_code=code,
        languages={language: _text_from(entry, f"{code} ({language})")},
        type=str(entry.get("type") or "realtime"),
        metadata=_metadata(entry.get("metadata", False), code),
    )


def parse_open311_list(document: Any, language: str) -> list[Service]:
    """A whole ``services.json`` (a list of entries); duplicate codes are refused."""
    if not isinstance(document, list):
        raise ServiceError("an Open311 services.json is a list of services")
    services = [from_open311(entry, language) for entry in document]
    _refuse_duplicates(services)
    return services


def merge(current: Iterable[Service], incoming: Iterable[Service]) -> tuple[Service, ...]:
    """``current`` with ``incoming`` added: a known code gains or replaces the incoming languages
    (and takes its type and metadata); a new code is appended. The order of ``current`` is kept."""
    merged = {s.service_code: s for s in current}
    for service in incoming:
        known = merged.get(service.service_code)
        merged[service.service_code] = (
            replace(service, languages={**known.languages, **service.languages}) if known else service
        )
    return tuple(merged.values())


def _refuse_duplicates(services: Iterable[Service]) -> None:
    seen: set[str] = set()
    for service in services:
        if service.service_code in seen:
            raise ServiceError(f"service_code: {service.service_code!r} appears twice")
        seen.add(service.service_code)


def to_json(services: Iterable[Service]) -> str:
    """The stored form (compact: it is part of the subscriber item)."""
    return json.dumps([_as_stored(s) for s in services], ensure_ascii=False, separators=(",", ":"))


def _as_stored(service: Service) -> dict[str, Any]:
    return {
        "service_code": service.service_code,
        "type": service.type,
        "metadata": service.metadata,
        "languages": {
            language: {
                "service_name": t.service_name,
                "description": t.description,
                "group": t.group,
                "keywords": list(t.keywords),
            }
            for language, t in service.languages.items()
        },
    }


def from_json(text: str) -> tuple[Service, ...]:
    return _from_stored(json.loads(text))


def _from_stored(entries: list[dict[str, Any]]) -> tuple[Service, ...]:
    services = tuple(
        Service(
            service_code=entry["service_code"],
            type=entry.get("type", "realtime"),
            metadata=bool(entry.get("metadata", False)),
            languages={
                language: _text_from(raw, f"{entry['service_code']} ({language})")
                for language, raw in entry["languages"].items()
            },
        )
        for entry in entries
    )
    _refuse_duplicates(services)
    return services


@cache
def default_services() -> tuple[Service, ...]:
    """The list every new city starts from (``data/open311_services.json``)."""
    data = resources.files("text311") / "data" / "open311_services.json"
    return _from_stored(json.loads(data.read_text(encoding="utf-8"))["services"])


# --- suggestion ---------------------------------------------------------------------------------

# French elides le, de, je, me, ne, se, te, ce, que before a vowel or a mute h ("l'arbre", "d'eau"); residents
# texting without the apostrophe write "larbre", "deau". Only these languages' keywords are read that way.
_ELIDED = {"fr": ("jusqu", "lorsqu", "puisqu", "qu", "c", "d", "j", "l", "m", "n", "s", "t")}
_ELISION_START = "aeiouyh"
_APOSTROPHE_ELISION = re.compile(r"^(?:jusqu|lorsqu|puisqu|qu|[cdjlmnst])'(?=\w)")


def _stem(word: str) -> str:
    """A plural's singular, roughly, in English and French ("potholes", "nids", "poteaux" → "poteau")."""
    if len(word) > 3 and word[-1] in "sx" and not word.endswith("ss"):
        return word[:-1]
    return word


def _tokens(text: str) -> list[str]:
    # "nid-de-poule" and "nid de poule" are the same words; words() keeps apostrophes, and an elided article
    # or pronoun is not part of the word it leans on ("l'arbre" is "arbre", "fuite d'eau" is "fuite eau").
    return [_stem(_APOSTROPHE_ELISION.sub("", w)) for w in words(text.replace("-", " "))]


@lru_cache(maxsize=8192)
def _keyword_tokens(keyword: str) -> tuple[str, ...]:
    """A keyword's tokens, read once per container: every text is scored against every keyword of every
    service in two languages, and folding them again for each text was most of a suggestion's time."""
    return tuple(_tokens(keyword))


@dataclass(frozen=True)
class _Matcher:
    """How a text's words meet the keywords of one list of services.

    A typo is forgiven only in a long keyword, and only when the text's word is none of the list's keyword
    words ("barking" is the noise keyword, not "parking" mistyped) and no ordinary word of the resident's or
    the keyword's language ("garage" is not "garbage", "leaning" is not "leaking"; text311.ordinary_words)."""

    resident_language: str
    keyword_words: frozenset[str]

    def word(self, wanted: str, seen: str, language: str) -> _Match:
        if wanted == seen or self._elided(wanted, seen, language):
            return "exact"
        if self._typo(wanted, seen, language):
            return "typo"
        return None

    @staticmethod
    def _elided(wanted: str, seen: str, language: str) -> bool:
        """``seen`` is ``wanted`` after an elision whose apostrophe was dropped ("larbre", "deau")."""
        if len(wanted) < 3 or wanted[0] not in _ELISION_START or not seen.endswith(wanted):
            return False
        return seen[: -len(wanted)] in _ELIDED.get(language, ())

    def _typo(self, wanted: str, seen: str, language: str) -> bool:
        from rapidfuzz.distance import Levenshtein  # only when suggesting: every handler reads subscribers

        if len(wanted) < _FUZZY_MIN or len(seen) < _FUZZY_MIN - 1 or seen in self.keyword_words:
            return False
        if Levenshtein.distance(wanted, seen, score_cutoff=1) > 1:
            return False
        from text311.ordinary_words import known  # its lists load only when a typo is in question

        return not known(seen, (self.resident_language, language))


_Match = Literal["exact", "typo"] | None


def _covers(phrase: list[str], tokens: list[str], start: int, language: str, matcher: _Matcher) -> list[_Match]:
    """How each word of ``phrase`` matches the text's words from ``start``; empty when one does not."""
    if start + len(phrase) > len(tokens):
        return []
    found = [matcher.word(wanted, seen, language) for wanted, seen in zip(phrase, tokens[start:], strict=False)]
    return found if all(found) else []


@dataclass(frozen=True, order=True)
class _Score:
    """Words of the text covered by a service's keywords: exactly written ones rank above forgiven typos."""

    exact: int = 0
    typos: int = 0

    def __bool__(self) -> bool:
        return bool(self.exact or self.typos)


def _score(keywords: Iterable[str | tuple[str, str]], tokens: list[str], matcher: _Matcher | None = None) -> _Score:
    """How many of the text's words the keywords cover (a phrase counts each of its words once). A keyword
    is a word or phrase, or (language, keyword) when its language matters (elisions)."""
    pairs = [k if isinstance(k, tuple) else ("", k) for k in keywords]
    matcher = matcher or _Matcher("", frozenset(w for _, k in pairs for w in _keyword_tokens(k)))
    covered: dict[int, bool] = {}  # word index → written exactly
    for language, keyword in pairs:
        phrase = list(_keyword_tokens(keyword))
        if not phrase:
            continue
        for start in range(len(tokens)):
            for offset, match in enumerate(_covers(phrase, tokens, start, language, matcher)):
                covered[start + offset] = covered.get(start + offset, False) or match == "exact"
    exact = sum(covered.values())
    return _Score(exact, len(covered) - exact)


def _best(scores: dict[str, _Score]) -> str | None:
    top = max(scores.values(), default=_Score())
    winners = [code for code, score in scores.items() if score == top]
    return winners[0] if top and len(winners) == 1 else None


def scored_text(text: str) -> str:
    """What the suggestion reads: ``text`` without its links and the place it names. A link's words
    (``name=Marked%20Location``) and a street's (``Park Ave``) say where, not what."""
    from text311.location import without_place  # only when suggesting

    return without_place(text)


def suggest_service(text: str, language: str, services: Iterable[Service]) -> Service | None:
    """The service whose keywords ``text`` uses most, from the keywords in ``language``; when none of
    those match, from the service's other languages (a French speaker may write "pothole"). None when
    nothing matches or two services match equally: an agent chooses rather than a wrong category."""
    listed = list(services)
    tokens = _tokens(scored_text(text))
    by_code = {s.service_code: s for s in listed}
    keywords = {k for s in listed for t in s.languages.values() for k in t.keywords}
    vocabulary = frozenset(w for k in keywords for w in _keyword_tokens(k))
    matcher = _Matcher(language, vocabulary)
    own = {
        s.service_code: _score([(language, k) for k in s.languages[language].keywords], tokens, matcher)
        for s in listed
        if language in s.languages
    }
    if max(own.values(), default=_Score()):
        code = _best(own)
    else:
        others = {
            s.service_code: _score([(lang, k) for lang, t in s.languages.items() for k in t.keywords], tokens, matcher)
            for s in listed
        }
        code = _best(others)
    return by_code[code] if code else None
