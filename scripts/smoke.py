#!/usr/bin/env python3
"""``make smoke REGION=<region>``: one synthetic resident text through a deployed region, hop by hop.

It publishes End User Messaging's two-way payload (the exact shape of tests/events/two_way_sms.json)
on the stack's inbound topic, as if a test number had texted our number: first a problem, then the
test municipality's name (whose inbox must be a DevOps address: `text311 municipality add … --email
devops@…`). It then waits, within ``--timeout``, for each hop:

  published  SNS accepted the payload (message id)
  handled    inbound_sms stored the text in the municipality's conversation (messages table)
  emailed    the text went to the city by SES (status "emailed", SES message id)
  logged     inbound_sms logged the inboundMessageId (CloudWatch Logs)

and ALWAYS cleans up: the test number's resident record, conversations, messages and raw mails are
erased (`text311 resident forget`'s code). Exit 0 when every hop was seen, 1 otherwise, 2 on bad
arguments. Everything AWS is injected (``Clients``), so tests run it against moto.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "layers" / "core" / "python"))

from text311.phone import InvalidPhoneNumber, normalize_e164  # noqa: E402

# The keys End User Messaging puts in a two-way SMS payload (AWS End User Messaging SMS User Guide,
# "Example of a two-way SMS message payload for Amazon SNS topics"; tests/events/two_way_sms.json).
TWO_WAY_KEYS = (
    "originationNumber",
    "destinationNumber",
    "messageKeyword",
    "messageBody",
    "inboundMessageId",
    "previousPublishedMessageId",
)
HOPS = ("published", "handled", "emailed", "logged")


@dataclass(frozen=True)
class SmokeArgs:
    region: str
    from_number: str
    to_number: str
    municipality_id: int
    municipality_name: str
    timeout: float
    endpoint_url: str | None
    stack: str


@dataclass
class Hop:
    name: str
    seen: bool = False
    detail: str = "not seen within the time limit"


@dataclass
class Report:
    hops: dict[str, Hop] = field(default_factory=lambda: {name: Hop(name) for name in HOPS})
    cleanup: str = "not run"

    @property
    def ok(self) -> bool:
        return all(hop.seen for hop in self.hops.values())

    def lines(self) -> list[str]:
        marks = {True: "[ok]  ", False: "[FAIL]"}
        return [f"{marks[h.seen]} {h.name:<9} {h.detail}" for h in self.hops.values()] + [f"cleanup: {self.cleanup}"]


def parse_args(argv: list[str]) -> SmokeArgs:
    parser = argparse.ArgumentParser(prog="smoke", description=__doc__.splitlines()[0])
    parser.add_argument("--region", required=True)
    parser.add_argument("--from", dest="from_number", required=True, help="the test phone number (E.164)")
    parser.add_argument("--to", dest="to_number", required=True, help="our number that residents text (E.164)")
    parser.add_argument("--municipality", type=int, required=True, help="geonameid of the test municipality")
    parser.add_argument("--municipality-name", required=True, help="what the test resident answers, e.g. Gatineau")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for all hops")
    parser.add_argument("--endpoint-url", default=None)
    parser.add_argument("--stack", default=None, help="default: Text311-<region>")
    ns = parser.parse_args(argv)
    try:
        numbers = normalize_e164(ns.from_number), normalize_e164(ns.to_number)
    except InvalidPhoneNumber as exc:
        parser.error(str(exc))
    if numbers[0] == numbers[1]:
        parser.error("--from and --to must differ: the test number texts our number")
    if ns.timeout <= 0:
        parser.error("--timeout must be positive")
    return SmokeArgs(
        region=ns.region,
        from_number=numbers[0],
        to_number=numbers[1],
        municipality_id=ns.municipality,
        municipality_name=ns.municipality_name,
        timeout=ns.timeout,
        endpoint_url=ns.endpoint_url,
        stack=ns.stack or f"Text311-{ns.region}",
    )


def two_way_payload(origination: str, destination: str, body: str, message_id: str | None = None) -> dict:
    """What End User Messaging publishes for one received text (keys exactly TWO_WAY_KEYS).

    No registered keyword matches a smoke text, so ``messageKeyword`` is null; there is no earlier
    message from End User Messaging to name, so ``previousPublishedMessageId`` is null too.
    """
    return {
        "originationNumber": origination,
        "destinationNumber": destination,
        "messageKeyword": None,
        "messageBody": body,
        "inboundMessageId": message_id or str(uuid.uuid4()),
        "previousPublishedMessageId": None,
    }


@dataclass(frozen=True)
class Target:
    """The deployed region as the smoke test sees it (from the stack)."""

    topic_arn: str
    settings: Any  # text311.settings.Settings: table names, secrets, bucket
    log_group: str | None


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f") + "+0000"  # pynamodb's UTCDateTimeAttribute format


def observe(clients: Mapping[str, Any], target: Target, args: SmokeArgs, started: datetime,
            message_ids: list[str], report: Report) -> None:
    """One look at the tables and the logs; marks every hop it can now see."""
    dynamodb, settings = clients["dynamodb"], target.settings
    conversations = dynamodb.query(
        TableName=settings.conversations_table,
        IndexName="by-activity",
        KeyConditionExpression="municipality_id = :m AND last_message_at >= :t",
        ExpressionAttributeValues={":m": {"N": str(args.municipality_id)}, ":t": {"S": _iso(started)}},
    ).get("Items", [])
    for conversation in conversations:
        conversation_id = conversation["conversation_id"]["S"]
        messages = dynamodb.query(
            TableName=settings.messages_table,
            KeyConditionExpression="conversation_id = :c",
            ExpressionAttributeValues={":c": {"S": conversation_id}},
        ).get("Items", [])
        ours = [m for m in messages if m.get("external_id", {}).get("S") in message_ids]
        if ours:
            report.hops["handled"] = Hop("handled", True, f"conversation {conversation_id}, {len(ours)} texts")
        mailed = sorted({m["ses_message_id"]["S"] for m in ours if m.get("ses_message_id", {}).get("S")})
        if mailed:
            report.hops["emailed"] = Hop("emailed", True, f"SES message id {', '.join(mailed)}")
    if target.log_group and not report.hops["logged"].seen:
        events = clients["logs"].filter_log_events(
            logGroupName=target.log_group,
            startTime=int(started.timestamp() * 1000),
            filterPattern=f'"{message_ids[0]}"',
        ).get("events", [])
        if events:
            report.hops["logged"] = Hop("logged", True, f"{len(events)} log events in {target.log_group}")
    elif not target.log_group:
        report.hops["logged"] = Hop("logged", False, "log group unknown")


def run(
    clients: Mapping[str, Any],
    target: Target,
    args: SmokeArgs,
    erase: Callable[[str], str],
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Report:
    """Publish the two texts, watch the hops until all are seen or the time is up, then clean up."""
    report, started = Report(), datetime.now(UTC)
    message_ids: list[str] = []
    sns_ids: list[str] = []
    try:
        for body in (f"Smoke test {started:%H%M%S}: streetlight out", args.municipality_name):
            payload = two_way_payload(args.from_number, args.to_number, body)
            published = clients["sns"].publish(TopicArn=target.topic_arn, Message=json.dumps(payload))
            message_ids.append(payload["inboundMessageId"])
            sns_ids.append(published["MessageId"])
        report.hops["published"] = Hop("published", True, f"SNS message ids {', '.join(sns_ids)}")
        deadline = clock() + args.timeout
        while not report.ok and clock() < deadline:
            observe(clients, target, args, started, message_ids, report)
            if not report.ok:
                sleep(5)
    finally:
        try:
            report.cleanup = erase(args.from_number)
        except Exception as exc:  # report it: a leftover test resident must be erased by hand
            report.cleanup = f"FAILED ({exc}); run: text311 resident forget {args.from_number} --stack {args.stack}"
    return report


def resolve_target(clients: Mapping[str, Any], stack: str) -> Target:
    from text311.cli.resident import settings_from_stack
    from text311.settings import load_settings

    outputs = clients["cloudformation"].describe_stacks(StackName=stack)["Stacks"][0].get("Outputs", [])
    topic = next(o["OutputValue"] for o in outputs if o["OutputKey"] == "InboundTopicArn")
    environment = settings_from_stack(clients["cloudformation"], clients["lambda"], stack)
    settings = load_settings({**environment, "AWS_REGION": clients["sns"].meta.region_name})
    functions = [
        r["PhysicalResourceId"]
        for r in clients["cloudformation"].describe_stack_resources(StackName=stack)["StackResources"]
        if r["ResourceType"] == "AWS::Lambda::Function" and "InboundSms" in r["LogicalResourceId"]
    ]
    log_group = None
    if functions:
        configuration = clients["lambda"].get_function_configuration(FunctionName=functions[0])
        log_group = configuration.get("LoggingConfig", {}).get("LogGroup") or f"/aws/lambda/{functions[0]}"
    return Target(topic_arn=topic, settings=settings, log_group=log_group)


def main(argv: list[str] | None = None) -> int:
    import boto3

    from text311.cli.resident import erase as erase_resident

    args = parse_args(sys.argv[1:] if argv is None else argv)
    clients = {
        name: boto3.client(name, region_name=args.region, endpoint_url=args.endpoint_url)
        for name in ("sns", "dynamodb", "logs", "cloudformation", "lambda", "secretsmanager", "s3")
    }
    target = resolve_target(clients, args.stack)

    def erase(number: str) -> str:
        erased = erase_resident(number, target.settings, clients)
        return f"erased {erased.conversations} conversations, {erased.messages} messages, {erased.raw_mails} raw mails"

    report = run(clients, target, args, erase)
    print(f"Text311 smoke test, {args.region}, {args.from_number} → {args.to_number}")
    print("\n".join(report.lines()))
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
