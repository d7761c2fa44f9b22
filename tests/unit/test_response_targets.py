"""First-response targets (issue 22, item 4): overdue conversations flagged in the console, mailed to the
supervisors once per conversation by the scheduled check, counted per city; the CLI sets the target."""

from __future__ import annotations

import importlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from harness import GATINEAU, KINGSTON, sent_mails, text_of
from test_console_api import (  # the console API in moto, shared with its own tests
    CONTEXT,
    GATINEAU_AGENT,
    KINGSTON_AGENT,
    call,
    ids,
    region,  # noqa: F401 - the fixture
)
from typer.testing import CliRunner

from text311.adapters.dynamodb import ConversationModel
from text311.audit import AuditLog
from text311.cli import app as cli_app
from text311.response_targets import (
    MAX_TARGET_MINUTES,
    BreachMailFailed,
    TargetError,
    parse_minutes,
    set_target,
    target_of,
)

SCHEDULED = json.loads((Path(__file__).parents[1] / "events" / "eventbridge_scheduled.json").read_text())


@pytest.fixture
def check(region):  # noqa: F811
    handler = importlib.import_module("functions.response_targets.handler")
    handler.response_target_check.cache_clear()

    def run(after: timedelta) -> dict:
        """One tick of the schedule, ``after`` the conversations were opened."""
        at = datetime.now(UTC) + after
        event = {**SCHEDULED, "time": at.strftime("%Y-%m-%dT%H:%M:%SZ")}
        return handler.lambda_handler(event, CONTEXT)

    return run


def overdue_mails() -> list:
    return [m for m in sent_mails() if "first-response target" in text_of(m) or "cible" in text_of(m)]


def gatineau_conversation(api) -> ConversationModel:
    [conversation_id] = ids(api, GATINEAU_AGENT)
    return ConversationModel.get(GATINEAU.geonameid, conversation_id)


def test_a_conversation_waiting_beyond_the_target_is_mailed_once_to_the_supervisors(region, check):  # noqa: F811
    api, _ = region
    set_target(GATINEAU.geonameid, 30, ("chef@gatineau.example.ca",))

    first, retried = check(timedelta(minutes=45)), check(timedelta(minutes=45))  # a tick delivered twice
    later = check(timedelta(minutes=50))

    assert (first, retried, later) == ({"mailed": 1}, {"mailed": 0}, {"mailed": 0})
    [mail] = overdue_mails()
    assert str(mail["To"]) == "chef@gatineau.example.ca"
    assert mail["In-Reply-To"] == gatineau_conversation(api).last_message_id  # in the conversation's thread
    assert "Pothole on rue Laurier" in text_of(mail) and "(30 minutes)" in text_of(mail)  # the city writes French
    assert gatineau_conversation(api).target_breach_mailed_at is not None


def test_nothing_is_mailed_before_the_target_or_without_one(region, check):  # noqa: F811
    set_target(GATINEAU.geonameid, 30)
    assert check(timedelta(minutes=20)) == {"mailed": 0}
    set_target(GATINEAU.geonameid, None)
    assert check(timedelta(hours=5)) == {"mailed": 0}
    assert overdue_mails() == []


def test_an_answered_or_closed_conversation_is_not_a_breach(region, check):  # noqa: F811
    api, sms = region
    set_target(GATINEAU.geonameid, 30)
    set_target(KINGSTON.geonameid, 30)
    [gatineau_id], [kingston_id] = ids(api, GATINEAU_AGENT), ids(api, KINGSTON_AGENT)
    call(
        api,
        "POST",
        f"/conversations/{gatineau_id}/answer",
        GATINEAU_AGENT,
        {"text": "On it."},
        headers={"idempotency-key": "click-target"},
    )
    sms.flush()  # the drainer sends it: first_response_at is set
    call(api, "POST", f"/conversations/{kingston_id}/close", KINGSTON_AGENT)

    assert check(timedelta(hours=2)) == {"mailed": 0}
    assert overdue_mails() == []


def test_the_default_recipients_are_the_citys_contact_addresses(region, check):  # noqa: F811
    set_target(KINGSTON.geonameid, 15)

    assert check(timedelta(minutes=16)) == {"mailed": 1}

    [mail] = overdue_mails()
    assert str(mail["To"]) == "contactus@kingston.example.ca"
    assert "Garbage missed" in text_of(mail) and "target of 15 minutes" in text_of(mail)


def test_a_mail_that_fails_gives_the_breach_back_for_the_next_tick(region, check, monkeypatch):  # noqa: F811
    api, _ = region
    set_target(GATINEAU.geonameid, 30)
    handler = importlib.import_module("functions.response_targets.handler")
    working = handler.response_target_check().notify

    def failing(*args):
        raise RuntimeError("SES throttled")

    monkeypatch.setattr(handler.response_target_check(), "notify", failing)
    with pytest.raises(RuntimeError):
        check(timedelta(minutes=45))
    assert gatineau_conversation(api).target_breach_mailed_at is None

    monkeypatch.setattr(handler.response_target_check(), "notify", working)
    assert check(timedelta(minutes=50)) == {"mailed": 1}


