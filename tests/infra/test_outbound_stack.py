"""The outbound SMS path in every region (stacks/outbound.py, docs/outbound.md): the queue and its DLQ,
the drainer with its schedule and grants, the producers' SendMessage, the alarm and the dashboard."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from aws_cdk.assertions import Match

from stacks.config import DEFAULT_CONFIG, ConfigError, Deployment, load_config
from tests.infra.conftest import Synth, logical_id, role_statements
from tests.infra.test_dashboard_alarms import dashboard_text

pytestmark = [pytest.mark.infra, pytest.mark.xdist_group("infra")]

CONSUME = {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility"}


def _arn(construct: Any) -> dict:
    return {"Fn::GetAtt": [logical_id(construct), "Arn"]}


def _actions_on(statements: list[dict], resource: Any) -> set[str]:
    actions: set[str] = set()
    for statement in statements:
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        if resource in resources:
            actions.update(statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]])
    return actions


def _env(synth: Synth, region: str, function: Any) -> dict:
    return synth.raw[region]["Resources"][logical_id(function)]["Properties"]["Environment"]["Variables"]


# --- Queue ----------------------------------------------------------------------------------------


def test_outbound_queue_is_encrypted_and_redrives_to_its_dlq_after_60_receives(synth: Synth, region: str) -> None:
    # given the region's outbound queue, then it is under the data key and a message reaches the DLQ
    # only after 60 receives (one per drainer handoff, docs/outbound.md)
    stack = synth.stacks[region]
    resources = synth.raw[region]["Resources"]
    queue = resources[logical_id(stack.outbound.queue)]["Properties"]
    dlq = resources[logical_id(stack.outbound.dlq)]["Properties"]
    assert queue["RedrivePolicy"] == {"deadLetterTargetArn": _arn(stack.outbound.dlq), "maxReceiveCount": 60}
    for props in (queue, dlq):
        assert props["KmsMasterKeyId"] == _arn(stack.security.data_key)
        assert props["MessageRetentionPeriod"] == 14 * 24 * 3600
    drainer = resources[logical_id(stack.functions.sms_drainer)]["Properties"]
    assert queue["VisibilityTimeout"] >= drainer["Timeout"]


def test_outbound_queue_refuses_plain_http(synth: Synth, region: str) -> None:
    queue = synth.stacks[region].outbound.queue
    synth.templates[region].has_resource_properties(
        "AWS::SQS::QueuePolicy",
        {
            "Queues": [{"Ref": logical_id(queue)}],
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [Match.object_like({"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}})]
                )
            },
        },
    )


# --- Drainer --------------------------------------------------------------------------------------


def test_drainer_is_started_every_minute_and_never_retried(synth: Synth, region: str) -> None:
    # given the schedule, then it invokes the drainer each minute; a missed tick is dropped, not replayed
    stack = synth.stacks[region]
    drainer = _arn(stack.functions.sms_drainer)
    (rule,) = [
        r["Properties"]
        for r in synth.resources(region, "AWS::Events::Rule").values()
        if any(t["Arn"] == drainer for t in r["Properties"].get("Targets", []))
    ]
    assert rule["ScheduleExpression"] == "rate(1 minute)"
    assert rule["State"] == "ENABLED"
    (target,) = rule["Targets"]
    assert target["RetryPolicy"]["MaximumRetryAttempts"] == 0
    synth.templates[region].has_resource_properties(
        "AWS::Lambda::Permission",
        {
            "Action": "lambda:InvokeFunction",
            "FunctionName": drainer,
            "Principal": "events.amazonaws.com",
            "SourceArn": _arn(stack.outbound.schedule),
        },
    )
    synth.templates[region].has_resource_properties(
        "AWS::Lambda::EventInvokeConfig",
        {"FunctionName": {"Ref": logical_id(stack.functions.sms_drainer)}, "MaximumRetryAttempts": 0},
    )


def test_drainer_runs_15_minutes_with_the_queue_and_the_identitys_mps(synth: Synth, region: str) -> None:
    stack = synth.stacks[region]
    props = synth.raw[region]["Resources"][logical_id(stack.functions.sms_drainer)]["Properties"]
    assert props["Timeout"] == 900
    env = props["Environment"]["Variables"]
    assert env["OUTBOUND_QUEUE_URL"] == {"Ref": logical_id(stack.outbound.queue)}
    # ca-central-1: a Canadian long code (1 MPS); us-east-1: a toll-free number (3 MPS)
    assert float(env["SMS_MPS"]) == {"ca-central-1": 1.0, "us-east-1": 3.0}[region]
    producer = _env(synth, region, stack.functions.inbound_sms)
    assert env["SMS_ORIGINATION_IDENTITY"] == producer["SMS_ORIGINATION_IDENTITY"]


def test_drainer_consumes_the_queue_sends_sms_and_keeps_its_ledger(synth: Synth, region: str) -> None:
    stack = synth.stacks[region]
    statements = role_statements(synth, region, stack.functions.sms_drainer.role)
    assert CONSUME <= _actions_on(statements, _arn(stack.outbound.queue))
    assert "sqs:SendMessage" not in _actions_on(statements, _arn(stack.outbound.queue))
    assert "sms-voice:SendTextMessage" in _actions_on(statements, _arn(stack.messaging.configuration_set))
    ledger = _actions_on(statements, _arn(stack.data.tables["idempotency_table"]))
    # the ledger's conditional put/update/delete, the lease, the status item
    assert {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:GetItem"} <= ledger
    assert {"kms:Decrypt", "kms:GenerateDataKey*"} <= _actions_on(statements, _arn(stack.security.data_key))
    # a queued message carries its number sealed by the phone vault: the drainer unseals, never seals
    assert _actions_on(statements, _arn(stack.security.phone_key)) == {"kms:Decrypt"}


def test_only_the_drainer_receives_from_the_outbound_queue(synth: Synth, region: str) -> None:
    stack = synth.stacks[region]
    queue = _arn(stack.outbound.queue)
    consumers = {
        name
        for name, function in stack.functions.all.items()
        if CONSUME & _actions_on(role_statements(synth, region, function.role), queue)
    }
    assert consumers == {"sms_drainer"}


# --- Producers ------------------------------------------------------------------------------------


def test_every_producer_may_enqueue_and_none_may_send_sms_itself(synth: Synth, region: str) -> None:
    # given the functions that answer residents, then each queues on the outbound queue (with the data
    # key to encrypt) and holds no SMS permission: the drainer is the only way out
    stack = synth.stacks[region]
    producers = stack.functions.producers
    assert set(producers) == {"inbound_sms", "inbound_email", "console_api", "mail_events"}
    # delivery_status only mails the agent: it may not queue an SMS (least privilege)
    others = role_statements(synth, region, stack.functions.delivery_status.role)
    assert "sqs:SendMessage" not in _actions_on(others, _arn(stack.outbound.queue))
    for name, function in producers.items():
        statements = role_statements(synth, region, function.role)
        assert "sqs:SendMessage" in _actions_on(statements, _arn(stack.outbound.queue)), name
        assert "kms:GenerateDataKey*" in _actions_on(statements, _arn(stack.security.data_key)), name
        actions = {a for s in statements for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])}
        assert not any(a.startswith("sms-voice:") for a in actions), name
        env = _env(synth, region, function)
        assert env["OUTBOUND_QUEUE_URL"] == {"Ref": logical_id(stack.outbound.queue)}, name
        assert float(env["SMS_MPS"]) == stack.deployment.mps, name


# --- Alarm and dashboard --------------------------------------------------------------------------


def test_answers_waiting_over_15_minutes_for_5_minutes_alarm(synth: Synth, region: str) -> None:
    stack = synth.stacks[region]
    synth.templates[region].has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "Namespace": "Text311",
            "MetricName": "OutboundExpectedWaitSeconds",
            "Dimensions": Match.array_equals(
                [
                    {"Name": "class", "Value": "ANSWER"},
                    {"Name": "identity", "Value": Match.any_value()},
                    {"Name": "service", "Value": "text311"},
                ]
            ),
            "Period": 60,
            "Threshold": 900,
            "ComparisonOperator": "GreaterThanThreshold",
            "EvaluationPeriods": 5,
            "DatapointsToAlarm": 5,
            "TreatMissingData": "notBreaching",
            "AlarmActions": [{"Ref": logical_id(stack.observability.alarm_topic)}],
        },
    )
    (alarm,) = [
        a["Properties"]
        for a in synth.resources(region, "AWS::CloudWatch::Alarm").values()
        if a["Properties"].get("MetricName") == "OutboundExpectedWaitSeconds"
    ]
    identity = next(d["Value"] for d in alarm["Dimensions"] if d["Name"] == "identity")
    # the same identity the functions send from (a created number's ARN, or the configured one)
    assert identity == _env(synth, region, stack.functions.sms_drainer)["SMS_ORIGINATION_IDENTITY"]


def test_outbound_dlq_alarms_at_its_first_message(synth: Synth, region: str) -> None:
    dlq = synth.stacks[region].outbound.dlq
    synth.templates[region].has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "MetricName": "ApproximateNumberOfMessagesVisible",
            "Dimensions": [{"Name": "QueueName", "Value": {"Fn::GetAtt": [logical_id(dlq), "QueueName"]}}],
            "Threshold": 0,
            "ComparisonOperator": "GreaterThanThreshold",
        },
    )


def test_dashboard_plots_outbound_depth_and_expected_wait_per_class(synth: Synth, region: str) -> None:
    [dashboard] = synth.resources(region, "AWS::CloudWatch::Dashboard").values()
    body_value = dashboard["Properties"]["DashboardBody"]
    body = json.loads(dashboard_text(body_value))
    (widget,) = [w for w in body["widgets"] if "expected wait" in w.get("properties", {}).get("title", "")]
    metrics = widget["properties"]["metrics"]
    assert {m[1] for m in metrics} == {"OutboundExpectedWaitSeconds"}
    assert {m[m.index("class") + 1] for m in metrics} == {"URGENT", "ANSWER", "NOTICE"}
    (depth,) = [w for w in body["widgets"] if "Outbound SMS queue" in w.get("properties", {}).get("title", "")]
    names = {m[1] for m in depth["properties"]["metrics"]}
    assert {"ApproximateNumberOfMessagesVisible", "ApproximateNumberOfMessagesNotVisible"} <= names
    assert "OutboundQueueParts" in names
    # the depth lines name the outbound queue (a token in the body's Fn::Join)
    assert logical_id(synth.stacks[region].outbound.queue) in json.dumps(body_value)


# --- Config ---------------------------------------------------------------------------------------


def _entry(**changes: object) -> dict:
    raw = yaml.safe_load(DEFAULT_CONFIG.read_text())["deployments"][0]
    raw.pop("sms_mps", None)
    raw.update(changes)
    return raw


@pytest.mark.parametrize(
    ("number_type", "mps"), [("LONG_CODE", 1), ("TEN_DLC", 1), ("TOLL_FREE", 3), ("SIMULATOR", 1)]
)
def test_mps_defaults_to_the_number_types_limit_when_not_given(number_type: str, mps: float) -> None:
    assert Deployment.model_validate(_entry(sms_number_type=number_type)).mps == mps


def test_a_short_code_defaults_to_100_mps_and_cannot_be_created() -> None:
    identity = "arn:aws:sms-voice:ca-central-1:111122223333:phone-number/phone-0123456789abcdef0123456789abcdef"
    assert Deployment.model_validate(
        _entry(sms_number_type="SHORT_CODE", sms_origination_identity=identity)
    ).mps == 100
    with pytest.raises(ValueError, match="short code"):
        Deployment.model_validate(_entry(sms_number_type="SHORT_CODE", sms_origination_identity="create"))


def test_a_configured_mps_wins_over_the_default() -> None:
    assert Deployment.model_validate(_entry(sms_number_type="TOLL_FREE", sms_mps=20)).mps == 20


@pytest.mark.parametrize("bad", [0, -1, "fast", ".nan"])
def test_config_names_sms_mps_when_it_is_not_a_positive_number(tmp_path: Path, bad: object) -> None:
    raw = yaml.safe_load(DEFAULT_CONFIG.read_text())
    raw["deployments"][0]["sms_mps"] = float("nan") if bad == ".nan" else bad
    path = tmp_path / "regions.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(ConfigError, match=r"deployments\[0\] \(region ca-central-1\): sms_mps: "):
        load_config(path)


def test_the_local_run_makes_the_outbound_queue_as_the_stack_does() -> None:
    # localrun cannot import stacks/outbound.py (it would start jsii): its copies must agree
    from localrun import aws as local
    from stacks import outbound

    assert local.OUTBOUND_MAX_RECEIVE_COUNT == outbound.OUTBOUND_MAX_RECEIVE_COUNT
    assert local.OUTBOUND_VISIBILITY == outbound.DRAINER_TIMEOUT.to_seconds()


def test_the_drainer_bundle_has_the_entry_point_the_stack_names(synth: Synth, region: str) -> None:
    import importlib

    props = synth.raw[region]["Resources"][logical_id(synth.stacks[region].functions.sms_drainer)]["Properties"]
    module, _, name = props["Handler"].partition(".")
    assert callable(getattr(importlib.import_module(f"functions.sms_drainer.{module}"), name))


def test_the_drainer_may_start_its_successor_and_only_itself(synth: Synth, region: str) -> None:
    stack = synth.stacks[region]
    drainer = stack.functions.sms_drainer
    statements = role_statements(synth, region, drainer.role)
    invokes = [s for s in statements if "lambda:InvokeFunction" in _as_actions(s)]
    assert [s["Resource"] for s in invokes] == [_arn(drainer)]
    props = synth.raw[region]["Resources"][logical_id(drainer)]["Properties"]
    assert props["RecursiveLoop"] == "Allow"  # the hand-off chain is not cut after 16 links
    for name, function in stack.functions.all.items():
        if function is not drainer:
            others = role_statements(synth, region, function.role)
            assert not any("lambda:InvokeFunction" in _as_actions(s) for s in others), name


def test_a_failed_drainer_life_starts_the_next_one_at_once_not_at_the_next_tick(synth: Synth, region: str) -> None:
    # given the drainer's asynchronous-invocation settings, then a failed life (exception, timeout,
    # sandbox killed) is sent to the drainer itself, which waits out the dead one's lease (issue 19)
    drainer = synth.stacks[region].functions.sms_drainer
    synth.templates[region].has_resource_properties(
        "AWS::Lambda::EventInvokeConfig",
        {"FunctionName": {"Ref": logical_id(drainer)}, "MaximumRetryAttempts": 0,
         "DestinationConfig": {"OnFailure": {"Destination": _arn(drainer)}}},
    )


def _as_actions(statement: dict) -> list[str]:
    return statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]


# --- The drainer is bounded (it allows recursive loops) ---------------------------------------------


def test_the_drainer_opts_out_of_the_loop_guard_so_its_concurrency_is_reserved_and_capped(
        synth: Synth, region: str) -> None:
    function = synth.raw[region]["Resources"][logical_id(synth.stacks[region].functions.sms_drainer)]["Properties"]
    assert function["RecursiveLoop"] == "Allow"
    assert function["ReservedConcurrentExecutions"] == 3


def test_the_drainers_invocation_rate_alarms_above_its_ticks_and_hand_offs(synth: Synth, region: str) -> None:
    drainer = logical_id(synth.stacks[region].functions.sms_drainer)
    [alarm] = [a["Properties"] for a in synth.resources(region, "AWS::CloudWatch::Alarm").values()
               if a["Properties"].get("MetricName") == "Invocations"
               and a["Properties"]["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": drainer}}]]
    assert alarm["Namespace"] == "AWS/Lambda" and alarm["Statistic"] == "Sum" and alarm["Period"] == 300
    assert alarm["Threshold"] == 15 and alarm["ComparisonOperator"] == "GreaterThanThreshold"
    assert alarm["AlarmActions"]
