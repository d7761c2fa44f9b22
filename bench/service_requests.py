"""Service request bench (issue 20): the category suggestion and the place read from residents' texts.

    .venv/bin/python bench/service_requests.py [--all-misses]

Cases: bench/service_requests/<language>.tsv, resident texts written by hand the way people text 311 (SMS spelling,
no accents, typos, several problems at once, thanks and opening-hours questions, map links, geo: URIs,
coordinates, civic addresses and intersections), one a line, tab-separated:

    set       train | heldout   (held-out texts were written after the bench first ran; never tune on them)
    service   the expected service_code of the default list, several joined by "|" when a text reports
              several problems (any of them is right), or "none" (no request: "thanks", "when are you open")
    kind      point | address | intersection | none
    location  point "lat,lon"; address as written ("245 Main St"); intersection "A & B" (its two streets
              as written); empty for none. A street or place named without a civic number is "none":
              the product has no kind for it.
    text      what the resident wrote

The bench runs what the product runs for each text: ``RequestHints.for_text`` (text311.request_hints) with a
city holding the default services (``Subscriber.services``' default) and the resident's language (the file's),
without a geocoder, so an address or intersection stays words, as when ``GEOCODER`` is empty.

Figures, per language and set: texts with a suggestion, precision when it suggests, recall on texts that have
a category; for the place: share found on texts that name one, exact-match precision by kind (the kind claimed
and, after folding case, accents and punctuation, the same point to 1e-6 degrees, address text or pair of
streets), places claimed in texts naming none, and points claimed that the text does not hold (must be 0).

Before / after: bench/service_requests/keywords_added.json lists the keywords added to the default list because of
training cases (each with the case ids that justify it); "before" is the default list without them.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT / "layers" / "core" / "python")]

from text311.city_services import Service, ServiceText, _score, _tokens, default_services  # noqa: E402
from text311.geo import Point  # noqa: E402
from text311.location import FoundLocation  # noqa: E402
from text311.request_hints import RequestHint, RequestHints  # noqa: E402
from text311.subscribers import Subscriber  # noqa: E402

CASES = HERE / "service_requests"
ADDITIONS = CASES / "keywords_added.json"
COLUMNS = ("set", "service", "kind", "location", "text")
SETS = ("train", "heldout")
KINDS = ("point", "address", "intersection", "none")
NO_SERVICE = "none"
POINT_TOLERANCE = 1e-6


@dataclass(frozen=True)
class Case:
    id: str  # "<language>:<line>"
    language: str
    set: str
    services: frozenset[str]  # empty: no request
    kind: str
    location: str
    text: str


class CaseError(ValueError):
    """A case file line that is not a valid case; the message names the file and line."""


def load_cases(folder: Path = CASES) -> list[Case]:
    cases: list[Case] = []
    for path in sorted(folder.glob("*.tsv")):
        with path.open(encoding="utf-8", newline="") as handle:
            rows = csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
            header = next(rows)
            if tuple(header) != COLUMNS:
                raise CaseError(f"{path.name}: header must be {COLUMNS}, not {header}")
            for line, row in enumerate(rows, start=2):
                if not row:
                    continue
                where = f"{path.name}:{line}"
                if len(row) != len(COLUMNS):
                    raise CaseError(f"{where}: {len(row)} columns, {len(COLUMNS)} expected")
                data = dict(zip(COLUMNS, row, strict=True))
                services = frozenset(data["service"].split("|")) - {NO_SERVICE}
                cases.append(
                    Case(
                        f"{path.stem}:{line}",
                        path.stem,
                        data["set"],
                        services,
                        data["kind"],
                        data["location"],
                        data["text"],
                    )
                )
    return cases


def expected_point(case: Case) -> Point:
    latitude, longitude = (float(v) for v in case.location.split(","))
    return Point(latitude, longitude)


def fold(text: str) -> str:
    """Case, accents, punctuation and spacing left out: "245 Main St." is "245 main st"."""
    bare = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c)).lower()
    return " ".join("".join(c if c.isalnum() or c in "-'" else " " for c in bare).split())


def streets(location: str) -> frozenset[str]:
    return frozenset(fold(s) for s in location.split("&"))


def exact(case: Case, found: FoundLocation) -> bool:
    if found.kind != case.kind:
        return False
    if found.kind == "point":
        want = expected_point(case)
        return found.point is not None and holds(found.point, [want])
    if found.kind == "intersection":
        return frozenset(fold(s) for s in found.streets) == streets(case.location)
    return fold(found.text) == fold(case.location)


def holds(point: Point, points: Iterable[Point]) -> bool:
    return any(
        abs(point.latitude - p.latitude) <= POINT_TOLERANCE and abs(point.longitude - p.longitude) <= POINT_TOLERANCE
        for p in points
    )


def point_not_in_text(case: Case, found: FoundLocation | None) -> bool:
    """A point the text does not hold: claimed where the label has no point, or a different one."""
    if found is None or found.point is None:
        return False
    return case.kind != "point" or not holds(found.point, [expected_point(case)])


# --- the product's composition ------------------------------------------------------------------


def city(services: Sequence[Service]) -> Subscriber:
    """A bilingual city (Gatineau's directory entry) holding ``services``."""
    return Subscriber(
        geonameid=5959974,
        display_name="Gatineau",
        country="CA",
        region_code="10",
        contact_emails=("311@gatineau.example",),
        agent_allow_list=("@gatineau.example",),
        time_zone="America/Toronto",
        languages=("en", "fr"),
        services=tuple(services),
    )


def without_additions(services: Sequence[Service], additions: dict[str, dict[str, list[dict]]]) -> list[Service]:
    """The default list as it was before keywords_added.json's additions."""
    result = []
    for service in services:
        added = additions.get(service.service_code, {})
        languages = {}
        for language, text in service.languages.items():
            drop = {entry["keyword"] for entry in added.get(language, [])}
            languages[language] = ServiceText(
                text.service_name, text.description, text.group, tuple(k for k in text.keywords if k not in drop)
            )
        result.append(replace(service, languages=languages))
    return result


def load_additions() -> dict[str, dict[str, list[dict]]]:
    return json.loads(ADDITIONS.read_text(encoding="utf-8"))["additions"] if ADDITIONS.exists() else {}


Run = Callable[[Case], RequestHint]


def runner(services: Sequence[Service]) -> Run:
    hints, subscriber = RequestHints(geocoder=None), city(services)
    return lambda case: hints.for_text(case.text, case.language, subscriber)


# --- figures ------------------------------------------------------------------------------------


@dataclass
class Outcome:
    case: Case
    hint: RequestHint

    @property
    def suggested(self) -> str | None:
        return self.hint.service.service_code if self.hint.service else None

    @property
    def right_service(self) -> bool:
        return self.suggested in self.case.services


def ratio(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f} % ({part}/{whole})" if whole else "n/a"


def service_row(outcomes: list[Outcome]) -> list[str]:
    suggested = [o for o in outcomes if o.suggested]
    labelled = [o for o in outcomes if o.case.services]
    return [
        ratio(len(suggested), len(outcomes)),
        ratio(sum(o.right_service for o in suggested), len(suggested)),
        ratio(sum(o.right_service for o in labelled), len(labelled)),
    ]


def location_row(outcomes: list[Outcome]) -> list[str]:
    naming = [o for o in outcomes if o.case.kind != "none"]
    cells = [ratio(sum(o.hint.location is not None for o in naming), len(naming))]
    for kind in KINDS[:-1]:
        claimed = [o for o in outcomes if o.hint.location is not None and o.hint.location.kind == kind]
        cells.append(ratio(sum(exact(o.case, o.hint.location) for o in claimed), len(claimed)))  # type: ignore[arg-type]
    silent = [o for o in outcomes if o.case.kind == "none"]
    cells.append(ratio(sum(o.hint.location is not None for o in silent), len(silent)))
    cells.append(str(sum(point_not_in_text(o.case, o.hint.location) for o in outcomes)))
    return cells


def groups(outcomes: list[Outcome]) -> list[tuple[tuple[str, str], list[Outcome]]]:
    rows = []
    for set_name in (*SETS, "all"):
        in_set = [o for o in outcomes if set_name in ("all", o.case.set)]
        for language in (*sorted({o.case.language for o in outcomes}), "both"):
            rows.append(((set_name, language), [o for o in in_set if language in ("both", o.case.language)]))
    return rows


def table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> None:
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(row) + " |")


