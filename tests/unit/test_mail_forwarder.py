"""functions/mail_forwarder: an answer received in another region is copied, then handed to inbound_email."""

from __future__ import annotations

import importlib
import io

import boto3
import pytest
from aws_events import sample
from botocore.stub import ANY, Stubber
from moto import mock_aws

forwarder = importlib.import_module("functions.mail_forwarder.handler")

RECEIVING, SMS = "eu-west-1", "eu-west-3"
FUNCTION = f"arn:aws:lambda:{SMS}:123456789012:function:Text311-eu-west-3-InboundEmail"


def test_the_message_is_copied_under_the_same_key_then_inbound_email_is_invoked_with_the_event() -> None:
    event = sample("ses_receipt_lambda.json")
    message_id = event["Records"][0]["ses"]["mail"]["messageId"]
    with mock_aws():
        source, target = boto3.client("s3", region_name=RECEIVING), boto3.client("s3", region_name=SMS)
        source.create_bucket(Bucket="relay", CreateBucketConfiguration={"LocationConstraint": RECEIVING})
        target.create_bucket(Bucket="raw-mail", CreateBucketConfiguration={"LocationConstraint": SMS})
        source.put_object(Bucket="relay", Key=f"inbound/{message_id}", Body=b"From: agent@city\r\n\r\nDone.")
        lambda_client = boto3.client("lambda", region_name=SMS)
        with Stubber(lambda_client) as stub:
            stub.add_response(
                "invoke",
                {"StatusCode": 202, "Payload": io.BytesIO(b"")},
                {"FunctionName": FUNCTION, "InvocationType": "Event", "Payload": ANY},
            )
            relayed = forwarder.forward(
                event,
                forwarder.Clients(source_s3=source, target_s3=target, target_lambda=lambda_client),
                forwarder.Target(function_arn=FUNCTION, bucket="raw-mail"),
                "relay",
                "inbound/",
            )
        copied = target.get_object(Bucket="raw-mail", Key=f"inbound/{message_id}")["Body"].read()
    assert relayed == [f"inbound/{message_id}"]
    assert copied == b"From: agent@city\r\n\r\nDone."


def test_the_targets_are_read_from_the_sms_regions_parameters() -> None:
    with mock_aws():
        ssm = boto3.client("ssm", region_name=SMS)
        prefix = "/text311/eu-west-3/mail-relay/"
        ssm.put_parameter(Name=f"{prefix}inbound-email-function", Value=FUNCTION, Type="String")
        ssm.put_parameter(Name=f"{prefix}raw-mail-bucket", Value="raw-mail", Type="String")
        assert forwarder.read_target(ssm, prefix) == forwarder.Target(FUNCTION, "raw-mail")


def test_nothing_is_invoked_when_the_message_cannot_be_read() -> None:
    event = sample("ses_receipt_lambda.json")
    with mock_aws():
        source = boto3.client("s3", region_name=RECEIVING)
        source.create_bucket(Bucket="relay", CreateBucketConfiguration={"LocationConstraint": RECEIVING})
        lambda_client = boto3.client("lambda", region_name=SMS)
        # no invoke stubbed: an invoke would fail; the error must reach Lambda, which retries
        with Stubber(lambda_client), pytest.raises(source.exceptions.NoSuchKey):
            forwarder.forward(
                event,
                forwarder.Clients(source, boto3.client("s3", region_name=SMS), lambda_client),
                forwarder.Target(FUNCTION, "raw-mail"),
                "relay",
                "inbound/",
            )
