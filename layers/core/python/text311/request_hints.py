"""What a resident's text suggests for a service request: a category and a place (issue 20).

Shown to the city's agents at the top of the mail of each text, and used by ``#request`` when the
agent gives no address. Cheap and failure-proof: the category is a word match; the place is read
from the text, and only an address or intersection asks the geocoder (in AWS, Amazon Location;
in the local run, the address file). Any failure leaves the place as written, without a point, and
never costs the resident's text.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any

from text311.city_services import Service, suggest_service
from text311.geo import CityArea, city_area
from text311.i18n import catalog
from text311.location import FoundLocation, Geocoder, find_location
from text311.observability import logger


@dataclass(frozen=True)
class RequestHint:
    service: Service | None
    location: FoundLocation | None

    @property
    def empty(self) -> bool:
        return self.service is None and self.location is None


@dataclass
class RequestHints:
    """``geocoder`` None: addresses are shown as written (no place index configured)."""

    geocoder: Geocoder | None = None
    area: Callable[[int, str], CityArea | None] = city_area

    def for_text(self, text: str, language: str, subscriber: Any) -> RequestHint:
        try:
            service = suggest_service(text, language, subscriber.services)
        except Exception as exc:  # noqa: BLE001 - a hint never costs the resident's text
            logger.warning("no service suggestion", extra={"error": type(exc).__name__})
            service = None
        return RequestHint(service, self.locate(text, language, subscriber))

    def locate(self, text: str, language: str, subscriber: Any) -> FoundLocation | None:
        """The place ``text`` names; an address or intersection with the geocoder's point when it
        finds one inside the city, else as written."""
        try:
            found = find_location(text)
        except Exception as exc:  # noqa: BLE001
            logger.warning("location not read", extra={"error": type(exc).__name__})
            return None
        if found is None or found.point is not None:
            return found
        return self._geocoded(found, language, subscriber)

    def geocode_address(self, address: str, language: str, subscriber: Any) -> FoundLocation:
        """An address an agent wrote (``#request pothole 12 rue Laurier``): read as an address or
        intersection when it is one, geocoded inside the city, kept as written in any case."""
        found = find_location(address)
        if found is not None and found.kind != "address":
            if found.point is not None:
                return found  # coordinates or a map link
            return self._geocoded(found, language, subscriber)  # an intersection
        return self._geocoded(FoundLocation("address", address), language, subscriber)

    def _geocoded(self, found: FoundLocation, language: str, subscriber: Any) -> FoundLocation:
        if self.geocoder is None:
            return found
        try:
            area = self.area(int(subscriber.geonameid), language)
            answer = self.geocoder.geocode(found.query, area) if area is not None else None
        except Exception as exc:  # noqa: BLE001 - the text goes on without a point
            logger.warning("geocoder failed: address kept without a point", extra={"error": type(exc).__name__})
            return found
        if answer is None:
            return found
        point, label = answer
        return replace(found, point=point, label=label)


def hint_lines(hint: RequestHint, language: str, resident_language: str) -> list[str]:
    """The lines at the top of a mail, in the city's ``language``; none when nothing was found."""
    if hint.empty:
        return []
    words = catalog()
    if hint.service is not None:
        name = hint.service.text(resident_language if resident_language in hint.service.languages else language)
        service = words.agent_text(language, "hint_service", code=hint.service.service_code, name=name.service_name)
    else:
        service = words.agent_text(language, "hint_no_service")
    lines = [
        words.agent_text(language, "request_hint", service=service, location=location_text(hint.location, language))
    ]
    if hint.service is not None:
        lines.append(words.agent_text(language, "hint_howto", code=hint.service.service_code))
    return lines


def location_text(found: FoundLocation | None, language: str) -> str:
    words = catalog()
    if found is None:
        return words.agent_text(language, "hint_no_location")
    if found.point is None:
        return words.agent_text(language, "hint_not_on_map", place=found.text)
    if found.kind == "point":
        return words.agent_text(language, "hint_shared_point", point=point_text(found))
    return words.agent_text(language, "hint_geocoded", point=point_text(found), label=found.label or found.text)


def point_text(found: FoundLocation) -> str:
    """``45.4215,-75.6972``: latitude first, as a map search box takes it."""
    assert found.point is not None
    return f"{_decimal(found.point.latitude)},{_decimal(found.point.longitude)}"


def _decimal(value: float) -> str:
    return f"{value:.6f}".rstrip("0").rstrip(".")


def codes_of(services: Iterable[Service]) -> list[str]:
    return [s.service_code for s in services]
