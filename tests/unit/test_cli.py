"""text311 municipality add|list|show|remove against a moto DynamoDB table."""

from __future__ import annotations

import json

import pytest
from harness import bound_subscribers_table
from typer.testing import CliRunner

from text311.adapters.dynamodb import SubscriberModel
from text311.cli import app

TABLE = "cli-test-subscribers"
GATINEAU, KINGSTON_ON = 5959974, 5992500
OPTIONS = ["--table", TABLE, "--region", "ca-central-1"]


@pytest.fixture
def table(monkeypatch):
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("SUBSCRIBERS_TABLE", raising=False)
    with bound_subscribers_table(TABLE):
        yield


@pytest.fixture
def cli():
    runner = CliRunner()

    def run(*args: str):
        return runner.invoke(app, ["municipality", *args, *OPTIONS])

    return run


def items() -> list[SubscriberModel]:
    return list(SubscriberModel.scan())


def test_add_by_geonameid_writes_a_subscriber_with_the_places_defaults(table, cli):
    result = cli("add", str(GATINEAU), "--email", "311@gatineau.ca", "--agents", "@gatineau.ca")
    assert result.exit_code == 0, result.output
    assert "added 5959974 Gatineau, QC" in result.output
    [item] = items()
    assert (item.geonameid, item.display_name, item.country, item.region_code) == (
        GATINEAU,
        "Gatineau",
        "CA",
        "QC",
    )
    assert item.time_zone == "America/Toronto"  # from the directory
    assert list(item.languages) == ["fr", "en"]  # Quebec's default
    assert list(item.contact_emails) == ["311@gatineau.ca"]


def test_add_by_a_name_that_resolves_to_one_place(table, cli):
    result = cli(
        "add",
        "Kingston ON",
        "--email",
        "a@cityofkingston.ca",
        "--email",
        "b@cityofkingston.ca",
        "--agents",
        "@cityofkingston.ca",
        "--agents",
        "mayor@example.ca",
        "--language",
        "en",
        "--phone-311",
        "+16135466222",
        "--web",
        "https://www.cityofkingston.ca",
        "--time-zone",
        "America/Toronto",
    )
    assert result.exit_code == 0, result.output
    [item] = items()
    assert item.geonameid == KINGSTON_ON
    assert list(item.contact_emails) == ["a@cityofkingston.ca", "b@cityofkingston.ca"]
    assert list(item.agent_allow_list) == ["@cityofkingston.ca", "mayor@example.ca"]
    assert (item.phone_311, item.web_page) == ("+16135466222", "https://www.cityofkingston.ca")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["999999999", "--email", "a@b.ca", "--agents", "@b.ca"], "no place with geonameid 999999999"),
        (["Richmond", "--email", "a@b.ca", "--agents", "@b.ca"], "ambiguous"),
        (["pothole on main st", "--email", "a@b.ca", "--agents", "@b.ca"], "not a municipality"),
        ([str(GATINEAU), "--email", "not-an-email", "--agents", "@b.ca"], "contact_emails"),
        ([str(GATINEAU), "--email", "a@b.ca", "--agents", "nobody"], "agent_allow_list"),
        # One address an entry, as the console's transfers (issue 17): no list, no second @, no header.
        ([str(GATINEAU), "--email", "a@b.ca", "--agents", "mallory,agent@gatineau.ca"], "agent_allow_list"),
        ([str(GATINEAU), "--email", "a@b.ca", "--agents", "a@evil@gatineau.ca"], "agent_allow_list"),
        ([str(GATINEAU), "--email", "a@b.ca", "--agents", "x@evil\nbcc: agent@gatineau.ca"], "agent_allow_list"),
        ([str(GATINEAU), "--email", "311,mallory@gatineau.ca", "--agents", "@b.ca"], "contact_emails"),
        ([str(GATINEAU), "--email", "a@b.ca", "--agents", "@b.ca", "--language", "xx"], "languages"),
        (
            [str(GATINEAU), "--email", "a@b.ca", "--agents", "@b.ca", "--time-zone", "Mars/Olympus"],
            "time_zone",
        ),
    ],
)
def test_add_refuses_bad_input_with_a_clear_error_and_writes_nothing(table, cli, args, message):
    result = cli("add", *args)
    assert result.exit_code == 1
    assert "error:" in result.output and message in result.output
    assert items() == []


def test_add_lists_the_choices_of_an_ambiguous_name_with_their_ids(table, cli):
    result = cli("add", "Richmond", "--email", "a@b.ca", "--agents", "@b.ca")
    assert "6122085 Richmond, BC" in result.output


def test_add_refuses_a_duplicate_and_keeps_the_first(table, cli):
    assert (
        cli("add", str(GATINEAU), "--email", "first@gatineau.ca", "--agents", "@gatineau.ca").exit_code == 0
    )
    result = cli("add", "Gatineau", "--email", "second@gatineau.ca", "--agents", "@gatineau.ca")
    assert result.exit_code == 1
    assert "already a subscriber" in result.output
    [item] = items()
    assert list(item.contact_emails) == ["first@gatineau.ca"]


def test_add_without_an_email_is_a_usage_error(table, cli):
    result = cli("add", str(GATINEAU), "--agents", "@gatineau.ca")
    assert result.exit_code != 0
    assert items() == []


