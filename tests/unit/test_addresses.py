"""One agent's address (issue 17, item 2): the rule behind transfers, allow-list entries and stored owners."""

from __future__ import annotations

import pytest
from harness import GATINEAU, bound_subscribers_table

from text311.adapters.dynamodb import SubscriberModel
from text311.addresses import AddressRefused, agent_address, single_address
from text311.subscribers import Subscriber

CITY = ("@gatineau.example.ca", "mayor@example.ca")


@pytest.mark.parametrize(("raw", "expected"), [
    ("Marie.Tremblay@Gatineau.example.ca", "marie.tremblay@gatineau.example.ca"),
    ("  o'brien+311@gatineau.example.ca ", "o'brien+311@gatineau.example.ca"),
])
def test_one_bare_address_is_accepted_lower_cased(raw, expected):
    assert single_address(raw) == expected


@pytest.mark.parametrize(("raw", "why"), [
    ("mallory@evil.example, agent@gatineau.example.ca", "no comma"),
    ("mallory@evil.example;agent@gatineau.example.ca", "no comma or semicolon"),
    ("x@evil\nbcc: agent@gatineau.example.ca", "line break"),
    ("x@gatineau.example.ca\r", "line break"),
    ("a@evil@gatineau.example.ca", "exactly one @"),
    ("Mallory <agent@gatineau.example.ca>", "no display name"),
    ('"mallory@evil"@gatineau.example.ca', "no display name"),
    ("agent@localhost", "not a valid email address"),
    ("agent..x@gatineau.example.ca", "not a valid email address"),
    ("agent@-gatineau.example.ca", "not a valid email address"),
    ("agent@gatineau.example.ca.", "not a valid email address"),
    ("", "required"),
])
def test_anything_but_one_bare_address_is_refused_saying_why(raw, why):
    with pytest.raises(AddressRefused, match=why):
        single_address(raw)


def test_an_agent_is_on_the_allow_list_by_domain_or_by_address():
    assert agent_address("luc@gatineau.example.ca", CITY) == "luc@gatineau.example.ca"
    assert agent_address("Mayor@example.ca", CITY) == "mayor@example.ca"
    with pytest.raises(AddressRefused, match="not an agent of this city"):
        agent_address("deputy@example.ca", CITY)
    with pytest.raises(AddressRefused, match="not an agent of this city"):
        agent_address("luc@sub.gatineau.example.ca", CITY)


@pytest.mark.parametrize("raw", ["mallory@evil.example, agent@gatineau.example.ca",
                                 "x@evil\nbcc: agent@gatineau.example.ca", "a@evil@gatineau.example.ca"])
def test_a_subscriber_allows_no_address_that_only_ends_in_its_domain(raw):
    assert GATINEAU.allows_agent(raw) is False


def test_a_stored_owner_that_is_not_one_agent_reads_as_no_owner():
    assert GATINEAU.agent_owner("Luc@gatineau.example.ca") == "luc@gatineau.example.ca"
    assert GATINEAU.agent_owner("a@evil@gatineau.example.ca") is None
    assert GATINEAU.agent_owner("sam@kingston.example.ca") is None
    assert GATINEAU.agent_owner(None) is None


def test_a_subscriber_refuses_an_allow_list_entry_that_is_not_one_address():
    with pytest.raises(ValueError, match="agent_allow_list"):
        Subscriber(geonameid=1, display_name="X", country="CA", region_code="QC", contact_emails=("a@x.ca",),
                   agent_allow_list=("mallory,agent@x.ca",), time_zone="America/Toronto")


@pytest.fixture
def stored_subscribers(monkeypatch):
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with bound_subscribers_table("addresses-test-subscribers") as repository:
        yield repository


def test_a_city_stored_under_the_looser_rule_keeps_working_on_its_valid_entries(stored_subscribers, caplog):
    # Stored before the one-address rule: a list in one entry, a non-ASCII local part.
    SubscriberModel(geonameid=5959974, display_name="Gatineau", country="CA", region_code="QC",
                    contact_emails=["a,b@gatineau.ca", "311@gatineau.ca"],
                    agent_allow_list=["réception@gatineau.ca", "@gatineau.ca"], languages=["fr"],
                    time_zone="America/Toronto").save()

    city = stored_subscribers.get(5959974)

    assert city is not None
    assert city.contact_emails == ("311@gatineau.ca",)
    assert city.agent_allow_list == ("@gatineau.ca",)
    ignored = [entry for record in caplog.records for entry in getattr(record, "ignored", ())]
    assert ignored == ["a,b@gatineau.ca", "réception@gatineau.ca"]


@pytest.mark.parametrize(("field", "stored"), [
    ("opening_hours", "{bad"), ("opening_hours", '{"weekly": {}}'), ("services", "{bad"), ("canned_answers", "[1"),
])
def test_one_unreadable_stored_setting_leaves_the_city_working_on_its_default(stored_subscribers, field, stored):
    SubscriberModel(geonameid=5959974, display_name="Gatineau", country="CA", region_code="QC",
                    contact_emails=["311@gatineau.ca"], agent_allow_list=["@gatineau.ca"], languages=["fr"],
                    time_zone="America/Toronto", **{field: stored}).save()

    city = stored_subscribers.get(5959974)

    assert city is not None and city.contact_emails == ("311@gatineau.ca",)
    assert city.opening_hours is None and len(city.services) > 0 and city.canned_answers == {}
