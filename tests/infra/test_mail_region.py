"""SES receiving where the SMS region cannot receive (Text311-mail-<region>), and the receipt rule set modes."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from stacks.config import DEFAULT_CONFIG, ConfigError, load_config, receiving_regions
from tests.infra.test_app import _bad_config, _run_app
from tests.infra.test_least_privilege import (
    assert_key_admits_log_groups,
    assert_log_groups_encrypted,
    assert_ses_invokes_only_for_the_rule,
)

pytestmark = [pytest.mark.infra, pytest.mark.xdist_group("infra")]

SMS_REGION, MAIL_REGION = "eu-west-3", "eu-west-1"
ZONE = "Z0123456789ABCDEFGHIJ"
REMOTE = {
    "region": SMS_REGION,
    "sms_origination_identity": "create",
    "sms_iso_country": "FR",
    "served_countries": ["FR"],
    "reply_domain": "reply.fr.text311.example",
    "sender_address": "Text311 <notify@fr.text311.example>",
    "retention_days": 365,
    "alarm_email": "ops@text311.example",
    "mail_receiving_region": MAIL_REGION,
    "route53_hosted_zone_id": ZONE,
}
# A second SMS region receiving in the same region: its rule goes into the first one's set.
SHARED_REGION = "eu-south-1"
SHARED = {
    **REMOTE,
    "region": SHARED_REGION,
    "sms_iso_country": "IT",
    "served_countries": ["IT"],
    "reply_domain": "reply.it.text311.example",
    "sender_address": "Text311 <notify@it.text311.example>",
    "receipt_rule_set": {"mode": "existing", "name": f"text311-{SMS_REGION}"},
}
EXISTING = {
    **{k: v for k, v in REMOTE.items() if k not in ("mail_receiving_region", "route53_hosted_zone_id")},
    "region": "eu-west-2",
    "receipt_rule_set": {"mode": "existing", "name": "helpdesk-inbound"},
}


@dataclass
class Built:
    stacks: dict[str, Any]  # stack name → Stack
    raw: dict[str, dict]  # stack name → template

    def resources(self, stack: str, kind: str) -> dict[str, dict]:
        return {k: v for k, v in self.raw[stack]["Resources"].items() if v["Type"] == kind}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    import aws_cdk as cdk
    from cdk_nag import AwsSolutionsChecks

    from stacks.region_stack import build_stacks, create_app

    tmp = tmp_path_factory.mktemp("mail-region")
    path = tmp / "regions.yaml"
    path.write_text(yaml.safe_dump({"deployments": [REMOTE, EXISTING, SHARED]}))
    app = create_app(outdir=str(tmp / "cdk.out"))
    region_stacks = build_stacks(app, load_config(path))
    cdk.Aspects.of(app).add(AwsSolutionsChecks(verbose=True))
    app.synth()
    stacks = {s.stack_name: s for s in region_stacks}
    stacks.update({s.mail_stack.stack_name: s.mail_stack for s in region_stacks if s.mail_stack})
    raw = {name: json.loads((tmp / "cdk.out" / f"{name}.template.json").read_text()) for name in stacks}
    return Built(stacks=stacks, raw=raw)


# --- the receiving regions and the one-line config error ----------------------------------------------


def test_shipped_regions_receive_mail_in_their_own_region() -> None:
    assert {"ca-central-1", "us-east-1"} <= set(receiving_regions())
    assert all(not d.receives_remotely for d in load_config(DEFAULT_CONFIG).deployments)


def test_app_exits_2_naming_mail_receiving_region_when_the_region_cannot_receive(tmp_path: Path) -> None:
    # given an entry in a region where SES cannot receive, without mail_receiving_region
    config = _bad_config(tmp_path, 0, region="eu-west-3")
    # when `cdk synth` runs the app
    result = _run_app(tmp_path, config)
    # then one line names the entry, the field and the regions that can receive
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert "deployments[0] (region eu-west-3): mail_receiving_region: SES cannot receive email in eu-west-3" in line
    assert "ca-central-1" in line and "us-east-1" in line
    assert "jsii" not in result.stderr.lower() and "Traceback" not in result.stderr


def test_config_rejects_a_mail_receiving_region_where_ses_cannot_receive(tmp_path: Path) -> None:
    path = _bad_config(tmp_path, 0, region="eu-west-3", mail_receiving_region="eu-south-2")
    with pytest.raises(ConfigError, match=r"mail_receiving_region: SES cannot receive email in eu-south-2; choose"):
        load_config(path)


@pytest.mark.parametrize(
    ("rule_set", "message"),
    [
        ({"mode": "existing"}, "receipt_rule_set: name: give the name"),
        ({"mode": "existing", "name": "x", "replace_active": True}, "receipt_rule_set: replace_active: only with"),
        ({"mode": "merge"}, "receipt_rule_set.mode: "),
    ],
)
def test_config_names_a_bad_receipt_rule_set(tmp_path: Path, rule_set: dict, message: str) -> None:
    with pytest.raises(ConfigError) as error:
        load_config(_bad_config(tmp_path, 0, receipt_rule_set=rule_set))
    assert message in str(error.value) and "\n" not in str(error.value)


# --- the companion stack -------------------------------------------------------------------------------


def test_the_mail_stack_lives_in_the_receiving_region_and_deploys_after_the_sms_stack(built: Built) -> None:
    sms, mail = built.stacks[f"Text311-{SMS_REGION}"], built.stacks[f"Text311-mail-{SMS_REGION}"]
    assert (sms.region, mail.region) == (SMS_REGION, MAIL_REGION)
    assert sms in mail.dependencies
    assert built.resources(f"Text311-{SMS_REGION}", "AWS::SES::ReceiptRule") == {}  # nothing received here


def test_the_receiving_rule_stores_then_invokes_the_forwarder(built: Built) -> None:
    name = f"Text311-mail-{SMS_REGION}"
    (rule,) = built.resources(name, "AWS::SES::ReceiptRule").values()
    props = rule["Properties"]["Rule"]
    assert props["Recipients"] == ["reply.fr.text311.example"]
    assert props["ScanEnabled"] and props["TlsPolicy"] == "Require"
    s3_action, lambda_action = props["Actions"]
    assert s3_action["S3Action"]["ObjectKeyPrefix"] == "inbound/"
    forwarder = built.stacks[name].forwarder
    assert lambda_action["LambdaAction"]["InvocationType"] == "Event"
    assert lambda_action["LambdaAction"]["FunctionArn"]["Fn::GetAtt"][0] == built.stacks[name].get_logical_id(
        forwarder.node.default_child
    )


def test_the_forwarder_targets_the_sms_region_through_the_role_and_parameters_that_stack_owns(built: Built) -> None:
    sms_name, mail_name = f"Text311-{SMS_REGION}", f"Text311-mail-{SMS_REGION}"
    (function,) = [
        f for f in built.resources(mail_name, "AWS::Lambda::Function").values()
        if "TARGET_REGION" in f["Properties"].get("Environment", {}).get("Variables", {})
    ]
    env = function["Properties"]["Environment"]["Variables"]
    assert env["TARGET_REGION"] == SMS_REGION
    assert env["TARGET_PARAMETER_PREFIX"] == f"/text311/{SMS_REGION}/mail-relay/"
    assert f"text311-mail-relay-{SMS_REGION}" in json.dumps(function["Properties"]["Role"])
    parameters = {p["Properties"]["Name"] for p in built.resources(sms_name, "AWS::SSM::Parameter").values()}
    assert parameters == {f"/text311/{SMS_REGION}/mail-relay/inbound-email-function",
                          f"/text311/{SMS_REGION}/mail-relay/raw-mail-bucket"}
    (role,) = [r for r in built.resources(sms_name, "AWS::IAM::Role").values()
               if r["Properties"].get("RoleName") == f"text311-mail-relay-{SMS_REGION}"]
    assert role
    statements = [
        s for p in built.resources(sms_name, "AWS::IAM::Policy").values()
        if "ForwarderRole" in json.dumps(p["Properties"]["Roles"])
        for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]
    actions = {a for s in statements for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
    assert actions == {"ssm:GetParameter", "s3:PutObject", "kms:GenerateDataKey", "lambda:InvokeFunction"}
    assert all(s["Resource"] != "*" for s in statements)


def test_the_mx_points_at_the_receiving_region_in_outputs_and_route53(built: Built) -> None:
    sms_name = f"Text311-{SMS_REGION}"
    outputs = built.raw[sms_name]["Outputs"]
    (mx_output,) = [o for key, o in outputs.items() if key.startswith("EmailDnsInboundMx")]
    assert mx_output["Value"] == f"reply.fr.text311.example MX 10 inbound-smtp.{MAIL_REGION}.amazonaws.com"
    records = built.resources(sms_name, "AWS::Route53::RecordSet").values()
    mx = [r["Properties"] for r in records if r["Properties"]["Type"] == "MX"]
    assert {"reply.fr.text311.example": f"10 inbound-smtp.{MAIL_REGION}.amazonaws.com",
            "bounce.fr.text311.example": f"10 feedback-smtp.{SMS_REGION}.amazonses.com"} == {
        r["Name"]: r["ResourceRecords"][0] for r in mx
    }
    assert all(r["HostedZoneId"] == ZONE for r in mx)
    spf = [r["Properties"] for r in records if r["Properties"]["Type"] == "TXT"]
    assert [r["ResourceRecords"] for r in spf] == [['"v=spf1 include:amazonses.com ~all"']]  # DMARC: output only
    # the reply domain is verified (Easy DKIM) where SES receives, and its CNAMEs published there
    mail_records = built.resources(f"Text311-mail-{SMS_REGION}", "AWS::Route53::RecordSet")
    assert len(mail_records) == 3
    assert built.resources(f"Text311-mail-{SMS_REGION}", "AWS::SES::EmailIdentity")


def test_relayed_answers_are_kept_a_week_where_received_and_retained(built: Built) -> None:
    mail_name = f"Text311-mail-{SMS_REGION}"
    bucket = built.raw[mail_name]["Resources"][
        built.stacks[mail_name].get_logical_id(built.stacks[mail_name].bucket.node.default_child)
    ]
    assert bucket["DeletionPolicy"] == bucket["UpdateReplacePolicy"] == "Retain"
    (rule,) = bucket["Properties"]["LifecycleConfiguration"]["Rules"]
    assert rule["ExpirationInDays"] == 7 and rule["Prefix"] == "inbound/"


# --- receipt rule set modes ------------------------------------------------------------------------------


def _activation(built: Built, name: str) -> dict:
    (resource,) = built.resources(name, "Custom::SesActiveReceiptRuleSet").values()
    return resource


def test_create_and_activate_owns_its_rule_set_and_activates_it_after_the_rule(built: Built) -> None:
    name = f"Text311-mail-{SMS_REGION}"
    (rule_set,) = built.resources(name, "AWS::SES::ReceiptRuleSet").values()
    assert rule_set["Properties"]["RuleSetName"] == f"text311-{SMS_REGION}"
    activation = _activation(built, name)
    assert activation["Properties"]["Mode"] == "activate" and activation["Properties"]["ReplaceActive"] == "false"
    (rule_id,) = built.resources(name, "AWS::SES::ReceiptRule")
    assert rule_id in activation["DependsOn"]


def test_existing_mode_adds_our_rule_to_the_named_set_and_only_verifies_it(built: Built) -> None:
    name = "Text311-eu-west-2"
    assert built.resources(name, "AWS::SES::ReceiptRuleSet") == {}
    (rule,) = built.resources(name, "AWS::SES::ReceiptRule").values()
    assert rule["Properties"]["RuleSetName"] == "helpdesk-inbound"
    assert _activation(built, name)["Properties"]["Mode"] == "verify"
    statements = json.dumps(
        [p["Properties"]["PolicyDocument"] for p in built.resources(name, "AWS::IAM::Policy").values()]
    )
    assert "ses:DescribeActiveReceiptRuleSet" in statements and "ses:SetActiveReceiptRuleSet" not in statements
    bucket_policy = json.dumps(built.resources(name, "AWS::S3::BucketPolicy"))
    assert "receipt-rule-set/helpdesk-inbound:receipt-rule/agent-answers-eu-west-2" in bucket_policy


# --- least privilege in every stack (issue 17, item 10) ---------------------------------------------------


def _region_key(built: Built, name: str) -> str:
    """The logical id of the stack's own key: the SMS stacks' data key, the mail stack's mail key."""
    stack = built.stacks[name]
    key = stack.key if name.startswith("Text311-mail-") else stack.security.data_key
    return stack.get_logical_id(key.node.default_child)


