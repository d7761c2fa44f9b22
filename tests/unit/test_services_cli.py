"""text311 municipality services list|add|remove|import against a moto DynamoDB table."""

from __future__ import annotations

import json

import pytest
from harness import municipality_cli_with_gatineau

from text311.city_services import default_services
from text311.subscribers import SubscriberRepository

TABLE = "services-cli-subscribers"
GATINEAU = 5959974


@pytest.fixture
def cli(monkeypatch):
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("SUBSCRIBERS_TABLE", raising=False)
    with municipality_cli_with_gatineau(TABLE) as run:
        yield run


def codes() -> list[str]:
    return [s.service_code for s in SubscriberRepository().get(GATINEAU).services]


def test_a_city_added_with_the_cli_has_the_default_list(cli):
    assert codes() == [s.service_code for s in default_services()]


def test_list_shows_each_service_in_each_of_the_citys_languages(cli):
    result = cli("services", "list", str(GATINEAU))
    assert result.exit_code == 0, result.output
    assert "pothole\tVoirie: Nid-de-poule\tRoads: Pothole" in result.output.splitlines()


def test_list_json_is_an_open311_services_json_in_the_language_asked(cli):
    result = cli("services", "list", str(GATINEAU), "--json", "--language", "en")
    assert result.exit_code == 0, result.output
    first = json.loads(result.output)[0]
    assert first["service_code"] == "pothole" and first["service_name"] == "Pothole"
    assert isinstance(first["keywords"], str)


def test_add_creates_a_service_in_the_citys_first_language(cli):
    result = cli("services", "add", str(GATINEAU), "bench", "--name", "Banc brisé", "--group", "Parcs",
                 "--keywords", "banc, banc brisé")
    assert result.exit_code == 0, result.output
    bench = SubscriberRepository().get(GATINEAU).services[-1]
    assert bench.service_code == "bench"
    french = bench.languages["fr"]
    assert (french.service_name, french.keywords) == ("Banc brisé", ("banc", "banc brisé"))


def test_add_to_a_known_code_sets_that_language_and_keeps_the_others(cli):
    result = cli("services", "add", str(GATINEAU), "pothole", "--language", "en", "--name", "Road damage")
    assert result.exit_code == 0 and "updated pothole (en)" in result.output
    pothole = SubscriberRepository().get(GATINEAU).services[0]
    assert pothole.languages["en"].service_name == "Road damage"
    assert pothole.languages["fr"].service_name == "Nid-de-poule"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--name", "Banc", "--language", "es"], "language"),
        (["--name", "  "], "service_name"),
        (["--name", "Banc", "--type", "later"], "type"),
    ],
)
def test_add_refuses_bad_input_and_writes_nothing(cli, args, message):
    result = cli("services", "add", str(GATINEAU), "bench", *args)
    assert result.exit_code == 1 and message in result.output
    assert "bench" not in codes()


def test_remove_drops_one_service(cli):
    result = cli("services", "remove", str(GATINEAU), "graffiti")
    assert result.exit_code == 0, result.output
    assert "graffiti" not in codes() and "pothole" in codes()


def test_remove_an_unknown_code_fails(cli):
    result = cli("services", "remove", str(GATINEAU), "unicorn")
    assert result.exit_code == 1 and "unicorn" in result.output


def test_services_of_an_unknown_city_fail(cli):
    result = cli("services", "list", "5992500")
    assert result.exit_code == 1 and "not a subscriber" in result.output


SERVICES_JSON = [
    {"service_code": "pothole", "service_name": "Pothole repair", "description": "Holes in the road",
     "metadata": False, "type": "realtime", "keywords": "pothole,hole", "group": "Streets"},
    {"service_code": "4fd3b167e750846744000005", "service_name": "Graffiti Removal", "description": "",
     "metadata": True, "type": "realtime", "keywords": "", "group": "Cleanliness"},
]


def test_import_merges_an_endpoints_services_json_into_the_list(cli, tmp_path):
    path = tmp_path / "services.json"
    path.write_text(json.dumps(SERVICES_JSON))
    result = cli("services", "import", str(GATINEAU), str(path), "--language", "en")
    assert result.exit_code == 0, result.output
    services = {s.service_code: s for s in SubscriberRepository().get(GATINEAU).services}
    assert services["pothole"].languages["en"].service_name == "Pothole repair"
    assert services["pothole"].languages["fr"].service_name == "Nid-de-poule"  # kept
    assert services["4fd3b167e750846744000005"].metadata is True
    assert "noise" in services  # not in the file, kept


def test_import_replace_keeps_only_the_files_services(cli, tmp_path):
    path = tmp_path / "services.json"
    path.write_text(json.dumps(SERVICES_JSON))
    result = cli("services", "import", str(GATINEAU), str(path), "--language", "en", "--replace")
    assert result.exit_code == 0, result.output
    assert codes() == ["pothole", "4fd3b167e750846744000005"]


@pytest.mark.parametrize("content", ["{not json", json.dumps({"services": []}), json.dumps([{"service_name": "x"}])])
def test_import_refuses_a_file_that_is_not_an_open311_list_and_writes_nothing(cli, tmp_path, content):
    path = tmp_path / "services.json"
    path.write_text(content)
    result = cli("services", "import", str(GATINEAU), str(path))
    assert result.exit_code == 1 and "error" in result.output
    assert codes() == [s.service_code for s in default_services()]
