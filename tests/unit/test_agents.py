"""A city's agents (text311.agents): invited, disabled and re-enabled in Cognito (moto), the roster and the
allow-list following them in the subscribers table."""

from __future__ import annotations

import boto3
import pytest
from botocore.stub import Stubber
from harness import GATINEAU, KINGSTON, REGION, setup_region
from moto import mock_aws

from text311.adapters.cognito_users import CognitoUsers
from text311.adapters.dynamodb import SubscriberModel
from text311.addresses import AddressRefused
from text311.agents import AgentConflict, AgentDirectory, AgentError
from text311.subscribers import SubscriberRepository

SUPERVISOR = "chef@gatineau.example.ca"
NEW_AGENT = "lea.roy@gatineau.example.ca"
OUTSIDER = "lea.roy@consultant.example"  # not under the city's @domain entry


def user_pool(cognito) -> str:
    """A pool shaped as stacks/console.py makes it: email as the sign-in name, the two custom attributes."""
    return cognito.create_user_pool(
        PoolName="agents",
        UsernameAttributes=["email"],
        Schema=[
            {"Name": "municipality_id", "AttributeDataType": "String", "Mutable": False},
            {"Name": "role", "AttributeDataType": "String", "Mutable": True},
        ],
    )["UserPool"]["Id"]


@pytest.fixture
def pool(aws_env, monkeypatch):
    with mock_aws():
        setup_region(aws_env, monkeypatch)
        cognito = boto3.client("cognito-idp", region_name=REGION)
        pool_id = user_pool(cognito)
        yield cognito, pool_id, AgentDirectory(CognitoUsers(cognito, pool_id))


def account(cognito, pool_id: str, email: str) -> dict:
    users = cognito.list_users(UserPoolId=pool_id, Filter=f'email = "{email}"')["Users"]
    assert len(users) == 1
    return {"enabled": users[0]["Enabled"], **{a["Name"]: a["Value"] for a in users[0]["Attributes"]}}


def allow_list() -> list[str]:
    return list(SubscriberModel.get(GATINEAU.geonameid).agent_allow_list)


def test_an_invited_agent_has_an_account_of_the_city_and_is_on_the_allow_list(pool):
    cognito, pool_id, directory = pool
    agent = directory.invite(GATINEAU.geonameid, OUTSIDER, "agent", SUPERVISOR)
    assert (agent.email, agent.role, agent.enabled, agent.invited_by) == (OUTSIDER, "agent", True, SUPERVISOR)
    created = account(cognito, pool_id, OUTSIDER)
    assert created["custom:municipality_id"] == str(GATINEAU.geonameid)
    assert created["custom:role"] == "agent" and created["email_verified"] == "true" and created["enabled"]
    assert OUTSIDER in allow_list()
    assert SubscriberRepository().get(GATINEAU.geonameid).allows_agent(OUTSIDER)
    assert [a.email for a in directory.agents(GATINEAU.geonameid)] == [OUTSIDER]


def test_an_invitation_asks_cognito_to_mail_it_with_the_city_and_role_as_attributes():
    client = boto3.client("cognito-idp", region_name=REGION)
    user = {
        "Username": "uuid-1",
        "Enabled": True,
        "UserStatus": "FORCE_CHANGE_PASSWORD",
        "Attributes": [{"Name": "email", "Value": NEW_AGENT}],
    }
    with Stubber(client) as stub:
        stub.add_response(
            "admin_create_user",
            {"User": user},
            {
                "UserPoolId": "ca-central-1_pool",
                "Username": NEW_AGENT,
                "UserAttributes": [
                    {"Name": "email", "Value": NEW_AGENT},
                    {"Name": "email_verified", "Value": "true"},
                    {"Name": "custom:municipality_id", "Value": "5959974"},
                    {"Name": "custom:role", "Value": "supervisor"},
                ],
                "DesiredDeliveryMediums": ["EMAIL"],
            },
        )
        created = CognitoUsers(client, "ca-central-1_pool").create(NEW_AGENT, 5959974, "supervisor")
    assert created.username == "uuid-1" and created.status == "FORCE_CHANGE_PASSWORD"