@pytest.mark.parametrize("name", [f"Text311-{SMS_REGION}", f"Text311-mail-{SMS_REGION}", "Text311-eu-west-2"])
def test_every_log_group_of_every_stack_is_under_its_regions_key(built: Built, name: str) -> None:
    region = built.stacks[name].region
    assert_log_groups_encrypted(built.raw[name], _region_key(built, name))
    assert_key_admits_log_groups(built.raw[name], _region_key(built, name), region)


@pytest.mark.parametrize(
    ("name", "rule_set", "rule", "invoked"),
    [(f"Text311-mail-{SMS_REGION}", f"text311-{SMS_REGION}", f"agent-answers-{SMS_REGION}", 1),
     ("Text311-eu-west-2", "helpdesk-inbound", "agent-answers-eu-west-2", 1),
     (f"Text311-{SMS_REGION}", "-", "-", 0)],  # the forwarder invokes inbound_email there, not SES
)
def test_ses_may_invoke_only_for_our_receipt_rule_in_either_mode(
    built: Built, name: str, rule_set: str, rule: str, invoked: int
) -> None:
    region = built.stacks[name].region
    assert assert_ses_invokes_only_for_the_rule(built.raw[name], region, rule_set, rule) == invoked


def test_cdk_nag_finds_nothing_unsuppressed_in_either_stack(built: Built) -> None:
    from aws_cdk.assertions import Annotations, Match

    rule = Match.string_like_regexp("AwsSolutions-.*")
    for name, stack in built.stacks.items():
        annotations = Annotations.from_stack(stack)
        findings = annotations.find_error("*", rule) + annotations.find_warning("*", rule)
        assert [f"{name} {f.id}: {f.entry.data}" for f in findings] == []


