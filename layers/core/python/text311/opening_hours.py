"""A city's opening hours: weekly hours per weekday and holidays, in the city's time zone.

Pure: every answer is computed from the moment it is given (no wall clock). Wall times are turned
into instants with ``zoneinfo`` on the day they fall on, so a daylight-saving change moves the
instant, never the opening time the city chose. Stored as compact JSON on the subscriber
(``{"weekly": {"mon": [["08:30", "16:30"]]}, "holidays": ["2026-12-25"]}``); a city with no hours
stored is always open.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # datetime.weekday() order
# How far ahead an opening is looked for: past a year of holidays, a city has no opening to name.
_LOOK_AHEAD_DAYS = 400
_CLOCK = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")

Interval = tuple[time, time]


class HoursError(ValueError):
    """Opening hours that make no sense; the message names the day or date."""


@dataclass(frozen=True)
class OpeningHours:
    time_zone: str
    weekly: Mapping[str, tuple[Interval, ...]]  # weekday → (open, close) pairs, sorted, not overlapping
    holidays: frozenset[date] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        for day, intervals in self.weekly.items():
            if day not in WEEKDAYS:
                raise HoursError(f"{day!r} is not a weekday ({', '.join(WEEKDAYS)})")
            ordered = sorted(intervals)
            for opens, closes in ordered:
                if not opens < closes:
                    raise HoursError(f"{day}: opens at {clock(opens)} but closes at {clock(closes)}")
            for (_, first_closes), (second_opens, _) in zip(ordered, ordered[1:], strict=False):
                if second_opens < first_closes:
                    raise HoursError(f"{day}: hours overlap at {clock(second_opens)}")
        if not any(self.weekly.values()):
            raise HoursError("no weekday has opening hours (to be always open, clear the hours)")

    def _zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    def _intervals(self, day: date) -> tuple[Interval, ...]:
        if day in self.holidays:
            return ()
        return tuple(sorted(self.weekly.get(WEEKDAYS[day.weekday()], ())))

    def is_open(self, at: datetime) -> bool:
        """Whether the city is open at the instant ``at`` (timezone-aware)."""
        local = at.astimezone(self._zone())
        now = local.time().replace(tzinfo=None)
        return any(opens <= now < closes for opens, closes in self._intervals(local.date()))

    def next_opening(self, at: datetime) -> datetime | None:
        """The first opening after ``at``, in the city's time zone; None when none is within a year."""
        zone = self._zone()
        instant = at.astimezone(UTC)
        first_day = at.astimezone(zone).date()
        for offset in range(_LOOK_AHEAD_DAYS):
            day = first_day + timedelta(days=offset)
            for opens, _ in self._intervals(day):
                # Compared in UTC: aware datetimes sharing a tzinfo compare by wall time alone.
                start = datetime.combine(day, opens, tzinfo=zone).astimezone(UTC)
                if start > instant:
                    return start.astimezone(zone)
        return None


# "24:00" closes at the end of the day: a city open around the clock is open at 23:59:30 too.
END_OF_DAY = time.max
_END_OF_DAY_TEXT = "24:00"


def parse_clock(text: str, *, closing: bool = False) -> time:
    """``"08:30"`` → 08:30; ``"24:00"``, as a closing time only, → :data:`END_OF_DAY`."""
    if closing and text.strip() == _END_OF_DAY_TEXT:
        return END_OF_DAY
    found = _CLOCK.match(text.strip())
    if not found:
        latest = "24:00" if closing else "23:59"
        raise HoursError(f"{text!r} is not a time of day written HH:MM (00:00 to {latest})")
    return time(int(found.group(1)), int(found.group(2)))


def clock(moment: time) -> str:
    """A time of day as the hours are written: ``HH:MM``, the end of the day ``24:00``."""
    return _END_OF_DAY_TEXT if moment == END_OF_DAY else f"{moment:%H:%M}"


