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

_WORD = re.compile(r"[a-z0-9']+")


def fold(text: str) -> str:
    """Case- and accent-insensitive form: 'ARRÊT' → 'arret', 'Montréal' → 'montreal'."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c)).replace("’", "'")


def words(text: str) -> list[str]:
    return _WORD.findall(fold(text))


@dataclass(frozen=True)
class Language:
    code: str
    markers: frozenset[str]
    keywords: dict[str, frozenset[str]]  # kind → folded keywords
    emergency: tuple[str, ...]  # folded words or phrases
    not_emergency: tuple[str, ...]  # folded phrases that contain an emergency word but are not one
    messages: dict[str, str]
    agents: dict[str, str] = field(default_factory=dict)  # mail to agents: not SMS, no length limit


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
        """The unfilled template of a text written to a city's agents (a line of its mail, a notice)."""
        lang = self.languages.get(language) or self.languages[self.default]
        return lang.agents.get(key) or self.languages[self.default].agents[key]

    def agent_text(self, language: str, key: str, **values: object) -> str:
        """A text written to a city's agents, in the city's language (a template may use fewer values)."""
        return self.agent_template(language, key).format(**values)

    def agent_notice(self, language: str, key: str, **values: object) -> str:
        """A notice from Text311 to an agent: the text under ``key``, signed as Text311's own."""
        return self.agent_text(language, "notice", text=self.agent_text(language, key, **values))

    def help_text(self, support: str) -> str:
        return self.help_template.format(support=support)

    def detect_language(self, text: str) -> str:
        """The language whose marker words the text uses most; the default on a tie."""
        tokens = words(text)
        scores = {code: sum(t in lang.markers for t in tokens) for code, lang in self.languages.items()}
        best = max(scores.values(), default=0)
        winners = [code for code, score in scores.items() if score == best]
        if best == 0 or len(winners) > 1:
            return self.default
        return winners[0]

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
        markers=frozenset(fold(m) for m in data.get("markers", [])),
        keywords={kind: frozenset(fold(k) for k in kws) for kind, kws in data.get("keywords", {}).items()},
        emergency=tuple(fold(w) for w in emergency.get("words", [])),
        not_emergency=tuple(fold(w) for w in emergency.get("not_emergency", [])),
        messages=data["messages"],
        agents=data.get("agents", {}),
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
