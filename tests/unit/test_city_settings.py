"""A supervisor's city settings through the console API (text311.city_settings): supervisors only, their own
city only, every change validated and recorded in the audit trail."""

from __future__ import annotations

import importlib
import json
import time
from dataclasses import replace
from datetime import UTC, datetime

import boto3
import pytest
from aws_events import http_api_request
from harness import GATINEAU, KINGSTON, REGION, LambdaContext, setup_region
from moto import mock_aws
from test_agents import user_pool

from text311 import services
from text311.audit import AuditLog
from text311.response_targets import target_of
from text311.subscribers import SubscriberRepository

CONTEXT = LambdaContext("console-api", 30_000)
SUPERVISOR = {
    "email": "chef@gatineau.example.ca",
    "custom:municipality_id": str(GATINEAU.geonameid),
    "custom:role": "supervisor",
}
AGENT = {**SUPERVISOR, "email": "marie@gatineau.example.ca", "custom:role": "agent"}
KINGSTON_SUPERVISOR = {
    "email": "chef@kingston.example.ca",
    "custom:municipality_id": str(KINGSTON.geonameid),
    "custom:role": "supervisor",
}
WEEKDAYS_ONLY = {
    "mon": "08:30-12:00,13:00-16:30",
    "tue": "08:30-16:30",
    "wed": "08:30-16:30",
    "thu": "08:30-16:30",
    "fri": "08:30-16:30",
    "sat": "",
    "sun": "closed",
}
# Every change a supervisor can make: (path, body).
CHANGES = [
    ("/settings/agents", {"email": "lea@gatineau.example.ca", "role": "agent"}),
    ("/settings/agents/disable", {"email": "marie@gatineau.example.ca"}),
    ("/settings/agents/enable", {"email": "marie@gatineau.example.ca"}),
    ("/settings/canned", {"language": "fr", "answers": ["Merci, c'est transmis."]}),
    ("/settings/hours", {"weekly": WEEKDAYS_ONLY, "holidays": ["2026-12-25"]}),
    ("/settings/target", {"minutes": 30}),
]


@pytest.fixture
def api(aws_env, monkeypatch):
    with mock_aws():
        setup_region(aws_env, monkeypatch)
        monkeypatch.setenv("USER_POOL_ID", user_pool(boto3.client("cognito-idp", region_name=REGION)))
        services.reset()  # the settings now name the pool
        yield importlib.import_module("functions.console_api.handler")
        services.reset()


def call(api, method, path, claims, body=None):
    response = api.lambda_handler(http_api_request(method, path, claims=claims, body=body), CONTEXT)
    return response["statusCode"], json.loads(response["body"]) if response.get("body") else None


def city(geonameid: int = GATINEAU.geonameid):
    return SubscriberRepository().get(geonameid)


def audit_actions(geonameid: int = GATINEAU.geonameid) -> list[tuple[str, str, str]]:
    entries = AuditLog().entries(geonameid, datetime(2020, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))
    return [(e.actor, e.action, e.detail) for e in entries]


@pytest.mark.parametrize(("path", "body"), [("/settings", None), *CHANGES])
def test_an_agent_is_refused_every_settings_route(api, path, body):
    status, _ = call(api, "GET" if body is None else "POST", path, AGENT, body)
    assert status == 403
    assert audit_actions() == [] and city().canned_answers == {} and city().opening_hours is None


def accounts() -> list[str]:
    """Every address with an account in the console's pool (moto)."""
    users = boto3.client("cognito-idp", region_name=REGION).list_users(UserPoolId=services.settings().user_pool_id)
    return [a["Value"] for u in users["Users"] for a in u["Attributes"] if a["Name"] == "email"]


