"""From a resident's answer to "Which municipality are you in?" to a place, a short list, or nothing.

Sending a resident's message to the wrong city is the worst outcome; asking needlessly is the
second worst. So the resolver answers ``match`` only when the text settles the place, ``choose``
(at most five places, biggest first) when it narrows it down, and ``none`` otherwise. The rules
and their thresholds are documented, with measured figures, in docs/directory.md.

1. Read the text into normalised tokens (text311.directory.normalize).
2. Find every run of up to seven tokens that is a place's name or alternate name, exactly.
   A run followed by a province, state or country ('Kingston ON', 'kingston, nova scotia',
   'Richmond, Canada') is narrowed to it. A run that is a street ('Kingston Rd',
   'rue Sherbrooke') is not a place.
3. If the text is only that name (with "I'm in", "je suis à", greetings: filler words), the
   name decides. In a longer message (a request) a name counts only if it is not a common word
   ('Mobile', 'Hope') and something marks it as a place: a province after it, a word such as
   "in"/"à" before it, or punctuation or the end of the text around it.
4. Same-name places give ``choose`` unless the biggest outnumbers the next by
   ``DOMINANCE`` times and is a city of at least ``DOMINANT_POPULATION`` ('Montreal', 'London').
5. Typos are forgiven only in a short text with no request words, and only when one name is
   clearly nearest (see ``_typo``): otherwise the nearest names are offered.
6. A hint from the resident's phone (country, and province/state by area code) breaks ties
   between same-name places; it never overrides a province the resident wrote. A dominant city
   is not taken when the resident is elsewhere: a namesake in the phone's province (or, failing
   one, its country, or the countries the deployment serves) while the dominant one lies outside
   it, or two namesakes in the phone's province, turn the match into a question, namesakes at
   home first (``_away_from_home``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from rapidfuzz import process
from rapidfuzz.distance import OSA

from text311.area_codes import CANADIAN_AREA_CODES, regions_of_area_code
from text311.directory.normalize import Token, tokens
from text311.directory.regions import COUNTRY_WORDS, REGIONS
from text311.directory.store import Directory, Place
from text311.directory.words import COMMON, FILLER, LOCATIVE, NOT_ALONE, REQUEST, STREET_AFTER, STREET_BEFORE

MATCH, CHOOSE, NONE = "match", "choose", "none"
MAX_CHOICES = 5
MAX_SPAN = 7  # tokens in the longest name we look for
MAX_TOKENS = 80  # a long message is read up to here
DOMINANCE = 20  # the biggest same-name place must be this many times the next...
DOMINANT_POPULATION = 50_000  # ...and at least this big, to be taken without asking
POPULATION_FLOOR = 500  # GeoNames' extract lists places above 500; 0 means "not known"
ALTERNATE_OVER_NAME = 3  # an alternate name joins a name's places only if that many times bigger
HINT_COUNTRY_SHARE = 0.5  # a country hint picks its own biggest only if at least half the biggest
MAX_TYPO_TOKENS = 5
TYPO_MARGIN = 1  # a misspelling is taken when no other name is within this many more edits...
TYPO_SIZE_MARGIN = 10  # ...or the next name is one edit further and this many times smaller


@dataclass(frozen=True)
class Resolution:
    status: str  # "match" | "choose" | "none"
    match: Place | None = None
    choices: tuple[Place, ...] = ()
    reason: str = ""  # for logs and metrics: "exact", "dominant", "hint_region", "typo", ...


@dataclass(frozen=True)
class Hint:
    """Where the resident's phone suggests they are; used only to break ties."""

    country: str | None = None
    regions: frozenset[str] = frozenset()
    # The countries the deployment serves (its subscribers' countries); empty: not known. Not a
    # tie-breaker: it only keeps a dominant place outside them from being taken without asking.
    served: frozenset[str] = frozenset()

    def __bool__(self) -> bool:
        return bool(self.country or self.regions)


