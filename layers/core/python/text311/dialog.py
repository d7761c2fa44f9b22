"""The resident's dialog as a small explicit state machine.

    new ──text──▶ asking ──match──▶ connected ──CHANGE──▶ asking
                    │  ▲                ▲
               choose│  │none (≤3)      │ number or name
                    ▼  │                │
                  choosing ─────────────┘

Every text first tells the resident's language (text311.language: the resident's previous language and the
city's languages as priors; "not sure" keeps the previous one, then the city's first); the questions, keyword
answers and the 911 notice are in it. Keywords come first in every state. Texts that arrive before a city is chosen
are held (``pending``) and forwarded once it is, so an out-of-order delivery
("pothole on Elm" arriving after "Gatineau") loses nothing. The machine is pure:
it takes the resident's state and one text, and returns what to say, what to
forward and the new state; storage and sending are the caller's.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any, Protocol

from text311 import language as detection
from text311.i18n import Catalog, words
from text311.keywords import Keyword, classify_keyword, is_emergency

MAX_ATTEMPTS = 3
MAX_PENDING = 5  # texts held while no city is chosen; older ones are kept, later ones dropped and logged


class State(StrEnum):
    NEW = "new"
    ASKING = "asking"
    CHOOSING = "choosing"
    CONNECTED = "connected"


class PlaceLike(Protocol):
    geonameid: int
    name: str
    region_code: str


class ResolutionLike(Protocol):
    status: str
    match: Any
    choices: Any


class SubscriberLike(Protocol):
    # Read-only: the subscriber passed in is a frozen dataclass (text311.subscribers.Subscriber).
    @property
    def display_name(self) -> str: ...

    @property
    def web_page(self) -> str | None: ...

    @property
    def active(self) -> bool: ...


@dataclass(frozen=True)
class ResidentState:
    language: str = "en"
    state: State = State.NEW
    municipality_id: int | None = None
    pending_choices: tuple[int, ...] = ()
    pending: tuple[str, ...] = ()
    attempts: int = 0
    opted_out: bool = False
    # Whether ``language`` was told by a text (a detection or a marker word), not only fallen back on (the
    # city's first language): a language we only guessed is no prior against the resident's next text.
    language_detected: bool = True


@dataclass(frozen=True)
class LanguageReading:
    """One text's language as the dialog reads it (:meth:`Dialog.read_language`)."""

    detection: detection.Detection  # a language we answer in (detector or marker words), or None: not sure
    language: str  # the language to answer in: the detection's, else the fallback's
    told: bool  # whether a text told ``language`` (this one, or an earlier one for a known resident)


@dataclass(frozen=True)
class Turn:
    """What one inbound text causes."""

    state: ResidentState
    event: str  # for logs and metrics: "opt_out", "asked", "connected", "forwarded", ...
    replies: tuple[str, ...] = ()
    keyword_reply: bool = False  # the replies answer a carrier keyword (sent first)
    forwards: tuple[str, ...] = ()  # texts for the city, oldest first
    urgent: bool = False  # this text is an emergency: the 911 notice goes first
    # One flag per forwarded text: a text held before the city was known keeps its own urgency.
    urgent_forwards: tuple[bool, ...] = ()
    dropped: int = 0  # pending texts beyond MAX_PENDING (logged by the caller, never silently)


Resolver = Callable[[str, str | None], ResolutionLike]
SubscriberLookup = Callable[[int], SubscriberLike | None]


