"""Least privilege where the code needs less (issue 17, item 10): exact DynamoDB actions per function,
the data key only through a service, SES invoking only for our receipt rule, every log group encrypted.

The expected DynamoDB actions are written out here from the code paths (docs/infrastructure.md, "Least
privilege", says which call needs which action), not read from ``stacks/access.py``.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.infra.conftest import Synth, logical_id, role_statements

pytestmark = [pytest.mark.infra, pytest.mark.xdist_group("infra")]

EXPECTED_TABLE_ACTIONS = {
    "delivery_status": {
        "messages_table": {"GetItem", "UpdateItem"},
        "conversations_table": {"GetItem"},
        "subscribers_table": {"GetItem"},
        "idempotency_table": {"GetItem", "UpdateItem"},
    },
    "sms_drainer": {
        "idempotency_table": {"GetItem", "PutItem", "UpdateItem", "DeleteItem"},
        "messages_table": {"GetItem", "PutItem", "UpdateItem"},
        "conversations_table": {"GetItem", "UpdateItem"},
        "residents_table": {"UpdateItem"},
        "subscribers_table": {"GetItem"},
    },
    "console_api": {
        "conversations_table": {"GetItem", "UpdateItem"},
        "conversations_table/index/by-activity": {"Query"},
        "messages_table": {"GetItem", "PutItem", "Query", "UpdateItem"},
        "residents_table": {"GetItem", "UpdateItem"},
        "subscribers_table": {"GetItem", "UpdateItem"},  # a supervisor's city settings
        "limits_table": {"UpdateItem"},
        "idempotency_table": {"GetItem", "PutItem", "UpdateItem", "DeleteItem"},
        "conversations_table/index/by-resident": {"Query"},  # a resident's earlier conversations
        "audit_table": {"PutItem", "Query"},  # text311.audit: record, a date range
        "audit_table/index/by-conversation": {"Query"},  # a thread's history
        # text311.console_requests: filing, status changes, the requests list and a thread's requests
        "requests_table": {"GetItem", "PutItem", "UpdateItem"},
        "requests_table/index/by-requested": {"Query"},
        "requests_table/index/by-conversation": {"Query"},
    },
    "response_targets": {
        "subscribers_table": {"GetItem", "Scan"},
        "conversations_table": {"UpdateItem"},
        "conversations_table/index/by-activity": {"Query"},
    },
    "open311_api": {
        "subscribers_table": {"GetItem"},
        "requests_table": {"GetItem", "PutItem", "UpdateItem"},
        "requests_table/index/by-requested": {"Query"},
    },
    "mail_events": {
        "conversations_table": {"GetItem", "UpdateItem"},
        "messages_table": {"Query", "UpdateItem"},
        "residents_table": {"GetItem"},
        "subscribers_table": {"GetItem"},
    },
}
# Through which services each function may use the data key.
EXPECTED_KEY_SERVICES = {
    "inbound_sms": {"dynamodb", "sqs"},
    "inbound_email": {"dynamodb", "sqs", "s3"},
    "delivery_status": {"dynamodb", "sqs"},
    "mail_events": {"dynamodb", "sqs"},
    "sms_drainer": {"dynamodb", "sqs"},
    "console_api": {"dynamodb", "sqs"},
    "response_targets": {"dynamodb"},
    "open311_api": {"dynamodb"},
}


def as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def flat(value: Any) -> str:
    """A CloudFormation string as text: ``Ref``s become ``${name}``, ``Fn::Join`` is joined."""
    if isinstance(value, str):
        return value
    if "Ref" in value:
        return "${" + value["Ref"] + "}"
    if "Fn::GetAtt" in value:
        return "${" + ".".join(value["Fn::GetAtt"]) + "}"
    separator, parts = value["Fn::Join"]
    return separator.join(flat(part) for part in parts)


def table_actions(synth: Synth, region: str, function: Any) -> dict[str, set[str]]:
    """table setting (or ``<setting>/index/<name>``) → the DynamoDB actions the function's role holds on it."""
    stack = synth.stacks[region]
    names = {f"${{{logical_id(table)}.Arn}}": name for name, table in stack.data.tables.items()}
    held: dict[str, set[str]] = {}
    for statement in role_statements(synth, region, function.role):
        actions = {a.removeprefix("dynamodb:") for a in as_list(statement["Action"]) if a.startswith("dynamodb:")}
        if not actions:
            continue
        for resource in as_list(statement["Resource"]):
            arn, _, index = flat(resource).partition("/index/")
            held.setdefault(names[arn] + (f"/index/{index}" if index else ""), set()).update(actions)
    return held