def hint_from(
    country: str | None = None, phone: str | None = None, served: Iterable[str] = ()
) -> Hint:
    """A hint from a country code and/or a North American phone number (area code → region).
    A phone number outside the North American plan, or an area code we do not know, adds nothing.
    ``served``: the countries the deployment serves."""
    regions: frozenset[str] = frozenset()
    phone_country = None
    digits = "".join(c for c in phone or "" if c.isdigit())
    if len(digits) == 10:
        digits = "1" + digits
    if len(digits) == 11 and digits[0] == "1":
        area = digits[1:4]
        phone_country = "CA" if area in CANADIAN_AREA_CODES else "US"
        regions = regions_of_area_code(area)
    country = (country or phone_country or "").upper() or None
    if country is not None and phone_country is not None and country != phone_country:
        regions = frozenset()  # the two disagree: trust the stated country, drop the region
    return Hint(country, regions, frozenset(c.upper() for c in served))


# -- reading a province, state or country after a name -----------------------------------------

_REGION_NAMES: dict[str, list[tuple[str, str]]] = {}  # key → [(country, code)]: full names only
_REGION_CODES: dict[str, list[tuple[str, str]]] = {}  # 'on', 'b c' → codes and short aliases


def _index_regions() -> None:
    from text311.directory.normalize import normalize

    for (country, code), reg in REGIONS.items():
        for name in {reg.name, reg.name_fr}:
            _REGION_NAMES.setdefault(normalize(name), []).append((country, code))
        for alias in reg.aliases:
            _REGION_CODES.setdefault(normalize(alias), []).append((country, code))
        _REGION_CODES.setdefault(code.lower(), []).append((country, code))
        _REGION_CODES.setdefault(" ".join(code.lower()), []).append((country, code))  # 'B.C.' → 'b c'


_index_regions()
_MAX_REGION_TOKENS = max(len(k.split()) for k in (*_REGION_NAMES, *COUNTRY_WORDS))
_CONNECTORS = frozenset({"in", "en", "au", "dans", "of", "de", "du"})


@dataclass(frozen=True)
class Qualifier:
    regions: frozenset[tuple[str, str]] = frozenset()  # (country, code)
    country: str | None = None
    end: int = 0  # first token after the qualifier
    strong: bool = False  # a full name ('Ontario'), not a two-letter code that may be a word ('on')

    def admits(self, place: Place) -> bool:
        if self.regions and (place.country, place.region_code) not in self.regions:
            return False
        return self.country is None or place.country == self.country


def _lookup_region(words: Sequence[str], start: int) -> tuple[list[tuple[str, str]], int, bool] | None:
    for size in range(min(_MAX_REGION_TOKENS, len(words) - start), 0, -1):
        key = " ".join(words[start : start + size])
        if key in _REGION_NAMES:
            return _REGION_NAMES[key], start + size, True
        if key in _REGION_CODES:
            return _REGION_CODES[key], start + size, False
    return None


def _lookup_country(words: Sequence[str], start: int) -> tuple[str, int] | None:
    for size in range(min(_MAX_REGION_TOKENS, len(words) - start), 0, -1):
        key = " ".join(words[start : start + size])
        if key in COUNTRY_WORDS:
            return COUNTRY_WORDS[key], start + size
    return None


def _qualifier(words: Sequence[str], start: int) -> Qualifier | None:
    """A province/state and/or country right after a name: 'ON', ', nova scotia', 'in Canada'."""
    for begin in (start, start + 1):
        if begin > start and (begin > len(words) or words[start] not in _CONNECTORS):
            break
        found = _lookup_region(words, begin)
        if found is not None:
            regions, end, strong = found
            country = _lookup_country(words, end)
            if country is not None:
                regions = [r for r in regions if r[0] == country[0]] or regions
                end = country[1]
            return Qualifier(frozenset(regions), None, end, strong)
        country_found = _lookup_country(words, begin)
        if country_found is not None:
            return Qualifier(frozenset(), country_found[0], country_found[1], True)
    return None


