"""The municipality directory: every populated place of Canada and the United States, and the
resolver that turns a resident's answer to "Which municipality are you in?" into one of them.

Public API (other parts and tests rely on it):

    resolve_municipality(text, country=None, *, phone=None, served=()) -> Resolution
    place_by_id(geonameid) -> Place | None
    directory() -> Directory            (loaded lazily from the shipped file, cached)

``country`` and ``phone`` are hints about where the resident is (from their number); they
break ties between same-name places and never override what the resident wrote. ``served``, the
countries the deployment serves, keeps a dominant place outside them from being taken without
asking. See docs/directory.md.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache

from text311.directory.resolver import CHOOSE, MATCH, NONE, Hint, Resolution, Resolver, hint_from
from text311.directory.store import Directory, Place, directory

__all__ = [
    "CHOOSE",
    "MATCH",
    "NONE",
    "Directory",
    "Hint",
    "Place",
    "Resolution",
    "Resolver",
    "directory",
    "hint_from",
    "place_by_id",
    "resolve_municipality",
]


@cache
def _resolver() -> Resolver:
    return Resolver(directory())


def resolve_municipality(
    text: str, country: str | None = None, *, phone: str | None = None, served: Iterable[str] = ()
) -> Resolution:
    """Resolve a resident's free-text answer to a place ("match"), up to five ("choose") or nothing
    ("none"). ``country`` ("CA"/"US"), ``phone`` (E.164) and ``served`` (the deployment's
    countries) are optional hints."""
    return _resolver().resolve(text, hint_from(country, phone, served))


def place_by_id(geonameid: int) -> Place | None:
    return directory().by_id(int(geonameid))
