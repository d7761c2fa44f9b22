"""``text311 doctor``: each preflight check against moto (SES) or botocore Stubber (APIs moto lacks)."""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest
import yaml
from botocore.stub import Stubber
from moto import mock_aws
from typer.testing import CliRunner

from text311.cli import app
from text311.cli.dns import DomainPlan
from text311.cli.doctor import (
    CHECKS,
    Context,
    Finding,
    dkim_signing,
    exit_code,
    production_access,
    receipt_rule_active,
    render,
    run_checks,
    sending_identity_verified,
    sms_number_active,
    sms_opt_out_list,
    sms_protect_configuration,
    sms_spend_limit,
    sms_two_way_to_topic,
)

REGION = "ca-central-1"
TOPIC = f"arn:aws:sns:{REGION}:123456789012:Text311-InboundTopic"
NUMBER = "+15145550100"
PLAN = DomainPlan(REGION, REGION, "text311.ca", "reply.text311.ca", "bounce.text311.ca", "ops@text311.ca",
                  sms_numbers=(NUMBER,))


def _number(**changes) -> dict:
    number = {
        "PhoneNumberArn": f"arn:aws:sms-voice:{REGION}:123456789012:phone-number/phone-1",
        "PhoneNumberId": "phone-1", "PhoneNumber": NUMBER, "Status": "ACTIVE", "IsoCountryCode": "CA",
        "MessageType": "TRANSACTIONAL", "NumberCapabilities": ["SMS"], "NumberType": "LONG_CODE",
        "MonthlyLeasingPrice": "1.00", "TwoWayEnabled": True, "TwoWayChannelArn": TOPIC,
        "SelfManagedOptOutsEnabled": False, "OptOutListName": "text311", "DeletionProtectionEnabled": True,
        "CreatedTimestamp": "2026-01-01T00:00:00Z",
    }
    number.update(changes)
    return number


@pytest.fixture
def sms():
    client = boto3.client("pinpoint-sms-voice-v2", region_name=REGION)
    with Stubber(client) as stubber:
        yield client, stubber


def _ctx(sms_client=None, sesv2=None, ses=None, topic: str | None = TOPIC) -> Context:
    return Context(PLAN, sesv2, ses, sms_client, inbound_topic_arn=topic)


# --- SES, in moto -----------------------------------------------------------------------------------


def test_identity_is_missing_until_the_stack_created_it() -> None:
    with mock_aws():
        sesv2 = boto3.client("sesv2", region_name=REGION)
        assert sending_identity_verified(_ctx(sesv2=sesv2)).status == "missing"
        sesv2.create_email_identity(EmailIdentity="text311.ca")
        # moto marks a new identity verified for sending only once asked; its DKIM never starts
        assert dkim_signing(_ctx(sesv2=sesv2)).status == "missing"


def test_receipt_rule_check_needs_our_rule_in_the_active_set() -> None:
    with mock_aws():
        ses = boto3.client("ses", region_name=REGION)
        assert receipt_rule_active(_ctx(ses=ses)).status == "missing"  # nothing active
        ses.create_receipt_rule_set(RuleSetName="text311")
        ses.set_active_receipt_rule_set(RuleSetName="text311")
        assert "has no rule agent-answers" in receipt_rule_active(_ctx(ses=ses)).detail
        ses.create_receipt_rule(
            RuleSetName="text311",
            Rule={"Name": "agent-answers", "Enabled": True, "Recipients": ["reply.text311.ca"], "Actions": []},
        )
        assert receipt_rule_active(_ctx(ses=ses)).status == "ok"


def test_production_access_is_unknown_when_the_endpoint_does_not_implement_get_account() -> None:
    with mock_aws():
        (finding,) = run_checks(_ctx(sesv2=boto3.client("sesv2", region_name=REGION)), [production_access])
    assert finding.status == "unknown"
    assert "could not check" in finding.detail


def test_production_access_reports_the_sandbox() -> None:
    sesv2 = boto3.client("sesv2", region_name=REGION)
    with Stubber(sesv2) as stub:
        stub.add_response("get_account", {"ProductionAccessEnabled": False}, {})
        finding = production_access(_ctx(sesv2=sesv2))
    assert finding.status == "missing" and "sandbox" in finding.detail and "console.aws.amazon.com/ses" in finding.fix


def test_dkim_success_is_ok() -> None:
    sesv2 = boto3.client("sesv2", region_name=REGION)
    with Stubber(sesv2) as stub:
        stub.add_response(
            "get_email_identity", {"DkimAttributes": {"Status": "SUCCESS"}}, {"EmailIdentity": "text311.ca"}
        )
        assert dkim_signing(_ctx(sesv2=sesv2)).status == "ok"