def test_cfn_lint_reports_nothing_for_the_mail_stack(built: Built, tmp_path: Path) -> None:
    from cfnlint.api import ManualArgs, lint_file

    from tests.infra.test_checks import IGNORED_LINT_RULES

    name = f"Text311-mail-{SMS_REGION}"
    path = tmp_path / "mail.template.json"
    path.write_text(json.dumps(built.raw[name]))
    matches = lint_file(path, config=ManualArgs(regions=[MAIL_REGION], ignore_checks=sorted(IGNORED_LINT_RULES)))
    assert [str(m) for m in matches] == []


# --- two SMS regions receiving in one region; the custom resource's timeouts (issue 18, item 7) ----------


def test_rule_set_and_rule_names_carry_the_sms_region(built: Built) -> None:
    (rule_set,) = built.resources(f"Text311-mail-{SMS_REGION}", "AWS::SES::ReceiptRuleSet").values()
    (rule,) = built.resources(f"Text311-mail-{SMS_REGION}", "AWS::SES::ReceiptRule").values()
    assert rule_set["Properties"]["RuleSetName"] == f"text311-{SMS_REGION}"
    assert rule["Properties"]["Rule"]["Name"] == f"agent-answers-{SMS_REGION}"


def test_a_second_sms_region_adds_its_own_rule_to_the_set_in_the_shared_receiving_region(built: Built) -> None:
    first, second = f"Text311-mail-{SMS_REGION}", f"Text311-mail-{SHARED_REGION}"
    assert built.stacks[first].region == built.stacks[second].region == MAIL_REGION
    assert built.resources(second, "AWS::SES::ReceiptRuleSet") == {}  # one set, owned by the first
    (rule,) = built.resources(second, "AWS::SES::ReceiptRule").values()
    assert rule["Properties"]["RuleSetName"] == f"text311-{SMS_REGION}"
    assert rule["Properties"]["Rule"]["Name"] == f"agent-answers-{SHARED_REGION}"
    assert _activation(built, second)["Properties"]["Mode"] == "verify"


