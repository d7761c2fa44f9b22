"""Shared test set-up: no test may reach a real AWS endpoint."""

from __future__ import annotations

import os

import pytest
from botocore_models import share_parsed_models, share_pynamodb_sessions
from environment import FUNCTIONS_ENVIRONMENT
from moto_keys import share_cognito_signing_key, share_kms_symmetric_key_pairs
from moto_transactions import roll_back_transactions_by_item

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
share_parsed_models()  # each botocore session would parse the service models again (tests/botocore_models.py)
share_pynamodb_sessions()  # ... and each pynamodb connection would build a botocore session of its own
share_cognito_signing_key()  # moto imports the same RSA key for every user pool (tests/moto_keys.py)
share_kms_symmetric_key_pairs()  # ... and makes an RSA pair for every KMS key, symmetric ones too
roll_back_transactions_by_item()  # ... and copies whole tables before each transaction (tests/moto_transactions.py)


@pytest.fixture
def aws_env() -> dict[str, str]:
    """The environment a deployed function sees, with test table names."""
    return dict(FUNCTIONS_ENVIRONMENT)


def pytest_collection_finish(session: pytest.Session) -> None:
    """Refuse a run whose ``--dist loadgroup`` groups nothing: xdist sends a group to one worker by a suffix it
    appends to each grouped test's node id, and a pytest that ignores the suffix (9.2 with xdist 3.8:
    pytest-xdist#1386) silently spreads the group, so the soak and each e2e or infra set-up run once per
    worker. Checked in each worker, where the suffix is written."""
    if not session.config.getoption("loadgroup", default=False):
        return
    grouped = [item.nodeid for item in session.items if item.get_closest_marker("xdist_group")]
    ungrouped = [nodeid for nodeid in grouped if "@" not in nodeid]
    if ungrouped:
        raise pytest.UsageError(
            f"--dist loadgroup is not grouping ({len(ungrouped)} tests, e.g. {ungrouped[0]}): "
            "pytest and pytest-xdist disagree on node ids; see the pins in requirements-dev.txt"
        )
