"""Points on the map and the area a city answers for: what geocoders and location parsing share."""

from __future__ import annotations

import math
from dataclasses import dataclass

# A city's reach from its GeoNames point: wide enough for Gatineau or Ottawa (about 40 km across
# their rural edges from the centre), narrow enough that a namesake street in another city is refused.
DEFAULT_RADIUS_KM = 40.0
_EARTH_RADIUS_KM = 6371.0088


@dataclass(frozen=True)
class Point:
    latitude: float
    longitude: float


def distance_km(a: Point, b: Point) -> float:
    """Great-circle (haversine) distance."""
    lat1, lat2 = math.radians(a.latitude), math.radians(b.latitude)
    dlat, dlon = lat2 - lat1, math.radians(b.longitude - a.longitude)
    h = math.sin(dlat / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin(dlon / 2) ** 2
    return 2 * _EARTH_RADIUS_KM * math.asin(math.sqrt(h))


@dataclass(frozen=True)
class CityArea:
    """Where a city's addresses may be: its centre and reach, its country and province or state."""

    geonameid: int
    name: str
    country: str  # ISO 3166-1 alpha-2
    region_code: str  # "QC", "ON", "VT"
    centre: Point
    language: str = "en"
    radius_km: float = DEFAULT_RADIUS_KM

    def contains(self, point: Point) -> bool:
        return distance_km(self.centre, point) <= self.radius_km


def city_area(geonameid: int, language: str = "en", radius_km: float = DEFAULT_RADIUS_KM) -> CityArea | None:
    """A subscribing city's area from its directory entry; None for an id the directory lacks."""
    from text311.directory import place_by_id  # the directory is loaded only when an area is needed

    place = place_by_id(geonameid)
    if place is None:
        return None
    return CityArea(
        geonameid=place.geonameid,
        name=place.name,
        country=place.country,
        region_code=place.region_code,
        centre=Point(place.latitude, place.longitude),
        language=language,
        radius_km=radius_km,
    )
