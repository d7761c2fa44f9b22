"""Every message template costs one SMS (issue 18): each template of every language, its placeholders
filled with the longest values they can hold, counted by the segmenter the sender uses.

Run with ``-s`` to see the table. What "fits" means is written in docs/sms.md ("Our own messages"):
one SMS with the longest GSM-7 place name in the directory; at most two with the longest name that
needs UCS-2 (a single ``ô`` or ``Î`` in the name turns its SMS into 70 units, and no wording holds a
sentence and a 35-character name in 70 units). A language whose own words need UCS-2 (Chinese,
Arabic, Punjabi, Ukrainian, Vietnamese...) has 70 units a part: there, a template's wording may add
at most one part to what its filled placeholders alone take (``Row.wording_budget``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cache
from string import Formatter

from text311.directory import Place, directory
from text311.i18n import Catalog, catalog
from text311.sms import (
    DEFAULT_MAX_PARTS,
    SINGLE_SEGMENT,
    Encoding,
    SegmentInfo,
    SmsSegmenter,
    encoding_of,
    normalise,
)

# Templates whose content needs two SMS, and why. Keep this list short: each entry costs every
# resident who receives it a second part.
TWO_PARTS = {
    "choose": "up to five places, each with its province or state: the list is the content",
}
# Pieces of other messages, measured inside them: "choose_option" in "choose", "not_subscriber_web" in
# "suspended", "opening_time" and "weekdays" in "closed".
FRAGMENTS = frozenset(
    {
        "choose_option",
        "not_subscriber_web",
        "opening_time",
        "weekdays",
        "status_open",
        "status_in_progress",
        "status_closed",
        "status_item",
    }
)

# Realistic maxima for the other placeholders.
WEB_PAGE = "https://ville.rouyn-noranda.example/311"  # a city's 311 page: 39 characters
SUPPORT_CONTACT = "support@text311.ca"  # longer than the deployed "text311.ca"
FLOOD_LIMIT = 999  # texts a minute: three digits
CHOICES = 5  # the dialog offers at most five places (dialog._resolve)
# The longest opening time a closed notice names, in the given language: the longest weekday name
# at a two-digit hour (opening_hours.spoken_opening fills "opening_time" with these).
LONGEST_OPENING = {"weekday": "mercredi", "hour": 12, "minute": 30, "h12": 12, "ampm": "PM"}
# Service requests (text311.request_texts): a reference with six digits (numbers start at 1001), a
# service name as long as a text names one (SERVICE_NAME_MAX), the longest status word; the agent's
# {note} is trimmed to the room left, so it is measured empty; STATUS lists one request at least.
REFERENCE = "SAI-123456"
SERVICE_NAME = "Entretien des pistes cyclables et sentie"  # 40 characters
STATUSES = ("open", "in_progress", "closed")

SEGMENTER = SmsSegmenter()  # the sender's own counter (text311.outbound.parts)


@dataclass(frozen=True)
class Fill:
    """One way to fill the placeholders: the name every {city} gets and the places a choice lists."""

    name: str
    places: tuple[Place, ...]


@dataclass(frozen=True)
class Row:
    template: str
    language: str
    info: SegmentInfo
    wording_budget: int = 0  # wording in UCS-2: the parts its placeholders alone take, plus one; else 0

    def allowed(self, parts: int) -> int:
        return max(parts, self.wording_budget)

    def line(self) -> str:
        room = SINGLE_SEGMENT[self.info.encoding] - self.info.units
        spare = str(room) if self.info.parts == 1 else "-"
        info = self.info
        return f"{self.template:<20} {self.language:<6} {info.encoding:<6} {info.units:>5} {spare:>5} {info.parts:>5}"


def _needs_ucs2(place: Place) -> bool:
    return encoding_of(normalise(place.name)) is Encoding.UCS2


@cache
def _fills() -> dict[str, Fill]:
    """The longest names in the directory, as the sender will send them (normalised: an en dash in
    "Rivière-des-Prairies–Pointe-aux-Trembles" goes out as a hyphen, in GSM-7)."""
    by_length = sorted(directory(), key=lambda p: len(normalise(p.name)), reverse=True)
    fills = {}
    for kind, needs_ucs2 in (("GSM-7", False), ("UCS-2", True)):
        places = tuple(p for p in by_length if _needs_ucs2(p) is needs_ucs2)[:CHOICES]
        fills[kind] = Fill(normalise(places[0].name), places)
    return fills


def _message(cat: Catalog, language: str, key: str, fill: Fill) -> str:
    """The template filled as the dialog fills it (dialog._choices, _web; inbound's flood notice)."""
    options = "; ".join(
        cat.message(language, "choose_option", number=number, label=place.label)
        for number, place in enumerate(fill.places, 1)
    )
    return cat.message(
        language,
        key,
        city=fill.name,
        web=cat.message(language, "not_subscriber_web", web=WEB_PAGE),
        options=options,
        number=len(fill.places),
        label=fill.places[0].label,
        help=cat.help_text(SUPPORT_CONTACT, language),
        support=SUPPORT_CONTACT,
        limit=FLOOD_LIMIT,
        opens=_longest_opening(cat, language),
        **LONGEST_OPENING,
        **_request_fill(cat, language),
    )


def _request_fill(cat: Catalog, language: str) -> dict[str, str]:
    status = max((cat.message(language, f"status_{s}") for s in STATUSES), key=len)
    item = cat.message(language, "status_item", reference=REFERENCE, service=SERVICE_NAME, status=status)
    return {"reference": REFERENCE, "service": SERVICE_NAME, "status": status, "note": "", "requests": item}


def _longest_opening(cat: Catalog, language: str) -> str:
    """The closed notice's {opens}: the language's longest weekday name at its longest clock time."""
    weekday = max(cat.message(language, "weekdays").split(","), key=len)
    return cat.message(language, "opening_time", **{**LONGEST_OPENING, "weekday": weekday})


def _rows(fill: Fill) -> list[Row]:
    cat = catalog()
    rows = [Row("help", "common", SEGMENTER.count(cat.help_text(SUPPORT_CONTACT)))]
    for code, language in sorted(cat.languages.items()):
        for key in language.messages:
            info = SEGMENTER.count(_message(cat, code, key, fill))
            rows.append(Row(key, code, info, _wording_budget(cat, code, key, fill)))
    return rows


# Templates of a language that GSM-7 carries (its first question is GSM-7: en, fr, es, it, tl) that still need
# UCS-2, and why. Each costs its resident a second part; none so far (Spanish is worded around á, í, ó, ú).
UCS2_IN_A_GSM7_LANGUAGE: dict[tuple[str, str], str] = {}


def _wording_budget(cat: Catalog, language: str, key: str, fill: Fill) -> int:
    """For any template of a language whose words need UCS-2 (its first question does), or a listed exception:
    the parts its placeholders alone take in UCS-2, plus one. Else 0 (the rules above): a language that GSM-7
    carries gets no extra part for one accented word."""
    lang = cat.languages[language]
    fields = list(Formatter().parse(lang.messages[key]))
    if not (_literal_needs_ucs2(lang.messages["ask_municipality"]) or (language, key) in UCS2_IN_A_GSM7_LANGUAGE):
        return 0
    bare = "".join(
        f"{{{name}{'!' + conv if conv else ''}{':' + spec if spec else ''}}}"
        for _, name, spec, conv in fields
        if name is not None
    )
    if not bare:
        return 1
    bare_catalog = replace(
        cat, languages={**cat.languages, language: replace(lang, messages={**lang.messages, key: bare})}
    )
    units = len(_message(bare_catalog, language, key, fill).encode("utf-16-le")) // 2
    room = SINGLE_SEGMENT[Encoding.UCS2] - len("1/2 ")  # the sender numbers each part (text311.sms)
    return (1 if units <= SINGLE_SEGMENT[Encoding.UCS2] else -(-units // room)) + 1


def _literal_needs_ucs2(template: str) -> bool:
    return encoding_of(normalise("".join(text for text, *_ in Formatter().parse(template)))) is Encoding.UCS2


def _table(title: str, rows: list[Row]) -> str:
    header = f"{'template':<20} {'lang':<6} {'enc':<6} {'units':>5} {'spare':>5} {'parts':>5}"
    return "\n".join([title, header, *(r.line() for r in rows)])


def test_every_template_fits_one_sms_with_the_longest_place_name():
    # given the longest place name in the directory that GSM-7 can carry
    fill = _fills()["GSM-7"]
    # when every template of every language is filled with it and counted
    rows = _rows(fill)
    print("\n" + _table(f"{{city}} = {fill.name!r} ({len(fill.name)} characters)", rows))
    # then each is one SMS, but for the listed exceptions (two at most) and the fragments
    too_long = [
        f"{r.language}.{r.template}: {r.info.parts} parts"
        for r in rows
        if r.template not in FRAGMENTS and r.info.parts > r.allowed(2 if r.template in TWO_PARTS else 1)
    ]
    assert too_long == []


def test_each_two_part_exception_does_need_two_sms():
    # an exception that fits one SMS (in every language) is stale: it must leave the list
    rows = [r for r in _rows(_fills()["GSM-7"]) if not r.wording_budget]
    for template in TWO_PARTS:
        assert max(r.info.parts for r in rows if r.template == template) == 2, template


def test_every_template_still_takes_at_most_two_sms_with_a_name_that_needs_ucs2():
    # given the longest place name that GSM-7 cannot carry (and the five longest such labels)
    fill = _fills()["UCS-2"]
    assert encoding_of(fill.name) is Encoding.UCS2
    # when every template is filled with it
    rows = _rows(fill)
    print("\n" + _table(f"{{city}} = {fill.name!r} ({len(fill.name)} characters)", rows))
    # then a message naming one place takes two SMS at most; a list of five such places is still
    # sent (the sender refuses a text of more than DEFAULT_MAX_PARTS)
    too_long = [
        f"{r.language}.{r.template}: {r.info.parts} parts"
        for r in rows
        if r.template not in FRAGMENTS and r.info.parts > r.allowed(DEFAULT_MAX_PARTS if r.template in TWO_PARTS else 2)
    ]
    assert too_long == []
