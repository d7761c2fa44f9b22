"""The directory file: its format, its writer (used by scripts/build_directory.py) and its loader.

The file is UTF-8 text, gzip-compressed, built once from GeoNames and shipped in the core
layer; a cold start reads it without touching the big dataset.

    line 1            text311-directory <TAB> <version> <TAB> <places> <TAB> <keys> <TAB> <source>
    line 2            geonameids, comma-separated, in row order
    next <places>     name, country, region, population, latitude, longitude, time zone,
                      alternate names joined by '|'   (tab-separated)
    next <keys>       normalised keys, shortest first
    next <keys>       for each key: row numbers of places with that name, ';', rows of places
                      with that alternate name (comma-separated)

Loading keeps rows as strings and parses a place only when it is asked for, so a cold start
costs one decompression and a few splits (see docs/directory.md for the figures).
"""

from __future__ import annotations

import bisect
import gzip
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cache, cached_property
from importlib import resources

from text311.directory.normalize import fold
from text311.directory.regions import region

MAGIC = "text311-directory"
VERSION = "1"
DATA_FILE = "directory.tsv.gz"


@dataclass(frozen=True, slots=True)
class Place:
    geonameid: int
    name: str
    ascii_name: str
    country: str  # "CA" | "US"
    region_code: str  # "ON", "QC", "NY"
    region_name: str
    region_name_fr: str
    population: int
    latitude: float
    longitude: float
    time_zone: str  # IANA, from GeoNames
    alternate_names: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return f"{self.name}, {self.region_code}"


@dataclass(frozen=True)
class Row:
    """A place as the build writes it."""

    geonameid: int
    name: str
    country: str
    region_code: str
    population: int
    latitude: float
    longitude: float
    time_zone: str
    alternate_names: tuple[str, ...]


def dumps(rows: Sequence[Row], keys: dict[str, tuple[list[int], list[int]]], source: str) -> bytes:
    """Serialise ``rows`` (ordered) and ``keys`` (key → (name rows, alternate-name rows))."""
    ordered = sorted(keys, key=lambda k: (len(k), k))
    lines = [
        "\t".join((MAGIC, VERSION, str(len(rows)), str(len(ordered)), source)),
        ",".join(str(r.geonameid) for r in rows),
    ]
    for r in rows:
        for text in (r.name, r.time_zone, *r.alternate_names):
            if any(c in text for c in "\t\n|"):
                raise ValueError(f"geonameid {r.geonameid}: field contains a separator: {text!r}")
        lines.append(
            "\t".join(
                (
                    r.name,
                    r.country,
                    r.region_code,
                    str(r.population),
                    f"{r.latitude:.5f}",
                    f"{r.longitude:.5f}",
                    r.time_zone,
                    "|".join(r.alternate_names),
                )
            )
        )
    lines.extend(ordered)
    for key in ordered:
        names, alternates = keys[key]
        lines.append(",".join(map(str, names)) + ";" + ",".join(map(str, alternates)))
    return gzip.compress(("\n".join(lines) + "\n").encode("utf-8"), compresslevel=9, mtime=0)


def _ints(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in text.split(",")) if text else ()


class Directory:
    """Every place, by row, by geonameid and by normalised name."""

    def __init__(self, data: bytes) -> None:
        lines = gzip.decompress(data).decode("utf-8").split("\n")
        magic, version, n_places, n_keys, self.source = lines[0].split("\t")
        if magic != MAGIC or version != VERSION:
            raise ValueError(f"not a {MAGIC} v{VERSION} file: {lines[0][:60]!r}")
        n, m = int(n_places), int(n_keys)
        self._id_line = lines[1]
        self._rows = lines[2 : 2 + n]
        self.keys: list[str] = lines[2 + n : 2 + n + m]
        self._postings = dict(zip(self.keys, lines[2 + n + m : 2 + n + 2 * m], strict=True))
        self._places: dict[int, Place] = {}

    # Built on first use: a cold start that resolves nothing by id or by typo does not pay for them.
    @cached_property
    def _ids(self) -> list[int]:
        return [int(x) for x in self._id_line.split(",")]

    @cached_property
    def _row_of(self) -> dict[int, int]:
        return dict(zip(self._ids, range(len(self._rows)), strict=True))

    @cached_property
    def _lengths(self) -> list[int]:
        return [len(k) for k in self.keys]

    def __len__(self) -> int:
        return len(self._rows)

    def place(self, row: int) -> Place:
        found = self._places.get(row)
        if found is None:
            name, country, code, population, lat, lon, tz, alternates = self._rows[row].split("\t")
            reg = region(country, code)
            found = Place(
                geonameid=self._ids[row],
                name=name,
                ascii_name=fold(name),
                country=country,
                region_code=code,
                region_name=reg.name if reg else code,
                region_name_fr=reg.name_fr if reg else code,
                population=int(population),
                latitude=float(lat),
                longitude=float(lon),
                time_zone=tz,
                alternate_names=tuple(alternates.split("|")) if alternates else (),
            )
            self._places[row] = found
        return found

    def by_id(self, geonameid: int) -> Place | None:
        row = self._row_of.get(geonameid)
        return None if row is None else self.place(row)

    def __iter__(self) -> Iterator[Place]:
        return (self.place(i) for i in range(len(self._rows)))

    def lookup(self, key: str) -> tuple[tuple[int, ...], tuple[int, ...]] | None:
        """Rows whose name is ``key``, and rows that have it as an alternate name."""
        posting = self._postings.get(key)
        if posting is None:
            return None
        names, _, alternates = posting.partition(";")
        return _ints(names), _ints(alternates)

    def keys_between(self, shortest: int, longest: int) -> list[str]:
        """Keys whose length is within [shortest, longest] (for typo matching)."""
        lo = bisect.bisect_left(self._lengths, shortest)
        hi = bisect.bisect_right(self._lengths, longest)
        return self.keys[lo:hi]


def read_bytes() -> bytes:
    return (resources.files("text311") / "data" / DATA_FILE).read_bytes()


@cache
def directory() -> Directory:
    """The shipped directory, loaded on first use and kept for the life of the container."""
    return Directory(read_bytes())
