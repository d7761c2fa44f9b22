"""Geocoders (text311.location.Geocoder): an address's point, only inside the city.

``AmazonLocationGeocoder`` asks Amazon Location Service Places (``geo-places`` ``Geocode``) in AWS;
``AddressFileGeocoder`` answers the local run from a small file of the demo cities' addresses. Both
refuse a place outside the city's area and answer None rather than a nearby guess.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from text311.geo import CityArea, Point
from text311.i18n import words

logger = logging.getLogger(__name__)

# Only places that are a point on a street: a whole street's or city's centre is not where a pothole is.
PRECISE_PLACE_TYPES = ("PointAddress", "InterpolatedAddress", "Intersection")


class AmazonLocationGeocoder:
    """Amazon Location Service Places v2, through an injected ``geo-places`` client."""

    def __init__(self, client: Any, max_results: int = 3) -> None:
        self._client = client
        self._max_results = max_results

    def geocode(self, query: str, area: CityArea) -> tuple[Point, str] | None:
        request = {
            # The city's name and province narrow the text itself; the bias ranks nearby places first.
            "QueryText": f"{query}, {area.name}, {area.region_code}"[:200],
            "MaxResults": self._max_results,
            "BiasPosition": [area.centre.longitude, area.centre.latitude],  # Amazon Location: [lon, lat]
            "Filter": {"IncludeCountries": [area.country], "IncludePlaceTypes": list(PRECISE_PLACE_TYPES)},
            "Language": area.language,
            "IntendedUse": "Storage",  # the point is kept with the request: the service terms require it
        }
        try:
            response = self._client.geocode(**request)
        except (ClientError, BotoCoreError) as exc:
            # A text is never held for a geocoder: the place stays words until an agent reads it.
            logger.warning("geocoding failed, address kept without a point: %s", type(exc).__name__)
            return None
        for item in response.get("ResultItems", []):
            answer = _inside(item, area)
            if answer:
                return answer
        return None


def _inside(item: Mapping[str, Any], area: CityArea) -> tuple[Point, str] | None:
    position = item.get("Position")
    if item.get("PlaceType") not in PRECISE_PLACE_TYPES or not position or len(position) != 2:
        return None
    region = (item.get("Address", {}).get("Region", {}).get("Code") or "").upper()
    if region and region != area.region_code.upper():
        return None  # across a provincial or state line (Ottawa's "Bank St" for a Gatineau resident)
    point = Point(latitude=float(position[1]), longitude=float(position[0]))
    if not area.contains(point):
        return None
    return point, str(item.get("Address", {}).get("Label") or item.get("Title") or "")


# --- the local run ------------------------------------------------------------------------------

# Street types and their short forms, in English and French: "Main St" is "Main Street" is "Main".
_STREET_TYPES = frozenset(
    "street st avenue ave av road rd boulevard boul blvd bd drive dr crescent cres court ct lane ln way"
    " place pl rue chemin ch route promenade montee impasse croissant allee"
    .split()
)


def address_key(text: str) -> tuple[str, ...]:
    """The words of an address that name it, street types dropped: "12, rue Laurier" → ("12", "laurier")."""
    return tuple(w for w in words(text.replace("-", " ")) if w not in _STREET_TYPES)


def _intersection_key(query: str) -> frozenset[tuple[str, ...]]:
    return frozenset(address_key(street) for street in query.split("&"))


class AddressFileGeocoder:
    """Answers from a file of known addresses per city (``config/local-addresses.yaml``):

    ``{<geonameid>: [{address: "100 rue Laurier", latitude: 45.43, longitude: -75.71}, ...]}``; an
    intersection is written "Bank St & Somerset St". Unknown addresses, and any outside the city's
    area, get None, as Amazon Location's would."""

    def __init__(self, entries: Mapping[int, list[Mapping[str, Any]]]) -> None:
        self._addresses: dict[int, dict[tuple[str, ...], tuple[Point, str]]] = {}
        self._intersections: dict[int, dict[frozenset[tuple[str, ...]], tuple[Point, str]]] = {}
        for geonameid, listed in entries.items():
            for entry in listed:
                label = str(entry["address"])
                answer = (Point(float(entry["latitude"]), float(entry["longitude"])), label)
                if "&" in label:
                    self._intersections.setdefault(int(geonameid), {})[_intersection_key(label)] = answer
                else:
                    self._addresses.setdefault(int(geonameid), {})[address_key(label)] = answer

    @classmethod
    def from_file(cls, path: Path) -> AddressFileGeocoder:
        import yaml  # the local run's dependency, not the Lambda layer's

        return cls(yaml.safe_load(path.read_text(encoding="utf-8")) or {})

    def geocode(self, query: str, area: CityArea) -> tuple[Point, str] | None:
        if "&" in query:
            answer = self._intersections.get(area.geonameid, {}).get(_intersection_key(query))
        else:
            answer = self._addresses.get(area.geonameid, {}).get(address_key(query))
        if answer is None or not area.contains(answer[0]):
            return None
        return answer