def test_a_target_of_a_week_is_mailed_for_a_conversation_of_one_text(region, check):  # noqa: F811
    # The conversation's last activity is its opening: it is a week and more old when the target passes.
    set_target(GATINEAU.geonameid, MAX_TARGET_MINUTES)

    assert check(timedelta(minutes=MAX_TARGET_MINUTES - 10)) == {"mailed": 0}
    assert check(timedelta(minutes=MAX_TARGET_MINUTES + 10)) == {"mailed": 1}
    assert "(10080 minutes)" in text_of(overdue_mails()[0])


def test_one_citys_failing_mail_does_not_stop_the_other_cities(region, check, monkeypatch, capsys):  # noqa: F811
    # Gatineau is scanned before Kingston (moto keeps the table's order): its failure came first and ended the run.
    set_target(GATINEAU.geonameid, 30)
    set_target(KINGSTON.geonameid, 30)
    handler = importlib.import_module("functions.response_targets.handler")
    working = handler.response_target_check().notify

    def gatineau_rejected(conversation, to, text):
        if int(conversation.municipality_id) == GATINEAU.geonameid:
            raise RuntimeError("SES MessageRejected")
        working(conversation, to, text)

    monkeypatch.setattr(handler.response_target_check(), "notify", gatineau_rejected)
    capsys.readouterr()
    for minutes in (45, 50):  # every tick: the failure is reported, Kingston is mailed once
        with pytest.raises(BreachMailFailed, match="1 breach"):
            check(timedelta(minutes=minutes))

    [mail] = overdue_mails()
    assert str(mail["To"]) == "contactus@kingston.example.ca"
    assert gatineau_conversation(region[0]).target_breach_mailed_at is None  # given back for the next tick
    failures = [json.loads(line) for line in capsys.readouterr().out.splitlines() if "FirstResponseMailFailed" in line]
    assert [f["city"] for f in failures] == [str(GATINEAU.geonameid)] * 2


def test_the_breach_is_counted_per_city(region, check, capsys):  # noqa: F811
    set_target(GATINEAU.geonameid, 30)
    capsys.readouterr()

    check(timedelta(minutes=45))

    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if "FirstResponseBreached" in line]
    [metric] = lines
    assert metric["FirstResponseBreached"] in (1, 1.0, [1.0]) and metric["city"] == str(GATINEAU.geonameid)


def test_the_console_flags_an_overdue_conversation_and_its_times(region, monkeypatch):  # noqa: F811
    api, _ = region
    from text311 import services

    assert [c["overdue"] for c in call(api, "GET", "/conversations", GATINEAU_AGENT)[1]["conversations"]] == [False]
    set_target(GATINEAU.geonameid, 30)
    monkeypatch.setattr(services.console_service(), "clock", lambda: datetime.now(UTC) + timedelta(minutes=31))

    [row] = call(api, "GET", "/conversations", GATINEAU_AGENT)[1]["conversations"]
    _, thread = call(api, "GET", f"/conversations/{row['id']}", GATINEAU_AGENT)
    [kingston] = call(api, "GET", "/conversations", KINGSTON_AGENT)[1]["conversations"]

    assert row["overdue"] is True and thread["conversation"]["overdue"] is True
    assert kingston["overdue"] is False  # Kingston has no target


@pytest.mark.parametrize("text", ["0", "-5", "abc", "10081", "1.5", ""])
def test_a_target_is_off_or_whole_minutes_up_to_a_week(text):
    with pytest.raises(TargetError):
        parse_minutes(text)
    assert parse_minutes("off") is None and parse_minutes("45") == 45


def test_the_cli_sets_and_turns_off_a_target_and_records_it(region, monkeypatch):  # noqa: F811
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    from text311 import services

    runner = CliRunner()
    options = ["--region", "ca-central-1", "--table", services.settings().subscribers_table]

    def cli(*args: str):
        return runner.invoke(cli_app, ["municipality", "target", *args, *options])

    on = cli(str(GATINEAU.geonameid), "20", "--notify", "chef@gatineau.example.ca")
    assert on.exit_code == 0, on.output
    assert target_of(GATINEAU.geonameid).minutes == 20
    assert target_of(GATINEAU.geonameid).notify == ("chef@gatineau.example.ca",)
    assert cli(str(GATINEAU.geonameid), "soon").exit_code == 1
    assert cli(str(GATINEAU.geonameid), "20", "--notify", "a@x.ca, b@y.ca").exit_code == 1
    assert cli(str(GATINEAU.geonameid), "off").exit_code == 0
    assert target_of(GATINEAU.geonameid) is None

    now = datetime.now(UTC)
    recorded = [(e.action, e.detail) for e in AuditLog().entries(GATINEAU.geonameid, now - timedelta(hours=1), now)]
    assert recorded == [
        ("settings.target", "20 minutes, mailed to chef@gatineau.example.ca"),
        ("settings.target", "off"),
    ]
