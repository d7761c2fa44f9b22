"""Municipality resolver bench (issue 4): the resolver beside a naive fuzzy baseline, same queries.

    .venv/bin/python bench/resolver.py [--seed N] [--per-category N]

Queries are generated from the shipped directory with a fixed seed, each labelled with the place
it means (or none):

- ``exact``, ``lowercase``, ``no_accents``, ``typo`` (one edit: insert, delete, substitute or
  swap two letters; never a string that is itself some place's name), ``abbreviation``
  (Saint↔St, Sainte↔Ste, Mount↔Mt, Fort↔Ft) and ``sentence`` (the name inside an English or French
  sentence, some of them requests): from places whose name no other place shares, uniformly over
  places (small towns weigh as much as cities: the hard case);
- ``with_province``: any place, with its province/state as a code, an English or a French name,
  where that pair is unique;
- ``ambiguous``: bare names that several places share; the truth is drawn within the name in
  proportion to population (who is likely to be texting); ``ambiguous+phone``: the same with a
  phone number from the truth's province or state (the resident's own number);
- ``non_place``: requests and replies that name no municipality, many with a real place name used
  as a street ('pothole on Kingston Rd', 'rue Sherbrooke').

Namesake families (issue 18), generated another way: not from a sample of places but by walking
the directory's shared names, grouped by where the namesakes lie; each name said in a sentence of
its own set (``NAMESAKE_SENTENCES``), a name drawn uniformly, then its truth uniformly among the
namesakes (the resident of the small one counts as much as the resident of the big one), the phone
from the truth's own province or state:

- ``border``: names found in both Canada and the United States ('Houston', 'Dundalk');
- ``province``: names found in two provinces or states of one country ('Saint-Léonard');
- ``borough``: names one of whose places lies within ``BOROUGH_KM`` of a place ``BOROUGH_RATIO``
  times bigger (a borough or suburb of a city: Ville-Marie, Saint-Léonard in Montréal), against
  namesakes anywhere, the same province included;
- ``moved``: a border name; the phone is from a province or state of the truth's country where
  no place has that name (a number kept after moving), so only its country hints;
- ``no_phone``: a border name, no phone at all, in a deployment serving only the truth's country
  (``served``). In these two the truth is drawn within its country in proportion to population.

Their figures: right (match = truth), wrong-confident (a match that is not the truth), asked
('choose'), choose has truth, missed ('none'); the baseline's wrong-confident beside.

Figures: accuracy = matched the truth, over queries whose text settles the place (all but
``ambiguous*`` and ``non_place``); wrong-confident = a match that is not the truth (any match of a
non-place), over all queries; needless follow-up = 'choose' where the text settles the place or
names none; choose-has-truth = the truth is among the choices, over 'choose' answers with a truth
(their number is printed: with 300 queries per category it is ~300 and the ratio moves ±1 point by seed);
asked = 'choose' over all queries of the category;
latency per query, in process, warm. Baseline: ``rapidfuzz.process.extractOne`` with WRatio ≥ 85
over the same directory's names (a match or nothing; a name shared by several places maps to the
most populous). Cold start: loading the directory file in a fresh interpreter (time, and peak
Python memory by tracemalloc).
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

from rapidfuzz import fuzz, process, utils

from text311.area_codes import AREA_CODE_REGIONS
from text311.directory import Place, Resolution, directory, resolve_municipality
from text311.directory.normalize import fold, normalize
from text311.directory.resolver import _REGION_NAMES
from text311.directory.words import COMMON

UNAMBIGUOUS = ("exact", "lowercase", "no_accents", "typo", "abbreviation", "with_province", "sentence")
CATEGORIES = (*UNAMBIGUOUS, "ambiguous", "ambiguous+phone", "non_place")


@dataclass(frozen=True)
class Query:
    category: str
    text: str
    truth: Place | None
    phone: str | None = None
    served: tuple[str, ...] = ()  # the deployment's countries; empty: both


SENTENCES = (
    "I'm in {}",
    "hi, I live in {}",
    "{} please",
    "from {}",
    "it's {}",
    "the city of {}",
    "bonjour je suis à {}",
    "j'habite à {}",
    "c'est {}",
    "ville de {}",
    "there's a pothole on my street in {}",
    "nid de poule devant chez moi à {}",
    "{}, garbage not picked up",
)
NON_PLACES = (
    "pothole on main st",
    "help",
    "yes",
    "stop",
    "no",
    "ok",
    "thanks",
    "hello",
    "bonjour",
    "merci",
    "oui",
    "info",
    "what?",
    "I don't know",
    "je ne sais pas",
    "who is this",
    "garbage not collected",
    "streetlight out on elm",
    "the water is brown",
    "my dog is lost",
    "noise complaint",
    "there is a huge pothole",
    "nid de poule",
    "les ordures n'ont pas été ramassées",
    "snow removal please",
    "tree down on the road",
    "can you help me",
    "test",
    "hi",
    "ok thanks",
)
STREET_TEMPLATES = (
    "pothole on {} St",
    "broken light on {} Road",
    "nid de poule sur la rue {}",
    "garbage not collected on {} Ave",
    "accident at {} Blvd",
    "déneigement chemin {}",
)


def _typo(rng: random.Random, name: str) -> str:
    letters = "abcdefghijklmnopqrstuvwxyz"
    positions = [i for i, c in enumerate(name) if c.isalpha()]
    i = rng.choice(positions[1:-1] or positions)
    kind = rng.choice(("insert", "delete", "substitute", "swap"))
    if kind == "insert":
        return name[:i] + rng.choice(letters) + name[i:]
    if kind == "delete":
        return name[:i] + name[i + 1 :]
    if kind == "substitute":
        return name[:i] + rng.choice(letters.replace(name[i].lower(), "")) + name[i + 1 :]
    if i + 1 < len(name) and name[i + 1].isalpha() and name[i + 1] != name[i]:
        return name[:i] + name[i + 1] + name[i] + name[i + 2 :]
    return name[:i] + name[i + 1 :]


_ABBREVIATIONS = (
    ("Saint-", "St-"),
    ("Saint ", "St. "),
    ("Sainte-", "Ste-"),
    ("Sainte ", "Ste. "),
    ("Mount ", "Mt. "),
    ("Fort ", "Ft. "),
    ("St. ", "Saint "),
    ("Ste. ", "Sainte "),
    ("St-", "Saint-"),
    ("Ste-", "Sainte-"),
    ("Mt. ", "Mount "),
)


def _abbreviated(name: str) -> str | None:
    for long, short in _ABBREVIATIONS:
        if long in name:
            return name.replace(long, short, 1)
    return None


def build_queries(seed: int, per_category: int) -> list[Query]:
    rng = random.Random(seed)
    d = directory()
    places = list(d)
    by_key: dict[str, list[Place]] = defaultdict(list)
    for p in places:
        by_key[normalize(p.name)].append(p)

    def alone(p: Place) -> bool:
        key = normalize(p.name)
        names, alternates = d.lookup(key) or ((), ())
        return len(set(names) | set(alternates)) == 1 and key not in _REGION_NAMES

    unique = [p for p in places if alone(p)]
    pairs: dict[tuple[str, str], int] = defaultdict(int)
    for p in places:
        pairs[(normalize(p.name), p.region_code)] += 1
    area_codes: dict[str, list[str]] = defaultdict(list)
    for code, regions in sorted(AREA_CODE_REGIONS.items()):
        for region in regions:
            area_codes[region].append(code)

    queries: list[Query] = []

    def add(category: str, make: Callable[[], Query | None]) -> None:
        made, tries = 0, 0
        while made < per_category and tries < per_category * 50:
            tries += 1
            query = make()
            if query is not None:
                queries.append(query)
                made += 1

    def pick(pool: list[Place]) -> Place:
        return rng.choice(pool)

    add("exact", lambda: (lambda p: Query("exact", p.name, p))(pick(unique)))
    add("lowercase", lambda: (lambda p: Query("lowercase", p.name.lower(), p))(pick(unique)))
    accented = [p for p in unique if fold(p.name) != p.name.lower()]
    add("no_accents", lambda: (lambda p: Query("no_accents", p.ascii_name.title(), p))(pick(accented)))

    def typo() -> Query | None:
        p = pick([u for u in unique if len(u.ascii_name) >= 5] or unique)
        text = _typo(rng, p.ascii_name)
        if d.lookup(normalize(text)) is not None or normalize(text) == normalize(p.name):
            return None
        return Query("typo", text, p)

    add("typo", typo)
    abbreviable = [p for p in unique if _abbreviated(p.name)]
    add(
        "abbreviation",
        lambda: (lambda p: Query("abbreviation", _abbreviated(p.name) or p.name, p))(pick(abbreviable)),
    )

    def with_province() -> Query | None:
        p = pick(places)
        if pairs[(normalize(p.name), p.region_code)] != 1:
            return None
        form = rng.choice(("{n}, {c}", "{n} {c}", "{n}, {en}", "{n} ({c})", "{n}, {fr}", "{n} {en}"))
        return Query(
            "with_province", form.format(n=p.name, c=p.region_code, en=p.region_name, fr=p.region_name_fr), p
        )

    add("with_province", with_province)

    def sentence() -> Query:
        p = pick(unique)
        return Query("sentence", rng.choice(SENTENCES).format(p.name), p)

    add("sentence", sentence)
    shared = sorted(k for k, v in by_key.items() if len(v) > 1 and k not in _REGION_NAMES and k not in COMMON)

    def ambiguous(with_phone: bool) -> Query:
        group = by_key[rng.choice(shared)]
        truth = rng.choices(group, weights=[max(p.population, 500) for p in group])[0]
        phone = None
        if with_phone and area_codes.get(truth.region_code):
            phone = f"+1{rng.choice(area_codes[truth.region_code])}5550123"
        return Query("ambiguous+phone" if with_phone else "ambiguous", rng.choice(group).name, truth, phone)

    add("ambiguous", lambda: ambiguous(False))
    add("ambiguous+phone", lambda: ambiguous(True))
    non_places = [Query("non_place", t, None) for t in NON_PLACES]
    streets = [p for p in places if p.population >= 20_000]
    while len(non_places) < per_category:
        non_places.append(Query("non_place", rng.choice(STREET_TEMPLATES).format(pick(streets).name), None))
    queries.extend(non_places[:per_category])
    return queries


NAMESAKE_FAMILIES = ("border", "province", "borough", "moved", "no_phone")
NAMESAKE_SENTENCES = (
    "{}",
    "I'm in {}",
    "{}, pothole on main",
    "je suis à {}",
    "hello from {}",
    "streetlight out in {}",
    "{} here, the garbage was not picked up",
    "j'habite {}",
)
BOROUGH_KM = 15.0
BOROUGH_RATIO = 10


def _km(a: Place, b: Place) -> float:
    lat1, lon1, lat2, lon2 = map(math.radians, (a.latitude, a.longitude, b.latitude, b.longitude))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6371.0 * math.asin(min(1.0, math.sqrt(h)))


def _inside_a_bigger_place(places: list[Place]) -> set[int]:
    """Geonameids of places within BOROUGH_KM of a place BOROUGH_RATIO times bigger (a grid of
    one-degree cells keeps this to neighbours)."""
    cells: dict[tuple[int, int], list[Place]] = defaultdict(list)
    for p in places:
        cells[(math.floor(p.latitude), math.floor(p.longitude))].append(p)
    inside = set()
    for p in places:
        lat, lon = math.floor(p.latitude), math.floor(p.longitude)
        near = (q for dy in (-1, 0, 1) for dx in (-1, 0, 1) for q in cells.get((lat + dy, lon + dx), ()))
        if any(q.population >= BOROUGH_RATIO * max(p.population, 1) and _km(p, q) <= BOROUGH_KM for q in near):
            inside.add(p.geonameid)
    return inside


def build_namesake_queries(seed: int, per_family: int) -> list[Query]:
    """Names shared by places in different countries, provinces, or a borough and a town, walked
    from the directory's own groups of namesakes (see the module's docstring)."""
    rng = random.Random(seed)
    places = list(directory())
    groups: dict[str, list[Place]] = defaultdict(list)
    for p in places:
        groups[normalize(p.name)].append(p)
    shared = [sorted(g, key=lambda p: p.geonameid) for _, g in sorted(groups.items()) if len(g) > 1]
    area_codes: dict[str, list[str]] = defaultdict(list)
    for code, regions in sorted(AREA_CODE_REGIONS.items()):
        for region in regions:
            area_codes[region].append(code)
    regions_of: dict[str, list[str]] = defaultdict(list)
    for country, code in sorted({(p.country, p.region_code) for p in places}):
        if area_codes.get(code):
            regions_of[country].append(code)
    boroughs = _inside_a_bigger_place(places)

    def phone_in(region: str) -> str | None:
        return f"+1{rng.choice(area_codes[region])}5550123" if area_codes.get(region) else None

    def other_province(truth: Place, group: list[Place]) -> bool:
        return any(p.country == truth.country and p.region_code != truth.region_code for p in group)

    own_region: dict[str, list[tuple[Place, list[Place]]]] = {
        "border": [(t, g) for g in shared if len({p.country for p in g}) > 1 for t in g],
        "province": [(t, g) for g in shared for t in g if other_province(t, g)],
        "borough": [(t, g) for g in shared if any(p.geonameid in boroughs for p in g) for t in g],
    }
    border_groups = [g for g in shared if len({p.country for p in g}) > 1]
    queries: list[Query] = []

    def country_level(family: str) -> Query | None:
        """A border name, a country drawn, and a place of that country in proportion to its people
        (who is likely to be texting): the hint is no finer than the country."""
        group = rng.choice(border_groups)
        country = rng.choice(sorted({p.country for p in group}))
        mine = [p for p in group if p.country == country]
        truth = rng.choices(mine, weights=[max(p.population, 500) for p in mine])[0]
        text = rng.choice(NAMESAKE_SENTENCES).format(truth.name)
        if family == "no_phone":
            return Query(family, text, truth, None, (country,))
        taken = {p.region_code for p in group}  # an area code serving none of them (902 serves NS and PE)
        elsewhere = [c for r in regions_of[country] for c in area_codes[r] if not AREA_CODE_REGIONS[c] & taken]
        return Query(family, text, truth, f"+1{rng.choice(elsewhere)}5550123") if elsewhere else None

    for family in NAMESAKE_FAMILIES:
        if family not in own_region:
            made = 0
            while made < per_family:
                query = country_level(family)
                if query is not None:
                    queries.append(query)
                    made += 1
            continue
        by_name: dict[str, list[Place]] = defaultdict(list)  # a name drawn first, then its place:
        for truth, group in own_region[family]:  # Springfield's 30 places weigh as one name
            by_name[normalize(group[0].name)].append(truth)
        names = sorted(by_name)
        made = 0
        while made < per_family:
            truth = rng.choice(by_name[rng.choice(names)])
            phone = phone_in(truth.region_code)
            if phone is not None:
                queries.append(Query(family, rng.choice(NAMESAKE_SENTENCES).format(truth.name), truth, phone))
                made += 1
    return queries


class Baseline:
    """extractOne(WRatio ≥ 85) over every place name; a shared name maps to its most populous place."""

    def __init__(self) -> None:
        best: dict[str, Place] = {}
        for p in directory():
            current = best.get(p.name)
            if current is None or p.population > current.population:
                best[p.name] = p
        self.places = list(best.values())
        self.names = [utils.default_process(p.name) for p in self.places]

    def resolve(self, text: str) -> Resolution:
        found = process.extractOne(
            utils.default_process(text), self.names, scorer=fuzz.WRatio, score_cutoff=85, processor=None
        )
        if found is None:
            return Resolution("none")
        return Resolution("match", self.places[found[2]])


@dataclass
class Score:
    n: int = 0
    settled: int = 0
    correct: int = 0
    wrong: int = 0
    needless_base: int = 0
    needless: int = 0
    chose: int = 0
    chose_truth: int = 0
    missed: int = 0
    right: int = 0  # a match that is the truth, settled or not
    asked: int = 0  # 'choose', over all queries
    nothing: int = 0  # 'none', over all queries


def score(queries: list[Query], answers: list[Resolution]) -> dict[str, Score]:
    table: dict[str, Score] = defaultdict(Score)
    for q, a in zip(queries, answers, strict=True):
        for key in (q.category, "all"):
            s = table[key]
            s.n += 1
            settled = q.category in UNAMBIGUOUS
            s.settled += settled
            s.asked += a.status == "choose"
            s.nothing += a.status == "none"
            if a.status == "match":
                if q.truth is not None and a.match is not None and a.match.geonameid == q.truth.geonameid:
                    s.correct += settled
                    s.right += 1
                else:
                    s.wrong += 1
            if settled or q.truth is None:
                s.needless_base += 1
                s.needless += a.status == "choose"
            if settled and a.status == "none":
                s.missed += 1
            if a.status == "choose" and q.truth is not None:
                s.chose += 1
                s.chose_truth += any(c.geonameid == q.truth.geonameid for c in a.choices)
    return table


def timed(
    resolve: Callable[[Query], Resolution], queries: list[Query]
) -> tuple[list[Resolution], list[float]]:
    answers, seconds = [], []
    for q in queries:
        start = time.perf_counter()
        answers.append(resolve(q))
        seconds.append(time.perf_counter() - start)
    return answers, seconds


def pct(a: int, b: int) -> str:
    return f"{100 * a / b:6.2f} %" if b else "     n/a"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


COLD_START = """
import time, tracemalloc, sys
measure_memory = sys.argv[1] == "memory"
if measure_memory:
    tracemalloc.start()