def lambda_permissions_for(raw: dict, principal: str) -> list[dict]:
    return [
        r["Properties"]
        for r in raw["Resources"].values()
        if r["Type"] == "AWS::Lambda::Permission" and r["Properties"]["Principal"] == principal
    ]


def assert_log_groups_encrypted(raw: dict, key_logical_id: str) -> None:
    """Every log group has the key; every function logs to one of them, so none writes to an implicit
    ``/aws/lambda/<name>`` group that Lambda would create unencrypted and keep forever."""
    resources = raw["Resources"]
    groups = {k: r for k, r in resources.items() if r["Type"] == "AWS::Logs::LogGroup"}
    for name, group in groups.items():
        assert group["Properties"].get("KmsKeyId") == {"Fn::GetAtt": [key_logical_id, "Arn"]}, name
    functions = {k: r for k, r in resources.items() if r["Type"] == "AWS::Lambda::Function"}
    assert functions
    for name, function in functions.items():
        target = function["Properties"].get("LoggingConfig", {}).get("LogGroup")
        assert target is not None and target.get("Ref") in groups, name


def assert_key_admits_log_groups(raw: dict, key_logical_id: str, region: str) -> None:
    """CloudWatch Logs of this region may use the key, for this account's log groups only."""
    statements = raw["Resources"][key_logical_id]["Properties"]["KeyPolicy"]["Statement"]
    (logs,) = [s for s in statements if s["Principal"].get("Service") == f"logs.{region}.amazonaws.com"]
    assert {"kms:Encrypt*", "kms:Decrypt*", "kms:GenerateDataKey*"} <= set(logs["Action"])
    context = logs["Condition"]["ArnLike"]["kms:EncryptionContext:aws:logs:arn"]
    assert flat(context) == f"arn:${{AWS::Partition}}:logs:{region}:${{AWS::AccountId}}:log-group:*"


def assert_ses_invokes_only_for_the_rule(raw: dict, region: str, rule_set: str, rule_name: str) -> int:
    """Every permission SES holds on a function names this account and our receipt rule; their number."""
    permissions = lambda_permissions_for(raw, "ses.amazonaws.com")
    rule = (
        f"arn:${{AWS::Partition}}:ses:{region}:${{AWS::AccountId}}:"
        f"receipt-rule-set/{rule_set}:receipt-rule/{rule_name}"
    )
    for permission in permissions:
        assert permission["SourceAccount"] == {"Ref": "AWS::AccountId"}, permission
        assert flat(permission["SourceArn"]) == rule, permission
    return len(permissions)


# --- DynamoDB: exactly the actions each code path makes ------------------------------------------------


@pytest.mark.parametrize("name", sorted(EXPECTED_TABLE_ACTIONS))
def test_function_holds_exactly_the_dynamodb_actions_its_code_uses(synth: Synth, region: str, name: str) -> None:
    function = synth.stacks[region].functions.all[name]
    assert table_actions(synth, region, function) == EXPECTED_TABLE_ACTIONS[name]


@pytest.mark.parametrize("name", ["sms_drainer", "delivery_status", "console_api"])
def test_no_scan_batch_write_or_delete_on_conversations_or_messages(synth: Synth, region: str, name: str) -> None:
    held = table_actions(synth, region, synth.stacks[region].functions.all[name])
    for target, actions in held.items():
        if target.startswith(("conversations_table", "messages_table")):
            assert not actions & {"Scan", "BatchWriteItem", "DeleteItem"}, (target, actions)


# --- the data key only through a service ---------------------------------------------------------------


def test_every_data_key_grant_of_a_function_goes_through_a_service(synth: Synth, region: str) -> None:
    # given each function's role, then every statement on the data key carries kms:ViaService, and the
    # services are those the function uses the key through (no function calls KMS with it directly)
    stack = synth.stacks[region]
    data_key = f"${{{logical_id(stack.security.data_key)}.Arn}}"
    for name, function in stack.functions.all.items():
        services = set()
        for statement in role_statements(synth, region, function.role):
            if data_key not in {flat(r) for r in as_list(statement["Resource"])}:
                continue
            (via,) = as_list(statement["Condition"]["StringEquals"]["kms:ViaService"])
            assert list(statement["Condition"]) == ["StringEquals"], statement
            service, _, rest = via.partition(".")
            assert rest == f"{region}.amazonaws.com", statement
            services.add(service)
        assert services == EXPECTED_KEY_SERVICES[name], name