@pytest.mark.parametrize(("path", "body"), CHANGES)
def test_a_supervisor_of_another_city_changes_nothing_of_this_one(api, path, body):
    before = (city().canned_answers, city().opening_hours, city().agent_allow_list, target_of(GATINEAU.geonameid))
    kingston_before = (city(KINGSTON.geonameid).agent_allow_list, city(KINGSTON.geonameid).disabled_agents)
    call(api, "POST", path, KINGSTON_SUPERVISOR, body)
    after = (city().canned_answers, city().opening_hours, city().agent_allow_list, target_of(GATINEAU.geonameid))
    assert after == before and audit_actions() == []
    # Nor does it take Gatineau's addresses for itself: on its own roster, or as accounts of its city.
    assert call(api, "GET", "/settings", KINGSTON_SUPERVISOR)[1]["agents"] == []
    assert (city(KINGSTON.geonameid).agent_allow_list, city(KINGSTON.geonameid).disabled_agents) == kingston_before
    assert accounts() == [] and [a for a in audit_actions(KINGSTON.geonameid) if a[1] == "settings.agent"] == []


@pytest.mark.parametrize(
    "email", ["lea.roy@consultant.example", "lea@gatineau.example.ca.evil.example", "lea@kingston.example.ca"]
)
def test_an_address_outside_the_citys_domains_is_invited_only_once_the_operator_allows_it(api, email):
    status, body = call(api, "POST", "/settings/agents", SUPERVISOR, {"email": email, "role": "supervisor"})

    assert status == 400 and "ask the Text311 operator" in body["message"]
    assert accounts() == [] and audit_actions() == [] and email not in city().agent_allow_list
    # The operator adds the address itself (text311 municipality ...): the supervisor may now invite it.
    SubscriberRepository().put(replace(city(), agent_allow_list=(*city().agent_allow_list, email)))
    assert call(api, "POST", "/settings/agents", SUPERVISOR, {"email": email})[0] == 200
    assert accounts() == [email]


def test_a_retried_disable_or_enable_is_recorded_once(api):
    call(api, "POST", "/settings/agents", SUPERVISOR, {"email": "lea@gatineau.example.ca"})
    for path in ("/settings/agents/disable", "/settings/agents/disable", "/settings/agents/enable") * 2:
        assert call(api, "POST", path, SUPERVISOR, {"email": "lea@gatineau.example.ca"})[0] == 200

    assert [detail for _, _, detail in audit_actions()] == [
        "invited lea@gatineau.example.ca as agent",
        "disabled lea@gatineau.example.ca",
        "enabled lea@gatineau.example.ca",
        "disabled lea@gatineau.example.ca",
        "enabled lea@gatineau.example.ca",
    ]
    assert city().allows_agent("lea@gatineau.example.ca")


def test_a_supervisor_reads_their_citys_settings(api):
    status, body = call(api, "GET", "/settings", SUPERVISOR)
    assert status == 200
    assert (body["city"], body["time_zone"], body["languages"]) == ("Gatineau", "America/Toronto", ["fr", "en"])
    assert body["agents"] == [] and body["agents_editable"] and body["hours"] is None
    assert body["canned"] == {"fr": [], "en": []} and body["target_minutes"] is None


def test_invite_then_disable_an_agent_is_recorded(api):
    assert call(api, "POST", "/settings/agents", SUPERVISOR, {"email": "Lea@Gatineau.example.ca"})[0] == 200
    status, agent = call(api, "POST", "/settings/agents/disable", SUPERVISOR, {"email": "lea@gatineau.example.ca"})
    assert status == 200 and agent["enabled"] is False
    assert not city().allows_agent("lea@gatineau.example.ca")
    assert audit_actions() == [
        ("chef@gatineau.example.ca", "settings.agent", "invited lea@gatineau.example.ca as agent"),
        ("chef@gatineau.example.ca", "settings.agent", "disabled lea@gatineau.example.ca"),
    ]


