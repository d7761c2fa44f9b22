"""`text311 resident forget`: one number's data leaves every table and the raw-mail bucket; nobody else's does."""

from __future__ import annotations

import importlib
import json

import boto3
import pytest
from aws_events import inbound_sms_event, two_way_sms
from botocore.stub import Stubber
from harness import OUR_NUMBER, REGION, LambdaContext, agent_answer, sent_mails, setup_region, text_of
from moto import mock_aws
from typer.testing import CliRunner

from text311.adapters.dynamodb import TABLES
from text311.cli import app
from text311.cli.resident import settings_from_stack

FORGET = "+18195550123"
KEEP = "+18195550999"
AGENT = "marie.tremblay@gatineau.example.ca"
BUCKET = "text311-raw-mail-test"
runner = CliRunner()


def _everything() -> str:
    dynamodb, s3 = boto3.client("dynamodb", region_name=REGION), boto3.client("s3", region_name=REGION)
    tables = {m.Meta.table_name: dynamodb.scan(TableName=m.Meta.table_name)["Items"]
              for name, m in TABLES.items() if name != "idempotency_table"}
    objects = [
        s3.get_object(Bucket=BUCKET, Key=o["Key"])["Body"].read().decode()
        for o in s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])
    ]
    return json.dumps([tables, objects])


@pytest.fixture
def region(aws_env, monkeypatch):
    with mock_aws():
        setup_region(aws_env, monkeypatch)
        inbound = importlib.import_module("functions.inbound_sms.handler")
        inbound.process_once.cache_clear()
        answers = importlib.import_module("functions.inbound_email.handler")
        answers.process_once.cache_clear()
        for number in (FORGET, KEEP):
            for body in ("Gatineau", f"pothole reported by {number[-4:]}"):
                inbound.lambda_handler(inbound_sms_event(two_way_sms(body, number, OUR_NUMBER)),
                                       LambdaContext("inbound-sms"))
        by_number = {n: next(m for m in sent_mails() if f"reported by {n[-4:]}" in text_of(m)) for n in (FORGET, KEEP)}
        agent_answer(answers, by_number[FORGET], "Answer for the forgotten one, crew on Friday.", sender=AGENT)
        agent_answer(answers, by_number[KEEP], "Answer for the kept one, crew on Monday.", sender=AGENT)
        yield


def test_forget_erases_the_number_everywhere_and_leaves_the_other_resident(region):
    before = _everything()
    assert "reported by 0123" in before and "forgotten one" in before

    result = runner.invoke(app, ["resident", "forget", FORGET, "--yes"])

    assert result.exit_code == 0, result.output
    assert "1 conversations, 2 messages, 1 raw emails" in result.output
    assert "+1******0123" in result.output and FORGET not in result.output
    after = _everything()
    assert "reported by 0123" not in after and "forgotten one" not in after
    assert "reported by 0999" in after and "kept one" in after


def test_forget_twice_finds_nothing_the_second_time(region):
    runner.invoke(app, ["resident", "forget", FORGET, "--yes"])

    again = runner.invoke(app, ["resident", "forget", FORGET, "--yes"])

    assert again.exit_code == 0
    assert "not found, 0 conversations, 0 messages, 0 raw emails" in again.output


@pytest.mark.parametrize("bad", ["hello", "12", "+1 819"])
def test_a_bad_number_is_refused_and_nothing_is_erased(region, bad):
    before = _everything()

    result = runner.invoke(app, ["resident", "forget", bad, "--yes"])

    assert result.exit_code == 1
    assert "error:" in result.output
    assert _everything() == before


def test_declining_the_confirmation_erases_nothing(region):
    before = _everything()

    result = runner.invoke(app, ["resident", "forget", FORGET], input="n\n")

    assert result.exit_code == 1
    assert _everything() == before


def test_missing_settings_name_the_variables_and_the_stack_option(monkeypatch):
    monkeypatch.delenv("RESIDENTS_TABLE", raising=False)
    monkeypatch.delenv("PHONE_HASH_SECRET_ID", raising=False)

    result = runner.invoke(app, ["resident", "forget", FORGET, "--yes"])

    assert result.exit_code == 1
    assert "RESIDENTS_TABLE" in result.output and "--stack Text311-ca-central-1" in result.output


def test_settings_come_from_the_stacks_inbound_sms_function():
    cloudformation = boto3.client("cloudformation", region_name=REGION)
    lambda_client = boto3.client("lambda", region_name=REGION)
    resource = {"StackName": "Text311-ca-central-1", "ResourceStatus": "CREATE_COMPLETE",
                "Timestamp": "2026-11-26T00:00:00Z"}
    with Stubber(cloudformation) as cfn, Stubber(lambda_client) as lam:
        cfn.add_response("describe_stack_resources", {"StackResources": [
            {**resource, "LogicalResourceId": "FunctionsInboundEmail1A2B3C", "PhysicalResourceId": "email-fn",
             "ResourceType": "AWS::Lambda::Function"},
            {**resource, "LogicalResourceId": "FunctionsInboundSms4D5E6F", "PhysicalResourceId": "sms-fn",
             "ResourceType": "AWS::Lambda::Function"},
        ]}, {"StackName": "Text311-ca-central-1"})
        lam.add_response("get_function_configuration",
                         {"Environment": {"Variables": {"RESIDENTS_TABLE": "Text311-Residents-XYZ"}}},
                         {"FunctionName": "sms-fn"})

        settings = settings_from_stack(cloudformation, lambda_client, "Text311-ca-central-1")

    assert settings == {"RESIDENTS_TABLE": "Text311-Residents-XYZ"}