def test_the_data_key_policy_names_a_function_only_through_a_service(synth: Synth, region: str) -> None:
    # given the key policy's statements that name a function's role (the secrets' read grant), then
    # each is limited to Secrets Manager
    stack = synth.stacks[region]
    roles = {logical_id(f.role) for f in stack.functions.all.values()}
    statements = synth.raw[region]["Resources"][logical_id(stack.security.data_key)]["Properties"]["KeyPolicy"]
    naming = [
        s for s in statements["Statement"]
        if {r.get("Fn::GetAtt", [None])[0] for r in as_list(s["Principal"].get("AWS", [])) if isinstance(r, dict)}
        & roles
    ]
    assert naming
    for statement in naming:
        assert statement["Condition"] == {
            "StringEquals": {"kms:ViaService": f"secretsmanager.{region}.amazonaws.com"}
        }, statement


# --- SES may invoke for our receipt rule only ----------------------------------------------------------


def test_ses_may_invoke_inbound_email_only_for_our_receipt_rule(synth: Synth, region: str) -> None:
    stack = synth.stacks[region]
    assert stack.email.receiving is not None  # both shipped regions receive themselves
    count = assert_ses_invokes_only_for_the_rule(
        synth.raw[region], region, stack.deployment.rule_set_name, stack.email.receiving.rule_name
    )
    assert count == 1


# --- every log group under the region's key ------------------------------------------------------------


def test_every_log_group_is_encrypted_and_every_function_logs_to_one(synth: Synth, region: str) -> None:
    assert_log_groups_encrypted(synth.raw[region], logical_id(synth.stacks[region].security.data_key))


def test_the_data_key_lets_cloudwatch_logs_use_it_for_this_accounts_log_groups(synth: Synth, region: str) -> None:
    assert_key_admits_log_groups(synth.raw[region], logical_id(synth.stacks[region].security.data_key), region)


# --- Amazon Location: only where a region asks for it, only the functions that find places ---------------


def test_geocode_is_granted_to_the_functions_that_find_places_only_where_the_region_configures_amazon_location(
    synth: Synth, region: str
) -> None:
    stack = synth.stacks[region]
    wanted = stack.deployment.geocoder == "amazon-location"
    provider = f"arn:aws:geo-places:{region}::provider/default"
    for name, function in stack.functions.all.items():
        geo = [
            s
            for s in role_statements(synth, region, function.role)
            if any(a.startswith("geo-places:") for a in as_list(s["Action"]))
        ]
        environment = synth.raw[region]["Resources"][logical_id(function)]["Properties"]["Environment"]["Variables"]
        if name not in ("inbound_sms", "inbound_email", "console_api"):
            assert geo == [], name
            continue
        assert environment["GEOCODER"] == ("amazon-location" if wanted else ""), name
        expected = [(["geo-places:Geocode"], [provider])] if wanted else []
        assert [(as_list(s["Action"]), as_list(s["Resource"])) for s in geo] == expected, name


def test_at_least_one_configured_region_geocodes_and_one_does_not(synth: Synth) -> None:
    # The test above covers both branches only if the configuration holds both.
    assert {stack.deployment.geocoder for stack in synth.stacks.values()} == {"none", "amazon-location"}


# --- Amazon Translate: only the functions that translate -------------------------------------------------


def test_translate_text_is_granted_alone_and_only_to_the_functions_that_translate(synth: Synth, region: str) -> None:
    stack = synth.stacks[region]
    translating = {"inbound_sms", "inbound_email", "console_api"}
    for name, function in stack.functions.all.items():
        statements = role_statements(synth, region, function.role)
        translate = [s for s in statements if any(a.startswith("translate:") for a in as_list(s["Action"]))]
        environment = synth.raw[region]["Resources"][logical_id(function)]["Properties"]["Environment"]["Variables"]
        if name not in translating:
            assert translate == [] and environment.get("TRANSLATOR") == "", name
            continue
        assert environment["TRANSLATOR"] == "amazon-translate", name
        # TranslateText has no resource ARN for a plain translation: "*", for this one action only
        assert [(as_list(s["Action"]), as_list(s["Resource"])) for s in translate] == [
            (["translate:TranslateText"], ["*"])
        ], name
