"""The synthesized stacks have the properties the design relies on (docs/infrastructure.md)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.infra.conftest import Synth, logical_id
from text311.adapters.dynamodb import TABLES, ttl_attribute
from text311.i18n import catalog
from text311.settings import Settings

pytestmark = [pytest.mark.infra, pytest.mark.xdist_group("infra")]


def _getatt_arn(construct: Any) -> dict:
    return {"Fn::GetAtt": [logical_id(construct), "Arn"]}


def _data_key(synth: Synth, region: str) -> dict:
    return _getatt_arn(synth.stacks[region].security.data_key)


def _statements(synth: Synth, region: str) -> list[dict]:
    statements = []
    for policy in synth.resources(region, "AWS::IAM::Policy").values():
        statements += policy["Properties"]["PolicyDocument"]["Statement"]
    return statements


def _as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


# --- Data -------------------------------------------------------------------------------------


def test_every_model_has_a_table_with_its_keys_cmk_pitr_and_ttl(synth: Synth, region: str) -> None:
    # given the pynamodb models, when the stack is synthesized, then each has its table
    stack = synth.stacks[region]
    tables = synth.resources(region, "AWS::DynamoDB::Table")
    assert len(tables) == len(TABLES)
    for setting, model in TABLES.items():
        props = tables[logical_id(stack.data.tables[setting])]["Properties"]
        assert props["BillingMode"] == "PAY_PER_REQUEST"
        assert props.get("SSESpecification") == {
            "KMSMasterKeyId": _data_key(synth, region),
            "SSEEnabled": True,
            "SSEType": "KMS",
        }
        assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
        hash_key = model._hash_key_attribute().attr_name
        assert {"AttributeName": hash_key, "KeyType": "HASH"} in props["KeySchema"]
        if model._range_key_attribute() is not None:
            assert {"AttributeName": model._range_key_attribute().attr_name, "KeyType": "RANGE"} in props[
                "KeySchema"
            ]
        ttl = ttl_attribute(model)
        if ttl:
            assert props["TimeToLiveSpecification"] == {"AttributeName": ttl, "Enabled": True}
        else:
            assert "TimeToLiveSpecification" not in props


def test_conversations_table_has_the_models_indexes(synth: Synth, region: str) -> None:
    stack = synth.stacks[region]
    props = synth.raw[region]["Resources"][logical_id(stack.data.tables["conversations_table"])]["Properties"]
    gsis = {i["IndexName"]: i for i in props["GlobalSecondaryIndexes"]}
    lsis = {i["IndexName"]: i for i in props["LocalSecondaryIndexes"]}
    assert gsis["by-resident"]["KeySchema"] == [
        {"AttributeName": "phone_hash", "KeyType": "HASH"},
        {"AttributeName": "opened_at", "KeyType": "RANGE"},
    ]
    assert lsis["by-activity"]["KeySchema"] == [
        {"AttributeName": "municipality_id", "KeyType": "HASH"},
        {"AttributeName": "last_message_at", "KeyType": "RANGE"},
    ]
    types = {a["AttributeName"]: a["AttributeType"] for a in props["AttributeDefinitions"]}
    assert types == {
        "municipality_id": "N",
        "conversation_id": "S",
        "phone_hash": "S",
        "opened_at": "S",
        "last_message_at": "S",
    }


def test_tables_with_residents_data_are_retained(synth: Synth, region: str) -> None:
    stack = synth.stacks[region]
    resources = synth.raw[region]["Resources"]
    for setting in ("residents_table", "conversations_table", "messages_table", "subscribers_table"):
        table = resources[logical_id(stack.data.tables[setting])]
        assert table["DeletionPolicy"] == "Retain"
        assert table["Properties"]["DeletionProtectionEnabled"] is True


def test_keys_rotate(synth: Synth, region: str) -> None:
    keys = synth.resources(region, "AWS::KMS::Key")
    assert len(keys) == 2
    assert all(k["Properties"]["EnableKeyRotation"] is True for k in keys.values())


# --- Messaging ----------------------------------------------------------------------------------


def test_every_queue_is_encrypted_with_the_cmk_and_refuses_plain_http(synth: Synth, region: str) -> None:
    queues = synth.resources(region, "AWS::SQS::Queue")
    # 4 work queues (inbound, SMS events, SES send events, outbound SMS), their 4 DLQs, inbound_email's failures
    assert len(queues) == 9
    for queue in queues.values():
        assert queue["Properties"]["KmsMasterKeyId"] == _data_key(synth, region)
    for policy in synth.resources(region, "AWS::SQS::QueuePolicy").values():
        assert any(
            s["Effect"] == "Deny" and s.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}
            for s in policy["Properties"]["PolicyDocument"]["Statement"]
        )


def test_every_topic_is_encrypted_with_the_cmk(synth: Synth, region: str) -> None:
    topics = synth.resources(region, "AWS::SNS::Topic")
    assert len(topics) == 4  # inbound SMS, SMS events, email events, alarms
    for topic in topics.values():
        assert topic["Properties"]["KmsMasterKeyId"] == _data_key(synth, region)


def test_work_queues_redrive_to_their_dlq(synth: Synth, region: str) -> None:
    # given the inbound and delivery-event queues, then each sends a message to its DLQ after 5 receives
    stack = synth.stacks[region]
    messaging, functions = stack.messaging, stack.functions
    resources = synth.raw[region]["Resources"]
    for pair, consumer in (
        (messaging.inbound, functions.inbound_sms),
        (messaging.events, functions.delivery_status),
    ):
        props = resources[logical_id(pair.queue)]["Properties"]
        assert props.get("RedrivePolicy") == {
            "deadLetterTargetArn": _getatt_arn(pair.dlq),
            "maxReceiveCount": 5,
        }
        # AWS's guidance for SQS event sources: visibility timeout at least 6x the function timeout
        assert props["VisibilityTimeout"] >= 6 * resources[logical_id(consumer)]["Properties"]["Timeout"]


def test_end_user_messaging_may_publish_to_the_inbound_topic_for_this_account_only(
    synth: Synth, region: str
) -> None:
    topic = synth.stacks[region].messaging.inbound.topic
    synth.templates[region].has_resource_properties(
        "AWS::SNS::TopicPolicy",
        {
            "Topics": [{"Ref": logical_id(topic)}],
            "PolicyDocument": {
                "Statement": _contains(
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "sms-voice.amazonaws.com"},
                        "Action": "sns:Publish",
                        "Condition": {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}},
                    }
                )
            },
        },
    )


def test_sqs_functions_read_batches_with_partial_failures(synth: Synth, region: str) -> None:
    stack = synth.stacks[region]
    mappings = synth.resources(region, "AWS::Lambda::EventSourceMapping")
    wiring = {
        (m["Properties"]["FunctionName"]["Ref"], m["Properties"]["EventSourceArn"]["Fn::GetAtt"][0]): m[
            "Properties"
        ]
        for m in mappings.values()
    }
    expected = {
        (logical_id(stack.functions.inbound_sms), logical_id(stack.messaging.inbound.queue)),
        (logical_id(stack.functions.delivery_status), logical_id(stack.messaging.events.queue)),
        (logical_id(stack.functions.mail_events), logical_id(stack.email.node.find_child("SendEventsQueue"))),
    }
    assert set(wiring) == expected
    for props in wiring.values():
        assert props["BatchSize"] == 10
        assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        assert props["MaximumBatchingWindowInSeconds"] <= 5


def test_delivery_events_go_from_the_configuration_set_to_the_events_topic(synth: Synth, region: str) -> None:
    topic = synth.stacks[region].messaging.events.topic
    synth.templates[region].has_resource_properties(
        "AWS::SMSVOICE::ConfigurationSet",
        {
            "EventDestinations": [
                {
                    "Enabled": True,
                    "MatchingEventTypes": ["TEXT_ALL"],
                    "SnsDestination": {"TopicArn": {"Ref": logical_id(topic)}},
                }
            ]
        },
    )


def test_a_created_number_is_two_way_to_the_inbound_topic_with_an_opt_out_list(
    synth: Synth, region: str
) -> None:
    stack = synth.stacks[region]
    numbers = synth.resources(region, "AWS::SMSVOICE::PhoneNumber")
    if not stack.deployment.creates_number:
        assert numbers == {}
        env = _function_env(synth, region, stack.functions.inbound_sms)
        assert env["SMS_ORIGINATION_IDENTITY"] == stack.deployment.sms_origination_identity
        return
    (number,) = numbers.values()
    props = number["Properties"]
    assert props["TwoWay"] == {
        "Enabled": True,
        "ChannelArn": {"Ref": logical_id(stack.messaging.inbound.topic)},
    }
    (opt_out,) = synth.resources(region, "AWS::SMSVOICE::OptOutList").values()
    assert props["OptOutListName"] == opt_out["Properties"]["OptOutListName"]
    assert props["IsoCountryCode"] == stack.deployment.sms_iso_country
    assert {"HELP", "STOP"} == set(props["MandatoryKeywords"])


# --- Email --------------------------------------------------------------------------------------


def test_receipt_rule_stores_in_s3_first_then_invokes_inbound_email(synth: Synth, region: str) -> None:
    stack = synth.stacks[region]
    (rule,) = synth.resources(region, "AWS::SES::ReceiptRule").values()
    props = rule["Properties"]["Rule"]
    actions = props["Actions"]
    assert [next(iter(a)) for a in actions] == ["S3Action", "LambdaAction"]
    assert actions[0]["S3Action"] == {
        "BucketName": {"Ref": logical_id(stack.email.bucket)},
        "ObjectKeyPrefix": "inbound/",
    }
    assert actions[1]["LambdaAction"] == {
        "FunctionArn": _getatt_arn(stack.functions.inbound_email),
        "InvocationType": "Event",
    }
    assert props["ScanEnabled"] is True
    assert props["TlsPolicy"] == "Require"
    assert props["Recipients"] == [stack.deployment.reply_domain]


def test_raw_mail_bucket_is_private_encrypted_and_expires_mail(synth: Synth, region: str) -> None:
    stack = synth.stacks[region]
    bucket = synth.raw[region]["Resources"][logical_id(stack.email.bucket)]
    props = bucket["Properties"]
    assert bucket["DeletionPolicy"] == "Retain"
    (encryption,) = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert encryption["ServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "aws:kms",
        "KMSMasterKeyID": _data_key(synth, region),
    }
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    (rule,) = props["LifecycleConfiguration"]["Rules"]
    assert rule["ExpirationInDays"] == stack.deployment.retention_days
    assert props["LoggingConfiguration"]["DestinationBucketName"] == {
        "Ref": logical_id(stack.email.log_bucket)
    }


def test_only_ses_receipt_rule_of_this_account_may_write_raw_mail(synth: Synth, region: str) -> None:
    stack = synth.stacks[region]
    policy = synth.raw[region]["Resources"][logical_id(stack.email.bucket.policy)]
    (ses_statement,) = [
        s
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
        if s.get("Principal") == {"Service": "ses.amazonaws.com"}
    ]
    assert ses_statement["Action"] == "s3:PutObject"
    assert ses_statement["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    rule = f"receipt-rule-set/text311-{region}:receipt-rule/agent-answers-{region}"
    assert rule in str(ses_statement["Condition"]["ArnLike"])


def test_the_data_key_lets_ses_and_end_user_messaging_in_for_this_account_only(
    synth: Synth, region: str
) -> None:
    key = synth.raw[region]["Resources"][logical_id(synth.stacks[region].security.data_key)]
    services = {
        s["Principal"]["Service"]: s
        for s in key["Properties"]["KeyPolicy"]["Statement"]
        if "Service" in s.get("Principal", {})
    }
    for service in ("ses.amazonaws.com", "sms-voice.amazonaws.com", "sns.amazonaws.com"):
        assert services[service]["Condition"] == {
            "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
        }


def test_ses_configuration_set_sends_sends_bounces_complaints_deliveries_rejects_to_sns(
    synth: Synth, region: str
) -> None:
    topic = synth.stacks[region].email.events_topic
    (destination,) = synth.resources(region, "AWS::SES::ConfigurationSetEventDestination").values()
    props = destination["Properties"]["EventDestination"]
    # "send" confirms a text's mail for its redelivery (text311/mail_confirmations.py); bounce, complaint,
    # deliveryDelay and delivery set what became of it (text311/mail_feedback.py)
    assert sorted(props["MatchingEventTypes"]) == ["bounce", "complaint", "delivery", "deliveryDelay", "reject",
                                                   "send"]
    assert props["SnsDestination"] == {"TopicARN": {"Ref": logical_id(topic)}}
    # the suppression list stays on: doctor and `municipality show` report a city whose inbox is on it
    (config_set,) = synth.resources(region, "AWS::SES::ConfigurationSet").values()
    assert config_set["Properties"]["SuppressionOptions"] == {"SuppressedReasons": ["BOUNCE", "COMPLAINT"]}


# --- Functions ----------------------------------------------------------------------------------


def _function_env(synth: Synth, region: str, function: Any) -> dict:
    return synth.raw[region]["Resources"][logical_id(function)]["Properties"]["Environment"]["Variables"]


def test_functions_run_python_3_14_on_arm64_with_three_layers_and_tracing(synth: Synth, region: str) -> None:
    for name, function in synth.stacks[region].functions.all.items():
        props = synth.raw[region]["Resources"][logical_id(function)]["Properties"]
        assert props["Runtime"] == "python3.14", name
        assert props["Architectures"] == ["arm64"], name
        assert len(props["Layers"]) == 3, name
        assert props["TracingConfig"] == {"Mode": "Active"}, name
        assert props["Handler"] == "handler.lambda_handler", name
    # ours, plus the AWS CLI layer of CDK's BucketDeployment (the console's files, deploy time only)
    layers = synth.resources(region, "AWS::Lambda::LayerVersion")
    ours = {k: v for k, v in layers.items() if "CompatibleRuntimes" in v["Properties"]}
    assert len(ours) == 3
    assert set(layers) - set(ours) == {logical_id(synth.stacks[region].console.site.node.find_child("AwsCliLayer"))}
    for layer in ours.values():
        assert layer["Properties"]["CompatibleRuntimes"] == ["python3.14"]
        assert layer["Properties"]["CompatibleArchitectures"] == ["arm64"]


# Settings that Lambda provides itself, and settings only the local run may set (never on AWS).
PROVIDED_BY_LAMBDA = {"AWS_REGION"}
LOCAL_ONLY = {"AWS_ENDPOINT_URL", "LOCAL_SESSION_KEY", "ADDRESS_FILE"}  # ADDRESS_FILE: the local geocoder's addresses
# Set on one function only: the console's Cognito pool (stacks/console.py), for inviting agents.
CONSOLE_ONLY = {"USER_POOL_ID"}


def test_every_function_gets_the_whole_settings_contract(synth: Synth, region: str) -> None:
    # given the Settings model, then every variable it reads is set, except Lambda's and the local run's
    aliases = {f.alias for f in Settings.model_fields.values()}
    expected = aliases - PROVIDED_BY_LAMBDA - LOCAL_ONLY - CONSOLE_ONLY
    for name, function in synth.stacks[region].functions.all.items():
        env = _function_env(synth, region, function)
        assert expected - set(env) == set(), f"{name}: Settings has variables the stack does not set"
        assert (CONSOLE_ONLY & set(env) == CONSOLE_ONLY) == (name == "console_api"), name
        assert LOCAL_ONLY & set(env) == set(), f"{name}: a local-run-only variable is set on AWS"
        assert env["ANSWER_KEYWORDS"] in ("true", "false")


def test_settings_values_point_at_the_stacks_resources(synth: Synth, region: str) -> None:
    stack = synth.stacks[region]
    env = _function_env(synth, region, stack.functions.inbound_sms)
    for setting, table in stack.data.tables.items():
        assert env[setting.upper()] == {"Ref": logical_id(table)}
    assert env["PHONE_KEY_ID"] == _getatt_arn(stack.security.phone_key)
    assert env["TOKEN_SECRET_ID"] == {"Ref": logical_id(stack.security.token_secret)}
    assert env["PHONE_HASH_SECRET_ID"] == {"Ref": logical_id(stack.security.phone_hash_secret)}
    assert env["RAW_MAIL_BUCKET"] == {"Ref": logical_id(stack.email.bucket)}
    assert env["SERVED_COUNTRIES"] == ",".join(stack.deployment.served_countries)
    assert env["RETENTION_DAYS"] == str(stack.deployment.retention_days)


def test_inbound_email_failures_are_retried_then_parked_on_a_queue(synth: Synth, region: str) -> None:
    functions = synth.stacks[region].functions
    (props,) = [
        config["Properties"]
        for config in synth.resources(region, "AWS::Lambda::EventInvokeConfig").values()
        if config["Properties"]["FunctionName"] == {"Ref": logical_id(functions.inbound_email)}
    ]
    assert props["MaximumRetryAttempts"] == 2
    assert props["DestinationConfig"] == {"OnFailure": {"Destination": _getatt_arn(functions.email_failures)}}


# --- Least privilege ----------------------------------------------------------------------------


@pytest.mark.parametrize("prefix", ["dynamodb:", "ses:Send", "sms-voice:", "secretsmanager:", "s3:"])
def test_no_data_action_is_granted_on_every_resource(synth: Synth, region: str, prefix: str) -> None:
    for statement in _statements(synth, region):
        actions = _as_list(statement["Action"])
        if any(a.startswith(prefix) for a in actions):
            assert "*" not in _as_list(statement["Resource"]), statement


def test_sending_is_limited_to_our_identities_and_configuration_sets(synth: Synth, region: str) -> None:
    stack = synth.stacks[region]
    sends = [s for s in _statements(synth, region) if "ses:SendRawEmail" in _as_list(s["Action"])]
    # one per function but mail_events and open311_api, which send nothing
    assert len(sends) == len(stack.functions.all) - 2
    for statement in sends:
        text = str(statement["Resource"])
        assert f":identity/{stack.deployment.sender_domain}" in text and ":configuration-set/text311" in text
    sms = [s for s in _statements(synth, region) if "sms-voice:SendTextMessage" in _as_list(s["Action"])]
    assert len(sms) == 1  # the outbound drainer; producers queue (tests/infra/test_outbound_stack.py)
    for statement in sms:
        resources = _as_list(statement["Resource"])
        assert _getatt_arn(stack.messaging.configuration_set) in resources
        if stack.deployment.creates_number:
            assert _getatt_arn(stack.messaging.phone_number) in resources
        else:
            assert stack.deployment.sms_origination_identity in resources


def test_only_the_functions_that_handle_numbers_can_use_the_phone_key(synth: Synth, region: str) -> None:
    stack = synth.stacks[region]
    functions = stack.functions
    phone_key = _getatt_arn(stack.security.phone_key)
    actions: dict[str, set[str]] = {}
    for policy in synth.resources(region, "AWS::IAM::Policy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if phone_key in _as_list(statement["Resource"]):
                assert statement["Condition"] == {
                    "StringEquals": {"kms:EncryptionContext:purpose": "text311-phone"}
                }
                for role in policy["Properties"]["Roles"]:
                    actions.setdefault(role["Ref"], set()).update(_as_list(statement["Action"]))
    # the producers store or seal numbers (the outbound queue carries them sealed); the drainer only unseals
    assert actions == {
        logical_id(functions.inbound_sms.role): {"kms:Encrypt", "kms:Decrypt"},
        logical_id(functions.inbound_email.role): {"kms:Encrypt", "kms:Decrypt"},
        logical_id(functions.console_api.role): {"kms:Encrypt", "kms:Decrypt"},
        logical_id(functions.mail_events.role): {"kms:Encrypt", "kms:Decrypt"},  # a bounce's notice
        logical_id(functions.sms_drainer.role): {"kms:Decrypt"},
    }


def test_secrets_are_generated_key_maps_readable_only_by_the_functions_that_answer(
    synth: Synth, region: str
) -> None:
    stack = synth.stacks[region]
    secrets = synth.resources(region, "AWS::SecretsManager::Secret")
    assert len(secrets) == 2
    for secret in secrets.values():
        generated = secret["Properties"]["GenerateSecretString"]
        assert generated["SecretStringTemplate"] == "{}" and generated["GenerateStringKey"] == "k1"
        assert secret["Properties"]["KmsKeyId"] == _data_key(synth, region)
    readers = [
        s for s in _statements(synth, region) if "secretsmanager:GetSecretValue" in _as_list(s["Action"])
    ]
    secret_refs = (
        {"Ref": logical_id(stack.security.token_secret)},
        {"Ref": logical_id(stack.security.phone_hash_secret)},
    )
    assert len(readers) == 3  # inbound_sms, inbound_email, console_api (the answer service signs and hashes)
    for statement in readers:
        assert sorted(map(str, statement["Resource"])) == sorted(map(str, secret_refs))


# --- Observability ------------------------------------------------------------------------------


def test_every_dlq_and_every_function_alarms_to_the_alarm_email(synth: Synth, region: str) -> None:
    stack = synth.stacks[region]
    alarm_topic = {"Ref": logical_id(stack.observability.alarm_topic)}
    alarms = synth.resources(region, "AWS::CloudWatch::Alarm")
    dlqs = [
        stack.messaging.inbound.dlq,
        stack.messaging.events.dlq,
        stack.functions.email_failures,
        stack.outbound.dlq,
        stack.email.node.find_child("SendEventsDlq"),
    ]
    watched_queues = {
        d["Value"]["Fn::GetAtt"][0]
        for a in alarms.values()
        for d in a["Properties"].get("Dimensions", [])
        if d["Name"] == "QueueName" and a["Properties"]["MetricName"] == "ApproximateNumberOfMessagesVisible"
    }
    assert watched_queues == {logical_id(q) for q in dlqs}
    watched_functions = {
        d["Value"]["Ref"]
        for a in alarms.values()
        for d in a["Properties"].get("Dimensions", [])
        if d["Name"] == "FunctionName"
    }
    assert watched_functions == {logical_id(f) for f in stack.functions.all.values()}
    for alarm in alarms.values():
        assert alarm["Properties"]["AlarmActions"] == [alarm_topic]
        # DLQs and errors page at the first one; rejected answers at a spike (test_dashboard_alarms.py),
        # outbound answers after 15 minutes of wait (test_outbound_stack.py)
        # (the refused-number spike, the drainer's invocations and every queue's age: test_dashboard_alarms.py)
        # (and the drainer's failed heartbeats: more than 5 in 5 minutes)
        thresholds = {"AnswersRejected": 10, "OutboundExpectedWaitSeconds": 900, "NumbersRefused": 20,
                      "Invocations": 15, "OutboundHeartbeatFailed": 5}
        if alarm["Properties"]["MetricName"] != "ApproximateAgeOfOldestMessage":
            assert alarm["Properties"]["Threshold"] == thresholds.get(alarm["Properties"]["MetricName"], 0)
    synth.templates[region].has_resource_properties(
        "AWS::SNS::Subscription",
        {"Protocol": "email", "Endpoint": stack.deployment.alarm_email, "TopicArn": alarm_topic},
    )
    synth.templates[region].resource_count_is("AWS::CloudWatch::Dashboard", 1)


def _contains(item: dict) -> Any:
    from aws_cdk.assertions import Match

    return Match.array_with([Match.object_like(item)])


# --- issue 18, item 7: keywords answered somewhere, the bought number kept, the phone key documented ------


def test_keywords_are_answered_by_the_number_or_by_the_functions_never_neither(synth: Synth, region: str) -> None:
    from stacks.keywords import MANDATORY_KEYWORDS, number_keywords

    stack = synth.stacks[region]
    answered_by_functions = {
        _function_env(synth, region, function)["ANSWER_KEYWORDS"] for function in stack.functions.all.values()
    }
    numbers = synth.resources(region, "AWS::SMSVOICE::PhoneNumber")
    if stack.deployment.creates_number:
        # the number holds every keyword, so the functions stay silent (no second answer)
        (number,) = numbers.values()
        held = {k["Keyword"] for k in number["Properties"]["OptionalKeywords"]} | MANDATORY_KEYWORDS
        assert {k.keyword for k in number_keywords(stack.deployment.support_contact)} <= held
        # a local HELP word is answered in its own language (AYUDA in Spanish), not in English and French
        answers = {k["Keyword"]: k["Message"] for k in number["Properties"]["OptionalKeywords"]}
        assert answers["AYUDA"] == catalog().help_text(stack.deployment.support_contact, "es")
        assert answered_by_functions == {"false"}
    else:
        # an existing number's keywords are its owner's: the functions answer ours
        assert numbers == {}
        assert answered_by_functions == {"true"}


def test_the_bought_number_and_its_opt_out_list_are_retained_on_destroy(synth: Synth, region: str) -> None:
    if not synth.stacks[region].deployment.creates_number:
        assert synth.resources(region, "AWS::SMSVOICE::PhoneNumber") == {}
        return
    (number,) = synth.resources(region, "AWS::SMSVOICE::PhoneNumber").values()
    (opt_out,) = synth.resources(region, "AWS::SMSVOICE::OptOutList").values()
    for resource in (number, opt_out):
        assert (resource.get("DeletionPolicy"), resource.get("UpdateReplacePolicy")) == ("Retain", "Retain")
    # protected against a release by hand as well; without Retain this made the stack's deletion fail
    assert number["Properties"]["DeletionProtectionEnabled"] is True


def test_make_destroy_lists_the_retained_number_and_opt_out_list() -> None:
    from pathlib import Path

    makefile = (Path(__file__).resolve().parents[2] / "Makefile").read_text()
    recipe = makefile.split("\ndestroy:", 1)[1].split("\n\n", 1)[0]
    retained = recipe.split("RETAINED", 1)[1]
    assert "phone number" in retained and "opt-out list" in retained


def _phone_key_actions(synth: Synth, region: str) -> dict[str, set[str]]:
    """Function name → its actions on the phone key, from the template."""
    stack = synth.stacks[region]
    by_role = {logical_id(function.role): name for name, function in stack.functions.all.items()}
    phone_key = _getatt_arn(stack.security.phone_key)
    actions: dict[str, set[str]] = {}
    for policy in synth.resources(region, "AWS::IAM::Policy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if phone_key in _as_list(statement["Resource"]):
                for role in policy["Properties"]["Roles"]:
                    actions.setdefault(by_role[role["Ref"]], set()).update(_as_list(statement["Action"]))
    return actions


def _named_functions(text: str, functions: set[str]) -> set[str]:
    import re

    return set(re.findall(r"`([a-z_]+)`", text)) & functions


def test_the_docs_name_exactly_the_functions_that_may_use_the_phone_key(synth: Synth, region: str) -> None:
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "infrastructure.md").read_text()
    functions = set(synth.stacks[region].functions.all)
    actions = _phone_key_actions(synth, region)
    holders, decrypt_only = set(actions), {name for name, held in actions.items() if held == {"kms:Decrypt"}}
    # the least-privilege table: one row per function
    table = doc.split("**Least privilege.**", 1)[1].split("\n\n", 2)[1]  # the first table after it
    rows = {name: line for line in table.splitlines() for name in functions if line.startswith(f"| `{name}` |")}
    assert set(rows) == functions
    for name, row in rows.items():
        same_as = _named_functions(row.split("same as", 1)[1], functions) if "same as" in row else set()
        source = rows[same_as.pop()] if same_as else row
        assert ("PhoneKey" in source and "no PhoneKey" not in source) == (name in holders), name
        assert ("Decrypt only" in source) == (name in decrypt_only), name
    # the key decision and the list of what the infra tests check name them too
    reason = doc.split("With a dedicated key", 1)[1].split("Every decryption", 1)[0]
    assert _named_functions(reason, functions) == holders
    scoping = doc.split("- IAM scoping", 1)[1].split("\n- ", 1)[0]
    assert _named_functions(scoping, functions) == holders
