"""scripts/smoke.py (``make smoke``): arguments, payload shape, hops and clean-up, against moto."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import boto3
import pytest
from aws_events import sample
from harness import load_script
from moto import mock_aws

from text311.events import TwoWaySmsPayload

ROOT = Path(__file__).resolve().parents[2]
smoke = load_script("smoke", ROOT / "scripts" / "smoke.py")

REGION = "ca-central-1"
TEST_NUMBER, OUR_NUMBER, GATINEAU = "+18195550199", "+18195550100", 5959974
ARGS = ["--region", REGION, "--from", TEST_NUMBER, "--to", OUR_NUMBER,
        "--municipality", str(GATINEAU), "--municipality-name", "Gatineau", "--timeout", "30"]


# --- arguments -----------------------------------------------------------------------------------------


def test_arguments_are_parsed_and_the_stack_defaults_to_the_regions() -> None:
    args = smoke.parse_args(ARGS)
    assert (args.from_number, args.to_number, args.municipality_id, args.stack) == (
        TEST_NUMBER, OUR_NUMBER, GATINEAU, "Text311-ca-central-1"
    )


@pytest.mark.parametrize(
    "argv",
    [
        [a for a in ARGS if a not in ("--from", TEST_NUMBER)],  # no test number
        [*ARGS[:3], "819-555", *ARGS[4:]],  # not a phone number
        [*ARGS[:3], OUR_NUMBER, *ARGS[4:]],  # the test number texting itself
        [*ARGS[:-1], "0"],  # no time to wait
    ],
)
def test_bad_arguments_exit_2_before_any_call(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        smoke.parse_args(argv)
    assert exited.value.code == 2


# --- payload -------------------------------------------------------------------------------------------


def test_payload_has_exactly_the_keys_of_the_documented_two_way_sample() -> None:
    payload = smoke.two_way_payload(TEST_NUMBER, OUR_NUMBER, "Gatineau")
    assert tuple(payload) == tuple(sample("two_way_sms.json")) == smoke.TWO_WAY_KEYS
    parsed = TwoWaySmsPayload.model_validate(payload)  # what inbound_sms reads
    assert (parsed.originationNumber, parsed.destinationNumber, parsed.messageBody) == (
        TEST_NUMBER, OUR_NUMBER, "Gatineau"
    )


# --- a run against moto ----------------------------------------------------------------------------------


class Region:
    """A moto region with the inbound topic (→ a queue standing in for SQS + inbound_sms) and the tables."""

    def __init__(self) -> None:
        self.clients = {name: boto3.client(name, region_name=REGION) for name in ("sns", "sqs", "dynamodb", "logs")}
        self.topic = self.clients["sns"].create_topic(Name="inbound")["TopicArn"]
        queue = self.clients["sqs"].create_queue(QueueName="inbound")["QueueUrl"]
        self.queue = queue
        queue_arn = self.clients["sqs"].get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])
        self.clients["sns"].subscribe(
            TopicArn=self.topic, Protocol="sqs", Endpoint=queue_arn["Attributes"]["QueueArn"]
        )
        dynamodb = self.clients["dynamodb"]
        dynamodb.create_table(
            TableName="conversations",
            BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "municipality_id", "KeyType": "HASH"},
                       {"AttributeName": "conversation_id", "KeyType": "RANGE"}],
            AttributeDefinitions=[{"AttributeName": "municipality_id", "AttributeType": "N"},
                                  {"AttributeName": "conversation_id", "AttributeType": "S"},
                                  {"AttributeName": "last_message_at", "AttributeType": "S"}],
            LocalSecondaryIndexes=[{
                "IndexName": "by-activity",
                "KeySchema": [{"AttributeName": "municipality_id", "KeyType": "HASH"},
                              {"AttributeName": "last_message_at", "KeyType": "RANGE"}],
                "Projection": {"ProjectionType": "ALL"},
            }],
        )
        dynamodb.create_table(
            TableName="messages",
            BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "conversation_id", "KeyType": "HASH"},
                       {"AttributeName": "message_key", "KeyType": "RANGE"}],
            AttributeDefinitions=[{"AttributeName": "conversation_id", "AttributeType": "S"},
                                  {"AttributeName": "message_key", "AttributeType": "S"}],
        )
        self.clients["logs"].create_log_group(logGroupName="/aws/lambda/inbound-sms")
        self.target = smoke.Target(
            topic_arn=self.topic,
            settings=SimpleNamespace(conversations_table="conversations", messages_table="messages"),
            log_group="/aws/lambda/inbound-sms",
        )

    def published(self) -> list[dict]:
        messages = self.clients["sqs"].receive_message(QueueUrl=self.queue, MaxNumberOfMessages=10)["Messages"]
        return [json.loads(json.loads(m["Body"])["Message"]) for m in messages]

    def handle(self, payloads: list[dict], email: bool = True) -> None:
        """What inbound_sms would have written for these texts."""
        now = smoke._iso(datetime.now(UTC))
        conversation = f"{GATINEAU}-smoke00001"
        self.clients["dynamodb"].put_item(TableName="conversations", Item={
            "municipality_id": {"N": str(GATINEAU)}, "conversation_id": {"S": conversation},
            "last_message_at": {"S": now},
        })
        for payload in payloads:
            message_id = payload["inboundMessageId"]
            item = {"conversation_id": {"S": conversation}, "message_key": {"S": f"{now}#{message_id}"},
                    "external_id": {"S": message_id}}
            if email:
                item["ses_message_id"] = {"S": "0100019abc-ses-id"}
            self.clients["dynamodb"].put_item(TableName="messages", Item=item)
        self.clients["logs"].create_log_stream(logGroupName="/aws/lambda/inbound-sms", logStreamName="s")
        self.clients["logs"].put_log_events(
            logGroupName="/aws/lambda/inbound-sms", logStreamName="s",
            logEvents=[{"timestamp": int(datetime.now(UTC).timestamp() * 1000),
                        "message": json.dumps({"message": "dialog turn", "inbound_message_id": p["inboundMessageId"]})}
                       for p in payloads],
        )


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_every_hop_is_seen_and_the_test_resident_is_erased() -> None:
    with mock_aws():
        region = Region()
        clock, erased = FakeClock(), []

        def sleep(seconds: float) -> None:  # the deployed handler's work happens while we wait
            clock.now += seconds
            if clock.now == 5:
                payloads = region.published()
                assert [p["originationNumber"] for p in payloads] == [TEST_NUMBER, TEST_NUMBER]
                region.handle(payloads)

        report = smoke.run(region.clients, region.target, smoke.parse_args(ARGS),
                           erase=lambda number: erased.append(number) or "erased", clock=clock, sleep=sleep)
    assert report.ok, report.lines()
    assert "0100019abc-ses-id" in report.hops["emailed"].detail
    assert erased == [TEST_NUMBER] and report.cleanup == "erased"


def test_a_missing_hop_fails_after_the_time_limit_and_still_cleans_up() -> None:
    with mock_aws():
        region = Region()
        clock, erased = FakeClock(), []

        def sleep(seconds: float) -> None:
            clock.now += seconds
            if clock.now == 5:
                region.handle(region.published(), email=False)  # stored, but SES never accepted the mail

        report = smoke.run(region.clients, region.target, smoke.parse_args(ARGS),
                           erase=lambda number: erased.append(number) or "erased", clock=clock, sleep=sleep)
    assert not report.ok
    assert report.hops["handled"].seen and not report.hops["emailed"].seen
    assert clock.now >= 30 and erased == [TEST_NUMBER]
    assert "[FAIL] emailed" in "\n".join(report.lines())


def test_a_failed_cleanup_says_how_to_erase_by_hand() -> None:
    with mock_aws():
        region = Region()

        def erase(number: str) -> str:
            raise RuntimeError("AccessDenied")

        clock = FakeClock()

        def sleep(seconds: float) -> None:
            clock.now += seconds

        report = smoke.run(region.clients, region.target, smoke.parse_args(ARGS), erase=erase, clock=clock,
                           sleep=sleep)
    assert report.cleanup.startswith("FAILED (AccessDenied)")
    assert f"text311 resident forget {TEST_NUMBER} --stack Text311-ca-central-1" in report.cleanup