def matched_keywords(text: str, service: Service) -> list[str]:
    """Diagnostics only (the figures come from suggest_service): the service's keywords, in any of its
    languages, that the suggestion's own scoring finds in the text, one typo forgiven."""
    tokens = _tokens(text)
    return [
        f"{keyword} ({language})"
        for language, words in service.languages.items()
        for keyword in words.keywords
        if _score([keyword], tokens)
    ]


def misses(outcomes: list[Outcome], services: Sequence[Service], limit: int | None) -> None:
    by_code = {s.service_code: s for s in services}
    train = [o for o in outcomes if o.case.set == "train"]
    wrong = [o for o in train if o.suggested and not o.right_service]
    missed = [o for o in train if o.case.services and not o.suggested]
    places = [
        o
        for o in train
        if (o.case.kind == "none") != (o.hint.location is None)
        or (o.hint.location is not None and not exact(o.case, o.hint.location))
    ]
    held = sum(1 for o in outcomes if o.case.set == "heldout" and (o.suggested and not o.right_service))
    print(f"\nWorst misses, training cases only ({held} wrong suggestions on held-out texts are not shown):")
    for title, chosen in (
        ("wrong category suggested", wrong),
        ("no category for a request", missed),
        ("place wrong or missed", places),
    ):
        print(f"\n{title}: {len(chosen)}")
        for o in chosen[:limit]:
            want = "|".join(sorted(o.case.services)) or NO_SERVICE
            print(f"  {o.case.id}  {o.case.text}")
            if title == "place wrong or missed":
                got = o.hint.location
                shown = f"{got.kind} {got.streets or got.text!r}" if got else "none"
                print(f"      expected {o.case.kind} {o.case.location!r}; read {shown}")
                continue
            print(f"      expected {want}; suggested {o.suggested or 'nothing'}")
            if o.suggested:
                matched = ", ".join(matched_keywords(o.case.text, by_code[o.suggested]))
                print(f"      matched {o.suggested} keywords: {matched}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--all-misses", action="store_true", help="print every training miss, not the first 12")
    args = parser.parse_args()
    cases = load_cases()
    after = list(default_services())
    additions = load_additions()
    lists = [("before", without_additions(after, additions)), ("after", after)] if additions else [("", after)]
    print(f"{len(cases)} cases: " + ", ".join(f"{s} {sum(c.set == s for c in cases)}" for s in SETS) + "\n")
    results = {}
    for name, services in lists:
        run = runner(services)
        results[name] = [Outcome(case, run(case)) for case in cases]
    header = ["set", "language", "texts"]
    print(
        "Category (suggest_service, the resident's language, the default list"
        + (
            f"; before / after {sum(len(v) for a in additions.values() for v in a.values())} keyword additions)"
            if additions
            else ")"
        )
    )
    rows = []
    for label, chosen in groups(results[lists[-1][0]]):
        cells = [*label, str(len(chosen))]
        figures = [service_row([o for o in results[name] if o.case in {x.case for x in chosen}]) for name, _ in lists]
        cells += [" → ".join(values) for values in zip(*figures, strict=True)]
        rows.append(cells)
    table([*header, "with a suggestion", "precision when suggesting", "recall on requests"], rows)
    print("\nPlace (find_location as request_hints reads it, no geocoder)")
    table(
        [
            *header,
            "found, of texts naming one",
            "exact: point",
            "exact: address",
            "exact: intersection",
            "claimed in texts naming none",
            "points not in the text",
        ],
        ([*label, str(len(chosen)), *location_row(chosen)] for label, chosen in groups(results[lists[-1][0]])),
    )
    misses(results[lists[-1][0]], after, None if args.all_misses else 12)


if __name__ == "__main__":
    main()
