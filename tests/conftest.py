"""Shared test set-up: no test may reach a real AWS endpoint."""

from __future__ import annotations

import os

import pytest

# Fake credentials and a region before anything builds a boto3 client.
os.environ.update(
    AWS_ACCESS_KEY_ID="testing",
    AWS_SECRET_ACCESS_KEY="testing",
    AWS_SECURITY_TOKEN="testing",
    AWS_SESSION_TOKEN="testing",
    AWS_DEFAULT_REGION="ca-central-1",
    AWS_REGION="ca-central-1",
    POWERTOOLS_TRACE_DISABLED="true",
    POWERTOOLS_METRICS_NAMESPACE="Text311",
    POWERTOOLS_DEV="false",
)
os.environ.pop("AWS_PROFILE", None)
os.environ.pop("AWS_ENDPOINT_URL", None)


@pytest.fixture
def aws_env() -> dict[str, str]:
    """The environment a deployed function sees, with test table names."""
    return {
        "SUBSCRIBERS_TABLE": "test-subscribers",
        "RESIDENTS_TABLE": "test-residents",
        "CONVERSATIONS_TABLE": "test-conversations",
        "MESSAGES_TABLE": "test-messages",
        "IDEMPOTENCY_TABLE": "test-idempotency",
        "LIMITS_TABLE": "test-limits",
        "PHONE_KEY_ID": "alias/text311-phones",
        "TOKEN_SECRET_ID": "text311/reply-token-keys",
        "PHONE_HASH_SECRET_ID": "text311/phone-hash-key",
        "SMS_ORIGINATION_IDENTITY": "+15145550100",
        "SMS_CONFIGURATION_SET": "text311-sms",
        "SENDER_ADDRESS": "Text311 <notify@text311.example.ca>",
        "REPLY_DOMAIN": "reply.text311.example.ca",
        "SES_CONFIGURATION_SET": "text311-email",
        "RAW_MAIL_BUCKET": "text311-raw-mail-test",
        "CONSOLE_URL": "https://console.text311.example.ca",
        "AWS_REGION": "ca-central-1",
    }