start = time.perf_counter()
from text311.directory import directory, resolve_municipality
imported = time.perf_counter()
directory()
loaded = time.perf_counter()
resolve_municipality("Gatineau")
first = time.perf_counter()
if measure_memory:
    print(tracemalloc.get_traced_memory()[1], 0, 0)
else:
    print(imported - start, loaded - imported, first - loaded)
"""


def _cold(mode: str) -> list[float]:
    out = subprocess.run([sys.executable, "-c", COLD_START, mode], capture_output=True, text=True, check=True)
    return [float(x) for x in out.stdout.split()]


def cold_start(runs: int = 7) -> tuple[list[float], float]:
    """Median import, load and first-resolution times in fresh interpreters, and peak memory."""
    times = [_cold("time") for _ in range(runs)]
    medians = [statistics.median(t[i] for t in times) for i in range(3)]
    return medians, _cold("memory")[0]


def resolve(q: Query) -> Resolution:
    return resolve_municipality(q.text, phone=q.phone, served=q.served)


def print_errors(queries: list[Query], answers: list[Resolution]) -> None:
    print("\nwrong-confident / missed / choose without truth:")
    for q, r in zip(queries, answers, strict=True):
        bad = r.status == "match" and (q.truth is None or r.match is None or r.match.geonameid != q.truth.geonameid)
        bad |= q.category in UNAMBIGUOUS and r.status != "match"
        bad |= r.status == "choose" and q.truth is not None and q.truth not in r.choices
        if bad:
            got = r.match.label if r.match else [c.label for c in r.choices]
            print(
                f"  [{q.category}] {q.text!r} ({q.phone}, served {q.served or 'all'}) → {r.status} {r.reason} "
                f"{got}; truth {q.truth.label if q.truth else None}"
            )


def main_bench(args: argparse.Namespace) -> None:
    (import_s, load_s, first_s), peak_bytes = cold_start()
    queries = build_queries(args.seed, args.per_category)
    resolve_municipality("warm up")
    ours, our_times = timed(resolve, queries)
    baseline = Baseline()
    theirs, their_times = timed(lambda q: baseline.resolve(q.text), queries)
    mine, base = score(queries, ours), score(queries, theirs)

    print(
        f"Municipality resolver bench: {len(queries)} queries, seed {args.seed}, "
        f"directory {len(directory())} places"
    )
    print(
        f"cold start: load {1000 * load_s:.1f} ms (target ≤ 50), peak Python memory "
        f"{peak_bytes / 1e6:.1f} MB (≤ 50); import of text311.directory {1000 * import_s:.1f} ms, "
        f"first resolution {1000 * first_s:.1f} ms\n"
    )
    header = f"{'':26}{'resolver':>12}{'baseline':>12}   target"
    print(header)
    print("-" * len(header))
    a, b = mine["all"], base["all"]
    rows = [
        ("accuracy (settled)", pct(a.correct, a.settled), pct(b.correct, b.settled), "≥ 98 %"),
        ("wrong-confident", pct(a.wrong, a.n), pct(b.wrong, b.n), "≤ 0.1 %"),
        ("needless follow-up", pct(a.needless, a.needless_base), pct(b.needless, b.needless_base), "≤ 5 %"),
        ("asked (choose, all)", pct(a.asked, a.n), pct(b.asked, b.n), ""),
        (f"choose has truth (n={a.chose})", pct(a.chose_truth, a.chose), pct(b.chose_truth, b.chose), "≥ 98 %"),
        ("missed (none, settled)", pct(a.missed, a.settled), pct(b.missed, b.settled), ""),
        (
            "latency p50",
            f"{1000 * percentile(our_times, 0.5):7.3f} ms",
            f"{1000 * percentile(their_times, 0.5):7.3f} ms",
            "",
        ),
        (
            "latency p99",
            f"{1000 * percentile(our_times, 0.99):7.3f} ms",
            f"{1000 * percentile(their_times, 0.99):7.3f} ms",
            "≤ 2 × baseline",
        ),
    ]
    for name, x, y, target in rows:
        print(f"{name:26}{x:>12}{y:>12}   {target}")

    print(
        f"\n{'category':18}{'n':>5}  {'accuracy':>9} {'wrong':>9} {'follow-up':>9} {'asked':>9} "
        f"{'ch.truth':>9} {'missed':>9}"
        f"   baseline: {'accuracy':>9} {'wrong':>9}"
    )
    for cat in CATEGORIES:
        s, t = mine[cat], base[cat]
        acc = pct(s.correct, s.settled) if s.settled else pct(0, 0)
        print(
            f"{cat:18}{s.n:5}  {acc:>9} {pct(s.wrong, s.n):>9} {pct(s.needless, s.needless_base):>9} "
            f"{pct(s.asked, s.n):>9} {pct(s.chose_truth, s.chose):>9} {pct(s.missed, s.settled):>9}   "
            f"          {pct(t.correct, t.settled) if t.settled else pct(0, 0):>9} {pct(t.wrong, t.n):>9}"
        )
    if args.show_errors:
        print_errors(queries, ours)


def namesake_bench(args: argparse.Namespace) -> None:
    queries = build_namesake_queries(args.seed, args.per_category)
    ours, _ = timed(resolve, queries)
    baseline = Baseline()
    theirs, _ = timed(lambda q: baseline.resolve(q.text), queries)
    mine, base = score(queries, ours), score(queries, theirs)
    print(
        f"\nNamesakes (issue 18): {len(queries)} queries, seed {args.seed}; target wrong-confident ≤ 0.1 %\n"
        f"{'family':18}{'n':>5}  {'right':>9} {'wrong':>9} {'asked':>9} {'ch.truth':>9} {'none':>9}"
        f"   baseline: {'wrong':>9}"
    )
    for family in (*NAMESAKE_FAMILIES, "all"):
        s, t = mine[family], base[family]
        print(
            f"{family:18}{s.n:5}  {pct(s.right, s.n):>9} {pct(s.wrong, s.n):>9} {pct(s.asked, s.n):>9} "
            f"{pct(s.chose_truth, s.chose):>9} {pct(s.nothing, s.n):>9}             {pct(t.wrong, t.n):>9}"
        )
    if args.show_errors:
        print_errors(queries, ours)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=311)
    # 1,000 per category: 'choose has truth' is a ratio over ~1,000 'choose' answers, not ~300, where one
    # answer moves it by 0.3 points and seeds alone swing it across the 98 % target (about 80 s).
    parser.add_argument("--per-category", type=int, default=1000)
    parser.add_argument("--show-errors", action="store_true", help="print wrong-confident and missed queries")
    parser.add_argument("--namesakes-only", action="store_true", help="only the namesake families (issue 18)")
    args = parser.parse_args()
    if not args.namesakes_only:
        main_bench(args)
    namesake_bench(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
