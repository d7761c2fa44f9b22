"""Provinces, territories and states: codes, English and French names, GeoNames admin1 codes.

Data, not logic. GeoNames numbers Canada's first-order divisions ('08' is Ontario); the
directory stores the postal abbreviation instead, which is what residents write.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Region:
    country: str  # ISO 3166-1 alpha-2: "CA" or "US"
    code: str  # postal abbreviation: "ON", "QC", "NY"
    name: str  # English
    name_fr: str  # French
    aliases: tuple[str, ...] = ()  # other ways residents write it


# GeoNames admin1 code → (postal code, English, French, aliases)
_CANADA = {
    "01": ("AB", "Alberta", "Alberta", ("alta",)),
    "02": ("BC", "British Columbia", "Colombie-Britannique", ("cb",)),
    "03": ("MB", "Manitoba", "Manitoba", ()),
    "04": ("NB", "New Brunswick", "Nouveau-Brunswick", ()),
    "05": (
        "NL",
        "Newfoundland and Labrador",
        "Terre-Neuve-et-Labrador",
        ("newfoundland", "terre neuve", "nfld"),
    ),
    "07": ("NS", "Nova Scotia", "Nouvelle-Écosse", ()),
    "08": ("ON", "Ontario", "Ontario", ("ont",)),
    "09": ("PE", "Prince Edward Island", "Île-du-Prince-Édouard", ("pei", "ipe")),
    "10": ("QC", "Quebec", "Québec", ("que", "pq", "province de quebec")),
    "11": ("SK", "Saskatchewan", "Saskatchewan", ("sask",)),
    "12": ("YT", "Yukon", "Yukon", ("yukon territory",)),
    "13": ("NT", "Northwest Territories", "Territoires du Nord-Ouest", ("nwt", "tno")),
    "14": ("NU", "Nunavut", "Nunavut", ()),
}

# GeoNames uses the postal code as admin1 for the United States.
_STATES = {
    "AL": ("Alabama", "Alabama"),
    "AK": ("Alaska", "Alaska"),
    "AZ": ("Arizona", "Arizona"),
    "AR": ("Arkansas", "Arkansas"),
    "CA": ("California", "Californie"),
    "CO": ("Colorado", "Colorado"),
    "CT": ("Connecticut", "Connecticut"),
    "DE": ("Delaware", "Delaware"),
    "DC": ("District of Columbia", "District de Columbia"),
    "FL": ("Florida", "Floride"),
    "GA": ("Georgia", "Géorgie"),
    "HI": ("Hawaii", "Hawaï"),
    "ID": ("Idaho", "Idaho"),
    "IL": ("Illinois", "Illinois"),
    "IN": ("Indiana", "Indiana"),
    "IA": ("Iowa", "Iowa"),
    "KS": ("Kansas", "Kansas"),
    "KY": ("Kentucky", "Kentucky"),
    "LA": ("Louisiana", "Louisiane"),
    "ME": ("Maine", "Maine"),
    "MD": ("Maryland", "Maryland"),
    "MA": ("Massachusetts", "Massachusetts"),
    "MI": ("Michigan", "Michigan"),
    "MN": ("Minnesota", "Minnesota"),
    "MS": ("Mississippi", "Mississippi"),
    "MO": ("Missouri", "Missouri"),
    "MT": ("Montana", "Montana"),
    "NE": ("Nebraska", "Nebraska"),
    "NV": ("Nevada", "Nevada"),
    "NH": ("New Hampshire", "New Hampshire"),
    "NJ": ("New Jersey", "New Jersey"),
    "NM": ("New Mexico", "Nouveau-Mexique"),
    "NY": ("New York", "État de New York"),
    "NC": ("North Carolina", "Caroline du Nord"),
    "ND": ("North Dakota", "Dakota du Nord"),
    "OH": ("Ohio", "Ohio"),
    "OK": ("Oklahoma", "Oklahoma"),
    "OR": ("Oregon", "Oregon"),
    "PA": ("Pennsylvania", "Pennsylvanie"),
    "RI": ("Rhode Island", "Rhode Island"),
    "SC": ("South Carolina", "Caroline du Sud"),
    "SD": ("South Dakota", "Dakota du Sud"),
    "TN": ("Tennessee", "Tennessee"),
    "TX": ("Texas", "Texas"),
    "UT": ("Utah", "Utah"),
    "VT": ("Vermont", "Vermont"),
    "VA": ("Virginia", "Virginie"),
    "WA": ("Washington", "Washington"),
    "WV": ("West Virginia", "Virginie-Occidentale"),
    "WI": ("Wisconsin", "Wisconsin"),
    "WY": ("Wyoming", "Wyoming"),
}

REGIONS: dict[tuple[str, str], Region] = {}
for _code, _en, _fr, _aliases in _CANADA.values():
    REGIONS[("CA", _code)] = Region("CA", _code, _en, _fr, _aliases)
for _code, (_en, _fr) in _STATES.items():
    REGIONS[("US", _code)] = Region("US", _code, _en, _fr)

GEONAMES_ADMIN1_CA: dict[str, str] = {admin1: values[0] for admin1, values in _CANADA.items()}

# Words that name a served country, normalised (see text311.directory.normalize).
COUNTRY_WORDS: dict[str, str] = {
    "canada": "CA",
    "usa": "US",
    "us": "US",
    "u s": "US",
    "u s a": "US",
    "united states": "US",
    "united states of america": "US",
    "america": "US",
    "etats unis": "US",
    "e u": "US",
}


def region(country: str, code: str) -> Region | None:
    return REGIONS.get((country, code))


def geonames_region(country: str, admin1: str) -> str | None:
    """Postal code of a GeoNames admin1 code, or None when it is not a province or state we list."""
    if country == "CA":
        return GEONAMES_ADMIN1_CA.get(admin1)
    if country == "US":
        return admin1 if ("US", admin1) in REGIONS else None
    return None