# --- End User Messaging, stubbed (moto does not implement pinpoint-sms-voice-v2) ------------------------


def test_number_checks_pass_for_an_active_two_way_number_with_an_opt_out_list(sms) -> None:
    client, stubber = sms
    stubber.add_response("describe_phone_numbers", {"PhoneNumbers": [_number()]}, {})
    ctx = _ctx(client)
    assert [check(ctx).status for check in (sms_number_active, sms_two_way_to_topic, sms_opt_out_list)] == ["ok"] * 3


def test_two_way_towards_another_channel_is_missing(sms) -> None:
    client, stubber = sms
    stubber.add_response(
        "describe_phone_numbers", {"PhoneNumbers": [_number(TwoWayChannelArn="arn:aws:sns:x:1:other")]}, {}
    )
    finding = sms_two_way_to_topic(_ctx(client))
    assert finding.status == "missing" and NUMBER in finding.detail and "InboundTopicArn" in finding.fix


def test_a_number_still_in_registration_is_missing(sms) -> None:
    client, stubber = sms
    stubber.add_response("describe_phone_numbers", {"PhoneNumbers": [_number(Status="PENDING")]}, {})
    assert sms_number_active(_ctx(client)).status == "missing"


def test_numbers_are_read_across_pages(sms) -> None:
    client, stubber = sms
    stubber.add_response("describe_phone_numbers", {"PhoneNumbers": [], "NextToken": "t"}, {})
    stubber.add_response("describe_phone_numbers", {"PhoneNumbers": [_number()]}, {"NextToken": "t"})
    assert sms_number_active(_ctx(client)).status == "ok"


def test_spend_limit_at_the_new_account_default_is_missing(sms) -> None:
    client, stubber = sms
    stubber.add_response(
        "describe_spend_limits",
        {"SpendLimits": [{"Name": "TEXT_MESSAGE_MONTHLY_SPEND_LIMIT", "EnforcedLimit": 1, "MaxLimit": 1,
                          "Overridden": False}]},
        {},
    )
    finding = sms_spend_limit(_ctx(client))
    assert finding.status == "missing" and "enforced 1 USD" in finding.detail


def test_protect_configuration_needs_an_account_default(sms) -> None:
    client, stubber = sms
    configuration = {
        "ProtectConfigurationArn": f"arn:aws:sms-voice:{REGION}:123456789012:protect-configuration/pc-1",
        "ProtectConfigurationId": "pc-1", "CreatedTimestamp": "2026-01-01T00:00:00Z",
        "AccountDefault": True, "DeletionProtectionEnabled": False,
    }
    stubber.add_response("describe_protect_configurations", {"ProtectConfigurations": [configuration]}, {})
    assert sms_protect_configuration(_ctx(client)).status == "ok"


def test_sms_checks_are_unknown_against_moto_which_lacks_the_api() -> None:
    with mock_aws():
        ctx = _ctx(boto3.client("pinpoint-sms-voice-v2", region_name=REGION))
        findings = run_checks(ctx, [sms_number_active, sms_spend_limit, sms_protect_configuration])
    assert {f.status for f in findings} == {"unknown"}


# --- the checklist and exit status ---------------------------------------------------------------------


def test_exit_status_is_1_when_missing_2_when_only_unknown_0_when_ready() -> None:
    ok, missing, unknown = Finding("a", "ok", ""), Finding("b", "missing", ""), Finding("c", "unknown", "")
    assert (exit_code([ok, missing, unknown]), exit_code([ok, unknown]), exit_code([ok])) == (1, 2, 0)


def test_render_shows_what_to_do_only_for_what_is_not_ok() -> None:
    lines = render([Finding("x", "ok", "fine", "never shown"), Finding("y", "missing", "absent", "do this")])
    assert lines == ["[ok]      x: fine", "[missing] y: absent", "          → do this"]


def test_cli_runs_every_check_against_moto_and_exits_non_zero(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    config = tmp_path / "regions.yaml"
    config.write_text(yaml.safe_dump({"deployments": [
        {"region": REGION, "reply_domain": "reply.text311.ca", "sender_address": "T <notify@text311.ca>",
         "alarm_email": "ops@text311.ca", "sms_numbers": [NUMBER]}]}))
    with mock_aws():
        result = CliRunner().invoke(app, ["doctor", "--region", REGION, "--config", str(config), "--topic-arn", TOPIC])
    assert result.exit_code == 1, result.output  # nothing is deployed in moto
    assert result.output.count("[") >= len(CHECKS)
    assert "[missing] SES sending identity verified" in result.output
    assert "[unknown]" in result.output  # End User Messaging is not implemented by moto
