"""Hypothesis settings for the fuzz folder, and a Text311 region in moto for the handler properties.

The profile is registered here and applied by each test (``@FUZZ`` from ``profile``), not loaded as
the session default, so that the unit tests' own hypothesis settings stay as they are.
"""

from __future__ import annotations

import importlib
import itertools

import boto3
import pytest
from harness import RAW_MAIL_BUCKET, REGION, setup_region
from hypothesis import HealthCheck, settings
from moto import mock_aws

# Modest and repeatable: the whole folder runs in well under a minute; derandomized so a failure
# found once is found again (the examples differ per test, not per run).
settings.register_profile(
    "text311-fuzz",
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    # One moto region per test, shared by its examples (each example uses fresh ids and numbers).
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.fixture
def region(aws_env, monkeypatch):
    """(inbound_sms handler, inbound_email handler, SMS fake) in a fresh moto region."""
    with mock_aws():
        sms = setup_region(aws_env, monkeypatch)
        boto3.client("s3", region_name=REGION).create_bucket(
            Bucket=RAW_MAIL_BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        inbound = importlib.import_module("functions.inbound_sms.handler")
        answers = importlib.import_module("functions.inbound_email.handler")
        inbound.process_once.cache_clear()
        answers.process_once.cache_clear()
        yield inbound, answers, sms


_numbers = itertools.count(1000)


@pytest.fixture
def fresh_number():
    """A new Gatineau-area resident number each call (examples must not share a dialog)."""
    return lambda: f"+1819555{next(_numbers) % 10_000:04d}"