def test_a_disabled_agent_cannot_sign_in_nor_answer_even_under_the_citys_domain(pool):
    cognito, pool_id, directory = pool
    directory.invite(GATINEAU.geonameid, NEW_AGENT, "agent", SUPERVISOR)
    directory.set_enabled(GATINEAU.geonameid, NEW_AGENT, False)
    assert account(cognito, pool_id, NEW_AGENT)["enabled"] is False
    assert NEW_AGENT not in allow_list() and "@gatineau.example.ca" in allow_list()
    city = SubscriberRepository().get(GATINEAU.geonameid)
    assert not city.allows_agent(NEW_AGENT) and city.agent_owner(NEW_AGENT) is None
    assert city.allows_agent("someone.else@gatineau.example.ca")


def test_a_re_enabled_agent_can_sign_in_and_answer_again(pool):
    cognito, pool_id, directory = pool
    directory.invite(GATINEAU.geonameid, OUTSIDER, "agent", SUPERVISOR)
    directory.set_enabled(GATINEAU.geonameid, OUTSIDER, False)
    directory.set_enabled(GATINEAU.geonameid, OUTSIDER, True)
    assert account(cognito, pool_id, OUTSIDER)["enabled"] is True
    assert OUTSIDER in allow_list() and SubscriberRepository().get(GATINEAU.geonameid).allows_agent(OUTSIDER)


def test_an_address_with_an_account_of_another_city_is_refused(pool):
    _, _, directory = pool
    directory.invite(KINGSTON.geonameid, OUTSIDER, "agent", "chef@kingston.example.ca")
    with pytest.raises(AgentError, match="already has a Text311 account"):
        directory.invite(GATINEAU.geonameid, OUTSIDER, "agent", SUPERVISOR)
    assert directory.agents(GATINEAU.geonameid) == () and OUTSIDER not in allow_list()


def test_one_city_cannot_disable_another_citys_agent(pool):
    cognito, pool_id, directory = pool
    directory.invite(KINGSTON.geonameid, OUTSIDER, "agent", "chef@kingston.example.ca")
    with pytest.raises(AgentError, match="not on the city's list"):
        directory.set_enabled(GATINEAU.geonameid, OUTSIDER, False)
    assert account(cognito, pool_id, OUTSIDER)["enabled"] is True


@pytest.mark.parametrize(
    "raw",
    [
        "a@evil.example, lea@gatineau.example.ca",
        "Lea <lea@gatineau.example.ca>",
        "lea@evil\nbcc: x@gatineau.example.ca",
        "a@b@gatineau.example.ca",
    ],
)
def test_an_invitation_is_for_exactly_one_bare_address(pool, raw):
    cognito, pool_id, directory = pool
    with pytest.raises(AddressRefused):
        directory.invite(GATINEAU.geonameid, raw, "agent", SUPERVISOR)
    assert cognito.list_users(UserPoolId=pool_id)["Users"] == []


def test_an_agent_is_invited_once_and_a_role_must_be_known(pool):
    _, _, directory = pool
    directory.invite(GATINEAU.geonameid, NEW_AGENT, "agent", SUPERVISOR)
    with pytest.raises(AgentError, match="already on the list"):
        directory.invite(GATINEAU.geonameid, NEW_AGENT.upper(), "agent", SUPERVISOR)
    with pytest.raises(AgentError, match="role"):
        directory.invite(GATINEAU.geonameid, "x@gatineau.example.ca", "admin", SUPERVISOR)


def test_an_edit_made_meanwhile_is_not_overwritten(pool):
    cognito, pool_id, _ = pool
    users = CognitoUsers(cognito, pool_id)

    class SlowCognito:
        """Another supervisor invites someone between this one's read and write."""

        def __getattr__(self, name):
            return getattr(users, name)

        def create(self, email, municipality_id, role):
            AgentDirectory(users).invite(GATINEAU.geonameid, "other@gatineau.example.ca", "agent", "b@x.ca")
            return users.create(email, municipality_id, role)

    with pytest.raises(AgentConflict):
        AgentDirectory(SlowCognito()).invite(GATINEAU.geonameid, NEW_AGENT, "agent", SUPERVISOR)
    assert [a.email for a in AgentDirectory(users).agents(GATINEAU.geonameid)] == ["other@gatineau.example.ca"]
    # The retry adopts the account the first try created.
    AgentDirectory(users).invite(GATINEAU.geonameid, NEW_AGENT, "agent", SUPERVISOR)
    assert len(cognito.list_users(UserPoolId=pool_id)["Users"]) == 2