# -- spans: runs of tokens that name a place ---------------------------------------------------


@dataclass
class Span:
    start: int
    end: int  # exclusive, the name only
    key: str
    names: tuple[int, ...]  # directory rows with this name
    alternates: tuple[int, ...]  # rows with this alternate name
    qualifier: Qualifier | None = None
    places: list[Place] = field(default_factory=list)

    @property
    def stop(self) -> int:
        return self.qualifier.end if self.qualifier else self.end

    @property
    def length(self) -> int:
        return self.end - self.start


def _population(place: Place) -> int:
    return max(place.population, POPULATION_FLOOR)


def _by_size(places: Iterable[Place]) -> list[Place]:
    return sorted(set(places), key=lambda p: (-p.population, p.geonameid))


def _dominates(first: Place, second: Place) -> bool:
    return _population(first) >= DOMINANCE * _population(second)


def _namesakes_at_home(ranked: list[Place], hint: Hint) -> Iterator[tuple[str, bool, list[Place]]]:
    """Where the resident is, most precise first: the phone's provinces or states, its country,
    the deployment's countries; for each, (reason, is a province tier, the places in it)."""
    tiers = []
    if hint.regions:
        tiers.append(("namesake_in_region", True, hint.regions))
    if hint.country:
        tiers.append(("namesake_in_country", False, frozenset({hint.country})))
    if hint.served:
        tiers.append(("namesake_served", False, hint.served))
    for reason, by_region, codes in tiers:
        yield reason, by_region, [p for p in ranked if (p.region_code if by_region else p.country) in codes]


def _shortlist(ranked: list[Place], hint: Hint) -> tuple[Place, ...]:
    """The biggest places, biggest first; places where the resident is (the phone's province or
    state, else its country, else the deployment's countries: the first that has one) are kept in
    the list even when smaller (they replace the smallest), so the hint never hides the likely one."""
    chosen = ranked[:MAX_CHOICES]
    for _, _, at_home in _namesakes_at_home(ranked, hint):
        if at_home:
            local = [p for p in at_home if p not in chosen][: MAX_CHOICES - 1]
            if local:
                chosen = chosen[: MAX_CHOICES - len(local)] + local
            break
    return tuple(_by_size(chosen))


def _away_from_home(ranked: list[Place], hint: Hint) -> Resolution | None:
    """A question instead of the dominant place ``ranked[0]`` when the resident is elsewhere.

    The most precise tier (phone's province, phone's country, deployment's countries) that holds
    a namesake decides: if the dominant place lies outside it ('Houston' from a British Columbia
    number: Houston, BC is at home, Houston, TX is not), or the phone's province holds two
    namesakes it cannot tell apart ('Ville-Marie' from a Quebec number), the resident chooses,
    namesakes at home first. A tier that holds only the dominant place keeps the match."""
    top = ranked[0]
    for reason, by_region, at_home in _namesakes_at_home(ranked, hint):
        if not at_home:
            continue  # no namesake here: the next, wider tier may have one
        if top in at_home:
            if len(at_home) == 1 or not by_region:
                return None  # the dominant one is where the resident is: rule 6 holds
            reason = "namesakes_in_region"
            first = at_home[:MAX_CHOICES]
        else:
            first = [*at_home[: MAX_CHOICES - 1], top]  # the dominant one stays offered
        rest = [p for p in ranked if p not in first]
        return Resolution(CHOOSE, choices=tuple([*first, *rest][:MAX_CHOICES]), reason=reason)
    return None


