"""Mail forwarder (stack ``Text311-mail-<region>``): relays an agent's answer to the SMS region.

SES, in a region where it can receive, stored the message in this region's relay bucket and invokes
us asynchronously. We copy the message to the SMS region's raw-mail bucket under the same key, then
invoke that region's ``inbound_email`` asynchronously with the SES event unchanged, so it runs exactly
as if SES had invoked it there. Copy first, then invoke: the function reads the message we just wrote.
A failure raises: Lambda retries twice, then parks the event on the forwarder's failure queue.
Copying and invoking twice is harmless (same key; ``inbound_email`` is idempotent on the SES id).
No Powertools layer: the function only moves bytes, and the mail stack then needs no layer builds.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from functools import cache
from typing import Any

logger = logging.getLogger()
logger.setLevel(logging.INFO)


@dataclass(frozen=True)
class Target:
    """The SMS region's inbound_email function and raw-mail bucket (from SSM, written by that stack)."""

    function_arn: str
    bucket: str


@dataclass(frozen=True)
class Clients:
    source_s3: Any  # this region
    target_s3: Any  # the SMS region
    target_lambda: Any  # the SMS region


def read_target(ssm: Any, prefix: str) -> Target:
    def value(name: str) -> str:
        return ssm.get_parameter(Name=f"{prefix}{name}")["Parameter"]["Value"]

    return Target(function_arn=value("inbound-email-function"), bucket=value("raw-mail-bucket"))


def forward(event: dict, clients: Clients, target: Target, source_bucket: str, prefix: str) -> list[str]:
    """Copy each record's message to the target bucket, then hand the whole event to inbound_email."""
    relayed = []
    for record in event["Records"]:
        key = f"{prefix}{record['ses']['mail']['messageId']}"
        body = clients.source_s3.get_object(Bucket=source_bucket, Key=key)["Body"].read()
        # The target bucket's default encryption (SSE-KMS, its region's data key) applies.
        clients.target_s3.put_object(Bucket=target.bucket, Key=key, Body=body)
        relayed.append(key)
    clients.target_lambda.invoke(
        FunctionName=target.function_arn, InvocationType="Event", Payload=json.dumps(event).encode()
    )
    return relayed


@cache
def _runtime() -> tuple[Clients, Target]:
    import boto3

    region = os.environ["TARGET_REGION"]
    target = read_target(boto3.client("ssm", region_name=region), os.environ["TARGET_PARAMETER_PREFIX"])
    clients = Clients(
        source_s3=boto3.client("s3"),
        target_s3=boto3.client("s3", region_name=region),
        target_lambda=boto3.client("lambda", region_name=region),
    )
    return clients, target


def lambda_handler(event: dict, context: Any) -> dict:
    clients, target = _runtime()
    prefix = os.environ.get("RAW_MAIL_PREFIX", "inbound/")
    relayed = forward(event, clients, target, os.environ["SOURCE_BUCKET"], prefix)
    logger.info(json.dumps({"relayed": relayed, "to": target.function_arn}))
    return {"relayed": relayed}
