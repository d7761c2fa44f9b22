"""``text311 doctor``: each preflight check against moto (SES) or botocore Stubber (APIs moto lacks)."""

from __future__ import annotations

import importlib
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
    alarm_email_confirmed,
    alarm_topics_from_stack,
    dkim_signing,
    exit_code,
    mail_from_domain,
    production_access,
    receipt_rule_active,
    render,
    reply_domain_mx,
    resolve_mx_public,
    run_checks,
    sending_identity_verified,
    sms_keywords,
    sms_number_active,
    sms_opt_out_list,
    sms_protect_configuration,
    sms_sandbox,
    sms_spend_limit,
    sms_two_way_to_topic,
)
from text311.i18n import catalog

doctor_module = importlib.import_module("text311.cli.doctor")  # the package exports the command as `doctor`

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


def _ctx(sms_client=None, sesv2=None, ses=None, topic: str | None = TOPIC, plan: DomainPlan = PLAN, **more) -> Context:
    return Context(plan, sesv2, ses, sms_client, inbound_topic_arn=topic, **more)


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
        assert f"has no rule agent-answers-{REGION}" in receipt_rule_active(_ctx(ses=ses)).detail
        ses.create_receipt_rule(
            RuleSetName="text311",
            Rule={"Name": f"agent-answers-{REGION}", "Enabled": True, "Recipients": ["reply.text311.ca"],
                  "Actions": []},
        )
        assert receipt_rule_active(_ctx(ses=ses)).status == "ok"


def test_receipt_rule_check_wants_the_rule_named_for_this_region() -> None:
    # given the active set holds another SMS region's rule for the same receiving region (and the old name)
    with mock_aws():
        ses = boto3.client("ses", region_name=REGION)
        ses.create_receipt_rule_set(RuleSetName="text311-eu-west-3")
        ses.set_active_receipt_rule_set(RuleSetName="text311-eu-west-3")
        for rule in ("agent-answers", "agent-answers-eu-west-3"):
            ses.create_receipt_rule(
                RuleSetName="text311-eu-west-3",
                Rule={"Name": rule, "Enabled": True, "Recipients": ["reply.text311.ca"], "Actions": []},
            )
        # then this region's rule is missing
        assert receipt_rule_active(_ctx(ses=ses)).status == "missing"


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
    monkeypatch.setattr(doctor_module, "resolve_mx_public", lambda domain: [])  # no DNS query leaves the test
    with mock_aws():
        result = CliRunner().invoke(app, ["doctor", "--region", REGION, "--config", str(config), "--topic-arn", TOPIC])
    assert result.exit_code == 1, result.output  # nothing is deployed in moto
    assert result.output.count("[") >= len(CHECKS)
    assert "[missing] SES sending identity verified" in result.output
    assert "[unknown]" in result.output  # End User Messaging is not implemented by moto


# --- sandbox, keywords, alarm e-mail, MAIL FROM, reply MX (issue 18, item 7) -----------------------------


@pytest.mark.parametrize(("tier", "status"), [("SANDBOXED", "missing"), ("PRODUCTION", "ok")])
def test_sms_sandbox_is_read_from_the_account_tier(sms, tier: str, status: str) -> None:
    client, stubber = sms
    stubber.add_response(
        "describe_account_attributes", {"AccountAttributes": [{"Name": "ACCOUNT_TIER", "Value": tier}]}, {}
    )
    finding = sms_sandbox(_ctx(client))
    assert finding.status == status and tier in finding.detail


def _keywords(stubber: Stubber, words: list[str]) -> None:
    stubber.add_response("describe_phone_numbers", {"PhoneNumbers": [_number()]}, {})
    keywords = [{"Keyword": w, "KeywordMessage": "m", "KeywordAction": "AUTOMATIC_RESPONSE"} for w in words]
    stubber.add_response(
        "describe_keywords", {"Keywords": keywords},
        {"OriginationIdentity": f"arn:aws:sms-voice:{REGION}:123456789012:phone-number/phone-1"},
    )


def _every_keyword() -> list[str]:
    kinds = catalog().keyword_kinds()
    return sorted({w.upper() for kind in ("help", "opt_out", "opt_in") for w in kinds[kind]})


def test_a_bought_number_without_its_keywords_is_missing(sms) -> None:
    client, stubber = sms
    _keywords(stubber, ["HELP", "STOP"])  # the mandatory two only
    finding = sms_keywords(_ctx(client))
    assert finding.status == "missing" and "AIDE" in finding.detail and "ARRET" in finding.detail


def test_a_bought_number_with_every_keyword_is_ok(sms) -> None:
    client, stubber = sms
    _keywords(stubber, _every_keyword())
    assert sms_keywords(_ctx(client)).status == "ok"


def test_an_existing_numbers_missing_keywords_are_answered_by_the_functions(sms) -> None:
    client, stubber = sms
    _keywords(stubber, ["HELP", "STOP"])
    existing = DomainPlan(**{**PLAN.__dict__, "creates_number": False})
    finding = sms_keywords(_ctx(client, plan=existing))
    assert finding.status == "ok" and "ANSWER_KEYWORDS=true" in finding.detail