@dataclass
class Dialog:
    catalog: Catalog
    resolve: Resolver
    subscriber: SubscriberLookup
    support_contact: str
    # True where End User Messaging does not answer HELP/START itself (see docs: keywords).
    answer_keywords: bool = True
    # geonameid → the place's name, for a city picked by number (the directory knows every place)
    place_name: Callable[[int], str] = lambda geonameid: "This city"
    # The languages the deployment's residents write in, the detection's priors while no city is chosen (the
    # city's own ``languages`` after); empty: the catalog's default language.
    region_languages: tuple[str, ...] = ()
    # The language model; None: text311.language's own, loaded on the first text that needs it.
    detector: detection.Model | None = None

    def handle(self, resident: ResidentState, text: str, country_hint: str | None = None) -> Turn:
        text = text.strip()
        resident = self.follow_language(resident, text)
        keyword, rest = classify_keyword(text, self.catalog)
        if keyword is Keyword.OPT_OUT:
            # The service has opted the number out and confirmed it; we only keep in step.
            state = replace(resident, opted_out=True)
            forwards = (text,) if resident.state is State.CONNECTED and rest else ()
            return self._flag_urgent(Turn(state, "opt_out", forwards=forwards))
        if keyword is Keyword.OPT_IN:
            state = replace(resident, opted_out=False)
            replies = (self._say(resident, "opted_in"),) if self.answer_keywords else ()
            return Turn(state, "opt_in", replies=replies, keyword_reply=True)
        if keyword is Keyword.HELP and not rest:
            replies = (self._help(resident, text),) if self.answer_keywords else ()
            return Turn(resident, "help", replies=replies, keyword_reply=True)
        if keyword is Keyword.CHANGE:
            state = replace(resident, state=State.ASKING, municipality_id=None, pending_choices=(), attempts=0)
            return Turn(state, "change", replies=(self._say(resident, "change"),))

        urgent = bool(text) and is_emergency(text, self.catalog)
        notice = (self._say(resident, "emergency"),) if urgent else ()
        turn = self._step(resident, text, country_hint)
        return self._flag_urgent(replace(turn, replies=notice + turn.replies, urgent=urgent))

    def follow_language(self, resident: ResidentState, text: str) -> ResidentState:
        """The resident in the language of this text: detected with their previous language and the city's
        languages as priors; kept when the text does not clearly say another ("ok", "STOP", a street name);
        for a resident we know nothing of, a "not sure" falls back on marker words ("hola"), then the city's
        first language. Only a language we can answer in is taken."""
        if not text:
            return resident
        reading = self.read_language(resident, text)
        if (reading.language, reading.told) == (resident.language, resident.language_detected):
            return resident
        return replace(resident, language=reading.language, language_detected=reading.told)

    def read_language(self, resident: ResidentState, text: str) -> LanguageReading:
        """What :meth:`follow_language` reads in a non-empty text: the detection (a language we answer in, or
        None: not sure), the language to answer in, and whether a text told it."""
        last = None if resident.state is State.NEW else resident.language
        previous = last if resident.language_detected else None  # a guess weighs nothing
        city = self._city_languages(resident)
        answerable = tuple(self.catalog.languages)
        sample = detection.judged_text(text, known=previous is not None)  # without the names it quotes, mostly
        found = detection.detect(
            sample,
            previous=previous,
            city_languages=city,
            candidates=detection.candidate_set(answerable),
            answerable=answerable,
            detector=self.detector,
        )
        if found.language not in self.catalog.languages:
            found = detection.Detection(None, found.confidence)
        if previous is None and found.language is None:
            found = detection.Detection(self.catalog.marker_language(text), found.confidence)
        language = detection.remembered(previous, found, text) or detection.fallback(
            found, previous=last, city_languages=city, default=self.catalog.default
        )
        return LanguageReading(found, language, told=found.language is not None or previous is not None)

    def _city_languages(self, resident: ResidentState) -> tuple[str, ...]:
        subscriber = self.subscriber(resident.municipality_id) if resident.municipality_id is not None else None
        languages = tuple(getattr(subscriber, "languages", ()) or ())
        return languages or self.region_languages or (self.catalog.default,)

    def _flag_urgent(self, turn: Turn) -> Turn:
        """Urgency belongs to each text, not to the turn that releases it: "fire in the park" held
        until the resident names the city reaches the city flagged urgent all the same."""
        return replace(turn, urgent_forwards=tuple(is_emergency(t, self.catalog) for t in turn.forwards))

    def is_consent_keyword(self, text: str) -> bool:
        """Whether a text opts out or back in (STOP, ARRÊT, START…): these are always handled, even
        from a resident over the flood limit, so our opt-out state never falls out of step with the
        carrier's. Other keywords may wait (End User Messaging answers HELP itself)."""
        keyword, _ = classify_keyword(text.strip(), self.catalog)
        return keyword in (Keyword.OPT_OUT, Keyword.OPT_IN)

    # -- states -------------------------------------------------------------------------------------

    def _step(self, resident: ResidentState, text: str, country_hint: str | None) -> Turn:
        if resident.state is State.CONNECTED:
            if not text:
                return Turn(resident, "empty")
            return Turn(resident, "forwarded", forwards=(text,))
        if resident.state is State.NEW:
            return self._first_text(resident, text, country_hint)
        if resident.state is State.CHOOSING:
            picked = _pick_number(text, resident.pending_choices)
            if picked is not None:
                return self._connect(resident, picked)
        if not text:
            return Turn(resident, "empty", replies=(self._say(resident, "ask_municipality"),))
        return self._resolve(resident, text, country_hint)

    def _first_text(self, resident: ResidentState, text: str, country_hint: str | None) -> Turn:
        """A first text that already names a city connects at once (asking would be needless);
        anything else is held and the resident asked. A first text that is more than the place
        name ("pothole on Elm, Gatineau") is also what the city needs to read, so it is held."""
        asking = replace(resident, state=State.ASKING)
        resolution = self.resolve(text, country_hint) if text else None
        if resolution is not None and resolution.status in ("match", "choose"):
            place = resolution.match if resolution.status == "match" else resolution.choices[0]
            if not _only_a_place_name(text, place.name):
                asking, _ = _hold(asking, text)
            if resolution.status == "match":
                return self._connect(asking, place.geonameid, place=place)
            return self._offer_choices(asking, tuple(resolution.choices)[:5])
        state, dropped = _hold(asking, text)
        return Turn(state, "asked", replies=(self._say(state, "ask_municipality"),), dropped=dropped)

    def _offer_choices(self, resident: ResidentState, choices: tuple[PlaceLike, ...]) -> Turn:
        state = replace(resident, state=State.CHOOSING, pending_choices=tuple(p.geonameid for p in choices))
        return Turn(state, "choose", replies=(self._choices(state, choices),))

    def _resolve(self, resident: ResidentState, text: str, country_hint: str | None) -> Turn:
        resolution = self.resolve(text, country_hint)
        if resolution.status == "match":
            return self._connect(resident, resolution.match.geonameid, place=resolution.match)
        if resolution.status == "choose":
            return self._offer_choices(resident, tuple(resolution.choices)[:5])
        # Not a place: perhaps the request itself, arriving before the answer. Hold it.
        state, dropped = _hold(replace(resident, attempts=resident.attempts + 1), text)
        if state.attempts >= MAX_ATTEMPTS:
            state = replace(state, attempts=0, state=State.ASKING)
            help_text = self._help(state)
            return Turn(state, "gave_up", replies=(self._say(state, "too_many_tries", help=help_text),))
        return Turn(
            replace(state, state=State.ASKING),
            "asked_again",
            replies=(self._say(state, "ask_again"),),
            dropped=dropped,
        )

    def _connect(self, resident: ResidentState, geonameid: int, place: PlaceLike | None = None) -> Turn:
        subscriber = self.subscriber(geonameid)
        if subscriber is None or not subscriber.active:
            name = place.name if place is not None else self.place_name(geonameid)
            web = subscriber.web_page if subscriber is not None else None
            key = "not_subscriber" if subscriber is None else "suspended"
            state = replace(resident, state=State.ASKING, pending_choices=(), attempts=0)
            return Turn(state, key, replies=(self._say(state, key, city=name, web=self._web(state, web)),))
        state = replace(
            resident,
            state=State.CONNECTED,
            municipality_id=geonameid,
            pending_choices=(),
            pending=(),
            attempts=0,
        )
        key = "connected" if resident.pending else "connected_waiting"
        return Turn(
            state,
            "connected",
            replies=(self._say(state, key, city=subscriber.display_name),),
            forwards=resident.pending,
        )

    # -- wording ------------------------------------------------------------------------------------

    def _say(self, resident: ResidentState, key: str, **values: object) -> str:
        return self.catalog.message(resident.language, key, **values)

    def _help(self, resident: ResidentState, keyword: str = "") -> str:
        """HELP's answer in the resident's language once we know it, else in the keyword's own (AYUDA → Spanish),
        else the bilingual text (a first "HELP" from a resident we know nothing of)."""
        if resident.state is not State.NEW:
            return self.catalog.help_text(self.support_contact, resident.language)
        return self.catalog.keyword_help_text(self.support_contact, keyword)

    def _web(self, resident: ResidentState, web: str | None) -> str:
        return self._say(resident, "not_subscriber_web", web=web) if web else ""

    def _choices(self, resident: ResidentState, choices: tuple[PlaceLike, ...]) -> str:
        options = "; ".join(
            self._say(resident, "choose_option", number=i, label=_label(p)) for i, p in enumerate(choices, 1)
        )
        return self._say(resident, "choose", options=options)


def _label(place: PlaceLike) -> str:
    return f"{place.name}, {place.region_code}"


_NUMBER = re.compile(r"^\s*#?\s*(\d{1,2})\s*[.)!]?\s*$")


def _pick_number(text: str, choices: tuple[int, ...]) -> int | None:
    found = _NUMBER.match(text)
    if not found:
        return None
    index = int(found.group(1))
    return choices[index - 1] if 1 <= index <= len(choices) else None


# Words that say "I am in <place>" and nothing more, in the languages we detect.
_FILLER = frozenset("i im i'm am in at from the city of town hi hello je suis a de la ville bonjour salut allo".split())


def _only_a_place_name(text: str, place_name: str) -> bool:
    """Whether a text is just the place's name, perhaps with a province and a greeting."""
    extra = [w for w in words(text) if w not in set(words(place_name)) | _FILLER]
    return len(extra) <= 1  # one word left is at most a province or state ("Kingston ON")


def _hold(resident: ResidentState, text: str) -> tuple[ResidentState, int]:
    if not text:
        return resident, 0
    if len(resident.pending) >= MAX_PENDING:
        return resident, 1
    return replace(resident, pending=resident.pending + (text,)), 0
