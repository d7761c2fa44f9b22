"""Languages are data: one JSON file per language under ``templates/``.

A file holds the language's marker words (for detection), its keywords, its
emergency words, its message templates (SMS to residents) and its ``agents``
texts (mail to a city's agents, in the city's language). Adding Spanish is adding
``es.json``; no handler or dialog code changes.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass, field
from functools import cache
from importlib import resources

MARKER_LETTERS = 3  # the shortest Latin marker word that counts (Catalog.marker_language)

# Scripts written without spaces: each of their characters is a word of its own ("我家着火了" → 我 家 着 火 了,
# so "着火" is looked for as "着 火").
_UNSPACED = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff]")


def fold(text: str) -> str:
    """Case- and accent-insensitive form: 'ARRÊT' → 'arret', 'Montréal' → 'montreal', 'Đường' → 'duong'."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    # Vietnamese đ is a letter of its own, not d with a mark: Unicode does not decompose it, and
    # residents typing without accents write d.
    return "".join(c for c in decomposed if not unicodedata.combining(c)).replace("’", "'").replace("đ", "d")


def _in_word(char: str) -> bool:
    # Letters and digits of any script, their marks (Gurmukhi and Arabic vowel signs are marks), apostrophes.
    return char.isalnum() or char == "'" or unicodedata.category(char).startswith("M")


def words(text: str) -> list[str]:
    """The folded words of a text, in any script."""
    found: list[str] = []
    current: list[str] = []
    for char in fold(text) + " ":
        if _in_word(char) and not _UNSPACED.match(char):
            current.append(char)
            continue
        word = "".join(current).strip("'")
        if word:
            found.append(word)
        current = []
        if _UNSPACED.match(char):
            found.append(char)
    return found


def phrase(text: str) -> str:
    """A keyword, emergency word or phrase as the texts it is looked for in are read: folded words, one space."""
    return " ".join(words(text))


@dataclass(frozen=True)
class Language:
    code: str
    markers: frozenset[str]
    keywords: dict[str, frozenset[str]]  # kind → folded keywords
    emergency: tuple[str, ...]  # folded words or phrases
    not_emergency: tuple[str, ...]  # folded phrases that contain an emergency word but are not one
    messages: dict[str, str]
    agents: dict[str, str] = field(default_factory=dict)  # mail to agents: not SMS, no length limit
    name: str = ""  # the language's own name for itself


@dataclass(frozen=True)
class Catalog:
    languages: dict[str, Language]
    default: str
    help_template: str

    def message(self, language: str, key: str, **values: object) -> str:
        lang = self.languages.get(language) or self.languages[self.default]
        template = lang.messages.get(key) or self.languages[self.default].messages[key]
        return template.format(**values)

    def agent_template(self, language: str, key: str) -> str:
        """The unfilled template of a text written to a city's agents (a line of its mail, a notice). Only
        English and French files have an ``agents`` section (a city's mail language is one of them); any other
        language, or a key it lacks, falls back on the default language's text."""
        lang = self.languages.get(language) or self.languages[self.default]
        return lang.agents.get(key) or self.languages[self.default].agents[key]

    def agent_text(self, language: str, key: str, **values: object) -> str:
        """A text written to a city's agents, in the city's language (a template may use fewer values)."""
        return self.agent_template(language, key).format(**values)

    def agent_notice(self, language: str, key: str, **values: object) -> str:
        """A notice from Text311 to an agent: the text under ``key``, signed as Text311's own."""
        return self.agent_text(language, "notice", text=self.agent_text(language, key, **values))

    def help_text(self, support: str, language: str | None = None) -> str:
        """The answer to HELP: in ``language``'s own words when it is known (its file's ``help`` message),
        else the bilingual text of common.json (a resident we know nothing of, the number's HELP)."""
        lang = self.languages.get(language or "")
        if lang is not None and "help" in lang.messages:
            return lang.messages["help"].format(support=support)
        return self.help_template.format(support=support)

    def keyword_help_text(self, support: str, word: str) -> str:
        """HELP's answer to a HELP word from a resident whose language we do not know: in the word's language
        when only one non-default file has it (AYUDA → Spanish, AIDE → French), else the bilingual text."""
        language = self.keyword_language(word)
        return self.help_text(support, language if language != self.default else None)

    def keyword_language(self, word: str) -> str | None:
        """The one language file whose keywords hold ``word`` (AYUDA → es, AIDE → fr), or None when several do
        (STOP, INFO) or none."""
        token = fold(word)
        owners = [code for code, lang in self.languages.items() if any(token in kws for kws in lang.keywords.values())]
        return owners[0] if len(owners) == 1 else None

    def marker_language(self, text: str) -> str | None:
        """The language whose marker words the text uses most ("hola", "bonjour"), or None on a tie or none:
        a hint for a text too short for the detector, from a resident whose language we do not know yet. A folded
        Latin word of one or two letters is no hint: "VA", "no", "el" are also a state's code, an English word, a
        name's first word ("El Paso"); a Cyrillic, Chinese or Arabic one ("я", "في") is."""
        tokens = [t for t in words(text) if len(t) >= MARKER_LETTERS or not t.isascii()]
        scores = {code: sum(t in lang.markers for t in tokens) for code, lang in self.languages.items()}
        best = max(scores.values(), default=0)
        winners = [code for code, score in scores.items() if score == best]
        if best == 0 or len(winners) > 1:
            return None
        return winners[0]

    def detect_language(self, text: str) -> str:
        """The marker words' language, the default on a tie (the dialog uses text311.language instead)."""
        return self.marker_language(text) or self.default

    def keyword_kinds(self) -> dict[str, frozenset[str]]:
        """Every language's keywords, merged: a French resident may text STOP, an English one ARRET."""
        merged: dict[str, set[str]] = {}
        for lang in self.languages.values():
            for kind, keywords in lang.keywords.items():
                merged.setdefault(kind, set()).update(keywords)
        return {kind: frozenset(kws) for kind, kws in merged.items()}


def _load_language(data: dict) -> Language:
    emergency = data.get("emergency", {})
    return Language(
        code=data["language"],
        markers=frozenset(phrase(m) for m in data.get("markers", [])),
        keywords={kind: frozenset(fold(k) for k in kws) for kind, kws in data.get("keywords", {}).items()},
        emergency=tuple(phrase(w) for w in emergency.get("words", [])),
        not_emergency=tuple(phrase(w) for w in emergency.get("not_emergency", [])),
        messages=data["messages"],
        agents=data.get("agents", {}),
        name=data.get("name", ""),
    )


@cache
def catalog() -> Catalog:
    folder = resources.files("text311") / "templates"
    common = json.loads((folder / "common.json").read_text(encoding="utf-8"))
    languages = {}
    for entry in sorted(folder.iterdir(), key=lambda p: p.name):
        if entry.name.endswith(".json") and entry.name != "common.json":
            lang = _load_language(json.loads(entry.read_text(encoding="utf-8")))
            languages[lang.code] = lang
    return Catalog(languages=languages, default=common["default_language"], help_template=common["help"])