ALARMS = f"arn:aws:sns:{REGION}:123456789012:Text311-ca-central-1-ObservabilityAlarmTopic-1"


def _alarm_ctx(subscription_arn: str) -> tuple[Context, Stubber]:
    sns = boto3.client("sns", region_name=REGION)
    stubber = Stubber(sns)
    stubber.add_response(
        "list_subscriptions_by_topic",
        {"Subscriptions": [{"SubscriptionArn": subscription_arn, "Protocol": "email", "Endpoint": "ops@text311.ca",
                            "TopicArn": ALARMS, "Owner": "123456789012"}]},
        {"TopicArn": ALARMS},
    )
    stubber.activate()
    return _ctx(alarm_topic_arns=[ALARMS], sns_in=lambda region: sns), stubber


def test_an_alarm_subscription_pending_confirmation_is_missing() -> None:
    ctx, _ = _alarm_ctx("PendingConfirmation")
    finding = alarm_email_confirmed(ctx)
    assert finding.status == "missing" and "has not confirmed" in finding.detail and "ops@text311.ca" in finding.fix


def test_a_confirmed_alarm_subscription_is_ok() -> None:
    ctx, _ = _alarm_ctx(f"{ALARMS}:0f0e0d0c-0000-4000-8000-000000000000")
    assert alarm_email_confirmed(ctx).status == "ok"


def test_alarm_check_is_unknown_without_the_stacks_topic() -> None:
    assert alarm_email_confirmed(_ctx()).status == "unknown"


def test_the_stacks_alarm_topics_are_found_among_its_resources() -> None:
    cloudformation = boto3.client("cloudformation", region_name=REGION)
    summary = {"LastUpdatedTimestamp": "2026-01-01T00:00:00Z", "ResourceStatus": "CREATE_COMPLETE"}
    with Stubber(cloudformation) as stub:
        stub.add_response("list_stack_resources", {"StackResourceSummaries": [
            {**summary, "LogicalResourceId": "ObservabilityAlarmTopicB1A2", "PhysicalResourceId": ALARMS,
             "ResourceType": "AWS::SNS::Topic"},
            {**summary, "LogicalResourceId": "MessagingInboundTopic1234", "PhysicalResourceId": TOPIC,
             "ResourceType": "AWS::SNS::Topic"},
        ]}, {"StackName": "Text311-ca-central-1"})
        assert alarm_topics_from_stack(cloudformation, "Text311-ca-central-1") == [ALARMS]


@pytest.mark.parametrize(
    ("attributes", "status"),
    [({"MailFromDomain": "bounce.text311.ca", "MailFromDomainStatus": "PENDING"}, "missing"),
     ({"MailFromDomain": "bounce.text311.ca", "MailFromDomainStatus": "SUCCESS"}, "ok"),
     ({"MailFromDomain": "mail.text311.ca", "MailFromDomainStatus": "SUCCESS"}, "missing")],
)
def test_mail_from_domain_needs_success_for_the_configured_domain(attributes: dict, status: str) -> None:
    sesv2 = boto3.client("sesv2", region_name=REGION)
    with Stubber(sesv2) as stub:
        stub.add_response(
            "get_email_identity",
            {"MailFromAttributes": {**attributes, "BehaviorOnMxFailure": "USE_DEFAULT_VALUE"}},
            {"EmailIdentity": "text311.ca"},
        )
        assert mail_from_domain(_ctx(sesv2=sesv2)).status == status


@pytest.mark.parametrize(
    ("hosts", "status"),
    [(["inbound-smtp.ca-central-1.amazonaws.com"], "ok"), (["mx.example.net"], "missing"), ([], "missing")],
)
def test_reply_domain_mx_must_point_at_ses_in_the_receiving_region(hosts: list[str], status: str) -> None:
    asked: list[str] = []
    ctx = _ctx(resolve_mx=lambda domain: asked.append(domain) or hosts)
    finding = reply_domain_mx(ctx)
    assert (finding.status, asked) == (status, ["reply.text311.ca"])


def test_the_resolver_reads_the_mx_hosts_from_the_dns_answer(monkeypatch) -> None:
    import dns.name
    import dns.rdata
    import dns.rdataclass
    import dns.rdatatype
    import dns.resolver

    records = [dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.MX,
                                   "10 inbound-smtp.ca-central-1.amazonaws.com.")]
    asked: list[tuple[str, str]] = []

    def resolve(name, kind, lifetime):
        asked.append((name, kind))
        if name == "reply.text311.ca":
            return records
        raise dns.resolver.NXDOMAIN(qnames=[dns.name.from_text(name)])

    monkeypatch.setattr(dns.resolver, "resolve", resolve)
    assert resolve_mx_public("reply.text311.ca") == ["inbound-smtp.ca-central-1.amazonaws.com"]
    assert resolve_mx_public("nowhere.text311.ca") == []
    assert asked == [("reply.text311.ca", "MX"), ("nowhere.text311.ca", "MX")]