def test_config_refuses_two_sets_activated_in_one_receiving_region_naming_both_entries(tmp_path: Path) -> None:
    # given two SMS regions that would each create and activate a rule set in eu-west-1
    path = tmp_path / "regions.yaml"
    clash = {k: v for k, v in SHARED.items() if k != "receipt_rule_set"}
    path.write_text(yaml.safe_dump({"deployments": [REMOTE, EXISTING, clash]}))
    # when the config is read, then one line names both entries and what to write instead
    with pytest.raises(ConfigError) as error:
        load_config(path)
    message = str(error.value)
    assert "\n" not in message
    assert f"deployments[2] (region {SHARED_REGION}) and deployments[0] (region {SMS_REGION})" in message
    assert f"in {MAIL_REGION}" in message and f"mode: existing, name: text311-{SMS_REGION}" in message


def test_config_accepts_sets_activated_in_one_receiving_region_by_two_accounts(tmp_path: Path) -> None:
    path = tmp_path / "regions.yaml"
    other_account = {k: v for k, v in SHARED.items() if k != "receipt_rule_set"} | {"account": "111122223333"}
    path.write_text(yaml.safe_dump({"deployments": [REMOTE, other_account]}))
    assert len(load_config(path).deployments) == 2


def test_the_activation_answers_within_its_timeout_and_cloudformation_waits_no_longer(built: Built) -> None:
    import importlib

    handler = importlib.import_module("functions.receipt_rule_set.handler")
    name = f"Text311-mail-{SMS_REGION}"
    activation = _activation(built, name)
    stack = built.stacks[name]
    function = built.raw[name]["Resources"][stack.get_logical_id(stack.receiving.function.node.default_child)]
    timeout = function["Properties"]["Timeout"]
    # the function keeps room for a few SES calls besides the margin it keeps to answer
    assert timeout * 1000 >= handler.RESPONSE_MARGIN_MS + 3 * handler.SES_CALL_MAX_S * 1000
    # CloudFormation stops waiting soon after the function's own timeout (not the default hour)
    assert timeout < int(activation["Properties"]["ServiceTimeout"]) <= 600