def test_list_shows_every_subscriber(table, cli):
    cli("add", str(GATINEAU), "--email", "311@gatineau.ca", "--agents", "@gatineau.ca")
    cli("add", str(KINGSTON_ON), "--email", "311@kingston.ca", "--agents", "@kingston.ca")
    result = cli("list")
    assert result.exit_code == 0
    assert "5959974\tGatineau, QC\tactive\t311@gatineau.ca" in result.output
    assert "5992500\tKingston, ON" in result.output


def test_show_prints_one_subscriber_as_json(table, cli):
    cli("add", str(GATINEAU), "--email", "311@gatineau.ca", "--agents", "@gatineau.ca")
    result = cli("show", str(GATINEAU))
    assert result.exit_code == 0
    assert json.loads(result.output)["display_name"] == "Gatineau"


def test_show_an_unknown_subscriber_fails(table, cli):
    result = cli("show", str(GATINEAU))
    assert result.exit_code == 1 and "not a subscriber" in result.output


def test_remove_deletes_the_subscriber(table, cli):
    cli("add", str(GATINEAU), "--email", "311@gatineau.ca", "--agents", "@gatineau.ca")
    result = cli("remove", str(GATINEAU), "--yes")
    assert result.exit_code == 0 and "removed 5959974" in result.output
    assert items() == []


def test_remove_asks_and_keeps_the_subscriber_when_refused(table):
    runner = CliRunner()
    runner.invoke(
        app, ["municipality", "add", str(GATINEAU), "--email", "a@b.ca", "--agents", "@b.ca", *OPTIONS]
    )
    result = runner.invoke(app, ["municipality", "remove", str(GATINEAU), *OPTIONS], input="n\n")
    assert result.exit_code == 1
    assert len(items()) == 1


def test_remove_an_unknown_subscriber_fails(table, cli):
    result = cli("remove", str(GATINEAU), "--yes")
    assert result.exit_code == 1 and "not a subscriber" in result.output


def test_table_and_endpoint_come_from_the_environment_like_the_functions(table, monkeypatch):
    monkeypatch.setenv("SUBSCRIBERS_TABLE", TABLE)
    result = CliRunner().invoke(app, ["municipality", "list"])
    assert result.exit_code == 0
    assert SubscriberModel.Meta.table_name == TABLE
    assert SubscriberModel.Meta.host is None


def test_the_cli_is_not_imported_by_lambda_code():
    from pathlib import Path

    core = Path(__file__).resolve().parents[2] / "layers/core/python/text311"
    functions = Path(__file__).resolve().parents[2] / "functions"
    sources = [p for p in core.rglob("*.py") if "cli" not in p.parts] + list(functions.rglob("*.py"))
    offenders = [str(p) for p in sources if "text311.cli" in p.read_text() or "import typer" in p.read_text()]
    assert offenders == []


# -- opening hours and the survey (issue 22) ---------------------------------------------------------

def test_hours_set_stores_weekly_hours_and_holidays_that_show_reads_back(table, cli):
    cli("add", str(GATINEAU), "--email", "311@gatineau.ca", "--agents", "@gatineau.ca")
    result = cli("hours", "set", str(GATINEAU), "--day", "mon-fri=08:30-12:00,13:00-16:30", "--day", "sat=09:00-12:00",
                 "--holiday", "2026-12-25")
    assert result.exit_code == 0, result.output
    shown = cli("hours", "show", str(GATINEAU)).output
    assert "mon\t08:30-12:00, 13:00-16:30" in shown and "sat\t09:00-12:00" in shown and "sun\tclosed" in shown
    assert "holiday\t2026-12-25" in shown
    assert json.loads(cli("show", str(GATINEAU)).output)["opening_hours"][0] == "mon\t08:30-12:00, 13:00-16:30"


@pytest.mark.parametrize("args, message", [
    (["--day", "mon=17:00-09:00"], "opens at 17:00 but closes at 09:00"),
    (["--day", "lun=09:00-17:00"], "'lun' is not a weekday"),
    (["--day", "mon=09:00-17:00", "--holiday", "25-12-2026"], "not a date written YYYY-MM-DD"),
])
def test_hours_that_make_no_sense_are_refused_and_nothing_is_written(table, cli, args, message):
    cli("add", str(GATINEAU), "--email", "311@gatineau.ca", "--agents", "@gatineau.ca")
    result = cli("hours", "set", str(GATINEAU), *args)
    assert result.exit_code == 1 and message in result.output
    [item] = items()
    assert item.opening_hours is None


def test_hours_clear_and_survey_on_off(table, cli):
    cli("add", str(GATINEAU), "--email", "311@gatineau.ca", "--agents", "@gatineau.ca")
    cli("hours", "set", str(GATINEAU), "--day", "mon-fri=08:30-16:30")
    assert cli("hours", "clear", str(GATINEAU)).exit_code == 0
    assert "always open" in cli("hours", "show", str(GATINEAU)).output
    assert cli("survey", str(GATINEAU), "on").exit_code == 0
    assert items()[0].survey is True
    assert cli("survey", str(GATINEAU), "off").exit_code == 0
    assert not items()[0].survey
