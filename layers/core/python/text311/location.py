"""Where a resident's text says the problem is: a shared point, or an address or intersection to geocode.

:func:`find_location` reads the text alone (no network): a ``geo:`` URI (RFC 5870), a Google or Apple
Maps link that carries coordinates, plain decimal coordinates ("45.42, -75.69"), a civic address
("123 Main St", "12, rue Laurier") or an intersection ("corner of Bank and Somerset", "coin Laurier
et Saint-Joseph"). A point found in the text is kept as the resident sent it.

:func:`locate` adds the geocoder's point to an address or intersection. Geocoders
(text311.geocoders) answer only inside the city; when one answers nothing, the text is kept and the
point stays None: a point is never guessed.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Literal, Protocol
from urllib.parse import parse_qs, unquote, urlsplit

from text311.geo import CityArea, Point

Kind = Literal["point", "address", "intersection"]


@dataclass(frozen=True)
class FoundLocation:
    kind: Kind
    text: str  # as the resident wrote it
    point: Point | None = None
    label: str | None = None  # the geocoder's name for the place, e.g. "100 Rue Laurier, Gatineau, QC"
    streets: tuple[str, ...] = ()  # an intersection's two streets

    @property
    def query(self) -> str:
        """What a geocoder is asked: the address, or "A & B" for an intersection."""
        return " & ".join(self.streets) if self.kind == "intersection" else self.text


class Geocoder(Protocol):
    def geocode(self, query: str, area: CityArea) -> tuple[Point, str] | None:
        """The point and label of ``query`` inside ``area``, or None (nothing found, or only outside)."""
        ...


# --- points ---------------------------------------------------------------------------------------

_NUMBER = r"[-+]?\d{1,3}\.\d+"
_PAIR = re.compile(rf"^\s*({_NUMBER})\s*,\s*({_NUMBER})")
_URL = re.compile(r"(?:https?://|geo:)\S+", re.IGNORECASE)
# RFC 5870: geo:<lat>,<lon>[,<alt>][;crs=…][;u=…][;…][?q=…]. Integers are allowed there.
_GEO = re.compile(
    r"^geo:([-+]?\d{1,3}(?:\.\d+)?),([-+]?\d{1,3}(?:\.\d+)?)(?:,[-+]?\d+(?:\.\d+)?)?([^?]*)(?:\?(.*))?$", re.IGNORECASE
)
# Google's place pin ("!3d45.42!4d-75.69") is the place itself; "@45.42,-75.69,17z" is the map's centre.
_GOOGLE_PIN = re.compile(rf"!3d({_NUMBER})!4d({_NUMBER})")
_GOOGLE_AT = re.compile(rf"@({_NUMBER}),({_NUMBER})")
_GOOGLE_PATH = re.compile(rf"/maps/(?:place|search|dir)/({_NUMBER}),\s*({_NUMBER})")
# Plain coordinates: two signed decimals with at least two decimals each (a time "12:30", a phone
# number or a whole number is not a place), or with hemispheres: "45.4215° N, 75.6972° W".
_COORDINATE = r"[-+]?\d{1,3}\.\d{2,}"
_PLAIN = re.compile(rf"(?<![\w.:/$€-])({_COORDINATE})°?\s*[,;\s]\s*({_COORDINATE})°?(?![\w.:/$€%])")
_HEMISPHERES = re.compile(
    r"(?<![\w.])(\d{1,2}\.\d{2,})\s*°?\s*([NS])[\s,;]+(\d{1,3}\.\d{2,})\s*°?\s*([EWO])\b", re.IGNORECASE
)


def _point(lat: str, lon: str) -> Point | None:
    latitude, longitude = float(lat), float(lon)
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        return None
    if latitude == 0 and longitude == 0:  # "geo:0,0" is a placeholder, not a place
        return None
    return Point(latitude, longitude)


def _pair(value: str) -> Point | None:
    match = _PAIR.match(unquote(value))
    return _point(match[1], match[2]) if match else None


def _from_geo_uri(uri: str) -> Point | None:
    match = _GEO.match(uri)
    if not match:
        return None
    params = {k.lower(): v for k, _, v in (p.partition("=") for p in match[3].split(";") if p)}
    if params.get("crs", "wgs84").lower() != "wgs84":
        return None  # another reference system: its numbers are not latitude and longitude
    point = _point(match[1], match[2])
    if point is None and match[4]:  # Android shares "geo:0,0?q=45.42,-75.69(label)"
        query = parse_qs(match[4]).get("q", [""])[0]
        return _pair(query)
    return point


def _from_link(url: str) -> Point | None:
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    query = parse_qs(parts.query)
    if host.endswith("apple.com") and host.startswith("maps."):
        keys: tuple[str, ...] = ("coordinate", "ll", "q", "sll", "daddr")
    elif "google." in host or host.startswith("goo.gl"):
        for pattern in (_GOOGLE_PIN, _GOOGLE_PATH, _GOOGLE_AT):
            match = pattern.search(unquote(parts.path + "?" + parts.query))
            if match and (point := _point(match[1], match[2])):
                return point
        keys = ("q", "query", "ll", "destination", "center", "daddr")
    else:
        return None
    for key in keys:
        for value in query.get(key, []):
            if point := _pair(value):
                return point
    return None


def _plain_point(text: str) -> tuple[Point, str] | None:
    match = _HEMISPHERES.search(text)
    if match:
        lat, north, lon, east = float(match[1]), match[2].upper(), float(match[3]), match[4].upper()
        point = _point(str(lat if north == "N" else -lat), str(lon if east == "E" else -lon))
        if point:
            return point, match[0]
    for match in _PLAIN.finditer(text):
        if point := _point(match[1], match[2]):
            return point, match[0]
    return None


def _links(text: str) -> list[str]:
    found = []
    for match in _URL.finditer(text):
        url = match[0].rstrip(".,;!>")
        if url.endswith(")") and url.count(")") > url.count("("):  # "(see geo:…)", not "geo:…?q=…(label)"
            url = url[:-1]
        found.append(url)
    return found


def _find_point(text: str) -> FoundLocation | None:
    for url in _links(text):
        point = _from_geo_uri(url) if url.lower().startswith("geo:") else _from_link(url)
        if point:
            return FoundLocation("point", url, point)
    without_links = _URL.sub(" ", text)
    found = _plain_point(without_links)
    return FoundLocation("point", found[1].strip(), found[0]) if found else None


# --- addresses and intersections ------------------------------------------------------------------

_EN_TYPES = (
    r"street|st|avenue|ave|av|road|rd|boulevard|blvd|drive|dr|crescent|cres|court|ct|lane|ln|way"
    r"|place|pl|terrace|highway|hwy|parkway|pkwy|circle|cir|square|sq"
)
_FR_TYPES = (
    r"rue|avenue|av|boulevard|boul|bd|chemin|ch|route|rang|place|mont[ée]e|impasse|croissant"
    r"|promenade|all[ée]e|c[ôo]te|terrasse|carr[ée]|autoroute"
)
_DIRECTION = r"(?:\s+(?:north|south|east|west|n|s|e|w|est|ouest|nord|sud))?"
# Words that end a street name: what residents write after an address ("… il y a un trou").
_STOP = frozenset(
    (
        "a an and at by for from has have in is it near of on or since the there to with was where"
        " y il elle a au aux est et en dans depuis devant pres proche sur sous pour un une le la les du des"
        " qui que avec entre vers chez"
    ).split()
)
# A named word, or an ordinal street number ("3rd Ave", "1st", "3e Avenue", "1re Rue").
_NAME_WORD = r"(?:\d{1,3}(?:st|nd|rd|th|er|re|e|ème|eme)\b|[A-Za-zÀ-ÿ][\w'’.-]*)"
_EN_ADDRESS = re.compile(
    rf"\b(\d{{1,5}}[A-Za-z]?)\s+((?:{_NAME_WORD}\s+){{1,4}}?)({_EN_TYPES})\b\.?{_DIRECTION}\b", re.IGNORECASE
)
_FR_ADDRESS = re.compile(
    rf"\b(\d{{1,5}}[A-Za-z]?)\s*,?\s+({_FR_TYPES})\.?\s+({_NAME_WORD}(?:\s+{_NAME_WORD}){{0,4}})", re.IGNORECASE
)
_UNTYPED_ADDRESS = re.compile(
    r"(?<![\w$€.,:/-])(\d{1,5})[ ]+([A-ZÀ-Þ][a-zà-ÿ'’-]{2,}(?: [A-ZÀ-Þ][a-zà-ÿ'’-]{2,})?)(?![\w%])"
)
# Capitalised words that follow a number or join another by "&" without being streets: dates and days
# (in English: French writes them in lower case).
_CALENDAR_WORDS = frozenset(
    name.lower()
    for name in (*calendar.month_name[1:], *calendar.month_abbr[1:], *calendar.day_name, *calendar.day_abbr)
)
_CAPITALISED_WORD = r"[A-ZÀ-Þ][\w'’-]*"
_NAMED_STREET = re.compile(
    rf"\b{_CAPITALISED_WORD}(?: {_CAPITALISED_WORD})? (?i:{_EN_TYPES})\b"
    rf"|\b(?i:{_FR_TYPES})\.? (?:(?i:de la|du|des|de|d') ?)?{_CAPITALISED_WORD}"
)
_PARTICLES = frozenset("de du des la le l' d'".split())
_ABBREVIATIONS = frozenset("st ste boul av ch bd".split())
# Words separated by at least one space: "\s*" between them would let one long word split in
# exponentially many ways (a 200-letter word took seconds).
_STREET = rf"(?:(?:{_FR_TYPES})\.?\s+)?{_NAME_WORD}(?:\s+{_NAME_WORD}){{0,3}}"
# A street of the third pattern does not start with a stop word: "at King St & Queen St" is read from "King",
# not refused for "at".
_NOT_STOP = rf"(?!(?:{'|'.join(sorted(_STOP, key=len, reverse=True))})\s)"
# Two capitalised names joined by "&" ("Bronson & Gladstone"): the way residents write a corner without a
# street type. "&" only, not "and": "Smith and Sons", "Monday and Tuesday" are not corners. Case matters.
_CAPITALISED = r"[A-ZÀ-Þ][a-zà-ÿ'’]{2,}"
_BARE_CORNER = re.compile(rf"(?<![\w&])({_CAPITALISED}(?: {_CAPITALISED})?) ?& ?({_CAPITALISED}(?: {_CAPITALISED})?)\b")
_INTERSECTIONS = (
    re.compile(
        rf"\b(?:(?:at\s+the\s+)?corner\s+of|intersection\s+of)\s+({_STREET}?)\s*(?:and|&)\s+({_STREET})", re.IGNORECASE
    ),
    re.compile(
        rf"\b(?:au\s+)?(?:coin|angle|intersection)\s+(?:(?:de\s+la|de|du|des)\s+)?({_STREET}?)"
        rf"\s*(?:et|&|/)\s+(?:(?:de\s+la|de|du|des)\s+)?({_STREET})",
        re.IGNORECASE,
    ),
    re.compile(
        rf"\b{_NOT_STOP}({_NAME_WORD}(?:\s+{_NAME_WORD})?\s+(?:{_EN_TYPES}))\.?\s*(?:and|&|/)\s+"
        rf"({_NAME_WORD}(?:\s+{_NAME_WORD})?\s+(?:{_EN_TYPES}))\b\.?",
        re.IGNORECASE,
    ),
    # Two streets with a French type before their names: "boul. Riel / rue Carrière", "rue Laurier et rue Eddy".
    re.compile(
        rf"\b((?:{_FR_TYPES})\.?\s+{_NAME_WORD}(?:\s+{_NAME_WORD}){{0,2}}?)(?:\s+et|\s*[&/])\s+"
        rf"((?:{_FR_TYPES})\.?\s+{_NAME_WORD}(?:\s+{_NAME_WORD}){{0,2}})",
        re.IGNORECASE,
    ),
)
# The patterns whose streets start with their type: a type alone ("rue est glacée et rue …") is no street.
_TYPED_FIRST = 3


def _proper_names(names: Iterable[str]) -> bool:
    """Words that can only be a street's name where no street type says so: not a stop word, a month or a
    day, nor an ordinary word ("3 Times", "Kids & Dogs", "Tom & Jerry" are no place)."""
    from text311.ordinary_words import ordinary  # its lists load only for such a text

    lower = [n.lower() for n in names]
    return not any(n in _STOP or n in _CALENDAR_WORDS or ordinary(n) for n in lower)


def _name_end(raw: str) -> int:
    """Where a street name written at the start of ``raw`` ends: at a stop word, or at a lower-case
    word after the first named word ("Laurier il y a" → "Laurier"; "de la Montagne est" → "de la
    Montagne"; "principale" alone is kept). Leading particles belong to the name, trailing ones not."""
    end, named = 0, 0
    particles_end = 0
    for word in re.finditer(r"\S+", raw):
        token = word[0]
        bare = token.strip(".,;:!?").lower()
        if not bare:
            break
        particle = bare in _PARTICLES
        if (bare in _STOP and not particle) or (named and not particle and token[0].islower()):
            break
        if particle:
            particles_end = particles_end or word.start()
        else:
            named, particles_end = named + 1, 0
        end = word.start() + len(token.rstrip(".,;:!?")) if bare not in _ABBREVIATIONS else word.end()
        if token[-1] in ".,;:!?" and bare not in _ABBREVIATIONS:
            break
    if not named:
        return 0
    return min(end, particles_end) if particles_end else end


def _name(raw: str) -> str:
    return raw[: _name_end(raw)].strip()


def _find_intersection(text: str) -> FoundLocation | None:
    for index, pattern in enumerate(_INTERSECTIONS):
        for match in pattern.finditer(text):
            first, second = _name(match[1]), _name(match[2])
            if index >= _TYPED_FIRST and (len(first.split()) < 2 or len(second.split()) < 2):
                continue
            if first and second and first.lower() not in _STOP:
                written = text[match.start() : match.start(2) + _name_end(match[2])].strip()
                return FoundLocation("intersection", written, streets=(first, second))
    for match in _BARE_CORNER.finditer(text):
        first, second = match[1], match[2]
        if first != second and _proper_names((*first.split(), *second.split())):
            return FoundLocation("intersection", match[0], streets=(first, second))
    return None


def _linked_address(text: str) -> FoundLocation | None:
    """An Apple Maps link that shares an address, not a point (``?address=330+Kent+St,+Ottawa``): the
    address it holds, to geocode like a written one. Its city and country after the first comma are left
    to the geocoder, which already searches inside the city."""
    for url in _links(text):
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        if not (host.startswith("maps.") and host.endswith("apple.com")):
            continue
        for value in parse_qs(parts.query).get("address", []):
            written = " ".join(value.split())
            found = _find_address(written)
            if found is not None:
                return found
            if street := written.split(",")[0].strip():
                return FoundLocation("address", street)
    return None


def _find_address(text: str) -> FoundLocation | None:
    found = _typed_addresses(text)
    if not found:
        found = _untyped_addresses(text)
    if not found:
        return None
    return FoundLocation("address", min(found)[1])


def _typed_addresses(text: str) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    for match in _EN_ADDRESS.finditer(text):
        name_words = match[2].split()
        if any(w.lower() in _STOP for w in name_words):
            continue
        found.append((match.start(), match[0].rstrip(".").strip()))
    for match in _FR_ADDRESS.finditer(text):
        end = _name_end(match[3])
        if end:
            found.append((match.start(), text[match.start() : match.start(3) + end].strip()))
    return found


def _untyped_addresses(text: str) -> list[tuple[int, str]]:
    """A civic number and a capitalised name without a street type ("122 Champlain"), read only when no
    address with a type is in the text, and only a proper name (see :func:`_proper_names`): not a date
    ("12 March"), an amount, a time or a count of things ("3 Times")."""
    found = []
    for match in _UNTYPED_ADDRESS.finditer(text):
        if not _proper_names(match[2].split()):
            continue
        found.append((match.start(), match[0].strip()))
    return found


def find_location(text: str) -> FoundLocation | None:
    """The place ``text`` names, without a point for an address or intersection (see :func:`locate`).
    A shared point wins over words: it is where the resident stood; then an address the resident shared
    as a link; then words outside any link."""
    point = _find_point(text) or _linked_address(text)
    if point is not None:
        return point
    words = _URL.sub(" ", text)
    return _find_intersection(words) or _find_address(words)


def without_place(text: str) -> str:
    """``text`` without its links, the place :func:`find_location` reads outside them, and any other
    street named with its type ("on Park Ave", "rue du Parc": capitalised, so "the park" stays)."""
    words = _URL.sub(" ", text)
    found = _find_intersection(words) or _find_address(words)
    if found is not None:
        words = words.replace(found.text, " ", 1)
    return _NAMED_STREET.sub(" ", words)


def locate(text: str, geocoder: Geocoder, area: CityArea) -> FoundLocation | None:
    """:func:`find_location`, with the geocoder's point and label for an address or intersection."""
    found = find_location(text)
    if found is None or found.point is not None:
        return found
    answer = geocoder.geocode(found.query, area)
    if answer is None:
        return found  # the words are kept; no point is made up
    point, label = answer
    return replace(found, point=point, label=label)