def test_an_invitation_for_a_list_of_addresses_is_refused(api):
    status, body = call(
        api, "POST", "/settings/agents", SUPERVISOR, {"email": "mallory@evil.example, lea@gatineau.example.ca"}
    )
    assert status == 400 and "exactly one address" in body["message"]
    assert audit_actions() == []


def test_a_supervisor_cannot_disable_their_own_account(api):
    call(api, "POST", "/settings/agents", SUPERVISOR, {"email": "chef@gatineau.example.ca", "role": "supervisor"})
    status, body = call(api, "POST", "/settings/agents/disable", SUPERVISOR, {"email": "chef@gatineau.example.ca"})
    assert status == 400 and "own account" in body["message"]


def test_canned_answers_are_stored_per_language_with_their_sms_parts(api):
    long_one = "Votre demande est transmise au service des travaux publics. " * 3
    status, body = call(
        api, "POST", "/settings/canned", SUPERVISOR, {"language": "fr", "answers": ["Merci, c'est transmis.", long_one]}
    )
    assert status == 200
    assert [a["parts"] for a in body["answers"]] == [1, 2]
    assert city().canned_answers == {"fr": ("Merci, c'est transmis.", long_one.strip())}
    assert audit_actions() == [("chef@gatineau.example.ca", "settings.canned", "fr: 0 to 2 answer(s)")]
    # the agents' list reads them
    status, canned = call(api, "GET", "/canned", AGENT)
    assert canned == {"fr": ["Merci, c'est transmis.", long_one.strip()]}


@pytest.mark.parametrize(
    ("body", "fault"),
    [
        ({"language": "de", "answers": ["Danke"]}, "language"),
        ({"language": "fr", "answers": ["  "]}, "answer 1"),
        ({"language": "fr", "answers": ["x" * 481]}, "at most 480"),
        ({"language": "fr", "answers": ["Merci", "Merci"]}, "answer 2"),
        ({"language": "fr", "answers": [f"Réponse {n}" for n in range(31)]}, "at most 30"),
        ({"language": "fr", "answers": "Merci"}, "answers"),
    ],
)
def test_canned_answers_that_break_a_limit_are_refused(api, body, fault):
    status, answer = call(api, "POST", "/settings/canned", SUPERVISOR, body)
    assert status == 400 and fault in answer["message"]
    assert city().canned_answers == {} and audit_actions() == []


def test_opening_hours_are_set_in_the_citys_zone_and_recorded(api):
    status, body = call(
        api, "POST", "/settings/hours", SUPERVISOR, {"weekly": WEEKDAYS_ONLY, "holidays": ["2026-12-25"]}
    )
    assert status == 200 and body["hours"]["weekly"]["mon"] == "08:30-12:00,13:00-16:30"
    hours = city().opening_hours
    assert hours.time_zone == "America/Toronto"
    assert hours.is_open(datetime(2026, 12, 2, 13, 45, tzinfo=UTC))  # 08:45 in Gatineau, a Wednesday
    assert not hours.is_open(datetime(2026, 12, 25, 15, 0, tzinfo=UTC))  # the holiday
    [(_, action, detail)] = audit_actions()
    assert action == "settings.hours" and detail.startswith("mon 08:30-12:00,13:00-16:30; tue 08:30-16:30")
    assert detail.endswith("sat closed; sun closed; holidays 2026-12-25")


def test_hours_saved_again_unchanged_are_recorded_once(api):
    for _ in range(2):  # a retried save, then the same hours written in another order
        call(api, "POST", "/settings/hours", SUPERVISOR, {"weekly": WEEKDAYS_ONLY, "holidays": ["2026-12-25"]})
    reordered = {day: WEEKDAYS_ONLY[day] for day in reversed(WEEKDAYS_ONLY)}
    call(api, "POST", "/settings/hours", SUPERVISOR, {"weekly": reordered, "holidays": ["2026-12-25", ""]})
    call(api, "POST", "/settings/hours", SUPERVISOR, {"weekly": None})
    call(api, "POST", "/settings/hours", SUPERVISOR, {"weekly": None})

    assert [detail[:14] for _, _, detail in audit_actions()] == ["mon 08:30-12:0", "always open"]