def parse_intervals(text: str) -> tuple[Interval, ...]:
    """``"08:30-12:00,13:00-16:30"`` → its (open, close) pairs; ``"closed"`` → none."""
    if text.strip().lower() == "closed":
        return ()
    pairs = []
    for part in text.split(","):
        opens, dash, closes = part.partition("-")
        if not dash:
            raise HoursError(f"{part.strip()!r} is not hours written HH:MM-HH:MM")
        pairs.append((parse_clock(opens), parse_clock(closes, closing=True)))
    return tuple(pairs)


def parse_days(text: str) -> tuple[str, ...]:
    """``"mon"``, ``"mon-fri"`` or ``"sat,sun"`` → the weekdays named."""
    days: list[str] = []
    for part in text.lower().split(","):
        first, dash, last = (p.strip() for p in part.partition("-"))
        for name in (first, last) if dash else (first,):
            if name not in WEEKDAYS:
                raise HoursError(f"{name!r} is not a weekday ({', '.join(WEEKDAYS)})")
        span = WEEKDAYS[WEEKDAYS.index(first): WEEKDAYS.index(last) + 1] if dash else (first,)
        if not span:
            raise HoursError(f"{part.strip()!r}: the first day comes after the last")
        days += [d for d in span if d not in days]
    return tuple(days)


def parse_date(text: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError as exc:
        raise HoursError(f"{text!r} is not a date written YYYY-MM-DD") from exc


def from_specs(time_zone: str, day_specs: Iterable[str], holidays: Iterable[str] = ()) -> OpeningHours:
    """Hours from ``"mon-fri=08:30-16:30"`` specs (a later spec of the same day replaces it)."""
    weekly: dict[str, tuple[Interval, ...]] = {}
    for spec in day_specs:
        days, equals, hours = spec.partition("=")
        if not equals:
            raise HoursError(f"{spec!r} is not written DAYS=HH:MM-HH:MM (e.g. mon-fri=08:30-16:30)")
        intervals = parse_intervals(hours)
        for day in parse_days(days):
            weekly[day] = intervals
    return OpeningHours(time_zone, weekly, frozenset(parse_date(h) for h in holidays))


def to_json(hours: OpeningHours) -> str:
    """Compact JSON without the time zone (the subscriber's own ``time_zone`` is the one used)."""
    weekly = {day: [[clock(o), clock(c)] for o, c in sorted(hours.weekly[day])]
              for day in WEEKDAYS if hours.weekly.get(day)}
    return json.dumps({"weekly": weekly, "holidays": sorted(d.isoformat() for d in hours.holidays)},
                      separators=(",", ":"))


def from_json(time_zone: str, text: str) -> OpeningHours:
    data = json.loads(text)
    weekly = {day: tuple((parse_clock(o), parse_clock(c, closing=True)) for o, c in pairs)
              for day, pairs in data.get("weekly", {}).items()}
    return OpeningHours(time_zone, weekly, frozenset(parse_date(d) for d in data.get("holidays", [])))


def describe(hours: OpeningHours) -> list[str]:
    """One line a weekday and one a holiday, for ``text311 municipality hours show``."""
    lines = []
    for day in WEEKDAYS:
        intervals = sorted(hours.weekly.get(day, ()))
        lines.append(f"{day}\t" + (", ".join(f"{clock(o)}-{clock(c)}" for o, c in intervals) or "closed"))
    lines += [f"holiday\t{d.isoformat()}" for d in sorted(hours.holidays)]
    return lines


class Wording(Protocol):
    def message(self, language: str, key: str, **values: object) -> str: ...


def spoken_opening(wording: Wording, language: str, moment: datetime) -> str:
    """An opening as a resident reads it, from the language file ("Monday 8:30 AM", "lundi 8 h 30"):
    its weekday names and its clock are data, no locale library is needed."""
    weekday = wording.message(language, "weekdays").split(",")[moment.weekday()]
    return wording.message(language, "opening_time", weekday=weekday, hour=moment.hour, minute=moment.minute,
                           h12=(moment.hour - 1) % 12 + 1, ampm="AM" if moment.hour < 12 else "PM")