class Resolver:
    def __init__(self, directory: Directory) -> None:
        self.directory = directory

    # -- entry point ------------------------------------------------------------------------------

    def resolve(self, text: str, hint: Hint | None = None) -> Resolution:
        hint = hint if hint is not None else Hint()  # a hint of served countries only is falsy
        toks = tokens(text or "")[:MAX_TOKENS]
        if not toks:
            return Resolution(NONE, reason="empty")
        words = [t.norm for t in toks]
        raws = [t.raw for t in toks]  # provinces are read as written: 'MT' is Montana, not "Mount"
        content = [w for w in words if w not in FILLER]
        if content and all(w in NOT_ALONE for w in content) and len(content) <= 2:
            # 'yes', 'help', 'ok thanks': not an answer, even where a place has that name
            return Resolution(NONE, reason="not_a_place")

        spans = self._spans(toks, words, raws)
        covered = {i for s in spans for i in range(s.start, s.stop)}
        leftover = [i for i in range(len(words)) if i not in covered and words[i] not in FILLER]
        clean = not leftover

        accepted = [s for s in spans if clean or self._stands_out(s, toks, words)]
        if not clean and len(content) <= MAX_TYPO_TOKENS and not REQUEST.intersection(words):
            typo = self._typo(words, raws, hint)
            longest = max((s.length for s in accepted), default=0)
            # a misspelt longer name beats a word inside it ('Saint Jean sur Richelue')
            if typo is not None and typo[1] > longest and typo[0].status != NONE:
                return typo[0]
        if not accepted:
            if not spans and not REQUEST.intersection(words) and len(content) <= MAX_TYPO_TOKENS:
                typo = self._typo(words, raws, hint)
                if typo is not None:
                    return typo[0]
            return Resolution(NONE, reason="no_place")
        if clean and len(accepted) == 1 and not accepted[0].names:
            return self._alternate_only(accepted[0], words, raws, hint)
        decided = self._combine([self._decide(s, hint, alone=clean and len(accepted) == 1) for s in accepted])
        if decided.reason == "several_places" and len(content) <= MAX_TYPO_TOKENS and not REQUEST.intersection(words):
            # each word names some place ('blosom' is an old name of Blossom, TX; 'park' of Parks, AZ)
            # but together they misspell one longer name: 'blosom park' is Blossom Park, ON
            typo = self._typo(words, raws, hint)
            if typo is not None and typo[0].status != NONE and typo[1] > max(s.length for s in accepted):
                return typo[0]
        if (
            decided.status == MATCH
            and not clean
            and not REQUEST.intersection(words)
            and len(content) <= MAX_TYPO_TOKENS
        ):
            # a short text with words we cannot place beside the name ('Notre-Dame-e-Grace'):
            # perhaps a longer name we do not know; confirm rather than assume
            return Resolution(
                CHOOSE, choices=(decided.match,) if decided.match else (), reason="unexplained_words"
            )
        return decided

    def _alternate_only(self, span: Span, words: list[str], raws: list[str], hint: Hint) -> Resolution:
        """A text that is only some place's alternate name may also be a misspelling of a bigger
        place's name ('Ottowa' is an old name of Ottawa, Illinois, and a typo for Ottawa, ON)."""
        decided = self._decide(span, hint, alone=True)
        typo = self._typo(words, raws, hint)
        if typo is None or typo[0].status == NONE:
            return decided
        known = (decided.match,) if decided.match else decided.choices
        other = [p for p in ((typo[0].match,) if typo[0].match else typo[0].choices) if p not in known]
        if not other or max(_population(p) for p in other) <= max((_population(p) for p in known), default=0):
            return decided
        return Resolution(
            CHOOSE, choices=tuple(_by_size([*known, *other])[:MAX_CHOICES]), reason="alternate_or_typo"
        )

    # -- exact names ------------------------------------------------------------------------------

    def _spans(self, toks: list[Token], words: list[str], raws: list[str]) -> list[Span]:
        found: list[Span] = []
        n = len(words)
        for i in range(n):
            for j in range(min(n, i + MAX_SPAN), i, -1):
                key = " ".join(words[i:j])
                posting = self.directory.lookup(key)
                if posting is None or all(w in FILLER for w in words[i:j]):
                    continue
                if self._is_street(toks, i, j):
                    continue
                found.append(Span(i, j, key, posting[0], posting[1], _qualifier(raws, j)))
        # keep the longest runs; a run inside a longer one, or inside its province, is dropped
        chosen: list[Span] = []
        taken: set[int] = set()
        # a name with its province first ('Hillburn, New York' is not New York), names before alternates
        for span in sorted(found, key=lambda s: (-(s.stop - s.start), not s.names, s.start)):
            cells = set(range(span.start, span.end))
            if cells & taken:
                continue
            chosen.append(span)
            taken |= set(range(span.start, span.stop))
        return sorted(chosen, key=lambda s: s.start)

    @staticmethod
    def _is_street(toks: list[Token], i: int, j: int) -> bool:
        after = toks[j].raw if j < len(toks) else ""
        if after in STREET_AFTER and not (after == "st" and j + 1 < len(toks) and not toks[j].brk):
            return True
        before = toks[i - 1].raw if i >= 1 else ""
        if before in STREET_BEFORE:
            return True
        if before in {"de", "du", "des", "la", "d", "l"} and i >= 2 and toks[i - 2].raw in STREET_BEFORE:
            return True
        return False

    @staticmethod
    def _stands_out(span: Span, toks: list[Token], words: list[str]) -> bool:
        """Inside a longer message, whether a name reads as a place rather than as words of the
        request: it is not a request or street word, nor a lone common word, and it is marked as a
        place: a province after it, "in"/"à"/"from" before it, or it opens the text or a clause."""
        name_words = words[span.start : span.end]
        if any(w in REQUEST or w in STREET_BEFORE for w in name_words):  # 'la rue', 'Lost Creek'
            return False
        if span.length == 1 and name_words[0] in COMMON:
            return False
        if span.qualifier is not None and (
            span.qualifier.strong or span.length > 1 or name_words[0] not in COMMON
        ):
            return True
        before = words[span.start - 1] if span.start else ""
        return span.start == 0 or before in LOCATIVE or toks[span.start - 1].brk

    def _candidates(self, span: Span) -> tuple[list[Place], str]:
        """The places a name may mean, narrowed by a province the resident wrote."""
        place = self.directory.place
        names = [place(r) for r in span.names]
        alternates = [place(r) for r in span.alternates]
        q = span.qualifier
        if q is not None:
            narrowed = [p for p in (*names, *alternates) if q.admits(p)]
            if narrowed:
                in_name = [p for p in narrowed if p in names]
                return _by_size(in_name or narrowed), "qualified"
            if q.strong:
                return _by_size(names or alternates), "region_mismatch"
            span.qualifier = None  # 'la', 'in', 'me' after a name: a word, not a state
        if not names:
            return _by_size(alternates), "alternate"
        biggest = max(_population(p) for p in names)
        known_as = [p for p in alternates if _population(p) >= ALTERNATE_OVER_NAME * biggest]
        return _by_size(names + known_as), "exact_and_alternate" if known_as else "exact"

    def _decide(self, span: Span, hint: Hint, alone: bool) -> Resolution:
        ranked, reason = self._candidates(span)
        return self._rule(ranked, reason, hint, span.key, qualified=span.qualifier is not None, alone=alone)

    def _rule(
        self, ranked: list[Place], reason: str, hint: Hint, key: str, qualified: bool, alone: bool
    ) -> Resolution:
        if not ranked:
            return Resolution(NONE, reason="no_place")
        if reason == "region_mismatch":
            return Resolution(CHOOSE, choices=tuple(ranked[:MAX_CHOICES]), reason=reason)
        if not qualified and key in NOT_ALONE:
            return Resolution(NONE, reason="not_a_place")
        if not qualified and key in _REGION_NAMES:
            # 'Ontario', 'Québec', 'New York': the resident may mean the province or state.
            named = {c for c, _ in _REGION_NAMES[key]}
            if hint.country and hint.country in named and all(p.country != hint.country for p in ranked):
                return Resolution(NONE, reason="region_name")
            return Resolution(CHOOSE, choices=_shortlist(ranked, hint), reason="region_name")
        top = ranked[0]
        if len(ranked) == 1:
            return Resolution(MATCH, top, reason=reason)
        if not qualified and hint:
            decided = self._hinted(ranked, hint)
            if decided is not None:
                return decided
        if (
            top.population >= DOMINANT_POPULATION
            and _dominates(top, ranked[1])
            and reason != "exact_and_alternate"
        ):
            away = None if qualified else _away_from_home(ranked, hint)
            return away or Resolution(MATCH, top, reason="dominant")
        return Resolution(CHOOSE, choices=_shortlist(ranked, hint), reason="same_name")

    @staticmethod
    def _hinted(ranked: list[Place], hint: Hint) -> Resolution | None:
        """Break a tie between same-name places with the phone's region, then its country."""
        top = ranked[0]
        if top.population >= DOMINANT_POPULATION and _dominates(top, ranked[1]):
            return None  # not a tie: the dominance rule (and its own hint check) applies
        if hint.regions:
            local = [
                p
                for p in ranked
                if p.region_code in hint.regions and p.country == (hint.country or p.country)
            ]
            if len(local) == 1:
                return Resolution(MATCH, local[0], reason="hint_region")
            if len(local) > 1 and _dominates(local[0], local[1]):
                # two namesakes in the phone's province: it cannot tell them apart (Shelby, MI)
                return _away_from_home(ranked, hint)
        if hint.country:
            local = [p for p in ranked if p.country == hint.country]
            if local and (len(local) == 1 or _dominates(local[0], local[1])):
                if _population(local[0]) >= HINT_COUNTRY_SHARE * _population(top):
                    return Resolution(MATCH, local[0], reason="hint_country")
        return None

    @staticmethod
    def _combine(decisions: list[Resolution]) -> Resolution:
        if len(decisions) == 1:
            return decisions[0]
        matches = {d.match for d in decisions if d.status == MATCH}
        others = [d for d in decisions if d.status == CHOOSE]
        if len(matches) == 1 and not others:
            return next(d for d in decisions if d.status == MATCH)
        # round-robin across the names, so 'kingston ottawa' offers Ottawa beside the five Kingstons
        queues = [list((d.match,) if d.status == MATCH else d.choices) for d in decisions]
        places: list[Place] = []
        while any(queues):
            for queue in queues:
                p = queue.pop(0) if queue else None
                if p is not None and p not in places:
                    places.append(p)
        if not places:
            return Resolution(NONE, reason="no_place")
        return Resolution(CHOOSE, choices=tuple(places[:MAX_CHOICES]), reason="several_places")

    # -- typos ------------------------------------------------------------------------------------

    @staticmethod
    def _allowed_edits(length: int) -> int:
        if length < 5:
            return 0
        if length <= 8:
            return 1
        if length <= 14:
            return 2
        return 3

    def _typo(self, words: list[str], raws: list[str], hint: Hint) -> tuple[Resolution, int] | None:
        """The nearest name by edit distance (transpositions count one) to the text's core: its
        words from the first that is not filler, with and without a trailing province and trailing
        filler ('Stanstead-Est' ends in the French word "est"). A match needs one nearest name and
        no other near it (see ``_nearest``); otherwise the nearest names are offered."""
        first_word = next((i for i, w in enumerate(words) if w not in FILLER), None)
        if first_word is None:
            return None
        starts = [first_word]
        if 0 < first_word and len(words) <= MAX_TYPO_TOKENS:
            starts.append(0)  # a short text is also read whole: 'the laeks', 'au sable frrks'
        variants: list[tuple[int, list[str], Qualifier | None]] = []
        for first in starts:
            cores: list[tuple[list[str], Qualifier | None]] = [(words[first:], None)]
            for cut in range(first + 1, len(words)):
                q = _qualifier(raws, cut)
                if q is not None and q.end == len(words):
                    cores.insert(0, (words[first:cut], q))
                    break
            for core, q in cores:
                trimmed = list(core)
                while trimmed and trimmed[-1] in FILLER:
                    trimmed.pop()
                for candidate in (core, trimmed):
                    if (
                        candidate
                        and len(candidate) <= MAX_TYPO_TOKENS
                        and (first, candidate, q) not in variants
                    ):
                        variants.append((first, candidate, q))
                    if candidate and first > 0 and words[first - 1] in {"la", "le", "les", "l", "the"}:
                        variants.append((first - 1, [words[first - 1], *candidate], q))  # 'à la tuqe'
        best: tuple[Resolution, int, int, int] | None = None
        for first, core, q in variants:
            result = self._nearest(" ".join(core), q, hint)
            if result is None:
                continue
            covered = (q.end - first) if q else len(core)
            if best is None or (result[2], -covered) < (best[2], best[3]):
                best = (result[0], covered, result[2], -covered)
        return None if best is None else (best[0], best[1])

    def _nearest(
        self, text: str, qualifier: Qualifier | None, hint: Hint
    ) -> tuple[Resolution, int, int] | None:
        edits = self._allowed_edits(len(text))
        if edits == 0 or text in NOT_ALONE:
            return None
        keys = self.directory.keys_between(len(text) - edits - 2, len(text) + edits + 2)
        near = process.extract(text, keys, scorer=OSA.distance, score_cutoff=edits + 2, limit=None)
        if not near:
            return None
        place = self.directory.place

        def places_of(key: str) -> list[Place]:
            names, alternates = self.directory.lookup(key) or ((), ())
            found = [place(r) for r in (*names, *alternates)]
            return [p for p in found if qualifier is None or qualifier.admits(p)]

        def size(key: str) -> int:
            return max(_population(p) for p in places_of(key))

        nearest = sorted(
            ((key, int(dist)) for key, dist, _ in near if places_of(key)),
            key=lambda kd: (kd[1], -size(kd[0])),
        )
        if not nearest or nearest[0][1] > edits:
            return None
        best_key, best = nearest[0]
        mine = set(places_of(best_key))
        runner = next(((key, dist) for key, dist in nearest[1:] if not set(places_of(key)) <= mine), None)
        clear = runner is None or runner[1] >= best + TYPO_MARGIN
        if not clear and runner is not None and runner[1] > best:
            clear = size(best_key) >= TYPO_SIZE_MARGIN * size(runner[0])  # one edit nearer and far bigger
        if best > 0 and clear:
            span = Span(0, len(best_key.split()), best_key, *(self.directory.lookup(best_key) or ((), ())))
            span.qualifier = qualifier
            decided = self._decide(span, hint, alone=True)
            if decided.status != NONE:
                reason = "typo" if decided.status == MATCH else decided.reason
                return Resolution(decided.status, decided.match, decided.choices, reason), len(text), best
        # offer the nearest names, each name's biggest place first, round-robin across names, so a
        # name shared by many places ('Canton') does not crowd out the one next to it ('Campton')
        queues = [_by_size(places_of(key)) for key, dist in nearest if dist <= edits]
        offered: list[Place] = []
        while any(queues) and len(offered) < MAX_CHOICES:
            for queue in queues:
                while queue and queue[0] in offered:
                    queue.pop(0)
                if queue and len(offered) < MAX_CHOICES:
                    offered.append(queue.pop(0))
        offered = offered[:MAX_CHOICES]
        return Resolution(CHOOSE, choices=tuple(offered), reason="typo_unsure"), len(text), best