def test_always_open_clears_the_hours(api):
    call(api, "POST", "/settings/hours", SUPERVISOR, {"weekly": WEEKDAYS_ONLY})
    assert call(api, "POST", "/settings/hours", SUPERVISOR, {"weekly": None})[0] == 200
    assert city().opening_hours is None and audit_actions()[-1][2] == "always open"


@pytest.mark.parametrize(
    ("weekly", "holidays", "fault"),
    [
        ({**WEEKDAYS_ONLY, "mon": "16:30-08:30"}, [], "mon: opens at 16:30 but closes at 08:30"),
        ({**WEEKDAYS_ONLY, "tue": "08:30-12:00,11:00-16:00"}, [], "tue: hours overlap at 11:00"),
        ({**WEEKDAYS_ONLY, "wed": "8h30"}, [], "wed: "),
        ({"funday": "08:30-16:30"}, [], "funday: not a weekday"),
        ({"mon": "", "tue": "closed"}, [], "hours: no weekday has opening hours"),
        (WEEKDAYS_ONLY, ["25/12/2026"], "holidays: '25/12/2026' is not a date"),
    ],
)
def test_hours_that_make_no_sense_are_refused_naming_the_day(api, weekly, holidays, fault):
    status, body = call(api, "POST", "/settings/hours", SUPERVISOR, {"weekly": weekly, "holidays": holidays})
    assert status == 400 and body["message"].startswith(fault)
    assert city().opening_hours is None and audit_actions() == []


def test_a_first_response_target_is_set_and_removed_keeping_who_is_mailed(api):
    from text311.response_targets import set_target

    set_target(GATINEAU.geonameid, 60, ("chef@gatineau.example.ca",))
    assert call(api, "POST", "/settings/target", SUPERVISOR, {"minutes": 30}) == (200, {"target_minutes": 30})
    target = target_of(GATINEAU.geonameid)
    assert (target.minutes, target.notify) == (30, ("chef@gatineau.example.ca",))
    assert call(api, "POST", "/settings/target", SUPERVISOR, {"minutes": None})[0] == 200
    assert target_of(GATINEAU.geonameid) is None
    assert [d for _, _, d in audit_actions()] == ["30 minutes", "off"]


@pytest.mark.parametrize("minutes", [0, 10081, 2.5, "30", True])
def test_a_target_out_of_range_is_refused(api, minutes):
    status, body = call(api, "POST", "/settings/target", SUPERVISOR, {"minutes": minutes})
    assert status == 400 and body["message"].startswith("target:")
    assert target_of(GATINEAU.geonameid) is None


def test_a_disabled_agents_token_is_refused_once_the_city_is_read_again(api):
    call(api, "POST", "/settings/agents", SUPERVISOR, {"email": "marie@gatineau.example.ca"})
    assert call(api, "GET", "/conversations", AGENT)[0] == 200
    call(api, "POST", "/settings/agents/disable", SUPERVISOR, {"email": "marie@gatineau.example.ca"})
    kept = services.subscribers()  # a warm container trusts a city it read for SUBSCRIBER_CACHE_SECONDS
    kept.clock = lambda: time.monotonic() + 61
    status, body = call(api, "GET", "/conversations", AGENT)
    assert status == 403 and body["message"] == "this account is disabled"


def test_the_consoles_cognito_client_gives_up_long_before_api_gateway_does(api):
    # (botocore's default waits 60 s for an answer, and the local run's functions share one lock:
    # one stuck invite stalled every function for a minute; API Gateway itself gives up at 30 s)
    config = services.city_settings().directory.identities.client.meta.config
    assert config.read_timeout <= 10 and config.connect_timeout <= 3
    assert config.retries["mode"] == "standard"
